"""The canonical Synthea CSV schema: tables, column names, order and types, and how older headers map onto it.

Synthea's exact header line per release (2.5.0 … 3.4.0) ships as ``synthea_headers.json`` (read from Synthea's
``CSVExporter.java`` / ``CSVConstants.java`` at each release commit). The canonical schema is the newest
release's: one table per file, columns named and ordered exactly as in that release's header. A column an older
release lacks is NULL; a column an older release named differently is renamed (:data:`RENAMES`).

Type choices (DuckDB types):

- identifiers, codes, ZIP, FIPS, SSN, phone, UDI, DICOM UIDs, department and claim-type numbers, and
  observations ``VALUE`` (numbers and text mixed; ``TYPE`` says which): ``VARCHAR``;
- date-only columns (Synthea writes them ``yyyy-MM-dd``): ``DATE``;
- every other time (Synthea writes UTC ``yyyy-MM-ddTHH:mm:ssZ``): ``TIMESTAMP``, naive and meaning UTC (not
  ``TIMESTAMPTZ``, whose display depends on the session's TimeZone);
- money, coordinates and other measures: ``DOUBLE`` throughout (Synthea itself writes some as unrounded doubles,
  e.g. ``HEALTHCARE_EXPENSES`` ``49112.87100000001``, and ``payers.QOLS_AVG`` can be ``NaN``);
- counts: ``BIGINT``.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources

VARCHAR, DATE, TIMESTAMP, DOUBLE, BIGINT = "VARCHAR", "DATE", "TIMESTAMP", "DOUBLE", "BIGINT"

#: The release whose headers define the canonical schema.
CANONICAL_VERSION = "3.4.0"

#: Formats Synthea writes (DuckDB strptime syntax), and how an error message states them.
DATE_FORMAT = "%Y-%m-%d"
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

#: Non-VARCHAR columns of the canonical schema, per table. Every column not listed is VARCHAR.
_TYPES: dict[str, dict[str, str]] = {
    "patients": {
        "BIRTHDATE": DATE,
        "DEATHDATE": DATE,
        "LAT": DOUBLE,
        "LON": DOUBLE,
        "HEALTHCARE_EXPENSES": DOUBLE,
        "HEALTHCARE_COVERAGE": DOUBLE,
        "INCOME": DOUBLE,
    },
    "allergies": {"START": DATE, "STOP": DATE},
    "conditions": {"START": DATE, "STOP": DATE},
    "careplans": {"START": DATE, "STOP": DATE},
    "supplies": {"DATE": DATE, "QUANTITY": BIGINT},
    "medications": {
        "START": TIMESTAMP,
        "STOP": TIMESTAMP,
        "BASE_COST": DOUBLE,
        "PAYER_COVERAGE": DOUBLE,
        "DISPENSES": BIGINT,
        "TOTALCOST": DOUBLE,
    },
    "observations": {"DATE": TIMESTAMP},
    "procedures": {"START": TIMESTAMP, "STOP": TIMESTAMP, "BASE_COST": DOUBLE},
    "immunizations": {"DATE": TIMESTAMP, "BASE_COST": DOUBLE},
    "encounters": {
        "START": TIMESTAMP,
        "STOP": TIMESTAMP,
        "BASE_ENCOUNTER_COST": DOUBLE,
        "TOTAL_CLAIM_COST": DOUBLE,
        "PAYER_COVERAGE": DOUBLE,
    },
    "imaging_studies": {"DATE": TIMESTAMP},
    "devices": {"START": TIMESTAMP, "STOP": TIMESTAMP},
    "organizations": {"LAT": DOUBLE, "LON": DOUBLE, "REVENUE": DOUBLE, "UTILIZATION": BIGINT},
    "providers": {"LAT": DOUBLE, "LON": DOUBLE, "ENCOUNTERS": BIGINT, "PROCEDURES": BIGINT},
    "payers": {
        "AMOUNT_COVERED": DOUBLE,
        "AMOUNT_UNCOVERED": DOUBLE,
        "REVENUE": DOUBLE,
        "COVERED_ENCOUNTERS": BIGINT,
        "UNCOVERED_ENCOUNTERS": BIGINT,
        "COVERED_MEDICATIONS": BIGINT,
        "UNCOVERED_MEDICATIONS": BIGINT,
        "COVERED_PROCEDURES": BIGINT,
        "UNCOVERED_PROCEDURES": BIGINT,
        "COVERED_IMMUNIZATIONS": BIGINT,
        "UNCOVERED_IMMUNIZATIONS": BIGINT,
        "UNIQUE_CUSTOMERS": BIGINT,
        "QOLS_AVG": DOUBLE,
        "MEMBER_MONTHS": BIGINT,
    },
    "payer_transitions": {"START_DATE": TIMESTAMP, "END_DATE": TIMESTAMP},
    "claims": {
        "CURRENTILLNESSDATE": TIMESTAMP,
        "SERVICEDATE": TIMESTAMP,
        "OUTSTANDING1": DOUBLE,
        "OUTSTANDING2": DOUBLE,
        "OUTSTANDINGP": DOUBLE,
        "LASTBILLEDDATE1": TIMESTAMP,
        "LASTBILLEDDATE2": TIMESTAMP,
        "LASTBILLEDDATEP": TIMESTAMP,
    },
    "claims_transactions": {
        "AMOUNT": DOUBLE,
        "FROMDATE": TIMESTAMP,
        "TODATE": TIMESTAMP,
        "DIAGNOSISREF1": BIGINT,
        "DIAGNOSISREF2": BIGINT,
        "DIAGNOSISREF3": BIGINT,
        "DIAGNOSISREF4": BIGINT,
        "UNITS": BIGINT,
        "UNITAMOUNT": DOUBLE,
        "PAYMENTS": DOUBLE,
        "ADJUSTMENTS": DOUBLE,
        "TRANSFERS": DOUBLE,
        "OUTSTANDING": DOUBLE,
    },
    # Synthea writes YEAR as a full timestamp (the plan record's start time), despite its name.
    "patient_expenses": {
        "YEAR": TIMESTAMP,
        "HEALTHCARE_EXPENSES": DOUBLE,
        "INSURANCE_COSTS": DOUBLE,
        "COVERED_COSTS": DOUBLE,
    },
}

#: Columns an older release named differently: (table, old name) -> canonical name. Checked against every
#: release's header in ``synthea_headers.json`` (a test proves that every old column is either canonical or here):
#:
#: - procedures ``DATE`` (2.x) became ``START`` in 3.0.0, which also added ``STOP``;
#: - payer_transitions ``START_YEAR``/``END_YEAR``/``OWNERSHIP``/``OWNERNAME`` (2.x, 3.0, 3.1) became
#:   ``START_DATE``/``END_DATE``/``PLAN_OWNERSHIP``/``OWNER_NAME`` in 3.2.0 (2.x wrote years, 3.0+ timestamps);
#: - providers ``UTILIZATION`` (≤ 3.1) became ``ENCOUNTERS`` in 3.2.0: both are written from
#:   ``Clinician.getEncounterCount()``; 3.2.0 added ``PROCEDURES``.
RENAMES: dict[tuple[str, str], str] = {
    ("procedures", "DATE"): "START",
    ("payer_transitions", "START_YEAR"): "START_DATE",
    ("payer_transitions", "END_YEAR"): "END_DATE",
    ("payer_transitions", "OWNERSHIP"): "PLAN_OWNERSHIP",
    ("payer_transitions", "OWNERNAME"): "OWNER_NAME",
    ("providers", "UTILIZATION"): "ENCOUNTERS",
}

#: Source columns holding a bare year (2.x payer_transitions), converted to a TIMESTAMP on load.
#: A year range in 2.x is inclusive (``END_YEAR`` 2016 covers all of 2016), so ``START_YEAR`` Y becomes
#: Y-01-01 00:00:00 and ``END_YEAR`` Y becomes (Y+1)-01-01 00:00:00: the same half-open reading as 3.x, where
#: one plan's ``END_DATE`` is the next plan's ``START_DATE``.
YEAR_COLUMNS = {("payer_transitions", "START_YEAR"): 0, ("payer_transitions", "END_YEAR"): 1}


#: hitlab's own tables, written by its generator and loaded when present (real Synthea output has none):
#: ``notes`` holds the clinical notes whose planted identifiers ``note_phi.json`` labels; ``staff``,
#: ``vip_patients`` and ``access_log`` (AuditEvent-shaped, ``TIMESTAMP`` naive UTC like every other time) hold
#: the EHR access log whose planted inappropriate accesses ``access_log_truth.json`` lists.
HITLAB_TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "notes": (
        ("Id", VARCHAR),
        ("PATIENT", VARCHAR),
        ("ENCOUNTER", VARCHAR),
        ("DATE", TIMESTAMP),
        ("TYPE_CODE", VARCHAR),
        ("TYPE_DESCRIPTION", VARCHAR),
        ("TEXT", VARCHAR),
    ),
    "staff": (
        ("Id", VARCHAR),
        ("NAME", VARCHAR),
        ("ROLE", VARCHAR),
        ("ORGANIZATION", VARCHAR),
        ("PROVIDER", VARCHAR),
        ("PATIENT", VARCHAR),
    ),
    "vip_patients": (("PATIENT", VARCHAR), ("REASON", VARCHAR)),
    "access_log": (
        ("Id", VARCHAR),
        ("TIMESTAMP", TIMESTAMP),
        ("USER", VARCHAR),
        ("PATIENT", VARCHAR),
        ("RESOURCE_TYPE", VARCHAR),
        ("ACTION", VARCHAR),
        ("PURPOSE", VARCHAR),
        ("OUTCOME", VARCHAR),
        ("ENCOUNTER", VARCHAR),
    ),
}


@functools.cache
def headers() -> dict[str, dict[str, tuple[str, ...]]]:
    """Every release's header: ``{version: {table: (column, ...)}}``, oldest release first."""
    text = resources.files("hitlab.load").joinpath("synthea_headers.json").read_text(encoding="utf-8")
    raw = json.loads(text)
    return {
        version: {name.removesuffix(".csv"): tuple(line.split(",")) for name, line in files.items()}
        for version, files in sorted(raw.items(), key=lambda kv: _version_key(kv[0]))
    }


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def versions() -> list[str]:
    """Known releases, oldest first."""
    return list(headers())


def tables() -> tuple[str, ...]:
    """Canonical table names, in Synthea's file order."""
    return tuple(headers()[CANONICAL_VERSION])


@dataclass(frozen=True)
class Column:
    name: str
    type: str


@functools.cache
def canonical_columns(table: str) -> tuple[Column, ...]:
    """The canonical columns of ``table``, in order, with their DuckDB types."""
    if table in HITLAB_TABLES:
        return tuple(Column(name, type_) for name, type_ in HITLAB_TABLES[table])
    types = _TYPES.get(table, {})
    return tuple(Column(name, types.get(name, VARCHAR)) for name in headers()[CANONICAL_VERSION][table])


def canonical_name(table: str, column: str) -> str:
    """The canonical name of a column as some release wrote it."""
    return RENAMES.get((table, column), column)


@functools.cache
def matching_versions(table: str, header: tuple[str, ...]) -> tuple[str, ...]:
    """Releases whose header for ``table`` is exactly ``header``."""
    return tuple(v for v, files in headers().items() if files.get(table) == header)


@functools.cache
def required_columns(table: str) -> tuple[str, ...]:
    """Canonical columns that every release writing ``table`` has (under some name), in canonical order."""
    present = [
        {canonical_name(table, c) for c in files[table]} for files in headers().values() if table in files
    ]
    common = set.intersection(*present)
    return tuple(c.name for c in canonical_columns(table) if c.name in common)


@functools.cache
def known_columns(table: str) -> tuple[str, ...]:
    """Every column name any release wrote for ``table``."""
    seen: dict[str, None] = {}
    for files in headers().values():
        for column in files.get(table, ()):
            seen.setdefault(column)
    return tuple(seen)
