"""Loaders into DuckDB: Synthea CSV (2.x and 3.x, a directory or a zip), FHIR bundles / NDJSON, hitlab datasets.

Every load runs in one DuckDB transaction: it either writes all its tables or, on any error, none (tables that
existed before are left as they were). Bad input raises :class:`hitlab.errors.InputError` naming the file, the
line or column, and what was expected.

>>> report = load("data/generated/default", "pop.duckdb")  # doctest: +SKIP
>>> print(report.summary())  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

from hitlab.errors import InputError
from hitlab.load.database import Target, connection, settings_restored, transaction
from hitlab.load.fhir import SUFFIXES as FHIR_SUFFIXES
from hitlab.load.fhir import load_fhir_into
from hitlab.load.report import LoadReport
from hitlab.load.synthea_csv import load_csv_into

__all__ = ["LoadReport", "load", "load_csv", "load_fhir"]

MANIFEST = "manifest.json"


def _existing(src: str | Path) -> Path:
    path = Path(src)
    if not path.exists():
        raise InputError("no such file or directory", path=path)
    return path


def load_csv(src: str | Path, db: Target) -> LoadReport:
    """Load a Synthea CSV set (a directory of ``*.csv`` or a ``.zip`` of them, Synthea 2.5.0 to 3.4.0) into
    ``db`` (a DuckDB file path or an open connection), as the canonical 3.4.0 schema: all 19 tables, files
    missing from the set giving empty tables."""
    path = _existing(src)
    report = LoadReport(source=str(path), kind="synthea-csv")
    with connection(db) as conn, transaction(conn):
        load_csv_into(conn, path, report)
    return report


def load_fhir(src: str | Path, db: Target) -> LoadReport:
    """Load FHIR R4 (a directory of bundle ``.json`` / ``.ndjson`` files, one bundle, or one NDJSON file) into
    ``db`` as ``fhir_<type>`` landing tables plus ``fhir_reference``."""
    path = _existing(src)
    report = LoadReport(source=str(path), kind="fhir")
    with connection(db) as conn, settings_restored(conn), transaction(conn):
        load_fhir_into(conn, path, report)
    return report


def _detect(path: Path) -> tuple[str, Path | None, Path | None]:
    """(kind, CSV source, FHIR source) for ``path``."""
    if path.is_dir():
        csv_dir, fhir_dir = path / "csv", path / "fhir"
        if (path / MANIFEST).is_file():
            if not csv_dir.is_dir() and not fhir_dir.is_dir():
                raise InputError(f"a hitlab dataset ({MANIFEST}) without a csv/ or fhir/ folder", path=path)
            return "dataset", csv_dir if csv_dir.is_dir() else None, fhir_dir if fhir_dir.is_dir() else None
        names = [p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")]
        has_csv = any(p.suffix.lower() == ".csv" for p in names)
        has_fhir = any(p.suffix.lower() in FHIR_SUFFIXES for p in names)
        if has_csv or has_fhir:
            kind = "synthea-csv+fhir" if has_csv and has_fhir else "synthea-csv" if has_csv else "fhir"
            return kind, path if has_csv else None, path if has_fhir else None
        if csv_dir.is_dir() or fhir_dir.is_dir():  # Synthea's own output folder: output/csv, output/fhir
            return "dataset", csv_dir if csv_dir.is_dir() else None, fhir_dir if fhir_dir.is_dir() else None
        raise InputError(
            "found no Synthea CSV (*.csv), FHIR (*.json, *.ndjson) or hitlab dataset (manifest.json) here",
            path=path,
        )
    suffix = path.suffix.lower()
    if suffix == ".zip":
        return "synthea-csv", path, None
    if suffix in FHIR_SUFFIXES:
        return "fhir", None, path
    if suffix == ".csv":
        raise InputError(
            "load the directory that holds this file: a Synthea CSV set is loaded whole", path=path
        )
    raise InputError(
        "expected a directory, a .zip of Synthea CSV, a FHIR bundle (.json) or NDJSON (.ndjson)", path=path
    )


def load(src: str | Path, db: Target) -> LoadReport:
    """Load ``src`` into ``db`` (a DuckDB file path or an open ``duckdb.DuckDBPyConnection``), detecting what it is:

    1. a hitlab dataset directory (``manifest.json`` with ``csv/`` and/or ``fhir/``; Synthea's output folder
       with ``csv/`` and ``fhir/`` works too): both are loaded;
    2. a Synthea CSV set: a directory of ``*.csv`` or a ``.zip`` holding them (possibly in a subfolder);
    3. FHIR: a directory of bundle ``*.json`` / ``*.ndjson`` files, one bundle ``.json``, or one ``.ndjson``.

    Everything is loaded in one transaction. Returns a :class:`LoadReport`.
    """
    path = _existing(src)
    kind, csv_src, fhir_src = _detect(path)
    report = LoadReport(source=str(path), kind=kind)
    with connection(db) as conn, settings_restored(conn), transaction(conn):
        if csv_src is not None:
            load_csv_into(conn, csv_src, report)
        if fhir_src is not None:
            load_fhir_into(conn, fhir_src, report)
    return report
