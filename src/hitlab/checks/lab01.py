"""Checks of lab 01, EHR data modeling: keys and constraints, types, normalization, SCD type 2 addresses,
a data-quality report against the planted defects, and a star schema with a diagnosis bridge table.

Reference answers are computed independently of the solution SQL: from the tables with pandas, from the Patient
JSON parsed in Python (address history), and from the defects manifest plus the raw CSV lines (data quality).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
from collections import Counter
from functools import cache
from typing import Any

from hitlab.checks.choice import dict_code, mapping_question
from hitlab.checks.core import Incorrect, Question, compare_rows
from hitlab.checks.ddl import BadRow, ddl_question
from hitlab.checks.sql import connection, execute, sql_question, table

AS_OF = dt.date(2025, 12, 31)

# -- Q1 types -------------------------------------------------------------------------------------------------

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
q1 = mapping_question(
    grade_id="lab01_column_types",
    title="Q1 column types",
    points=2,
    variable="column_types",
    answer=COLUMN_TYPES,
    allowed=("DATE", "TIMESTAMP", "VARCHAR", "INTEGER", "DECIMAL"),
    hints=(
        "Ask of each column: will anyone ever do arithmetic on it? Does a leading zero or a dash matter? Is a time "
        "of day part of the fact?",
        "Identifiers and codes are labels made of digits, not numbers; a birth date has no time of day (and no "
        "time zone), a visit start does.",
    ),
    wrong=(
        dict_code("column_types", {**COLUMN_TYPES, "patients.ZIP, such as 02138": "INTEGER"}),
        dict_code("column_types", {**COLUMN_TYPES, "patients.BIRTHDATE, a date of birth": "TIMESTAMP"}),
    ),
    alternatives=(
        dict_code(
            "column_types",
            {k: v.lower() for k, v in COLUMN_TYPES.items()},
        ),
    ),
)

# -- Q2 DDL ---------------------------------------------------------------------------------------------------

EHR_DDL = '''ehr_ddl = """
create table patients (
    id        varchar primary key,
    birthdate date not null,
    deathdate date,
    gender    varchar not null,
    zip       varchar check (regexp_full_match(zip, '[0-9]{5}')),
    check (deathdate is null or deathdate >= birthdate)
);
create table encounters (
    id              varchar primary key,
    patient_id      varchar not null references patients (id),
    start_time      timestamp not null,
    stop_time       timestamp,
    encounter_class varchar not null check (encounter_class in
        ('wellness', 'ambulatory', 'urgentcare', 'virtual', 'outpatient', 'emergency', 'inpatient')),
    check (stop_time is null or stop_time >= start_time)
);
create table conditions (
    patient_id     varchar not null references patients (id),
    encounter_id   varchar not null references encounters (id),
    code           varchar not null,
    onset_date     date not null,
    abatement_date date,
    primary key (encounter_id, code),
    check (abatement_date is null or abatement_date >= onset_date)
);
"""'''

EHR_DDL_ALT = '''ehr_ddl = """
CREATE TABLE patients (
    id UUID NOT NULL, birthdate DATE NOT NULL, deathdate DATE, gender TEXT NOT NULL,
    zip TEXT CONSTRAINT zip_5_digits CHECK (length(zip) = 5 AND zip SIMILAR TO '[0-9]+'),
    CONSTRAINT pk_patients PRIMARY KEY (id),
    CONSTRAINT alive_before_dead CHECK (deathdate >= birthdate)
);
CREATE TABLE encounters (
    id UUID PRIMARY KEY, patient_id UUID NOT NULL, start_time TIMESTAMPTZ NOT NULL, stop_time TIMESTAMPTZ,
    encounter_class TEXT NOT NULL,
    FOREIGN KEY (patient_id) REFERENCES patients (id),
    CHECK (stop_time >= start_time),
    CHECK (encounter_class IN ('ambulatory','emergency','inpatient','outpatient','urgentcare','virtual','wellness'))
);
CREATE TABLE conditions (
    patient_id UUID NOT NULL, encounter_id UUID NOT NULL, code TEXT NOT NULL, onset_date DATE NOT NULL,
    abatement_date DATE,
    UNIQUE (encounter_id, code),
    FOREIGN KEY (patient_id) REFERENCES patients (id),
    FOREIGN KEY (encounter_id) REFERENCES encounters (id),
    CHECK (abatement_date >= onset_date)
);
"""'''


def _date(v: Any) -> dt.date | None:
    import pandas as pd

    return None if v is None or pd.isna(v) else pd.Timestamp(v).date()


def _stamp(v: Any) -> dt.datetime | None:
    import pandas as pd

    return None if v is None or pd.isna(v) else pd.Timestamp(v).to_pydatetime()


@cache
def _ddl_good() -> dict[str, list[dict]]:
    """Real rows: 40 patients (every fifth deceased one among them), their encounters and conditions."""
    pats = table("patients").sort_values("Id")
    import pandas as pd

    sample = pd.concat([pats[pats["DEATHDATE"].notna()].head(8), pats[pats["DEATHDATE"].isna()].head(32)])
    ids = set(sample["Id"])
    enc = table("encounters")
    enc = enc[enc["PATIENT"].isin(ids)]
    cond = table("conditions")
    cond = cond[cond["ENCOUNTER"].isin(set(enc["Id"]))]
    return {
        "patients": [
            {
                "id": r.Id,
                "birthdate": _date(r.BIRTHDATE),
                "deathdate": _date(r.DEATHDATE),
                "gender": r.GENDER,
                "zip": r.ZIP,
            }
            for r in sample.itertuples()
        ],
        "encounters": [
            {
                "id": r.Id,
                "patient_id": r.PATIENT,
                "start_time": _stamp(r.START),
                "stop_time": _stamp(r.STOP),
                "encounter_class": r.ENCOUNTERCLASS,
            }
            for r in enc.itertuples()
        ],
        "conditions": [
            {
                "patient_id": r.PATIENT,
                "encounter_id": r.ENCOUNTER,
                "code": r.CODE,
                "onset_date": _date(r.START),
                "abatement_date": _date(r.STOP),
            }
            for r in cond.itertuples()
        ],
    }


def _ddl_bad() -> list[BadRow]:
    good = _ddl_good()
    p = good["patients"][-1]
    e = next(x for x in good["encounters"] if x["patient_id"] == p["id"])
    c = good["conditions"][0]
    new_p, new_e = "00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"
    ghost = "00000000-0000-4000-8000-0000000000ff"
    return [
        BadRow("a second patient with an id that already exists", "patients", dict(p)),
        BadRow("a patient with no id", "patients", {**p, "id": None}),
        BadRow("a patient with no birth date", "patients", {**p, "id": new_p, "birthdate": None}),
        BadRow(
            "a patient who died before being born",
            "patients",
            {**p, "id": new_p, "deathdate": p["birthdate"] - dt.timedelta(days=1)},
        ),
        BadRow("a patient whose ZIP lost its leading zero ('2138')", "patients", {**p, "id": new_p, "zip": "2138"}),
        BadRow("an encounter with the id of another encounter", "encounters", dict(e)),
        BadRow("an encounter of a patient who does not exist", "encounters", {**e, "id": new_e, "patient_id": ghost}),
        BadRow("an encounter with no start time", "encounters", {**e, "id": new_e, "start_time": None}),
        BadRow(
            "an encounter that stops before it starts",
            "encounters",
            {**e, "id": new_e, "stop_time": e["start_time"] - dt.timedelta(hours=1)},
        ),
        BadRow(
            "an encounter of class 'walk-in', which is not one of the seven",
            "encounters",
            {**e, "id": new_e, "encounter_class": "walk-in"},
        ),
        BadRow("a condition of a patient who does not exist", "conditions", {**c, "patient_id": ghost, "code": "1"}),
        BadRow("a condition at an encounter that does not exist", "conditions", {**c, "encounter_id": ghost}),
        BadRow("the same condition twice at the same encounter", "conditions", dict(c)),
        BadRow("a condition with no code", "conditions", {**c, "code": None}),
        BadRow(
            "a condition that resolved before its onset",
            "conditions",
            {**c, "code": "2", "abatement_date": c["onset_date"] - dt.timedelta(days=1)},
        ),
    ]  # fmt: skip


_ID = ("VARCHAR", "UUID")
q2 = ddl_question(
    grade_id="lab01_ehr_ddl",
    title="Q2 tables with keys and constraints",
    points=4,
    variable="ehr_ddl",
    good=_ddl_good,
    bad=_ddl_bad,
    types={
        ("patients", "id"): _ID,
        ("patients", "birthdate"): ("DATE",),
        ("patients", "deathdate"): ("DATE",),
        ("patients", "zip"): ("VARCHAR",),
        ("encounters", "id"): _ID,
        ("encounters", "patient_id"): _ID,
        ("encounters", "start_time"): ("TIMESTAMP", "TIMESTAMP WITH TIME ZONE"),
        ("encounters", "stop_time"): ("TIMESTAMP", "TIMESTAMP WITH TIME ZONE"),
        ("conditions", "encounter_id"): _ID,
        ("conditions", "code"): ("VARCHAR",),
        ("conditions", "onset_date"): ("DATE",),
        ("conditions", "abatement_date"): ("DATE",),
    },
    hints=(
        "Each rule in the prompt is one clause: PRIMARY KEY, REFERENCES (a foreign key), NOT NULL or CHECK (...).",
        "A CHECK that compares two columns of a row goes at the end of the table (a table constraint); a CHECK "
        "that passes on NULL lets missing stop times through, which is what you want.",
        "DuckDB: regexp_full_match(zip, '[0-9]{5}') is true for exactly five digits; a composite key is "
        "PRIMARY KEY (encounter_id, code).",
    ),
    solution=EHR_DDL,
    wrong=(
        EHR_DDL.replace(
            "    patient_id      varchar not null references patients (id),",
            "    patient_id      varchar not null,",
        ),
        EHR_DDL.replace(
            "    zip       varchar check (regexp_full_match(zip, '[0-9]{5}')),", "    zip       integer,"
        ),
        EHR_DDL.replace("    primary key (encounter_id, code),\n", ""),
    ),
    alternatives=(EHR_DDL_ALT,),
)

# -- Q3 normalization -----------------------------------------------------------------------------------------

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
def _normalized_reference() -> dict[str, list[tuple]]:
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


def _run_normalized(answer: Any) -> dict[str, list[tuple]]:
    import duckdb

    if not isinstance(answer, dict):
        raise Incorrect(
            f"Q3 normalize the extract: expected a dict of table name -> query, got {type(answer).__name__}."
        )
    missing = [t for t in NORMAL_COLUMNS if t not in answer]
    if missing:
        raise Incorrect(f"Q3 normalize the extract: no query for table {missing[0]!r} yet.")
    con = duckdb.connect()
    con.register("extract", wide_extract())
    out = {}
    try:
        for name, cols in NORMAL_COLUMNS.items():
            title = f"Q3 normalize the extract: table {name}"
            out[name] = execute(con, answer[name], title=title, columns=cols, what=f"the {name} query")
    finally:
        con.close()
    return out


def _compare_normalized(got: dict[str, list[tuple]], expected: dict[str, list[tuple]]) -> None:
    for name, cols in NORMAL_COLUMNS.items():
        compare_rows(got[name], expected[name], columns=cols, title=f"Q3 normalize the extract: table {name}")


NORMALIZED_SQL = '''normalized_sql = {
    "patient": """select distinct patient_id, patient_name, birthdate, zip from extract""",
    "organization": """select distinct organization_id, organization_name from extract""",
    "encounter": """
        select distinct encounter_id, patient_id, organization_id, encounter_start, encounter_class
        from extract""",
    "condition_code": """
        select distinct condition_code, condition_description
        from extract where condition_code is not null""",
    "encounter_condition": """
        select encounter_id, condition_code
        from extract where condition_code is not null""",
}'''

q3 = Question(
    grade_id="lab01_normalize",
    title="Q3 normalize the extract",
    points=3,
    variable="normalized_sql",
    expected=_normalized_reference,
    compare=_compare_normalized,
    prepare=_run_normalized,
    hints=(
        "Each table holds the facts about one thing, once: which columns depend only on the patient? only on "
        "the organization? on the encounter? on the pair (encounter, condition)?",
        "SELECT DISTINCT collapses the repeated copies; encounters without a condition must not create an "
        "empty encounter_condition row or an empty code.",
    ),
    solution_code=NORMALIZED_SQL,
    wrong=(
        NORMALIZED_SQL.replace("select distinct patient_id", "select patient_id"),
        NORMALIZED_SQL.replace(
            "select encounter_id, condition_code\n        from extract where condition_code is not null",
            "select encounter_id, condition_code\n        from extract",
        ),
    ),
    alternatives=(
        NORMALIZED_SQL.replace(
            "select distinct patient_id, patient_name, birthdate, zip from extract",
            "select patient_id, any_value(patient_name) as patient_name, any_value(birthdate) as birthdate, "
            "any_value(zip) as zip from extract "
            "group by patient_id",
        ),
    ),
)

# -- Q4 and Q5: SCD type 2 addresses --------------------------------------------------------------------------


@cache
def _address_history() -> list[tuple]:
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
SCD2_SQL = '''address_scd2_sql = """
select f.id                                as patient_id,
       a ->> '$.line[0]'                   as line,
       a ->> 'city'                        as city,
       a ->> 'postalCode'                  as zip,
       cast(a ->> '$.period.start' as date) as valid_from,
       cast(a ->> '$.period.end' as date) + 1 as valid_to,
       a ->> '$.period.end' is null        as is_current
from fhir_patient f,
     unnest(json_extract(f.resource, '$.address[*]')) as t(a)
"""'''

q4 = sql_question(
    grade_id="lab01_address_scd2",
    title="Q4 SCD type 2 patient address",
    points=3,
    variable="address_scd2_sql",
    columns=SCD2_COLUMNS,
    reference=_address_history,
    hints=(
        "Every entry of Patient.address becomes one row; its period gives valid_from and valid_to.",
        "unnest(json_extract(resource, '$.address[*]')) turns the address array into rows; a ->> '$.period.start' "
        "reads a text value out of one entry (then cast it to a date).",
        "FHIR's period.end is the last day at that address (inclusive); valid_to is the first day it no longer "
        "applies, so add one day. The current address has no period.end: valid_to stays NULL.",
    ),
    solution=SCD2_SQL,
    wrong=(
        SCD2_SQL.replace("a ->> '$.period.end' is null        as is_current", "true as is_current"),
        SCD2_SQL.replace(
            "cast(a ->> '$.period.end' as date) + 1 as valid_to",
            "cast(a ->> '$.period.end' as date) as valid_to",
        ),
        'address_scd2_sql = """select Id as patient_id, ADDRESS as line, CITY as city, ZIP as zip, BIRTHDATE as valid_from, '
        'null::date as valid_to, true as is_current from patients"""',
    ),
    alternatives=(
        SCD2_SQL.replace(
            "a ->> '$.period.end' is null        as is_current", "a ->> 'use' <> 'old' as is_current"
        ).replace(
            "cast(a ->> '$.period.end' as date) + 1 as valid_to",
            "cast((a -> 'period' ->> 'end')::date + interval 1 day as date) as valid_to",
        ),
    ),
)


def _address_at_encounter() -> list[tuple]:
    import bisect

    starts: dict[str, list] = {}
    for pid, _line, _city, zip_, valid_from, _to, _cur in sorted(
        _address_history(), key=lambda r: (r[0], r[4])
    ):
        starts.setdefault(pid, []).append((valid_from, zip_))
    out = []
    enc = table("encounters")
    for eid, pid, start in zip(enc["Id"], enc["PATIENT"], enc["START"], strict=True):
        history = starts[pid]
        i = bisect.bisect_right([f for f, _z in history], start.date()) - 1
        out.append((eid, history[i][1]))
    return out


def address_workspace():
    """A connection to the default dataset with a temporary table ``patient_address`` holding a correct
    SCD type 2 address history (the columns of Q4), so Q5 does not depend on your Q4."""
    import pandas as pd

    cur = connection().cursor()
    frame = pd.DataFrame(_address_history(), columns=SCD2_COLUMNS)
    cur.register("_address_rows", frame)
    cur.execute("create or replace temp table patient_address as select * from _address_rows")
    cur.unregister("_address_rows")
    return cur


def _run_at_encounter(sql: Any) -> list[tuple]:
    if not isinstance(sql, str):  # before building the workspace
        raise Incorrect(
            f"Q5 address at each encounter: expected the query as a string, got {type(sql).__name__}."
        )
    return execute(
        address_workspace(), sql, title="Q5 address at each encounter", columns=("encounter_id", "zip")
    )


AT_ENCOUNTER_SQL = '''address_at_encounter_sql = """
select e.Id as encounter_id, a.zip
from encounters e
join patient_address a
  on a.patient_id = e.PATIENT
 and cast(e.START as date) >= a.valid_from
 and (a.valid_to is null or cast(e.START as date) < a.valid_to)
"""'''


def _reads_address_history(sql: Any) -> None:
    if "patient_address" not in sql:
        raise Incorrect(
            "Q5 address at each encounter: read the addresses from the SCD type 2 table patient_address, "
            "which keeps every address with its validity interval."
        )


q5 = Question(
    grade_id="lab01_address_at_encounter",
    title="Q5 address at each encounter",
    points=2,
    variable="address_at_encounter_sql",
    expected=_address_at_encounter,
    compare=lambda got, exp: compare_rows(
        got, exp, columns=("encounter_id", "zip"), title="Q5 address at each encounter"
    ),
    prepare=_run_at_encounter,
    edge_cases=(_reads_address_history,),
    hints=(
        "Join each encounter to the address row of the same patient whose validity interval contains the "
        "encounter's date.",
        "The interval is half-open: valid_from <= date < valid_to, and a NULL valid_to means 'still valid'. "
        "BETWEEN includes both ends, so on a moving day it finds two addresses.",
    ),
    solution_code=AT_ENCOUNTER_SQL,
    wrong=(
        'address_at_encounter_sql = """select e.Id as encounter_id, a.zip from encounters e join patient_address a '
        'on a.patient_id = e.PATIENT and a.is_current"""',
        'address_at_encounter_sql = """select e.Id as encounter_id, a.zip from encounters e join patient_address a '
        'on a.patient_id = e.PATIENT and e.START::date between a.valid_from and coalesce(a.valid_to, \'9999-12-31\')"""',
    ),
    alternatives=(
        'address_at_encounter_sql = """select e.Id as encounter_id, a.zip from encounters e join patient_address a '
        'on a.patient_id = e.PATIENT and e.START >= a.valid_from and e.START < coalesce(a.valid_to, date \'9999-12-31\')"""',
    ),
)

# -- Q6-Q11: data-quality report on the defects dataset -------------------------------------------------------


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


def _orphans() -> list[tuple]:
    out = []
    for d in _planted():
        if d["kind"] == "orphan_row":
            r = _line(d["table"], d["line"])
            out.append((r["PATIENT"], r["ENCOUNTER"], r["CODE"], d["table"]))
    return out


def _after_death() -> list[tuple]:
    return [
        (d["patient"], d["encounter"], d["table"]) for d in _planted() if d["kind"] == "event_after_death"
    ]


def _future_births() -> list[tuple]:
    return [(d["patient"],) for d in _planted() if d["kind"] == "future_birth"]


def _missing_units() -> list[tuple]:
    out = []
    for d in _planted():
        if d["kind"] == "missing_units":
            r = _line("observations", d["line"])
            out.append((r["PATIENT"], r["ENCOUNTER"], r["CODE"]))
    return out


def _unit_mixups() -> list[tuple]:
    out = []
    for d in _planted():
        if d["kind"] == "unit_mixup":
            r = _line("observations", d["line"])
            out.append((r["PATIENT"], r["ENCOUNTER"], r["CODE"], r["UNITS"]))
    return out


def _duplicates() -> list[tuple]:
    return sorted(
        {
            tuple(sorted((d["patient"], d["duplicate_of"])))
            for d in _planted()
            if d["kind"] == "duplicate_patient"
        }
    )


def dq_question(**kwargs: Any) -> Question:
    """A data-quality query on the defects dataset that must find exactly the planted rows. Feedback shows one
    of the learner's own rows that is not a planted problem, or how many planted rows are missing (per table),
    never a planted row itself."""
    q = sql_question(dataset="defects", **kwargs)
    title, columns = kwargs["title"], kwargs["columns"]

    def compare(got: list[tuple], expected: list[tuple]) -> None:
        got_c, exp_c = Counter(tuple(r) for r in got), Counter(tuple(r) for r in expected)
        extra, missing = got_c - exp_c, exp_c - got_c
        if extra:
            row = next(iter(extra))
            shown = ", ".join(f"{c} = {v!r}" for c, v in zip(columns, row, strict=True))
            again = " (or it appears more than once)" if row in exp_c else ""
            raise Incorrect(
                f"{title}: {extra.total()} of your rows are not planted problems{again}, e.g. {shown}."
            )
        if missing:
            where = ""
            if columns[-1] == "table_name":
                per = Counter(r[-1] for r in missing.elements())
                where = " (" + ", ".join(f"{k} in {t}" for t, k in sorted(per.items())) + ")"
            raise Incorrect(f"{title}: {missing.total()} planted rows are missing{where}.")

    return dataclasses.replace(q, compare=compare)


ORPHANS_SQL = '''orphans_sql = """
select o.PATIENT, o.ENCOUNTER, o.CODE, 'observations' as table_name
from observations o
where o.PATIENT not in (select Id from patients) or o.ENCOUNTER not in (select Id from encounters)
union all
select c.PATIENT, c.ENCOUNTER, c.CODE, 'conditions'
from conditions c
where c.PATIENT not in (select Id from patients) or c.ENCOUNTER not in (select Id from encounters)
"""'''
q6 = dq_question(
    grade_id="lab01_dq_orphans",
    title="Q6 orphan rows",
    points=2,
    variable="orphans_sql",
    columns=("PATIENT", "ENCOUNTER", "CODE", "table_name"),
    reference=_orphans,
    hints=(
        "An orphan points at a parent that does not exist: its PATIENT is not a patients.Id, or its ENCOUNTER "
        "is not an encounters.Id.",
        "Check both observations and conditions, both columns each, and stack the results with UNION ALL.",
    ),
    solution=ORPHANS_SQL,
    wrong=(
        ORPHANS_SQL.replace(" or o.ENCOUNTER not in (select Id from encounters)", "").replace(
            " or c.ENCOUNTER not in (select Id from encounters)", ""
        ),
    ),
    alternatives=(
        '''orphans_sql = """
select x.PATIENT, x.ENCOUNTER, x.CODE, x.t as table_name
from (select PATIENT, ENCOUNTER, CODE, 'observations' t from observations
      union all select PATIENT, ENCOUNTER, CODE, 'conditions' from conditions) x
left join patients p on p.Id = x.PATIENT
left join encounters e on e.Id = x.ENCOUNTER
where p.Id is null or e.Id is null
"""''',
    ),
)

AFTER_DEATH_SQL = '''after_death_sql = """
select e.PATIENT, e.Id as ENCOUNTER, 'encounters' as table_name
from encounters e join patients p on p.Id = e.PATIENT
where cast(e.START as date) > p.DEATHDATE
union all
select o.PATIENT, o.ENCOUNTER, 'observations'
from observations o join patients p on p.Id = o.PATIENT
where cast(o.DATE as date) > p.DEATHDATE
"""'''
q7 = dq_question(
    grade_id="lab01_dq_after_death",
    title="Q7 events after death",
    points=2,
    variable="after_death_sql",
    columns=("PATIENT", "ENCOUNTER", "table_name"),
    reference=_after_death,
    hints=(
        "Join each event to its patient and compare the event's date with DEATHDATE; check encounters and "
        "observations.",
        "DEATHDATE is a DATE and START a TIMESTAMP: an event on the day of death (the death certification, an "
        "in-hospital death) is not after it. Compare dates, not a timestamp with midnight.",
    ),
    solution=AFTER_DEATH_SQL,
    wrong=(
        AFTER_DEATH_SQL.replace("cast(e.START as date) > p.DEATHDATE", "e.START > p.DEATHDATE").replace(
            "cast(o.DATE as date) > p.DEATHDATE", "o.DATE > p.DEATHDATE"
        ),
    ),
    alternatives=(
        AFTER_DEATH_SQL.replace("cast(e.START as date) > p.DEATHDATE", "e.START >= p.DEATHDATE + 1").replace(
            "cast(o.DATE as date) > p.DEATHDATE", "o.DATE >= p.DEATHDATE + 1"
        ),
    ),
)

q8 = dq_question(
    grade_id="lab01_dq_future_birth",
    title="Q8 births in the future",
    points=1,
    variable="future_birth_sql",
    columns=("Id",),
    reference=_future_births,
    hints=("'Today' for the workbook's data is 2025-12-31 (manifest.json as_of), not your computer's date.",),
    solution="future_birth_sql = \"select Id from patients where BIRTHDATE > date '2025-12-31'\"",
    wrong=('future_birth_sql = "select Id from patients where DEATHDATE < BIRTHDATE"',),
    alternatives=('future_birth_sql = "select Id from patients where year(BIRTHDATE) > 2025"',),
)

q9 = dq_question(
    grade_id="lab01_dq_missing_units",
    title="Q9 observations missing units",
    points=2,
    variable="missing_units_sql",
    columns=("PATIENT", "ENCOUNTER", "CODE"),
    reference=_missing_units,
    hints=(
        "Only a number needs a unit: text results (smoking status, cause of death) have none, rightly.",
        "Filter on TYPE = 'numeric' and an empty UNITS (NULL once loaded).",
    ),
    solution=(
        'missing_units_sql = """\nselect PATIENT, ENCOUNTER, CODE\nfrom observations\n'
        "where TYPE = 'numeric' and (UNITS is null or UNITS = '')\n\"\"\""
    ),
    wrong=('missing_units_sql = "select PATIENT, ENCOUNTER, CODE from observations where UNITS is null"',),
    alternatives=(
        'missing_units_sql = "select PATIENT, ENCOUNTER, CODE from observations '
        "where coalesce(UNITS, '') = '' and try_cast(VALUE as double) is not null and TYPE <> 'text'\"",
    ),
)

UNIT_MIXUP_SQL = '''unit_mixup_sql = """
with usual as (
    select CODE, mode(UNITS) as usual_units
    from observations
    where TYPE = 'numeric' and UNITS is not null
    group by CODE
)
select o.PATIENT, o.ENCOUNTER, o.CODE, o.UNITS
from observations o
join usual u on u.CODE = o.CODE
where o.UNITS <> u.usual_units
"""'''


def _finds_the_unit_itself(sql: Any) -> None:
    if "mmol" in sql.lower():
        raise Incorrect(
            "Q10 results in an unexpected unit: find the odd unit from the data (how rare each unit is for its "
            "code), without naming it in the query."
        )


q10 = dq_question(
    grade_id="lab01_dq_unit_mixup",
    title="Q10 results in an unexpected unit",
    points=2,
    variable="unit_mixup_sql",
    columns=("PATIENT", "ENCOUNTER", "CODE", "UNITS"),
    reference=_unit_mixups,
    edge_cases=(_finds_the_unit_itself,),
    hints=(
        "Every result of one LOINC code should come in one unit; find the unit most results of each code use.",
        "mode(UNITS) per CODE gives the usual unit; keep the rows whose UNITS is present and different.",
    ),
    solution=UNIT_MIXUP_SQL,
    wrong=(
        "unit_mixup_sql = \"select PATIENT, ENCOUNTER, CODE, UNITS from observations where UNITS <> 'mg/dL'\"",
    ),
    alternatives=(
        '''unit_mixup_sql = """
select PATIENT, ENCOUNTER, CODE, UNITS
from (select *, count(*) over (partition by CODE, UNITS) as with_unit, count(*) over (partition by CODE) as all_
      from observations where TYPE = 'numeric' and UNITS is not null)
where with_unit < all_ / 2
"""''',
    ),
)

DUPLICATES_SQL = '''duplicates_sql = """
select a.Id as id_low, b.Id as id_high
from patients a
join patients b
  on a.Id < b.Id
 and a.BIRTHDATE = b.BIRTHDATE
 and a.GENDER = b.GENDER
 and (a.FIRST = b.FIRST or a.LAST = b.LAST)
 and jaro_winkler_similarity(a.FIRST || ' ' || a.LAST, b.FIRST || ' ' || b.LAST) > 0.9
"""'''
q11 = dq_question(
    grade_id="lab01_dq_duplicates",
    title="Q11 duplicate patients",
    points=2,
    variable="duplicates_sql",
    columns=("id_low", "id_high"),
    reference=_duplicates,
    hints=(
        "A duplicate registration is the same person typed twice: same birth date and gender, a name one "
        "keystroke away; the SSN is sometimes missing, so it cannot be required.",
        "Self-join patients with a.Id < b.Id (each pair once, lower Id first), block on BIRTHDATE and GENDER, "
        "then compare names: equal first or last name, or jaro_winkler_similarity(...) > 0.9.",
    ),
    solution=DUPLICATES_SQL,
    wrong=(
        'duplicates_sql = "select a.Id as id_low, b.Id as id_high from patients a join patients b '
        'on a.Id < b.Id and a.SSN = b.SSN"',
        'duplicates_sql = "select a.Id as id_low, b.Id as id_high from patients a join patients b on a.Id < b.Id '
        'and a.BIRTHDATE = b.BIRTHDATE and a.GENDER = b.GENDER"',
    ),
    alternatives=(
        'duplicates_sql = """select a.Id as id_low, b.Id as id_high from patients a join patients b on a.Id < b.Id '
        "and a.BIRTHDATE = b.BIRTHDATE and a.ZIP = b.ZIP and a.GENDER = b.GENDER "
        'and levenshtein(a.FIRST || a.LAST, b.FIRST || b.LAST) <= 2"""',
    ),
)

# -- Q12 and Q13: star schema with a diagnosis bridge ---------------------------------------------------------


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


def _fact_encounter() -> list[tuple]:
    enc, dx = table("encounters"), _diagnoses()
    return [
        (r.Id, r.PATIENT, int(r.START.strftime("%Y%m%d")), r.ENCOUNTERCLASS, len(dx[r.Id]))
        for r in enc.itertuples()
    ]


def _bridge() -> list[tuple]:
    return [(e, code, 1 / len(codes)) for e, codes in _diagnoses().items() for code in codes]


FACT_SQL = '''fact_encounter_sql = """
with dx as (
    select ENCOUNTER as encounter_id, CODE as code from conditions
    union
    select Id, REASONCODE from encounters where REASONCODE is not null
)
select e.Id                                  as encounter_id,
       e.PATIENT                             as patient_id,
       cast(strftime(e.START, '%Y%m%d') as integer) as date_key,
       e.ENCOUNTERCLASS                      as encounter_class,
       count(dx.code)                        as diagnosis_count
from encounters e
left join dx on dx.encounter_id = e.Id
group by all
"""'''
q12 = sql_question(
    grade_id="lab01_fact_encounter",
    title="Q12 fact_encounter",
    points=2,
    variable="fact_encounter_sql",
    columns=("encounter_id", "patient_id", "date_key", "encounter_class", "diagnosis_count"),
    reference=_fact_encounter,
    hints=(
        "The grain is one row per encounter: every encounter, including those with no diagnosis (count 0).",
        "A diagnosis of an encounter is a condition recorded at it or its REASONCODE; count each code once "
        "(UNION removes repeats), and LEFT JOIN so encounters without one stay.",
        "date_key is the start date as an integer yyyymmdd: cast(strftime(START, '%Y%m%d') as integer).",
    ),
    solution=FACT_SQL,
    wrong=(FACT_SQL.replace("left join dx", "join dx"), FACT_SQL.replace("    union\n", "    union all\n")),
    alternatives=(
        '''fact_encounter_sql = """
select e.Id as encounter_id, e.PATIENT as patient_id,
       year(e.START) * 10000 + month(e.START) * 100 + day(e.START) as date_key, e.ENCOUNTERCLASS as encounter_class,
       (select count(distinct c) from (select CODE c from conditions where ENCOUNTER = e.Id
                                        union all select e.REASONCODE where e.REASONCODE is not null))
         as diagnosis_count
from encounters e
"""''',
    ),
)

BRIDGE_SQL = '''diagnosis_bridge_sql = """
with dx as (
    select ENCOUNTER as encounter_id, CODE as diagnosis_code from conditions
    union
    select Id, REASONCODE from encounters where REASONCODE is not null
)
select encounter_id, diagnosis_code,
       1.0 / count(*) over (partition by encounter_id) as weight
from dx
"""'''
q13 = sql_question(
    grade_id="lab01_diagnosis_bridge",
    title="Q13 diagnosis bridge",
    points=3,
    variable="diagnosis_bridge_sql",
    columns=("encounter_id", "diagnosis_code", "weight"),
    reference=_bridge,
    hints=(
        "One row per (encounter, diagnosis) pair: the same diagnoses you counted in Q12.",
        "The weights of an encounter add up to 1, so a cost spread over its diagnoses is counted once: "
        "1.0 / count(*) over (partition by encounter_id).",
    ),
    solution=BRIDGE_SQL,
    wrong=(BRIDGE_SQL.replace("1.0 / count(*) over (partition by encounter_id)", "1.0"),),
    alternatives=(
        '''diagnosis_bridge_sql = """
with dx as (select distinct * from (select ENCOUNTER e, CODE c from conditions
                                    union all select Id, REASONCODE from encounters where REASONCODE <> ''))
select dx.e as encounter_id, dx.c as diagnosis_code, 1 / n.k as weight from dx join (select e, count(*) k from dx group by e) n using (e)
"""''',
    ),
)


def _compare_bridge(got: list[tuple], expected: list[tuple]) -> None:
    """Match rows on (encounter_id, diagnosis_code), then compare the weight."""
    title = "Q13 diagnosis bridge"
    want = {(e, c): w for e, c, w in expected}
    seen: set[tuple] = set()
    for e, c, w in got:
        if (e, c) not in want or (e, c) in seen:
            raise Incorrect(
                f"{title}: the row encounter_id = {e!r}, diagnosis_code = {c!r} should not be there "
                "(not a diagnosis of that encounter, or a repeat)."
            )
        seen.add((e, c))
        try:
            weight = float(w)
        except (TypeError, ValueError):
            weight = float("nan")
        if not abs(weight - want[(e, c)]) <= 1e-6:
            raise Incorrect(
                f"{title}: for encounter_id = {e!r}, diagnosis_code = {c!r}, the weight {w!r} is not right."
            )
    missing = len(want) - len(seen)
    if missing:
        raise Incorrect(f"{title}: {missing} (encounter, diagnosis) rows are missing.")


q13 = dataclasses.replace(q13, compare=_compare_bridge)

QUESTIONS = (q1, q2, q3, q4, q5, q6, q7, q8, q9, q10, q11, q12, q13)
