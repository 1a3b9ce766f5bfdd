"""What the learner works with in lab 07: the role and purpose vocabularies, the password policy, the SUD
value set of the consent exercise, and a small token kit (RSA keys, a JWK set, signed test tokens) so that
token validation can be tried on real signatures without any server.

Nothing here knows an answer: the checks' expected values live in ``reference.py``.
"""

from __future__ import annotations

import csv
import json
import time
from functools import cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[2] / "labdata" / "lab07"

ROLES = ("clinician", "billing", "researcher")
"""The workforce roles of the access-control exercises."""

ROLE_COLUMNS = {
    "clinician": ("encounter", "patient", "name", "birthdate", "start", "description", "reason"),
    "billing": ("encounter", "patient", "name", "start", "code", "reason_code", "claim_cost", "ssn_last4"),
    "researcher": ("birth_year", "gender", "zip3", "visit_date", "encounter_class", "reason_code"),
}
"""The columns each role's query returns (Q1), in order."""

PURPOSES = {
    "TREAT": "treatment",
    "ETREAT": "emergency treatment (break the glass)",
    "HPAYMT": "healthcare payment",
    "HOPERAT": "healthcare operations",
    "HRESCH": "healthcare research",
}
"""HL7 v3 PurposeOfUse codes (``http://terminology.hl7.org/CodeSystem/v3-ActReason``) used in the audit rows."""

OUTCOMES = {"0": "success", "4": "minor failure (for example access denied)"}
"""FHIR R4 AuditEvent.outcome codes used in the audit rows (``http://hl7.org/fhir/audit-event-outcome``)."""

ARGON2_POLICY = {"time_cost": 2, "memory_cost": 19456, "parallelism": 1}
"""The site's password policy: argon2id with OWASP's first recommended configuration (Password Storage Cheat
Sheet: 19 MiB of memory = 19456 KiB, 2 iterations, 1 degree of parallelism)."""

ISSUER = "https://auth.hitlab.test"
AUDIENCE = "https://fhir.hitlab.test/r4"
ALGORITHMS = ("RS384", "ES384")
"""The asymmetric algorithms SMART Backend Services names (RFC 7518 names): clients SHALL support both; a
server SHALL validate at least one (this lab's accepts both)."""


@cache
def sud_table() -> tuple[dict, ...]:
    """The lab's substance-use-disorder codes (``labdata/lab07/sud_codes.csv``; sources in SOURCES.md):
    dicts with ``system``, ``code``, ``display`` and ``kind`` (condition or medication)."""
    with open(DATA / "sud_codes.csv", newline="", encoding="utf-8") as f:
        return tuple(csv.DictReader(f))


def sud_codes() -> frozenset[str]:
    """The codes (SNOMED CT and RxNorm) that put a record in the SUD category."""
    return frozenset(row["code"] for row in sud_table())


# -- token kit ---------------------------------------------------------------------------------------------


@cache
def private_key(name: str = "as"):
    """An RSA private key (2048 bits) made for this process, by name: ``"as"`` is the authorization server's,
    any other name an unrelated key (an attacker's, another server's)."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(name: str = "as", kid: str | None = None) -> dict:
    """The public half of :func:`private_key` as a JWK (RFC 7517) with ``kid``, ``alg`` RS384 and ``use`` sig."""
    from jwt.algorithms import RSAAlgorithm

    jwk = json.loads(RSAAlgorithm.to_jwk(private_key(name).public_key()))
    return {**jwk, "kid": kid or f"{name}-key-1", "alg": "RS384", "use": "sig"}


def jwks() -> dict:
    """The authorization server's published key set: ``{"keys": [<its public JWK>]}``."""
    return {"keys": [public_jwk("as")]}


def claims(scope: str = "system/Observation.rs", **changes: Any) -> dict:
    """A valid access token's claims (now + 5 minutes), changed by ``changes``; a change to ``None`` drops
    that claim."""
    now = int(time.time())
    base = {"iss": ISSUER, "aud": AUDIENCE, "sub": "client-1", "iat": now, "nbf": now - 5, "exp": now + 300,
            "jti": f"tok-{now}", "scope": scope}  # fmt: skip
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def mint(payload: dict, key: str = "as", kid: str | None = None, alg: str = "RS384") -> str:
    """Sign ``payload`` as a JWT with :func:`private_key` ``key``, its header naming ``kid`` (default: that
    key's kid)."""
    import jwt

    return jwt.encode(payload, private_key(key), algorithm=alg, headers={"kid": kid or f"{key}-key-1"})
