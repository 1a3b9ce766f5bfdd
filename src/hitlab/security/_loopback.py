"""The loopback server machinery shared by the SMART and TLS servers: bound to 127.0.0.1 only (port 0: a
free port the kernel chooses), served from a thread, optionally TLS (1.2 or newer) per connection, and
stopped cleanly: ``stop()`` shuts the accept loop, closes the listening socket and joins every thread.
"""

from __future__ import annotations

import socket
import socketserver
import ssl
import threading
from typing import Any

HOST = "127.0.0.1"
"""The only address the security servers listen on."""
CONNECTION_TIMEOUT = 5.0
"""Seconds a connection may stay silent (handshake or request) before the server closes it."""


def server_tls_context(certfile: str, keyfile: str) -> ssl.SSLContext:
    """A server-side TLS context with the certificate chain and key, TLS 1.2 as the lowest version."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(certfile, keyfile)
    return ctx


class ThreadedServerMixin:
    """For a :class:`socketserver.TCPServer` subclass: no reverse DNS at bind, TLS per connection in the
    connection's own thread (a failed handshake closes that connection quietly), errors not printed."""

    tls_context: ssl.SSLContext | None = None
    daemon_threads = False  # server_close() joins the connection threads
    block_on_close = True
    allow_reuse_address = False

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)  # skip HTTPServer's socket.getfqdn (a DNS lookup)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = host, port

    def finish_request(self, request: socket.socket, client_address: Any) -> None:
        request.settimeout(CONNECTION_TIMEOUT)
        if self.tls_context is None:
            super().finish_request(request, client_address)
            return
        try:
            conn = self.tls_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # the client refused our certificate, or spoke no TLS: nothing to serve
        try:
            super().finish_request(conn, client_address)
        finally:
            conn.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Connection errors (a client gone, a timeout) are not the notebook's concern: stay silent."""


class LoopbackService:
    """Start/stop and context-manager protocol around a socketserver built by ``_make_server``."""

    scheme = "http"

    def __init__(self, port: int = 0, tls_context: ssl.SSLContext | None = None) -> None:
        self._requested_port = port
        self.tls_context = tls_context
        self._server: socketserver.TCPServer | None = None
        self._thread: threading.Thread | None = None

    def _make_server(self, address: tuple[str, int]) -> socketserver.TCPServer:
        raise NotImplementedError

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def host(self) -> str:
        return HOST

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(
                f"{type(self).__name__} is not running: call start() or use it in a with block"
            )
        return self._server.server_address[1]

    def start(self):
        """Bind 127.0.0.1 and serve from a thread; returns self. Starting a running server is an error."""
        if self._server is not None:
            raise RuntimeError(f"{type(self).__name__} is already running on port {self.port}")
        server = self._make_server((HOST, self._requested_port))
        server.tls_context = self.tls_context
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name=type(self).__name__, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, close the listening socket, and wait for every connection thread. Idempotent."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
