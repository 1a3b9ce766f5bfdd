"""Lab 01's questions, as data: what each asks, its points, hints, how it is compared, and the edge cases a
right answer must also get right. The expected values come from ``reference.py`` and the answer cells from
``answers.py``, both imported only when needed, so that an exam release can leave them out.

| Q  | grade id                   | pts | asks for                                                                 |
|----|----------------------------|-----|--------------------------------------------------------------------------|
| 1  | lab01_column_types         | 2   | `column_types`: the type of each of eight columns                        |
| 2  | lab01_ehr_ddl              | 4   | `ehr_ddl`: patients, encounters, conditions with keys and constraints     |
| 3  | lab01_normalize            | 3   | `normalized_sql`: the wide extract split into five normalized tables      |
| 4  | lab01_address_scd2         | 3   | `address_scd2_sql`: SCD type 2 address history from the Patient JSON      |
| 5  | lab01_address_at_encounter | 2   | `address_at_encounter_sql`: the ZIP valid on each encounter's date        |
| 6  | lab01_dq_orphans           | 2   | `orphans_sql`: observations and conditions whose parent does not exist    |
| 7  | lab01_dq_after_death       | 2   | `after_death_sql`: encounters and observations after the patient's death  |
| 8  | lab01_dq_future_birth      | 1   | `future_birth_sql`: patients born after the as-of date                    |
| 9  | lab01_dq_missing_units     | 2   | `missing_units_sql`: numeric observations without a unit                  |
| 10 | lab01_dq_unit_mixup        | 2   | `unit_mixup_sql`: results in a unit other than their code's usual one     |
| 11 | lab01_dq_duplicates        | 2   | `duplicates_sql`: pairs of patients registered twice                      |
| 12 | lab01_fact_encounter       | 2   | `fact_encounter_sql`: the encounter fact table with its diagnosis count   |
| 13 | lab01_diagnosis_bridge     | 3   | `diagnosis_bridge_sql`: the diagnosis bridge table with weights           |

Q2 inserts real rows that must go in and made-up rows each breaking one rule that must be rejected; Q6-Q11 run
on the ``defects`` dataset and must find exactly the planted rows (feedback never shows a planted row); Q5 also
runs on made-up rows: an encounter on the day the patient moved.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from functools import cache
from typing import Any

from hitlab.checks.choice import mapping_question
from hitlab.checks.core import AnswerKey, Incorrect, Question, compare_rows, reference_of
from hitlab.checks.ddl import BadRow, ddl_question
from hitlab.checks.lab01.materials import NORMAL_COLUMNS, SCD2_COLUMNS, address_workspace, wide_extract
from hitlab.checks.sql import Scenario, execute, sql_question, table, toy_database

_answers = AnswerKey("hitlab.checks.lab01")  # left out of an exam release
_key, _keys = _answers.source, _answers.sources


def _ref():
    """The reference answers (absent from an exam release: the grader's install has them)."""
    return reference_of("hitlab.checks.lab01")


# -- Q1 types -------------------------------------------------------------------------------------------------

q1 = mapping_question(
    grade_id="lab01_column_types",
    title="Q1 column types",
    points=2,
    variable="column_types",
    items=(
        "patients.BIRTHDATE, a date of birth",
        "encounters.START, when a visit began (UTC)",
        "patients.ZIP, such as 02138",
        "patients.SSN, such as 999-12-3456",
        "observations.CODE, a LOINC code such as 4548-4",
        "conditions.CODE, a SNOMED CT code such as 44054006",
        "medications.DISPENSES, how many times it was filled",
        "encounters.TOTAL_CLAIM_COST, in dollars and cents",
    ),
    answer=lambda: _ref().COLUMN_TYPES,
    solution_code=_key("COLUMN_TYPES"),
    allowed=("DATE", "TIMESTAMP", "VARCHAR", "INTEGER", "DECIMAL"),
    hints=(
        "Ask of each column: will anyone ever do arithmetic on it? Does a leading zero or a dash matter? Is a time "
        "of day part of the fact?",
        "Identifiers and codes are labels made of digits, not numbers; a birth date has no time of day (and no "
        "time zone), a visit start does.",
    ),
    wrong=_keys("COLUMN_TYPES_WRONG"),
    alternatives=_keys("COLUMN_TYPES_ALTERNATIVES"),
)

# -- Q2 DDL ---------------------------------------------------------------------------------------------------


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
    solution=_key("EHR_DDL"),
    wrong=_keys("EHR_DDL_WRONG"),
    alternatives=_keys("EHR_DDL_ALTERNATIVES"),
)

# -- Q3 normalization -----------------------------------------------------------------------------------------


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


q3 = Question(
    grade_id="lab01_normalize",
    title="Q3 normalize the extract",
    points=3,
    variable="normalized_sql",
    expected=lambda: _ref().normalized(),
    key_from_data=True,  # each table's rows, computed from the dataset
    compare=_compare_normalized,
    prepare=_run_normalized,
    form=(_run_normalized,),  # a query per table, each running on the extract with the columns asked for
    hints=(
        "Each table holds the facts about one thing, once: which columns depend only on the patient? only on "
        "the organization? on the encounter? on the pair (encounter, condition)?",
        "SELECT DISTINCT collapses the repeated copies; encounters without a condition must not create an "
        "empty encounter_condition row or an empty code.",
    ),
    solution_code=_key("NORMALIZED_SQL"),
    wrong=_keys("NORMALIZED_SQL_WRONG"),
    alternatives=_keys("NORMALIZED_SQL_ALTERNATIVES"),
)

# -- Q4 and Q5: SCD type 2 addresses --------------------------------------------------------------------------

q4 = sql_question(
    grade_id="lab01_address_scd2",
    title="Q4 SCD type 2 patient address",
    points=3,
    variable="address_scd2_sql",
    columns=SCD2_COLUMNS,
    reference=lambda: _ref().address_history(),
    hints=(
        "Every entry of Patient.address becomes one row; its period gives valid_from and valid_to.",
        "unnest(json_extract(resource, '$.address[*]')) turns the address array into rows; a ->> '$.period.start' "
        "reads a text value out of one entry (then cast it to a date).",
        "FHIR's period.end is the last day at that address (inclusive); valid_to is the first day it no longer "
        "applies, so add one day. The current address has no period.end: valid_to stays NULL.",
    ),
    solution=_key("SCD2_SQL"),
    wrong=_keys("SCD2_SQL_WRONG"),
    alternatives=_keys("SCD2_SQL_ALTERNATIVES"),
)


def _run_at_encounter(sql: Any) -> list[tuple]:
    if not isinstance(sql, str):  # before building the workspace
        raise Incorrect(
            f"Q5 address at each encounter: expected the query as a string, got {type(sql).__name__}."
        )
    return execute(
        address_workspace(), sql, title="Q5 address at each encounter", columns=("encounter_id", "zip")
    )


def _reads_address_history(sql: Any) -> None:
    if "patient_address" not in sql:
        raise Incorrect(
            "Q5 address at each encounter: read the addresses from the SCD type 2 table patient_address, "
            "which keeps every address with its validity interval."
        )


_MOVING_DAY = Scenario(
    "an encounter on the day the patient moved (one address ends and the next begins that day)",
    {
        "encounters": (("e1", "p1", "2024-06-01 10:00:00"),),
        "patient_address": (
            ("p1", "1 Old Road", "Boston", "02101", "2020-01-01", "2024-06-01", False),
            ("p1", "2 New Street", "Salem", "01970", "2024-06-01", None, True),
        ),
    },
    {"encounters": ("Id", "PATIENT", "START"), "patient_address": SCD2_COLUMNS},
)


def _on_moving_day(sql: Any) -> None:
    """The half-open interval on made-up rows: on a moving day only the new address is valid (BETWEEN finds
    both). ``patient_address`` is not a table of the data, so it is typed here as the Q5 workspace types it."""
    frames = _MOVING_DAY.frames()
    con, typed = toy_database(encounters=frames["encounters"])
    con.execute(
        "create table patient_address (patient_id varchar, line varchar, city varchar, zip varchar, "
        "valid_from date, valid_to date, is_current boolean)"
    )
    con.register("toy_rows", frames["patient_address"])
    con.execute("insert into patient_address select * from toy_rows")
    con.unregister("toy_rows")
    title = f"Q5 address at each encounter, on made-up data with {_MOVING_DAY.what}"
    rows = execute(con, sql, title=title, columns=("encounter_id", "zip"))
    addresses = con.execute("select * from patient_address").fetchall()
    expected = _ref().address_at_encounter(addresses, typed["encounters"])
    compare_rows(rows, expected, columns=("encounter_id", "zip"), title=title, name_rows=False)


q5 = Question(
    grade_id="lab01_address_at_encounter",
    title="Q5 address at each encounter",
    points=2,
    variable="address_at_encounter_sql",
    expected=lambda: _ref().address_at_encounter(),
    key_from_data=True,  # rows computed from the dataset
    compare=lambda got, exp: compare_rows(
        got, exp, columns=("encounter_id", "zip"), title="Q5 address at each encounter"
    ),
    prepare=_run_at_encounter,
    edge_cases=(_reads_address_history, _on_moving_day),
    form=(_run_at_encounter, _reads_address_history),  # runs with the columns asked for, on patient_address
    hints=(
        "Join each encounter to the address row of the same patient whose validity interval contains the "
        "encounter's date.",
        "The interval is half-open: valid_from <= date < valid_to, and a NULL valid_to means 'still valid'. "
        "BETWEEN includes both ends, so on a moving day it finds two addresses.",
    ),
    solution_code=_key("AT_ENCOUNTER_SQL"),
    wrong=_keys("AT_ENCOUNTER_SQL_WRONG"),
    alternatives=_keys("AT_ENCOUNTER_SQL_ALTERNATIVES"),
)

# -- Q6-Q11: data-quality report on the defects dataset -------------------------------------------------------


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


q6 = dq_question(
    grade_id="lab01_dq_orphans",
    title="Q6 orphan rows",
    points=2,
    variable="orphans_sql",
    columns=("PATIENT", "ENCOUNTER", "CODE", "table_name"),
    reference=lambda: _ref().orphans(),
    hints=(
        "An orphan points at a parent that does not exist: its PATIENT is not a patients.Id, or its ENCOUNTER "
        "is not an encounters.Id.",
        "Check both observations and conditions, both columns each, and stack the results with UNION ALL.",
    ),
    solution=_key("ORPHANS_SQL"),
    wrong=_keys("ORPHANS_SQL_WRONG"),
    alternatives=_keys("ORPHANS_SQL_ALTERNATIVES"),
)

q7 = dq_question(
    grade_id="lab01_dq_after_death",
    title="Q7 events after death",
    points=2,
    variable="after_death_sql",
    columns=("PATIENT", "ENCOUNTER", "table_name"),
    reference=lambda: _ref().after_death(),
    hints=(
        "Join each event to its patient and compare the event's date with DEATHDATE; check encounters and "
        "observations.",
        "DEATHDATE is a DATE and START a TIMESTAMP: an event on the day of death (the death certification, an "
        "in-hospital death) is not after it. Compare dates, not a timestamp with midnight.",
    ),
    solution=_key("AFTER_DEATH_SQL"),
    wrong=_keys("AFTER_DEATH_SQL_WRONG"),
    alternatives=_keys("AFTER_DEATH_SQL_ALTERNATIVES"),
)

q8 = dq_question(
    grade_id="lab01_dq_future_birth",
    title="Q8 births in the future",
    points=1,
    variable="future_birth_sql",
    columns=("Id",),
    reference=lambda: _ref().future_births(),
    hints=("'Today' for the workbook's data is 2025-12-31 (manifest.json as_of), not your computer's date.",),
    solution=_key("FUTURE_BIRTH_SQL"),
    wrong=_keys("FUTURE_BIRTH_SQL_WRONG"),
    alternatives=_keys("FUTURE_BIRTH_SQL_ALTERNATIVES"),
)

q9 = dq_question(
    grade_id="lab01_dq_missing_units",
    title="Q9 observations missing units",
    points=2,
    variable="missing_units_sql",
    columns=("PATIENT", "ENCOUNTER", "CODE"),
    reference=lambda: _ref().missing_units(),
    hints=(
        "Only a number needs a unit: text results (smoking status, cause of death) have none, rightly.",
        "Filter on TYPE = 'numeric' and an empty UNITS (NULL once loaded).",
    ),
    solution=_key("MISSING_UNITS_SQL"),
    wrong=_keys("MISSING_UNITS_SQL_WRONG"),
    alternatives=_keys("MISSING_UNITS_SQL_ALTERNATIVES"),
)


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
    reference=lambda: _ref().unit_mixups(),
    edge_cases=(_finds_the_unit_itself,),
    hints=(
        "Every result of one LOINC code should come in one unit; find the unit most results of each code use.",
        "mode(UNITS) per CODE gives the usual unit; keep the rows whose UNITS is present and different.",
    ),
    solution=_key("UNIT_MIXUP_SQL"),
    wrong=_keys("UNIT_MIXUP_SQL_WRONG"),
    alternatives=_keys("UNIT_MIXUP_SQL_ALTERNATIVES"),
)

q11 = dq_question(
    grade_id="lab01_dq_duplicates",
    title="Q11 duplicate patients",
    points=2,
    variable="duplicates_sql",
    columns=("id_low", "id_high"),
    reference=lambda: _ref().duplicates(),
    hints=(
        "A duplicate registration is the same person typed twice: same birth date and gender, a name one "
        "keystroke away; the SSN is sometimes missing, so it cannot be required.",
        "Self-join patients with a.Id < b.Id (each pair once, lower Id first), block on BIRTHDATE and GENDER, "
        "then compare names: equal first or last name, or jaro_winkler_similarity(...) > 0.9.",
    ),
    solution=_key("DUPLICATES_SQL"),
    wrong=_keys("DUPLICATES_SQL_WRONG"),
    alternatives=_keys("DUPLICATES_SQL_ALTERNATIVES"),
)

# -- Q12 and Q13: star schema with a diagnosis bridge ---------------------------------------------------------

q12 = sql_question(
    grade_id="lab01_fact_encounter",
    title="Q12 fact_encounter",
    points=2,
    variable="fact_encounter_sql",
    columns=("encounter_id", "patient_id", "date_key", "encounter_class", "diagnosis_count"),
    reference=lambda: _ref().fact_encounter(),
    hints=(
        "The grain is one row per encounter: every encounter, including those with no diagnosis (count 0).",
        "A diagnosis of an encounter is a condition recorded at it or its REASONCODE; count each code once "
        "(UNION removes repeats), and LEFT JOIN so encounters without one stay.",
        "date_key is the start date as an integer yyyymmdd: cast(strftime(START, '%Y%m%d') as integer).",
    ),
    solution=_key("FACT_SQL"),
    wrong=_keys("FACT_SQL_WRONG"),
    alternatives=_keys("FACT_SQL_ALTERNATIVES"),
)

q13 = sql_question(
    grade_id="lab01_diagnosis_bridge",
    title="Q13 diagnosis bridge",
    points=3,
    variable="diagnosis_bridge_sql",
    columns=("encounter_id", "diagnosis_code", "weight"),
    reference=lambda: _ref().bridge(),
    hints=(
        "One row per (encounter, diagnosis) pair: the same diagnoses you counted in Q12.",
        "The weights of an encounter add up to 1, so a cost spread over its diagnoses is counted once: "
        "1.0 / count(*) over (partition by encounter_id).",
    ),
    solution=_key("BRIDGE_SQL"),
    wrong=_keys("BRIDGE_SQL_WRONG"),
    alternatives=_keys("BRIDGE_SQL_ALTERNATIVES"),
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
