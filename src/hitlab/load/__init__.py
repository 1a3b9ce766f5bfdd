"""Loaders into DuckDB: Synthea CSV (2.x and 3.x, a directory or a zip), FHIR bundles / NDJSON, hitlab datasets.

Every load runs in one DuckDB transaction: it either writes all its tables or, on any error, none (tables that
existed before are left as they were). Bad input raises :class:`hitlab.errors.InputError` naming the file, the
line or column, and what was expected.

>>> report = load("data/generated/default", "pop.duckdb")  # doctest: +SKIP
>>> print(report.summary())  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hitlab.errors import InputError
from hitlab.load import folder
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
    missing from the set giving empty tables, plus hitlab's own ``notes``, ``staff``, ``vip_patients`` and
    ``access_log`` tables when the set has their files. Other files in the directory are skipped and listed in ``report.skipped``."""
    path = _existing(src)
    report = LoadReport(source=str(path), kind="synthea-csv")
    with connection(db) as conn, transaction(conn):
        load_csv_into(conn, path, report)
    return report


def load_fhir(src: str | Path, db: Target) -> LoadReport:
    """Load FHIR R4 (a directory of bundle ``.json`` / ``.ndjson`` files, one bundle, or one NDJSON file) into
    ``db`` as ``fhir_<type>`` landing tables plus ``fhir_reference``. Other files in the directory (Synthea CSV,
    Synthea's run metadata, a README, ...) are skipped and listed in ``report.skipped``; a ``.json`` that is not
    FHIR is refused."""
    path = _existing(src)
    report = LoadReport(source=str(path), kind="fhir")
    with connection(db) as conn, settings_restored(conn), transaction(conn):
        load_fhir_into(conn, path, report)
    return report


@dataclass
class _Plan:
    """What :func:`load` reads: a CSV source and/or a FHIR source (a folder, a zip or a file), with the files
    chosen from a flat folder (None: the loader scans its folder itself) and the files left out."""

    kind: str
    csv: Path | None = None
    fhir: Path | None = None
    csv_files: list[Path] | None = None
    fhir_files: list[Path] | None = None
    skipped: dict[str, str] = field(default_factory=dict)


def _detect(path: Path) -> _Plan:
    """What ``path`` is and what to load from it (the folder rules are in :mod:`hitlab.load.folder`)."""
    if path.is_dir():
        csv_dir, fhir_dir = path / "csv", path / "fhir"
        if (path / MANIFEST).is_file():
            if not csv_dir.is_dir() and not fhir_dir.is_dir():
                raise InputError(f"a hitlab dataset ({MANIFEST}) without a csv/ or fhir/ folder", path=path)
            return _Plan(
                "dataset", csv_dir if csv_dir.is_dir() else None, fhir_dir if fhir_dir.is_dir() else None
            )
        items = folder.scan(path)
        has_csv, has_fhir = folder.has(items, folder.CSV), folder.fhir_wanted(items)
        if has_csv or has_fhir:
            chosen = folder.select(items, csv=has_csv, fhir=has_fhir)
            kind = "synthea-csv+fhir" if has_csv and has_fhir else "synthea-csv" if has_csv else "fhir"
            return _Plan(
                kind,
                path if has_csv else None,
                path if has_fhir else None,
                chosen.csv if has_csv else None,
                chosen.fhir if has_fhir else None,
                chosen.skipped,
            )
        if csv_dir.is_dir() or fhir_dir.is_dir():  # Synthea's own output folder: output/csv, output/fhir
            return _Plan(
                "dataset", csv_dir if csv_dir.is_dir() else None, fhir_dir if fhir_dir.is_dir() else None
            )
        found = folder.select(items, csv=False, fhir=False).skipped
        listed = "; ".join(f"{Path(name).name} ({why})" for name, why in found.items())
        raise InputError(
            "found no Synthea CSV (*.csv), FHIR (*.json, *.ndjson) or hitlab dataset (manifest.json) here"
            + (f"; the files here: {listed}" if listed else ""),
            path=path,
        )
    suffix = path.suffix.lower()
    if suffix == ".zip":
        return _Plan("synthea-csv", csv=path)
    if suffix in FHIR_SUFFIXES:
        return _Plan("fhir", fhir=path)
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

    A folder may hold other files too (Synthea's run metadata JSON, a README, ...): they are skipped and listed
    in ``report.skipped``. A folder that holds FHIR must hold nothing else that looks like JSON but is not FHIR;
    the rules are in :mod:`hitlab.load.folder`.

    Everything is loaded in one transaction. Returns a :class:`LoadReport`.
    """
    path = _existing(src)
    plan = _detect(path)
    report = LoadReport(source=str(path), kind=plan.kind, skipped=dict(plan.skipped))
    with connection(db) as conn, settings_restored(conn), transaction(conn):
        if plan.csv is not None:
            load_csv_into(conn, plan.csv, report, plan.csv_files)
        if plan.fhir is not None:
            load_fhir_into(conn, plan.fhir, report, plan.fhir_files)
    return report
