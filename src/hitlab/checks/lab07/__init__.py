"""Checks of lab 07, security and access: role-based views with minimum-necessary masking, break the glass,
audit queries over an AuditEvent-shaped access log, SMART on FHIR scopes, JWT access tokens, a SMART Backend
Services exchange and TLS on loopback, password storage and consent-based filtering.

Standards followed: HIPAA Security Rule 45 CFR 164.312(a) access control, (b) audit controls and (e)(1)
transmission security, minimum necessary 45 CFR 164.502(b) and 164.514(d); SMART App Launch 2.2.0 (scopes v1
and v2; Backend Services); RFC 7519 (JWT), RFC 7523 (JWT client assertions), RFC 6749 and RFC 6750 (OAuth 2.0
client credentials, bearer tokens); TLS 1.2 or newer (RFC 8446 for 1.3); the OWASP Password Storage Cheat Sheet (argon2id, 19 MiB,
2 iterations, 1 lane); 42 CFR Part 2 as amended in 2024; FHIR R4 AuditEvent and HL7 v3 PurposeOfUse.

The package reads as the lab does: ``questions`` (the question table), ``materials`` (what learners use),
``kinds`` (question kinds), and, left out of an exam release, ``reference`` and ``answers``.
"""

from hitlab.checks.core import defined
from hitlab.checks.lab07.materials import (
    ALGORITHMS,
    ARGON2_POLICY,
    AUDIENCE,
    ISSUER,
    OUTCOMES,
    PURPOSES,
    ROLE_COLUMNS,
    ROLES,
    claims,
    jwks,
    mint,
    private_key,
    public_jwk,
    sud_codes,
    sud_table,
)
from hitlab.checks.lab07.questions import QUESTIONS, q1, q2, q3, q4, q5, q6, q7, q8, q9, q10, q11, q12

__all__ = [
    "ALGORITHMS", "ARGON2_POLICY", "AUDIENCE", "ISSUER", "OUTCOMES", "PURPOSES", "QUESTIONS", "ROLES",
    "ROLE_COLUMNS", "claims", "defined", "jwks", "mint", "private_key", "public_jwk", "q1", "q2", "q3", "q4", "q5", "q6", "q7",
    "q8", "q9", "q10", "q11",
    "q12", "sud_codes", "sud_table",
]  # fmt: skip
