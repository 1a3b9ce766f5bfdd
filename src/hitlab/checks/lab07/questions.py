"""Lab 07's questions, as data: what each asks, its points, hints, how it is compared, and the edge cases a
right answer must also get right. The expected values come from ``reference.py`` and the worked answers from
``answers.py``, both imported only when needed, so that an exam release can leave them out.

| Q  | grade id                   | pts | asks for                                                            |
|----|----------------------------|-----|---------------------------------------------------------------------|
| 1  | lab07_rbac_views           | 3   | `role_sql`: one SQL query per role, minimum-necessary columns        |
| 2  | lab07_break_glass          | 3   | `open_record(...)`: emergency access that always writes an audit row |
| 3  | lab07_audit_no_relationship | 3  | `no_relationship_sql`: accesses without a treatment relationship     |
| 4  | lab07_audit_after_hours_bulk | 3 | `after_hours_sql`: after-hours reads of 20+ patients in a night      |
| 5  | lab07_audit_vip_coworker   | 3   | `snooping_sql`: unjustified reads of VIP and coworker records        |
| 6  | lab07_authorize_scopes     | 3   | `authorize(...)`: SMART v1/v2 scopes → allow / filter / deny          |
| 7  | lab07_least_privilege      | 2   | `least_privilege`: scopes for a patient app and for a bulk export    |
| 8  | lab07_validate_token       | 3   | `validate_token(...)`: a JWT access token checked with PyJWT         |
| 9  | lab07_smart_backend        | 3   | `fetch_lab_results(...)`: SMART Backend Services on a loopback server |
| 10 | lab07_tls_client           | 2   | `send_over_tls(...)`: MLLP over TLS, the server verified             |
| 11 | lab07_password_storage     | 2   | `verify_password(...)`: argon2id verify and rehash                   |
| 12 | lab07_consent_filter       | 2   | `apply_consent(...)`: 42 CFR Part 2 records leave only with consent  |

Q13 (written, 3 points) is graded by hand; its rubric is in the notebook. The audit queries (Q3-Q5) and the
exchanges (Q9, Q10) are defined further down, after the made-up logs and the loopback servers they use; the
servers run only while a check runs.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import random
import ssl
from datetime import datetime, timedelta
from functools import cache
from typing import ClassVar
from zoneinfo import ZoneInfo

import jwt

from hitlab.checks.choice import picks_question
from hitlab.checks.core import AnswerKey, Incorrect, reference_of
from hitlab.checks.function import Call, Case, _short, calls_question, function_question
from hitlab.checks.lab07 import materials as m
from hitlab.checks.lab07.kinds import role_sql_question
from hitlab.checks.live import LiveCall, live_question
from hitlab.checks.sql import Scenario, scenario_checks, sql_question, table

_answers = AnswerKey("hitlab.checks.lab07")  # left out of an exam release
_key, _keys = _answers.source, _answers.sources


def _ref():
    """The reference implementations (absent from an exam release: the grader's install has them)."""
    return reference_of("hitlab.checks.lab07")


# == the question table =======================================================================================

q1 = role_sql_question(
    grade_id="lab07_rbac_views",
    title="Q1 role-based views with minimum-necessary masking",
    points=3,
    variable="role_sql",
    columns=m.ROLE_COLUMNS,
    reference=lambda patients, encounters: _ref().role_rows(patients, encounters),
    scenarios=lambda: _rbac_scenarios(),
    hints=(
        "Each query joins `encounters` to `patients` (an inner join: an encounter whose patient is unknown "
        "shows nowhere) and returns one row per encounter, with the role's columns named and ordered as asked.",
        "Masking happens in SQL: `'XXX-XX-' || right(p.SSN, 4)` keeps the last four digits (and stays NULL "
        "when the SSN is NULL); `left(p.ZIP, 3)` keeps ZIP3 as text; `year(p.BIRTHDATE)`; `cast(e.START as date)`.",
        "A ZIP code is text: `02134` must give `021`; arithmetic on it drops the leading zero.",
    ),
    solution_code=_key("RBAC"),
    wrong=_keys("RBAC_WRONG_SSN", "RBAC_WRONG_ZIP"),
    alternatives=_keys("RBAC_ALTERNATIVE"),
)
# Its form, all an exam release checks: each role's query runs on the data and returns that role's columns.
q1 = dataclasses.replace(q1, form=(q1.prepare,))

q2 = calls_question(
    grade_id="lab07_break_glass",
    title="Q2 break the glass, with an audit record",
    points=3,
    name="open_record",
    parameters=("user", "patient", "care_team", "audit", "when", "reason"),
    reference=lambda *args: _ref().open_record(*args),
    calls=lambda: _break_glass_calls(),
    compare=lambda *a: _compare_break_glass(*a),
    refusals={ValueError: ValueError},
    hints=(
        "Decide first (treatment relationship? clinician? a non-blank reason?), then append exactly one row "
        "to `audit`, whatever the decision: a refused attempt is the row an auditor most wants to see.",
        "A clinician on the care team reads with purpose TREAT; a clinician without a relationship but with a "
        "reason breaks the glass (ETREAT); nobody else gets in, reason or not.",
        "`when.astimezone(timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')` writes the time in UTC; a datetime "
        "without tzinfo cannot be placed in time and is refused.",
    ),
    solution_code=_key("BREAK_GLASS"),
    wrong=_keys("BREAK_GLASS_WRONG_ANYONE", "BREAK_GLASS_WRONG_SILENT"),
    alternatives=_keys("BREAK_GLASS_ALTERNATIVE"),
)

q3 = sql_question(
    grade_id="lab07_audit_no_relationship",
    title="Q3 audit: accesses without a treatment relationship",
    points=3,
    variable="no_relationship_sql",
    columns=("Id", "USER", "PATIENT"),
    reference=lambda: _ref().no_relationship(
        {name: table(name) for name in ("staff", "access_log", "encounters")}
    ),
    scenarios=(),  # set below: the made-up logs are built after the table
    on_scenario=None,
    hints=(
        "Start from `access_log` joined to `staff` (clinicians only) and keep the rows for which no encounter "
        "justifies the access: `not exists (select 1 from encounters e where ...)`.",
        "An encounter justifies it when it is the same patient, its `PROVIDER` is the user's `staff.PROVIDER`, "
        "and the access time lies between `START - interval 7 days` and `STOP + interval 30 days`, bounds "
        "included (`between`).",
        "Break-the-glass rows (`PURPOSE = 'ETREAT'`) are reviewed separately; failed attempts count. `USER` and "
        "`TIMESTAMP` are SQL keywords: quote them.",
    ),
    solution=_key("NO_RELATIONSHIP"),
    wrong=_keys("NO_RELATIONSHIP_WRONG_ANY_TIME", "NO_RELATIONSHIP_WRONG_STRICT"),
    alternatives=_keys("NO_RELATIONSHIP_EXCEPT", "NO_RELATIONSHIP_ANTI_JOIN"),
)

q6 = function_question(
    grade_id="lab07_authorize_scopes",
    title="Q6 SMART scopes: parse them and authorize a request",
    points=3,
    name="authorize",
    parameters=("granted", "context", "resource_type", "interaction", "params"),
    reference=lambda *args: _ref().authorize(*args),
    cases=lambda: _authorize_cases(),
    hints=(
        "Split on single spaces and parse each scope: `context/Type.permissions[?query]`. Translate v1 words "
        "first: `read` is `rs`, `write` is `cud`, `*` is `cruds`.",
        "v2 permissions are a subset of `cruds` written in that order (`rs`, not `sr`); a query needs v2 "
        "permissions. `openid`, `fhirUser`, `launch`, `launch/patient`, `offline_access` are valid but grant "
        "no data.",
        "A scope fits when its context equals the request's, its type is the request's or `*`, and its letters "
        "include the interaction's letter. A fitting scope with a query allows only matching resources "
        "(`filter`), unless the request's own parameters already include every `param=value` of it.",
    ),
    solution_code=_key("AUTHORIZE"),
    wrong=_keys("AUTHORIZE_WRONG_IGNORES_QUERY", "AUTHORIZE_WRONG_V1_READ"),
    alternatives=_keys("AUTHORIZE_ALTERNATIVE"),
)

q7 = picks_question(
    grade_id="lab07_least_privilege",
    title="Q7 least-privilege scopes",
    points=2,
    variable="least_privilege",
    situations={
        "patient_app": {
            "A": "user/*.cruds offline_access",
            "B": "patient/*.read launch/patient openid fhirUser offline_access",
            "C": "launch/patient openid fhirUser patient/Patient.r "
            "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory "
            "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs",
            "D": "system/Observation.rs system/Patient.r",
        },
        "bulk_export": {
            "A": "system/*.read",
            "B": "system/Patient.rs system/Encounter.rs system/Condition.rs",
            "C": "user/Patient.rs user/Encounter.rs user/Condition.rs offline_access",
            "D": "patient/*.rs launch/patient",
            "E": "system/Patient.cruds system/Encounter.cruds system/Condition.cruds",
        },
    },
    correct=lambda: _ref().LEAST_PRIVILEGE,
    why_not=lambda: _ref().LEAST_PRIVILEGE_WHY_NOT,  # the option each table leaves out is the answer
    hints=(
        "Least privilege: the fewest resource types, the fewest permissions, and the narrowest context "
        "(patient < user < system) that still do the job.",
        "A SMART v2 scope can be narrowed with a query (`?category=...`); Backend Services clients use "
        "`system/` scopes because no user is present.",
    ),
    solution_code=_key("LEAST_PRIVILEGE"),
    wrong=_keys("LEAST_PRIVILEGE_WRONG"),
    alternatives=_keys("LEAST_PRIVILEGE_ALTERNATIVE"),
)

q8 = calls_question(
    grade_id="lab07_validate_token",
    title="Q8 validate a JWT access token",
    points=3,
    name="validate_token",
    parameters=("token", "jwks", "issuer", "audience", "required_scope"),
    reference=lambda *args: _ref().validate_token(*args),
    calls=lambda: _token_calls(),
    compare=lambda *a: _compare_claims(*a),
    refusals={PermissionError: PermissionError, jwt.InvalidTokenError: jwt.InvalidTokenError},
    hints=(
        "`jwt.get_unverified_header(token)` gives the `kid` (and refuses what is not a JWT); pick that key from "
        "`jwt.PyJWKSet.from_dict(jwks)`; an unknown kid is an invalid token.",
        "`jwt.decode(token, key, algorithms=[...], audience=..., issuer=..., options={'require': [...]})`: pin "
        "the algorithms yourself (never take them from the token) and require `exp`, or a token without one "
        "never expires.",
        "The scope claim is a space-separated list: compare whole tokens. A missing scope is not an invalid "
        "token: raise PermissionError (HTTP 403, not 401).",
    ),
    solution_code=_key("VALIDATE"),
    wrong=_keys("VALIDATE_WRONG_NO_SIGNATURE", "VALIDATE_WRONG_SUBSTRING", "VALIDATE_WRONG_NO_EXP"),
    alternatives=_keys("VALIDATE_ALTERNATIVE"),
)

q11 = calls_question(
    grade_id="lab07_password_storage",
    title="Q11 password storage with argon2id",
    points=2,
    name="verify_password",
    parameters=("stored", "password"),
    reference=lambda *args: _ref().verify_password(*args),
    calls=lambda: _password_calls(),
    compare=lambda *a: _compare_passwords(*a),
    refusals={ValueError: ValueError},
    hints=(
        "`argon2.PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)` is the policy (argon2id is its "
        "default type). Its `verify` raises VerifyMismatchError for a wrong password.",
        "After a successful verify, `check_needs_rehash(stored)` says whether the stored hash was made with other "
        "parameters or another argon2 variant: then return a fresh `hash(password)` to store.",
        "A stored value that is no argon2 hash (a legacy SHA-256 hex) makes `verify` raise InvalidHashError, a "
        "ValueError: let it propagate.",
    ),
    solution_code=_key("PASSWORDS"),
    wrong=_keys("PASSWORDS_WRONG_SHA256", "PASSWORDS_WRONG_DEFAULTS"),
    alternatives=_keys("PASSWORDS_ALTERNATIVE"),
    call_limit=10.0,
)

q12 = calls_question(
    grade_id="lab07_consent_filter",
    title="Q12 consent-based filtering of an export (42 CFR Part 2)",
    points=2,
    name="apply_consent",
    parameters=("export", "consents"),
    reference=lambda *args: _ref().apply_consent(*args),
    calls=lambda: _consent_calls(),
    compare=lambda *a: _compare_export(*a),
    refusals={},
    hints=(
        "A row is in the SUD category when its `CODE` or its `REASONCODE` is in `lab07.sud_codes()`: an "
        "encounter whose reason is alcohol dependence reveals the diagnosis as surely as the condition row.",
        "Part 2 is opt-in: an SUD row is shared only when the patient's consent is `permit`; `deny` and no "
        "consent on file both withhold it. Every other row is shared, in the export's order.",
    ),
    solution_code=_key("CONSENT"),
    wrong=_keys("CONSENT_WRONG_OPT_OUT_ONLY", "CONSENT_WRONG_CODE_ONLY"),
    alternatives=_keys("CONSENT_ALTERNATIVE"),
)


# == Q1 made-up tables ========================================================================================

_PATIENT_COLUMNS = ("Id", "FIRST", "LAST", "BIRTHDATE", "GENDER", "SSN", "ZIP")
_ENCOUNTER_COLUMNS = ("Id", "PATIENT", "START", "ENCOUNTERCLASS", "CODE", "DESCRIPTION", "REASONCODE",
                      "REASONDESCRIPTION", "TOTAL_CLAIM_COST")  # fmt: skip


def _rbac_scenarios() -> list[tuple[str, dict]]:
    import pandas as pd

    patients = pd.DataFrame(
        [
            ("p1", "Ana", "Lima", "1950-03-04", "F", "999-12-3456", "02134"),
            ("p2", "Ben", "Ode", "1988-11-30", "M", None, None),
            ("p3", "Cy", "Park", "2001-01-01", "M", "999-55-0007", "01002-1234"),
            ("p4", "Dee", "Roe", "1999-07-07", "F", "999-00-1111", "60614"),
        ],
        columns=_PATIENT_COLUMNS,
    )
    encounters = pd.DataFrame(
        [
            ("e1", "p1", "2024-05-01 23:59:00", "ambulatory", "185349003", "Encounter for check up", None, None, 120.5),
            ("e2", "p1", "2024-05-02 00:10:00", "emergency", "50849002", "Emergency room admission", "29857009",
             "Chest pain (finding)", 980.0),
            ("e3", "p2", "2023-01-15 08:00:00", "wellness", "410620009", "Well child visit", None, None, 0.0),
            ("e4", "p3", "2022-06-30 12:00:00", "inpatient", "183452005", "Hospital admission", "22298006",
             "Myocardial infarction (disorder)", 15000.25),
            ("e5", "gone", "2024-01-01 00:00:00", "ambulatory", "185349003", "Encounter for check up", None, None, 50.0),
        ],
        columns=_ENCOUNTER_COLUMNS,
    )  # fmt: skip
    return [
        ("a ZIP with a leading zero, a ZIP+4, a patient without SSN or ZIP, a patient with no encounter and an "
         "encounter whose patient is unknown", {"patients": patients, "encounters": encounters}),
    ]  # fmt: skip


# == Q2 break the glass ========================================================================================

_CARE_TEAM = frozenset({("dr-adams", "pat-1"), ("dr-adams", "pat-2"), ("dr-baker", "pat-3")})
_EARLIER = {"TIMESTAMP": "2025-03-08T12:00:00Z", "USER": "dr-baker", "PATIENT": "pat-3", "RESOURCE_TYPE": "Patient",
            "ACTION": "R", "PURPOSE": "TREAT", "OUTCOME": "0", "REASON": None}  # fmt: skip


def _break_glass_calls() -> list[Call]:
    ny = ZoneInfo("America/New_York")
    at = datetime(2025, 3, 9, 6, 30, tzinfo=ny)  # the morning clocks went forward: 10:30 UTC
    adams = {"id": "dr-adams", "role": "clinician"}
    baker = {"id": "dr-baker", "role": "clinician"}
    billing = {"id": "bill-1", "role": "billing"}
    research = {"id": "res-1", "role": "researcher"}

    def call(label: str, user: dict, patient: str, when: datetime = at, reason: str | None = None) -> Call:
        return Call(label, lambda: (dict(user), patient, set(_CARE_TEAM), [dict(_EARLIER)], when, reason))

    return [
        call("a clinician opening a patient on their care team", adams, "pat-1"),
        call("a clinician on the care team who also gives a reason", adams, "pat-2", reason="follow-up"),
        call("a clinician opening a patient who is not theirs, without a reason", baker, "pat-1"),
        call("a clinician breaking the glass with a reason (spaces around it)", baker, "pat-2",
             reason="  unconscious in the ED, no relationship yet "),
        call("a clinician giving a blank reason", baker, "pat-2", reason="   "),
        call("a billing user giving an emergency reason", billing, "pat-1", reason="urgent"),
        call("a researcher opening a record", research, "pat-3"),
        call("a time given in Asia/Kolkata (+05:30)", adams, "pat-1",
             when=datetime(2025, 1, 1, 3, 15, tzinfo=ZoneInfo("Asia/Kolkata"))),
        call("a time without a time zone", adams, "pat-1", when=datetime(2025, 3, 9, 6, 30)),
        call("a user whose role is 'admin'", {"id": "root", "role": "admin"}, "pat-1"),
    ]  # fmt: skip


def _compare_break_glass(got, expected, args, ref_args, label: str, title: str) -> None:
    if not isinstance(got, bool):
        raise Incorrect(f"{title}: on {label}, return True or False (access granted or not), got {got!r}.")
    if got != expected:
        raise Incorrect(f"{title}: on {label}, access should {'' if expected else 'not '}be granted.")
    audit, ref_audit = args[3], ref_args[3]
    if audit[:1] != ref_audit[:1]:
        raise Incorrect(f"{title}: on {label}, the audit log's earlier rows changed: append, never rewrite.")
    if len(audit) != len(ref_audit):
        raise Incorrect(
            f"{title}: on {label}, the call should add exactly one audit row; it added {len(audit) - 1}."
        )
    row, ref_row = audit[-1], ref_audit[-1]
    if not isinstance(row, dict) or set(row) != set(ref_row):
        keys = sorted(row) if isinstance(row, dict) else type(row).__name__
        raise Incorrect(
            f"{title}: on {label}, the audit row should have the keys {sorted(ref_row)}; yours: {keys}."
        )
    for key in ref_row:
        if row[key] != ref_row[key]:
            raise Incorrect(
                f"{title}: on {label}, the audit row's {key} is {row[key]!r}, which is not right."
            )


# == Q6 scopes ==================================================================================================

LAB = "category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory"
VITALS = "category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs"


def _authorize_cases() -> list[Case]:
    lab_value = LAB.split("=", 1)[1]
    rows = [
        ("v1 read allows a read", "patient/Observation.read", "patient", "Observation", "read", None),
        ("v1 read allows a search", "patient/Observation.read", "patient", "Observation", "search", None),
        ("v1 read does not allow a create", "patient/Observation.read", "patient", "Observation", "create", None),
        ("v1 write allows an update", "system/Patient.write", "system", "Patient", "update", None),
        ("v1 write does not allow a read", "system/Patient.write", "system", "Patient", "read", None),
        ("v1 patient/*.* allows a delete", "patient/*.*", "patient", "Condition", "delete", None),
        ("a patient scope used in the user context", "patient/Observation.rs", "user", "Observation", "read", None),
        ("user/*.cruds allows a delete of any type", "user/*.cruds", "user", "Condition", "delete", None),
        ("patient/*.rs does not allow an update", "patient/*.rs", "patient", "Patient", "update", None),
        ("v2 .r allows a read but not a search (read)", "patient/Patient.r", "patient", "Patient", "read", None),
        ("v2 .r allows a read but not a search (search)", "patient/Patient.r", "patient", "Patient", "search", None),
        ("another resource type", "patient/Observation.rs", "patient", "Condition", "read", None),
        ("a granular scope and a search with no parameters", f"patient/Observation.rs?{LAB}", "patient",
         "Observation", "search", None),
        ("a granular scope and a search for that category", f"patient/Observation.rs?{LAB}", "patient",
         "Observation", "search", {"category": lab_value}),
        ("a granular scope and a search for another category", f"patient/Observation.rs?{LAB}", "patient",
         "Observation", "search", {"category": lab_value.replace("laboratory", "vital-signs")}),
        ("a granular scope and a read", f"patient/Observation.rs?{LAB}", "patient", "Observation", "read", None),
        ("a granular and an unrestricted scope together", f"patient/Observation.rs?{LAB} patient/Observation.rs",
         "patient", "Observation", "search", None),
        ("two granular scopes", f"patient/Observation.rs?{LAB} patient/Observation.rs?{VITALS}", "patient",
         "Observation", "search", None),
        ("identity and launch scopes only", "openid fhirUser launch/patient offline_access", "patient", "Patient",
         "read", None),
        ("no scopes at all", "", "patient", "Patient", "read", None),
        ("permissions out of order (sr)", "patient/Observation.sr", "patient", "Observation", "read", None),
        ("a repeated permission (rrs)", "patient/Observation.rrs", "patient", "Observation", "read", None),
        ("an unknown permission letter (rx)", "patient/Observation.rx", "patient", "Observation", "read", None),
        ("a lowercase resource type", "patient/observation.rs", "patient", "Observation", "read", None),
        ("an unknown context (Patient/)", "Patient/Observation.read", "patient", "Observation", "read", None),
        ("a scope with no permissions", "patient/Observation", "patient", "Observation", "read", None),
        ("a v1 permission with a query", f"patient/Observation.read?{LAB}", "patient", "Observation", "read", None),
        ("a query item without a value", "patient/Observation.rs?category", "patient", "Observation", "read", None),
        ("two spaces between scopes", "patient/Patient.r  patient/Observation.rs", "patient", "Patient", "read",
         None),
        ("a leading space", " patient/Patient.r", "patient", "Patient", "read", None),
        ("launch with a capitalized type", "launch/Patient", "patient", "Patient", "read", None),
        ("a word that is no scope", "everything", "patient", "Patient", "read", None),
    ]  # fmt: skip
    return [Case(label, (granted, ctx, type_, interaction, params)) for label, granted, ctx, type_, interaction,
            params in rows]  # fmt: skip


# == Q8 tokens ====================================================================================================

_REQUIRED = "system/Observation.rs"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hand_signed(header: dict, payload: dict, secret: bytes | None) -> str:
    head = _b64(json.dumps(header).encode())
    body = _b64(json.dumps(payload).encode())
    sig = "" if secret is None else _b64(hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest())
    return f"{head}.{body}.{sig}"


def _tampered() -> str:
    head, _body, sig = m.mint(m.claims(scope="system/Patient.rs")).split(".")
    return f"{head}.{_b64(json.dumps(m.claims(scope=f'system/*.cruds {_REQUIRED}')).encode())}.{sig}"


def _confused() -> str:
    from cryptography.hazmat.primitives import serialization

    pem = (
        m.private_key("as")
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return _hand_signed({"alg": "HS256", "typ": "JWT", "kid": "as-key-1"}, m.claims(scope=_REQUIRED), pem)


def _token_calls() -> list[Call]:
    def call(label: str, token) -> Call:
        return Call(label, lambda: (token(), m.jwks(), m.ISSUER, m.AUDIENCE, _REQUIRED))

    now = lambda: int(datetime.now().timestamp())  # noqa: E731
    return [
        call("a valid token", lambda: m.mint(m.claims(scope=_REQUIRED))),
        call("a valid token with several scopes and aud as a list",
             lambda: m.mint(m.claims(scope=f"system/Patient.rs {_REQUIRED}", aud=["https://other.test", m.AUDIENCE]))),
        call("an expired token", lambda: m.mint(m.claims(scope=_REQUIRED, exp=now() - 600, iat=now() - 900,
                                                         nbf=now() - 900))),
        call("a token not valid until half an hour from now (nbf)",
             lambda: m.mint(m.claims(scope=_REQUIRED, nbf=now() + 1800, exp=now() + 3600))),
        call("a token for another audience", lambda: m.mint(m.claims(scope=_REQUIRED, aud="https://other.test/fhir"))),
        call("a token from another issuer", lambda: m.mint(m.claims(scope=_REQUIRED, iss="https://evil.test"))),
        call("a token without exp", lambda: m.mint(m.claims(scope=_REQUIRED, exp=None))),
        call("an unsigned token (alg none)",
             lambda: _hand_signed({"alg": "none", "typ": "JWT", "kid": "as-key-1"}, m.claims(scope=_REQUIRED), None)),
        call("key confusion: HS256 with the server's public key as the HMAC secret", _confused),
        call("a tampered payload (scope widened, signature kept)", _tampered),
        call("a token signed by another key under the server's kid",
             lambda: m.mint(m.claims(scope=_REQUIRED), key="attacker", kid="as-key-1")),
        call("a token with an unknown kid", lambda: m.mint(m.claims(scope=_REQUIRED), kid="rotated-away")),
        call("'hello' (not a JWT)", lambda: "hello"),
        call("an empty string", lambda: ""),
        call("three dots-separated words (not a JWT)", lambda: "not.a.jwt"),
        call("a valid token without the required scope", lambda: m.mint(m.claims(scope="system/Patient.rs"))),
        call("a valid token whose only Observation scope is restricted to vital signs",
             lambda: m.mint(m.claims(scope=f"{_REQUIRED}?{VITALS}"))),
        call("a valid token with no scope claim", lambda: m.mint(m.claims(scope=None))),
    ]  # fmt: skip


def _compare_claims(got, expected, args, ref_args, label: str, title: str) -> None:
    if not isinstance(got, dict):
        raise Incorrect(
            f"{title}: on {label}, return the token's claims as a dict, got {type(got).__name__}."
        )
    truth = _ref().validate_token(*args)  # the claims of the very token the learner received
    if got != truth:
        raise Incorrect(f"{title}: on {label}, the claims you returned are not the token's payload.")


# == Q11 passwords ==================================================================================================

_PASSWORD = "correct horse battery staple"
_UNICODE = "pässwört-\N{LOCK}-合言葉"


@cache
def _hashes() -> dict[str, str]:
    from argon2 import PasswordHasher, Type

    policy = PasswordHasher(**m.ARGON2_POLICY)
    return {
        "policy": policy.hash(_PASSWORD),
        "unicode": policy.hash(_UNICODE),
        "old": PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4).hash(_PASSWORD),
        "argon2i": PasswordHasher(**m.ARGON2_POLICY, type=Type.I).hash(_PASSWORD),
        "lighter": PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(_PASSWORD),
    }


def _password_calls() -> list[Call]:
    h = _hashes()
    legacy = hashlib.sha256(_PASSWORD.encode()).hexdigest()

    def call(label: str, stored: str, password: str) -> Call:
        return Call(label, lambda: (stored, password))

    return [
        call("a policy hash and the right password", h["policy"], _PASSWORD),
        call("a policy hash and a wrong password", h["policy"], "correct horse battery stapler"),
        call("a policy hash and the password in capitals", h["policy"], _PASSWORD.upper()),
        call("a non-ASCII password", h["unicode"], _UNICODE),
        call("a hash made with other parameters than the policy (argon2-cffi's default m=65536, t=3, p=4) "
             "and the right password",
             h["old"], _PASSWORD),
        call("a hash made with other parameters and a wrong password", h["old"], "Tr0ub4dor&3"),
        call("an argon2i (not argon2id) hash and the right password", h["argon2i"], _PASSWORD),
        call("a hash made with weaker parameters (m=8192, t=1) and the right password", h["lighter"], _PASSWORD),
        call("a legacy SHA-256 hex digest as the stored value", legacy, _PASSWORD),
        call("an empty stored value", "", _PASSWORD),
    ]  # fmt: skip


def _compare_passwords(got, expected, args, ref_args, label: str, title: str) -> None:
    if not isinstance(got, tuple | list) or len(got) != 2 or not isinstance(got[0], bool):
        raise Incorrect(f"{title}: on {label}, return a pair (ok, new_hash_or_None), got {got!r}.")
    ok, new = got
    if ok != expected[0]:
        raise Incorrect(f"{title}: on {label}, the password should {'' if expected[0] else 'not '}verify.")
    if expected[1] is None and new is not None:
        raise Incorrect(f"{title}: on {label}, nothing should be rehashed: return (…, None).")
    if expected[1] is not None:
        if not isinstance(new, str):
            raise Incorrect(
                f"{title}: on {label}, the stored hash does not follow the policy: return a new hash to store."
            )
        if not _ref().policy_hash_ok(new, args[1]):
            raise Incorrect(
                f"{title}: on {label}, your new hash is not an argon2id hash with the policy's parameters "
                "(m=19456, t=2, p=1) for this password."
            )


# == Q12 consent ======================================================================================================


@cache
def _export_sample() -> tuple[tuple[dict, ...], tuple[str, ...]]:
    """Rows of a real export (conditions, medications, encounters of 20 patients) and those patients."""
    from hitlab.checks.sql import connection

    con = connection().cursor()
    ids = [r[0] for r in con.execute("select Id from patients order by Id").fetchall()]
    chosen = sorted(random.Random(1207).sample(ids, 20))
    rows: list[dict] = []
    for name, kind, reason in (("conditions", "Condition", "null"), ("medications", "MedicationRequest", "REASONCODE"),
                                ("encounters", "Encounter", "REASONCODE")):  # fmt: skip
        got = con.execute(
            f"select PATIENT, CODE, {reason} from {name} where PATIENT in ({', '.join('?' * len(chosen))}) "
            "order by PATIENT, START, CODE",
            chosen,
        ).fetchall()
        rows += [{"PATIENT": p, "TYPE": kind, "CODE": c, "REASONCODE": r} for p, c, r in got]
    return tuple(rows), tuple(chosen)


def _planted_export() -> tuple[list[dict], dict[str, str]]:
    rows, people = _export_sample()
    rng = random.Random(42)
    export = [dict(r) for r in rows]
    sud = [r for r in m.sud_table()]
    conditions = [r["code"] for r in sud if r["kind"] == "condition"]
    drugs = [r["code"] for r in sud if r["kind"] == "medication"]
    for i, patient in enumerate(people[:8]):
        planted = [
            {"PATIENT": patient, "TYPE": "Condition", "CODE": conditions[i % len(conditions)], "REASONCODE": None},
            {"PATIENT": patient, "TYPE": "MedicationRequest", "CODE": drugs[i % len(drugs)],
             "REASONCODE": conditions[i % len(conditions)]},
            {"PATIENT": patient, "TYPE": "Encounter", "CODE": "185347001", "REASONCODE": conditions[(i + 1) % len(conditions)]},
        ]  # fmt: skip
        for row in planted:
            export.insert(rng.randrange(len(export) + 1), row)
    consents = {people[0]: "permit", people[1]: "deny", people[2]: "permit", people[3]: "deny",
                people[8]: "deny", people[9]: "permit"}  # fmt: skip  # 4-7: no consent on file
    return export, consents


def _consent_calls() -> list[Call]:
    def fresh():
        export, consents = _planted_export()
        return export, consents

    def nobody():
        export, _ = _planted_export()
        return export, {}

    return [
        Call("a real export of 20 patients with planted SUD rows and mixed consents", fresh),
        Call("the same export when nobody has a consent on file", nobody),
        Call("an empty export", lambda: ([], {"x": "deny"})),
    ]


def _describe_row(row: dict, consents: dict) -> str:
    sud = m.sud_codes()
    which = (
        "an SUD code"
        if row.get("CODE") in sud
        else "an SUD reason"
        if row.get("REASONCODE") in sud
        else "no SUD code"
    )
    consent = consents.get(row.get("PATIENT"))
    article = "an" if str(row.get("TYPE"))[:1] in "AEIOU" else "a"
    return (f"{article} {row.get('TYPE')} row with {which} of a patient with "
            f"{'consent ' + repr(consent) if consent else 'no consent on file'}")  # fmt: skip


def _compare_export(got, expected, args, ref_args, label: str, title: str) -> None:
    if not isinstance(got, list) or not all(isinstance(r, dict) for r in got):
        raise Incorrect(f"{title}: on {label}, return the shared rows as a list of dicts.")
    consents = args[1]
    keyed = lambda rows: [tuple(sorted(r.items(), key=lambda kv: kv[0])) for r in rows]  # noqa: E731
    mine, truth = keyed(got), keyed(expected)
    for r, t in zip(mine, truth, strict=False):
        if r != t:
            if r not in truth:
                raise Incorrect(
                    f"{title}: on {label}, you shared {_describe_row(dict(r), consents)}, which must be withheld."
                )
            raise Incorrect(f"{title}: on {label}, you withheld {_describe_row(dict(t), consents)}, which may be shared "
                            "(or changed the rows' order).")  # fmt: skip
    if len(mine) > len(truth):
        raise Incorrect(
            f"{title}: on {label}, you shared {_describe_row(dict(mine[len(truth)]), consents)}, which must be withheld."
        )
    if len(mine) < len(truth):
        raise Incorrect(
            f"{title}: on {label}, you withheld {_describe_row(dict(truth[len(mine)]), consents)}, which may be shared."
        )


# == Q3 made-up access logs =======================================================================================

_STAFF = ("Id", "ROLE", "PROVIDER", "ORGANIZATION")
_ENC = ("Id", "PATIENT", "PROVIDER", "START", "STOP")
_LOG = ("Id", "TIMESTAMP", "USER", "PATIENT", "PURPOSE", "OUTCOME")
_AUDIT_COLUMNS = {"staff": _STAFF, "encounters": _ENC, "access_log": _LOG}
_AUDIT_STAFF = (("u1", "clinician", "prov-1", "org-1"), ("u2", "clinician", "prov-2", "org-1"),
                ("u3", "billing", None, "org-1"))  # fmt: skip
_VISIT = ("e1", "p1", "prov-1", "2025-10-10 09:00:00", "2025-10-12 17:00:00")


def _audit_scenario(what: str, *log: tuple, encounters: tuple = (_VISIT,)) -> Scenario:
    rows = tuple((f"a{i}", *row) for i, row in enumerate(log))
    return Scenario(
        what, {"staff": _AUDIT_STAFF, "encounters": encounters, "access_log": rows}, _AUDIT_COLUMNS
    )


_NO_RELATIONSHIP_SCENARIOS = (
    _audit_scenario(
        "accesses exactly at the window's bounds and one second outside them",
        ("2025-10-03 09:00:00", "u1", "p1", "TREAT", "0"),  # START - 7 days: justified
        ("2025-10-03 08:59:59", "u1", "p1", "TREAT", "0"),
        ("2025-11-11 17:00:00", "u1", "p1", "TREAT", "0"),  # STOP + 30 days: justified
        ("2025-11-11 17:00:01", "u1", "p1", "TREAT", "0"),
    ),
    _audit_scenario(
        "a break-the-glass access, a failed attempt, a billing user and another clinician's patient",
        ("2025-12-01 03:00:00", "u2", "p1", "ETREAT", "0"),
        ("2025-10-11 10:00:00", "u2", "p1", "TREAT", "4"),
        ("2025-12-01 10:00:00", "u3", "p1", "HPAYMT", "0"),
        ("2025-10-11 10:00:00", "u1", "p2", "TREAT", "0"),
    ),
)
q3.edge_cases = (
    scenario_checks(title=q3.title, columns=("Id", "USER", "PATIENT"), scenarios=_NO_RELATIONSHIP_SCENARIOS,
                    reference=lambda frames: _ref().no_relationship(frames)),
)  # fmt: skip


# == Q4, Q5 the audit queries, with their made-up logs =============================================================

_NY = ZoneInfo("America/New_York")
_BULK_COLUMNS = ("Id", "USER", "NIGHT")
_SNOOP_COLUMNS = ("Id", "USER", "PATIENT", "CATEGORY")


def _utc(local: str, fold: int = 0) -> str:
    """A New York wall-clock time as the log writes it: naive UTC (``fold=1``: the second 01:xx of the night
    the clocks go back)."""
    wall = datetime.fromisoformat(local).replace(tzinfo=_NY, fold=fold)
    return wall.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M:%S")


def _night_log(what: str, reads: list[tuple[str, str, str]]) -> Scenario:
    """``reads``: (user, patient, UTC time) rows of a made-up log; every user is a billing clerk."""
    users = sorted({u for u, _, _ in reads})
    rows = tuple((f"a{i}", ts, user, patient, "HPAYMT", "0") for i, (user, patient, ts) in enumerate(reads))
    return Scenario(
        what,
        {"staff": tuple((u, "billing", None, "org-1") for u in users), "encounters": (), "access_log": rows},
        _AUDIT_COLUMNS,
    )


def _spread(user: str, patients: list[str], first: str, minutes: int = 7) -> list[tuple[str, str, str]]:
    """One read per patient, ``minutes`` apart from the local time ``first`` on."""
    start = datetime.fromisoformat(first)
    return [(user, p, _utc((start + timedelta(minutes=minutes * i)).isoformat(sep=" "))) for i, p in
            enumerate(patients)]  # fmt: skip


def _people(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i:02d}" for i in range(n)]


def _bulk_scenarios() -> tuple[Scenario, ...]:
    nineteen = _people("p", 19)
    return (
        _night_log(
            "a night that crosses midnight (10 patients before, 10 after) and a user whose 24 patients are split "
            "over two nights",
            _spread("u1", _people("p", 10), "2025-11-10 23:00:00")
            + _spread("u1", _people("q", 10), "2025-11-11 00:30:00")
            + _spread("u2", _people("p", 12), "2025-11-12 22:30:00")
            + _spread("u2", _people("r", 12), "2025-11-14 02:00:00"),
        ),
        _night_log(
            "reads at exactly 22:00:00, 05:59:59, 06:00:00 and 21:59:59 local time, each the 20th patient of its "
            "user's night",
            [
                read
                for user, night, edge in (
                    ("u1", "2025-12-02", "2025-12-02 22:00:00"),
                    ("u2", "2025-12-02", "2025-12-03 05:59:59"),
                    ("u3", "2025-12-03", "2025-12-03 06:00:00"),  # 06:00 - 6 h is the 3rd: that night's 20th
                    ("u4", "2025-12-02", "2025-12-02 21:59:59"),
                )
                for read in (*_spread(user, nineteen, f"{night} 23:00:00"), (user, "x", _utc(edge)))
            ],
        ),
        _night_log(
            "the night of 1-2 November 2025, when the clocks go back at 02:00 (22:00 is then 02:00 UTC, 05:00 is "
            "10:00 UTC)",
            _spread("u1", _people("p", 3), "2025-11-01 22:00:00", minutes=15)
            + [("u1", f"m{i}", _utc(f"2025-11-02 01:{10 * i:02d}:00", fold=i % 2)) for i in range(6)]
            + _spread("u1", _people("n", 8), "2025-11-02 02:05:00", minutes=20)
            + _spread("u1", _people("z", 3), "2025-11-02 05:00:00", minutes=20)
            + _spread("u2", _people("d", 20), "2025-11-02 06:00:00", minutes=20),
        ),
        _night_log(
            "a user with 19 distinct patients and one repeated read, one with exactly 20 patients, and one who "
            "opens 5 records 10 times each",
            _spread("u1", [*nineteen, nineteen[4]], "2025-12-05 22:10:00")
            + _spread("u2", _people("p", 20), "2025-12-05 22:10:00")
            + _spread("u3", _people("p", 5) * 10, "2025-12-05 22:10:00", minutes=3),
        ),
    )


q4 = sql_question(
    grade_id="lab07_audit_after_hours_bulk",
    title="Q4 audit: after-hours bulk reads",
    points=3,
    variable="after_hours_sql",
    columns=_BULK_COLUMNS,
    reference=lambda: _ref().after_hours_bulk({"access_log": table("access_log")}),
    scenarios=_bulk_scenarios(),
    on_scenario=lambda frames: _ref().after_hours_bulk(frames),
    hints=(
        "Work in three steps (a `with` query): each access's local time; the after-hours accesses with their "
        "night; the (user, night) pairs with at least 20 distinct patients, joined back to their accesses.",
        "`TIMESTAMP` is a naive timestamp meaning UTC. One `timezone(zone, ts)` call reads `ts` as a time *in* "
        "that zone; you need two calls: first say the value is UTC, then ask for New York's wall clock.",
        "After hours is `hour(local) >= 22 or hour(local) < 6`; the night is `cast(local - interval 6 hours as "
        "date)`; count patients with `count(distinct PATIENT)`, not rows.",
    ),
    solution=_key("AFTER_HOURS"),
    wrong=_keys("AFTER_HOURS_WRONG_ONE_TIMEZONE", "AFTER_HOURS_WRONG_COUNT_ROWS"),
    alternatives=_keys("AFTER_HOURS_WINDOW"),
)

_SNOOP_STAFF_COLUMNS = ("Id", "ROLE", "PROVIDER", "ORGANIZATION", "PATIENT")
_SNOOP_ENC_COLUMNS = ("Id", "PATIENT", "PROVIDER", "ORGANIZATION", "START", "STOP")
_SNOOP_COLUMNS_OF = {"staff": _SNOOP_STAFF_COLUMNS, "encounters": _SNOOP_ENC_COLUMNS, "access_log": _LOG,
                     "vip_patients": ("PATIENT", "REASON")}  # fmt: skip
_SNOOP_STAFF = (
    ("u1", "clinician", "prov-1", "org-1", None),  # the VIP's own clinician
    ("u2", "clinician", "prov-2", "org-1", "pat-nurse"),  # also a patient: a coworker of u1, u3, u4
    ("u3", "billing", None, "org-1", None),
    ("u4", "researcher", None, "org-1", None),
    ("u5", "clinician", "prov-5", "org-2", None),  # another organization
    ("u6", "clinician", "prov-6", "org-2", "pat-vip-staff"),  # a VIP who works at org-2
)
_SNOOP_VISITS = (
    ("e1", "pat-vip", "prov-1", "org-1", "2025-10-10 09:00:00", "2025-10-10 10:00:00"),
    ("e2", "pat-nurse", "prov-1", "org-1", "2025-11-20 09:00:00", "2025-11-20 09:30:00"),
)


def _snoop(what: str, *log: tuple) -> Scenario:
    return Scenario(
        what,
        {"staff": _SNOOP_STAFF, "encounters": _SNOOP_VISITS, "access_log": tuple((f"a{i}", *r) for i, r in
                                                                                 enumerate(log)),
         "vip_patients": (("pat-vip", "public figure"), ("pat-vip-staff", "hospital executive"))},
        _SNOOP_COLUMNS_OF,
    )  # fmt: skip


_SNOOP_SCENARIOS = (
    _snoop(
        "a VIP read by their own clinician during the visit, by a clinician with no relationship, in a failed "
        "attempt, by break the glass, and by billing with and without a recent encounter at its organization",
        ("2025-10-10 09:30:00", "u1", "pat-vip", "TREAT", "0"),
        ("2025-10-10 09:30:00", "u5", "pat-vip", "TREAT", "0"),
        ("2025-10-11 02:00:00", "u5", "pat-vip", "TREAT", "4"),
        ("2025-10-12 03:00:00", "u5", "pat-vip", "ETREAT", "0"),
        ("2025-11-01 10:00:00", "u3", "pat-vip", "HPAYMT", "0"),
        ("2026-01-09 10:00:00", "u3", "pat-vip", "HPAYMT", "0"),
    ),
    _snoop(
        "a coworker's record opened by a colleague, by a researcher outside and inside research, by the coworker "
        "themself, by a clinician of another organization, and a VIP who is also staff",
        ("2025-12-01 12:00:00", "u1", "pat-nurse", "TREAT", "0"),  # within the visit's window: justified
        ("2026-01-20 12:00:00", "u1", "pat-nurse", "TREAT", "0"),  # long after: a coworker's record
        ("2025-12-02 12:00:00", "u4", "pat-nurse", "HOPERAT", "0"),
        ("2025-12-02 12:05:00", "u4", "pat-nurse", "HRESCH", "0"),
        ("2025-12-03 12:00:00", "u2", "pat-nurse", "TREAT", "0"),  # their own record: not another user's
        ("2025-12-04 12:00:00", "u5", "pat-nurse", "TREAT", "0"),  # org-2: not a coworker
        ("2025-12-05 12:00:00", "u5", "pat-vip-staff", "TREAT", "0"),  # VIP and coworker of u5: two rows
    ),
)

q5 = sql_question(
    grade_id="lab07_audit_vip_coworker",
    title="Q5 audit: VIP and coworker snooping",
    points=3,
    variable="snooping_sql",
    columns=_SNOOP_COLUMNS,
    reference=lambda: _ref().vip_and_coworker(
        {name: table(name) for name in ("staff", "access_log", "encounters", "vip_patients")}
    ),
    scenarios=_SNOOP_SCENARIOS,
    on_scenario=lambda frames: _ref().vip_and_coworker(frames),
    hints=(
        "First the *justified* accesses (four ways: break the glass, a clinician's treatment relationship as "
        "in Q3, billing for a recent encounter at the user's organization, research by a researcher); then "
        "the remaining ones that touch a VIP, and those that touch a coworker, one `union all`.",
        'A coworker is a patient who is the `staff.PATIENT` of another user (`c.Id <> a."USER"`) of the '
        "*same* `ORGANIZATION` as the user: a clinician across town reading a stranger's chart is not "
        "coworker snooping.",
        "Billing is justified when `PURPOSE in ('HPAYMT', 'HOPERAT')` and the patient has an encounter at the "
        "user's organization with `START between TIMESTAMP - interval 90 days and TIMESTAMP`.",
    ),
    solution=_key("SNOOPING"),
    wrong=_keys("SNOOPING_WRONG_ANY_ORGANIZATION", "SNOOPING_WRONG_EVERY_VIP_READ"),
    alternatives=_keys("SNOOPING_ALTERNATIVE"),
    key_columns=1,
)


# == Q9 SMART Backend Services on loopback =========================================================================

_LAB_SCOPE = (
    "system/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory"
)
_VITALS_SCOPE = (
    "system/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs"
)


class _SmartSession:
    """A SmartServer over the lab04 store with the clients of Q9's calls, each registered twice (the
    learner's key, and ``ref-...`` with the reference's key), and one patient whose record the FHIR API
    refuses with 403 whatever the token says (``SmartServer.restrict``); the server's ``token_requests`` say
    what each client asked for and was told."""

    CLIENTS: ClassVar[dict[str, str]] = {
        "lab-app": "system/*.rs",
        "labs-only": _LAB_SCOPE,
        "vitals-only": _VITALS_SCOPE,
    }

    def __init__(self) -> None:
        from hitlab.security import SmartServer, generate_rsa_key, private_pem, public_jwk

        self.server = SmartServer()
        self.keys = {who: generate_rsa_key() for who in ("learner", "reference")}
        self.jwks = {who: public_jwk(k, alg="RS384") for who, k in self.keys.items()}
        self.pems = {who: private_pem(k).decode() for who, k in self.keys.items()}
        with_labs = {o["subject"]["reference"].removeprefix("Patient/") for o in self.server.store.resources("Observation")
                     if any(c.get("code") == "laboratory" for cat in o.get("category", []) for c in cat["coding"])}  # fmt: skip
        everyone = sorted(p["id"] for p in self.server.store.resources("Patient"))
        labs = [p for p in everyone if p in with_labs]
        self.patients = {"first": labs[0], "second": labs[1], "restricted": labs[2],
                         "no labs": next(p for p in everyone if p not in with_labs)}  # fmt: skip
        self.server.restrict(self.patients["restricted"], "this patient restricted access to their record")

    def last_answer(self, client: str) -> tuple[str, str]:
        """What the token endpoint last said to ``client``, for feedback: (sentence, the server's words)."""
        mine = [r for r in self.server.token_requests if r.client_id == client]
        if not mine:
            return ("The token endpoint received no request from this client (is the assertion's iss the "
                    "client_id?).", "token endpoint")  # fmt: skip
        error = mine[-1].error
        return (f"The token endpoint answered: {error}.", error) if error else ("", "")

    def least_scope(self, client: str, label: str) -> None:
        from hitlab.security import covers, parse_scope, parse_scopes

        lab = parse_scope(_LAB_SCOPE)
        asked = [r.scope for r in self.server.token_requests if r.client_id == client]
        for text in asked[-1:]:
            try:
                scopes = parse_scopes(text or "")
            except ValueError:
                scopes = []
            if not scopes or not all(covers(lab, sc) for sc in scopes):
                raise Incorrect(
                    f"{q9.title}: on {label}, your token request asked for {text!r}, more than reading this "
                    "patient's laboratory results needs. Ask for the least scope that does the job."
                )

    def calls(self) -> list:
        srv = self.server

        def call(label: str, client: str, patient: str, *, after=None) -> LiveCall:
            def args(who: str, cid: str) -> tuple:
                return (srv.token_url, srv.fhir_base, cid, self.pems[who], self.jwks[who]["kid"],
                        self.patients[patient])  # fmt: skip

            return LiveCall(label, args("learner", client), args("reference", f"ref-{client}"), after=after,
                            why=lambda: self.last_answer(client))  # fmt: skip

        least = lambda label: lambda got: self.least_scope("lab-app", label)  # noqa: E731
        return [
            call("a client allowed system/*.rs, for a patient with lab results", "lab-app", "first",
                 after=least("a client allowed system/*.rs")),
            call("a second call by the same client (a new assertion: the server refuses a replayed jti)", "lab-app",
                 "second", after=least("the second call")),
            call("a patient without lab results", "lab-app", "no labs"),
            call("a client allowed only laboratory Observations", "labs-only", "first"),
            call("a client allowed only vital signs (the token endpoint refuses the scope)", "vitals-only", "first"),
            call("a patient whose record is restricted (the FHIR API answers 403)", "lab-app", "restricted"),
            call("a client the server does not know", "unknown-app", "first"),
        ]  # fmt: skip


def _smart_session():
    from contextlib import contextmanager

    from hitlab.security import jwk_set

    @contextmanager
    def running():
        session = _SmartSession()
        with session.server as srv:
            for client, allowed in _SmartSession.CLIENTS.items():
                srv.register_client(client, jwk_set(session.jwks["learner"]), allowed)
                srv.register_client(f"ref-{client}", jwk_set(session.jwks["reference"]), allowed)
            yield session.calls()

    return running()


def _compare_lab_results(got, expected, label: str, title: str) -> None:
    if not isinstance(got, list) or not all(isinstance(r, dict) for r in got):
        raise Incorrect(
            f"{title}: on {label}, return the Observation resources as a list of dicts, got {_short(got)}."
        )
    ids = lambda rows: [(r.get("resourceType"), r.get("id")) for r in rows]  # noqa: E731
    if sorted(ids(got), key=str) != sorted(ids(expected), key=str):
        if any(t != "Observation" for t, _ in ids(got)):
            raise Incorrect(
                f"{title}: on {label}, return the resources of the Bundle's entries, not the Bundle."
            )
        raise Incorrect(
            f"{title}: on {label}, you returned {len(got)} resources; the search finds {len(expected)}."
        )
    if sorted(got, key=lambda r: r["id"]) != sorted(expected, key=lambda r: r["id"]):
        raise Incorrect(
            f"{title}: on {label}, your resources are not exactly the ones the FHIR API returned."
        )


q9 = live_question(
    grade_id="lab07_smart_backend",
    title="Q9 a SMART Backend Services client",
    points=3,
    name="fetch_lab_results",
    parameters=("token_url", "fhir_base", "client_id", "private_key_pem", "kid", "patient"),
    reference=lambda *args: _ref().fetch_lab_results(*args),
    session=_smart_session,
    compare=lambda *a: _compare_lab_results(*a),
    refusals={PermissionError: PermissionError},
    hints=(
        "Three steps: sign an assertion with `jwt.encode(claims, private_key_pem, algorithm='RS384', "
        "headers={'kid': kid})`; POST it as a form to the token endpoint with `urllib.request`; GET the search "
        "with `Authorization: Bearer <access_token>` and return `[e['resource'] for e in bundle['entry']]`.",
        "The assertion (RFC 7523): `iss` and `sub` are the client_id, `aud` is the *token URL* (not the FHIR "
        "base), `exp` at most five minutes ahead, and a new random `jti` each time (`uuid.uuid4()`): the "
        "server refuses one it has seen. The form: `grant_type=client_credentials`, `scope`, "
        "`client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`, `client_assertion`.",
        "`urllib.request.urlopen` raises `urllib.error.HTTPError` for a 4xx answer: catch it and raise "
        "PermissionError (with the server's `error_description` or OperationOutcome) for 400 from the token "
        "endpoint and for 401 and 403 from the FHIR API. The least scope is a v2 granular one: "
        "`system/Observation.rs?category=<system>|laboratory`.",
    ),
    solution_code=_key("SMART_CLIENT"),
    wrong=_keys(
        "SMART_CLIENT_WRONG_RS256",
        "SMART_CLIENT_WRONG_AUD",
        "SMART_CLIENT_WRONG_FIXED_JTI",
        "SMART_CLIENT_WRONG_IGNORES_403",
        "SMART_CLIENT_WRONG_BROAD_SCOPE",
    ),
    alternatives=_keys("SMART_CLIENT_HTTP_CLIENT"),
)


# == Q10 TLS on loopback ============================================================================================

_ADT = ("MSH|^~\\&|REGADT|MCH|IFENG|MCH|20251201083000||ADT^A01^ADT_A01|MSG00042|P|2.5.1\r"
        "EVN|A01|20251201083000\rPID|1||MRN12345^^^MCH^MR||DOE^JANE||19800101|F")  # fmt: skip


def _tls_session():
    from contextlib import ExitStack, contextmanager

    from hitlab.security import MllpTlsServer, ack, make_pki

    def long_reply(message: str) -> list[str]:
        return [ack(message) + "\rNTE|1||" + "x" * 20000]

    @contextmanager
    def running():
        with make_pki() as pki, ExitStack() as stack:

            def serve(cert: str, key: str, **kw) -> int:
                return stack.enter_context(MllpTlsServer(cert, key, **kw)).port

            good = serve(pki.server_cert, pki.server_key)
            long = serve(pki.server_cert, pki.server_key, reply=long_reply)
            wrong = serve(pki.wrong_host_cert, pki.wrong_host_key)
            expired = serve(pki.expired_cert, pki.expired_key)
            untrusted = serve(pki.untrusted_cert, pki.untrusted_key)
            ca = pki.ca_cert
            yield [
                LiveCall("the lab's server, named localhost", (good, _ADT, ca, "localhost")),
                LiveCall("the lab's server, named by its address 127.0.0.1", (good, _ADT, ca, "127.0.0.1")),
                LiveCall("a 20 kB reply (longer than one TLS record: it arrives in pieces)",
                         (long, _ADT, ca, "localhost")),
                LiveCall("a server whose certificate names only wrong-host.example", (wrong, _ADT, ca, "localhost")),
                LiveCall("a server whose certificate expired yesterday", (expired, _ADT, ca, "localhost")),
                LiveCall("a server whose certificate comes from a CA you were not given",
                         (untrusted, _ADT, ca, "localhost")),
            ]  # fmt: skip

    return running()


def _compare_reply(got, expected, label: str, title: str) -> None:
    if not isinstance(got, str):
        raise Incorrect(f"{title}: on {label}, return the reply as a str (decoded, without the MLLP framing), got "
                        f"{_short(got)}.")  # fmt: skip
    if got != expected:
        framed = got.startswith("\x0b") or got.endswith("\x1c\r") or got.endswith("\x1c")
        if framed:
            raise Incorrect(f"{title}: on {label}, strip the MLLP start and end bytes from the reply.")
        raise Incorrect(f"{title}: on {label}, your reply ({len(got)} characters) is not the server's "
                        f"({len(expected)} characters): read until the MLLP end block.")  # fmt: skip


q10 = live_question(
    grade_id="lab07_tls_client",
    title="Q10 a TLS client that verifies the server",
    points=2,
    name="send_over_tls",
    parameters=("port", "message", "cafile", "server_hostname"),
    reference=lambda *args: _ref().send_over_tls(*args),
    session=_tls_session,
    compare=lambda *a: _compare_reply(*a),
    refusals={ssl.SSLError: ssl.SSLError},
    hints=(
        "`ssl.create_default_context(cafile=cafile)` trusts that CA only and checks both the chain and the "
        "host name; wrap the TCP socket with `context.wrap_socket(sock, server_hostname=server_hostname)`.",
        "Change nothing that turns checks off: `check_hostname = False` or `verify_mode = ssl.CERT_NONE` "
        "make the client talk to anyone who answers. Set `minimum_version = ssl.TLSVersion.TLSv1_2`.",
        "MLLP frames a message as `b'\\x0b' + message + b'\\x1c\\r'`; read with `recv` in a loop until the "
        "end block arrives, then return what is between the start and end bytes, decoded.",
    ),
    solution_code=_key("TLS_CLIENT"),
    wrong=_keys(
        "TLS_CLIENT_WRONG_NO_HOSTNAME", "TLS_CLIENT_WRONG_CERT_NONE", "TLS_CLIENT_WRONG_SYSTEM_STORE"
    ),
    alternatives=_keys("TLS_CLIENT_SSLCONTEXT"),
)

QUESTIONS = (q1, q2, q3, q4, q5, q6, q7, q8, q9, q10, q11, q12)
