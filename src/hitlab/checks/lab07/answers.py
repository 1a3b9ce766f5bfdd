"""Lab 07's answer key: the worked solution of each graded item (the notebook's answer cell, with nbgrader's
solution markers), other correct answers, and known-wrong answers that must lose exactly the item's points.
An exam release leaves this module out; the questions then carry no solution text.
"""

from __future__ import annotations

# -- Q1 ------------------------------------------------------------------------------------------------------

RBAC = '''### BEGIN SOLUTION
role_sql = {
    # treatment: who the patient is and why they came; no SSN, no money
    "clinician": """
        select e.Id as encounter, e.PATIENT as patient, p.FIRST || ' ' || p.LAST as name,
               p.BIRTHDATE as birthdate, e.START as start, e.DESCRIPTION as description,
               e.REASONDESCRIPTION as reason
        from encounters e
        join patients p on p.Id = e.PATIENT
    """,
    # payment: codes and amounts, the SSN's last four digits to match a caller; no narrative
    "billing": """
        select e.Id as encounter, e.PATIENT as patient, p.FIRST || ' ' || p.LAST as name, e.START as start,
               e.CODE as code, e.REASONCODE as reason_code, e.TOTAL_CLAIM_COST as claim_cost,
               'XXX-XX-' || right(p.SSN, 4) as ssn_last4
        from encounters e
        join patients p on p.Id = e.PATIENT
    """,
    # research: no direct identifiers; birth year, ZIP3 (a string: ZIPs keep their leading zeros), visit day
    "researcher": """
        select year(p.BIRTHDATE) as birth_year, p.GENDER as gender, left(p.ZIP, 3) as zip3,
               cast(e.START as date) as visit_date, e.ENCOUNTERCLASS as encounter_class,
               e.REASONCODE as reason_code
        from encounters e
        join patients p on p.Id = e.PATIENT
    """,
}
### END SOLUTION'''

# Other correct answer: implicit joins, substr for right and left, date_part and :: casts, and an explicit
# case for a NULL SSN.
RBAC_ALTERNATIVE = '''role_sql = {
    "clinician": """
        select e.Id as encounter, p.Id as patient, p.FIRST || ' ' || p.LAST as name, p.BIRTHDATE as birthdate,
               e.START as start, e.DESCRIPTION as description, e.REASONDESCRIPTION as reason
        from patients p, encounters e
        where e.PATIENT = p.Id
    """,
    "billing": """
        select e.Id as encounter, p.Id as patient, p.FIRST || ' ' || p.LAST as name, e.START as start,
               e.CODE as code, e.REASONCODE as reason_code, e.TOTAL_CLAIM_COST as claim_cost,
               case when p.SSN is not null then 'XXX-XX-' || substr(p.SSN, -4) end as ssn_last4
        from patients p, encounters e
        where e.PATIENT = p.Id
    """,
    "researcher": """
        select date_part('year', p.BIRTHDATE) as birth_year, p.GENDER as gender, substr(p.ZIP, 1, 3) as zip3,
               e.START::date as visit_date, e.ENCOUNTERCLASS as encounter_class, e.REASONCODE as reason_code
        from patients p, encounters e
        where e.PATIENT = p.Id
    """,
}'''

RBAC_WRONG_SSN = RBAC.replace("'XXX-XX-' || right(p.SSN, 4) as ssn_last4", "p.SSN as ssn_last4")
RBAC_WRONG_ZIP = RBAC.replace(
    "left(p.ZIP, 3) as zip3", "cast(cast(p.ZIP as integer) // 100 as varchar) as zip3"
)

# -- Q2 ------------------------------------------------------------------------------------------------------

BREAK_GLASS = """### BEGIN SOLUTION
from datetime import timezone


def open_record(user, patient, care_team, audit, when, reason=None):
    if not isinstance(user, dict) or user.get("role") not in ("clinician", "billing", "researcher") \\
            or not user.get("id"):
        raise ValueError("a user needs an id and a role: clinician, billing or researcher")
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("`when` has no time zone: an audit trail needs unambiguous times")
    clinician = user["role"] == "clinician"
    related = (user["id"], patient) in care_team
    emergency = isinstance(reason, str) and reason.strip() != ""
    if clinician and related:
        granted, purpose = True, "TREAT"        # the normal path
    elif emergency:
        granted, purpose = clinician, "ETREAT"  # break the glass: only a clinician, and always audited
    else:
        granted, purpose = False, "TREAT"
    audit.append({                              # every attempt is recorded, granted or not
        "TIMESTAMP": when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "USER": user["id"],
        "PATIENT": patient,
        "RESOURCE_TYPE": "Patient",
        "ACTION": "R",
        "PURPOSE": purpose,
        "OUTCOME": "0" if granted else "4",
        "REASON": reason.strip() if purpose == "ETREAT" else None,
    })
    return granted
### END SOLUTION"""

# Other correct answer: ZoneInfo('UTC') and isoformat instead of timezone.utc and strftime, the decision as
# booleans.
BREAK_GLASS_ALTERNATIVE = """from zoneinfo import ZoneInfo

ROLES = {"clinician", "billing", "researcher"}


def open_record(user, patient, care_team, audit, when, reason=None):
    if not isinstance(user, dict) or not user.get("id") or user.get("role") not in ROLES:
        raise ValueError("unknown user or role")
    if when.utcoffset() is None:
        raise ValueError("a naive datetime cannot be placed in time")
    reason = reason.strip() if isinstance(reason, str) else ""
    is_clinician = user["role"] == "clinician"
    on_team = (user["id"], patient) in care_team
    breaks_glass = not (is_clinician and on_team) and reason != ""
    granted = is_clinician and (on_team or breaks_glass)
    audit.append(
        dict(
            TIMESTAMP=when.astimezone(ZoneInfo("UTC")).isoformat(timespec="seconds").replace("+00:00", "Z"),
            USER=user["id"],
            PATIENT=patient,
            RESOURCE_TYPE="Patient",
            ACTION="R",
            PURPOSE="ETREAT" if breaks_glass else "TREAT",
            OUTCOME="0" if granted else "4",
            REASON=reason if breaks_glass else None,
        )
    )
    return granted"""

BREAK_GLASS_WRONG_ANYONE = BREAK_GLASS.replace(
    'granted, purpose = clinician, "ETREAT"', 'granted, purpose = True, "ETREAT"'
)
BREAK_GLASS_WRONG_SILENT = BREAK_GLASS.replace(
    "    audit.append({",
    "    if not granted:\n        return False  # a refusal leaves no trace\n    audit.append({",
)

# -- Q6 ------------------------------------------------------------------------------------------------------

AUTHORIZE = '''### BEGIN SOLUTION
import re

V1_WORDS = {"read": "rs", "write": "cud", "*": "cruds"}
LETTER = {"create": "c", "read": "r", "update": "u", "delete": "d", "search": "s"}
NO_DATA = {"openid", "fhirUser", "profile", "launch", "offline_access", "online_access"}
RESOURCE_SCOPE = re.compile(r"(patient|user|system)/(\\*|[A-Z][A-Za-z]*)\\.([a-z*]+)(?:\\?(.*))?")


def parse_scope(text):
    """(context, type, letters, query pairs) for a resource scope; None for a valid scope granting no data."""
    if text in NO_DATA or re.fullmatch(r"launch/[a-z]+", text):
        return None
    m = RESOURCE_SCOPE.fullmatch(text)
    if not m:
        raise ValueError(f"malformed scope {text!r}: expected context/Type.permissions")
    context, type_, perms, query = m.groups()
    if perms in V1_WORDS:
        if query is not None:
            raise ValueError(f"malformed scope {text!r}: a query needs v2 permissions, not {perms!r}")
        letters = V1_WORDS[perms]
    elif perms == "".join(ch for ch in "cruds" if ch in perms) and len(set(perms)) == len(perms):
        letters = perms
    else:
        raise ValueError(f"malformed scope {text!r}: permissions must be letters of cruds in that order")
    pairs = set()
    if query is not None:
        for item in query.split("&"):
            name, eq, value = item.partition("=")
            if not (eq and name and value):
                raise ValueError(f"malformed scope {text!r}: query item {item!r} is not param=value")
            pairs.add((name, value))
    return context, type_, letters, pairs


def authorize(granted, context, resource_type, interaction, params=None):
    tokens = granted.split(" ") if granted else []
    if "" in tokens:
        raise ValueError(f"malformed scope string {granted!r}: separate scopes by single spaces")
    scopes = [s for s in map(parse_scope, tokens) if s is not None]
    if interaction not in LETTER:
        raise ValueError(f"unknown interaction {interaction!r}")
    asked = set((params or {}).items())
    fitting = [s for s in scopes
               if s[0] == context and s[1] in ("*", resource_type) and LETTER[interaction] in s[2]]
    if not fitting:
        return "deny"
    if any(not query or query <= asked for _, _, _, query in fitting):
        return "allow"
    return "filter"  # only resources matching a scope's query may be returned
### END SOLUTION'''

# Other correct answer: a parser by str.partition instead of a regular expression, permission order checked by
# positions in 'cruds', and the decision taken in one loop over the scopes.
AUTHORIZE_ALTERNATIVE = '''CONTEXTS = ("patient", "user", "system")
V1 = {"read": "rs", "write": "cud", "*": "cruds"}
LETTERS = {"create": "c", "read": "r", "update": "u", "delete": "d", "search": "s"}
IDENTITY = {"openid", "fhirUser", "profile", "launch", "offline_access", "online_access"}


def parse(scope):
    """None for a scope that grants no data, else (context, type, permission letters, query dict)."""
    if scope in IDENTITY or (scope.startswith("launch/") and scope[7:].isalpha() and scope[7:].islower()):
        return None
    context, slash, rest = scope.partition("/")
    type_, dot, rest = rest.partition(".")
    perms, question, query = rest.partition("?")
    if context not in CONTEXTS or not slash or not dot or not perms:
        raise ValueError(f"malformed scope: {scope}")
    if type_ != "*" and not (type_.isascii() and type_.isalpha() and type_[0].isupper()):
        raise ValueError(f"malformed resource type in {scope}")
    if perms in V1:
        if question:
            raise ValueError(f"a v1 scope cannot carry a query: {scope}")
        perms = V1[perms]
    else:
        positions = ["cruds".find(ch) for ch in perms]
        if -1 in positions or positions != sorted(set(positions)):
            raise ValueError(f"permissions must be distinct letters of cruds, in order: {scope}")
    conditions = set()
    if question:
        for item in query.split("&"):
            name, _, value = item.partition("=")
            if not name or not value:
                raise ValueError(f"malformed query item {item!r} in {scope}")
            conditions.add((name, value))
    return context, type_, perms, conditions


def authorize(granted, context, resource_type, interaction, params=None):
    parsed = [parse(s) for s in granted.split(" ")] if granted != "" else []
    if interaction not in LETTERS:
        raise ValueError(f"unknown interaction {interaction!r}")
    params = params or {}
    decision = "deny"
    for scope in parsed:
        if scope is None:
            continue
        ctx, type_, perms, conditions = scope
        if ctx != context or type_ not in ("*", resource_type) or LETTERS[interaction] not in perms:
            continue
        if all(params.get(name) == value for name, value in conditions):
            return "allow"
        decision = "filter"
    return decision'''

AUTHORIZE_WRONG_IGNORES_QUERY = AUTHORIZE.replace(
    "if any(not query or query <= asked for _, _, _, query in fitting):", "if fitting:"
)
AUTHORIZE_WRONG_V1_READ = AUTHORIZE.replace('"read": "rs", "write"', '"read": "r", "write"')

# -- Q7 ------------------------------------------------------------------------------------------------------

LEAST_PRIVILEGE = """### BEGIN SOLUTION
least_privilege = {"patient_app": "C", "bulk_export": "B"}
### END SOLUTION"""
# Other correct answer: the same picks in lower case, with a stray space and the keys in another order.
LEAST_PRIVILEGE_ALTERNATIVE = 'least_privilege = {"bulk_export": " b", "patient_app": "c"}'

LEAST_PRIVILEGE_WRONG = 'least_privilege = {"patient_app": "B", "bulk_export": "A"}'

# -- Q8 ------------------------------------------------------------------------------------------------------

VALIDATE = """### BEGIN SOLUTION
import jwt


def validate_token(token, jwks, issuer, audience, required_scope):
    header = jwt.get_unverified_header(token)  # DecodeError (an InvalidTokenError) for anything not a JWT
    keys = {key.key_id: key for key in jwt.PyJWKSet.from_dict(jwks).keys}
    if header.get("kid") not in keys:
        raise jwt.InvalidTokenError(f"no key {header.get('kid')!r} in the key set")
    claims = jwt.decode(
        token,
        keys[header["kid"]],
        algorithms=["RS384", "ES384"],             # pinned: never the algorithm the token names
        audience=audience,
        issuer=issuer,
        options={"require": ["exp", "iss", "aud"]},  # a token without exp would never expire
    )
    if required_scope not in str(claims.get("scope", "")).split(" "):
        raise PermissionError(f"the token does not grant {required_scope}")  # valid token, not enough scope
    return claims
### END SOLUTION"""

# Other correct answer: the key found by hand in the JWK set's list and wrapped in jwt.PyJWK (no PyJWKSet),
# the scope claim compared as a set.
VALIDATE_ALTERNATIVE = """import jwt


def validate_token(token, jwks, issuer, audience, required_scope):
    kid = jwt.get_unverified_header(token).get("kid")
    jwk = next((k for k in jwks.get("keys", []) if k.get("kid") == kid), None)
    if jwk is None:
        raise jwt.InvalidTokenError(f"unknown kid {kid!r}")
    claims = jwt.decode(
        token,
        jwt.PyJWK(jwk).key,
        algorithms=["RS384", "ES384"],
        issuer=issuer,
        audience=audience,
        options={"require": ["exp", "iss", "aud"], "verify_exp": True},
    )
    scopes = set((claims.get("scope") or "").split(" "))
    if required_scope not in scopes:
        raise PermissionError(f"scope {required_scope} not granted")
    return claims"""

VALIDATE_WRONG_NO_SIGNATURE = """import jwt


def validate_token(token, jwks, issuer, audience, required_scope):
    claims = jwt.decode(token, options={"verify_signature": False})
    aud = claims.get("aud")
    if claims.get("iss") != issuer or audience not in (aud if isinstance(aud, list) else [aud]):
        raise jwt.InvalidTokenError("wrong issuer or audience")
    if required_scope not in claims.get("scope", "").split(" "):
        raise PermissionError(required_scope)
    return claims"""
VALIDATE_WRONG_SUBSTRING = VALIDATE.replace(
    'if required_scope not in str(claims.get("scope", "")).split(" "):',
    'if required_scope not in str(claims.get("scope", "")):',
)
VALIDATE_WRONG_NO_EXP = VALIDATE.replace('options={"require": ["exp", "iss", "aud"]},', "")

# -- Q11 -----------------------------------------------------------------------------------------------------

PASSWORDS = """### BEGIN SOLUTION
from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError

# OWASP's first argon2id configuration: 19 MiB (19456 KiB), 2 iterations, 1 lane; argon2id is the default type
hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


def verify_password(stored, password):
    try:
        hasher.verify(stored, password)  # InvalidHashError (a ValueError) for a value that is no argon2 hash
    except VerifyMismatchError:
        return False, None
    if hasher.check_needs_rehash(stored):  # other type or parameters than the policy's: upgrade it now,
        return True, hasher.hash(password)  # the only moment the plain password is at hand
    return True, None
### END SOLUTION"""

# Other correct answer: the stored hash's parameters read with argon2.extract_parameters and compared with the
# policy's, instead of check_needs_rehash.
PASSWORDS_ALTERNATIVE = """import argon2

POLICY = argon2.PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, type=argon2.Type.ID)


def verify_password(stored, password):
    params = argon2.extract_parameters(stored)  # InvalidHashError, a ValueError, for what is no argon2 hash
    try:
        POLICY.verify(stored, password)
    except argon2.exceptions.VerifyMismatchError:
        return False, None
    wanted = (argon2.Type.ID, 19, POLICY.time_cost, POLICY.memory_cost, POLICY.parallelism)
    if (params.type, params.version, params.time_cost, params.memory_cost, params.parallelism) != wanted:
        return True, POLICY.hash(password)
    return True, None"""


PASSWORDS_WRONG_SHA256 = """import hashlib


def verify_password(stored, password):
    return hashlib.sha256(password.encode()).hexdigest() == stored, None"""
PASSWORDS_WRONG_DEFAULTS = PASSWORDS.replace(
    "PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)", "PasswordHasher()"
)

# -- Q12 -----------------------------------------------------------------------------------------------------

CONSENT = """### BEGIN SOLUTION
import hitlab.checks.lab07 as lab07

SUD = lab07.sud_codes()


def apply_consent(export, consents):
    shared = []
    for row in export:
        sensitive = row.get("CODE") in SUD or row.get("REASONCODE") in SUD
        # Part 2: SUD records leave only with the patient's consent; no consent on file means no
        if not sensitive or consents.get(row["PATIENT"]) == "permit":
            shared.append(row)
    return shared
### END SOLUTION"""

# Other correct answer: the permitting patients as a set, SUD membership by isdisjoint, one comprehension.
CONSENT_ALTERNATIVE = """from hitlab.checks import lab07


def apply_consent(export, consents):
    sud = lab07.sud_codes()
    permitted = {patient for patient, decision in consents.items() if decision == "permit"}
    return [
        row for row in export
        if row["PATIENT"] in permitted or sud.isdisjoint((row.get("CODE"), row.get("REASONCODE")))
    ]"""

CONSENT_WRONG_OPT_OUT_ONLY = CONSENT.replace(
    'consents.get(row["PATIENT"]) == "permit"', 'consents.get(row["PATIENT"]) != "deny"'
)
CONSENT_WRONG_CODE_ONLY = CONSENT.replace(' or row.get("REASONCODE") in SUD', "")

# -- Q3 ------------------------------------------------------------------------------------------------------

NO_RELATIONSHIP = '''### BEGIN SOLUTION
no_relationship_sql = """
select a.Id, a."USER", a.PATIENT
from access_log a
join staff s on s.Id = a."USER"
where s.ROLE = 'clinician'
  and a.PURPOSE <> 'ETREAT'                      -- break the glass is reviewed separately
  and not exists (
      select 1
      from encounters e
      where e.PATIENT = a.PATIENT
        and e.PROVIDER = s.PROVIDER
        and a."TIMESTAMP" between e.START - interval 7 days and e.STOP + interval 30 days
  )
"""
### END SOLUTION'''

# Other correct answers: every clinician access EXCEPT the justified ones (a set difference; Ids are unique),
# and a left anti-join (no matching encounter: the left join's encounter columns are NULL).
NO_RELATIONSHIP_EXCEPT = '''no_relationship_sql = """
select a.Id, a."USER", a.PATIENT
from access_log a join staff s on s.Id = a."USER"
where s.ROLE = 'clinician' and a.PURPOSE != 'ETREAT'
except
select a.Id, a."USER", a.PATIENT
from access_log a
join staff s on s.Id = a."USER"
join encounters e
  on e.PATIENT = a.PATIENT and e.PROVIDER = s.PROVIDER
 and a."TIMESTAMP" >= e.START - interval 7 days and a."TIMESTAMP" <= e.STOP + interval 30 days
"""'''

NO_RELATIONSHIP_ANTI_JOIN = '''no_relationship_sql = """
select a.Id, a."USER", a.PATIENT
from access_log a
join staff s on s.Id = a."USER" and s.ROLE = 'clinician'
left join encounters e
  on e.PATIENT = a.PATIENT and e.PROVIDER = s.PROVIDER
 and a."TIMESTAMP" between e.START - interval 7 days and e.STOP + interval 30 days
where a.PURPOSE <> 'ETREAT' and e.PATIENT is null
"""'''

NO_RELATIONSHIP_WRONG_ANY_TIME = NO_RELATIONSHIP.replace(
    '        and a."TIMESTAMP" between e.START - interval 7 days and e.STOP + interval 30 days\n', ""
)
NO_RELATIONSHIP_WRONG_STRICT = NO_RELATIONSHIP.replace(
    'a."TIMESTAMP" between e.START - interval 7 days and e.STOP + interval 30 days',
    'a."TIMESTAMP" > e.START - interval 7 days and a."TIMESTAMP" < e.STOP + interval 30 days',
)

# -- Q4 ------------------------------------------------------------------------------------------------------

AFTER_HOURS = '''### BEGIN SOLUTION
after_hours_sql = """
with local as (
    -- TIMESTAMP is naive UTC: say so (inner call), then ask for New York's wall clock (outer call)
    select Id, "USER", PATIENT,
           timezone('America/New_York', timezone('UTC', "TIMESTAMP")) as local_time
    from access_log
),
late as (
    select Id, "USER", PATIENT,
           cast(local_time - interval 6 hours as date) as NIGHT   -- 22:00-06:00 belongs to the evening's date
    from local
    where hour(local_time) >= 22 or hour(local_time) < 6
),
bulk as (
    select "USER", NIGHT
    from late
    group by "USER", NIGHT
    having count(distinct PATIENT) >= 20                            -- patients, not rows
)
select late.Id, late."USER", late.NIGHT
from late
join bulk using ("USER", NIGHT)
"""
### END SOLUTION'''

# Other correct answer: AT TIME ZONE twice, the after-hours test on the time of day, and a window function
# (count(distinct ...) over the user's night) instead of group by and a join back.
AFTER_HOURS_WINDOW = '''after_hours_sql = """
with late as (
    select Id, "USER", PATIENT,
           ("TIMESTAMP" at time zone 'UTC') at time zone 'America/New_York' as wall
    from access_log
),
nights as (
    select Id, "USER", PATIENT, (wall - interval 6 hours)::date as NIGHT
    from late
    where wall::time >= time '22:00:00' or wall::time < time '06:00:00'
),
counted as (
    select *, count(distinct PATIENT) over (partition by "USER", NIGHT) as patients
    from nights
)
select Id, "USER", NIGHT from counted where patients >= 20
"""'''

AFTER_HOURS_WRONG_ONE_TIMEZONE = AFTER_HOURS.replace(
    """timezone('America/New_York', timezone('UTC', "TIMESTAMP"))""",
    """timezone('America/New_York', "TIMESTAMP")""",
)
AFTER_HOURS_WRONG_COUNT_ROWS = AFTER_HOURS.replace("count(distinct PATIENT)", "count(*)")

# -- Q5 ------------------------------------------------------------------------------------------------------

SNOOPING = '''### BEGIN SOLUTION
snooping_sql = """
with a as (
    select l.Id, l."USER", l.PATIENT, l."TIMESTAMP" as ts, l.PURPOSE, s.ROLE, s.ORGANIZATION, s.PROVIDER
    from access_log l
    join staff s on s.Id = l."USER"
),
justified as (
    select Id from a where PURPOSE = 'ETREAT'                          -- break the glass: reviewed apart
    union
    select Id from a where ROLE = 'researcher' and PURPOSE = 'HRESCH'
    union
    select a.Id                                                        -- treatment relationship (Q3)
    from a join encounters e
      on e.PATIENT = a.PATIENT and e.PROVIDER = a.PROVIDER
     and a.ts between e.START - interval 7 days and e.STOP + interval 30 days
    where a.ROLE = 'clinician'
    union
    select a.Id                                                        -- billing a recent encounter
    from a join encounters e
      on e.PATIENT = a.PATIENT and e.ORGANIZATION = a.ORGANIZATION
     and e.START between a.ts - interval 90 days and a.ts
    where a.ROLE = 'billing' and a.PURPOSE in ('HPAYMT', 'HOPERAT')
),
suspect as (
    select * from a where Id not in (select Id from justified)
)
select Id, "USER", PATIENT, 'vip' as CATEGORY
from suspect
where PATIENT in (select PATIENT from vip_patients)
union all
select Id, "USER", PATIENT, 'coworker' as CATEGORY
from suspect
where exists (
    select 1 from staff c
    where c.PATIENT = suspect.PATIENT
      and c.ORGANIZATION = suspect.ORGANIZATION                       -- the same organization
      and c.Id <> suspect."USER"                                      -- another user, not oneself
)
"""
### END SOLUTION'''

# Other correct answer: justification as one boolean of exists subqueries (coalesce: a NULL is not a
# justification), and both categories from one select over a values list instead of a union.
SNOOPING_ALTERNATIVE = '''snooping_sql = """
with a as (
    select l.Id, l."USER", l.PATIENT, l."TIMESTAMP", l.PURPOSE, s.ROLE, s.PROVIDER, s.ORGANIZATION
    from access_log l join staff s on s.Id = l."USER"
),
unjustified as (
    select * from a
    where not coalesce(
        a.PURPOSE = 'ETREAT'
        or (a.ROLE = 'researcher' and a.PURPOSE = 'HRESCH')
        or (a.ROLE = 'clinician' and exists (
            select 1 from encounters e
            where e.PATIENT = a.PATIENT and e.PROVIDER = a.PROVIDER
              and a."TIMESTAMP" between e.START - interval 7 days and e.STOP + interval 30 days))
        or (a.ROLE = 'billing' and a.PURPOSE in ('HPAYMT', 'HOPERAT') and exists (
            select 1 from encounters e
            where e.PATIENT = a.PATIENT and e.ORGANIZATION = a.ORGANIZATION
              and e.START between a."TIMESTAMP" - interval 90 days and a."TIMESTAMP")),
        false)
)
select u.Id, u."USER", u.PATIENT, c.CATEGORY
from unjustified u
cross join (values ('vip'), ('coworker')) as c(CATEGORY)
where (c.CATEGORY = 'vip' and exists (select 1 from vip_patients v where v.PATIENT = u.PATIENT))
   or (c.CATEGORY = 'coworker' and exists (
        select 1 from staff w
        where w.PATIENT = u.PATIENT and w.ORGANIZATION = u.ORGANIZATION and w.Id <> u."USER"))
"""'''

SNOOPING_WRONG_ANY_ORGANIZATION = SNOOPING.replace(
    "      and c.ORGANIZATION = suspect.ORGANIZATION                       -- the same organization\n", ""
)
SNOOPING_WRONG_EVERY_VIP_READ = SNOOPING.replace(
    "from suspect\nwhere PATIENT in (select PATIENT from vip_patients)",
    "from a\nwhere PATIENT in (select PATIENT from vip_patients)",
)

# -- Q9 ------------------------------------------------------------------------------------------------------

SMART_CLIENT = """### BEGIN SOLUTION
import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import jwt

LAB = "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy


def call(request):
    \"\"\"(status, JSON body) of an HTTP request, 4xx and 5xx included.\"\"\"
    try:
        with direct.open(request, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def fetch_lab_results(token_url, fhir_base, client_id, private_key_pem, kid, patient):
    now = int(time.time())
    assertion = jwt.encode(
        {"iss": client_id, "sub": client_id, "aud": token_url,  # aud: the token endpoint (RFC 7523 3)
         "exp": now + 300, "jti": str(uuid.uuid4())},           # at most 5 minutes; never reused
        private_key_pem, algorithm="RS384", headers={"kid": kid},
    )
    form = urllib.parse.urlencode({
        "grant_type": "client_credentials",
        "scope": f"system/Observation.rs?category={LAB}",      # the least scope that does the job
        "client_assertion_type": JWT_BEARER,
        "client_assertion": assertion,
    }).encode()
    status, token = call(urllib.request.Request(
        token_url, data=form, headers={"Content-Type": "application/x-www-form-urlencoded"}))
    if status != 200:
        raise PermissionError(f"token endpoint refused: {token.get('error')}: {token.get('error_description')}")
    query = urllib.parse.urlencode({"patient": patient, "category": LAB})
    status, bundle = call(urllib.request.Request(
        f"{fhir_base}/Observation?{query}",
        headers={"Authorization": f"Bearer {token['access_token']}", "Accept": "application/fhir+json"}))
    if status in (401, 403):
        raise PermissionError(f"FHIR API answered {status}: {bundle['issue'][0].get('diagnostics')}")
    if status != 200:
        raise RuntimeError(f"FHIR API answered {status}")
    return [entry["resource"] for entry in bundle.get("entry", [])]
### END SOLUTION"""

# Other correct answer: http.client instead of urllib.request (status codes read, not caught as HTTPError),
# the key loaded with cryptography, exp from a datetime, jti from secrets.
SMART_CLIENT_HTTP_CLIENT = """import http.client
import json
import secrets
import urllib.parse
from datetime import datetime, timedelta, timezone

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_private_key

CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"


def request(method, url, body=None, headers=None):
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else None
    finally:
        conn.close()


def fetch_lab_results(token_url, fhir_base, client_id, private_key_pem, kid, patient):
    key = load_pem_private_key(private_key_pem.encode(), password=None)
    now = datetime.now(timezone.utc)
    assertion = jwt.encode(
        {"iss": client_id, "sub": client_id, "aud": token_url, "iat": now,
         "exp": now + timedelta(minutes=4), "jti": secrets.token_urlsafe(24)},
        key, algorithm="RS384", headers={"kid": kid, "typ": "JWT"},
    )
    body = urllib.parse.urlencode({
        "grant_type": "client_credentials",
        "scope": f"system/Observation.rs?category={CATEGORY}",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
    })
    form = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    status, token = request("POST", token_url, body, form)
    if status != 200:
        raise PermissionError(f"no token ({status}): {(token or {}).get('error_description')}")
    search = urllib.parse.urlencode({"patient": patient, "category": CATEGORY})
    status, bundle = request("GET", f"{fhir_base}/Observation?{search}",
                             headers={"Authorization": "Bearer " + token["access_token"],
                                      "Accept": "application/fhir+json"})
    if status in (401, 403):
        raise PermissionError(f"the FHIR server refused the search ({status})")
    if status != 200:
        raise RuntimeError(f"the FHIR server answered {status}")
    return [entry["resource"] for entry in (bundle or {}).get("entry", [])]"""


SMART_CLIENT_WRONG_RS256 = SMART_CLIENT.replace('algorithm="RS384"', 'algorithm="RS256"')
SMART_CLIENT_WRONG_AUD = SMART_CLIENT.replace('"aud": token_url,', '"aud": fhir_base,')
SMART_CLIENT_WRONG_FIXED_JTI = SMART_CLIENT.replace('"jti": str(uuid.uuid4())', '"jti": f"{client_id}-1"')
SMART_CLIENT_WRONG_IGNORES_403 = SMART_CLIENT.replace(
    "    if status in (401, 403):\n        raise PermissionError",
    "    if False:\n        raise PermissionError",
).replace('    if status != 200:\n        raise RuntimeError(f"FHIR API answered {status}")\n', "")
SMART_CLIENT_WRONG_BROAD_SCOPE = SMART_CLIENT.replace(
    '"scope": f"system/Observation.rs?category={LAB}",', '"scope": "system/*.rs",'
)

# -- Q10 -----------------------------------------------------------------------------------------------------

TLS_CLIENT = """### BEGIN SOLUTION
import socket
import ssl

START, END = b"\\x0b", b"\\x1c\\r"  # MLLP: start block, then end block and carriage return


def send_over_tls(port, message, cafile, server_hostname):
    context = ssl.create_default_context(cafile=cafile)  # trust this CA only; chain and host name checked
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=server_hostname) as conn:  # refuses a bad certificate
            conn.sendall(START + message.encode("utf-8") + END)
            data = b""
            while END not in data:  # a reply may arrive in several pieces
                chunk = conn.recv(4096)
                if not chunk:
                    raise ConnectionError("the server closed the connection before a complete reply")
                data += chunk
    return data[data.index(START) + 1 : data.index(END)].decode("utf-8")
### END SOLUTION"""

# Other correct answer: SSLContext(PROTOCOL_TLS_CLIENT) with load_verify_locations instead of
# create_default_context(cafile=), the socket wrapped before connecting, the reply gathered in a bytearray.
TLS_CLIENT_SSLCONTEXT = """import socket
import ssl


def send_over_tls(port, message, cafile, server_hostname):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED and check_hostname are its defaults
    context.load_verify_locations(cafile=cafile)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    reply = bytearray()
    with context.wrap_socket(socket.socket(socket.AF_INET), server_hostname=server_hostname) as conn:
        conn.settimeout(5)
        conn.connect(("127.0.0.1", port))
        conn.sendall(b"\\x0b" + message.encode() + b"\\x1c\\r")
        while b"\\x1c" not in reply:
            piece = conn.recv(1024)
            if piece == b"":
                raise ConnectionError("connection closed before the end of the reply")
            reply += piece
    start = reply.index(b"\\x0b") + 1
    return reply[start : reply.index(b"\\x1c", start)].decode()"""

TLS_CLIENT_WRONG_NO_HOSTNAME = TLS_CLIENT.replace(
    "    context.minimum_version = ssl.TLSVersion.TLSv1_2\n",
    "    context.minimum_version = ssl.TLSVersion.TLSv1_2\n    context.check_hostname = False\n",
)
TLS_CLIENT_WRONG_CERT_NONE = TLS_CLIENT.replace(
    "    context.minimum_version = ssl.TLSVersion.TLSv1_2\n",
    "    context.minimum_version = ssl.TLSVersion.TLSv1_2\n    context.check_hostname = False\n"
    "    context.verify_mode = ssl.CERT_NONE\n",
)
TLS_CLIENT_WRONG_SYSTEM_STORE = TLS_CLIENT.replace(
    "ssl.create_default_context(cafile=cafile)", "ssl.create_default_context()"
)
