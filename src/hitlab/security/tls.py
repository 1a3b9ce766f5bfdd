"""TLS on loopback with a locally generated certificate authority, for lab07's transport-security exercise.

:func:`make_pki` writes, as PEM files in a fresh folder under :func:`tempfile.gettempdir`, a CA (a
self-signed certificate with ``basicConstraints CA:TRUE`` and ``keyUsage keyCertSign``) and certificates it
issues for the good and the negative cases: a server certificate for ``localhost`` and ``127.0.0.1``
(SAN DNS and IP, ``extendedKeyUsage serverAuth``), one for a wrong host name, one that has expired, and a
second, *untrusted* CA with a ``localhost`` certificate of its own. :class:`HttpsServer` (a small JSON over
HTTPS) and :class:`MllpTlsServer` (HL7 v2 over MLLP inside TLS, answering each message with an ACK) serve
one of these on 127.0.0.1, TLS 1.2 or newer only (SMART App Launch and most HIEs require TLS 1.2+).

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

import datetime as dt
import http.server
import ipaddress
import json
import shutil
import socket
import socketserver
import ssl
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hitlab.hl7 import er7, mllp
from hitlab.security import keys as _keys
from hitlab.security._loopback import HOST, LoopbackService, ThreadedServerMixin, server_tls_context

__all__ = [
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

WRONG_HOST = "wrong-host.example"
"""The only name on the wrong-host certificate (never resolved: the client connects to 127.0.0.1)."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "hitlab lab07"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@dataclass
class CertificateAuthority:
    """A CA: its private ``key`` and self-signed ``cert``; :meth:`issue` signs server certificates."""

    key: Any
    cert: x509.Certificate

    def issue(
        self,
        dns_names: tuple[str, ...] = ("localhost",),
        ip_addresses: tuple[str, ...] = ("127.0.0.1",),
        *,
        key: Any = None,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
    ) -> tuple[Any, x509.Certificate]:
        """A server certificate (key, cert) for the names and addresses (SAN), ``serverAuth`` only.
        Valid from one hour ago for 30 days unless ``not_before``/``not_after`` say otherwise."""
        key = key or _keys.generate_rsa_key()
        start = not_before or _now() - dt.timedelta(hours=1)
        end = not_after or start + dt.timedelta(days=30)
        san = [x509.DNSName(n) for n in dns_names] + [
            x509.IPAddress(ipaddress.ip_address(a)) for a in ip_addresses
        ]
        ca_ski = self.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(dns_names[0] if dns_names else ip_addresses[0]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=True,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName(san), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
            )
            .sign(self.key, hashes.SHA256())
        )
        return key, cert


def make_ca(
    common_name: str = "hitlab lab07 test CA", *, key: Any = None, days: int = 30
) -> CertificateAuthority:
    """A new CA: a key and a self-signed certificate, ``basicConstraints CA:TRUE`` (path length 0) and
    ``keyUsage keyCertSign, cRLSign``, both critical; valid from one hour ago for ``days`` days."""
    key = key or _keys.generate_rsa_key()
    start = _now() - dt.timedelta(hours=1)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return CertificateAuthority(key, cert)


@dataclass
class Pki:
    """The PEM files of :func:`make_pki` (paths as ``str``, ready for :mod:`ssl`), and their folder.

    ``ca_cert``: the CA a client trusts. ``server_cert``/``server_key``: ``localhost`` and ``127.0.0.1``.
    ``wrong_host_cert``/``wrong_host_key``: only ``wrong-host.example``. ``expired_cert``/``expired_key``:
    ``localhost``, expired yesterday. ``untrusted_ca_cert``, ``untrusted_cert``/``untrusted_key``: a
    ``localhost`` certificate from a second CA that the client does not trust. :meth:`cleanup` (or leaving
    the ``with`` block) deletes the folder.
    """

    directory: str
    ca_cert: str
    server_cert: str
    server_key: str
    wrong_host_cert: str
    wrong_host_key: str
    expired_cert: str
    expired_key: str
    untrusted_ca_cert: str
    untrusted_cert: str
    untrusted_key: str

    def cleanup(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> Pki:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


def make_pki(directory: str | Path | None = None) -> Pki:
    """Generate the lab's CAs and certificates and write them as PEM to ``directory`` (default: a new
    ``hitlab-tls-*`` folder under :func:`tempfile.gettempdir`). Keys are unencrypted PKCS#8 PEM."""
    folder = (
        Path(directory)
        if directory
        else Path(tempfile.mkdtemp(prefix="hitlab-tls-", dir=tempfile.gettempdir()))
    )
    folder.mkdir(parents=True, exist_ok=True)
    ca, other = make_ca(), make_ca("hitlab lab07 untrusted CA")
    leaf_key = _keys.generate_rsa_key()  # one key for every leaf: what is under test is the certificate
    yesterday = _now() - dt.timedelta(days=1)
    good = ca.issue(key=leaf_key)
    wrong = ca.issue((WRONG_HOST,), (), key=leaf_key)
    expired = ca.issue(key=leaf_key, not_before=yesterday - dt.timedelta(days=30), not_after=yesterday)
    untrusted = other.issue(key=leaf_key)
    pem = x509.Certificate.public_bytes
    key_pem = _keys.private_pem(leaf_key)
    paths = {}
    for name, (_, cert) in {
        "server": good,
        "wrong_host": wrong,
        "expired": expired,
        "untrusted": untrusted,
    }.items():
        paths[f"{name}_cert"] = str(_write(folder / f"{name}.crt.pem", pem(cert, Encoding.PEM)))
        paths[f"{name}_key"] = str(_write(folder / f"{name}.key.pem", key_pem))
        (folder / f"{name}.key.pem").chmod(0o600)
    return Pki(
        directory=str(folder),
        ca_cert=str(_write(folder / "ca.crt.pem", pem(ca.cert, Encoding.PEM))),
        untrusted_ca_cert=str(_write(folder / "untrusted-ca.crt.pem", pem(other.cert, Encoding.PEM))),
        **paths,
    )


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
