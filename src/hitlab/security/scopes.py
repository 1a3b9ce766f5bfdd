"""SMART on FHIR scopes: parse them, and decide whether a FHIR request is allowed by a set of granted scopes.

Follows SMART App Launch 2.2.0 (STU 2.2), "Scopes and Launch Context"
(https://hl7.org/fhir/smart-app-launch/STU2.2/scopes-and-launch-context.html), which keeps the SMART 1.0
syntax for backwards compatibility:

- resource scopes ``<context>/<type>.<permissions>[?param=value&...]`` where the context is ``patient``,
  ``user`` or ``system``, the type is a FHIR resource type or ``*``, and the permissions are either
  SMART v2 letters, a non-empty subset of ``cruds`` *in that order* (``c`` create, ``r`` read/vread/instance
  history, ``u`` update/patch, ``d`` delete, ``s`` search/type or system history), or SMART v1 words
  ``read`` (= ``rs``), ``write`` (= ``cud``) and ``*`` (= ``cruds``). A query suffix (granular scope) is v2
  only: ``patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory``.
- launch context ``launch``, ``launch/patient``, ``launch/encounter`` (and ``launch/<lowercase type>``, with
  SMART 2.2's experimental ``?role=<uri>`` suffix allowed),
  identity ``openid``, ``fhirUser`` (and v1's ``profile``), refresh ``offline_access``, ``online_access``,
  and extension scopes (a full URI, or a string starting with ``__``).

Anything else raises :class:`ScopeError`, whose message names the bad part. Scope tokens follow RFC 6749
§3.3: separated by single spaces, printable ASCII without ``"`` or ``\\``.

>>> from hitlab.security import scopes
>>> s = scopes.parse_scope("system/Observation.rs?category=laboratory")
>>> s.context, s.resource_type, s.permissions, s.query, s.version
('system', 'Observation', 'rs', (('category', 'laboratory'),), 2)
>>> granted = scopes.parse_scopes("system/Patient.read system/Observation.rs?category=laboratory")
>>> scopes.decide(granted, "Patient", "read").allowed
True
>>> d = scopes.decide(granted, "Observation", "search")   # allowed, but only for laboratory Observations
>>> d.allowed, d.filters
(True, ('category=laboratory',))
>>> scopes.decide(granted, "Observation", "create").allowed
False

Granular (query) scopes, and what :func:`decide` returns for them:

- with ``resource=`` (a read, or one search result): allowed only if the resource matches the query, tested
  with the workbook's FHIR store search (:mod:`hitlab.fhirstore`), so the parameters are those it supports;
- a search whose own parameters already include every ``param=value`` of the scope: allowed, no filter;
- otherwise: allowed with ``filters`` set: only resources matching one of those queries may be returned.
  SMART 2.2 lets a server either refuse or omit results ("results may be omitted from responses"); the
  loopback server (:mod:`hitlab.security.smart`) filters searches and refuses (403) reads of a resource
  outside the query.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

from hitlab.errors import HitlabError

__all__ = [
    "CONTEXTS",
    "INTERACTIONS",
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

CONTEXTS = ("patient", "user", "system")
"""The three contexts of a resource scope."""

V1_PERMISSIONS = {"read": "rs", "write": "cud", "*": "cruds"}
"""SMART v1 permission words and the v2 letters they mean (SMART 2.2, "Scopes for requesting clinical data")."""

INTERACTIONS = {
    "create": "c",
    "read": "r",
    "vread": "r",
    "history-instance": "r",
    "update": "u",
    "patch": "u",
    "delete": "d",
    "search": "s",
    "search-type": "s",
    "search-system": "s",
    "history-type": "s",
    "history-system": "s",
}
"""FHIR RESTful interactions and the SMART v2 permission letter that allows each."""

SIMPLE_SCOPES = {
    "launch": "launch",
    "openid": "identity",
    "fhirUser": "identity",
    "profile": "identity",
    "offline_access": "refresh",
    "online_access": "refresh",
}
"""Scopes that are a fixed word, and their kind."""

_ORDER = "cruds"
_TOKEN_CHARS = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")  # RFC 6749 §3.3 scope-token
_RESOURCE_TYPE = re.compile(r"^[A-Z][A-Za-z]*$")
_LAUNCH = re.compile(r"^launch/[a-z]+(\?role=[^\s?&=]+)?$")  # ?role=: SMART 2.2, experimental


class ScopeError(HitlabError, ValueError):
    """A scope string that is not valid SMART (or RFC 6749) scope syntax; the message names the bad part."""


@dataclass(frozen=True)
class Scope:
    """One parsed scope.

    ``kind`` is ``"resource"``, ``"launch"``, ``"identity"``, ``"refresh"`` or ``"extension"``. For a resource
    scope, ``context`` (patient/user/system), ``resource_type`` (a type or ``"*"``), ``permissions`` (v2 letters,
    v1 words already translated: ``read`` → ``"rs"``), ``version`` (1 or 2) and ``query`` (``(param, value)``
    pairs of a v2 granular scope, percent-decoded) are set; for other kinds they are None/empty.
    """

    text: str
    kind: str
    context: str | None = None
    resource_type: str | None = None
    permissions: str = ""
    version: int | None = None
    query: tuple[tuple[str, str], ...] = ()

    @property
    def query_string(self) -> str:
        """The query as ``param=value&...`` (decoded), or ``""``."""
        return "&".join(f"{k}={v}" for k, v in self.query)

    def allows_letter(self, letter: str) -> bool:
        return self.kind == "resource" and letter in self.permissions

    def __str__(self) -> str:
        return self.text


def parse_scope(text: str) -> Scope:
    """Parse one scope token; raise :class:`ScopeError` naming the bad part."""
    if not isinstance(text, str):
        raise ScopeError(f"a scope must be a string, got {type(text).__name__}")
    if text == "":
        raise ScopeError("empty scope")
    if not _TOKEN_CHARS.match(text):
        bad = next(ch for ch in text if not _TOKEN_CHARS.match(ch))
        raise ScopeError(
            f"scope {text!r} contains {bad!r}: a scope token is printable ASCII without spaces, '\"' or '\\'"
        )
    if text in SIMPLE_SCOPES:
        return Scope(text, SIMPLE_SCOPES[text])
    if text.startswith("launch/"):
        if not _LAUNCH.match(text):
            raise ScopeError(
                f"launch context scope {text!r}: expected 'launch/' and a lowercase resource type "
                "(launch/patient, launch/encounter), optionally with ?role=<uri>"
            )
        return Scope(text, "launch")
    if text.startswith("__") or re.match(r"^[a-z][a-z0-9+.-]*://", text):
        return Scope(text, "extension")
    context, slash, rest = text.partition("/")
    if not slash:
        raise ScopeError(
            f"unknown scope {text!r}: expected a resource scope such as 'system/Observation.rs', or one of "
            f"{', '.join(sorted(SIMPLE_SCOPES))}, launch/<type>"
        )
    if context not in CONTEXTS:
        raise ScopeError(f"scope {text!r}: context {context!r} is not one of patient, user, system")
    body, qmark, query = rest.partition("?")
    resource_type, dot, permissions = body.partition(".")
    if not dot:
        raise ScopeError(f"scope {text!r}: expected '.' and permissions after the resource type {body!r}")
    if resource_type != "*" and not _RESOURCE_TYPE.match(resource_type):
        raise ScopeError(
            f"scope {text!r}: resource type {resource_type!r} is not a FHIR resource type name "
            "(capitalized letters, e.g. Observation) nor '*'"
        )
    if permissions in V1_PERMISSIONS:
        version, letters = 1, V1_PERMISSIONS[permissions]
        if qmark:
            raise ScopeError(
                f"scope {text!r}: a query ({'?' + query!r}) is SMART v2 syntax and needs v2 permissions "
                f"(e.g. .{letters}), not the v1 {permissions!r}"
            )
    else:
        version, letters = 2, permissions
        if letters == "":
            raise ScopeError(f"scope {text!r}: no permissions after '.' (expected e.g. rs, cruds, read)")
        if not _in_order(letters):
            raise ScopeError(
                f"scope {text!r}: permissions {letters!r} are not v1 (read, write, *) nor v2 letters, "
                "a subset of 'cruds' in that order"
            )
    pairs: list[tuple[str, str]] = []
    if qmark:
        if query == "":
            raise ScopeError(f"scope {text!r}: '?' with no param=value after it")
        for item in query.split("&"):
            name, eq, value = item.partition("=")
            if not eq or name == "" or value == "":
                raise ScopeError(f"scope {text!r}: query item {item!r} is not param=value")
            pairs.append((unquote(name), unquote(value)))
    return Scope(text, "resource", context, resource_type, letters, version, tuple(pairs))


def _in_order(letters: str) -> bool:
    pos = -1
    for ch in letters:
        i = _ORDER.find(ch)
        if i <= pos:  # unknown letter (-1), repeated, or out of order
            return False
        pos = i
    return True


def parse_scopes(text: str) -> list[Scope]:
    """Parse a space-separated scope string (the OAuth ``scope`` parameter). ``""`` gives ``[]``."""
    if not isinstance(text, str):
        raise ScopeError(f"a scope string must be a string, got {type(text).__name__}")
    if text == "":
        return []
    tokens = text.split(" ")
    for i, token in enumerate(tokens):
        if token == "":
            where = "leading" if i == 0 else "trailing" if i == len(tokens) - 1 else "double"
            raise ScopeError(f"scope string {text!r} has a {where} space: separate scopes by single spaces")
    return [parse_scope(t) for t in tokens]


def format_scopes(scopes: list[Scope]) -> str:
    """The space-separated scope string (each scope as written)."""
    return " ".join(s.text for s in scopes)


def covers(allowed: Scope, requested: Scope) -> bool:
    """Whether ``allowed`` includes everything ``requested`` asks for (same context, type or ``*``, every
    permission letter; an allowed query must be part of the requested one)."""
    if allowed.kind != "resource" or requested.kind != "resource":
        return allowed.kind == requested.kind and allowed.text == requested.text
    return (
        allowed.context == requested.context
        and allowed.resource_type in ("*", requested.resource_type)
        and set(requested.permissions) <= set(allowed.permissions)
        and set(allowed.query) <= set(requested.query)
    )


def matches_query(resource: dict, query: str | tuple[tuple[str, str], ...]) -> bool:
    """Whether one resource matches a search query (``param=value&...`` or pairs), with the workbook's
    FHIR store search semantics (token ``system|code``, string, date, reference parameters)."""
    from hitlab.fhirstore import FhirStore, SearchError  # imported only when a granular scope is tested

    if isinstance(query, str):
        query = tuple((k, v) for k, _, v in (item.partition("=") for item in query.split("&") if item))
    if not query:
        return True
    store = FhirStore()
    store.load_bundle({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": resource}]})
    type_ = resource["resourceType"]
    rid = store.resources(type_)[0]["id"]
    q = "&".join(f"{quote(k, safe=':.-_')}={quote(v, safe='|:/.-_,')}" for k, v in query)
    try:
        return store.search(f"{type_}?_id={quote(rid, safe='')}&{q}")["total"] == 1
    except SearchError:  # a query the store cannot evaluate on this type: no proof of a match
        return False


@dataclass(frozen=True)
class Decision:
    """The answer of :func:`decide`: ``allowed`` (also the truth value), the ``reason`` in words, the scope
    that grants it (``granted_by``) and, for granular scopes, the ``filters`` (queries) a returned resource
    must match one of. ``filters == ()`` means no restriction."""

    allowed: bool
    reason: str
    granted_by: Scope | None = None
    filters: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return self.allowed


def _letter(interaction: str) -> str:
    if interaction in INTERACTIONS:
        return INTERACTIONS[interaction]
    if len(interaction) == 1 and interaction in _ORDER:
        return interaction
    raise ScopeError(
        f"unknown interaction {interaction!r}: expected one of {', '.join(INTERACTIONS)} or a letter of cruds"
    )


def decide(
    scopes: list[Scope] | str,
    resource_type: str,
    interaction: str,
    params: dict[str, str] | list[tuple[str, str]] | None = None,
    resource: dict | None = None,
    context: str | None = None,
) -> Decision:
    """Decide whether granted ``scopes`` allow one FHIR request.

    ``interaction`` is a FHIR interaction name (``read``, ``vread``, ``search``, ``create``, ``update``,
    ``patch``, ``delete``, ``history-instance``, ``history-type``...) or a letter of ``cruds``. ``context``
    (patient/user/system) restricts which scopes count; None counts all three. ``params`` are the request's
    search parameters; ``resource`` the resource about to be returned (for granular scopes). Scopes other
    than resource scopes (launch, openid...) never grant access to data.
    """
    if isinstance(scopes, str):
        scopes = parse_scopes(scopes)
    if context is not None and context not in CONTEXTS:
        raise ScopeError(f"context {context!r} is not one of patient, user, system")
    letter = _letter(interaction)
    pairs = set(params.items() if isinstance(params, dict) else params or [])
    candidates = [
        s
        for s in scopes
        if s.kind == "resource"
        and (context is None or s.context == context)
        and s.resource_type in ("*", resource_type)
        and letter in s.permissions
    ]
    what = f"{interaction} on {resource_type}" + (f" in the {context} context" if context else "")
    if not candidates:
        return Decision(False, f"no granted scope allows {what} (needs '{letter}')")
    for s in candidates:
        if not s.query:
            return Decision(True, f"{s.text} allows {what}", s)
    if resource is not None:
        for s in candidates:
            if matches_query(resource, s.query):
                return Decision(True, f"{s.text} allows {what} for a resource matching {s.query_string}", s)
        queries = ", ".join(s.query_string for s in candidates)
        return Decision(False, f"the resource matches none of the granted queries ({queries}) for {what}")
    for s in candidates:
        if set(s.query) <= pairs:
            return Decision(True, f"{s.text} allows {what}: the request asks only for {s.query_string}", s)
    filters = tuple(dict.fromkeys(s.query_string for s in candidates))
    return Decision(
        True,
        f"{what} is allowed only for resources matching {' or '.join(filters)}",
        candidates[0],
        filters,
    )
