"""What lab 01's exercises work on, for the learner and the checks alike: the workbook's as-of date, the tables
and columns of the normalized schema (Q3) and of the SCD type 2 address history (Q4), the denormalized extract
Q3 starts from, and the workspace of Q5 (a correct address history, so Q5 does not depend on your Q4).

The workspace holds the address history read in Python from each Patient resource (:func:`address_history`):
the learner reads it in Q5, so it is released; the other reference answers live in ``reference.py``.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import cache

from hitlab.checks.sql import connection, table

AS_OF = dt.date(2025, 12, 31)

NORMAL_COLUMNS = {
    "patient": ("patient_id", "patient_name", "birthdate", "zip"),
    "organization": ("organization_id", "organization_name"),
    "encounter": ("encounter_id", "patient_id", "organization_id", "encounter_start", "encounter_class"),
    "condition_code": ("condition_code", "condition_description"),
    "encounter_condition": ("encounter_id", "condition_code"),
}


def wide_extract():
    """The denormalized extract of Q3: one row per encounter started in 2025 and condition recorded at it
    (encounters with no condition appear once, with empty condition columns)."""
    pats, orgs = table("patients"), table("organizations")
    enc, cond = table("encounters"), table("conditions")
    enc = enc[enc["START"].dt.year == 2025]
    out = enc.merge(pats, left_on="PATIENT", right_on="Id", suffixes=("", "_p"))
    out = out.merge(orgs, left_on="ORGANIZATION", right_on="Id", suffixes=("", "_o"))
    out = out.merge(cond, left_on="Id", right_on="ENCOUNTER", how="left", suffixes=("", "_c"))
    out["patient_name"] = out["FIRST"] + " " + out["LAST"]
    out = out.rename(
        columns={
            "PATIENT": "patient_id", "BIRTHDATE": "birthdate", "ZIP": "zip", "Id": "encounter_id",
            "START": "encounter_start", "ENCOUNTERCLASS": "encounter_class", "ORGANIZATION": "organization_id",
            "NAME": "organization_name", "CODE_c": "condition_code", "DESCRIPTION_c": "condition_description",
        }
    )  # fmt: skip
    cols = ["encounter_id", "encounter_start", "encounter_class", "patient_id", "patient_name", "birthdate", "zip",
            "organization_id", "organization_name", "condition_code", "condition_description"]  # fmt: skip
    out = out[cols].sort_values(["encounter_start", "encounter_id", "condition_code"]).reset_index(drop=True)
    out["birthdate"] = out["birthdate"].dt.date
    return out


@cache
def address_history() -> list[tuple]:
    """SCD type 2 rows read in Python from each Patient resource: one row per ``Patient.address`` entry, its
    ``period`` giving the validity; an entry without ``period.end`` is the current one. FHIR's ``period.end``
    is inclusive (the last day), so the half-open ``valid_to`` is the day after it."""
    rows = []
    for pid, resource in connection().cursor().execute("select id, resource from fhir_patient").fetchall():
        for a in json.loads(resource).get("address", []):
            period = a.get("period", {})
            end = period.get("end")
            rows.append(
                (
                    pid,
                    a["line"][0],
                    a["city"],
                    a["postalCode"],
                    dt.date.fromisoformat(period["start"][:10]),
                    dt.date.fromisoformat(end[:10]) + dt.timedelta(days=1) if end else None,
                    end is None,
                )
            )
    return rows


SCD2_COLUMNS = ("patient_id", "line", "city", "zip", "valid_from", "valid_to", "is_current")


def address_workspace():
    """A connection to the default dataset with a temporary table ``patient_address`` holding a correct
    SCD type 2 address history (the columns of Q4), so Q5 does not depend on your Q4."""
    import pandas as pd

    cur = connection().cursor()
    frame = pd.DataFrame(address_history(), columns=SCD2_COLUMNS)
    cur.register("_address_rows", frame)
    cur.execute("create or replace temp table patient_address as select * from _address_rows")
    cur.unregister("_address_rows")
    return cur
