"""Keys for SMART Backend Services: generate an RSA (or EC P-384) key pair with ``cryptography`` and
publish its public half as a JSON Web Key (RFC 7517) with a ``kid``.

>>> from hitlab.security import keys
>>> private = keys.generate_rsa_key()                 # 2048-bit RSA
>>> jwk = keys.public_jwk(private, alg="RS384")       # {"kty": "RSA", "n": ..., "e": ..., "kid": ..., ...}
>>> jwks = keys.jwk_set(jwk)                          # {"keys": [jwk]}: what a client registers
>>> pem = keys.private_pem(private)                   # for jwt.encode(..., pem, algorithm="RS384")

The ``kid`` defaults to the key's RFC 7638 thumbprint (SHA-256 of its required members, base64url), so the
same key always gets the same ``kid``. SMART App Launch 2.2 ("Client Authentication: Asymmetric") requires
``kty`` and ``kid`` on every registered key, with bare key values (``n`` and ``e`` for RSA; ``crv``, ``x``
and ``y`` for EC).
"""

from __future__ import annotations

import base64
import hashlib
import json

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

__all__ = [
    "generate_ec_key",
    "generate_rsa_key",
    "jwk_set",
    "private_pem",
    "public_jwk",
    "public_pem",
    "thumbprint",
]

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
_REQUIRED = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y")}


def generate_rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    """A new RSA private key (public exponent 65537)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def generate_ec_key() -> ec.EllipticCurvePrivateKey:
    """A new EC private key on P-384, the curve of ES384."""
    return ec.generate_private_key(ec.SECP384R1())


def private_pem(key: PrivateKey) -> bytes:
    """The private key as unencrypted PKCS#8 PEM."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_pem(key: PrivateKey) -> bytes:
    """The public key as SubjectPublicKeyInfo PEM."""
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def thumbprint(jwk: dict) -> str:
    """The RFC 7638 JWK thumbprint (SHA-256, base64url without padding)."""
    members = {k: jwk[k] for k in _REQUIRED[jwk["kty"]]}
    digest = hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True).encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def public_jwk(key: PrivateKey, kid: str | None = None, alg: str | None = None) -> dict:
    """The public JWK of a private key: ``kty``, bare key members, ``kid`` (the thumbprint unless given),
    ``use: "sig"``, and ``alg`` when given (``RS384`` or ``ES384``)."""
    public = key.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        jwk = dict(RSAAlgorithm.to_jwk(public, as_dict=True))
        jwk.pop("key_ops", None)  # RFC 7517 §4.3: "use" and "key_ops" SHOULD NOT be used together
    elif isinstance(public, ec.EllipticCurvePublicKey):
        jwk = dict(ECAlgorithm.to_jwk(public, as_dict=True))
    else:
        raise TypeError(f"expected an RSA or EC private key, got {type(key).__name__}")
    jwk["kid"] = kid or thumbprint(jwk)
    jwk["use"] = "sig"
    if alg:
        jwk["alg"] = alg
    return jwk


def jwk_set(*jwks: dict) -> dict:
    """A JWK Set (RFC 7517 §5): ``{"keys": [...]}``; ``kid`` values must be unique."""
    kids = [k.get("kid") for k in jwks]
    if len(set(kids)) != len(kids) or None in kids:
        raise ValueError(f"every key of a JWK Set needs a unique kid, got {kids}")
    return {"keys": [dict(k) for k in jwks]}
