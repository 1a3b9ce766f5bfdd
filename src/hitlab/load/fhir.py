"""FHIR R4 bundles and NDJSON into DuckDB landing tables, with every reference listed and resolved.

Tables written:

- ``fhir_<type>`` per resource type (lower-case, e.g. ``fhir_observation``): ``id``, ``patient_id``,
  ``encounter_id``, ``source`` (file name, plus ``:line`` for NDJSON) and ``resource`` (JSON: the whole resource;
  an NDJSON line exactly as it is, a bundle entry's resource as DuckDB re-serializes it: the same JSON value,
  without insignificant whitespace);
- ``fhir_reference(source_type, source_id, path, reference, target_type, target_id)``: every ``reference``
  string anywhere in every resource; ``path`` says where (``subject``, ``participant[0].individual``, ...); the
  target columns are NULL when the reference does not resolve to a loaded resource.

Resolution: ``urn:uuid:…`` and other absolute URLs against bundle entries' ``fullUrl`` (the same bundle first);
relative ``Type/id`` (and absolute URLs ending in ``Type/id``) against loaded resources; conditional
``Type?identifier=system|value`` (percent-decoded; ``|value`` means no system, a bare value any system) against
the loaded resources of that type with that identifier, when exactly one matches. Contained references (``#id``)
point inside their own resource and stay unresolved. ``patient_id`` is a Patient's own id, else the resolved
Patient of ``subject``, ``patient`` or ``beneficiary``; ``encounter_id`` the resolved Encounter of ``encounter``,
``context`` or (DocumentReference) ``context.encounter[0]``.

Bundle entries without a ``resource`` are left out when they carry a ``request`` or a ``response`` (R4's
``Bundle.entry.resource`` is 0..1: a batch-response or transaction-response answers each request with an
``entry.response`` and holds a resource only when the server returned one; batch, transaction and history
bundles may hold a bare ``entry.request``, e.g. a DELETE), with one note per Bundle in ``LoadReport.notes``. An
entry with none of the three breaks R4's invariant bdl-5 and is refused.

Files are read hospital and practitioner bundles first (Synthea's ``hospitalInformation*.json`` and
``practitionerInformation*.json``, which patient bundles reference conditionally), then by name; resolution runs
after all files are read, so it never depends on the order.

Speed: DuckDB reads, parses and walks everything (``read_text``, ``json_transform``, ``json_keys``, ``json_tree``)
in a handful of statements; Python only lists the files and, after DuckDB found something wrong, re-reads the
culprit to say exactly where. (Parsing in Python with ``json.loads`` alone costs more than this whole load.)

Memory: files are read, checked and landed in batches of about :data:`BATCH_BYTES`; across batches only what
resolving needs is kept (each resource's load order, type, id and fullUrl, and the references), and patient and
encounter ids are filled into the landed tables at the end, so a load's memory does not grow with the size of
the resources (into a database file, under :func:`fhir_memory_limit`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb

from hitlab.errors import InputError
from hitlab.load import folder
from hitlab.load.database import is_file_backed, quote_ident, quote_literal
from hitlab.load.report import LoadReport

#: Synthea's batch bundles of Organization/Location and Practitioner/PractitionerRole, read first.
FIRST_PREFIXES = ("hospitalInformation", "practitionerInformation")
SUFFIXES = (".json", ".ndjson")

#: Paths whose resolved Patient gives a resource's patient_id, and Encounter its encounter_id, by preference.
PATIENT_PATHS = ("subject", "patient", "beneficiary")
ENCOUNTER_PATHS = ("encounter", "context", "context.encounter[0]")

_TYPE_PATTERN = "[A-Z][A-Za-z0-9]{0,63}"
_ID = r"[A-Za-z0-9\-.]{1,64}"
_RELATIVE = rf"^([A-Z][A-Za-z]+)/({_ID})(/_history/{_ID})?$"
_ABSOLUTE = rf"^[A-Za-z][A-Za-z0-9+.\-]*://.*?/([A-Z][A-Za-z]+)/({_ID})(/_history/{_ID})?$"
_CONDITIONAL = r"^([A-Z][A-Za-z0-9]*)\?identifier=([^&]*)$"
#: DuckDB writes a resource's JSON compactly, keys in their order: usually resourceType, then id, come first.
_LEADING_TYPE = r'^\{"resourceType":"([A-Za-z0-9]+)"'
_LEADING_ID = r'^\{"resourceType":"[A-Za-z0-9]+","id":"([A-Za-z0-9.\-]{1,64})"'
_BUNDLE_SHAPE = '{"resourceType": "VARCHAR", "entry": [{"fullUrl": "VARCHAR", "resource": "JSON"}]}'
_T = "_hitlab_fhir_"  # prefix of the temporary tables
_SEQ = "_hitlab_seq"  # a landing table's column of load order while the load runs
#: Files are read, checked and landed in runs of about this many bytes; only what resolves references (ids,
#: fullUrls, the references themselves) is kept across runs, so memory does not grow with the resources' size.
BATCH_BYTES = 48 * 2**20


def fhir_memory_limit() -> str:
    """DuckDB's memory cap during a FHIR load into a database file: 1 GB, or a quarter of physical memory where
    that is less (a Binder session has 2 GB), at least 256 MB. Resources are landed a batch of files at a time
    (:data:`BATCH_BYTES`); what is kept across batches to resolve references spills to disk past the cap."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 4 * 2**30
    return f"{max(256, min(1024, total // 4 // 2**20))}MB"


def sort_key(path: Path) -> tuple[int, str]:
    """Hospital and practitioner bundles first, then by name."""
    return (0 if path.name.startswith(FIRST_PREFIXES) else 1, path.name)


def fhir_sources(src: Path) -> list[Path]:
    """The FHIR files directly in directory ``src`` (as :mod:`hitlab.load.folder` tells them), in load order."""
    return sorted(folder.select(folder.scan(src), csv=False, fhir=True).fhir, key=sort_key)


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(quote_literal(v) for v in values) + ")"


class _Files:
    """The files of one load: number (load order), path, display name, and whether NDJSON."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths
        self.by_fno = {n: p for n, p in enumerate(paths, 1)}

    def display(self, fno: int) -> str:
        return str(self.by_fno[fno])

    def batches(self) -> list[list[int]]:
        """The file numbers in load order, in runs of about :data:`BATCH_BYTES` (a larger file is a run of its
        own) that are all bundles or all NDJSON, so that a run's resources come out of DuckDB in load order."""
        runs: list[list[int]] = []
        size = 0
        for fno, path in self.by_fno.items():
            try:
                length = path.stat().st_size
            except OSError:
                length = 0  # reading it says what is wrong
            if not runs or size + length > BATCH_BYTES or self.is_ndjson(fno) != self.is_ndjson(runs[-1][0]):
                runs.append([])
                size = 0
            runs[-1].append(fno)
            size += length
        return runs

    def is_ndjson(self, fno: int) -> bool:
        return self.by_fno[fno].suffix.lower() == ".ndjson"

    def paths_sql(self, fnos: list[int]) -> str:
        return "[" + ", ".join(quote_literal(str(self.by_fno[n].resolve())) for n in fnos) + "]"

    def fno_sql(self, fnos: list[int]) -> str:
        return "[" + ", ".join(str(n) for n in fnos) + "]"

    def names_sql(self, fnos: list[int]) -> str:
        return "[" + ", ".join(quote_literal(self.by_fno[n].name) for n in fnos) + "]"


# --- the slow pass: say exactly what is wrong -----------------------------------------------------------------


def _decode(path: Path, display: str) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as err:
        raise InputError(
            f"not UTF-8: byte 0x{data[err.start]:02X} at byte offset {err.start} of the file cannot be decoded "
            "(expected UTF-8 JSON)",
            path=display,
            line=data.count(b"\n", 0, err.start) + 1,
        ) from err


# --- the fast path ----------------------------------------------------------------------------------------------


class _Load:
    """One FHIR load, as a few SQL statements over temporary tables (prefix ``_hitlab_fhir_``), run for each
    batch of files and then once to resolve the references."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, files: _Files, report: LoadReport) -> None:
        self.conn = conn
        self.files = files
        self.report = report
        self.made: set[str] = set()  # tables this load created, to append to
        self.counts: dict[str, int] = {}  # resources landed, by type
        self.refs = 0  # references found so far

    def sql(self, text: str) -> list[tuple]:
        return self.conn.execute(text).fetchall()

    def append(self, table: str, query: str, *, temp: bool = True) -> None:
        """Add the rows of ``query`` to ``table``, which the first call creates (replacing any older one)."""
        if table in self.made:
            self.sql(f"INSERT INTO {table} SELECT * FROM ({query})")
        else:
            self.sql(f"CREATE OR REPLACE {'TEMP ' if temp else ''}TABLE {table} AS {query}")
            self.made.add(table)

    def run(self) -> None:
        for batch in self.files.batches():
            self.read(batch)
            self.check()
            self.references()
            self.keep()
        self.resolve()
        self.land()
        for name in ("res", "ref", "idx", "ident", "resolved", "context"):
            self.sql(f"DROP TABLE IF EXISTS {_T}{name}")

    def read(self, batch: list[int]) -> None:
        """One statement reads, parses and flattens a batch of files: a row per resource (bundle entry or NDJSON
        line) with its type, id, and the top-level elements that hold a reference somewhere; plus one row for
        each bundle without entries and each file that is not a bundle, so that :meth:`check` can complain."""
        bundles = [n for n in batch if not self.files.is_ndjson(n)]
        ndjson = [n for n in batch if self.files.is_ndjson(n)]
        no_bom = "CASE WHEN starts_with(content, chr(65279)) THEN content[2:] ELSE content END"
        blank = "' ' || chr(9) || chr(13)"
        sources = []
        if bundles:
            pos = f"list_position({self.files.paths_sql(bundles)}, filename)"
            sources.append(
                f"SELECT {self.files.fno_sql(bundles)}[{pos}] AS fno, 0 AS line, {self.files.names_sql(bundles)}[{pos}] "
                f"AS source, {no_bom} AS text FROM read_text({self.files.paths_sql(bundles)})"
            )
        if ndjson:
            pos = f"list_position({self.files.paths_sql(ndjson)}, filename)"
            sources.append(
                f"""
                SELECT fno, line, name || ':' || line AS source, trim(text, {blank}) AS text FROM (
                    SELECT fno, name, unnest(lines) AS text, generate_subscripts(lines, 1) AS line FROM (
                        SELECT {self.files.fno_sql(ndjson)}[{pos}] AS fno, {self.files.names_sql(ndjson)}[{pos}] AS name,
                            string_split({no_bom}, chr(10)) AS lines
                        FROM read_text({self.files.paths_sql(ndjson)})))
                WHERE trim(text, {blank}) <> ''
                """
            )
        try:
            self.sql(
                f"""
                CREATE OR REPLACE TEMP TABLE {_T}res AS
                WITH units AS ({" UNION ALL ".join(sources)}),
                parsed AS (
                    SELECT fno, line, source, s.resourceType AS doc_rt,
                        CASE WHEN s.resourceType = 'Bundle' THEN s.entry END AS entries,
                        CASE WHEN line > 0 AND s.resourceType IS DISTINCT FROM 'Bundle' THEN text END AS line_text
                    FROM (SELECT fno, line, source, text, json_transform(text, '{_BUNDLE_SHAPE}') AS s FROM units)
                ), flat AS (
                    SELECT fno, line, source, doc_rt, line_text, len(entries) > 0 AS has_entries,
                        unnest(CASE WHEN len(entries) > 0 THEN entries ELSE [NULL] END) AS e,
                        generate_subscripts(CASE WHEN len(entries) > 0 THEN entries ELSE [NULL] END, 1) - 1 AS idx
                    FROM parsed
                ), rows AS (
                    SELECT fno, line, source, doc_rt,
                        CASE WHEN line_text IS NOT NULL THEN -1 ELSE idx END AS idx,
                        CASE WHEN line_text IS NOT NULL THEN 'line' WHEN has_entries THEN 'entry'
                             WHEN doc_rt = 'Bundle' THEN 'empty' ELSE 'bad' END AS role,
                        e.fullUrl AS full_url,
                        CASE WHEN line_text IS NOT NULL THEN CAST(line_text AS JSON) ELSE e.resource END AS resource
                    FROM flat
                )
                SELECT (fno::HUGEINT << 80) | (line::HUGEINT << 40) | (idx + 1) AS seq, fno, line, idx, source, role, doc_rt,
                    full_url, resource, NULL::VARCHAR AS patient_id, NULL::VARCHAR AS encounter_id,
                    coalesce(nullif(regexp_extract(resource, '{_LEADING_TYPE}', 1), ''),
                             json_extract_string(resource, '$.resourceType')) AS rtype,
                    coalesce(nullif(regexp_extract(resource, '{_LEADING_ID}', 1), ''),
                             json_extract_string(resource, '$.id'),
                             CASE WHEN starts_with(full_url, 'urn:uuid:') THEN full_url[10:] END) AS id,
                    CASE WHEN contains(resource, '"reference"') THEN list_filter(
                        list_zip(json_keys(resource), json_extract(resource, '$.*')),
                        lambda m: contains(m[2], '"reference"')) END AS members
                FROM rows
                """
            )
        except duckdb.Error as err:
            raise self.slow_diagnosis(err, batch) from err

    def check(self) -> None:
        """Complain, in load order, about the first file, line or entry that is not what it must be.

        A Bundle entry without a resource is fine when it carries a ``request`` or a ``response`` (R4 bdl-5:
        ``entry.resource`` is 0..1; the entries of a batch-response / transaction-response, or of a history,
        batch or transaction Bundle, may hold only those): it is left out, with a note per Bundle. Such entries
        are rare, so the Bundles that have them are re-read here rather than parsed further on the fast path."""
        bundles: dict[tuple[int, int], object] = {}  # (fno, line) -> the parsed Bundle, read once
        bare: dict[tuple[int, int], list[tuple[int, bool, bool]]] = {}  # (idx, has request, has response)
        suspects = self.sql(
            f"""
            SELECT fno, line, idx, role, doc_rt, resource IS NULL, rtype FROM {_T}res
            WHERE role IN ('bad', 'empty') OR resource IS NULL OR rtype IS NULL
               OR NOT regexp_full_match(rtype, '{_TYPE_PATTERN}')
            ORDER BY seq
            """
        )
        for fno, line, idx, role, doc_rt, no_resource, rtype in suspects:
            display = self.files.display(fno)
            if role == "entry" and no_resource:
                if (fno, line) not in bundles:
                    bundles[fno, line] = _unit_value(self.files, fno, line)
                entry = _entry(bundles[fno, line], idx)
                request, response = entry.get("request") is not None, entry.get("response") is not None
                if request or response:
                    bare.setdefault((fno, line), []).append((idx, request, response))
                    continue
            if role == "empty":  # a bundle without usable entries: fine if it has no entry at all
                value = _unit_value(self.files, fno, line)
                if isinstance(value, dict) and value.get("entry") not in (None, []):
                    kind = _json_kind(value["entry"])
                    raise InputError(
                        f"Bundle.entry is {kind}; expected an array", path=display, line=line or None
                    )
                continue
            if role == "bad" or (role == "line" and rtype is None):
                value = _unit_value(self.files, fno, line)
                found = f"resourceType {doc_rt!r}" if doc_rt else "no resourceType"
                if not isinstance(value, dict):
                    found = _json_kind(value)
                if line == 0:
                    hint = "; put single resources in an NDJSON file (one resource a line)" if doc_rt else ""
                    raise InputError(
                        f"expected a FHIR Bundle (resourceType 'Bundle'), found {found}{hint}", path=display
                    )
                raise InputError(
                    f"expected a FHIR resource (a JSON object with a resourceType), found {found}",
                    path=display,
                    line=line,
                )
            where = (
                "this line"
                if role == "line"
                else f"Bundle.entry[{idx}]"
                if line == 0
                else (f"this line's Bundle.entry[{idx}]")
            )
            if no_resource:
                problem = f"{where} has no resource; expected each entry to hold a FHIR resource"
            elif rtype is None:
                problem = f"{where}.resource has no resourceType; expected a FHIR resource"
            else:
                problem = f"{where} has resourceType {rtype!r}; expected a FHIR resource type like 'Patient'"
            raise InputError(problem, path=display, line=line or None)
        for (fno, line), entries in sorted(bare.items()):
            bundle = bundles[fno, line]
            assert isinstance(bundle, dict)  # it has entries, so it parsed as a Bundle object
            btype = bundle.get("type")
            carried = [
                name
                for name, present in (
                    ("entry.request", any(e[1] for e in entries)),
                    ("entry.response", any(e[2] for e in entries)),
                )
                if present
            ]
            self.report.notes.append(
                f"{self.files.display(fno)}{f', line {line}' if line else ''}: {len(entries)} of "
                f"{len(bundle['entry'])} entries of this {f'{btype} ' if isinstance(btype, str) else ''}Bundle "
                f"have no resource, only {' or '.join(carried)}; "
                f"not loaded: Bundle.entry[{_ranges([e[0] for e in entries])}]"
            )
        self.sql(f"DELETE FROM {_T}res WHERE role IN ('bad', 'empty') OR resource IS NULL")

    def slow_diagnosis(self, err: duckdb.Error, batch: list[int]) -> InputError:
        """After DuckDB failed to read or parse a batch of files: find the first file (and line) that is not
        UTF-8 or not JSON, in Python, and say where exactly."""
        for fno in batch:
            display = self.files.display(fno)
            text = _decode(self.files.by_fno[fno], display)
            units = (
                [(n, line) for n, line in enumerate(text.split("\n"), 1)]
                if self.files.is_ndjson(fno)
                else [(0, text)]
            )
            for line, unit in units:
                if line and not unit.strip():
                    continue
                try:
                    json.loads(unit, parse_constant=_reject_constant)
                except json.JSONDecodeError as bad:
                    return InputError(
                        f"invalid JSON: {bad.msg}",
                        path=display,
                        line=line or bad.lineno,
                        column=str(bad.colno),
                    )
                except ValueError as bad:
                    return InputError(f"invalid JSON: {bad}", path=display, line=line or None)
        return InputError(f"DuckDB could not read the FHIR files: {_first_line(err)}")

    def references(self) -> None:
        """Every ``reference`` string of the batch and where it is (walking only the elements that hold one)."""
        self.append(
            f"{_T}ref",
            f"""
            WITH members AS (
                SELECT seq, fno, line, rtype, id, key, node, pos, top,
                    -- the common case: an element that is itself a Reference, holding no other one
                    contains(node, '"reference":"') AND length(node) - length(replace(node, '"reference"', '')) = 11
                        AND top IS NOT NULL AS simple
                FROM (
                    SELECT *, m[1] AS key, m[2] AS node,
                        CASE WHEN starts_with(m[2], '{{') THEN json_extract_string(m[2], '$.reference') END AS top
                    FROM (
                    SELECT seq, fno, line, rtype, id, unnest(members) AS m, generate_subscripts(members, 1) AS pos
                    FROM {_T}res WHERE members IS NOT NULL
                ))
            ), found AS (
                SELECT seq, fno, line, rtype AS source_type, id AS source_id, pos, 0 AS node_id, key AS path,
                       top AS reference
                FROM members WHERE simple
                UNION ALL
                SELECT m.seq, m.fno, m.line, m.rtype, m.id, m.pos, t.id, m.key || t.fullkey[2:-11],
                       json_extract_string(t.atom, '$')
                FROM members m, json_tree(m.node) t
                WHERE NOT m.simple AND t.key = 'reference' AND t.type = 'VARCHAR'
            )
            SELECT {self.refs} + row_number() OVER (ORDER BY seq, pos, node_id) AS ref_seq, seq, fno, line,
                source_type, source_id, path, reference,
                starts_with(reference, 'urn:') OR regexp_matches(reference, '^[A-Za-z][A-Za-z0-9+.\\-]*://') AS is_url,
                CASE WHEN NOT starts_with(reference, 'urn:') AND NOT starts_with(reference, '#')
                     THEN regexp_extract(reference, '{_RELATIVE}', ['t', 'i']) END AS rel,
                CASE WHEN contains(reference, '://')
                     THEN regexp_extract(reference, '{_ABSOLUTE}', ['t', 'i']) END AS abs,
                CASE WHEN contains(reference, '?')
                     THEN regexp_extract(reference, '{_CONDITIONAL}', ['t', 'q']) END AS cond
            FROM found
            """,
        )
        self.refs = self.sql(f"SELECT count(*) FROM {_T}ref")[0][0]

    def keep(self) -> None:
        """What resolving needs of the batch's resources (load order, type, id, fullUrl), and the resources into
        their landing tables, with a column of load order (patient and encounter are filled in at the end)."""
        self.append(f"{_T}idx", f"SELECT seq, fno, line, rtype, id, full_url FROM {_T}res")
        for rtype, count in self.sql(f"SELECT rtype, count(*) FROM {_T}res GROUP BY rtype ORDER BY rtype"):
            self.append(
                _landing(rtype),
                f"SELECT seq AS {_SEQ}, id, patient_id, encounter_id, source, resource FROM {_T}res "
                f"WHERE rtype = {quote_literal(rtype)}",
                temp=False,
            )
            self.counts[rtype] = self.counts.get(rtype, 0) + count

    def resolve(self) -> None:
        """Targets for every reference, then each resource's patient_id and encounter_id."""
        targets = [
            t for (t,) in self.sql(f"SELECT DISTINCT cond.t FROM {_T}ref WHERE cond.t <> '' ORDER BY 1")
        ]
        landed = " UNION ALL ".join(
            f"SELECT {_SEQ} AS seq, {quote_literal(t)} AS rtype, id, resource FROM {_landing(t)}"
            for t in targets
            if t in self.counts
        )
        self.sql(
            f"""
            CREATE OR REPLACE TEMP TABLE {_T}ident AS
            WITH items AS (
                SELECT r.seq, r.rtype, r.id, unnest(CASE json_type(r.resource, '$.identifier')
                    WHEN 'ARRAY' THEN json_extract(r.resource, '$.identifier[*]')
                    WHEN 'OBJECT' THEN [json_extract(r.resource, '$.identifier')] END) AS i
                FROM ({landed or "SELECT NULL::HUGEINT AS seq, '' AS rtype, '' AS id, NULL::JSON AS resource"}) r
            )
            SELECT seq, rtype, id, i->>'system' AS system, i->>'value' AS value FROM items WHERE i->>'value' IS NOT NULL
            """
        )
        kinds = self.sql(
            f"""
            SELECT count(*) FILTER (WHERE rel.t <> '' OR abs.t <> ''), count(*) FILTER (WHERE cond.t <> '')
            FROM {_T}ref
            """
        )[0]
        url_clash = self.sql(
            f"SELECT count(full_url) <> count(DISTINCT full_url) FROM {_T}idx WHERE full_url IS NOT NULL"
        )[0][0]
        lookups = [("u", "by_url", "r.is_url AND u.full_url = r.reference")]
        ctes = [
            f"""by_url AS (
                SELECT full_url, arg_min(rtype, seq) AS rtype, arg_min(id, seq) AS id
                FROM {_T}idx WHERE full_url IS NOT NULL GROUP BY full_url)"""
        ]
        if url_clash:  # the same fullUrl in several bundles: prefer the referring bundle's own entry
            lookups.insert(
                0,
                (
                    "ub",
                    "by_url_bundle",
                    "r.is_url AND ub.full_url = r.reference AND ub.fno = r.fno AND ub.line = r.line",
                ),
            )
            ctes.append(
                f"""by_url_bundle AS (
                    SELECT fno, line, full_url, arg_min(rtype, seq) AS rtype, arg_min(id, seq) AS id
                    FROM {_T}idx WHERE full_url IS NOT NULL GROUP BY fno, line, full_url)"""
            )
        if kinds[0]:
            ctes.append(f"by_id AS (SELECT DISTINCT rtype, id FROM {_T}idx WHERE id IS NOT NULL)")
            lookups.append(("t1", "by_id", "r.rel.t <> '' AND t1.rtype = r.rel.t AND t1.id = r.rel.i"))
            lookups.append(("t2", "by_id", "r.abs.t <> '' AND t2.rtype = r.abs.t AND t2.id = r.abs.i"))
        if kinds[1]:
            ctes.append(
                f"""by_identifier AS (
                SELECT c.ref_seq, min(i.rtype) AS rtype, min(i.id) AS id
                FROM (SELECT ref_seq, cond.t AS rtype, url_decode(cond.q) AS token FROM {_T}ref WHERE cond.t <> '') c
                JOIN {_T}ident i ON i.rtype = c.rtype
                 AND i.value = CASE WHEN contains(c.token, '|') THEN c.token[strpos(c.token, '|') + 1:] ELSE c.token END
                 AND (NOT contains(c.token, '|') OR coalesce(i.system, '') = c.token[:strpos(c.token, '|') - 1])
                GROUP BY c.ref_seq HAVING count(DISTINCT i.id) = 1)"""
            )
            lookups.append(("c", "by_identifier", "c.ref_seq = r.ref_seq"))
        target_type = "coalesce(" + ", ".join(f"{a}.rtype" for a, _, _ in lookups) + ")"
        target_id = (
            "CASE " + " ".join(f"WHEN {a}.rtype IS NOT NULL THEN {a}.id" for a, _, _ in lookups) + " END"
        )
        joins = "\n".join(f"LEFT JOIN {t} {a} ON {on}" for a, t, on in lookups)
        self.sql(
            f"""
            CREATE OR REPLACE TEMP TABLE {_T}resolved AS
            WITH {", ".join(ctes)}
            SELECT r.ref_seq, r.seq, r.source_type, r.source_id, r.path, r.reference,
                {target_type} AS target_type, {target_id} AS target_id
            FROM {_T}ref r
            {joins}
            """
        )
        patient_rank = " ".join(f"WHEN {quote_literal(p)} THEN {n}" for n, p in enumerate(PATIENT_PATHS))
        encounter_rank = " ".join(f"WHEN {quote_literal(p)} THEN {n}" for n, p in enumerate(ENCOUNTER_PATHS))
        self.sql(
            f"""
            CREATE OR REPLACE TEMP TABLE {_T}context AS
            SELECT seq, any_value(source_type) AS rtype,
                arg_min(target_id, CASE path {patient_rank} END)
                    FILTER (WHERE target_type = 'Patient' AND path IN {_in(PATIENT_PATHS)}) AS patient_id,
                arg_min(target_id, CASE path {encounter_rank} END)
                    FILTER (WHERE target_type = 'Encounter' AND path IN {_in(ENCOUNTER_PATHS)}) AS encounter_id
            FROM {_T}resolved
            WHERE path IN {_in(PATIENT_PATHS + ENCOUNTER_PATHS)}
            GROUP BY seq
            """
        )
        # An UPDATE keeps the wide resource column out of any hash table (a join in each landing query did not).
        for (rtype,) in self.sql(f"SELECT DISTINCT rtype FROM {_T}context ORDER BY 1"):
            table = _landing(rtype)
            self.sql(
                f"""
                UPDATE {table} SET patient_id = x.patient_id, encounter_id = x.encounter_id
                FROM (SELECT * FROM {_T}context WHERE rtype = {quote_literal(rtype)}) x WHERE {table}.{_SEQ} = x.seq
                """
            )
        if "Patient" in self.counts:
            self.sql(f"UPDATE {_landing('Patient')} SET patient_id = id")

    def land(self) -> None:
        """``fhir_<type>`` per resource type without the load-order column, and ``fhir_reference``."""
        for rtype, count in sorted(self.counts.items()):
            self.sql(f"ALTER TABLE {_landing(rtype)} DROP COLUMN {_SEQ}")
            self.report.tables[f"fhir_{rtype.lower()}"] = count
        self.sql(
            f"""
            CREATE OR REPLACE TABLE fhir_reference AS
            SELECT source_type, source_id, path, reference, target_type, target_id FROM {_T}resolved
            """
        )
        total, unresolved = self.sql(
            "SELECT count(*), count(*) FILTER (WHERE target_type IS NULL) FROM fhir_reference"
        )[0]
        self.report.tables["fhir_reference"] = total
        self.report.references = (self.report.references or 0) + total
        self.report.unresolved_references = (self.report.unresolved_references or 0) + unresolved


def _landing(rtype: str) -> str:
    """The table of resources of type ``rtype``, quoted."""
    return quote_ident(f"fhir_{rtype.lower()}")


def _unit_value(files: _Files, fno: int, line: int) -> object:
    """The parsed JSON of one unit (slow path, for messages)."""
    text = _decode(files.by_fno[fno], files.display(fno))
    return json.loads(text.split("\n")[line - 1] if line else text)


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON value")


def _json_kind(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return "a JSON " + names.get(type(value), "number").removeprefix("a ").removeprefix("an ")


def _entry(bundle: object, idx: int) -> dict:
    """Entry ``idx`` of a parsed Bundle, or {} when it is not an object (slow path, for :meth:`_Load.check`)."""
    entries = bundle.get("entry") if isinstance(bundle, dict) else None
    entry = entries[idx] if isinstance(entries, list) and idx < len(entries) else None
    return entry if isinstance(entry, dict) else {}


def _ranges(numbers: list[int]) -> str:
    """``[1, 2, 3, 5]`` as ``1-3, 5``."""
    runs: list[list[int]] = []
    for n in sorted(numbers):
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def load_fhir_into(
    conn: duckdb.DuckDBPyConnection, src: Path, report: LoadReport, files: list[Path] | None = None
) -> None:
    """Load FHIR from ``src`` (a directory of bundles / NDJSON, one bundle ``.json``, or one ``.ndjson``) into
    ``conn``, inside the caller's transaction; add what was loaded to ``report``. For a directory, ``files`` are
    its FHIR files when the caller already chose them (and recorded what it skipped); otherwise the directory is
    scanned here and the files that are not FHIR go to ``report.skipped``."""
    if src.is_dir():
        others: dict[str, str] = {}
        if files is None:
            chosen = folder.select(folder.scan(src), csv=False, fhir=True)
            others, files = chosen.skipped, chosen.fhir
        paths = sorted(files, key=sort_key)
        if not paths:
            listed = "; ".join(f"{Path(name).name} ({why})" for name, why in others.items())
            raise InputError(
                "no FHIR files (bundle .json or .ndjson) in this directory; expected FHIR bundles"
                + (f"; the files here: {listed}" if listed else ""),
                path=src,
            )
        report.skipped.update(others)
    elif src.suffix.lower() in SUFFIXES:
        paths = [src]
    else:
        raise InputError("expected a FHIR bundle (.json), NDJSON (.ndjson) or a directory of them", path=src)
    # The work is per-row JSON functions over tables of one or a few row groups, which DuckDB runs on one thread
    # anyway; a second thread only adds coordination (measured ~20% slower on 2 cores), so use one. The caller
    # restores the settings after the transaction (hitlab.load.database.settings_restored).
    conn.execute("SET threads = 1")
    if is_file_backed(conn):  # every resource passes through temporary tables: let them spill, not exhaust
        conn.execute(f"SET memory_limit = '{fhir_memory_limit()}'")
    _Load(conn, _Files(paths), report).run()
