"""SMART Backend Services on loopback: an OAuth 2.0 authorization server and a FHIR resource server in one
small HTTP service on 127.0.0.1, for lab07's "real exchange, not a mock".

Follows SMART App Launch 2.2.0 (STU 2.2; Backend Services has been part of SMART App Launch since 2.0.0),
https://hl7.org/fhir/smart-app-launch/STU2.2/backend-services.html and
https://hl7.org/fhir/smart-app-launch/STU2.2/client-confidential-asymmetric.html, with RFC 6749 (OAuth 2.0
client-credentials grant, §4.4; error responses, §5.2), RFC 7523 (JWT client assertions), RFC 7519 (JWT),
RFC 9068 (JWT access tokens) and RFC 6750 (bearer tokens, ``WWW-Authenticate``).

>>> from hitlab.security import SmartServer, generate_rsa_key, public_jwk, jwk_set, client_assertion
>>> key = generate_rsa_key()
>>> with SmartServer(bundles=[...]) as server:                      # or store=FhirStore(...)
...     server.register_client("lab-client", jwk_set(public_jwk(key, alg="RS384")), "system/*.rs")
...     assertion = client_assertion("lab-client", server.token_url, key)   # RS384, exp now + 300 s
...     # POST server.token_url  grant_type=client_credentials&scope=system/Observation.rs
...     #   &client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer&client_assertion=...
...     # GET  server.fhir_base + "/Observation?code=..."  with  Authorization: Bearer <access_token>

Endpoints (``server.base_url`` is ``http://127.0.0.1:<port>``):

- ``GET /fhir/.well-known/smart-configuration`` (also at ``/.well-known/smart-configuration``): discovery.
- ``POST /token``: the token endpoint. Errors are RFC 6749 §5.2 JSON ``{"error", "error_description"}``
  with status 400 (§5.2's default; 401 is only a MAY for ``invalid_client`` when the client did not use the
  ``Authorization`` header, as here). ``unsupported_grant_type``: not ``client_credentials``;
  ``invalid_request``: a parameter missing, repeated, or ``client_assertion_type`` not ``jwt-bearer``;
  ``invalid_client``: any failure to authenticate the assertion (SMART: "If an error is encountered during
  the authentication process, the server SHALL respond with an invalid_client error"): not a JWT,
  ``alg`` not RS384/ES384 (so ``none`` and HS256 key confusion), no matching ``kid``, bad signature,
  unknown client, ``iss``/``sub`` not the client_id, ``aud`` not the token URL, expired, ``exp`` more than
  five minutes ahead, ``jti`` replayed; ``invalid_scope``: a malformed scope string, or none of the
  requested scopes is pre-authorized for the client. (``invalid_grant`` does not arise: the
  client-credentials grant carries no grant to be invalid.)
- ``GET /jwks.json``: the public key that signs access tokens.
- ``/fhir/...``: read (``GET Type/id``, ``Type/id/_history/n``), search (``GET Type?...``), create
  (``POST Type``) and update (``PUT Type/id``) on the :class:`~hitlab.fhirstore.FhirStore`. No or a
  non-Bearer ``Authorization``: 401 with ``WWW-Authenticate: Bearer realm="hitlab"`` (RFC 6750 §3.1: no
  error code when the request lacks authentication). Invalid, expired, wrong-audience token: 401 with
  ``error="invalid_token"``. A valid token whose scopes do not allow the request: 403 with an
  OperationOutcome and ``error="insufficient_scope"``. Only ``system/`` scopes count: a Backend Services
  client acts with no patient or user in context (SMART does not forbid ``patient/`` or ``user/`` scopes there,
  but they would need context agreed out of band, which this server does not take). Granular v2 scopes: a search is *filtered* to the resources matching the scope's
  query (``total`` counts what is returned), a read of a resource outside it is *refused* with 403 (SMART
  2.2 allows both: "these requests may be rejected, or results may be omitted from responses").
"""

from __future__ import annotations

import copy
import http.server
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from hitlab.errors import HitlabError
from hitlab.fhirstore import FhirStore, outcome
from hitlab.security import keys as _keys
from hitlab.security._loopback import LoopbackService, ThreadedServerMixin, server_tls_context
from hitlab.security.scopes import (
    INTERACTIONS,
    Scope,
    ScopeError,
    covers,
    decide,
    format_scopes,
    matches_query,
    parse_scopes,
)

__all__ = [
    "ASSERTION_TYPE",
    "ClientRegistration",
    "OAuthError",
    "SmartServer",
    "TokenError",
    "client_assertion",
]

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
"""The fixed ``client_assertion_type`` of RFC 7523 §2.2."""
ASSERTION_ALGORITHMS = ("RS384", "ES384")
"""The signature algorithms SMART names for client assertions (the server accepts these two only)."""
MAX_ASSERTION_LIFETIME = 300
"""SMART: the assertion's ``exp`` "SHALL be no more than five minutes in the future"."""
ACCESS_TOKEN_LIFETIME = 300
"""SMART recommends 300 s and says ``expires_in`` SHOULD NOT exceed it."""
REALM = "hitlab"
_KTY = {"RS384": "RSA", "ES384": "EC"}


class OAuthError(HitlabError):
    """An RFC 6749 §5.2 token endpoint error: ``code`` (``invalid_client``...) and ``description``."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(f"{code}: {description}")
        self.code, self.description = code, description


class TokenError(HitlabError):
    """An access token the resource server refuses (RFC 6750 ``invalid_token``)."""


@dataclass(frozen=True)
class TokenRequest:
    """One request to the token endpoint, as the server saw it: the client it claimed to be (the assertion's
    unverified ``iss``, ``None`` if unreadable), the scope it asked for, what was granted, or the OAuth error
    (``"invalid_client: ..."``)."""

    client_id: str | None
    scope: str | None
    granted: str | None
    error: str | None


@dataclass
class ClientRegistration:
    """A registered Backend Services client: its id, public JWK Set and the scopes it is pre-authorized for."""

    client_id: str
    jwks: dict
    scopes: list[Scope]
    used_jti: dict[str, float] = field(default_factory=dict)  # jti -> exp, kept until exp


def client_assertion(
    client_id: str,
    token_url: str,
    key: Any,
    *,
    alg: str = "RS384",
    kid: str | None = None,
    lifetime: int = MAX_ASSERTION_LIFETIME,
    jti: str | None = None,
    now: float | None = None,
    **claims: Any,
) -> str:
    """A signed client assertion (RFC 7523 §3, SMART's authentication JWT): ``iss`` = ``sub`` = client_id,
    ``aud`` = the token URL, ``exp`` = now + ``lifetime``, a random ``jti``, header ``kid`` (the key's
    thumbprint unless given) and ``typ: JWT``. Extra ``claims`` are added or override these."""
    issued = int(time.time() if now is None else now)
    payload = {
        "iss": client_id,
        "sub": client_id,
        "aud": token_url,
        "exp": issued + lifetime,
        "jti": jti or secrets.token_urlsafe(16),
        **claims,
    }
    headers = {"kid": kid or _keys.public_jwk(key)["kid"], "typ": "JWT"}
    return jwt.encode(payload, key, algorithm=alg, headers=headers)


def _default_store() -> FhirStore:
    from hitlab.checks import lab04  # the workbook's store: hospital, practitioners, the first patients

    return lab04.store()


class SmartServer(LoopbackService):
    """The authorization server and FHIR API; see the module docstring.

    ``store``: the :class:`FhirStore` to serve; else ``bundles`` (dicts or JSON files) are loaded into a new
    one; else the workbook's lab04 store. ``tls``: ``(certfile, keyfile)`` to serve HTTPS (TLS 1.2+)
    instead of HTTP. Use ``with SmartServer(...) as server:`` or ``start()``/``stop()``; port 0 (the
    default) lets the kernel choose a free port.
    """

    def __init__(
        self,
        store: FhirStore | None = None,
        bundles: list[dict | str | Path] | None = None,
        *,
        port: int = 0,
        tls: tuple[str, str] | None = None,
        token_lifetime: int = ACCESS_TOKEN_LIFETIME,
        signing_key: rsa.RSAPrivateKey | None = None,
    ) -> None:
        super().__init__(port, server_tls_context(*tls) if tls is not None else None)
        if store is None:
            store = FhirStore.from_bundles(bundles) if bundles is not None else _default_store()
        self.store = store
        self.token_lifetime = token_lifetime
        self._signing_key = signing_key or _keys.generate_rsa_key()
        self.signing_jwk = _keys.public_jwk(self._signing_key, alg="RS384")
        self.clients: dict[str, ClientRegistration] = {}
        self.requests: list[tuple[str, str, int]] = []
        """Every request served: (method, path, status)."""
        self.token_requests: list[TokenRequest] = []
        """Every token request, granted or refused, in order."""
        self.restricted: dict[str, str] = {}
        """Patients whose records the FHIR API refuses (403) whatever the token says: id -> reason."""
        self._lock = threading.Lock()

    # -- URLs ---------------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls_context else 'http'}://{self.host}:{self.port}"

    @property
    def issuer(self) -> str:
        """The ``iss`` of the access tokens (the server's base URL)."""
        return self.base_url

    @property
    def token_url(self) -> str:
        return self.base_url + "/token"

    @property
    def fhir_base(self) -> str:
        """The FHIR base URL; also the ``aud`` of the access tokens."""
        return self.base_url + "/fhir"

    @property
    def jwks_url(self) -> str:
        return self.base_url + "/jwks.json"

    @property
    def smart_configuration_url(self) -> str:
        return self.fhir_base + "/.well-known/smart-configuration"

    def _make_server(self, address: tuple[str, int]) -> _HTTPServer:
        server = _HTTPServer(address, _Handler)
        server.app = self
        return server

    # -- clients, discovery, keys -------------------------------------------------------------------------

    def register_client(self, client_id: str, jwks: dict, scopes: str | list[str]) -> ClientRegistration:
        """Register (or replace) a client: its public JWK Set and the ``system/`` scopes it may be granted."""
        if not client_id:
            raise ValueError("client_id must not be empty")
        keys = jwks.get("keys") if isinstance(jwks, dict) else None
        if not isinstance(keys, list) or not keys:
            raise ValueError('jwks must be a JWK Set: {"keys": [ ... ]} with at least one key')
        for i, k in enumerate(keys):
            if not isinstance(k, dict) or not k.get("kty") or not k.get("kid"):
                raise ValueError(f"jwks key {i} needs kty and kid (SMART: every registered JWK has both)")
            if "d" in k:
                raise ValueError(
                    f"jwks key {i} ({k['kid']}) holds a private key ('d'): register the public key"
                )
        parsed = parse_scopes(scopes if isinstance(scopes, str) else " ".join(scopes))
        reg = ClientRegistration(client_id, copy.deepcopy(jwks), parsed)
        with self._lock:
            self.clients[client_id] = reg
        return reg

    def jwks(self) -> dict:
        """The JWK Set of the access-token signing key (served at ``/jwks.json``)."""
        return _keys.jwk_set(self.signing_jwk)

    def smart_configuration(self) -> dict:
        """The ``.well-known/smart-configuration`` document (SMART App Launch 2.2, "Conformance")."""
        return {
            "token_endpoint": self.token_url,
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
            "scopes_supported": ["system/*.rs", "system/*.cruds", "system/*.read"],
            "capabilities": ["client-confidential-asymmetric", "permission-v1", "permission-v2"],
            "jwks_uri": self.jwks_url,
        }

    # -- tokens -------------------------------------------------------------------------------------------

    def issue_access_token(
        self,
        scope: str,
        client_id: str = "hitlab-lab",
        *,
        lifetime: int | None = None,
        now: float | None = None,
        **claims: Any,
    ) -> str:
        """An access token (RFC 9068 JWT, RS384, header ``typ: at+jwt``) as the token endpoint would issue,
        without a client: ``iss``, ``aud`` (the FHIR base), ``sub`` = ``client_id``, ``scope``, ``iat``,
        ``nbf``, ``exp``, ``jti``. ``lifetime`` may be negative (an expired token); ``claims`` override."""
        issued = int(time.time() if now is None else now)
        payload = {
            "iss": self.issuer,
            "aud": self.fhir_base,
            "sub": client_id,
            "client_id": client_id,
            "scope": scope,
            "iat": issued,
            "nbf": issued,
            "exp": issued + (self.token_lifetime if lifetime is None else lifetime),
            "jti": secrets.token_urlsafe(16),
            **claims,
        }
        headers = {"kid": self.signing_jwk["kid"], "typ": "at+jwt"}
        return jwt.encode(payload, self._signing_key, algorithm="RS384", headers=headers)

    def validate_access_token(self, token: str) -> dict:
        """The claims of a valid access token of this server; :class:`TokenError` says why one is not."""
        if not isinstance(token, str) or token.count(".") != 2:
            raise TokenError("not a JWT: expected three dot-separated parts")
        try:
            claims = jwt.decode(
                token,
                self._signing_key.public_key(),
                algorithms=["RS384"],
                audience=self.fhir_base,
                issuer=self.issuer,
                options={"require": ["iss", "aud", "exp", "iat", "sub", "scope"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenError("the access token has expired") from None
        except jwt.InvalidAudienceError:
            raise TokenError(f"the access token's aud is not this FHIR server ({self.fhir_base})") from None
        except jwt.InvalidIssuerError:
            raise TokenError(f"the access token was not issued by {self.issuer}") from None
        except jwt.InvalidAlgorithmError:
            raise TokenError("the access token is not signed with RS384 by this server") from None
        except jwt.InvalidSignatureError:
            raise TokenError("the access token's signature does not verify") from None
        except jwt.InvalidTokenError as err:
            raise TokenError(f"the access token is invalid: {err}") from None
        try:
            parse_scopes(claims["scope"])
        except ScopeError as err:
            raise TokenError(f"the access token's scope is malformed: {err}") from None
        return claims

    def restrict(self, patient_id: str, reason: str) -> None:
        """Refuse every FHIR request that names ``patient_id`` (a read of the Patient, a search by
        ``patient=``/``subject=``) with 403 and ``reason``, as a patient's restriction on their record would."""
        with self._lock:
            self.restricted[patient_id] = reason

    def token_response(self, form: dict[str, list[str]]) -> dict:
        """The token endpoint on already-parsed form parameters; raises :class:`OAuthError`. Every request is
        recorded in :attr:`token_requests`."""
        assertion = form.get("client_assertion", [""])[0]
        try:
            client_id = jwt.decode(assertion, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError:
            client_id = None
        scope = form.get("scope", [None])[0]
        try:
            body = self._token_response(form)
        except OAuthError as err:
            with self._lock:
                self.token_requests.append(
                    TokenRequest(client_id, scope, None, f"{err.code}: {err.description}")
                )
            raise
        with self._lock:
            self.token_requests.append(TokenRequest(client_id, scope, body["scope"], None))
        return body

    def _token_response(self, form: dict[str, list[str]]) -> dict:
        for name, values in form.items():
            if len(values) > 1:
                raise OAuthError("invalid_request", f"parameter {name} is repeated")
        params = {k: v[0] for k, v in form.items()}
        grant_type = params.get("grant_type")
        if not grant_type:
            raise OAuthError("invalid_request", "grant_type is missing (expected client_credentials)")
        if grant_type != "client_credentials":
            raise OAuthError(
                "unsupported_grant_type", f"grant_type {grant_type} is not supported: use client_credentials"
            )
        assertion_type = params.get("client_assertion_type")
        assertion = params.get("client_assertion")
        if assertion_type is None and assertion is None:
            raise OAuthError("invalid_client", "no client authentication: send client_assertion_type and "
                             "client_assertion (a signed JWT)")  # fmt: skip
        if assertion_type != ASSERTION_TYPE:
            raise OAuthError("invalid_request", f"client_assertion_type must be {ASSERTION_TYPE}")
        if not assertion:
            raise OAuthError("invalid_request", "client_assertion is missing")
        client = self._authenticate(assertion)
        scope = params.get("scope")
        if not scope:
            raise OAuthError("invalid_request", "scope is missing (SMART Backend Services requires it)")
        try:
            requested = parse_scopes(scope)
        except ScopeError as err:
            raise OAuthError("invalid_scope", str(err)) from None
        granted = [
            s
            for s in requested
            if s.kind == "resource" and s.context == "system" and any(covers(a, s) for a in client.scopes)
        ]
        if not granted:
            raise OAuthError(
                "invalid_scope",
                f"none of the requested scopes ({scope}) is allowed for client {client.client_id} "
                f"(pre-authorized: {format_scopes(client.scopes)})",
            )
        granted_text = format_scopes(granted)
        return {
            "access_token": self.issue_access_token(granted_text, client.client_id),
            "token_type": "bearer",
            "expires_in": self.token_lifetime,
            "scope": granted_text,
        }

    def _authenticate(self, assertion: str) -> ClientRegistration:
        bad = lambda text: OAuthError("invalid_client", text)  # noqa: E731
        if assertion.count(".") != 2:
            raise bad(f"client_assertion is not a JWT: expected three dot-separated parts, got "
                      f"{assertion.count('.') + 1}")  # fmt: skip
        try:
            header = jwt.get_unverified_header(assertion)
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.DecodeError as err:
            raise bad(f"client_assertion cannot be decoded: {err}") from None
        alg = header.get("alg")
        if alg not in ASSERTION_ALGORITHMS:
            raise bad(f"client_assertion alg {alg} is not accepted: sign it with RS384 or ES384")
        if header.get("typ") != "JWT":
            raise bad("client_assertion header typ must be JWT")
        kid = header.get("kid")
        if not kid:
            raise bad("client_assertion header has no kid (SMART requires it)")
        client_id = unverified.get("iss")
        if not isinstance(client_id, str) or not client_id:
            raise bad("client_assertion has no iss (the client_id)")
        with self._lock:
            client = self.clients.get(client_id)
        if client is None:
            raise bad(f"unknown client {client_id} (iss of the client_assertion)")
        candidates = [k for k in client.jwks["keys"] if k.get("kid") == kid and k.get("kty") == _KTY[alg]]
        if len(candidates) != 1:
            raise bad(f"client {client_id} has {len(candidates)} registered {_KTY[alg]} keys with kid {kid}: "
                      "expected exactly one")  # fmt: skip
        try:
            key = jwt.PyJWK(candidates[0], alg).key
        except jwt.PyJWTError as err:
            raise bad(f"registered key {kid} cannot be used with {alg}: {err}") from None
        try:
            claims = jwt.decode(
                assertion,
                key,
                algorithms=[alg],
                audience=self.token_url,
                issuer=client_id,
                options={"require": ["iss", "sub", "aud", "exp", "jti"]},
            )
        except jwt.InvalidSignatureError:
            raise bad("client_assertion signature verification failed") from None
        except jwt.ExpiredSignatureError:
            raise bad("client_assertion has expired (exp is in the past)") from None
        except jwt.InvalidAudienceError:
            raise bad(f"client_assertion aud must be the token endpoint URL {self.token_url}") from None
        except jwt.MissingRequiredClaimError as err:
            raise bad(f"client_assertion lacks the required claim {err.claim}") from None
        except jwt.ImmatureSignatureError:
            raise bad("client_assertion is not valid yet (nbf or iat in the future)") from None
        except jwt.InvalidTokenError as err:
            raise bad(f"client_assertion is invalid: {err}") from None
        if claims["sub"] != client_id:
            raise bad("client_assertion sub must equal iss (both the client_id)")
        now = time.time()
        if not isinstance(claims["exp"], int | float) or claims["exp"] - now > MAX_ASSERTION_LIFETIME:
            raise bad("client_assertion exp is more than five minutes in the future")
        jti = claims["jti"]
        with self._lock:
            client.used_jti = {j: e for j, e in client.used_jti.items() if e >= now}
            if jti in client.used_jti:
                raise bad(f"client_assertion jti {jti} was already used (a replay)")
            client.used_jti[str(jti)] = claims["exp"]
        return client

    # -- FHIR API -----------------------------------------------------------------------------------------

    def fhir_response(
        self, method: str, path: str, headers: dict, body: dict | None
    ) -> tuple[int, dict, dict]:
        """One FHIR API request (``path`` relative to the FHIR base, with its query): status, headers, body."""
        auth = headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _unauthorized(None, "this FHIR API needs an Authorization: Bearer <access token> header")
        try:
            claims = self.validate_access_token(token.strip())
        except TokenError as err:
            return _unauthorized("invalid_token", str(err))
        granted = parse_scopes(claims["scope"])
        type_, _, rest = urlsplit(path).path.partition("/")
        query = urlsplit(path).query
        parts = rest.split("/") if rest else []
        if method == "GET":
            interaction = "search" if not parts else "vread" if len(parts) == 3 else "read"
        elif method == "POST" and not parts:
            interaction = "create"
        elif method == "PUT" and len(parts) == 1:
            interaction = "update"
        else:
            return 405, {}, outcome("error", "not-supported", f"{method} {path} is not supported")
        if not type_:
            return 404, {}, outcome("error", "not-supported", "a resource type is needed after /fhir/")
        params = [(k, v) for k, vs in parse_qs(query, keep_blank_values=True).items() for v in vs]
        decision = decide(granted, type_, interaction, params=params, context="system",
                          resource=body if interaction in ("create", "update") else None)  # fmt: skip
        if not decision.allowed:
            return _forbidden(decision.reason, f"system/{type_}.{_letter(interaction)}")
        named = unquote(path)
        with self._lock:
            refused = next((why for pid, why in self.restricted.items() if pid in named), None)
        if refused is not None:
            return 403, {}, outcome("error", "forbidden", refused)
        with self._lock:
            response = self.store.request(method, path, body=body, headers=headers)
        status, rbody, rheaders = response.status, response.body, dict(response.headers)
        outside = (
            status == 200
            and interaction in ("read", "vread")
            and decision.filters
            and not decide(granted, type_, interaction, resource=rbody, context="system").allowed
        )
        if outside:
            return _forbidden(f"{type_}/{parts[0]} is outside the granted scope's query "
                                  f"({' or '.join(decision.filters)})", None)  # fmt: skip
        if status == 200 and interaction == "search" and rbody:
            rbody = _filter_bundle(rbody, granted, decision.filters)
        return status, rheaders, self._rebase(rbody)

    def _rebase(self, body: dict | None) -> dict | None:
        if body is None:
            return None
        text = json.dumps(body).replace(json.dumps(self.store.base + "/")[1:-1], self.fhir_base + "/")
        return json.loads(text)


def _letter(interaction: str) -> str:
    return INTERACTIONS[interaction]


def _filter_bundle(bundle: dict, granted: list[Scope], filters: tuple[str, ...]) -> dict:
    kept = []
    for entry in bundle.get("entry", []):
        resource = entry["resource"]
        if entry.get("search", {}).get("mode") == "include":
            ok = decide(
                granted, resource["resourceType"], "search", resource=resource, context="system"
            ).allowed
        else:
            ok = not filters or any(matches_query(resource, f) for f in filters)
        if ok:
            kept.append(entry)
    out = dict(bundle)
    out["entry"] = kept
    out["total"] = sum(1 for e in kept if e.get("search", {}).get("mode") != "include")
    return out


def _challenge(error: str | None, description: str, scope: str | None = None) -> str:
    value = f'Bearer realm="{REALM}"'
    if error:
        text = "".join(ch for ch in description if ch not in '"\\' and " " <= ch <= "~")
        value += f', error="{error}", error_description="{text}"'
    if scope:
        value += f', scope="{scope}"'
    return value


def _unauthorized(error: str | None, description: str) -> tuple[int, dict, dict]:
    headers = {"WWW-Authenticate": _challenge(error, description)}
    return 401, headers, outcome("error", "login", description)


def _forbidden(description: str, scope: str | None) -> tuple[int, dict, dict]:
    headers = {"WWW-Authenticate": _challenge("insufficient_scope", description, scope)}
    return 403, headers, outcome("error", "forbidden", description)


class _Handler(http.server.BaseHTTPRequestHandler):
    server_version = "hitlab-smart/1"
    timeout = 5.0

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: notebook cells must not write to stderr."""

    @property
    def app(self) -> SmartServer:
        return self.server.app  # type: ignore[attr-defined]

    def _send(
        self, status: int, body: dict | None, headers: dict | None = None, ctype: str = "application/json"
    ):
        data = json.dumps(body).encode() if body is not None else b""
        # logged before the reply leaves, so a client that has its answer finds it logged
        with self.app._lock:
            self.app.requests.append((self.command, self.path, status))
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _route(self) -> None:
        path = urlsplit(self.path).path
        if self.command == "GET" and path in ("/.well-known/smart-configuration",
                                              "/fhir/.well-known/smart-configuration"):  # fmt: skip
            return self._send(200, self.app.smart_configuration())
        if self.command == "GET" and path == "/jwks.json":
            return self._send(200, self.app.jwks(), {"Cache-Control": "max-age=300"})
        if path == "/token":
            return self._token()
        if path.startswith("/fhir/"):
            return self._fhir()
        return self._send(404, {"error": "not_found", "error_description": f"no endpoint {path}"})

    def _token(self) -> None:
        nocache = {"Cache-Control": "no-store", "Pragma": "no-cache"}
        if self.command != "POST":
            return self._send(405, {"error": "invalid_request", "error_description": "POST to the token "
                                    "endpoint"}, {"Allow": "POST", **nocache})  # fmt: skip
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        raw = self._read_body()
        if ctype != "application/x-www-form-urlencoded":
            err = OAuthError("invalid_request", "the token request must be application/x-www-form-urlencoded")
            return self._send(400, {"error": err.code, "error_description": err.description}, nocache)
        try:
            form = parse_qs(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw))
        except (UnicodeDecodeError, ValueError) as err:
            return self._send(400, {"error": "invalid_request", "error_description": f"unreadable form: {err}"},
                              nocache)  # fmt: skip
        try:
            body = self.app.token_response(form)
        except OAuthError as err:
            return self._send(400, {"error": err.code, "error_description": err.description}, nocache)
        return self._send(200, body, nocache)

    def _fhir(self) -> None:
        rel = self.path[len("/fhir/") :]
        body = None
        if self.command in ("POST", "PUT"):
            try:
                body = json.loads(self._read_body() or b"null")
            except ValueError as err:
                return self._send(400, outcome("error", "invalid", f"the body is not JSON: {err}"),
                                  ctype="application/fhir+json")  # fmt: skip
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, rheaders, rbody = self.app.fhir_response(self.command, rel, headers, body)
        return self._send(status, rbody, rheaders, ctype="application/fhir+json")

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _route


class _HTTPServer(ThreadedServerMixin, http.server.ThreadingHTTPServer):
    app: SmartServer
