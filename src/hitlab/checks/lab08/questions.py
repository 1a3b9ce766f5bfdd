"""Lab 08's questions, as data: what each asks, its points, hints, how it is compared, and the edge cases a
right answer must also get right. The expected values come from ``reference.py`` and the worked answers from
``answers.py``, both imported only when needed, so that an exam release can leave them out.

| Q  | grade id                     | pts | asks for                                                               |
|----|------------------------------|-----|------------------------------------------------------------------------|
| 1  | lab08_star_schema            | 3   | `build_star(con)`: the star schema by an idempotent ETL in DuckDB       |
| 2  | lab08_incremental_load       | 3   | `load_batch(con, batch, as_of)`: upserts, SCD 2, late-arriving facts    |
| 3  | lab08_scd_types              | 2   | `scd_types`: which slowly changing dimension type for which change      |
| 4  | lab08_visit_occurrence       | 4   | `visit_sql`: OMOP visit_occurrence by ETL-Synthea's IP/ER/OP rules      |
| 5  | lab08_observation_period     | 2   | `observation_sql`: OMOP observation_period as ETL-Synthea builds it     |
| 6  | lab08_new_user_cohort        | 3   | `cohort_sql`: new metformin users with 365 days of prior observation   |
| 7  | lab08_prevalence             | 3   | `prevalence_sql`: hypertension prevalence by age band and sex          |
| 8  | lab08_risk_tiers             | 2   | `risk_sql`: high / rising / low risk tiers                              |
| 9  | lab08_pmpm                   | 3   | `pmpm_sql`: member months and paid per member per month, by year        |
| 10 | lab08_trend_plot             | 2   | `plot_trend(pmpm)`: a trend a manager reads                             |
| 11 | lab08_distribution_plot      | 2   | `plot_cost_distribution(costs)`: members by cost band                   |
| 12 | lab08_small_multiples        | 2   | `plot_small_multiples(prevalence)`: one panel per sex, shared y axis    |
| 13 | lab08_bulk_ingest            | 3   | `ingest_bulk(con, folder)`: a Bulk Data export, append-only raw layer   |

Q14 (written, 3 points, ``lab08_warehouse_design``) is graded by hand; its rubric is in the notebook.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections.abc import Callable, Sequence
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from hitlab.checks.choice import picks_question
from hitlab.checks.core import AnswerKey, Incorrect, Question, compare_rows, describe, reference_of
from hitlab.checks.function import Case, check_signature, function_question, judge_call, signature
from hitlab.checks.lab08 import materials as m
from hitlab.checks.sql import Scenario, execute, sql_question, table, toy_database

_answers = AnswerKey("hitlab.checks.lab08")  # left out of an exam release
_key = _answers.source


def _keys(name: str) -> tuple[str, ...]:
    """Answer sources by name; of the known-wrong ones (``*_WRONG``) only the first is graded by ``hitlab course
    verify`` (every run executes the whole notebook), the others are proven in tests/test_lab08.py."""
    values = _answers.sources(name)
    return values[:1] if name.endswith("_WRONG") else values


def _ref():
    """The reference implementations (absent from an exam release: the grader's install has them)."""
    return reference_of("hitlab.checks.lab08")


# == star schema: reading what the learner built ================================================================

STAR_COLUMNS = {
    "dim_patient": ("patient_id", "valid_from", "gender", "birthdate", "city", "zip", "valid_to", "is_current",
                    "is_inferred"),
    "dim_provider": ("provider_id", "name", "speciality", "organization"),
    "dim_date": ("date_key", "full_date", "year", "quarter", "month", "day_of_week"),
    "fact_encounter": ("encounter_id", "patient_id", "patient_valid_from", "full_date", "provider_id",
                       "encounter_class", "total_claim_cost", "payer_coverage"),
    "bridge_diagnosis": ("encounter_id", "code", "weight"),
}  # fmt: skip
KEYS = {"dim_patient": 2, "dim_provider": 1, "dim_date": 1, "fact_encounter": 1, "bridge_diagnosis": 2}
READ = {
    "dim_patient": "select " + ", ".join(STAR_COLUMNS["dim_patient"]) + " from dim_patient",
    "dim_provider": "select " + ", ".join(STAR_COLUMNS["dim_provider"]) + " from dim_provider",
    "dim_date": "select " + ", ".join(STAR_COLUMNS["dim_date"]) + " from dim_date",
    "fact_encounter": """
        select f.encounter_id, p.patient_id, p.valid_from as patient_valid_from, d.full_date, v.provider_id,
               f.encounter_class, f.total_claim_cost, f.payer_coverage
        from fact_encounter f
        left join dim_patient p on p.patient_key = f.patient_key
        left join dim_date d on d.date_key = f.date_key
        left join dim_provider v on v.provider_key = f.provider_key""",
    "bridge_diagnosis": "select encounter_id, code, weight from bridge_diagnosis",
}
INTEGRITY = (
    ("select count(*) - count(distinct patient_key) from dim_patient", "dim_patient.patient_key is not unique"),
    ("select count(*) - count(distinct provider_key) from dim_provider", "dim_provider.provider_key is not unique"),
    ("select count(*) from fact_encounter where patient_key not in (select patient_key from dim_patient)",
     "some fact_encounter rows have a patient_key that is not in dim_patient"),
    ("select count(*) from fact_encounter where date_key not in (select date_key from dim_date)",
     "some fact_encounter rows have a date_key that is not in dim_date"),
)  # fmt: skip


def read_star(con, title: str) -> dict[str, list[tuple]]:
    out = {}
    for name, sql in READ.items():
        out[name] = execute(
            con, sql, title=title, what=f"reading `{name}` (columns as the exercise names them)"
        )
    for sql, problem in INTEGRITY:
        if execute(con, sql, title=title, what="a key check")[0][0]:
            raise Incorrect(f"{title}: {problem}.")
    return out


def compare_star(got: dict, expected: dict, title: str, name_rows: bool) -> None:
    for name, columns in STAR_COLUMNS.items():
        compare_rows(got[name], expected[name], columns=columns, title=f"{title}, table {name}",
                     key_columns=KEYS[name], name_rows=name_rows)  # fmt: skip


def _frames(scenario: Scenario) -> dict:
    """A scenario's rows typed as the real tables (through a scratch database)."""
    _con, typed = toy_database(**scenario.frames())
    return typed


def _star_scenario():
    encounters = (
        "Id",
        "PATIENT",
        "START",
        "STOP",
        "PROVIDER",
        "ENCOUNTERCLASS",
        "TOTAL_CLAIM_COST",
        "PAYER_COVERAGE",
    )
    return Scenario(
        "a patient with no encounters, an encounter of an unknown patient, a diagnosis recorded twice and "
        "encounters in two years",
        {
            "patients": (("p1", "F", "1970-03-04", "Boston", "02134"), ("p2", "M", "1980-01-01", "Salem", "01970"),
                         ("p3", "M", "1990-05-05", "Lynn", "01901")),
            "providers": (("d1", "Dr One", "GENERAL PRACTICE", "o1"), ("d2", "Dr Two", "CARDIOLOGY", "o1")),
            "encounters": (("e1", "p1", "2019-12-31 23:30:00", "2020-01-01 00:10:00", "d1", "emergency", 900.0, 700.0),
                           ("e2", "p1", "2020-03-01 09:00:00", "2020-03-01 09:20:00", "d2", "ambulatory", 120.0, 90.0),
                           ("e3", "p9", "2020-06-01 09:00:00", "2020-06-01 09:15:00", "d1", "wellness", 80.0, 0.0),
                           ("e4", "p2", "2020-07-01 09:00:00", "2020-07-01 09:15:00", "d2", "virtual", 59.0, None)),
            "conditions": (("2019-12-31", None, "p1", "e1", "29857009", "Chest pain"),
                           ("2019-12-31", None, "p1", "e1", "59621000", "Essential hypertension"),
                           ("2019-12-31", None, "p1", "e1", "59621000", "Essential hypertension"),
                           ("2020-03-01", None, "p1", "e2", "44054006", "Diabetes"),
                           ("2020-03-01", None, "p1", "eX", "10509002", "Bronchitis")),
        },
        {"patients": ("Id", "GENDER", "BIRTHDATE", "CITY", "ZIP"), "providers": ("Id", "NAME", "SPECIALITY", "ORGANIZATION"),
         "encounters": encounters, "conditions": ("START", "STOP", "PATIENT", "ENCOUNTER", "CODE", "DESCRIPTION")},
    )  # fmt: skip


_STAR_TITLE = "Q1 a star schema by an idempotent ETL"


def _star_check(fn: Any, _key: Any) -> None:
    title = q1.title
    check_signature(fn, "build_star", ("con",), title)
    ref = _ref()
    real = {name: table(name) for name in m.STAR_SOURCES}
    cases = [
        ("the dataset", real, True, ("once",)),
        (f"made-up data with {_star_scenario().what}", _frames(_star_scenario()), False, ("once", "twice")),
    ]
    for label, frames, named, runs in cases:
        expected = ref.Warehouse.build(frames).rows()
        con = m.workspace(frames=frames)
        for run in runs:
            judge_call(fn, Case(f"{label} (run {run})", (con,)), None, title=title, limit=40)
            got = read_star(con, f"{title}: on {label}, after running build_star {run}")
            compare_star(got, expected, f"{title}: on {label}, after running build_star {run}", named)


q1 = Question(
    grade_id="lab08_star_schema",
    title=_STAR_TITLE,
    points=3,
    variable="build_star",
    expected=lambda: None,
    compare=_star_check,
    hints=(
        "Write each table with `create or replace table ... as select ...`: running the whole script again then "
        "rebuilds the same tables instead of adding rows.",
        "Keys: `row_number() over (order by Id)` gives surrogate keys; `date_key` is `yyyymmdd` as an integer "
        "(`cast(strftime(START, '%Y%m%d') as integer)`); `dim_date` is a calendar: `range(start, end, interval 1 "
        "day)` over whole years.",
        "An encounter whose patient is not in `patients` still needs a `dim_patient` row (an inferred member, "
        "`is_inferred = true`, attributes NULL): Kimball's early-arriving fact, or late-arriving dimension. "
        "No default 'unknown' row. The bridge weight is 1 / the number of *distinct* codes.",
    ),
    solution_code=_key("STAR"),
    wrong=_keys("STAR_WRONG"),
    alternatives=_keys("STAR_ALTERNATIVE"),
    form=(signature("build_star", ("con",), _STAR_TITLE),),
)


_BATCH_TITLE = "Q2 an incremental batch: upserts, a changed patient, late-arriving facts"


def _batch_scenario():
    """A made-up warehouse and two batches: a move, a late fact, an inferred member, then its patient."""
    import pandas as pd

    base = _frames(_star_scenario())
    base["encounters"] = base["encounters"][base["encounters"]["PATIENT"] != "p9"].reset_index(drop=True)
    later = Scenario(
        "batches",
        {
            "patients": (("p1", "F", "1970-03-04", "Cambridge", "02139"),     # moved
                         ("p2", "M", "1980-01-02", "Salem", "01970")),        # birth date corrected only
            "encounters": (("e5", "p1", "2020-05-01 09:00:00", "2020-05-01 09:20:00", "d1", "ambulatory", 100.0, 80.0),
                           ("e6", "p1", "2020-08-01 09:00:00", "2020-08-01 09:20:00", "d1", "ambulatory", 100.0, 80.0),
                           ("e7", "p7", "2021-02-01 09:00:00", "2021-02-01 09:20:00", "d2", "wellness", 50.0, 40.0),
                           ("e2", "p1", "2020-03-01 09:00:00", "2020-03-01 09:20:00", "d2", "ambulatory", 125.0, 95.0)),
            "conditions": (("2020-05-01", None, "p1", "e5", "10509002", "Bronchitis"),
                           ("2020-03-01", None, "p1", "e2", "195662009", "Pharyngitis")),
        },
        _star_scenario().columns,
    ).frames()  # fmt: skip
    _c, typed = toy_database(**later)
    late_patient = Scenario("late", {"patients": (("p7", "F", "2001-01-01", "Lowell", "01850"),)},
                            {"patients": ("Id", "GENDER", "BIRTHDATE", "CITY", "ZIP")}).frames()  # fmt: skip
    _c, typed2 = toy_database(**late_patient)
    empty = {"encounters": typed["encounters"].iloc[0:0], "conditions": typed["conditions"].iloc[0:0]}
    first = {
        "patients": typed["patients"],
        "encounters": typed["encounters"],
        "conditions": typed["conditions"],
    }
    second = {"patients": typed2["patients"], **empty}
    del pd
    return base, [(first, date(2020, 7, 1)), (second, date(2021, 3, 1))]


def _batch_check(fn: Any, _key: Any) -> None:
    title = q2.title
    check_signature(fn, "load_batch", ("con", "batch", "as_of"), title)
    ref = _ref()
    initial, batch, as_of = m.batch_split()
    base, batches = _batch_scenario()
    plans = [
        ("the dataset's last 180 days as a batch", initial, [(batch, as_of)], True, ("once",)),
        ("made-up batches: a patient who moves, a corrected birth date, a re-sent encounter, a fact whose patient "
         "arrives in a later batch", base, batches, False, ("once", "twice")),
    ]  # fmt: skip
    for label, start, loads, named, runs in plans:
        warehouse = ref.Warehouse.build(start)
        con = m.workspace(frames={})
        warehouse.materialize(con)
        for i, (b, day) in enumerate(loads, start=1):
            warehouse.load_batch(b, day)
            expected = warehouse.rows()
            for run in runs:
                where = f"{label}, batch {i} loaded {run}"
                judge_call(fn, Case(where, (con, {k: v.copy() for k, v in b.items()}, day)), None, title=title,
                           limit=40)  # fmt: skip
                compare_star(read_star(con, f"{title}: on {where}"), expected, f"{title}: on {where}", named)


q2 = Question(
    grade_id="lab08_incremental_load",
    title=_BATCH_TITLE,
    points=3,
    variable="load_batch",
    expected=lambda: None,
    compare=_batch_check,
    hints=(
        "Register the batch's DataFrames (`con.register('b_encounters', batch['encounters'])`) and work in SQL. "
        "Order matters: patients first (new ones, inferred ones filled in, moves), then facts, then re-key.",
        "A move (CITY or ZIP differs from the current version) closes the current row (`valid_to = as_of`, "
        "`is_current = false`) and inserts a new one from `as_of`. Compare with `is distinct from`: NULLs.",
        "Idempotent: delete the batch's encounters from `fact_encounter` before inserting them; a second run of "
        "the same batch then finds no move (the current row already matches) and rewrites the same facts.",
        "After the patients change, point every fact at the version whose `[valid_from, valid_to)` holds its "
        "day: `update fact_encounter f set patient_key = ... from dim_patient p1, dim_patient p2 where ...`.",
    ),
    solution_code=_key("BATCH"),
    wrong=_keys("BATCH_WRONG"),
    alternatives=_keys("BATCH_ALTERNATIVE"),
    form=(signature("load_batch", ("con", "batch", "as_of"), _BATCH_TITLE),),
)

SCD_SITUATIONS = {
    "address": "a patient moves to another town (the warehouse reports utilization by town over the years)",
    "birthdate_typo": "registration corrects a birth date typed wrong",
    "payer_plan": "a member switches from a commercial plan to Medicare (PMPM is reported by plan and month)",
    "preferred_name": "a patient updates their preferred first name",
}
_SCD_OPTIONS = {
    "A": "type 1: overwrite in place, no history",
    "B": "type 2: close the current row and add a new version (valid_from, valid_to, is_current)",
    "C": "type 0: keep the original value forever, ignore the change",
    "D": "type 3: a 'previous value' column beside the current one",
}
q3 = picks_question(
    grade_id="lab08_scd_types",
    title="Q3 which slowly changing dimension type",
    points=2,
    variable="scd_types",
    situations={k: _SCD_OPTIONS for k in SCD_SITUATIONS},
    correct=lambda: _ref().SCD_KEY,
    why_not=lambda: _ref().SCD_WHY_NOT,  # the option each table leaves out is the answer
    hints=(
        "Ask: would a report about the past change if the old value were overwritten, and should it?",
        "Corrections are not history; moves and plan changes are.",
    ),
    solution_code=_key("SCD"),
    wrong=_keys("SCD_WRONG"),
    alternatives=_keys("SCD_ALTERNATIVE"),
)

# == OMOP ======================================================================================================

ENC = ("Id", "PATIENT", "START", "STOP", "ENCOUNTERCLASS")
VISIT_SCENARIOS = (
    Scenario(
        "an ER visit that leads to an admission, an ER and an office visit during the stay, and an outpatient "
        "visit that starts before the stay",
        {"encounters": (
            ("e1", "p1", "2020-01-01 10:00:00", "2020-01-01 14:00:00", "emergency"),
            ("e2", "p1", "2020-01-01 14:00:00", "2020-01-04 10:00:00", "inpatient"),
            ("e3", "p1", "2020-01-02 09:00:00", "2020-01-02 11:00:00", "emergency"),
            ("e4", "p1", "2020-01-03 09:00:00", "2020-01-03 09:30:00", "ambulatory"),
            ("e5", "p1", "2019-12-31 09:00:00", "2020-01-01 15:00:00", "outpatient"),
            ("e6", "p2", "2020-01-01 11:00:00", "2020-01-01 12:00:00", "emergency"),
        )},
        {"encounters": ENC},
    ),
    Scenario(
        "inpatient stays 20 hours apart and 3 days apart",
        {"encounters": (
            ("i1", "p1", "2020-02-01 08:00:00", "2020-02-03 08:00:00", "inpatient"),
            ("i2", "p1", "2020-02-04 04:00:00", "2020-02-06 08:00:00", "inpatient"),
            ("i3", "p1", "2020-02-09 08:00:00", "2020-02-10 08:00:00", "inpatient"),
            ("i4", "p2", "2020-02-05 08:00:00", "2020-02-06 08:00:00", "inpatient"),
        )},
        {"encounters": ENC},
    ),
    Scenario(
        "two ER visits on one day, urgent care, virtual visits and two office visits at the same time",
        {"encounters": (
            ("r1", "p1", "2020-03-01 01:00:00", "2020-03-01 03:00:00", "emergency"),
            ("r2", "p1", "2020-03-01 22:00:00", "2020-03-01 23:30:00", "emergency"),
            ("r3", "p1", "2020-03-01 12:00:00", "2020-03-01 12:20:00", "urgentcare"),
            ("v1", "p1", "2020-03-02 12:00:00", "2020-03-02 12:20:00", "virtual"),
            ("a1", "p1", "2020-03-05 09:00:00", "2020-03-05 09:20:00", "ambulatory"),
            ("a2", "p1", "2020-03-05 09:00:00", "2020-03-05 09:40:00", "ambulatory"),
            ("w1", "p1", "2020-03-05 09:00:00", "2020-03-05 09:15:00", "wellness"),
        )},
        {"encounters": ENC},
    ),
)  # fmt: skip
VISIT_COLUMNS = (
    "visit_source_value",
    "person_id",
    "visit_concept_id",
    "visit_start_datetime",
    "visit_end_datetime",
)

q4 = sql_question(
    grade_id="lab08_visit_occurrence",
    title="Q4 OMOP visit_occurrence with ETL-Synthea's merge rules",
    points=4,
    variable="visit_sql",
    columns=VISIT_COLUMNS,
    reference=lambda: _ref().visits(table("encounters")),
    scenarios=VISIT_SCENARIOS,
    on_scenario=lambda frames: _ref().visits(frames["encounters"]),
    hints=(
        "Build the stays first: a gaps-and-islands query over inpatient encounters, where a new stay opens when "
        "`START` is more than 1 day after the latest `STOP` so far (`max(STOP) over (... rows between unbounded "
        "preceding and 1 preceding)`).",
        "Then find each stay's guests: the ER encounter that overlaps its start (262), ER encounters starting "
        "inside it, outpatient-class encounters starting inside it (bounds included). Everything else groups "
        "into ER visits (same patient, class and day) or outpatient visits (same patient, class and START).",
        "`visit_source_value` is `min(Id)` of the visit's encounters; a stay's end is its inpatient encounters' "
        "latest STOP, whatever its guests do; virtual encounters make no visit.",
    ),
    solution=_key("VISITS"),
    wrong=_keys("VISITS_WRONG"),
    alternatives=_keys("VISITS_ALTERNATIVE"),
)

q5 = sql_question(
    grade_id="lab08_observation_period",
    title="Q5 OMOP observation_period",
    points=2,
    variable="observation_sql",
    columns=(
        "person_id",
        "observation_period_start_date",
        "observation_period_end_date",
        "period_type_concept_id",
    ),
    reference=lambda: _ref().observation_periods(table("encounters")),
    scenarios=(
        Scenario(
            "a first virtual visit and a last stay that ends days after it starts",
            {
                "encounters": (
                    ("a", "p1", "2018-05-05 09:00:00", "2018-05-05 09:15:00", "virtual"),
                    ("b", "p1", "2020-12-30 09:00:00", "2021-01-04 09:00:00", "inpatient"),
                )
            },
            {"encounters": ENC},
        ),
    ),
    on_scenario=lambda frames: _ref().observation_periods(frames["encounters"]),
    hints=(
        "ETL-Synthea gives each person one period: from their first encounter's START to their last "
        "encounter's STOP, every class counted, as dates.",
        "`period_type_concept_id` is 32882 on every row (the lab names it `lab08.OBSERVATION_PERIOD_TYPE`).",
    ),
    solution=_key("OBSERVATION"),
    wrong=_keys("OBSERVATION_WRONG"),
    alternatives=_keys("OBSERVATION_ALTERNATIVE"),
)

OP_COLUMNS = ("person_id", "observation_period_start_date", "observation_period_end_date")
COHORT_SCENARIO = Scenario(
    "exactly 365 days of history, a drug started before observation, a second observation period, a minor and "
    "an 18th birthday on the index day",
    {
        "medications": (("p1", "2016-01-01 10:00:00", "860975"), ("p1", "2017-01-01 10:00:00", "860975"),
                        ("p2", "2016-01-01 10:00:00", "860975"), ("p2", "2018-01-01 10:00:00", "860975"),
                        ("p3", "2014-05-01 10:00:00", "860975"), ("p3", "2017-05-01 10:00:00", "860975"),
                        ("p4", "2017-01-01 10:00:00", "860975"), ("p5", "2020-01-01 10:00:00", "860975"),
                        ("p6", "2020-01-01 10:00:00", "860975"), ("p7", "2020-01-01 10:00:00", "314076")),
        "patients": (("p1", "1960-01-01"), ("p2", "1960-01-01"), ("p3", "1960-01-01"), ("p4", "1960-01-01"),
                     ("p5", "2005-06-01"), ("p6", "2002-01-01"), ("p7", "1960-01-01")),
        "observation_period": (("p1", "2015-01-01", "2024-12-31"), ("p2", "2015-06-01", "2024-12-31"),
                               ("p3", "2015-01-01", "2024-12-31"), ("p4", "2010-01-01", "2012-12-31"),
                               ("p4", "2016-06-01", "2024-12-31"), ("p5", "2006-01-01", "2024-12-31"),
                               ("p6", "2006-01-01", "2024-12-31"), ("p7", "2006-01-01", "2024-12-31")),
    },
    {"medications": ("PATIENT", "START", "CODE"), "patients": ("Id", "BIRTHDATE"), "observation_period": OP_COLUMNS},
)  # fmt: skip


def cohort_database(frames: dict):
    """A scratch database with ``medications`` and ``patients`` (typed as the real ones) and an
    ``observation_period`` table, from DataFrames."""
    import pandas as pd

    periods = frames["observation_period"]
    con, typed = toy_database(medications=frames["medications"], patients=frames["patients"])
    con.execute("create table observation_period (person_id varchar, observation_period_start_date date, "
                "observation_period_end_date date)")  # fmt: skip
    con.register("_op", pd.DataFrame(periods, columns=list(OP_COLUMNS)))
    con.execute("insert into observation_period select * from _op")
    con.unregister("_op")
    typed["observation_period"] = con.execute("select * from observation_period").df()
    return con, typed


COHORT_COLUMNS = ("person_id", "index_date")


def _cohort_form(sql: Any) -> None:
    """The form of an answer: the query runs on the made-up tables and returns the columns asked for."""
    con, _typed = cohort_database(COHORT_SCENARIO.frames())
    execute(con, sql, title=q6.title, columns=COHORT_COLUMNS)


def _cohort_check(sql: Any, _key: Any) -> None:
    title = q6.title
    ref = _ref()
    real = {"medications": table("medications"), "patients": table("patients"),
            "observation_period": [r[:3] for r in ref.observation_periods(table("encounters"))]}  # fmt: skip
    for label, frames, named in (("the dataset", real, True), (f"made-up data with {COHORT_SCENARIO.what}",
                                                              COHORT_SCENARIO.frames(), False)):  # fmt: skip
        con, typed = cohort_database(frames)
        where = title if named else f"{title}, on {label}"
        rows = execute(con, sql, title=where, columns=COHORT_COLUMNS)
        expected = ref.new_users(typed["medications"], typed["patients"], typed["observation_period"])
        compare_rows(rows, expected, columns=COHORT_COLUMNS, title=where, name_rows=named)


q6 = Question(
    grade_id="lab08_new_user_cohort",
    title="Q6 a new-user drug cohort with 365 days of prior observation",
    points=3,
    variable="cohort_sql",
    expected=lambda: None,
    compare=_cohort_check,
    hints=(
        "The index date is each person's *first* metformin exposure (`min(START)`, as a date); only then apply "
        "the filters: a later exposure never becomes the index.",
        "Prior observation: the observation period that *contains* the index date must start at least 365 "
        "days before it (`observation_period_start_date <= index_date - interval 365 days`).",
        "Adults: `BIRTHDATE + interval 18 years <= index_date` (an 18th birthday on the index day counts).",
    ),
    solution_code=_key("COHORT"),
    wrong=_keys("COHORT_WRONG"),
    alternatives=_keys("COHORT_ALTERNATIVE"),
    form=(_cohort_form,),
)

# == population health =========================================================================================

PAT = ("Id", "BIRTHDATE", "DEATHDATE", "GENDER")
COND = ("START", "STOP", "PATIENT", "ENCOUNTER", "CODE", "DESCRIPTION")
POP_SCENARIO = Scenario(
    "birthdays on and after the day, deaths before and after it, a born-later baby, and hypertension that "
    "stopped, stops later, starts later or is recorded twice",
    {
        "patients": (("a", "2007-07-01", None, "F"), ("b", "2007-07-02", None, "F"), ("c", "1950-01-01", "2025-06-30", "M"),
                     ("d", "1950-01-01", "2025-07-02", "M"), ("e", "2025-08-01", None, "M"), ("f", "1960-07-01", None, "M"),
                     ("g", "1980-07-02", None, "F")),
        "conditions": (("2020-01-01", "2025-06-01", "a", "x", "59621000", "HTN"), ("2020-01-01", "2025-07-02", "b", "x", "59621000", "HTN"),
                       ("2020-01-01", None, "d", "x", "59621000", "HTN"), ("2020-01-01", None, "d", "x", "59621000", "HTN"),
                       ("2025-07-02", None, "f", "x", "59621000", "HTN"), ("2010-01-01", None, "g", "x", "44054006", "T2D"),
                       ("2010-01-01", None, "g", "x", "55822004", "HLD"), ("2010-01-01", None, "g", "x", "13645005", "COPD"),
                       ("2010-01-01", "2024-01-01", "f", "x", "44054006", "T2D")),
        "encounters": (("n1", "a", "2024-07-01 00:00:00", "2024-07-01 03:00:00", "emergency"),
                       ("n2", "a", "2025-07-01 00:00:00", "2025-07-01 03:00:00", "emergency"),
                       ("n3", "b", "2025-01-01 00:00:00", "2025-01-01 03:00:00", "emergency"),
                       ("n4", "b", "2025-03-01 00:00:00", "2025-03-01 03:00:00", "emergency"),
                       ("n5", "f", "2025-03-01 00:00:00", "2025-03-03 03:00:00", "inpatient")),
    },
    {"patients": PAT, "conditions": COND, "encounters": ENC},
)  # fmt: skip
PREV_COLUMNS = ("age_band", "gender", "population", "cases", "prevalence_per_1000")

q7 = sql_question(
    grade_id="lab08_prevalence",
    title="Q7 hypertension prevalence by age band and sex",
    points=3,
    variable="prevalence_sql",
    columns=PREV_COLUMNS,
    reference=lambda: _ref().prevalence(table("patients"), table("conditions")),
    scenarios=(POP_SCENARIO,),
    on_scenario=lambda f: _ref().prevalence(f["patients"], f["conditions"]),
    key_columns=2,
    hints=(
        "The population: born on or before 2025-07-01 and not dead by then (`DEATHDATE > '2025-07-01'` or NULL). "
        "Age in whole years on the day: `date_sub('year', BIRTHDATE, DATE '2025-07-01')`.",
        "A case has hypertension active on the day: `START <= day and (STOP is null or STOP > day)`; count "
        "patients, not condition rows; `left join` so that cells with no case show 0.",
    ),
    solution=_key("PREVALENCE"),
    wrong=_keys("PREVALENCE_WRONG"),
    alternatives=_keys("PREVALENCE_ALTERNATIVE"),
)

q8 = sql_question(
    grade_id="lab08_risk_tiers",
    title="Q8 risk tiers",
    points=2,
    variable="risk_sql",
    columns=("PATIENT", "chronic_conditions", "ed_visits", "inpatient_encounters", "tier"),
    reference=lambda: _ref().risk_tiers(table("patients"), table("conditions"), table("encounters")),
    scenarios=(POP_SCENARIO,),
    on_scenario=lambda f: _ref().risk_tiers(f["patients"], f["conditions"], f["encounters"]),
    hints=(
        "Three counts per living patient: distinct chronic codes active on the day (`lab08.CHRONIC`), emergency "
        "encounters and inpatient encounters that start in the year before the day (from day - 365 days "
        "included, to the day excluded).",
        "`high` if 3+ chronic, any inpatient encounter or 2+ ED visits; else `rising` if any chronic or one ED visit; "
        "else `low`. `left join` the counts and `coalesce` them to 0.",
    ),
    solution=_key("RISK"),
    wrong=_keys("RISK_WRONG"),
    alternatives=_keys("RISK_ALTERNATIVE"),
)

CT = ("ID", "CLAIMID", "TYPE", "AMOUNT", "METHOD", "TRANSFERTYPE", "PAYMENTS", "TRANSFERS")


def _line(claim: str, n: int, charge: float, payer: float) -> tuple[tuple, ...]:
    """One settled claim line, as Synthea writes it: the charge, the payer's payment (ECHECK) and, for the
    patient's share, a transfer out, a transfer in and the patient's payment."""
    rows = [(f"{claim}-{n}a", claim, "CHARGE", charge, None, None, None, None)]
    if payer:
        rows.append((f"{claim}-{n}b", claim, "PAYMENT", None, "ECHECK", None, payer, None))
    share = round(charge - payer, 2)
    if share:
        rows += [(f"{claim}-{n}c", claim, "TRANSFEROUT", None, None, None, None, share),
                 (f"{claim}-{n}d", claim, "TRANSFERIN", share, None, "p", None, share),
                 (f"{claim}-{n}e", claim, "PAYMENT", None, "CC", None, share, None)]  # fmt: skip
    return tuple(rows)


PMPM_SCENARIO = Scenario(
    "coverage that starts mid-month, an uninsured stretch, a claim outside member months, a claim of two lines, "
    "a claim the payer paid nothing on, and drugs filled every 90 days from a prescription that started the "
    "year before",
    {
        "payers": (("pay1", "Acme Health"), ("none", "NO_INSURANCE")),
        "payer_transitions": (("a", "2020-01-15 00:00:00", "2020-04-01 00:00:00", "pay1"),
                              ("a", "2020-04-01 00:00:00", "2020-06-01 00:00:00", "none"),
                              ("a", "2020-06-01 00:00:00", "2021-01-01 00:00:00", "pay1"),
                              ("b", "2019-12-01 00:00:00", "2020-04-01 00:00:00", "pay1")),
        "claims": (("c1", "a", "2020-01-20 10:00:00"), ("c2", "a", "2020-02-10 10:00:00"),
                   ("c3", "a", "2020-05-05 10:00:00"), ("c4", "a", "2020-12-31 23:00:00"),
                   ("c5", "b", "2019-12-02 10:00:00"), ("c6", "b", "2020-01-02 10:00:00"),
                   ("f1", "a", "2020-03-01 08:00:00"), ("f2", "a", "2020-05-30 08:00:00"),
                   ("f3", "a", "2020-08-28 08:00:00"), ("f4", "a", "2020-11-26 08:00:00"),
                   ("g1", "b", "2019-12-15 08:00:00"), ("g2", "b", "2020-03-14 08:00:00")),
        "claims_transactions": (_line("c1", 1, 100.0, 80.0) + _line("c2", 1, 50.0, 40.0) + _line("c2", 2, 30.0, 30.0)
                                + _line("c3", 1, 70.0, 0.0) + _line("c4", 1, 12.0, 10.0) + _line("c5", 1, 1200.0, 1000.0)
                                + _line("c6", 1, 60.0, 0.0) + _line("f1", 1, 8.0, 5.0) + _line("f2", 1, 8.0, 0.0)
                                + _line("f3", 1, 8.0, 5.0) + _line("f4", 1, 8.0, 5.0) + _line("g1", 1, 120.0, 100.0)
                                + _line("g2", 1, 120.0, 100.0)),
        # the same services as encounters and medications (PAYER_COVERAGE = the claims' payer payments)
        "encounters": (("c1", "a", "2020-01-20 10:00:00", 80.0), ("c2", "a", "2020-02-10 10:00:00", 70.0),
                       ("c3", "a", "2020-05-05 10:00:00", 0.0), ("c4", "a", "2020-12-31 23:00:00", 10.0),
                       ("c5", "b", "2019-12-02 10:00:00", 1000.0), ("c6", "b", "2020-01-02 10:00:00", 0.0)),
        "medications": (("a", "2020-03-01 08:00:00", 15.0), ("b", "2019-12-15 08:00:00", 200.0)),
    },
    {"payers": ("Id", "NAME"), "payer_transitions": ("PATIENT", "START_DATE", "END_DATE", "PAYER"),
     "claims": ("Id", "PATIENTID", "SERVICEDATE"), "claims_transactions": CT,
     "encounters": ("Id", "PATIENT", "START", "PAYER_COVERAGE"), "medications": ("PATIENT", "START", "PAYER_COVERAGE")},
)  # fmt: skip

q9 = sql_question(
    grade_id="lab08_pmpm",
    title="Q9 cost per member per month",
    points=3,
    variable="pmpm_sql",
    columns=("year", "member_months", "paid", "pmpm"),
    reference=lambda: _real_pmpm(),
    scenarios=(PMPM_SCENARIO,),
    on_scenario=lambda f: _ref().pmpm(
        f["payer_transitions"], f["payers"], f["claims"], f["claims_transactions"]
    ),
    hints=(
        "Member months first: for each coverage row of a payer other than NO_INSURANCE, the first days of months "
        "`m` with `START_DATE <= m < END_DATE` (`unnest(generate_series(date_trunc('month', START_DATE), "
        "END_DATE, interval 1 month))`), distinct per patient.",
        "Paid: the payer's payments (`claims_transactions` rows of `TYPE` 'PAYMENT' and `METHOD` 'ECHECK', amount in "
        "`PAYMENTS`), joined to their claim (`CLAIMID` = `claims.Id`) and booked in the month of its `SERVICEDATE`, "
        "kept only when that month is one of the patient's (`PATIENTID`) member months.",
        "Not `medications.PAYER_COVERAGE` by `START`: a long-term drug's coverage is the sum of its fills, one every "
        "90 days, years of them; booked on the prescription's first day, PMPM drifts down for no real reason.",
    ),
    solution=_key("PMPM"),
    wrong=_keys("PMPM_WRONG"),
    alternatives=_keys("PMPM_ALTERNATIVE"),
    rel=1e-6,
)

# == plots =====================================================================================================


class Shown:
    """What a plot must show (a reference's result): compared with the learner's Figure by ``compare``."""

    def __init__(self, **facts: Any) -> None:
        self.__dict__.update(facts)


def _figure(got: Any, label: str, title: str):
    from matplotlib.figure import Figure

    if not isinstance(got, Figure):
        raise Incorrect(f"{title}: for {label}, your function returned {describe(got)}; return the matplotlib "
                        "Figure (`fig, ax = plt.subplots()` ... `return fig`).")  # fmt: skip
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(got).draw()  # tick labels exist once drawn
    return got


def _close(fig) -> None:
    import matplotlib.pyplot as plt

    plt.close(fig)


def _plot_axes(fig) -> list:
    return [ax for ax in fig.axes if ax.get_visible() and (ax.lines or ax.patches or ax.collections)]


def _near(a: Sequence[float], b: Sequence[float]) -> bool:
    return len(a) == len(b) and all(
        math.isclose(float(x), float(y), rel_tol=1e-6, abs_tol=1e-9) for x, y in zip(a, b, strict=True)
    )


def _titled(fig, ax) -> bool:
    return bool(ax.get_title().strip() or (fig._suptitle and fig._suptitle.get_text().strip()))


def _compare_trend(got: Any, shown: Shown, case: Case, title: str) -> None:
    fig = _figure(got, case.label, title)
    try:
        axes = _plot_axes(fig)
        if len(axes) != 1:
            raise Incorrect(
                f"{title}: for {case.label}, the figure should have one chart; it has {len(axes)}."
            )
        ax = axes[0]
        if not any(
            _near(ln.get_xdata(), shown.x) and _near(ln.get_ydata(), shown.y) for ln in ax.get_lines()
        ):
            raise Incorrect(
                f"{title}: for {case.label}, no line plots PMPM (y) against the years (x), in order."
            )
        if "year" not in ax.get_xlabel().casefold() or "pmpm" not in ax.get_ylabel().casefold():
            raise Incorrect(f"{title}: for {case.label}, label the axes: x with 'Year', y with 'PMPM'.")
        if not _titled(fig, ax):
            raise Incorrect(f"{title}: for {case.label}, the chart has no title.")
        if ax.get_ylim()[0] != 0:
            raise Incorrect(f"{title}: for {case.label}, the y axis starts at {ax.get_ylim()[0]:g}, not 0: the "
                            "lab's rule for amounts compared year over year, read as heights.")  # fmt: skip
    finally:
        _close(fig)


@cache
def _real_pmpm() -> list[tuple]:
    return _ref().pmpm(
        table("payer_transitions"), table("payers"), table("claims"), table("claims_transactions")
    )


def _trend_cases() -> list[Case]:
    import pandas as pd

    rows = _real_pmpm()
    real = pd.DataFrame(rows, columns=["year", "member_months", "paid", "pmpm"])
    made = pd.DataFrame({"year": [2021, 2022, 2023], "member_months": [10, 12, 12], "paid": [1000.0, 1500.0, 1800.0],
                         "pmpm": [100.0, 125.0, 150.0]})  # fmt: skip
    return [Case("the dataset's PMPM by year", (real,)), Case("three made-up years from 100 to 150", (made,))]


q10 = function_question(
    grade_id="lab08_trend_plot",
    title="Q10 a trend chart: PMPM by year",
    points=2,
    name="plot_trend",
    parameters=("pmpm",),
    reference=lambda df: Shown(x=[float(v) for v in df["year"]], y=[float(v) for v in df["pmpm"]]),
    cases=_trend_cases,
    compare=_compare_trend,
    hints=(
        "One Axes, one line: `ax.plot(pmpm['year'], pmpm['pmpm'])`; a title, 'Year' and 'PMPM ($)' as labels.",
        "This lab's house rule for amounts compared year over year: the y axis starts at zero "
        "(`ax.set_ylim(bottom=0)`), so that a line's height reads as the amount.",
    ),
    solution_code=_key("TREND"),
    wrong=_keys("TREND_WRONG"),
    alternatives=_keys("TREND_ALTERNATIVE"),
)


def _bars(ax) -> list:
    return [p for c in ax.containers for p in c] or list(ax.patches)


def _compare_distribution(got: Any, shown: Shown, case: Case, title: str) -> None:
    fig = _figure(got, case.label, title)
    try:
        axes = _plot_axes(fig)
        if len(axes) != 1:
            raise Incorrect(
                f"{title}: for {case.label}, the figure should have one chart; it has {len(axes)}."
            )
        ax = axes[0]
        heights = [float(p.get_height()) for p in sorted(_bars(ax), key=lambda p: p.get_x())]
        if not _near(heights, shown.counts):
            raise Incorrect(
                f"{title}: for {case.label}, the bar heights {heights} are not the members per band."
            )
        ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
        if ticks != shown.labels:
            raise Incorrect(f"{title}: for {case.label}, the x tick labels should be the band labels in order "
                            f"({', '.join(shown.labels)}); they are {ticks}.")  # fmt: skip
        if "member" not in ax.get_ylabel().casefold() or not _titled(fig, ax):
            raise Incorrect(
                f"{title}: for {case.label}, give the chart a title and a y label that says 'members'."
            )
    finally:
        _close(fig)


def _distribution_cases() -> list[Case]:
    costs = _ref().annual_paid(table("claims"), table("claims_transactions"), m.AS_OF.year - 1)
    return [Case(f"the members' paid amounts in {m.AS_OF.year - 1}", (costs,)),
            Case("made-up amounts on the band edges (0, 500, 2000, 10000)", ([0.0, 499.99, 500.0, 1999.0, 2000.0,
                                                                             10000.0, 25000.0],))]  # fmt: skip


q11 = function_question(
    grade_id="lab08_distribution_plot",
    title="Q11 a distribution: members by cost band",
    points=2,
    name="plot_cost_distribution",
    parameters=("costs",),
    reference=lambda costs: Shown(
        counts=_ref().band_counts(list(costs)), labels=[b[0] for b in m.COST_BANDS]
    ),
    cases=_distribution_cases,
    compare=_compare_distribution,
    hints=(
        "Count the members per band of `lab08.COST_BANDS` (`from <= paid < to`), then `ax.bar(labels, counts)`.",
        "A bar per band, in the bands' order, even when a band is empty; a y label with 'members'.",
    ),
    solution_code=_key("DISTRIBUTION"),
    wrong=_keys("DISTRIBUTION_WRONG"),
    alternatives=_keys("DISTRIBUTION_ALTERNATIVE"),
)


def _compare_multiples(got: Any, shown: Shown, case: Case, title: str) -> None:
    fig = _figure(got, case.label, title)
    try:
        axes = _plot_axes(fig)
        if len(axes) != len(shown.panels):
            raise Incorrect(f"{title}: for {case.label}, expected {len(shown.panels)} panels (one per sex), "
                            f"got {len(axes)}.")  # fmt: skip
        for ax, (sex, heights) in zip(
            sorted(axes, key=lambda a: a.get_position().x0), shown.panels, strict=True
        ):
            if sex not in ax.get_title():
                raise Incorrect(f"{title}: for {case.label}, the panels, left to right, should be titled with the "
                                f"sexes in order ({', '.join(s for s, _ in shown.panels)}).")  # fmt: skip
            got_h = [float(p.get_height()) for p in sorted(_bars(ax), key=lambda p: p.get_x())]
            if not _near(got_h, heights):
                raise Incorrect(f"{title}: for {case.label}, the panel of {sex} shows {got_h}, not the prevalence "
                                "per age band in the bands' order.")  # fmt: skip
        if len({tuple(ax.get_ylim()) for ax in axes}) != 1:
            raise Incorrect(
                f"{title}: for {case.label}, the panels have different y scales: small multiples "
                "share one (`sharey=True`), or readers compare heights that mean different things."
            )
        if not any(ax.get_ylabel().strip() for ax in axes):
            raise Incorrect(f"{title}: for {case.label}, say what the y axis counts (a y label).")
    finally:
        _close(fig)


def _multiples_reference(df) -> Shown:
    bands = [b[0] for b in m.AGE_BANDS]
    panels = []
    for sex in sorted(df["gender"].unique()):
        rows = df[df["gender"] == sex].set_index("age_band")["prevalence_per_1000"]
        panels.append((sex, [float(rows.get(b, 0.0)) for b in bands]))
    return Shown(panels=panels)


def _multiples_cases() -> list[Case]:
    import pandas as pd

    real = pd.DataFrame(_ref().prevalence(table("patients"), table("conditions")), columns=list(PREV_COLUMNS))
    made = pd.DataFrame([("65+", "F", 10, 5, 500.0), ("18-44", "F", 10, 1, 100.0), ("0-17", "M", 10, 0, 0.0),
                         ("45-64", "M", 20, 4, 200.0)], columns=list(PREV_COLUMNS))  # fmt: skip
    return [
        Case("the dataset's prevalence", (real,)),
        Case("made-up rows out of order with missing bands", (made,)),
    ]


q12 = function_question(
    grade_id="lab08_small_multiples",
    title="Q12 small multiples: prevalence by age band, one panel per sex",
    points=2,
    name="plot_small_multiples",
    parameters=("prevalence",),
    reference=_multiples_reference,
    cases=_multiples_cases,
    compare=_compare_multiples,
    hints=(
        "`fig, axes = plt.subplots(1, n, sharey=True, squeeze=False)`; one bar chart per sex (sorted), bars in "
        "the order of `lab08.AGE_BANDS`, 0 for a band with no row.",
        "Title each panel with its sex; one y label is enough when the scale is shared.",
    ),
    solution_code=_key("SMALL_MULTIPLES"),
    wrong=_keys("SMALL_MULTIPLES_WRONG"),
    alternatives=_keys("SMALL_MULTIPLES_ALTERNATIVE"),
)

# == bulk ingest ===============================================================================================

RAW_COLUMNS = ("transaction_time", "source_file", "line", "resource_type", "id", "resource", "deleted")
CURRENT_COLUMNS = ("resource_type", "id", "resource", "source_file", "line", "transaction_time")


@cache
def _real_export() -> str:
    folder = Path(tempfile.mkdtemp(prefix="hitlab-lab08-export-"))
    m.write_bulk_export(folder, patients=m.EXPORT_PATIENTS)
    return str(folder)


def _write_export(folder: Path, when: str, files: dict[str, list[str]], errors: dict[str, list[str]] | None = None,
                  manifest: dict | None = None, deleted: dict[str, list[str]] | None = None) -> Path:  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    output = []
    for name, lines in files.items():
        (folder / name).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        output.append({"type": name.split(".")[0].split("_")[0], "url": f"{m.EXPORT_BASE}/output/{name}"})
    error, gone = [], []
    for name, lines in (errors or {}).items():
        (folder / name).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        error.append({"type": "OperationOutcome", "url": f"{m.EXPORT_BASE}/output/{name}"})
    for name, lines in (deleted or {}).items():
        (folder / name).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        gone.append({"type": "Bundle", "url": f"{m.EXPORT_BASE}/output/{name}"})
    body = manifest if manifest is not None else {
        "transactionTime": when, "request": f"{m.EXPORT_BASE}/$export?_since=2025-01-01T00:00:00Z",
        "requiresAccessToken": True, "output": output, "error": error,
        **({"deleted": gone} if deleted else {})}  # fmt: skip
    (folder / "manifest.json").write_text(json.dumps(body), encoding="utf-8")
    return folder


def _res(kind: str, rid: str, **more: Any) -> str:
    return json.dumps({"resourceType": kind, "id": rid, **more})


def _deletions(*refs: str) -> str:
    """One line of a ``deleted`` file: a transaction Bundle whose entries DELETE ``Type/id``."""
    return json.dumps({"resourceType": "Bundle", "type": "transaction",
                       "entry": [{"request": {"method": "DELETE", "url": ref}} for ref in refs]})  # fmt: skip


def _made_up_exports(root: Path) -> dict[str, Path]:
    first = _write_export(root / "first", "2026-01-01T00:00:00Z", {
        "Patient.ndjson": [_res("Patient", "p1", gender="female"), "", _res("Patient", "p2", gender="male")],
        "Encounter.ndjson": [_res("Encounter", "e1", subject={"reference": "Patient/p1"})],
    }, errors={"errors.ndjson": [_res("OperationOutcome", "oo1")]})  # fmt: skip
    (first / "notlisted.ndjson").write_text(_res("Patient", "zz") + "\n", encoding="utf-8")
    later = _write_export(root / "later", "2026-02-01T00:00:00Z", {
        "Patient_1.ndjson": [_res("Patient", "p1", gender="other"), _res("Patient", "p3", gender="male")],
    })  # fmt: skip
    older = _write_export(root / "older", "2025-12-01T00:00:00Z", {
        "Patient.ndjson": [_res("Patient", "p1", gender="unknown")],
    })  # fmt: skip
    deletions = _write_export(root / "deletions", "2026-03-01T00:00:00Z", {
        "Patient.ndjson": [_res("Patient", "p4", gender="female")], "Encounter.ndjson": [],
    }, deleted={"deleted_Bundle.ndjson": [_deletions("Patient/p2", "Encounter/e1")]})  # fmt: skip
    broken = _write_export(root / "broken", "2026-03-01T00:00:00Z", {
        "Patient.ndjson": [_res("Patient", "p9")],
        "Encounter.ndjson": [_res("Encounter", "e8"), _res("Encounter", "e9"), '{"resourceType": "Encounter", "id":'],
    })  # fmt: skip
    mixed = _write_export(root / "mixed", "2026-03-01T00:00:00Z", {
        "Patient.ndjson": [_res("Patient", "p8"), _res("Observation", "o1")],
    })  # fmt: skip
    bad_delete = _write_export(root / "baddelete", "2026-03-01T00:00:00Z", {
        "Patient.ndjson": [_res("Patient", "p7")],
    }, deleted={"del.ndjson": [_res("Patient", "p1")]})  # fmt: skip
    no_output = _write_export(root / "nooutput", "", {}, manifest={"transactionTime": "2026-03-01T00:00:00Z"})
    return {"first": first, "later": later, "older": older, "deletions": deletions, "broken": broken,
            "mixed": mixed, "bad_delete": bad_delete, "no_output": no_output}  # fmt: skip


def _text(value: Any, full: bool) -> Any:
    if not full:
        return True
    if isinstance(value, str):
        value = json.loads(value)
    return json.dumps(value, sort_keys=True)


def _raw(con, title: str, full: bool = True) -> list[tuple]:
    """``raw_fhir``'s rows; the resource as sorted JSON text (``full``), or only whether it is there (a large
    export: cheaper)."""
    resource = "resource" if full else "resource is not null"
    rows = execute(con, f"select transaction_time, source_file, line, resource_type, id, {resource}, deleted "
                   "from raw_fhir", title=title, what="reading `raw_fhir`")  # fmt: skip
    return [(*r[:5], _text(r[5], full) if full else r[5], r[6]) for r in rows]


def _current(con, title: str, full: bool = True) -> list[tuple]:
    resource = "resource" if full else "resource is not null"
    rows = execute(con, f"select resource_type, id, {resource}, source_file, line, transaction_time "
                   "from raw_fhir_current", title=title, what="reading the view `raw_fhir_current`")  # fmt: skip
    return [(r[0], r[1], _text(r[2], full) if full else r[2], *r[3:]) for r in rows]


def _expected_raw(state: dict, full: bool = True) -> list[tuple]:
    return [(when, f, n, t, i, _text(res, full), gone) for t, i, res, f, n, when, gone in state.values()]


def _expected_current(state: dict, full: bool = True) -> list[tuple]:
    return [(t, i, _text(res, full), f, n, when) for t, i, res, f, n, when in _ref().current(state)]


_BULK_TITLE = "Q13 ingest a FHIR Bulk Data export into the raw layer"


def _bulk_check(fn: Any, _key: Any) -> None:
    import duckdb

    title = q13.title
    check_signature(fn, "ingest_bulk", ("con", "folder"), title)
    ref = _ref()
    root = Path(tempfile.mkdtemp(prefix="hitlab-lab08-bulk-"))
    try:
        exports = _made_up_exports(root)
        plans = [(f"an export of the dataset's first {m.EXPORT_PATIENTS} patients, loaded twice",
                  [Path(_real_export()), Path(_real_export())], True),
                 ("made-up exports: a first one, a later one that updates a patient, the first again, an older one "
                  "that arrives late, and one that deletes a patient and an encounter",
                  [exports["first"], exports["later"], exports["first"], exports["older"], exports["deletions"]],
                  False)]  # fmt: skip
        for label, folders, named in plans:
            con, state = duckdb.connect(), {}
            for i, folder in enumerate(folders, start=1):
                expected_counts = ref.ingest_bulk(state, folder)
                where = f"{label} (load {i})"
                got = judge_call(fn, Case(where, (con, str(folder))), None, title=title, limit=50)
                if got != expected_counts:
                    raise Incorrect(f"{title}: on {where}, your function returned {got!r}; it should return the "
                                    "number of resources in the export's output files per type.")  # fmt: skip
                full = not named  # the dataset's export: ids and types checked, not every resource's text
                compare_rows(_raw(con, title, full), _expected_raw(state, full), columns=RAW_COLUMNS,
                             title=f"{title}: on {where}, table raw_fhir", key_columns=5, name_rows=named)  # fmt: skip
                compare_rows(_current(con, title, full), _expected_current(state, full), columns=CURRENT_COLUMNS,
                             title=f"{title}: on {where}, view raw_fhir_current", key_columns=2,
                             name_rows=named)  # fmt: skip
        for what, name, needles in (
            ("a line cut short (Encounter.ndjson line 3)", "broken", ("Encounter.ndjson", "line 3")),
            ("an Observation in the Patient file (line 2)", "mixed", ("Patient.ndjson", "line 2")),
            ("a deleted file whose line 1 is a Patient, not a Bundle of deletions", "bad_delete", ("del.ndjson", "line 1")),
            ("a manifest without output", "no_output", ("manifest.json",)),
        ):  # fmt: skip
            con, state = duckdb.connect(), {}
            ref.ingest_bulk(state, exports["first"])
            fn(con, str(exports["first"]))
            before = sorted(map(repr, _raw(con, title)))
            judge_call(
                fn,
                Case(f"an export with {what}", (con, str(exports[name]))),
                ValueError,
                title=title,
                limit=20,
            )
            try:
                fn(con, str(exports[name]))
            except ValueError as err:
                if not all(n in str(err) for n in needles):
                    raise Incorrect(f"{title}: for an export with {what}, the error should name "
                                    f"{' and '.join(needles)}; it says {str(err)[:120]!r}.") from None  # fmt: skip
            except Exception:
                pass
            if sorted(map(repr, _raw(con, title))) != before:
                raise Incorrect(f"{title}: an export with {what} was refused but left rows behind: check the whole "
                                "export before writing anything.")  # fmt: skip
    finally:
        shutil.rmtree(root, ignore_errors=True)


q13 = Question(
    grade_id="lab08_bulk_ingest",
    title=_BULK_TITLE,
    points=3,
    variable="ingest_bulk",
    expected=lambda: None,
    compare=_bulk_check,
    hints=(
        "Read `manifest.json`; for each `output` entry the file is the last part of its `url`, in `folder`. "
        "Each non-blank line is one resource; `error` entries are OperationOutcomes (errors, warnings, "
        "information), not data. A `deleted` entry's file holds Bundles whose entries DELETE `Type/id`.",
        "Check everything before writing: a line that is not JSON, or whose `resourceType` is not the entry's "
        "`type`, raises ValueError naming the file and the line (`f'{name} line {n}: ...'`).",
        "Append, never overwrite: insert only the rows whose (transaction_time, source_file, line, resource_type, "
        "id) is not there yet (`where not exists (...)`), so loading the same export twice adds nothing.",
        "The view: `create or replace view raw_fhir_current as select ... from raw_fhir qualify row_number() over "
        "(partition by resource_type, id order by transaction_time desc, source_file desc, line desc) = 1`, "
        "wrapped in a select that drops the tombstones (`where not deleted`).",
    ),
    solution_code=_key("BULK"),
    wrong=_keys("BULK_WRONG"),
    alternatives=_keys("BULK_ALTERNATIVE"),
    form=(signature("ingest_bulk", ("con", "folder"), _BULK_TITLE),),
)

QUESTIONS: tuple[Question, ...] = (q1, q2, q3, q4, q5, q6, q7, q8, q9, q10, q11, q12, q13)
_unused: Callable | None = None
