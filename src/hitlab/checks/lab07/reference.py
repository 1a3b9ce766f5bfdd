"""Reference implementations of lab 07's graded items, written independently of the solutions: masking in
pandas rather than SQL, JWT checks with ``cryptography`` rather than PyJWT, argon2 through its low-level API
and a parser of the PHC string. An exam release leaves this module out (with ``answers.py``); the questions
import it only when a check computes its expected values.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from datetime import UTC, datetime
from typing import Any

import jwt
import pandas as pd

from hitlab.checks.lab07.materials import ALGORITHMS, ARGON2_POLICY, ROLES, sud_codes

# -- Q1 role-based views with minimum-necessary masking -----------------------------------------------------


def _py(value: Any) -> Any:
    """A pandas cell as DuckDB's ``fetchall`` gives it: None for missing, datetime for timestamps."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def role_rows(patients: pd.DataFrame, encounters: pd.DataFrame) -> dict[str, list[tuple]]:
    """Each role's rows: one per encounter whose patient is in ``patients`` (an inner join)."""
    both = encounters.merge(
        patients, left_on="PATIENT", right_on="Id", how="inner", suffixes=("", "_patient")
    )
    out: dict[str, list[tuple]] = {role: [] for role in ROLES}
    for e in both.itertuples(index=False):
        first, last = _py(e.FIRST), _py(e.LAST)
        name = None if first is None or last is None else f"{first} {last}"
        birth = _py(e.BIRTHDATE)
        birth_date = birth.date() if isinstance(birth, datetime) else birth
        start = _py(e.START)
        ssn, zip_ = _py(e.SSN), _py(e.ZIP)
        out["clinician"].append(
            (e.Id, e.PATIENT, name, birth_date, start, _py(e.DESCRIPTION), _py(e.REASONDESCRIPTION))
        )
        out["billing"].append(
            (e.Id, e.PATIENT, name, start, _py(e.CODE), _py(e.REASONCODE), _py(e.TOTAL_CLAIM_COST),
             None if ssn is None else "XXX-XX-" + ssn[-4:])
        )  # fmt: skip
        out["researcher"].append(
            (None if birth_date is None else birth_date.year, _py(e.GENDER), None if zip_ is None else zip_[:3],
             None if start is None else start.date(), _py(e.ENCOUNTERCLASS), _py(e.REASONCODE))
        )  # fmt: skip
    return out


# -- Q2 break the glass -------------------------------------------------------------------------------------


def open_record(
    user: dict, patient: str, care_team: set, audit: list, when: datetime, reason: str | None = None
) -> bool:
    if not isinstance(user, dict) or user.get("role") not in ROLES or not user.get("id"):
        raise ValueError(f"a user is a dict with an id and a role of {', '.join(ROLES)}")
    if not isinstance(when, datetime) or when.utcoffset() is None:
        raise ValueError("`when` must be a datetime with a time zone: audit times are unambiguous")
    emergency = isinstance(reason, str) and reason.strip() != ""
    related = (user["id"], patient) in care_team
    clinician = user["role"] == "clinician"
    granted = clinician and (related or emergency)
    purpose = "TREAT" if (related and clinician) or not emergency else "ETREAT"
    audit.append({
        "TIMESTAMP": when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "USER": user["id"],
        "PATIENT": patient,
        "RESOURCE_TYPE": "Patient",
        "ACTION": "R",
        "PURPOSE": purpose,
        "OUTCOME": "0" if granted else "4",
        "REASON": reason.strip() if purpose == "ETREAT" else None,
    })  # fmt: skip
    return granted


# -- Q6 SMART scopes: the infrastructure's parser and decision --------------------------------------------------


def authorize(
    granted: str, context: str, resource_type: str, interaction: str, params: dict | None = None
) -> str:
    from hitlab.security import scopes

    decision = scopes.decide(granted, resource_type, interaction, params=params or {}, context=context)
    if not decision.allowed:
        return "deny"
    return "filter" if decision.filters else "allow"


# -- Q8 JWT access tokens, checked with cryptography directly (not PyJWT) -------------------------------------


class TokenRejected(jwt.InvalidTokenError):
    """The reference's refusal of an invalid token (PyJWT's class, so the checks expect the same family)."""


def _b64(part: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError) as err:
        raise TokenRejected(f"bad base64url: {err}") from None


def validate_token(token: str, jwks: dict, issuer: str, audience: str, required_scope: str) -> dict:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    if not isinstance(token, str) or token.count(".") != 2:
        raise TokenRejected("not a compact JWS")
    head, body, sig = token.split(".")
    try:
        header, payload = json.loads(_b64(head)), json.loads(_b64(body))
    except ValueError:
        raise TokenRejected("header or payload is not JSON") from None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise TokenRejected("header and payload must be JSON objects")
    if header.get("alg") not in ALGORITHMS or header.get("alg") != "RS384":
        raise TokenRejected(f"algorithm {header.get('alg')!r} not accepted")
    jwk = next((k for k in jwks.get("keys", []) if k.get("kid") == header.get("kid")), None)
    if jwk is None or jwk.get("kty") != "RSA":
        raise TokenRejected("no RSA key with that kid")
    n = int.from_bytes(_b64(jwk["n"]), "big")
    e = int.from_bytes(_b64(jwk["e"]), "big")
    try:
        rsa.RSAPublicNumbers(e, n).public_key().verify(
            _b64(sig), f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA384()
        )
    except InvalidSignature:
        raise TokenRejected("bad signature") from None
    now = time.time()
    if not isinstance(payload.get("exp"), int | float) or payload["exp"] <= now:
        raise TokenRejected("expired or no exp")
    if "nbf" in payload and payload["nbf"] > now:
        raise TokenRejected("not yet valid")
    if payload.get("iss") != issuer:
        raise TokenRejected("wrong issuer")
    aud = payload.get("aud")
    if audience not in (aud if isinstance(aud, list) else [aud]):
        raise TokenRejected("wrong audience")
    if required_scope not in str(payload.get("scope", "")).split(" "):
        raise PermissionError(f"the token does not grant {required_scope}")
    return payload


# -- Q11 password storage ----------------------------------------------------------------------------------------


def _phc(stored: str) -> dict:
    """The parts of an argon2 PHC string ``$argon2id$v=19$m=..,t=..,p=..$salt$hash``."""
    parts = stored.split("$") if isinstance(stored, str) else []
    if len(parts) != 6 or parts[0] != "" or parts[1] not in ("argon2id", "argon2i", "argon2d"):
        raise ValueError("not an argon2 hash")
    params = dict(item.split("=", 1) for item in parts[3].split(",") if "=" in item)
    return {"type": parts[1], "version": parts[2], **{k: int(v) for k, v in params.items()}}


def verify_password(stored: str, password: str) -> tuple[bool, str | None]:
    from argon2 import PasswordHasher, Type
    from argon2.exceptions import VerificationError
    from argon2.low_level import verify_secret

    info = _phc(stored)
    kind = {"argon2id": Type.ID, "argon2i": Type.I, "argon2d": Type.D}[info["type"]]
    try:
        verify_secret(stored.encode(), password.encode("utf-8"), kind)
    except VerificationError:
        return False, None
    current = (info["type"] == "argon2id" and info["version"] == "v=19" and info.get("m") == ARGON2_POLICY["memory_cost"]
               and info.get("t") == ARGON2_POLICY["time_cost"] and info.get("p") == ARGON2_POLICY["parallelism"])  # fmt: skip
    return True, None if current else PasswordHasher(**ARGON2_POLICY, type=Type.ID).hash(password)


def policy_hash_ok(new_hash: str, password: str) -> bool:
    """Whether ``new_hash`` is an argon2id hash with the policy's parameters that verifies ``password``."""
    try:
        ok, again = verify_password(new_hash, password)
    except ValueError:
        return False
    return ok and again is None


# -- Q12 consent ---------------------------------------------------------------------------------------------------


def apply_consent(export: list[dict], consents: dict[str, str]) -> list[dict]:
    sud = sud_codes()
    return [
        row
        for row in export
        if consents.get(row["PATIENT"]) == "permit" or not ({row.get("CODE"), row.get("REASONCODE")} & sud)
    ]


# -- Q3 audit: accesses without a treatment relationship ------------------------------------------------------

BEFORE, AFTER = pd.Timedelta(days=7), pd.Timedelta(days=30)


def no_relationship(frames: dict) -> list[tuple]:
    """Accesses by a clinician, not break-the-glass, with no encounter of that patient held by the user's
    provider whose [START - 7 days, STOP + 30 days] contains the access time (bounds included)."""
    staff, log, enc = frames["staff"], frames["access_log"], frames["encounters"]
    provider_of = {r.Id: r.PROVIDER for r in staff.itertuples(index=False) if r.ROLE == "clinician"}
    windows: dict[tuple, list[tuple]] = {}
    for e in enc.itertuples(index=False):
        if pd.notna(e.START) and pd.notna(e.STOP):
            windows.setdefault((e.PATIENT, e.PROVIDER), []).append((e.START - BEFORE, e.STOP + AFTER))
    out = []
    for a in log.itertuples(index=False):
        if a.USER not in provider_of or a.PURPOSE == "ETREAT":
            continue
        spans = windows.get((a.PATIENT, provider_of[a.USER]), [])
        if not any(lo <= a.TIMESTAMP <= hi for lo, hi in spans):
            out.append((a.Id, a.USER, a.PATIENT))
    return out


# -- Q4 audit: after-hours bulk reads --------------------------------------------------------------------------

LOCAL_ZONE = "America/New_York"
NIGHT_STARTS, NIGHT_ENDS, BULK_PATIENTS = 22, 6, 20


def after_hours_bulk(frames: dict) -> list[tuple]:
    """(Id, USER, NIGHT) of every after-hours access of a user in a night in which that user's after-hours
    accesses reach ``BULK_PATIENTS`` distinct patients. The UTC timestamps are made aware in pandas and
    converted to New York wall-clock time; the night is the wall-clock date six hours earlier."""
    log = frames["access_log"]
    if log.empty:
        return []
    wall = (
        pd.to_datetime(log["TIMESTAMP"]).dt.tz_localize("UTC").dt.tz_convert(LOCAL_ZONE).dt.tz_localize(None)
    )
    late = (wall.dt.hour >= NIGHT_STARTS) | (wall.dt.hour < NIGHT_ENDS)
    rows = log.loc[late, ["Id", "USER", "PATIENT"]].assign(NIGHT=(wall[late] - pd.Timedelta(hours=6)).dt.date)
    patients = rows.groupby(["USER", "NIGHT"])["PATIENT"].nunique()
    bulk = set(patients[patients >= BULK_PATIENTS].index)
    return [(r.Id, r.USER, r.NIGHT) for r in rows.itertuples(index=False) if (r.USER, r.NIGHT) in bulk]


# -- Q5 audit: VIP and coworker records ----------------------------------------------------------------------

BILLING_DAYS = pd.Timedelta(days=90)


def _text(value: Any) -> str | None:
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value


def justified_ids(frames: dict) -> set[str]:
    """The accesses some relationship justifies (data/README.md, "What counts as inappropriate"): break the
    glass; a clinician's treatment relationship; billing staff paying or operating for an encounter at their
    organization that started in the 90 days before; a researcher doing research."""
    staff, log, enc = frames["staff"], frames["access_log"], frames["encounters"]
    users = {r.Id: r for r in staff.itertuples(index=False)}
    treated: dict[tuple, list[tuple]] = {}
    started: dict[tuple, list] = {}
    for e in enc.itertuples(index=False):
        if pd.notna(e.START) and pd.notna(e.STOP):
            treated.setdefault((e.PATIENT, e.PROVIDER), []).append((e.START - BEFORE, e.STOP + AFTER))
        if pd.notna(e.START):
            started.setdefault((e.PATIENT, e.ORGANIZATION), []).append(e.START)
    out = set()
    for a in log.itertuples(index=False):
        u = users.get(a.USER)
        if u is None:
            continue
        ok = a.PURPOSE == "ETREAT" or (u.ROLE == "researcher" and a.PURPOSE == "HRESCH")
        if not ok and u.ROLE == "clinician":
            ok = any(lo <= a.TIMESTAMP <= hi for lo, hi in treated.get((a.PATIENT, _text(u.PROVIDER)), []))
        if not ok and u.ROLE == "billing" and a.PURPOSE in ("HPAYMT", "HOPERAT"):
            ok = any(a.TIMESTAMP - BILLING_DAYS <= s <= a.TIMESTAMP
                     for s in started.get((a.PATIENT, _text(u.ORGANIZATION)), []))  # fmt: skip
        if ok:
            out.add(a.Id)
    return out


def vip_and_coworker(frames: dict) -> list[tuple]:
    """(Id, USER, PATIENT, CATEGORY) of every unjustified access to a VIP (``vip``) or to the record of another
    staff member of the user's organization (``coworker``); an access in both categories gives two rows."""
    staff, log = frames["staff"], frames["access_log"]
    ok = justified_ids(frames)
    users = {r.Id: r for r in staff.itertuples(index=False)}
    vips = {p for p in frames["vip_patients"]["PATIENT"] if _text(p)}
    staff_of: dict[tuple, set[str]] = {}
    for s in staff.itertuples(index=False):
        if _text(s.PATIENT) and _text(s.ORGANIZATION):
            staff_of.setdefault((s.PATIENT, s.ORGANIZATION), set()).add(s.Id)
    out = []
    for a in log.itertuples(index=False):
        u = users.get(a.USER)
        if u is None or a.Id in ok:
            continue
        if a.PATIENT in vips:
            out.append((a.Id, a.USER, a.PATIENT, "vip"))
        if staff_of.get((a.PATIENT, _text(u.ORGANIZATION)), set()) - {a.USER}:
            out.append((a.Id, a.USER, a.PATIENT, "coworker"))
    return out


# -- Q9 SMART Backend Services -------------------------------------------------------------------------------

LAB_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"
LAB_SCOPE = f"system/Observation.rs?category={LAB_CATEGORY}"


def _http(method: str, url: str, *, form: dict | None = None, token: str | None = None) -> tuple[int, dict]:
    import urllib.error
    import urllib.parse
    import urllib.request

    data = urllib.parse.urlencode(form).encode() if form is not None else None
    headers = {"Accept": "application/json"}
    if form is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy
    try:
        with opener.open(
            urllib.request.Request(url, data=data, headers=headers, method=method), timeout=5
        ) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def fetch_lab_results(
    token_url: str, fhir_base: str, client_id: str, private_key_pem: str, kid: str, patient: str
) -> list[dict]:
    """The infrastructure's assertion (``hitlab.security.client_assertion``), the client-credentials grant for
    the lab scope only, one search; any refusal is a PermissionError."""
    import urllib.parse

    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from hitlab.security import ASSERTION_TYPE, client_assertion

    key = load_pem_private_key(private_key_pem.encode(), password=None)
    status, body = _http("POST", token_url, form={
        "grant_type": "client_credentials", "scope": LAB_SCOPE, "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": client_assertion(client_id, token_url, key, kid=kid),
    })  # fmt: skip
    if status != 200:
        raise PermissionError(f"token endpoint: {body.get('error')}: {body.get('error_description')}")
    query = urllib.parse.urlencode({"patient": patient, "category": LAB_CATEGORY})
    status, bundle = _http("GET", f"{fhir_base}/Observation?{query}", token=body["access_token"])
    if status in (401, 403):
        raise PermissionError(f"FHIR API: {status}")
    if status != 200:
        raise RuntimeError(f"FHIR API: {status}")
    return [e["resource"] for e in bundle.get("entry", []) if e.get("search", {}).get("mode") != "include"]


def lab_results_in(store: Any, patient: str) -> list[dict]:
    """The same results straight from a FhirStore, without HTTP or tokens: the patient's Observations with a
    laboratory category, in the store's order."""
    system, code = LAB_CATEGORY.split("|")
    return [
        o for o in store.resources("Observation")
        if o.get("subject", {}).get("reference") == f"Patient/{patient}"
        and any(c.get("system") == system and c.get("code") == code
                for cat in o.get("category", []) for c in cat.get("coding", []))
    ]  # fmt: skip


# -- Q10 TLS ------------------------------------------------------------------------------------------------------


def send_over_tls(port: int, message: str, cafile: str, server_hostname: str) -> str:
    from hitlab.security import tls_send_and_receive

    return tls_send_and_receive(port, message, cafile, server_hostname)


LEAST_PRIVILEGE = {"patient_app": "C", "bulk_export": "B"}
"""Q7: the narrowest scopes that still do each job."""
LEAST_PRIVILEGE_WHY_NOT = {
    "patient_app": {
        "A": "`user/` scopes reach every record the signed-in user may see, and `cruds` writes and deletes: "
        "a patient's viewer needs neither.",
        "B": "`patient/*.read` opens every resource type of the patient (notes, medications, "
        "conditions...) where the app shows labs and vitals only; offline_access adds long-lived refresh "
        "tokens the app does not need.",
        "D": "`system/` scopes belong to backend services with no user; a patient-facing app would see "
        "every patient's data.",
    },
    "bulk_export": {
        "A": "`system/*.read` covers every resource type on the server, far more than the three the export "
        "needs.",
        "C": "Backend Services has no signed-in user: `user/` scopes (and refresh tokens) do not fit a "
        "nightly job that authenticates with its own key.",
        "D": "`patient/` scopes are bound to one patient chosen at launch; a population export is "
        "system-level.",
        "E": "An export only reads; `c`, `u` and `d` let the job change and delete records.",
    },
}
"""Q7: why each wrong option is wrong (left out of an exam release: the option a table leaves out is the answer)."""
