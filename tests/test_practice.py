"""The practice servers of labs 03 and 07 (``hitlab.practice``): in self-study they start in the kernel; in an exam
release, which holds no server code and nothing that frames MLLP, decides scopes or checks assertions, they are the
instructor's ``hitlab practice serve``, reached through ``HITLAB_PRACTICE``. Both modes give the learner the same
servers; every exchange below is real (sockets, TLS, JWTs)."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import hitlab
from hitlab.course.release import LEFT_OUT_MODULES, exam_tree


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    into = tmp_path_factory.mktemp("exam")
    exam_tree(into)
    return into


def run(
    code: str, *, tree: Path | None, practice: str | None, ok: bool = True
) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter: the exam release's hitlab when ``tree`` is given, else the full install."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HITLAB_PRACTICE")}
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    if practice is not None:
        env["HITLAB_PRACTICE"] = practice
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    if ok:
        assert done.returncode == 0, done.stderr[-4000:]
    return done


# A learner's side of every exchange, written here from the standards (the exam release has no helper for them).
LEARNER = r"""
import hitlab, json, socket, ssl, time, uuid
from urllib.error import HTTPError
from urllib.parse import urlencode
from urllib.request import ProxyHandler, Request, build_opener

import jwt

from hitlab import practice
from hitlab.security import generate_rsa_key, jwk_set, private_pem, public_jwk

MESSAGE = "MSH|^~\\&|REG|MCH|ENG|MCH|20251201083000||ADT^A01^ADT_A01|CTRL42|P|2.5.1\rPID|1||MRN1^^^MCH^MR"
print("release:", "exam" if hitlab.checks.core.exam_release() else "self-study")

def exchange(sock, message):
    sock.sendall(b"\x0b" + message.encode() + b"\x1c\r")
    buffer = b""
    while b"\x1c\r" not in buffer:
        data = sock.recv(4096)
        if not data:
            raise ConnectionError("closed")
        buffer += data
    return buffer[buffer.index(b"\x0b") + 1 : buffer.index(b"\x1c\r")].decode()

for kind in ("at once", "in pieces", "two at once", "silent"):
    with practice.mllp_listener(kind) as where:
        with socket.create_connection((where.host, where.port), timeout=0.5) as sock:
            try:
                print("mllp", kind, exchange(sock, MESSAGE).split("\r")[1])
            except TimeoutError:
                print("mllp", kind, "no answer")

for certificate in ("good", "wrong host", "expired", "untrusted"):
    with practice.tls_server(certificate) as server:
        context = ssl.create_default_context(cafile=server.ca_cert)
        try:
            with socket.create_connection((server.host, server.port), timeout=5) as raw:
                with context.wrap_socket(raw, server_hostname="localhost") as conn:
                    print("tls", certificate, exchange(conn, MESSAGE).split("\r")[1])
        except ssl.SSLCertVerificationError as refused:
            print("tls", certificate, "refused:", refused.verify_message)

loopback = build_opener(ProxyHandler({}))
key = generate_rsa_key()
jwk = public_jwk(key, alg="RS384")
client = "job-" + uuid.uuid4().hex[:8]
with practice.smart_server() as server:
    print("smart registered:", server.register_client(client, jwk_set(jwk), "system/Observation.rs"))
    try:
        server.register_client(client, jwk_set(public_jwk(generate_rsa_key(), alg="RS384")), "system/*.rs")
    except ValueError as taken:
        print("smart another key:", "registered with another key set" in str(taken))
    now = int(time.time())
    claims = {"iss": client, "sub": client, "aud": server.token_url, "exp": now + 240, "jti": uuid.uuid4().hex}
    assertion = jwt.encode(claims, private_pem(key), algorithm="RS384", headers={"kid": jwk["kid"], "typ": "JWT"})
    form = urlencode({"grant_type": "client_credentials", "scope": "system/Observation.rs",
                      "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                      "client_assertion": assertion}).encode()
    with loopback.open(Request(server.token_url, data=form), timeout=10) as answer:
        token = json.load(answer)
    print("smart token:", token["token_type"], token["scope"])
    search = Request(server.fhir_base + "/Observation?_count=1", headers={"Authorization": "Bearer " + token["access_token"]})
    with loopback.open(search, timeout=10) as answer:
        print("smart search:", json.load(answer)["resourceType"])
    try:
        loopback.open(Request(server.fhir_base + "/Patient", headers={"Authorization": "Bearer " + token["access_token"]}), timeout=10)
    except HTTPError as refused:
        print("smart Patient:", refused.code)
"""

EXPECTED = """\
mllp at once MSA|AA|CTRL42
mllp in pieces MSA|AA|CTRL42
mllp two at once MSA|CA|CTRL42
mllp silent no answer
tls good MSA|AA|CTRL42
tls wrong host refused: Hostname mismatch, certificate is not valid for 'localhost'.
tls expired refused: certificate has expired
tls untrusted refused: unable to get local issuer certificate
smart registered: system/Observation.rs
smart another key: True
smart token: bearer system/Observation.rs
smart search: Bundle
smart Patient: 403
"""


def test_an_exam_release_reaches_the_instructors_practice_servers(tree, practice_url):
    """The exam release's kernel gets every server from the service: the same exchanges as self-study."""
    said = run(LEARNER, tree=tree, practice=practice_url).stdout
    assert said == "release: exam\n" + EXPECTED


def test_self_study_starts_the_same_servers_in_the_kernel():
    said = run(LEARNER, tree=None, practice=None).stdout
    assert said == "release: self-study\n" + EXPECTED


def test_an_exam_release_without_the_service_says_what_to_ask_for(tree, tmp_path):
    code = """
    from hitlab import practice
    try:
        with practice.mllp_listener() as where:
            pass
    except practice.PracticeUnavailable as err:
        print(err)
    """
    unset = run(code, tree=tree, practice=None).stdout
    assert "HITLAB_PRACTICE" in unset and "not set" in unset and "Ask your instructor" in unset
    import socket

    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    down = run(code, tree=tree, practice=f"http://127.0.0.1:{port}/").stdout
    assert (
        f"the practice service at http://127.0.0.1:{port}/index.json (HITLAB_PRACTICE) did not answer" in down
    )


def test_the_registration_endpoint_refuses_what_it_cannot_take(practice_url):
    def post(body: bytes, path: str = "smart/clients") -> tuple[int, str]:
        request = urllib.request.Request(
            practice_url + path, data=body, headers={"Content-Type": "application/json"}
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(request, timeout=10) as answer:
                return answer.status, json.load(answer)["client_id"]
        except urllib.error.HTTPError as refused:
            return refused.code, json.load(refused)["error"]

    public = {"keys": [{"kty": "RSA", "kid": "k1", "n": "AQAB", "e": "AQAB"}]}
    assert post(b"{not json") == (400, "the body is not JSON")
    assert post(json.dumps({"client_id": "x" * 65, "jwks": public, "scope": "system/*.rs"}).encode()) == (
        400, "client_id: 1 to 64 letters, digits or . _ ~ -")  # fmt: skip
    private = {"keys": [{"kty": "RSA", "kid": "k1", "d": "secret"}]}
    status, said = post(json.dumps({"client_id": "leaky", "jwks": private, "scope": "system/*.rs"}).encode())
    assert status == 400 and "holds a private key" in said
    assert post(b" " * (64 * 1024 + 1))[0] == 413
    assert post(b"{}", "elsewhere")[0] == 404


def _definitions(path: Path) -> set[tuple[str, tuple[str, ...]]]:
    """The public module-level functions of ``path``: (name, parameter names)."""
    return {(node.name, tuple(a.arg for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs))
            for node in ast.parse(path.read_text(encoding="utf-8")).body
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_")}  # fmt: skip


def test_the_exam_tree_holds_no_server_and_no_protocol_code_of_a_graded_item(tree):
    """What implements or serves lab 03 Q6-Q8 and lab 07 Q6, Q8-Q10 is left out, and asking for it says why; no
    file of the tree frames MLLP (its end block, 0x1C 0x0D, as bytes), decides a SMART scope or signs or checks
    an assertion; the certificates and keys a learner inspects are there."""
    package = tree / "hitlab"
    assert [m for m in LEFT_OUT_MODULES if (package / m).exists()] == []
    end_block = re.compile(r"""b["'][^"']*\\x1c(\\r|\\x0d)""", re.IGNORECASE)
    graded = [
        m for m in LEFT_OUT_MODULES if not m.startswith(("practice/", "security/_"))
    ]  # not the servers'
    left_out = {d for m in graded for d in _definitions(Path(hitlab.__file__).parent / m)}
    assert {("frames", ("buffer",)), ("covers", ("allowed", "requested"))} <= left_out
    for path in package.rglob("*.py"):
        where = path.relative_to(tree)
        assert not end_block.search(path.read_text(encoding="utf-8")), f"{where} frames MLLP"
        assert _definitions(path) & left_out == set(), f"{where} defines what the exam release leaves out"
    said = run(
        """
        import importlib
        for name in ("hitlab.hl7.mllp", "hitlab.security.scopes", "hitlab.security.smart", "hitlab.security.tls",
                     "hitlab.practice.service"):
            try:
                importlib.import_module(name)
                print(name, "imports")
            except ModuleNotFoundError:
                print(name, "absent")
        for statement in ("from hitlab.hl7 import mllp", "from hitlab.security import decide",
                          "from hitlab.security import SmartServer"):
            try:
                exec(statement)
            except ImportError as err:
                print(statement, "->", "not in this course's learner install" in str(err))
        from hitlab.security import generate_rsa_key, make_pki
        with make_pki() as pki:
            print("pki", bool(pki.ca_cert), bool(generate_rsa_key()))
        """,
        tree=tree,
        practice=None,
    ).stdout.splitlines()
    assert said == [
        "hitlab.hl7.mllp absent",
        "hitlab.security.scopes absent",
        "hitlab.security.smart absent",
        "hitlab.security.tls absent",
        "hitlab.practice.service absent",
        "from hitlab.hl7 import mllp -> True",
        "from hitlab.security import decide -> True",
        "from hitlab.security import SmartServer -> True",
        "pki True True",
    ]
    refused = run(
        "from hitlab.cli import main; main(['practice', 'serve'])", tree=tree, practice=None, ok=False
    )
    assert refused.returncode == 2 and "run them from the instructor's full install" in refused.stderr
