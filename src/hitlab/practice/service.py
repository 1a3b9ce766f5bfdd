"""The practice servers themselves, from the full install: lab 03's MLLP listeners, lab 07's MLLP-over-TLS
servers (one per certificate of :func:`hitlab.security.pki.make_pki`) and its SMART authorization server
with FHIR API. Self-study starts them in the learner's kernel (:mod:`hitlab.practice`); a graded course runs
them all in one :class:`PracticeService` (``hitlab practice serve``) apart from the learners' install,
because their code frames MLLP, checks assertions and tokens and builds ACKs: what the labs grade.

The service's index answers on 127.0.0.1 over HTTP:

- ``GET /index.json``: where each server listens, and the practice CA certificate (PEM);
- ``POST /smart/clients`` with ``{"client_id", "jwks", "scope"}``: registers a learner's client (public
  JWK Set) with the SMART server, as a hospital's administrator would. A client id belongs to the first key
  set registered under it (409 for another one), so learners sharing the service cannot take over each
  other's clients.
"""

from __future__ import annotations

import http.server
import json
import re
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from hitlab.hl7 import mllp
from hitlab.security._loopback import HOST, LoopbackService, ThreadedServerMixin
from hitlab.security.pki import Pki, make_pki
from hitlab.security.smart import SmartServer
from hitlab.security.tls import MllpTlsServer

MLLP_KINDS = ("at once", "in pieces", "two at once", "silent")
"""The ways lab 03's listeners answer: an ACK at once; the ACK 7 bytes at a time, 20 ms apart; a commit ACK
(``CA``) and the ACK in one write; never."""
CERTIFICATES = {
    "good": "server",
    "wrong host": "wrong_host",
    "expired": "expired",
    "untrusted": "untrusted",
}
"""The certificates lab 07's TLS servers present, by name -> the :class:`Pki` files' prefix."""
MAX_CLIENTS = 5000
"""Clients the shared SMART server registers at most (each learner needs a few)."""
MAX_REQUEST = 64 * 1024
"""Bytes a registration request may hold (a JWK Set of a few public keys is a few kB)."""
CLIENT_ID = re.compile(r"[A-Za-z0-9._~-]{1,64}")


def mllp_listener(kind: str = "at once") -> mllp.Listener:
    """A started lab 03 listener answering as ``kind`` says (one of :data:`MLLP_KINDS`); ``close()`` it."""
    from hitlab.checks.core import reference_of

    reference = reference_of("hitlab.checks.lab03")  # its ACKs

    def ack(message: str) -> list[str]:
        return [reference.listener_ack(message)]

    replies = {
        "at once": lambda: mllp.Listener(ack),
        "in pieces": lambda: mllp.Listener(ack, chunk=7, pause=0.02),
        "two at once": lambda: mllp.Listener(reference._commit_then_ack),
        "silent": lambda: mllp.Listener(lambda m: []),
    }
    if kind not in replies:
        raise ValueError(
            f"no MLLP practice listener {kind!r}: choose one of {', '.join(map(repr, MLLP_KINDS))}"
        )
    return replies[kind]()


def tls_server(pki: Pki, certificate: str = "good") -> MllpTlsServer:
    """An unstarted lab 07 MLLP-over-TLS server presenting ``certificate`` (a key of :data:`CERTIFICATES`)."""
    if certificate not in CERTIFICATES:
        raise ValueError(
            f"no TLS practice server with a {certificate!r} certificate: choose one of "
            + ", ".join(map(repr, CERTIFICATES))
        )
    prefix = CERTIFICATES[certificate]
    return MllpTlsServer(getattr(pki, f"{prefix}_cert"), getattr(pki, f"{prefix}_key"))


class SmartRegistry:
    """Client registration at a SMART server that learners share: a client id belongs to the first key set
    registered under it, and the server holds at most :data:`MAX_CLIENTS` clients. Self-study's kernel-local
    server follows the same rules, so a notebook behaves the same in both modes."""

    def __init__(self, smart: SmartServer) -> None:
        self.smart = smart
        self._owners: dict[str, str] = {}  # client id -> its JWK Set, canonical JSON
        self._lock = threading.Lock()

    def register(self, body: Any) -> tuple[int, dict]:
        """Register a learner's SMART client from a request body: (HTTP status, JSON answer)."""
        if not isinstance(body, dict) or not {"client_id", "jwks", "scope"} <= body.keys():
            return 400, {
                "error": 'send a JSON object {"client_id": ..., "jwks": {"keys": [...]}, "scope": ...}'
            }
        client_id, jwks, scope = body["client_id"], body["jwks"], body["scope"]
        if not isinstance(client_id, str) or not CLIENT_ID.fullmatch(client_id):
            return 400, {"error": "client_id: 1 to 64 letters, digits or . _ ~ -"}
        if not isinstance(scope, str | list):
            return 400, {"error": "scope: a string of space-separated scopes, or a list of them"}
        owner = json.dumps(jwks, sort_keys=True)
        with self._lock:
            if self._owners.get(client_id, owner) != owner:
                return 409, {
                    "error": f"client_id {client_id!r} is registered with another key set: choose another"
                }
            if client_id not in self._owners and len(self._owners) >= MAX_CLIENTS:
                return 503, {
                    "error": f"the practice server holds {MAX_CLIENTS} clients, its most: ask your instructor"
                }
            try:
                registration = self.smart.register_client(client_id, jwks, scope)
            except ValueError as err:
                return 400, {"error": str(err)}
            self._owners[client_id] = owner
        return 201, {"client_id": client_id, "scope": " ".join(s.text for s in registration.scopes)}


class PracticeService(LoopbackService):
    """Every practice server, running until :meth:`stop`, and the index that says where they are. ``lazy``:
    :meth:`start` opens only the index, and the servers start at the first request to it (a grading judge
    offers the service to every submission; few of them use it)."""

    def __init__(self, port: int = 0, *, lazy: bool = False) -> None:
        super().__init__(port)
        self.lazy = lazy
        self._stack = ExitStack()
        self._started = threading.Lock()
        self.listeners: dict[str, mllp.Listener] = {}
        self.tls: dict[str, MllpTlsServer] = {}
        self.smart: SmartServer | None = None
        self.pki: Pki | None = None
        self.registry: SmartRegistry | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def start(self) -> PracticeService:
        if not self.lazy:
            self._servers()
        try:
            super().start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def _servers(self) -> SmartRegistry:
        """Start the servers once (the first caller does; the others wait); the client registry."""
        with self._started:
            if self.registry is None:
                try:
                    for kind in MLLP_KINDS:
                        self.listeners[kind] = self._stack.enter_context(mllp_listener(kind))
                    self.pki = self._stack.enter_context(make_pki())
                    for name in CERTIFICATES:
                        self.tls[name] = self._stack.enter_context(tls_server(self.pki, name))
                    self.smart = self._stack.enter_context(SmartServer())
                except BaseException:
                    self._stack.close()
                    raise
                self.registry = SmartRegistry(self.smart)
            return self.registry

    def stop(self) -> None:
        super().stop()
        with self._started:
            self._stack.close()

    def index(self) -> dict:
        """Where each server listens (what :mod:`hitlab.practice` reads from ``GET /index.json``)."""
        smart = self._servers().smart
        assert self.pki is not None
        with open(self.pki.ca_cert, encoding="ascii") as ca:
            ca_pem = ca.read()
        return {
            "mllp": {
                kind: {"host": HOST, "port": listener.port} for kind, listener in self.listeners.items()
            },
            "tls": {name: {"host": HOST, "port": server.port} for name, server in self.tls.items()},
            "ca_cert": ca_pem,
            "smart": {
                "base_url": smart.base_url,
                "token_url": smart.token_url,
                "fhir_base": smart.fhir_base,
                "jwks_url": smart.jwks_url,
                "smart_configuration_url": smart.smart_configuration_url,
            },
        }

    def register(self, body: Any) -> tuple[int, dict]:
        """Register a learner's SMART client from a request body: (HTTP status, JSON answer)."""
        return self._servers().register(body)

    def _make_server(self, address: tuple[str, int]) -> _IndexServer:
        server = _IndexServer(address, _IndexHandler)
        server.app = self
        return server


class _IndexHandler(http.server.BaseHTTPRequestHandler):
    server: _IndexServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.split("?")[0] in ("/", "/index.json"):
            self._answer(200, self.server.app.index())
        else:
            self._answer(404, {"error": "the index is at /index.json"})

    def do_POST(self) -> None:
        if self.path != "/smart/clients":
            self._answer(404, {"error": "clients register at /smart/clients"})
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._answer(411, {"error": "send a Content-Length"})
            return
        if not 0 <= length <= MAX_REQUEST:
            self._answer(413, {"error": f"a registration holds at most {MAX_REQUEST} bytes"})
            return
        try:
            body = json.loads(self.rfile.read(length))
        except ValueError:
            self._answer(400, {"error": "the body is not JSON"})
            return
        self._answer(*self.server.app.register(body))


class _IndexServer(ThreadedServerMixin, http.server.ThreadingHTTPServer):
    app: PracticeService


@contextmanager
def running(port: int = 0) -> Iterator[PracticeService]:
    """A started :class:`PracticeService`, stopped on leaving the block."""
    service = PracticeService(port).start()
    try:
        yield service
    finally:
        service.stop()
