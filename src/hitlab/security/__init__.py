"""Security infrastructure for lab07 (security and access): SMART scopes, SMART Backend Services on
loopback, and TLS with a local CA. Everything listens on 127.0.0.1 only, writes only under
:func:`tempfile.gettempdir`, and leaves no thread or socket behind after ``stop()`` (or the ``with`` block).

Modules:

- :mod:`hitlab.security.scopes`: parse SMART App Launch 2.2 scopes (v1 ``patient/Observation.read`` and v2
  ``patient/Observation.rs?category=...``) and decide whether a FHIR request is allowed; the reference the
  lab's checks use.
- :mod:`hitlab.security.keys`: RSA / EC P-384 key pairs and their public JWK / JWK Set (with ``kid``).
- :mod:`hitlab.security.smart`: :class:`SmartServer`, an OAuth 2.0 authorization server (client-credentials
  grant with RFC 7523 JWT client assertions) and a FHIR API over a :class:`~hitlab.fhirstore.FhirStore`
  that enforces the token's scopes with 401/403; :func:`client_assertion` signs an assertion.
- :mod:`hitlab.security.pki`: :func:`make_pki` (a CA and good, wrong-host, expired and untrusted server
  certificates as PEM files).
- :mod:`hitlab.security.tls`: :class:`HttpsServer` and :class:`MllpTlsServer` (TLS 1.2+), and a verifying
  reference client :func:`tls_send_and_receive`.

The names below are imported from their module when first used. An exam release ships only ``keys`` and
``pki``: the others implement what lab07 grades (scope decisions, the assertion, the TLS client) or serve it,
and there the course's practice servers (:mod:`hitlab.practice`) take their place.

>>> from hitlab.security import SmartServer, client_assertion, generate_rsa_key, jwk_set, public_jwk
>>> key = generate_rsa_key()
>>> with SmartServer(bundles=bundles) as server:
...     server.register_client("my-app", jwk_set(public_jwk(key, alg="RS384")), "system/*.rs")
...     assertion = client_assertion("my-app", server.token_url, key)
...     ...   # POST it to server.token_url, then GET server.fhir_base + "/Patient" with the bearer token

>>> from hitlab.security import make_pki, MllpTlsServer, tls_send_and_receive
>>> with make_pki() as pki, MllpTlsServer(pki.server_cert, pki.server_key) as server:
...     ack = tls_send_and_receive(server.port, message, cafile=pki.ca_cert)
"""

import importlib

_MODULES = {  # module -> the names this package gives from it (each module's own __all__ may hold more)
    "keys": ("generate_ec_key", "generate_rsa_key", "jwk_set", "private_pem", "public_jwk", "public_pem"),
    "pki": ("CertificateAuthority", "Pki", "make_ca", "make_pki"),
    "scopes": ("Decision", "Scope", "ScopeError", "covers", "decide", "format_scopes", "matches_query",
               "parse_scope", "parse_scopes"),
    "smart": ("ASSERTION_TYPE", "ClientRegistration", "OAuthError", "SmartServer", "TokenError", "TokenRequest",
              "client_assertion"),
    "tls": ("HttpsServer", "MllpTlsServer", "ack", "client_context", "tls_send_and_receive"),
}  # fmt: skip
_HOME = {name: module for module, names in _MODULES.items() for name in names}


def __getattr__(name: str):
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'hitlab.security' has no attribute {name!r}")
    try:
        value = getattr(importlib.import_module(f"hitlab.security.{module}"), name)
    except ModuleNotFoundError as missing:
        if missing.name != f"hitlab.security.{module}":
            raise
        raise ImportError(
            f"hitlab.security.{name} is not in this course's learner install (an exam release): it implements "
            "or serves what lab 07 grades. Your instructor's practice servers take its place (hitlab.practice).",
            name=f"hitlab.security.{module}",
        ) from None
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = sorted(_HOME)
