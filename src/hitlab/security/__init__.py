"""Security infrastructure for lab07 (security and access).

- :mod:`hitlab.security.scopes`: parse SMART App Launch 2.2 scopes (v1 and v2 syntax) and decide whether a
  FHIR request is allowed (the reference the lab's checks use).

>>> from hitlab.security import parse_scopes, decide
>>> decide(parse_scopes("system/Observation.rs"), "Observation", "search").allowed
True
"""

from hitlab.security.scopes import (
    Decision,
    Scope,
    ScopeError,
    covers,
    decide,
    format_scopes,
    matches_query,
    parse_scope,
    parse_scopes,
)

__all__ = [
    "Decision",
    "Scope",
    "ScopeError",
    "covers",
    "decide",
    "format_scopes",
    "matches_query",
    "parse_scope",
    "parse_scopes",
]
