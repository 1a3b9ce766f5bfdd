"""A local certificate authority for lab07's transport-security exercise: :func:`make_pki` writes, as PEM
files in a fresh folder under :func:`tempfile.gettempdir`, a CA (a self-signed certificate with
``basicConstraints CA:TRUE`` and ``keyUsage keyCertSign``) and certificates it issues for the good and the
negative cases: a server certificate for ``localhost`` and ``127.0.0.1`` (SAN DNS and IP, ``extendedKeyUsage
serverAuth``), one for a wrong host name, one that has expired, and a second, *untrusted* CA with a
``localhost`` certificate of its own.

It makes certificates and serves nothing, so an exam release ships it (a learner inspects the certificates);
the servers and the reference client are in :mod:`hitlab.security.tls`.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hitlab.security import keys as _keys

__all__ = ["WRONG_HOST", "CertificateAuthority", "Pki", "make_ca", "make_pki"]

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
