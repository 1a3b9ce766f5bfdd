"""A small in-memory FHIR R4 (4.0.1) server for the labs: enough of the RESTful API to grade search URLs,
conditional creates and version-aware updates against the workbook's own bundles.

>>> store = FhirStore.from_bundles([hospital, practitioners, patient_bundle])
>>> store.request("GET", store.base + "/Observation?code=http://loinc.org|85354-9&_sort=-date").body
>>> store.request("POST", "Patient", body=patient, headers={"If-None-Exist": "identifier=sys|123"}).status
201

What it does, following https://hl7.org/fhir/R4/http.html and https://hl7.org/fhir/R4/search.html:

- **Loading bundles** (``transaction`` or ``batch``, as Synthea writes them): every entry is stored as version 1
  under its own ``id`` (a real server would assign new ids; keeping them makes results reproducible),
  ``urn:uuid:`` references become ``Type/id``, and conditional references (``Organization?identifier=s|v``)
  are resolved by a search when exactly one resource matches. Load the hospital and practitioner bundles first.
- **read / vread / create / update**: ``ETag: W/"n"`` on every response that carries a resource;
  ``meta.versionId`` and ``meta.lastUpdated`` are set by the store. Conditional create (``If-None-Exist``):
  no match 201 Created, one match 200 OK with the existing resource (nothing created), several 412.
  Update (``PUT Type/id``) with ``If-Match``: 412 Precondition Failed unless it names the current version.
- **search**: parameters ``_id`` and a per-type table (:data:`PARAMETERS`) of token, string, date and reference
  parameters; token ``code``, ``system|code``, ``|code``, ``system|``; string prefix match (case- and
  accent-insensitive), ``:exact``, ``:contains``; date prefixes ``eq ne gt lt ge le sa eb`` with the ranges
  implied by each value's precision; reference ``Type/id``, bare ``id``, ``:Type`` modifiers and one level of
  chaining (``subject:Patient.name=Smith``); commas are OR, repeated parameters AND; ``_sort`` (``-`` for
  descending), ``_count``, ``_include`` and ``_revinclude`` (``Type:param[:Target]``). Anything else is refused
  with 400 and an OperationOutcome saying what: the store is strict so learners see their mistakes.
"""

from __future__ import annotations

import copy
import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from hitlab.errors import HitlabError

BASE = "http://hitlab.example.org/fhir"
"""The store's default base URL."""
CLOCK_START = datetime(2026, 1, 1, tzinfo=UTC)
"""``meta.lastUpdated`` of the first write; each later write is one second later (reproducible)."""


class SearchError(HitlabError):
    """A search URL the store cannot evaluate (unknown parameter, bad value, unsupported feature)."""


@dataclass
class Response:
    """An HTTP response: ``status``, ``headers`` (``ETag``, ``Location``) and the JSON ``body``."""

    status: int
    body: dict | None = None
    headers: dict[str, str] = field(default_factory=dict)


def outcome(severity: str, code: str, text: str) -> dict:
    """An OperationOutcome with one issue."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": text}],
    }


# -- search parameters ---------------------------------------------------------------------------------------

_REF = "reference"
_SUBJECT = {
    "subject": (_REF, ("subject",), ("Patient", "Group")),
    "patient": (_REF, ("subject",), ("Patient",)),
}
_ENCOUNTER = {"encounter": (_REF, ("encounter",), ("Encounter",))}
PARAMETERS: dict[str, dict[str, tuple]] = {
    "Patient": {
        "identifier": ("token", ("identifier",)),
        "name": ("string", ("name",)),
        "family": ("string", ("name.family",)),
        "given": ("string", ("name.given",)),
        "gender": ("token", ("gender",)),
        "birthdate": ("date", ("birthDate",)),
    },
    "Observation": {
        "code": ("token", ("code",)),
        "category": ("token", ("category",)),
        "status": ("token", ("status",)),
        "component-code": ("token", ("component.code",)),
        "date": ("date", ("effectiveDateTime", "effectiveInstant", "effectivePeriod")),
        **_SUBJECT,
        **_ENCOUNTER,
    },
    "Condition": {
        "code": ("token", ("code",)),
        "category": ("token", ("category",)),
        "clinical-status": ("token", ("clinicalStatus",)),
        "onset-date": ("date", ("onsetDateTime", "onsetPeriod")),
        **_SUBJECT,
        **_ENCOUNTER,
    },
    "Encounter": {
        "class": ("token", ("class",)),
        "type": ("token", ("type",)),
        "status": ("token", ("status",)),
        "date": ("date", ("period",)),
        "service-provider": (_REF, ("serviceProvider",), ("Organization",)),
        **_SUBJECT,
    },
    "MedicationRequest": {
        "code": ("token", ("medicationCodeableConcept",)),
        "status": ("token", ("status",)),
        "authoredon": ("date", ("authoredOn",)),
        **_SUBJECT,
        **_ENCOUNTER,
    },
    "Immunization": {
        "vaccine-code": ("token", ("vaccineCode",)),
        "date": ("date", ("occurrenceDateTime",)),
        "patient": (_REF, ("patient",), ("Patient",)),
    },
    "Procedure": {
        "code": ("token", ("code",)),
        "date": ("date", ("performedDateTime", "performedPeriod")),
        **_SUBJECT,
        **_ENCOUNTER,
    },
    "Organization": {"identifier": ("token", ("identifier",)), "name": ("string", ("name",))},
    "Location": {"identifier": ("token", ("identifier",)), "name": ("string", ("name",))},
    "Practitioner": {"identifier": ("token", ("identifier",)), "name": ("string", ("name",))},
}
"""Search parameters per resource type: name → (type, element paths[, reference target types])."""

_IGNORED = {"_format", "_pretty"}
_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb")
_DATE = re.compile(
    r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$"
)


def _values(resource: dict, path: str) -> list[Any]:
    """Every value at a dotted ``path`` (lists flattened at each step)."""
    out = [resource]
    for part in path.split("."):
        nxt = []
        for v in out:
            if isinstance(v, dict) and part in v:
                item = v[part]
                nxt.extend(item if isinstance(item, list) else [item])
        out = nxt
    return out


def date_range(text: str) -> tuple[datetime, datetime]:
    """The half-open range ``[low, high)`` a FHIR date, dateTime or instant covers, by its precision."""
    m = _DATE.match(text)
    if not m:
        raise SearchError(f"{text!r} is not a FHIR date, dateTime or instant")
    year, month, day, hour, minute, second, fraction, tz = m.groups()
    if hour is not None and tz is None and second is not None:
        tz = "Z"  # a time without a zone: read it as UTC (the data's convention)
    zone = UTC
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        zone = timezone(sign * timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6])))
    try:
        low = datetime(int(year), int(month or 1), int(day or 1), int(hour or 0), int(minute or 0),
                       int(second or 0), tzinfo=zone)  # fmt: skip
    except ValueError as err:
        raise SearchError(f"{text!r} is not a valid date: {err}") from None
    if month is None:
        high = low.replace(year=low.year + 1)
    elif day is None:
        high = low.replace(year=low.year + (low.month == 12), month=low.month % 12 + 1)
    elif hour is None:
        high = low + timedelta(days=1)
    elif second is None:
        high = low + timedelta(minutes=1)
    elif fraction:
        low = low + timedelta(seconds=float(fraction))
        high = low + timedelta(milliseconds=1)
    else:
        high = low + timedelta(seconds=1)
    return low, high


_MIN = datetime.min.replace(tzinfo=UTC)
_MAX = datetime.max.replace(tzinfo=UTC)


def _target_ranges(value: Any) -> list[tuple[datetime, datetime]]:
    if isinstance(value, str):
        return [date_range(value)]
    if isinstance(value, dict) and ("start" in value or "end" in value):  # Period
        low = date_range(value["start"])[0] if "start" in value else _MIN
        high = date_range(value["end"])[1] if "end" in value else _MAX
        return [(low, high)]
    return []


def _date_matches(prefix: str, s: tuple[datetime, datetime], t: tuple[datetime, datetime]) -> bool:
    (s1, s2), (t1, t2) = s, t
    contains = s1 <= t1 and t2 <= s2
    return {
        "eq": contains,
        "ne": not contains,
        "gt": t2 > s2,
        "lt": t1 < s1,
        "ge": t2 > s2 or contains,
        "le": t1 < s1 or contains,
        "sa": t1 >= s2,
        "eb": t2 <= s1,
    }[prefix]


def _tokens(value: Any) -> list[tuple[str | None, str]]:
    """(system, code) pairs of a CodeableConcept, Coding, Identifier, code or boolean."""
    if isinstance(value, bool):
        return [(None, str(value).lower())]
    if isinstance(value, str):
        return [(None, value)]
    if not isinstance(value, dict):
        return []
    if "coding" in value:
        return [p for c in value["coding"] for p in _tokens(c)]
    if "code" in value:
        return [(value.get("system"), value["code"])]
    if "value" in value:  # Identifier
        return [(value.get("system"), value["value"])]
    return []


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):  # HumanName, Address: every string part
        out = []
        for k in ("text", "family", "given", "prefix", "suffix", "line", "city", "state", "postalCode"):
            v = value.get(k)
            out.extend(v if isinstance(v, list) else [v] if isinstance(v, str) else [])
        return out
    return []


@dataclass
class _Criterion:
    name: str
    modifier: str | None
    chain: str | None
    values: list[str]  # OR'ed


class FhirStore:
    """Resources by type and id, with their version history; see the module docstring."""

    def __init__(self, base: str = BASE) -> None:
        self.base = base.rstrip("/")
        self._history: dict[tuple[str, str], list[dict]] = {}
        self._writes = 0

    # -- loading ------------------------------------------------------------------------------------------

    @classmethod
    def from_bundles(cls, bundles: Iterable[dict | str | Path], base: str = BASE) -> FhirStore:
        """A store holding the resources of ``bundles`` (dicts or JSON files), loaded in order."""
        store = cls(base)
        for b in bundles:
            store.load_bundle(b)
        return store

    def load_bundle(self, bundle: dict | str | Path) -> None:
        """Store every entry of a bundle, rewriting ``urn:uuid:`` and conditional references to ``Type/id``."""
        if not isinstance(bundle, dict):
            bundle = json.loads(Path(bundle).read_text(encoding="utf-8"))
        if bundle.get("resourceType") != "Bundle":
            raise ValueError("load_bundle expects a Bundle")
        full_urls = {}
        resources = []
        for i, entry in enumerate(bundle.get("entry", [])):
            res = copy.deepcopy(entry.get("resource"))
            if not isinstance(res, dict) or "resourceType" not in res:
                raise ValueError(f"Bundle.entry[{i}] has no resource")
            res.setdefault("id", entry.get("fullUrl", "").removeprefix("urn:uuid:") or f"entry{i}")
            full_urls[entry.get("fullUrl")] = f"{res['resourceType']}/{res['id']}"
            resources.append(res)
        stored = [self._write(res) for res in resources]
        for res in stored:  # after all are stored, so conditional references can find each other
            self._rewrite(res, full_urls)

    def _rewrite(self, node: Any, full_urls: dict[str, str]) -> None:
        if isinstance(node, list):
            for v in node:
                self._rewrite(v, full_urls)
        elif isinstance(node, dict):
            ref = node.get("reference")
            if isinstance(ref, str):
                if ref in full_urls:
                    node["reference"] = full_urls[ref]
                elif "?" in ref and not ref.startswith("#"):
                    type_, query = ref.split("?", 1)
                    found = self._matches(type_, query)
                    if len(found) == 1:
                        node["reference"] = f"{type_}/{found[0]['id']}"
            for k, v in node.items():
                if k != "reference":
                    self._rewrite(v, full_urls)

    def _write(self, resource: dict) -> dict:
        key = (resource["resourceType"], resource["id"])
        versions = self._history.setdefault(key, [])
        stored = copy.deepcopy(resource)
        meta = dict(stored.get("meta") or {})
        meta["versionId"] = str(len(versions) + 1)
        meta["lastUpdated"] = (
            (CLOCK_START + timedelta(seconds=self._writes)).isoformat().replace("+00:00", "Z")
        )
        self._writes += 1
        stored["meta"] = meta
        versions.append(stored)
        return stored

    # -- access -------------------------------------------------------------------------------------------

    def resources(self, resource_type: str | None = None) -> list[dict]:
        """The current version of every resource (of one type), in the order first stored."""
        return [v[-1] for (t, _), v in self._history.items() if resource_type in (None, t)]

    def get(self, resource_type: str, resource_id: str) -> dict | None:
        versions = self._history.get((resource_type, resource_id))
        return copy.deepcopy(versions[-1]) if versions else None

    def history(self, resource_type: str, resource_id: str) -> list[dict]:
        return copy.deepcopy(self._history.get((resource_type, resource_id), []))

    def _path(self, url: str) -> str:
        if url.startswith(self.base + "/"):
            return url[len(self.base) + 1 :]
        if "://" in url.split("?", 1)[0]:
            raise SearchError(f"{url!r} is not on this server's base {self.base}")
        return url.lstrip("/")

    def _found(self, resource: dict, status: int = 200, location: bool = False) -> Response:
        version = resource["meta"]["versionId"]
        headers = {"ETag": f'W/"{version}"'}
        if location:
            headers["Location"] = (
                f"{self.base}/{resource['resourceType']}/{resource['id']}/_history/{version}"
            )
        return Response(status, copy.deepcopy(resource), headers)

    def request(
        self, method: str, url: str, body: dict | None = None, headers: dict | None = None
    ) -> Response:
        """One RESTful interaction: GET (read, vread, search), POST (create), PUT (update)."""
        headers = {k.lower(): v for k, v in (headers or {}).items()}
        method = method.upper()
        try:
            path = self._path(url)
        except SearchError as err:
            return Response(400, outcome("error", "invalid", str(err)))
        type_, _, rest = path.partition("?")[0].partition("/")
        if type_ not in PARAMETERS:
            return Response(404, outcome("error", "not-supported", f"unknown resource type {type_!r}"))
        if method == "GET" and ("?" in path or not rest):
            try:
                return Response(200, self.search(path))
            except SearchError as err:
                return Response(400, outcome("error", "invalid", str(err)))
        if method == "GET":
            parts = rest.split("/")
            versions = self._history.get((type_, parts[0]), [])
            if not versions:
                return Response(404, outcome("error", "not-found", f"{type_}/{parts[0]} is not known"))
            if (
                len(parts) == 3
                and parts[1] == "_history"
                and parts[2].isdigit()
                and 0 < int(parts[2]) <= len(versions)
            ):
                return self._found(versions[int(parts[2]) - 1])
            if len(parts) == 1:
                return self._found(versions[-1])
            return Response(404, outcome("error", "not-found", f"no {path}"))
        if not isinstance(body, dict) or body.get("resourceType") != type_:
            return Response(400, outcome("error", "invalid", f"the body must be a {type_} resource"))
        if method == "POST" and not rest:
            return self._create(type_, body, headers.get("if-none-exist"))
        if method == "PUT" and rest and "/" not in rest:
            return self._update(type_, rest, body, headers.get("if-match"))
        return Response(405, outcome("error", "not-supported", f"{method} {path} is not supported"))

    def _create(self, type_: str, body: dict, if_none_exist: str | None) -> Response:
        if if_none_exist is not None:
            query = if_none_exist.split("?", 1)[1] if "?" in if_none_exist else if_none_exist
            try:
                found = self._matches(type_, query)
            except SearchError as err:
                return Response(400, outcome("error", "invalid", f"If-None-Exist: {err}"))
            if len(found) == 1:
                return self._found(found[0])
            if len(found) > 1:
                return Response(
                    412, outcome("error", "duplicate", f"If-None-Exist matched {len(found)} resources")
                )
        res = copy.deepcopy(body)
        res["id"] = f"{type_.lower()}-{sum(1 for t, _ in self._history if t == type_) + 1}"
        while (type_, res["id"]) in self._history:
            res["id"] += "x"
        return self._found(self._write(res), 201, location=True)

    def _update(self, type_: str, rid: str, body: dict, if_match: str | None) -> Response:
        if body.get("id") != rid:
            return Response(400, outcome("error", "invalid", f"the body's id must be {rid!r}"))
        versions = self._history.get((type_, rid))
        if if_match is not None:
            if not versions:
                return Response(404, outcome("error", "not-found", f"{type_}/{rid} is not known"))
            current = versions[-1]["meta"]["versionId"]
            if if_match.strip() not in (f'W/"{current}"', f'"{current}"'):
                return Response(
                    412, outcome("error", "conflict", f"If-Match {if_match} is not the current version")
                )
        return self._found(self._write(body), 200 if versions else 201, location=True)

    # -- search -------------------------------------------------------------------------------------------

    def search(self, url: str) -> dict:
        """Evaluate a search URL (absolute on this base, or ``Type?query``); a ``searchset`` Bundle."""
        path = self._path(url)
        type_, _, query = path.partition("?")
        if type_ not in PARAMETERS:
            raise SearchError(f"unknown resource type {type_!r}")
        pairs = parse_qsl(query, keep_blank_values=True)
        special = [(k, v) for k, v in pairs if k.startswith("_") and k != "_id"]
        matches = self._matches(type_, "", parsed=[p for p in pairs if p not in special])
        includes: list[dict] = []
        count = None
        for k, v in special:
            if k in _IGNORED:
                continue
            if k == "_sort":
                matches = self._sorted(type_, matches, v)
            elif k == "_count":
                if not v.isdigit():
                    raise SearchError(f"_count must be a number, got {v!r}")
                count = int(v)
            elif k not in ("_include", "_revinclude"):
                raise SearchError(f"parameter {k!r} is not supported by this store")
        if count is not None:
            matches = matches[:count]
        seen = {(r["resourceType"], r["id"]) for r in matches}
        for k, v in special:
            if k == "_include":
                includes += self._include(matches, v, seen)
            elif k == "_revinclude":
                includes += self._revinclude(matches, v, seen)
        total = len(matches)
        entries = [self._entry(r, "match") for r in matches] + [self._entry(r, "include") for r in includes]
        return {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": total,
            "link": [{"relation": "self", "url": f"{self.base}/{path}"}],
            "entry": entries,
        }

    def _entry(self, resource: dict, mode: str) -> dict:
        return {
            "fullUrl": f"{self.base}/{resource['resourceType']}/{resource['id']}",
            "resource": copy.deepcopy(resource),
            "search": {"mode": mode},
        }

    def _parse(self, type_: str, pairs: list[tuple[str, str]]) -> list[_Criterion]:
        out = []
        for key, value in pairs:
            name, _, chain = key.partition(".")
            name, _, modifier = name.partition(":")
            if name != "_id" and name not in PARAMETERS[type_]:
                raise SearchError(f"{type_} has no search parameter {name!r} (this store knows: "
                                  f"_id, {', '.join(PARAMETERS[type_])})")  # fmt: skip
            if value == "":
                raise SearchError(f"parameter {key!r} has an empty value")
            out.append(_Criterion(name, modifier or None, chain or None, value.split(",")))
        return out

    def _matches(self, type_: str, query: str, parsed: list[tuple[str, str]] | None = None) -> list[dict]:
        if type_ not in PARAMETERS:
            raise SearchError(f"unknown resource type {type_!r}")
        pairs = parse_qsl(query, keep_blank_values=True) if parsed is None else parsed
        criteria = self._parse(type_, pairs)
        return [r for r in self.resources(type_) if all(self._test(type_, r, c) for c in criteria)]

    def _test(self, type_: str, resource: dict, c: _Criterion) -> bool:
        if c.name == "_id":
            return resource.get("id") in c.values
        spec = PARAMETERS[type_][c.name]
        kind, paths = spec[0], spec[1]
        values = [v for p in paths for v in _values(resource, p)]
        if kind == "reference":
            return self._test_reference(values, spec[2], c)
        if c.chain:
            raise SearchError(f"{c.name} is a {kind} parameter: it cannot be chained")
        if kind == "token":
            if c.modifier:
                raise SearchError(f"modifier :{c.modifier} is not supported on {c.name}")
            pairs = [p for v in values for p in _tokens(v)]
            return any(_token_matches(q, pairs) for q in c.values)
        if kind == "string":
            texts = [_fold(s) for v in values for s in _strings(v)]
            exact = [s for v in values for s in _strings(v)]
            for q in c.values:
                if c.modifier == "exact" and q in exact:
                    return True
                if c.modifier == "contains" and any(_fold(q) in t for t in texts):
                    return True
                if c.modifier is None and any(t.startswith(_fold(q)) for t in texts):
                    return True
                if c.modifier not in (None, "exact", "contains"):
                    raise SearchError(f"modifier :{c.modifier} is not supported on {c.name}")
            return False
        if c.modifier:
            raise SearchError(f"modifier :{c.modifier} is not supported on {c.name}")
        ranges = [r for v in values for r in _target_ranges(v)]
        for q in c.values:
            prefix = q[:2] if q[:2] in _PREFIXES else "eq"
            if q[:2].isalpha() and q[:2] not in _PREFIXES:
                raise SearchError(
                    f"{q[:2]!r} is not a date prefix this store supports ({', '.join(_PREFIXES)})"
                )
            s = date_range(q[2:] if q[:2] in _PREFIXES else q)
            if any(_date_matches(prefix, s, t) for t in ranges):
                return True
        return False

    def _test_reference(self, values: list[Any], targets: tuple[str, ...], c: _Criterion) -> bool:
        refs = [self._path(v["reference"]) for v in values if isinstance(v, dict) and "reference" in v]
        if c.modifier:
            if c.modifier not in targets:
                raise SearchError(f"{c.name} cannot refer to a {c.modifier}")
            targets = (c.modifier,)
        refs = [r for r in refs if r.split("/")[0] in targets]
        if c.chain:
            wanted = set()
            for t in targets:
                if c.chain.split(":")[0] not in PARAMETERS.get(t, {}):
                    continue
                query = [(c.chain, ",".join(c.values))]
                wanted |= {f"{t}/{r['id']}" for r in self._matches(t, "", parsed=query)}
            if not any(c.chain.split(":")[0] in PARAMETERS.get(t, {}) for t in targets):
                raise SearchError(f"cannot chain {c.chain!r} from {c.name}")
            return any(r in wanted for r in refs)
        for q in c.values:
            q = self._path(q)
            if "/" in q:
                if q in refs:
                    return True
            elif any(r.split("/")[-1] == q for r in refs):
                return True
        return False

    def _sorted(self, type_: str, matches: list[dict], spec: str) -> list[dict]:
        out = list(matches)
        for key in reversed(spec.split(",")):
            desc = key.startswith("-")
            name = key.lstrip("-")
            if name == "_id":
                out.sort(key=lambda r: r["id"], reverse=desc)
                continue
            if name not in PARAMETERS[type_] or PARAMETERS[type_][name][0] == "reference":
                raise SearchError(f"cannot sort {type_} by {name!r}")
            kind, paths = PARAMETERS[type_][name][:2]

            def sort_key(r, kind=kind, paths=paths):
                values = [v for p in paths for v in _values(r, p)]
                if kind == "date":
                    ranges = [t for v in values for t in _target_ranges(v)]
                    return min(t[0] for t in ranges) if ranges else None
                if kind == "token":
                    pairs = [p[1] for v in values for p in _tokens(v)]
                    return min(pairs) if pairs else None
                texts = [_fold(s) for v in values for s in _strings(v)]
                return min(texts) if texts else None

            present = [r for r in out if sort_key(r) is not None]
            missing = [r for r in out if sort_key(r) is None]
            present.sort(key=sort_key, reverse=desc)
            out = present + missing
        return out

    def _include_spec(self, value: str) -> tuple[str, str, tuple[str, ...]]:
        parts = value.split(":")
        if len(parts) not in (2, 3) or parts[0] not in PARAMETERS or parts[1] not in PARAMETERS[parts[0]]:
            raise SearchError(f"{value!r} is not of the form SourceType:parameter[:TargetType]")
        spec = PARAMETERS[parts[0]][parts[1]]
        if spec[0] != "reference":
            raise SearchError(f"{parts[0]}:{parts[1]} is not a reference parameter")
        targets = spec[2] if len(parts) == 2 else (parts[2],)
        return parts[0], parts[1], targets

    def _include(self, matches: list[dict], value: str, seen: set) -> list[dict]:
        source, param, targets = self._include_spec(value)
        out = []
        for r in matches:
            if r["resourceType"] != source:
                continue
            for v in (v for p in PARAMETERS[source][param][1] for v in _values(r, p)):
                ref = self._path(v.get("reference", "")) if isinstance(v, dict) else ""
                t, _, rid = ref.partition("/")
                if t in targets and (t, rid) not in seen and (found := self._history.get((t, rid))):
                    seen.add((t, rid))
                    out.append(found[-1])
        return out

    def _revinclude(self, matches: list[dict], value: str, seen: set) -> list[dict]:
        source, param, targets = self._include_spec(value)
        wanted = {f"{r['resourceType']}/{r['id']}" for r in matches if r["resourceType"] in targets}
        out = []
        for r in self.resources(source):
            refs = {self._path(v["reference"]) for p in PARAMETERS[source][param][1] for v in _values(r, p)
                    if isinstance(v, dict) and "reference" in v}  # fmt: skip
            if refs & wanted and (source, r["id"]) not in seen:
                seen.add((source, r["id"]))
                out.append(r)
        return out


def _token_matches(query: str, pairs: list[tuple[str | None, str]]) -> bool:
    if "|" not in query:
        return any(code == query for _, code in pairs)
    system, code = query.split("|", 1)
    if system == "":
        return any(s is None and c == code for s, c in pairs)
    if code == "":
        return any(s == system for s, _ in pairs)
    return any(s == system and c == code for s, c in pairs)


def result_keys(bundle: dict) -> list[tuple[str, str]]:
    """``(search mode, "Type/id")`` of each entry of a searchset Bundle, in order."""
    return [
        (e.get("search", {}).get("mode", "match"), f"{e['resource']['resourceType']}/{e['resource']['id']}")
        for e in bundle.get("entry", [])
    ]
