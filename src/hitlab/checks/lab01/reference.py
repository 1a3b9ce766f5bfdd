"""Lab 01's reference answers, computed independently of the solution SQL: from the tables with pandas, from the
Patient JSON parsed in Python (address history), and from the defects manifest plus the raw CSV lines (data
quality). Left out of an exam release.

    COLUMN_TYPES            # Q1: each column's type
    normalized()            # Q3: table name -> rows of the normalized schema
    address_history()       # Q4: the SCD type 2 rows (the learner's Q5 workspace holds them too)
    address_at_encounter()  # Q5: (encounter_id, zip), also on made-up rows
    orphans(), after_death(), future_births(), missing_units(), unit_mixups(), duplicates()  # Q6-Q11
    fact_encounter(), bridge()  # Q12, Q13
"""

from __future__ import annotations

import csv
import json
from functools import cache

from hitlab.checks.lab01.materials import address_history  # Q4's reference, released for Q5
from hitlab.checks.sql import table

COLUMN_TYPES = {
    "patients.BIRTHDATE, a date of birth": "DATE",
    "encounters.START, when a visit began (UTC)": "TIMESTAMP",
    "patients.ZIP, such as 02138": "VARCHAR",
    "patients.SSN, such as 999-12-3456": "VARCHAR",
    "observations.CODE, a LOINC code such as 4548-4": "VARCHAR",
    "conditions.CODE, a SNOMED CT code such as 44054006": "VARCHAR",
    "medications.DISPENSES, how many times it was filled": "INTEGER",
    "encounters.TOTAL_CLAIM_COST, in dollars and cents": "DECIMAL",
}


@cache
def normalized() -> dict[str, list[tuple]]:
    pats, orgs = table("patients"), table("organizations")
    enc, cond = table("encounters"), table("conditions")
    enc = enc[enc["START"].dt.year == 2025]
    pats = pats[pats["Id"].isin(set(enc["PATIENT"]))]
    orgs = orgs[orgs["Id"].isin(set(enc["ORGANIZATION"]))]
    cond = cond[cond["ENCOUNTER"].isin(set(enc["Id"]))]
    return {
        "patient": [(r.Id, f"{r.FIRST} {r.LAST}", r.BIRTHDATE.date(), r.ZIP) for r in pats.itertuples()],
        "organization": [(r.Id, r.NAME) for r in orgs.itertuples()],
        "encounter": [
            (r.Id, r.PATIENT, r.ORGANIZATION, r.START.to_pydatetime(), r.ENCOUNTERCLASS)
            for r in enc.itertuples()
        ],
        "condition_code": sorted({(r.CODE, r.DESCRIPTION) for r in cond.itertuples()}),
        "encounter_condition": [(r.ENCOUNTER, r.CODE) for r in cond.itertuples()],
    }


def address_at_encounter(addresses: list[tuple] | None = None, enc=None) -> list[tuple]:
    """The ZIP valid on each encounter's date, from SCD type 2 rows (``addresses``, the real ones unless given)
    and an encounters frame (the real table unless given): the last address begun on or before that date."""
    import bisect

    starts: dict[str, list] = {}
    for pid, _line, _city, zip_, valid_from, _to, _cur in sorted(
        address_history() if addresses is None else addresses, key=lambda r: (r[0], r[4])
    ):
        starts.setdefault(pid, []).append((valid_from, zip_))
    out = []
    enc = table("encounters") if enc is None else enc
    for eid, pid, start in zip(enc["Id"], enc["PATIENT"], enc["START"], strict=True):
        history = starts[pid]
        i = bisect.bisect_right([f for f, _z in history], start.date()) - 1
        out.append((eid, history[i][1]))
    return out


@cache
def _planted() -> list[dict]:
    from hitlab.data import connect, dataset_dir

    connect("defects")
    return json.loads((dataset_dir("defects") / "manifest.json").read_text())["defects"]["planted"]


@cache
def _csv_lines(name: str) -> list[dict]:
    """The defects CSV file as dicts; index i is file line i + 2 (line 1 is the header)."""
    from hitlab.data import dataset_dir

    with open(dataset_dir("defects") / "csv" / f"{name}.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _line(table_name: str, line: int) -> dict:
    return _csv_lines(table_name)[line - 2]


def orphans() -> list[tuple]:
    out = []
    for d in _planted():
        if d["kind"] == "orphan_row":
            r = _line(d["table"], d["line"])
            out.append((r["PATIENT"], r["ENCOUNTER"], r["CODE"], d["table"]))
    return out


def after_death() -> list[tuple]:
    return [
        (d["patient"], d["encounter"], d["table"]) for d in _planted() if d["kind"] == "event_after_death"
    ]


def future_births() -> list[tuple]:
    return [(d["patient"],) for d in _planted() if d["kind"] == "future_birth"]


def missing_units() -> list[tuple]:
    out = []
    for d in _planted():
        if d["kind"] == "missing_units":
            r = _line("observations", d["line"])
            out.append((r["PATIENT"], r["ENCOUNTER"], r["CODE"]))
    return out


def unit_mixups() -> list[tuple]:
    out = []
    for d in _planted():
        if d["kind"] == "unit_mixup":
            r = _line("observations", d["line"])
            out.append((r["PATIENT"], r["ENCOUNTER"], r["CODE"], r["UNITS"]))
    return out


def duplicates() -> list[tuple]:
    return sorted(
        {
            tuple(sorted((d["patient"], d["duplicate_of"])))
            for d in _planted()
            if d["kind"] == "duplicate_patient"
        }
    )


@cache
def _diagnoses() -> dict[str, set[str]]:
    """Diagnosis codes of each encounter: conditions recorded at it, plus its REASONCODE."""
    enc, cond = table("encounters"), table("conditions")
    dx: dict[str, set[str]] = {e: set() for e in enc["Id"]}
    for e, code in zip(cond["ENCOUNTER"], cond["CODE"], strict=True):
        dx[e].add(code)
    for e, code in zip(enc["Id"], enc["REASONCODE"], strict=True):
        if isinstance(code, str) and code:
            dx[e].add(code)
    return dx


def fact_encounter() -> list[tuple]:
    enc, dx = table("encounters"), _diagnoses()
    return [
        (r.Id, r.PATIENT, int(r.START.strftime("%Y%m%d")), r.ENCOUNTERCLASS, len(dx[r.Id]))
        for r in enc.itertuples()
    ]


def bridge() -> list[tuple]:
    return [(e, code, 1 / len(codes)) for e, codes in _diagnoses().items() for code in codes]
