"""TLS on loopback for lab07's transport-security exercise: :class:`HttpsServer` (a small JSON over HTTPS) and
:class:`MllpTlsServer` (HL7 v2 over MLLP inside TLS, answering each message with an ACK) serve one of the
certificates of :func:`hitlab.security.pki.make_pki` on 127.0.0.1, TLS 1.2 or newer only (SMART App Launch
and most HIEs require TLS 1.2+); :func:`tls_send_and_receive` is the verifying reference client.

>>> from hitlab.security import tls
>>> with tls.make_pki() as pki, tls.HttpsServer(pki.server_cert, pki.server_key) as server:
...     ctx = ssl.create_default_context(cafile=pki.ca_cert)       # trust only the lab's CA
...     with socket.create_connection(("127.0.0.1", server.port)) as raw:
...         with ctx.wrap_socket(raw, server_hostname="localhost") as conn:   # chain and name checked
...             conn.sendall(b"GET / HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n")

A client connects to 127.0.0.1 and names the host it expects with ``server_hostname``, so nothing is
resolved by DNS. With ``pki.wrong_host_cert``, ``pki.expired_cert`` or ``pki.untrusted_cert`` on the
server, such a client's handshake fails with :class:`ssl.SSLCertVerificationError`.
"""

from __future__ import annotations

import http.server
import json
import socket
import socketserver
import ssl
from collections.abc import Callable
from typing import Any

from hitlab.hl7 import er7, mllp
from hitlab.security._loopback import HOST, LoopbackService, ThreadedServerMixin, server_tls_context
from hitlab.security.pki import WRONG_HOST, CertificateAuthority, Pki, make_ca, make_pki

__all__ = [
    "WRONG_HOST",
    "CertificateAuthority",
    "HttpsServer",
    "MllpTlsServer",
    "Pki",
    "ack",
    "client_context",
    "make_ca",
    "make_pki",
    "tls_send_and_receive",
]

# -- clients ------------------------------------------------------------------------------------------------


def client_context(cafile: str) -> ssl.SSLContext:
    """What a careful client uses: trust only ``cafile``, verify the chain and the host name, TLS 1.2+."""
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def tls_send_and_receive(
    port: int, message: str, cafile: str, server_hostname: str = "localhost", timeout: float = 5.0
) -> str:
    """Send one HL7 v2 message over MLLP inside TLS to 127.0.0.1:``port`` and return the first reply.

    The server's certificate must chain to ``cafile`` and name ``server_hostname``; otherwise
    :class:`ssl.SSLCertVerificationError` is raised before anything is sent."""
    with (
        socket.create_connection((HOST, port), timeout=timeout) as raw,
        client_context(cafile).wrap_socket(raw, server_hostname=server_hostname) as conn,
    ):
        conn.sendall(mllp.encode(message))
        pending = b""
        while True:
            data = conn.recv(4096)
            if not data:
                raise ConnectionError(f"{HOST}:{port} closed the connection before a complete reply")
            got, pending = mllp.frames(pending + data)
            if got:
                return got[0].decode("utf-8")


# -- servers ------------------------------------------------------------------------------------------------


def ack(message: str, code: str = "AA") -> str:
    """An HL7 v2 ACK for ``message``: sender and receiver swapped, MSH-7 copied (deterministic), ``MSA-1``
    = ``code`` and ``MSA-2`` = the message's control id (MSH-10)."""
    msh = er7.first(er7.segments(message), "MSH")
    if msh is None:
        raise ValueError("not an HL7 v2 message: no MSH segment")
    f = lambda n: er7.field(msh, n)  # noqa: E731
    trigger = er7.component(f(9), 2)
    header = [
        "MSH",
        f(2),
        f(5),
        f(6),
        f(3),
        f(4),
        f(7),
        "",
        f"ACK^{trigger}^ACK",
        f"ACK{f(10)}",
        f(11),
        f(12),
    ]
    return "|".join(header) + "\r" + f"MSA|{code}|{f(10)}"


class _HttpsHandler(http.server.BaseHTTPRequestHandler):
    server_version = "hitlab-tls/1"
    timeout = 5.0

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: notebook cells must not write to stderr."""

    def do_GET(self) -> None:
        version = self.connection.version() if isinstance(self.connection, ssl.SSLSocket) else None
        body = json.dumps({"status": "ok", "path": self.path, "tls_version": version}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.server.app.requests.append(self.path)  # type: ignore[attr-defined]


class _HttpsServer(ThreadedServerMixin, http.server.ThreadingHTTPServer):
    app: HttpsServer


class HttpsServer(LoopbackService):
    """HTTPS on 127.0.0.1 answering every GET with ``{"status": "ok", "path": ..., "tls_version": ...}``.

    ``certfile`` may hold the certificate followed by intermediates; TLS 1.2 is the lowest version offered.
    Use ``with HttpsServer(cert, key) as server:`` or ``start()``/``stop()``; ``server.url`` is the base URL
    by IP, ``server.port`` the port."""

    def __init__(self, certfile: str, keyfile: str, *, port: int = 0) -> None:
        super().__init__(port, server_tls_context(certfile, keyfile))
        self.requests: list[str] = []

    @property
    def url(self) -> str:
        return f"https://{HOST}:{self.port}"

    def _make_server(self, address: tuple[str, int]) -> _HttpsServer:
        server = _HttpsServer(address, _HttpsHandler)
        server.app = self
        return server


class _MllpHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        app: MllpTlsServer = self.server.app  # type: ignore[attr-defined]
        pending = b""
        while True:
            try:
                data = self.request.recv(4096)
            except (OSError, TimeoutError):
                return
            if not data:
                return
            got, pending = mllp.frames(pending + data)
            for payload in got:
                message = payload.decode("utf-8", errors="replace")
                app.received.append(message)
                self.request.sendall(b"".join(mllp.encode(m) for m in app.reply(message)))


class _MllpServer(ThreadedServerMixin, socketserver.ThreadingTCPServer):
    app: MllpTlsServer


class MllpTlsServer(LoopbackService):
    """MLLP inside TLS on 127.0.0.1: each framed message is recorded in ``received`` and answered with
    ``reply(message)`` (default: one AA :func:`ack`). Context manager, or ``start()``/``stop()``."""

    def __init__(
        self, certfile: str, keyfile: str, *, port: int = 0, reply: Callable[[str], list[str]] | None = None
    ) -> None:
        super().__init__(port, server_tls_context(certfile, keyfile))
        self.reply = reply or (lambda m: [ack(m)])
        self.received: list[str] = []

    def _make_server(self, address: tuple[str, int]) -> _MllpServer:
        server = _MllpServer(address, _MllpHandler)
        server.app = self
        return server
