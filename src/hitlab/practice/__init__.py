"""Practice servers for the exchanges labs 03 and 07 teach: MLLP listeners, MLLP over TLS with the lab's CA,
and a SMART Backend Services authorization server with its FHIR API, all on 127.0.0.1.

>>> from hitlab import practice
>>> with practice.mllp_listener("in pieces") as listener:        # answers with an ACK, 7 bytes at a time
...     reply = my_send_and_receive(listener.host, listener.port, message, 5.0)
>>> with practice.tls_server("expired") as server:               # server.port, server.ca_cert (a PEM file)
...     ...
>>> with practice.smart_server() as server:                      # token_url, fhir_base, register_client(...)
...     server.register_client("my-job", jwks, "system/Observation.rs")

Self-study (a checkout, ``make lab``, Binder) starts each server in the kernel for the ``with`` block, from
:mod:`hitlab.practice.service`. A graded course's exam release has no server code (it frames MLLP, checks
assertions and builds ACKs: what the labs grade); there these functions reach the course's practice service,
which the instructor runs apart from the learners' install (``hitlab practice serve``) and whose address
the environment variable ``HITLAB_PRACTICE`` gives. The servers are then shared: a SMART client id belongs
to the first key set registered under it.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.request import ProxyHandler, Request, build_opener

from hitlab.checks.core import exam_release
from hitlab.errors import HitlabError

PRACTICE_ENV = "HITLAB_PRACTICE"
"""The practice service's URL (``http://127.0.0.1:PORT/``) in a graded course."""

__all__ = ["PRACTICE_ENV", "Endpoint", "PracticeUnavailable", "SmartEndpoint", "TlsEndpoint", "mllp_listener",
           "smart_server", "tls_server"]  # fmt: skip


class PracticeUnavailable(HitlabError):
    """The course's practice service cannot be reached (not configured, not running, or it refused)."""


@dataclass(frozen=True)
class Endpoint:
    """Where a server listens."""

    host: str
    port: int


@dataclass(frozen=True)
class TlsEndpoint(Endpoint):
    """A TLS server, and the CA certificate (a PEM file) that its good certificate chains to."""

    ca_cert: str


@dataclass(frozen=True)
class SmartEndpoint:
    """A SMART authorization server and its FHIR API: its URLs, and how to register a client."""

    base_url: str
    token_url: str
    fhir_base: str
    jwks_url: str
    smart_configuration_url: str
    _register: object

    def register_client(self, client_id: str, jwks: dict, scopes: str | list[str]) -> str:
        """Register a Backend Services client: its public JWK Set (``{"keys": [...]}``, each key with ``kid``)
        and the ``system/`` scopes it may be granted. Returns the scopes registered, as a string."""
        return self._register(client_id, jwks, scopes)


def _opener():
    return build_opener(ProxyHandler({}))  # 127.0.0.1 needs no proxy


def _service_url() -> str:
    url = os.environ.get(PRACTICE_ENV, "").strip()
    if not url:
        raise PracticeUnavailable(
            "In this course the practice servers run apart from your install, and HITLAB_PRACTICE (the address "
            "your instructor's set-up gives, e.g. http://127.0.0.1:8790/) is not set in this kernel's environment. "
            "Ask your instructor."
        )
    return url if url.endswith("/") else url + "/"


def _ask(path: str, body: dict | None = None) -> dict:
    """GET (or POST ``body`` as JSON to) the practice service; its JSON answer."""
    url = _service_url() + path
    data = None if body is None else json.dumps(body).encode()
    request = Request(url, data=data, headers={"Content-Type": "application/json"} if data else {})
    try:
        with _opener().open(request, timeout=10) as answer:
            return json.load(answer)
    except HTTPError as refused:
        try:
            reason = json.load(refused).get("error", "")
        except ValueError:
            reason = ""
        return _answer(refused.code, {"error": reason}, url)
    except (URLError, OSError, ValueError) as err:
        raise PracticeUnavailable(
            f"the practice service at {url} ({PRACTICE_ENV}) did not answer: {getattr(err, 'reason', err)}"
        ) from None


def _answer(status: int, body: dict, where: str) -> dict:
    """``body`` when ``status`` says success; else the error a learner can act on."""
    if status < 300:
        return body
    reason = body.get("error", "")
    if status in (400, 409):  # the request was wrong (a bad key set, a taken client id)
        raise ValueError(f"the practice server refused: {reason}")
    raise PracticeUnavailable(f"the practice service at {where} refused: {status} {reason}".strip())


def _index(part: str, name: str) -> dict:
    index = _ask("index.json")
    servers = index.get(part, {})
    if name not in servers:
        raise ValueError(
            f"no {part} practice server {name!r}: the service has {', '.join(map(repr, servers))}"
        )
    return servers[name] | {"ca_cert": index.get("ca_cert")}


@contextmanager
def mllp_listener(kind: str = "at once") -> Iterator[Endpoint]:
    """An MLLP listener answering each message with an ACK (``kind``: ``"at once"``, ``"in pieces"`` (7 bytes
    at a time), ``"two at once"`` (a commit ACK and the ACK in one write) or ``"silent"`` (never))."""
    if exam_release():
        where = _index("mllp", kind)
        yield Endpoint(where["host"], where["port"])
        return
    from hitlab.practice import service

    with service.mllp_listener(kind) as listener:
        yield Endpoint(listener.host, listener.port)


@contextmanager
def tls_server(certificate: str = "good") -> Iterator[TlsEndpoint]:
    """An MLLP-over-TLS server answering each message with an ACK, presenting a ``certificate``: ``"good"``
    (``localhost`` and ``127.0.0.1``), ``"wrong host"``, ``"expired"`` or ``"untrusted"`` (another CA's)."""
    if exam_release():
        where = _index("tls", certificate)
        with tempfile.TemporaryDirectory(prefix="hitlab-practice-") as folder:
            ca = Path(folder) / "ca.crt.pem"
            ca.write_text(where["ca_cert"], encoding="ascii")
            yield TlsEndpoint(where["host"], where["port"], str(ca))
        return
    from hitlab.practice import service
    from hitlab.security.pki import make_pki

    with make_pki() as pki, service.tls_server(pki, certificate) as server:
        yield TlsEndpoint(server.host, server.port, pki.ca_cert)


@contextmanager
def smart_server() -> Iterator[SmartEndpoint]:
    """A SMART Backend Services authorization server with a FHIR API over the lab04 store."""
    if exam_release():
        urls = _ask("index.json")["smart"]

        def register(client_id: str, jwks: dict, scopes: str | list[str]) -> str:
            return _ask("smart/clients", {"client_id": client_id, "jwks": jwks, "scope": scopes})["scope"]

        yield SmartEndpoint(**urls, _register=register)
        return
    from hitlab.practice.service import SmartRegistry
    from hitlab.security.smart import SmartServer

    with SmartServer() as server:
        registry = SmartRegistry(server)

        def register_here(client_id: str, jwks: dict, scopes: str | list[str]) -> str:
            body = {"client_id": client_id, "jwks": jwks, "scope": scopes}
            return _answer(*registry.register(body), "this kernel")["scope"]

        yield SmartEndpoint(server.base_url, server.token_url, server.fhir_base, server.jwks_url,
                            server.smart_configuration_url, register_here)  # fmt: skip
