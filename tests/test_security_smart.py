"""hitlab.security.smart: SMART Backend Services over real loopback HTTP, real keys and real PyJWT."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import jwt
import pytest

from hitlab.fhirstore import FhirStore
from hitlab.security import keys
from hitlab.security.smart import (
    ASSERTION_TYPE,
    OAuthError,
    SmartServer,
    TokenError,
    TokenRequest,
    client_assertion,
)

LAB = "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"
CAT = "http://terminology.hl7.org/CodeSystem/observation-category"


def _obs(rid: str, category: str) -> dict:
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "category": [{"coding": [{"system": CAT, "code": category}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]},
        "subject": {"reference": "Patient/p1"},
    }


BUNDLE = {
    "resourceType": "Bundle",
    "type": "transaction",
    "entry": [
        {"resource": {"resourceType": "Patient", "id": "p1", "gender": "female"}},
        {"resource": _obs("lab1", "laboratory")},
        {"resource": _obs("lab2", "laboratory")},
        {"resource": _obs("vit1", "vital-signs")},
        {"resource": {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"}}},
    ],
}


@pytest.fixture(scope="module")
def rsa_key():
    return keys.generate_rsa_key()


@pytest.fixture(scope="module")
def ec_key():
    return keys.generate_ec_key()


@pytest.fixture(scope="module")
def server(rsa_key, ec_key):
    srv = SmartServer(bundles=[BUNDLE])
    with srv:
        jwks = keys.jwk_set(keys.public_jwk(rsa_key, alg="RS384"), keys.public_jwk(ec_key, alg="ES384"))
        srv.register_client("lab-client", jwks, "system/*.rs system/Observation.cruds")
        srv.register_client("narrow", keys.jwk_set(keys.public_jwk(rsa_key)), "system/Patient.rs")
        yield srv


def _post(url: str, form: dict | bytes, ctype: str = "application/x-www-form-urlencoded"):
    data = form if isinstance(form, bytes) else urllib.parse.urlencode(form).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": ctype})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, dict(r.headers), json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read() or b"null")


def _get(url: str, token: str | None = None, auth: str | None = None):
    headers = {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if auth is not None:
        headers["Authorization"] = auth
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, dict(r.headers), json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read() or b"null")


def _token_form(assertion: str, scope: str = "system/Observation.rs") -> dict:
    return {
        "grant_type": "client_credentials",
        "scope": scope,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
    }


def _token(server, key, scope="system/Observation.rs", client="lab-client", **kw) -> dict:
    status, _, body = _post(
        server.token_url, _token_form(client_assertion(client, server.token_url, key, **kw), scope)
    )
    assert status == 200, body
    return body


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _error(server, form) -> tuple[int, str, str]:
    status, headers, body = _post(server.token_url, form)
    assert headers["Content-Type"] == "application/json"
    assert headers["Cache-Control"] == "no-store"
    return status, body["error"], body["error_description"]


# -- discovery and keys ---------------------------------------------------------------------------------------


def test_smart_configuration(server):
    for url in (server.smart_configuration_url, server.base_url + "/.well-known/smart-configuration"):
        status, headers, body = _get(url)
        assert (status, headers["Content-Type"]) == (200, "application/json")
        assert body["token_endpoint"] == server.token_url
        assert body["grant_types_supported"] == ["client_credentials"]
        assert body["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
        assert body["token_endpoint_auth_signing_alg_values_supported"] == ["RS384", "ES384"]
        assert "system/*.rs" in body["scopes_supported"]
        assert "client-confidential-asymmetric" in body["capabilities"]
        assert body["jwks_uri"] == server.jwks_url


def test_jwks_endpoint_holds_the_access_token_key(server, rsa_key):
    status, _, jwks = _get(server.jwks_url)
    assert status == 200
    [jwk] = jwks["keys"]
    assert (jwk["kty"], jwk["alg"], jwk["use"]) == ("RSA", "RS384", "sig")
    assert "d" not in jwk
    token = _token(server, rsa_key)["access_token"]
    assert jwt.get_unverified_header(token)["kid"] == jwk["kid"]
    claims = jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=["RS384"], audience=server.fhir_base)
    assert claims["iss"] == server.issuer


def test_public_jwk_and_thumbprint(rsa_key):
    jwk = keys.public_jwk(rsa_key, alg="RS384")
    assert set(jwk) == {"kty", "n", "e", "kid", "use", "alg"}
    assert jwk["kid"] == keys.thumbprint(jwk) == keys.public_jwk(rsa_key)["kid"]
    with pytest.raises(ValueError, match="unique kid"):
        keys.jwk_set(jwk, jwk)


def test_register_client_rejects_bad_key_sets(server, rsa_key):
    with pytest.raises(ValueError, match="JWK Set"):
        server.register_client("x", {"kty": "RSA"}, "system/*.rs")
    with pytest.raises(ValueError, match="needs kty and kid"):
        server.register_client("x", {"keys": [{"kty": "RSA"}]}, "system/*.rs")
    private = jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key, as_dict=True) | {"kid": "k"}
    with pytest.raises(ValueError, match="holds a private key"):
        server.register_client("x", {"keys": [private]}, "system/*.rs")


# -- the token endpoint -------------------------------------------------------------------------------------


def test_token_with_rs384(server, rsa_key):
    status, headers, body = _post(
        server.token_url, _token_form(client_assertion("lab-client", server.token_url, rsa_key))
    )
    assert status == 200
    assert (headers["Cache-Control"], headers["Pragma"]) == ("no-store", "no-cache")
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert (body["token_type"], body["expires_in"], body["scope"]) == ("bearer", 300, "system/Observation.rs")
    claims = server.validate_access_token(body["access_token"])
    assert claims["sub"] == claims["client_id"] == "lab-client"
    assert claims["aud"] == server.fhir_base
    assert claims["exp"] - claims["iat"] == 300
    assert claims["nbf"] == claims["iat"]
    assert jwt.get_unverified_header(body["access_token"])["typ"] == "at+jwt"


def test_token_with_es384(server, ec_key):
    body = _token(server, ec_key, alg="ES384")
    assert body["scope"] == "system/Observation.rs"


def test_only_preauthorized_system_scopes_are_granted(server, rsa_key):
    body = _token(server, rsa_key, "system/Patient.read system/Condition.cud patient/Observation.rs launch")
    assert body["scope"] == "system/Patient.read"
    form = _token_form(client_assertion("narrow", server.token_url, rsa_key), "system/Observation.rs")
    status, error, text = _error(server, form)
    assert (status, error) == (400, "invalid_scope")
    assert text == (
        "none of the requested scopes (system/Observation.rs) is allowed for client narrow "
        "(pre-authorized: system/Patient.rs)"
    )


def test_malformed_scope(server, rsa_key):
    form = _token_form(client_assertion("lab-client", server.token_url, rsa_key), "system/Observation.dus")
    status, error, text = _error(server, form)
    assert (status, error) == (400, "invalid_scope")
    assert "permissions 'dus'" in text


@pytest.mark.parametrize(
    ("change", "error", "text"),
    [
        (
            {"grant_type": "authorization_code"},
            "unsupported_grant_type",
            "grant_type authorization_code is not",
        ),
        ({"grant_type": None}, "invalid_request", "grant_type is missing"),
        (
            {"client_assertion_type": "not_an_assertion_type"},
            "invalid_request",
            "client_assertion_type must be",
        ),
        (
            {"client_assertion_type": None, "client_assertion": None},
            "invalid_client",
            "no client authentication",
        ),
        ({"scope": None}, "invalid_request", "scope is missing"),
        (
            {"client_assertion": "abc.def"},
            "invalid_client",
            "not a JWT: expected three dot-separated parts, got 2",
        ),
        (
            {"client_assertion": "not-a-jwt"},
            "invalid_client",
            "not a JWT: expected three dot-separated parts",
        ),
        ({"client_assertion": "a.b.c"}, "invalid_client", "client_assertion cannot be decoded"),
    ],
)
def test_token_request_errors(server, rsa_key, change, error, text):
    form = _token_form(client_assertion("lab-client", server.token_url, rsa_key))
    for k, v in change.items():
        if v is None:
            form.pop(k)
        else:
            form[k] = v
    status, got, description = _error(server, form)
    assert (status, got) == (400, error)
    assert text in description


def test_repeated_parameter_and_wrong_content_type(server, rsa_key):
    raw = urllib.parse.urlencode(_token_form(client_assertion("lab-client", server.token_url, rsa_key)))
    status, _, body = _post(server.token_url, (raw + "&scope=system/Patient.rs").encode())
    assert (status, body["error"], body["error_description"]) == (
        400,
        "invalid_request",
        "parameter scope is repeated",
    )
    status, _, body = _post(server.token_url, b"{}", ctype="application/json")
    assert (status, body["error"]) == (400, "invalid_request")


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"aud": "http://127.0.0.1:1/token"}, "aud must be the token endpoint URL"),
        ({"lifetime": -10}, "has expired (exp is in the past)"),
        ({"lifetime": 600}, "exp is more than five minutes in the future"),
        ({"sub": "someone-else"}, "sub must equal iss"),
        ({"kid": "unknown-kid"}, "has 0 registered RSA keys with kid unknown-kid"),
    ],
)
def test_assertion_claims(server, rsa_key, kwargs, text):
    status, error, description = _error(
        server, _token_form(client_assertion("lab-client", server.token_url, rsa_key, **kwargs))
    )
    assert (status, error) == (400, "invalid_client")
    assert text in description


def test_unknown_client(server, rsa_key):
    status, error, text = _error(server, _token_form(client_assertion("nobody", server.token_url, rsa_key)))
    assert (status, error, text) == (
        400,
        "invalid_client",
        "unknown client nobody (iss of the client_assertion)",
    )


def test_missing_jti(server, rsa_key):
    now = int(time.time())
    claims = {"iss": "lab-client", "sub": "lab-client", "aud": server.token_url, "exp": now + 60}
    kid = keys.public_jwk(rsa_key)["kid"]
    assertion = jwt.encode(claims, rsa_key, algorithm="RS384", headers={"kid": kid})
    status, error, text = _error(server, _token_form(assertion))
    assert (status, error, text) == (400, "invalid_client", "client_assertion lacks the required claim jti")


def test_jti_replay(server, rsa_key):
    assertion = client_assertion("lab-client", server.token_url, rsa_key)
    assert _post(server.token_url, _token_form(assertion))[0] == 200
    status, error, text = _error(server, _token_form(assertion))
    assert (status, error) == (400, "invalid_client")
    assert text.endswith("was already used (a replay)")


def test_alg_none(server, rsa_key):
    now = int(time.time())
    claims = {"iss": "lab-client", "sub": "lab-client", "aud": server.token_url, "exp": now + 60, "jti": "n1"}
    header = {"alg": "none", "typ": "JWT", "kid": keys.public_jwk(rsa_key)["kid"]}
    unsigned = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}."
    status, error, text = _error(server, _token_form(unsigned))
    assert (status, error, text) == (
        400, "invalid_client", "client_assertion alg none is not accepted: sign it with RS384 or ES384"
    )  # fmt: skip


def test_hs256_key_confusion(server, rsa_key):
    """An HS256 assertion whose HMAC secret is the client's public key (which anyone can get)."""
    now = int(time.time())
    claims = {"iss": "lab-client", "sub": "lab-client", "aud": server.token_url, "exp": now + 60, "jti": "k1"}
    header = {"alg": "HS256", "typ": "JWT", "kid": keys.public_jwk(rsa_key)["kid"]}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    mac = hmac.new(keys.public_pem(rsa_key), signing_input.encode(), hashlib.sha256).digest()
    status, error, text = _error(server, _token_form(f"{signing_input}.{_b64(mac)}"))
    assert (status, error, text) == (
        400, "invalid_client", "client_assertion alg HS256 is not accepted: sign it with RS384 or ES384"
    )  # fmt: skip


def test_tampered_payload(server, rsa_key):
    header, payload, signature = client_assertion("lab-client", server.token_url, rsa_key).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["jti"] = "changed-" + claims["jti"]
    forged = f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"
    status, error, text = _error(server, _token_form(forged))
    assert (status, error, text) == (400, "invalid_client", "client_assertion signature verification failed")


def test_signed_by_another_key(server):
    other = keys.generate_ec_key()
    kid = keys.public_jwk(keys.generate_ec_key())["kid"]
    status, error, text = _error(
        server, _token_form(client_assertion("lab-client", server.token_url, other, alg="ES384", kid=kid))
    )
    assert (status, error) == (400, "invalid_client")
    assert "registered EC keys with kid" in text


def test_token_endpoint_errors_as_exceptions(server):
    with pytest.raises(OAuthError) as err:
        server.token_response({"grant_type": ["password"]})
    assert (err.value.code, err.value.description) == (
        "unsupported_grant_type", "grant_type password is not supported: use client_credentials"
    )  # fmt: skip


# -- the FHIR API ---------------------------------------------------------------------------------------------


def test_fhir_read_and_search_with_a_token(server, rsa_key):
    token = _token(server, rsa_key, "system/Observation.rs system/Patient.rs")["access_token"]
    status, headers, body = _get(server.fhir_base + "/Observation/lab1", token)
    assert (status, headers["Content-Type"], body["id"], headers["ETag"]) == (
        200, "application/fhir+json", "lab1", 'W/"1"'
    )  # fmt: skip
    status, _, bundle = _get(server.fhir_base + "/Observation?subject=Patient/p1", token)
    assert (status, bundle["total"]) == (200, 3)
    assert bundle["entry"][0]["fullUrl"] == server.fhir_base + "/Observation/lab1"
    status, _, body = _get(server.fhir_base + "/Observation/nope", token)
    assert (status, body["issue"][0]["code"]) == (404, "not-found")


def test_v1_wildcard_scope(server, rsa_key):
    token = _token(server, rsa_key, "system/*.read")["access_token"]
    assert _get(server.fhir_base + "/Condition/c1", token)[0] == 200
    assert _get(server.fhir_base + "/Patient?gender=female", token)[2]["total"] == 1


def test_missing_token(server):
    status, headers, body = _get(server.fhir_base + "/Patient/p1")
    assert status == 401
    assert headers["WWW-Authenticate"] == 'Bearer realm="hitlab"'
    assert body["resourceType"] == "OperationOutcome"
    status, headers, _ = _get(server.fhir_base + "/Patient/p1", auth="Basic dXNlcjpwYXNz")
    assert (status, headers["WWW-Authenticate"]) == (401, 'Bearer realm="hitlab"')


@pytest.mark.parametrize(
    ("make", "text"),
    [
        (lambda s: "not-a-jwt", "not a JWT: expected three dot-separated parts"),
        (lambda s: s.issue_access_token("system/*.rs", lifetime=-60), "the access token has expired"),
        (lambda s: s.issue_access_token("system/*.rs", aud="http://elsewhere/fhir"), "aud is not this FHIR"),
        (lambda s: s.issue_access_token("system/*.rs", iss="http://elsewhere"), "was not issued by"),
        (lambda s: s.issue_access_token("system/Patient.dus"), "scope is malformed"),
    ],
)
def test_invalid_tokens(server, make, text):
    status, headers, body = _get(server.fhir_base + "/Patient/p1", make(server))
    assert status == 401
    challenge = headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="hitlab", error="invalid_token", error_description="')
    assert text in challenge
    assert text in body["issue"][0]["diagnostics"]


def test_token_signed_by_another_server_or_tampered(server):
    with SmartServer(store=FhirStore()) as other:
        foreign = other.issue_access_token("system/*.rs", iss=server.issuer, aud=server.fhir_base)
    status, headers, _ = _get(server.fhir_base + "/Patient/p1", foreign)
    assert status == 401
    assert "signature does not verify" in headers["WWW-Authenticate"]
    header, payload, sig = server.issue_access_token("system/Patient.rs").split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["scope"] = "system/*.cruds"
    status, headers, _ = _get(
        server.fhir_base + "/Patient/p1", f"{header}.{_b64(json.dumps(claims).encode())}.{sig}"
    )
    assert (status, "signature does not verify" in headers["WWW-Authenticate"]) == (401, True)


def test_insufficient_scope(server, rsa_key):
    token = _token(server, rsa_key, "system/Patient.rs")["access_token"]
    status, headers, body = _get(server.fhir_base + "/Observation/lab1", token)
    assert status == 403
    assert headers["WWW-Authenticate"] == (
        'Bearer realm="hitlab", error="insufficient_scope", error_description="no granted scope allows read '
        'on Observation in the system context (needs \'r\')", scope="system/Observation.r"'
    )
    assert body == {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error",
                "code": "forbidden",
                "diagnostics": "no granted scope allows read on Observation in the system context (needs 'r')",
            }
        ],
    }


def test_patient_scopes_do_not_count_on_a_backend_services_server(server):
    token = server.issue_access_token("patient/*.rs user/*.rs")
    assert _get(server.fhir_base + "/Patient/p1", token)[0] == 403


def test_granular_scope_filters_searches_and_refuses_reads(server, rsa_key):
    token = _token(server, rsa_key, f"system/Observation.rs?category={LAB}")["access_token"]
    status, _, bundle = _get(server.fhir_base + "/Observation", token)
    assert (status, bundle["total"]) == (200, 2)
    assert [e["resource"]["id"] for e in bundle["entry"]] == ["lab1", "lab2"]
    query = urllib.parse.urlencode({"category": LAB})
    assert _get(server.fhir_base + "/Observation?" + query, token)[2]["total"] == 2
    assert _get(server.fhir_base + "/Observation/lab1", token)[0] == 200
    status, _, body = _get(server.fhir_base + "/Observation/vit1", token)
    assert status == 403
    assert body["issue"][0]["diagnostics"] == (
        f"Observation/vit1 is outside the granted scope's query (category={LAB})"
    )


def test_includes_need_their_own_scope(server, rsa_key):
    obs_only = _token(server, rsa_key, "system/Observation.rs")["access_token"]
    url = server.fhir_base + "/Observation?_id=lab1&_include=Observation:subject"
    bundle = _get(url, obs_only)[2]
    assert [e["search"]["mode"] for e in bundle["entry"]] == ["match"]
    both = _token(server, rsa_key, "system/Observation.rs system/Patient.rs")["access_token"]
    assert [e["search"]["mode"] for e in _get(url, both)[2]["entry"]] == ["match", "include"]


def test_write_needs_write_scopes(server, rsa_key):
    reader = _token(server, rsa_key, "system/Observation.rs")["access_token"]
    writer = _token(server, rsa_key, "system/Observation.c")["access_token"]
    body = json.dumps(_obs("new", "laboratory") | {"id": None}).encode()

    def post(token):
        req = urllib.request.Request(
            server.fhir_base + "/Observation",
            data=body,
            method="POST",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    assert (post(reader), post(writer)) == (403, 201)


def test_validate_access_token_directly(server):
    with pytest.raises(TokenError, match="not a JWT: expected three dot-separated parts"):
        server.validate_access_token("abc")
    assert server.validate_access_token(server.issue_access_token("system/*.rs"))["scope"] == "system/*.rs"


# -- lifecycle ------------------------------------------------------------------------------------------------


def test_start_stop_leaves_nothing_behind():
    before = {t.ident for t in threading.enumerate()}
    srv = SmartServer(store=FhirStore()).start()
    port = srv.port
    assert srv.base_url == f"http://127.0.0.1:{port}"
    assert _get(srv.smart_configuration_url)[0] == 200
    with pytest.raises(RuntimeError, match="already running"):
        srv.start()
    srv.stop()
    srv.stop()  # idempotent
    assert {t.ident for t in threading.enumerate()} <= before
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    with pytest.raises(RuntimeError, match="not running"):
        srv.port  # noqa: B018
    srv.start()  # restartable, on a new free port
    srv.stop()


def test_binds_loopback_only(server):
    assert server.host == "127.0.0.1"
    assert server._server.server_address[0] == "127.0.0.1"


def test_requests_are_logged(server):
    _get(server.fhir_base + "/Patient/p1")
    assert server.requests[-1] == ("GET", "/fhir/Patient/p1", 401)


def test_smart_server_over_tls(rsa_key):
    from hitlab.security import tls

    with tls.make_pki() as pki, SmartServer(bundles=[BUNDLE], tls=(pki.server_cert, pki.server_key)) as srv:
        assert srv.token_url.startswith("https://127.0.0.1:")
        srv.register_client("tls-client", keys.jwk_set(keys.public_jwk(rsa_key)), "system/*.rs")
        ctx = tls.client_context(pki.ca_cert)
        form = _token_form(client_assertion("tls-client", srv.token_url, rsa_key), "system/Patient.rs")
        req = urllib.request.Request(srv.token_url, data=urllib.parse.urlencode(form).encode())
        with urllib.request.urlopen(req, context=ctx, timeout=5) as r:
            token = json.load(r)["access_token"]
        req = urllib.request.Request(
            srv.fhir_base + "/Patient/p1", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(req, context=ctx, timeout=5) as r:
            assert json.load(r)["id"] == "p1"


def test_token_requests_are_recorded_granted_or_refused(server, rsa_key):
    before = len(server.token_requests)
    _token(server, rsa_key, "system/Patient.rs launch", client="narrow")
    form = _token_form(client_assertion("narrow", server.token_url, rsa_key), "system/Observation.rs")
    assert _error(server, form)[:2] == (400, "invalid_scope")
    _post(server.token_url, _token_form("not-a-jwt"))
    assert server.token_requests[before:] == [
        TokenRequest("narrow", "system/Patient.rs launch", "system/Patient.rs", None),
        TokenRequest("narrow", "system/Observation.rs", None,
                     "invalid_scope: none of the requested scopes (system/Observation.rs) is allowed for client "
                     "narrow (pre-authorized: system/Patient.rs)"),
        TokenRequest(None, "system/Observation.rs", None,
                     "invalid_client: client_assertion is not a JWT: expected three dot-separated parts, got 1"),
    ]  # fmt: skip


def test_a_restricted_patient_is_refused_whatever_the_token(rsa_key):
    with SmartServer(bundles=[BUNDLE]) as srv:
        srv.register_client("c", keys.jwk_set(keys.public_jwk(rsa_key)), "system/*.rs")
        token = _token(srv, rsa_key, "system/*.rs", client="c")["access_token"]
        assert _get(srv.fhir_base + "/Patient/p1", token)[0] == 200
        srv.restrict("p1", "the patient restricted access to their record")
        for path in ("/Patient/p1", "/Observation?subject=Patient/p1", "/Observation?subject=Patient%2Fp1"):
            status, headers, body = _get(srv.fhir_base + path, token)
            assert (status, body["issue"][0]["code"], body["issue"][0]["diagnostics"]) == (
                403, "forbidden", "the patient restricted access to their record"
            ), path  # fmt: skip
            assert "WWW-Authenticate" not in headers  # the token is fine: no OAuth error to report
        assert _get(srv.fhir_base + "/Patient/p1")[0] == 401  # no token: 401 comes first
