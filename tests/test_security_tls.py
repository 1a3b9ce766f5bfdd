"""hitlab.security.tls: a local CA, certificates, and HTTPS / MLLP-over-TLS servers on loopback, checked by
real clients that verify the chain and the host name."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import tempfile
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from hitlab.security import tls
from hitlab.security.pki import _now

MESSAGE = "MSH|^~\\&|LAB|HOSP|EHR|HOSP|20260101120000||ORU^R01^ORU_R01|CTRL42|P|2.5.1\rPID|1||MRN1"


@pytest.fixture(scope="module")
def pki():
    with tls.make_pki() as made:
        yield made


def _load(path: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(Path(path).read_bytes())


def _https_get(port: int, cafile: str, server_hostname: str = "localhost") -> tuple[int, dict, str]:
    """A verifying client: the learner's ``ssl.create_default_context(cafile=...)``, connecting by IP."""
    ctx = ssl.create_default_context(cafile=cafile)
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname=server_hostname) as conn,
    ):
        version = conn.version()
        conn.sendall(b"GET /status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := conn.recv(4096):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body), version


def test_files_are_pem_under_the_temp_dir(pki):
    assert Path(pki.directory).parent == Path(tempfile.gettempdir())
    for name in ("ca_cert", "server_cert", "wrong_host_cert", "expired_cert", "untrusted_ca_cert"):
        assert Path(getattr(pki, name)).read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert Path(pki.server_key).read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert Path(pki.server_key).stat().st_mode & 0o077 == 0


def test_ca_certificate(pki):
    ca = _load(pki.ca_cert)
    assert ca.issuer == ca.subject
    bc = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert (bc.critical, bc.value.ca) == (True, True)
    ku = ca.extensions.get_extension_for_class(x509.KeyUsage)
    assert (ku.critical, ku.value.key_cert_sign, ku.value.digital_signature) == (True, True, False)


def test_server_certificate(pki):
    cert, ca = _load(pki.server_cert), _load(pki.ca_cert)
    assert cert.issuer == ca.subject
    cert.verify_directly_issued_by(ca)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(a) for a in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False


def test_negative_certificates(pki):
    wrong = _load(pki.wrong_host_cert).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert wrong.get_values_for_type(x509.DNSName) == [tls.WRONG_HOST]
    assert wrong.get_values_for_type(x509.IPAddress) == []
    expired = _load(pki.expired_cert)
    assert expired.not_valid_after_utc < _now()
    untrusted = _load(pki.untrusted_cert)
    untrusted.verify_directly_issued_by(_load(pki.untrusted_ca_cert))
    assert untrusted.issuer != _load(pki.ca_cert).subject


def test_https_good_case(pki):
    with tls.HttpsServer(pki.server_cert, pki.server_key) as server:
        status, body, version = _https_get(server.port, pki.ca_cert)
        assert status == 200
        assert body == {"status": "ok", "path": "/status", "tls_version": version}
        assert version in ("TLSv1.2", "TLSv1.3")
        assert _https_get(server.port, pki.ca_cert, server_hostname="127.0.0.1")[0] == 200  # IP SAN
        assert server.url == f"https://127.0.0.1:{server.port}"
        assert server.requests == ["/status", "/status"]


def test_https_with_http_client(pki):
    with tls.HttpsServer(pki.server_cert, pki.server_key) as server:
        conn = http.client.HTTPSConnection(
            "127.0.0.1", server.port, context=ssl.create_default_context(cafile=pki.ca_cert), timeout=5
        )
        conn.request("GET", "/")
        response = conn.getresponse()
        assert (response.status, json.loads(response.read())["status"]) == (200, "ok")
        conn.close()


@pytest.mark.parametrize(
    ("cert", "key", "reason"),
    [
        ("wrong_host_cert", "wrong_host_key", "Hostname mismatch, certificate is not valid for 'localhost'."),
        ("untrusted_cert", "untrusted_key", "unable to get local issuer certificate"),
        ("expired_cert", "expired_key", "certificate has expired"),
    ],
)
def test_https_client_refuses(pki, cert, key, reason):
    with tls.HttpsServer(getattr(pki, cert), getattr(pki, key)) as server:
        with pytest.raises(ssl.SSLCertVerificationError) as err:
            _https_get(server.port, pki.ca_cert)
        assert err.value.verify_message == reason
        assert server.requests == []


def test_wrong_host_name_by_ip_too(pki):
    with (
        tls.HttpsServer(pki.wrong_host_cert, pki.wrong_host_key) as server,
        pytest.raises(ssl.SSLCertVerificationError, match="IP address mismatch"),
    ):
        _https_get(server.port, pki.ca_cert, server_hostname="127.0.0.1")


def test_trusting_the_other_ca_does_not_help_with_ours(pki):
    with (
        tls.HttpsServer(pki.server_cert, pki.server_key) as server,
        pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer certificate"),
    ):
        _https_get(server.port, pki.untrusted_ca_cert)


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
def test_tls_below_1_2_is_refused(pki):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(pki.ca_cert)
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    with (
        tls.HttpsServer(pki.server_cert, pki.server_key) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw,
        pytest.raises(ssl.SSLError),
    ):
        ctx.wrap_socket(raw, server_hostname="localhost")


def test_plain_tcp_to_a_tls_server_gets_no_http(pki):
    with (
        tls.HttpsServer(pki.server_cert, pki.server_key) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw,
    ):
        raw.sendall(b"GET / HTTP/1.0\r\n\r\n")
        try:
            data = raw.recv(4096)
        except ConnectionResetError:
            data = b""
        assert not data.startswith(b"HTTP/")
        assert server.requests == []


def test_mllp_over_tls(pki):
    with tls.MllpTlsServer(pki.server_cert, pki.server_key) as server:
        reply = tls.tls_send_and_receive(server.port, MESSAGE, pki.ca_cert)
        assert reply == (
            "MSH|^~\\&|EHR|HOSP|LAB|HOSP|20260101120000||ACK^R01^ACK|ACKCTRL42|P|2.5.1\rMSA|AA|CTRL42"
        )
        assert server.received == [MESSAGE]


@pytest.mark.parametrize(
    ("cert", "key", "reason"),
    [
        ("wrong_host_cert", "wrong_host_key", "Hostname mismatch"),
        ("untrusted_cert", "untrusted_key", "unable to get local issuer certificate"),
        ("expired_cert", "expired_key", "certificate has expired"),
    ],
)
def test_mllp_client_refuses_before_sending(pki, cert, key, reason):
    with tls.MllpTlsServer(getattr(pki, cert), getattr(pki, key)) as server:
        with pytest.raises(ssl.SSLCertVerificationError, match=reason):
            tls.tls_send_and_receive(server.port, MESSAGE, pki.ca_cert)
        assert server.received == []


def test_custom_reply(pki):
    with tls.MllpTlsServer(pki.server_cert, pki.server_key, reply=lambda m: [tls.ack(m, "AE")]) as server:
        assert tls.tls_send_and_receive(server.port, MESSAGE, pki.ca_cert).endswith("MSA|AE|CTRL42")


def test_ack_needs_an_msh():
    with pytest.raises(ValueError, match="no MSH segment"):
        tls.ack("PID|1")


def test_client_context_is_strict(pki):
    ctx = tls.client_context(pki.ca_cert)
    assert (ctx.verify_mode, ctx.check_hostname) == (ssl.CERT_REQUIRED, True)
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2


def test_servers_stop_cleanly(pki):
    before = {t.ident for t in threading.enumerate()}
    for server in (
        tls.HttpsServer(pki.server_cert, pki.server_key),
        tls.MllpTlsServer(pki.server_cert, pki.server_key),
    ):
        server.start()
        port = server.port
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # a client that connects and leaves without a handshake
        server.stop()
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
    assert {t.ident for t in threading.enumerate()} <= before


def test_make_pki_in_a_given_folder(tmp_path):
    made = tls.make_pki(tmp_path / "certs")
    assert Path(made.ca_cert).parent == tmp_path / "certs"
    made.cleanup()
    assert not (tmp_path / "certs").exists()
