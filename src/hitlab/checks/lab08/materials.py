"""What the learner works with in lab 08: the lab's fixed parameters (the as-of date, age bands, code lists, cost
bands), scratch DuckDB workspaces holding copies of the source tables (the shared dataset is read-only), the
batch of the incremental-load exercise, and a FHIR Bulk Data export written from the dataset's FHIR bundles.

Nothing here knows an answer: the checks' expected values live in ``reference.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from hitlab.errors import HitlabError

AS_OF = date(2025, 7, 1)
"""The day the population-health questions look at (prevalence, risk tiers): a day inside the data's years."""

AGE_BANDS = (("0-17", 0, 17), ("18-44", 18, 44), ("45-64", 45, 64), ("65+", 65, 200))
"""Age bands in whole years at :data:`AS_OF`: (label, lowest age, highest age), in reporting order."""

HYPERTENSION = "59621000"
"""SNOMED CT 59621000 Essential hypertension (disorder): the condition of the prevalence question."""

CHRONIC = {
    "59621000": "Essential hypertension",
    "44054006": "Diabetes mellitus type 2",
    "55822004": "Hyperlipidemia",
    "88805009": "Chronic congestive heart failure",
    "13645005": "Chronic obstructive lung disease",
    "195967001": "Asthma",
    "433144002": "Chronic kidney disease stage 3",
    "36923009": "Major depression, single episode",
}
"""SNOMED CT codes of the chronic conditions counted by the risk tiers."""

METFORMIN = "860975"
"""RxNorm 860975, 24 HR metformin hydrochloride 500 MG extended release oral tablet: the new-user cohort's drug."""

ER_CLASSES = ("emergency", "urgentcare")
OP_CLASSES = ("ambulatory", "wellness", "outpatient")
VISIT_CONCEPTS = {
    9201: "Inpatient Visit",
    9202: "Outpatient Visit",
    9203: "Emergency Room Visit",
    262: "Emergency Room and Inpatient Visit",
}
"""OMOP standard Visit concepts (vocabulary ``Visit``) used by the visit_occurrence exercise."""
OBSERVATION_PERIOD_TYPE = 32882
"""``period_type_concept_id`` ETL-Synthea (CDM 5.4 branch) writes on every observation period."""

COST_BANDS = (("< $500", 0, 500), ("$500-2k", 500, 2000), ("$2k-10k", 2000, 10000), ("$10k+", 10000, None))
"""Annual paid-amount bands of the distribution plot: (label, from, to), a member in a band when
``from <= paid < to`` (no upper bound for the last)."""

STAR_SOURCES = ("patients", "encounters", "conditions", "providers")
EXPORT_TYPES = ("Patient", "Encounter", "Condition")
EXPORT_BASE = "https://bulk.hitlab.test/fhir"
EXPORT_PATIENTS = 200
"""How many patients the lab's bulk export holds (the first 200 bundles): enough to be real, quick to load."""


class Lab08Error(HitlabError, ValueError):
    """Bad input to one of lab 08's helpers."""


def _source():
    from hitlab.checks.sql import connection

    return connection().cursor()


def workspace(tables: Iterable[str] = STAR_SOURCES, frames: Mapping[str, Any] | None = None):
    """A scratch in-memory DuckDB database you may write to, holding copies of the dataset's ``tables``
    (default: patients, encounters, conditions, providers), or of ``frames`` (name -> DataFrame) instead.

    >>> con = workspace()
    >>> con.sql("select count(*) from encounters").fetchone()
    """
    import duckdb

    con = duckdb.connect()
    if frames is None:
        src = _source()
        known = {r[0] for r in src.execute("select table_name from information_schema.tables").fetchall()}
        frames = {}
        for name in tables:
            if name not in known:
                raise Lab08Error(
                    f"workspace: the dataset has no table {name!r}; it has {', '.join(sorted(known))}"
                )
            frames[name] = src.table(name).df()
    for name, frame in frames.items():
        con.register("_frame", frame)
        con.execute(f'create table "{name}" as select * from _frame')
        con.unregister("_frame")
    return con


# -- the incremental batch ----------------------------------------------------------------------------------

HELD_BACK = 3  # patients who first appear in the batch
CHANGED = 8  # patients whose city and ZIP change in the batch
RESENT = 5  # encounters already loaded that the batch sends again


def batch_split(frames: Mapping[str, Any] | None = None) -> tuple[dict, dict, date]:
    """Split the dataset into an initial load and one later batch: ``(initial, batch, as_of)``.

    ``initial`` maps patients, encounters, conditions, providers to DataFrames: encounters that started before
    ``as_of`` (180 days before the last encounter's day), without a few held-back patients. ``batch`` holds
    the rest: the encounters from ``as_of`` on, the held-back patients and their earlier encounters (facts
    that arrive late), a few encounters sent again, the conditions of all these, and patient rows of which
    some moved (a new CITY and ZIP) on ``as_of``.
    """
    import pandas as pd

    if frames is None:
        src = _source()
        frames = {name: src.table(name).df() for name in STAR_SOURCES}
    patients, encounters = frames["patients"], frames["encounters"]
    conditions, providers = frames["conditions"], frames["providers"]
    as_of = (encounters["START"].max() - pd.Timedelta(days=180)).date()
    ids = sorted(patients["Id"])
    held = set(ids[:HELD_BACK])
    late = (encounters["START"] >= pd.Timestamp(as_of)) | encounters["PATIENT"].isin(held)
    first = encounters[~late]
    resent = first.sort_values("Id").head(RESENT)
    batch_enc = pd.concat([encounters[late], resent])
    movers = sorted(set(encounters.loc[encounters["START"] >= pd.Timestamp(as_of), "PATIENT"]) - held)[
        :CHANGED
    ]
    moved = patients[patients["Id"].isin(movers)].copy()
    moved["CITY"] = "Springfield"
    moved["ZIP"] = [f"011{i:02d}" for i in range(len(moved))]
    same = [i for i in ids[HELD_BACK:] if i not in set(movers)][:2]
    unchanged = patients[patients["Id"].isin(same)]  # sent again as they were
    initial = {
        "patients": patients[~patients["Id"].isin(held)].reset_index(drop=True),
        "encounters": first.reset_index(drop=True),
        "conditions": conditions[conditions["ENCOUNTER"].isin(set(first["Id"]))].reset_index(drop=True),
        "providers": providers.reset_index(drop=True),
    }
    batch = {
        "patients": pd.concat([patients[patients["Id"].isin(held)], moved, unchanged]).reset_index(drop=True),
        "encounters": batch_enc.reset_index(drop=True),
        "conditions": conditions[conditions["ENCOUNTER"].isin(set(batch_enc["Id"]))].reset_index(drop=True),
    }
    return initial, batch, as_of


# -- FHIR Bulk Data export ----------------------------------------------------------------------------------


def _bundles(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.glob("*.json") if "Information" not in p.name)
    if not files:
        raise Lab08Error(f"{folder}: no FHIR bundles (*.json) to export; build the dataset first")
    return files


def _relative_refs(value: Any, types: Mapping[str, str]) -> Any:
    """``urn:uuid:X`` references (a transaction bundle's) as ``Type/X`` (a server's, as in an export)."""
    if isinstance(value, dict):
        out = {k: _relative_refs(v, types) for k, v in value.items()}
        ref = out.get("reference")
        if isinstance(ref, str) and ref.startswith("urn:uuid:") and ref[9:] in types:
            out["reference"] = f"{types[ref[9:]]}/{ref[9:]}"
        return out
    if isinstance(value, list):
        return [_relative_refs(v, types) for v in value]
    return value


@cache
def _export_lines(fhir_dir: str, types: tuple[str, ...], patients: int | None) -> dict[str, tuple[str, ...]]:
    lines: dict[str, list[str]] = {t: [] for t in types}
    for path in _bundles(Path(fhir_dir))[:patients]:
        try:
            bundle = json.loads(path.read_text(encoding="utf-8"))
            entries = bundle["entry"]
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise Lab08Error(f"{path}: not a FHIR Bundle with entries ({err})") from None
        kinds = {}
        for i, entry in enumerate(entries):
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(resource, dict) or "resourceType" not in resource or "id" not in resource:
                raise Lab08Error(f"{path}: entry {i} has no resource with a resourceType and an id")
            kinds[resource["id"]] = resource["resourceType"]
        for entry in entries:
            resource = entry["resource"]
            if resource["resourceType"] in lines:
                lines[resource["resourceType"]].append(
                    json.dumps(_relative_refs(resource, kinds), separators=(",", ":"))
                )
    return {t: tuple(v) for t, v in lines.items()}


def write_bulk_export(
    folder: str | Path, types: Iterable[str] = EXPORT_TYPES, dataset: str = "default",
    transaction_time: datetime | None = None, patients: int | None = None,
) -> Path:  # fmt: skip
    """Write the dataset's resources of ``types`` as a FHIR Bulk Data export into ``folder``: one NDJSON file
    per type (``Patient.ndjson``: one resource a line, references as ``Patient/<id>``) and ``manifest.json``,
    the body of the completed ``$export`` status request (Bulk Data Access IG 2.0.0): ``transactionTime``,
    ``request``, ``requiresAccessToken``, ``output`` (``type``, ``url``, ``count``) and ``error`` (empty). The
    IG's other members are not written: ``deleted`` (with ``_since``: files of transaction Bundles whose DELETE
    entries name resources deleted since then) and ``extension``; ``error`` files carry OperationOutcomes of
    any severity, warnings and information included.
    ``patients`` limits the export to the first that many patients' bundles (file-name order); all by default.
    Returns the manifest's path.
    """
    from hitlab.data import dataset_dir

    types = tuple(types)
    if not types or any(not isinstance(t, str) or not t[:1].isupper() for t in types):
        raise Lab08Error(f"write_bulk_export: types should be FHIR resource type names, got {types!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fhir_dir = dataset_dir(dataset) / "fhir"
    if not fhir_dir.is_dir():
        _source()  # builds the default dataset on first use
    if patients is not None and (not isinstance(patients, int) or isinstance(patients, bool) or patients < 1):
        raise Lab08Error(f"write_bulk_export: patients should be a positive whole number, got {patients!r}")
    lines = _export_lines(str(fhir_dir), types, patients)
    when = transaction_time or datetime(2026, 1, 1, tzinfo=UTC)
    output = []
    for kind in types:
        (folder / f"{kind}.ndjson").write_text("".join(line + "\n" for line in lines[kind]), encoding="utf-8")
        output.append({"type": kind, "url": f"{EXPORT_BASE}/output/{kind}.ndjson", "count": len(lines[kind])})
    manifest = {
        "transactionTime": when.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "request": f"{EXPORT_BASE}/Patient/$export?_type={','.join(types)}",
        "requiresAccessToken": True,
        "output": output,
        "error": [],
    }
    path = folder / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return path
