"""Synthea CSV sets (a directory or a ``.zip``, Synthea 2.5.0 … 3.4.0) into the canonical DuckDB schema.

Each file is read once, by DuckDB's ``read_csv`` with every column's type declared (no sniffing, no all-VARCHAR
second pass) and projected onto the canonical columns in the same ``CREATE OR REPLACE TABLE … AS SELECT``.
Only when DuckDB rejects a file does the slow pass of :mod:`hitlab.load.csv_diagnostics` look for the exact
line, column and value to report.
"""

from __future__ import annotations

import csv
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from hitlab.errors import InputError
from hitlab.load import archive, folder, schema
from hitlab.load.csv_diagnostics import diagnose
from hitlab.load.database import quote_ident, quote_literal, row_count
from hitlab.load.report import LoadReport

#: Header lines longer than this are not Synthea's.
_MAX_HEADER_BYTES = 1 << 16

#: How a source column is checked and converted: the canonical types, plus a bare year (2.x payer_transitions)
#: and, for headers matching no release, "a year or a timestamp".
YEAR = "YEAR"
YEAR_OR_TIMESTAMP = "YEAR_OR_TIMESTAMP"


@dataclass(frozen=True)
class SourceColumn:
    """A column as the file has it: its name, how it is read, and the canonical column it feeds."""

    name: str
    kind: str  # a DuckDB type, or YEAR / YEAR_OR_TIMESTAMP
    target: str

    @property
    def read_type(self) -> str:
        return {YEAR: schema.BIGINT, YEAR_OR_TIMESTAMP: schema.VARCHAR}.get(self.kind, self.kind)


@dataclass
class CsvFile:
    """One Synthea CSV file, with its header understood and its load planned."""

    table: str
    path: Path
    display: str
    header: tuple[str, ...]
    versions: tuple[str, ...]
    columns: list[SourceColumn]
    warnings: list[str] = field(default_factory=list)

    def select_sql(self) -> str:
        """The ``CREATE OR REPLACE TABLE … AS SELECT … FROM read_csv(…)`` that loads this file."""
        by_target = {c.target: c for c in self.columns}
        exprs = []
        for col in schema.canonical_columns(self.table):
            src = by_target.get(col.name)
            expr = f"CAST(NULL AS {col.type})" if src is None else _convert(self.table, src, col.type)
            exprs.append(f"{expr} AS {quote_ident(col.name)}")
        spec = ", ".join(f"{quote_literal(c.name)}: {quote_literal(c.read_type)}" for c in self.columns)
        return (
            f"CREATE OR REPLACE TABLE {quote_ident(self.table)} AS SELECT {', '.join(exprs)} "
            f"FROM read_csv({quote_literal(str(self.path))}, columns = {{{spec}}}, header = true, "
            "auto_detect = false, delim = ',', quote = '\"', escape = '\"', nullstr = '', "
            f"dateformat = {quote_literal(schema.DATE_FORMAT)}, "
            f"timestampformat = {quote_literal(schema.TIMESTAMP_FORMAT)}, "
            "strict_mode = true, null_padding = false, encoding = 'utf-8')"
        )


def _convert(table: str, src: SourceColumn, canonical_type: str) -> str:
    ident = quote_ident(src.name)
    if src.kind == YEAR:
        offset = schema.YEAR_COLUMNS[(table, src.name)]
        return f"make_timestamp({ident} + {offset}, 1, 1, 0, 0, 0)"
    if src.kind == YEAR_OR_TIMESTAMP:
        offset = schema.YEAR_COLUMNS[(table, src.name)]
        return (
            f"CASE WHEN regexp_full_match({ident}, '[0-9]{{1,4}}') "
            f"THEN make_timestamp(CAST({ident} AS BIGINT) + {offset}, 1, 1, 0, 0, 0) "
            f"ELSE strptime({ident}, {quote_literal(schema.TIMESTAMP_FORMAT)}) END"
        )
    if src.kind == canonical_type:
        return ident
    return f"CAST({ident} AS {canonical_type})"


def _read_header(path: Path, display: str) -> tuple[str, ...]:
    with open(path, "rb") as f:
        first = f.readline(_MAX_HEADER_BYTES)
    if not first:
        raise InputError(
            "the file is empty (0 bytes); expected at least Synthea's header line "
            "(a header-only file is fine and loads as 0 rows)",
            path=display,
        )
    try:
        text = first.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as err:
        raise InputError(
            f"not UTF-8: byte 0x{first[err.start]:02X} at byte offset {err.start} of the file cannot be decoded "
            "(expected UTF-8, as Synthea writes; re-save the file as UTF-8)",
            path=display,
            line=1,
        ) from err
    text = text.rstrip("\r\n")
    if not text.strip():
        raise InputError("line 1 is empty; expected Synthea's header line", path=display, line=1)
    return tuple(next(csv.reader([text])))


def _versions_before_3(versions: tuple[str, ...]) -> bool:
    return bool(versions) and all(int(v.split(".")[0]) < 3 for v in versions)


def _plan_hitlab(table: str, path: Path, display: str, header: tuple[str, ...]) -> CsvFile:
    expected = tuple(c.name for c in schema.canonical_columns(table))
    if header != expected:
        differs = next((h for h, e in zip(header, expected, strict=False) if h != e), None)
        column = differs or (expected[len(header)] if len(header) < len(expected) else header[len(expected)])
        raise InputError(
            f"not the header of hitlab's {table}.csv; expected: {','.join(expected)}; the header has: "
            f"{','.join(header)}",
            path=display,
            line=1,
            column=column,
        )
    columns = [SourceColumn(c.name, c.type, c.name) for c in schema.canonical_columns(table)]
    return CsvFile(table, path, display, header, (), columns)


def plan(table: str, path: Path, display: str) -> CsvFile:
    """Read the header of one file and plan its load; raise :class:`InputError` if it cannot be mapped."""
    header = _read_header(path, display)
    if table in schema.HITLAB_TABLES:
        return _plan_hitlab(table, path, display, header)
    versions = schema.matching_versions(table, header)
    canonical = {c.name: c.type for c in schema.canonical_columns(table)}
    columns: list[SourceColumn] = []
    unknown: list[str] = []
    fed: dict[str, str] = {}
    for name in header:
        target = name if name in canonical else schema.RENAMES.get((table, name))
        if target is None:
            unknown.append(name)
            continue
        if target in fed:
            raise InputError(
                f"columns {fed[target]!r} and {name!r} both hold {table}.{target}; expected only one of them",
                path=display,
                line=1,
                column=name,
            )
        fed[target] = name
        kind = canonical[target]
        if (table, name) in schema.YEAR_COLUMNS:
            if _versions_before_3(versions):
                kind = YEAR
            elif not versions:
                kind = YEAR_OR_TIMESTAMP
        columns.append(SourceColumn(name, kind, target))
    found = ", ".join(header)
    missing = [c for c in schema.required_columns(table) if c not in fed]
    if missing:
        names = ", ".join(missing)
        raise InputError(
            f"missing required column{'s' if len(missing) > 1 else ''} {names}; the header has: {found}",
            path=display,
            line=1,
            column=missing[0],
        )
    if unknown:
        expected = ", ".join(schema.known_columns(table))
        raise InputError(
            f"unknown column{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} for {table}.csv of "
            f"Synthea {schema.versions()[0]} to {schema.versions()[-1]}; expected columns among: {expected}",
            path=display,
            line=1,
            column=unknown[0],
        )
    warnings = []
    if not versions:
        absent = [c for c in canonical if c not in fed]
        warnings.append(
            f"{display}: header matches no Synthea release ({schema.versions()[0]} to {schema.versions()[-1]}); "
            "loaded by column name"
            + (f", with these columns left NULL: {', '.join(absent)}" if absent else "")
        )
    return CsvFile(table, path, display, header, versions, columns, warnings)


def _table_for(name: str, display: str) -> str:
    stem = name[: -len(".csv")].lower() if name.lower().endswith(".csv") else name
    if stem not in schema.tables() and stem not in schema.HITLAB_TABLES:
        expected = ", ".join(f"{t}.csv" for t in schema.tables())
        own = ", ".join(f"{t}.csv" for t in schema.HITLAB_TABLES)
        raise InputError(
            f"not a Synthea CSV file name; expected one of: {expected} (or hitlab's own {own})", path=display
        )
    return stem


def _plan_all(sources: list[tuple[Path, str]]) -> list[CsvFile]:
    files: dict[str, CsvFile] = {}
    for path, display in sources:
        table = _table_for(path.name, display)
        if table in files:
            raise InputError(
                f"a second file for table {table} (the first is {files[table].display})", path=display
            )
        files[table] = plan(table, path, display)
    return [files[t] for t in (*schema.tables(), *schema.HITLAB_TABLES) if t in files]


def _overall_versions(files: list[CsvFile], report: LoadReport) -> None:
    matched = [f for f in files if f.versions]
    if not matched:
        return
    common = set.intersection(*(set(f.versions) for f in matched))
    order = schema.versions()
    if common:
        report.synthea_versions = [v for v in order if v in common]
    else:
        union = set().union(*(f.versions for f in matched))
        report.synthea_versions = [v for v in order if v in union]
        detail = "; ".join(f"{f.table}: {', '.join(f.versions)}" for f in matched)
        report.warnings.append(f"the files match different Synthea releases ({detail})")


def _load_planned(conn: duckdb.DuckDBPyConnection, files: list[CsvFile], report: LoadReport) -> None:
    by_table = {f.table: f for f in files}
    for table in schema.tables():
        f = by_table.get(table)
        if f is None:
            cols = ", ".join(f"{quote_ident(c.name)} {c.type}" for c in schema.canonical_columns(table))
            conn.execute(f"CREATE OR REPLACE TABLE {quote_ident(table)} ({cols})")
        else:
            try:
                conn.execute(f.select_sql())
            except duckdb.Error as err:
                raise diagnose(f.path, f.display, f.columns, err) from err
        report.tables[table] = row_count(conn, table)
    for table in schema.HITLAB_TABLES:  # hitlab's own tables: loaded when present, never created empty
        f = by_table.get(table)
        if f is not None:
            try:
                conn.execute(f.select_sql())
            except duckdb.Error as err:
                raise diagnose(f.path, f.display, f.columns, err) from err
            report.tables[table] = row_count(conn, table)
    for f in files:
        report.file_versions[f.display] = list(f.versions)
        report.warnings.extend(f.warnings)
    _overall_versions(files, report)
    missing = [t for t in schema.tables() if t not in by_table]
    if missing:
        report.warnings.append(f"no file for {', '.join(missing)}: created empty")


def csv_sources(src: Path) -> list[tuple[Path, str]]:
    """The ``*.csv`` files directly in directory ``src``, sorted, as (path, display name)."""
    return [(p, str(p)) for p in folder.select(folder.scan(src), csv=True, fhir=False).csv]


def load_csv_into(
    conn: duckdb.DuckDBPyConnection, src: Path, report: LoadReport, files: list[Path] | None = None
) -> None:
    """Load the Synthea CSV set at ``src`` (a directory or a ``.zip``) into ``conn``, inside the caller's
    transaction; add what was loaded to ``report``. For a directory, ``files`` are its CSV files when the caller
    already chose them (and recorded what it skipped); otherwise the directory is scanned here and every file
    that is not CSV goes to ``report.skipped``."""
    if src.is_dir():
        others: dict[str, str] = {}
        if files is None:
            chosen = folder.select(folder.scan(src), csv=True, fhir=False)
            others, files = chosen.skipped, chosen.csv
        if not files:
            raise InputError("no .csv files in this directory; expected Synthea's CSV files", path=src)
        report.skipped.update(others)
        _load_planned(conn, _plan_all([(p, str(p)) for p in sorted(files)]), report)
        return
    if src.suffix.lower() != ".zip":
        raise InputError("expected a directory of Synthea CSV files or a .zip archive of them", path=src)
    with tempfile.TemporaryDirectory(prefix="hitlab-csv-") as tmp:
        members = archive.extract_csv(src, Path(tmp), report.skipped)
        _load_planned(conn, _plan_all([(m.path, m.display) for m in members]), report)
