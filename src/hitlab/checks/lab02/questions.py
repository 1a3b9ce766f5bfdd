"""Lab 02's questions, as data: what each asks, its points, hints, how it is compared, and the made-up rows a
right query must also get right. The expected values come from ``reference.py`` (pandas on the tables) and the
worked answers from ``answers.py``, both imported only when needed, so that an exam release can leave them out.

| Q  | grade id                       | pts | asks for                                                                |
|----|--------------------------------|-----|-------------------------------------------------------------------------|
| 1  | lab02_age_at_encounter         | 2   | `age_at_encounter_sql`: age in completed years at each 2025 encounter    |
| 2  | lab02_encounters_by_class_year | 2   | `encounters_by_class_year_sql`: encounters by class and year             |
| 3  | lab02_latest_hba1c             | 3   | `latest_hba1c_sql`: each patient's latest HbA1c, the prior one, change   |
| 4  | lab02_hba1c_flag               | 2   | `hba1c_flag_sql`: the latest HbA1c flagged H, L or N (4.0-5.6 %)         |
| 5  | lab02_length_of_stay           | 3   | `length_of_stay_sql`: average and occupied hours by class (overlaps)     |
| 6  | lab02_hba1c_care_gap           | 3   | `care_gap_sql`: living diabetics without an HbA1c in 2025                |
| 7  | lab02_controlling_bp           | 4   | `controlling_bp_sql`: CMS165-style denominator, exclusions, numerator    |
| 8  | lab02_readmission_rate         | 4   | `readmission_sql`: 30-day all-cause readmission rate (transfers, deaths) |
| 9  | lab02_polypharmacy             | 3   | `polypharmacy_sql`: patients on 5+ distinct drugs on 2025-07-01          |
| 10 | lab02_charlson                 | 4   | `charlson_index_sql`: Charlson index from SNOMED CT via ICD-10-CM        |
| 11 | lab02_telehealth_share         | 2   | `telehealth_sql`: encounters, virtual ones and their share by year       |

Every answer is a SQL query, compared by rows with the reference's (order only for Q11); Q5-Q9 also run on
made-up rows (scenarios) at the rules' bounds: overlapping and open stays, deaths, the heart-failure exclusion,
transfers, the 30-day window, the instant a medication is active.
"""

from __future__ import annotations

from hitlab.checks.core import AnswerKey, reference_of
from hitlab.checks.lab02.materials import DIABETES, HBA1C, HYPERTENSION
from hitlab.checks.sql import Scenario, sql_question, table

_answers = AnswerKey("hitlab.checks.lab02")  # left out of an exam release
_key, _keys = _answers.source, _answers.sources


def _ref():
    """The reference implementations (absent from an exam release: the grader's install has them)."""
    return reference_of("hitlab.checks.lab02")


# -- Q1 age at encounter -------------------------------------------------------------------------------------

q1 = sql_question(
    grade_id="lab02_age_at_encounter",
    title="Q1 age at encounter",
    points=2,
    variable="age_at_encounter_sql",
    columns=("Id", "age"),
    reference=lambda: _ref().age_at_encounter(),
    hints=(
        "Join encounters to patients on encounters.PATIENT = patients.Id and keep encounters that started in 2025.",
        "Age in completed years: the difference of the years, minus one if the birthday has not come yet that "
        "year. date_diff('year', ...) counts calendar-year boundaries crossed, which is not the same thing.",
        "DuckDB's date_sub('year', BIRTHDATE, START) counts complete years (but a 29 February birthday is "
        "reached on 28 February in a non-leap year); comparing strftime(..., '%m%d') follows the rule exactly.",
    ),
    solution=_key("AGE"),
    wrong=_keys("AGE_WRONG"),
    alternatives=_keys("AGE_ALTERNATIVE"),
)


# -- Q2 encounters by class per year -------------------------------------------------------------------------

q2 = sql_question(
    grade_id="lab02_encounters_by_class_year",
    title="Q2 encounters by class per year",
    points=2,
    variable="encounters_by_class_year_sql",
    columns=("ENCOUNTERCLASS", "year", "encounters"),
    reference=lambda: _ref().encounters_by_class_year(),
    hints=(
        "Group by two things: the class and the year the encounter started.",
        "count(*) counts encounters; count(distinct PATIENT) would count patients, a different question.",
    ),
    solution=_key("CLASS_YEAR"),
    wrong=_keys("CLASS_YEAR_WRONG"),
    alternatives=_keys("CLASS_YEAR_ALTERNATIVE"),
)


# -- Q3 latest HbA1c and change from the prior value ---------------------------------------------------------

q3 = sql_question(
    grade_id="lab02_latest_hba1c",
    title="Q3 latest HbA1c and change",
    points=3,
    variable="latest_hba1c_sql",
    columns=("PATIENT", "latest_value", "prior_value", "change"),
    reference=lambda: _ref().latest_hba1c(),
    hints=(
        "Number each patient's HbA1c results (CODE = '4548-4') from newest to oldest with a window function.",
        "row_number() over (partition by PATIENT order by DATE desc) = 1 is the latest; lag(value) over "
        "(partition by PATIENT order by DATE) gives the value before each one.",
        "VALUE is text: cast(VALUE as double). With a single result, prior_value and change are NULL.",
    ),
    solution=_key("LATEST_HBA1C"),
    wrong=_keys("LATEST_HBA1C_WRONG"),
    alternatives=_keys("LATEST_HBA1C_ALTERNATIVE"),
)


# -- Q4 flag the latest HbA1c against its reference range ----------------------------------------------------

q4 = sql_question(
    grade_id="lab02_hba1c_flag",
    title="Q4 HbA1c out-of-range flag",
    points=2,
    variable="hba1c_flag_sql",
    columns=("PATIENT", "latest_value", "flag"),
    reference=lambda: _ref().hba1c_flags(),
    hints=(
        "Start from each patient's latest HbA1c (Q3), then a CASE expression for the flag.",
        "The reference range 4.0–5.6 % includes both ends: 5.6 is normal, 5.7 is high.",
    ),
    solution=_key("HBA1C_FLAG"),
    wrong=_keys("HBA1C_FLAG_WRONG"),
    alternatives=_keys("HBA1C_FLAG_ALTERNATIVE"),
)


# -- Q5 length of stay by class: missing stops and overlaps --------------------------------------------------

LOS_COLUMNS = ("ENCOUNTERCLASS", "encounters", "avg_los_hours", "occupied_hours")


_ENCOUNTER_COLUMNS = {"encounters": ("PATIENT", "ENCOUNTERCLASS", "START", "STOP")}


_LOS_STAYS = {
    "overlapping inpatient stays, one nested inside another, and an emergency visit just before them": (
        ("p1", "inpatient", "2025-03-01 10:00:00", "2025-03-03 10:00:00"),
        ("p1", "inpatient", "2025-03-02 10:00:00", "2025-03-05 10:00:00"),
        ("p1", "inpatient", "2025-03-02 12:00:00", "2025-03-02 13:00:00"),
        ("p1", "inpatient", "2025-04-01 00:00:00", "2025-04-01 12:00:00"),
        ("p1", "emergency", "2025-03-01 06:00:00", "2025-03-01 10:00:00"),
    ),
    "a stay with no STOP (still admitted) and an emergency visit inside another": (
        ("p2", "inpatient", "2025-12-30 00:00:00", None),
        ("p2", "emergency", "2025-12-29 20:00:00", "2025-12-30 00:00:00"),
        ("p2", "emergency", "2025-12-29 22:00:00", "2025-12-29 23:00:00"),
    ),
    "two stays of a patient that touch (one ends as the next starts)": (
        ("p3", "inpatient", "2025-06-01 00:00:00", "2025-06-02 00:00:00"),
        ("p3", "inpatient", "2025-06-02 00:00:00", "2025-06-03 00:00:00"),
    ),
    "a short stay nested in a long one, then a stay that starts after the short one ends but before the long "
    "one does": (
        ("p4", "inpatient", "2025-08-01 00:00:00", "2025-08-10 00:00:00"),
        ("p4", "inpatient", "2025-08-02 00:00:00", "2025-08-03 00:00:00"),
        ("p4", "inpatient", "2025-08-05 00:00:00", "2025-08-12 00:00:00"),
    ),
}


_LOS_SCENARIOS = (
    *(Scenario(what, {"encounters": rows}, _ENCOUNTER_COLUMNS) for what, rows in _LOS_STAYS.items()),
    Scenario(
        "all of those stays, of four patients, together",
        {"encounters": tuple(r for rows in _LOS_STAYS.values() for r in rows)},
        _ENCOUNTER_COLUMNS,
    ),
)


q5 = sql_question(
    grade_id="lab02_length_of_stay",
    title="Q5 length of stay by class",
    points=3,
    variable="length_of_stay_sql",
    columns=LOS_COLUMNS,
    reference=lambda: _ref().length_of_stay(table("encounters")),
    scenarios=_LOS_SCENARIOS,
    on_scenario=lambda frames: _ref().length_of_stay(frames["encounters"]),
    hints=(
        "An encounter with no STOP is still going on: coalesce(STOP, timestamp '2026-01-01 00:00:00').",
        "Hours between two timestamps: epoch(stop - START) / 3600 (seconds in the interval divided by 3600).",
        "For occupied_hours, merge each patient's overlapping encounters of a class into islands first: an "
        "encounter starts a new island when it starts after the latest stop of every earlier one "
        "(max(stop) over (partition by PATIENT, ENCOUNTERCLASS order by START rows between unbounded preceding "
        "and 1 preceding)); number the islands with a running sum of those starts.",
    ),
    solution=_key("LENGTH_OF_STAY"),
    wrong=_keys("LENGTH_OF_STAY_WRONG"),
    alternatives=_keys("LENGTH_OF_STAY_ALTERNATIVE"),
)


# -- Q6 care gap: diabetics without an HbA1c in the last 12 months -------------------------------------------

_CARE_GAP_COLUMNS = {
    "conditions": ("PATIENT", "CODE", "START"),
    "observations": ("PATIENT", "CODE", "DATE", "VALUE", "TYPE"),
    "patients": ("Id", "BIRTHDATE", "DEATHDATE"),
}


_CARE_GAPS = {
    "a diabetic whose diagnosis is recorded twice and whose HbA1c results are all from 2024": (
        ("d1", None),
        (("d1", DIABETES, "2019-05-01"), ("d1", DIABETES, "2023-02-01")),
        (("d1", HBA1C, "2024-03-01", "7.9"), ("d1", HBA1C, "2024-11-01", "8.1")),
    ),
    "a diabetic with two HbA1c results in 2025": (
        ("d2", None),
        (("d2", DIABETES, "2020-01-01"),),
        (("d2", HBA1C, "2025-02-01", "6.9"), ("d2", HBA1C, "2025-09-01", "7.0")),
    ),
    "a diabetic who died in 2025 without an HbA1c": (
        ("d3", "2025-06-01"),
        (("d3", DIABETES, "2018-01-01"),),
        (),
    ),
}


def _care_gap_scenario(what: str, cases) -> Scenario:
    tables = {
        "patients": tuple((pid, "1950-01-01", died) for (pid, died), _c, _o in cases),
        "conditions": tuple(c for _p, conds, _o in cases for c in conds),
        "observations": tuple((*o, "numeric") for _p, _c, obs in cases for o in obs),
    }
    return Scenario(what, tables, _CARE_GAP_COLUMNS)


_CARE_GAP_SCENARIOS = (
    *(_care_gap_scenario(what, [case]) for what, case in _CARE_GAPS.items()),
    _care_gap_scenario("all of those patients together", list(_CARE_GAPS.values())),
)


q6 = sql_question(
    grade_id="lab02_hba1c_care_gap",
    title="Q6 diabetics without a recent HbA1c",
    points=3,
    variable="care_gap_sql",
    columns=("PATIENT",),
    reference=lambda: _ref().care_gap(),
    scenarios=_CARE_GAP_SCENARIOS,
    on_scenario=lambda frames: _ref().care_gap(frames),
    hints=(
        "Denominator first: living patients with a type 2 diabetes condition (SNOMED CT 44054006).",
        "Then remove those with an HbA1c (LOINC 4548-4) dated 2025-01-01 or later: NOT EXISTS or an anti join.",
        "A patient who died is no longer anyone's care gap: DEATHDATE is null for the living.",
    ),
    solution=_key("CARE_GAP"),
    wrong=_keys("CARE_GAP_WRONG"),
    alternatives=_keys("CARE_GAP_ALTERNATIVE"),
)


# -- Q7 controlling high blood pressure ----------------------------------------------------------------------

_CBP_COLUMNS = {
    "patients": ("Id", "BIRTHDATE", "DEATHDATE"),
    "conditions": ("PATIENT", "CODE", "START"),
    "encounters": ("PATIENT", "ENCOUNTERCLASS", "START"),
    "observations": ("PATIENT", "ENCOUNTER", "CODE", "DATE", "VALUE", "TYPE"),
}

_CBP_SCENARIOS = (
    Scenario(
        "two hypertensive patients seen in 2025, one of them 75 with chronic heart failure and an inpatient "
        "stay in 2024 (the advanced-illness exclusion), and no blood pressure readings",
        {
            "patients": (("h1", "1950-03-01", None), ("h2", "1970-03-01", None)),
            "conditions": (
                ("h1", HYPERTENSION, "2015-01-01"),
                ("h1", "88805009", "2020-01-01"),
                ("h2", HYPERTENSION, "2015-01-01"),
            ),
            "encounters": (
                ("h1", "inpatient", "2024-05-01 08:00:00"),
                ("h1", "ambulatory", "2025-03-01 09:00:00"),
                ("h2", "ambulatory", "2025-03-01 10:00:00"),
            ),
            "observations": (),
        },
        _CBP_COLUMNS,
    ),
)

q7 = sql_question(
    grade_id="lab02_controlling_bp",
    title="Q7 controlling high blood pressure",
    points=4,
    variable="controlling_bp_sql",
    columns=("denominator", "exclusions", "numerator", "rate"),
    reference=lambda: _ref().controlling_bp(),
    scenarios=_CBP_SCENARIOS,
    on_scenario=lambda frames: _ref().controlling_bp(frames),
    rel=1e-3,
    hints=(
        "Build three patient sets in CTEs: denominator, exclusions (a subset of it), numerator (from "
        "denominator minus exclusions); then count each in one final SELECT.",
        "Age on 2025-12-31 in completed years: date_sub('year', BIRTHDATE, date '2025-12-31'). Hypertension "
        "onset is conditions.START (the exercise checks only the onset, not whether the diagnosis was still "
        "active in 2025 as CMS165 asks). Exclusions are either a 2025 death or the "
        "heart-failure-plus-admission rule.",
        "Most recent reading: join observations to encounters to drop emergency and inpatient readings; the "
        "systolic (8480-6) and diastolic (8462-4) rows of a reading share DATE, so arg_max(value, DATE) per code "
        "gives the latest of each. Controlled means < 140 and < 90, strictly.",
    ),
    solution=_key("CONTROLLING_BP"),
    wrong=_keys("CONTROLLING_BP_WRONG"),
    alternatives=_keys("CONTROLLING_BP_ALTERNATIVE"),
)


# -- Q8 30-day all-cause readmission rate --------------------------------------------------------------------

_STAY_COLUMNS = {
    "encounters": ("PATIENT", "ORGANIZATION", "ENCOUNTERCLASS", "START", "STOP"),
    "patients": ("Id", "BIRTHDATE", "DEATHDATE"),
}


_ORDINARY_STAY = ("b", "X", "inpatient", "2025-02-01 00:00:00", "2025-02-03 00:00:00")  # in every scenario


_STAYS = {
    "an emergency visit, a stay that ends in a transfer to another hospital within 6 hours, and a "
    "readmission within 30 days": (
        ("p1", "X", "emergency", "2025-01-01 00:00:00", "2025-01-01 04:00:00"),
        ("p1", "X", "inpatient", "2025-01-01 04:00:00", "2025-01-05 10:00:00"),  # transferred out
        ("p1", "Y", "inpatient", "2025-01-05 12:00:00", "2025-01-10 00:00:00"),  # index, readmitted
        ("p1", "Y", "inpatient", "2025-02-08 23:00:00", "2025-02-12 00:00:00"),  # index
    ),
    "a return to the same hospital 2 hours after discharge (a readmission, not a transfer)": (
        ("p2", "X", "inpatient", "2025-03-01 00:00:00", "2025-03-04 08:00:00"),  # index, readmitted
        ("p2", "X", "inpatient", "2025-03-04 10:00:00", "2025-03-06 00:00:00"),  # index
    ),
    "a patient who died on the day of discharge": (
        ("p3", "X", "inpatient", "2025-04-01 00:00:00", "2025-04-03 09:00:00"),
    ),
    "a next stay 30 days and 1 second after discharge, with an emergency visit in between": (
        ("p4", "X", "inpatient", "2025-05-01 00:00:00", "2025-05-02 12:00:00"),  # index
        ("p4", "X", "emergency", "2025-05-10 00:00:00", "2025-05-10 03:00:00"),
        ("p4", "X", "inpatient", "2025-06-01 12:00:01", "2025-06-03 00:00:00"),  # index
    ),
    "a discharge after 2025-12-01 (too late to follow up) and a stay with no STOP": (
        ("p5", "X", "inpatient", "2025-11-20 00:00:00", "2025-12-02 00:00:00"),
        ("p5", "X", "inpatient", "2025-12-20 00:00:00", None),
    ),
    "a next stay exactly 30 days after discharge": (
        ("p6", "Y", "inpatient", "2025-06-25 00:00:00", "2025-07-01 00:00:00"),  # index, readmitted
        ("p6", "Y", "inpatient", "2025-07-31 00:00:00", "2025-08-02 00:00:00"),  # index
    ),
}


_STAY_PATIENTS = (
    ("b", "1950-01-01", None),
    ("p1", "1950-01-01", None),
    ("p2", "1950-01-01", None),
    ("p3", "1950-01-01", "2025-04-03"),
    ("p4", "1950-01-01", None),
    ("p5", "1950-01-01", None),
    ("p6", "1950-01-01", None),
)


_READMISSION_SCENARIOS = tuple(
    Scenario(what, {"encounters": (_ORDINARY_STAY, *rows), "patients": _STAY_PATIENTS}, _STAY_COLUMNS)
    for what, rows in (
        *_STAYS.items(),
        ("all of those stays, of six patients, together", tuple(r for rows in _STAYS.values() for r in rows)),
    )
)


READMISSION_COLUMNS = ("index_stays", "readmissions", "readmission_rate")


q8 = sql_question(
    grade_id="lab02_readmission_rate",
    title="Q8 30-day readmission rate",
    points=4,
    variable="readmission_sql",
    columns=READMISSION_COLUMNS,
    reference=lambda: _ref().readmission(),
    rel=1e-3,
    scenarios=_READMISSION_SCENARIOS,
    on_scenario=lambda frames: _ref().readmission(frames["encounters"], frames["patients"]),
    hints=(
        "Work on inpatient encounters only. For each stay, find the same patient's next inpatient stay with "
        "lead(START) and lead(ORGANIZATION) over (partition by PATIENT order by START).",
        "Index stays: STOP before 2025-12-01, the patient did not die that day (DEATHDATE is the discharge date "
        "of an in-hospital death), and not a transfer (next stay within 6 hours at another ORGANIZATION).",
        "Readmitted: the next stay starts within 30 days after STOP (next_start <= STOP + interval 30 days). "
        "Compute the rate as a double: readmissions / index_stays.",
    ),
    solution=_key("READMISSION"),
    wrong=_keys("READMISSION_WRONG"),
    alternatives=_keys("READMISSION_ALTERNATIVE"),
)


# -- Q9 polypharmacy -----------------------------------------------------------------------------------------

_MED_COLUMNS = {
    "medications": ("PATIENT", "CODE", "START", "STOP"),
    "patients": ("Id", "BIRTHDATE", "DEATHDATE"),
}


_MEDS = {
    "a drug that stops one second after 2025-07-01 00:00 and one that starts at that instant (both active)": (
        ("m1", None),
        (
            *(("m1", c, "2025-01-01 00:00:00", None) for c in ("a", "b", "c")),
            ("m1", "d", "2025-06-30 00:00:00", "2025-07-01 00:00:01"),
            ("m1", "e", "2025-07-01 00:00:00", None),
        ),
    ),
    "a drug stopped at 2025-07-01 00:00 exactly (no longer active)": (
        ("m2", None),
        (
            *(("m2", c, "2025-01-01 00:00:00", None) for c in ("a", "b", "c", "d")),
            ("m2", "e", "2025-01-01 00:00:00", "2025-07-01 00:00:00"),
        ),
    ),
    "the same drug prescribed twice and a drug that starts one second too late": (
        ("m3", None),
        (
            *(("m3", c, "2025-01-01 00:00:00", None) for c in ("a", "b", "c", "d")),
            ("m3", "a", "2025-03-01 00:00:00", None),
            ("m3", "e", "2025-07-01 00:00:01", None),
        ),
    ),
    "a patient who died before 2025-07-01": (
        ("m4", "2025-06-15"),
        tuple(("m4", c, "2025-01-01 00:00:00", None) for c in ("a", "b", "c", "d", "e")),
    ),
    "a patient who died on 2025-07-01": (
        ("m5", "2025-07-01"),
        tuple(("m5", c, "2025-01-01 00:00:00", None) for c in ("a", "b", "c", "d", "e")),
    ),
}


def _med_scenario(what: str, cases) -> Scenario:
    patients = tuple((pid, "1950-01-01", died) for (pid, died), _meds in cases)
    meds = tuple(m for _patient, rows in cases for m in rows)
    return Scenario(what, {"medications": meds, "patients": patients}, _MED_COLUMNS)


_POLYPHARMACY_SCENARIOS = (
    *(_med_scenario(what, [case]) for what, case in _MEDS.items()),
    _med_scenario("all of those patients together", list(_MEDS.values())),
)


POLYPHARMACY_COLUMNS = ("PATIENT", "active_medications")


q9 = sql_question(
    grade_id="lab02_polypharmacy",
    title="Q9 polypharmacy on 2025-07-01",
    points=3,
    variable="polypharmacy_sql",
    columns=POLYPHARMACY_COLUMNS,
    reference=lambda: _ref().polypharmacy(),
    scenarios=_POLYPHARMACY_SCENARIOS,
    on_scenario=lambda frames: _ref().polypharmacy(frames["medications"], frames["patients"]),
    hints=(
        "Active at an instant t: START <= t and (STOP is null or STOP > t). A null STOP means still taking it.",
        "Count distinct RxNorm CODEs per patient (the same drug prescribed twice is one medication) and keep "
        "counts of 5 or more with HAVING.",
        "Leave out patients who died before 2025-07-01: their records are closed.",
    ),
    solution=_key("POLYPHARMACY"),
    wrong=_keys("POLYPHARMACY_WRONG"),
    alternatives=_keys("POLYPHARMACY_ALTERNATIVE"),
)


# -- Q10 Charlson comorbidity index --------------------------------------------------------------------------

q10 = sql_question(
    grade_id="lab02_charlson",
    title="Q10 Charlson comorbidity index",
    points=4,
    variable="charlson_index_sql",
    columns=("PATIENT", "charlson"),
    reference=lambda: _ref().charlson(),
    hints=(
        "Three joins: conditions → icd10_map (on the SNOMED CT code) → charlson (the ICD-10 code starts with "
        "the PREFIX: ICD10 like PREFIX || '%', or starts_with(ICD10, PREFIX)).",
        "Each category counts once per patient, however many codes or rows point to it: COPD, asthma and a COPD "
        "exacerbation are all one 'chronic pulmonary disease' (weight 1). Take distinct patient-category pairs "
        "before summing the weights.",
        "Only living patients (DEATHDATE is null), and only those with a score of at least 1.",
    ),
    solution=_key("CHARLSON_INDEX"),
    wrong=_keys("CHARLSON_INDEX_WRONG"),
    alternatives=_keys("CHARLSON_INDEX_ALTERNATIVE"),
)


# -- Q11 telehealth share per year ---------------------------------------------------------------------------

q11 = sql_question(
    grade_id="lab02_telehealth_share",
    title="Q11 telehealth share per year",
    points=2,
    variable="telehealth_sql",
    columns=("year", "encounters", "virtual", "virtual_share"),
    reference=lambda: _ref().telehealth(),
    ordered=True,
    rel=1e-3,
    hints=(
        "One row per year(START); count all encounters and, with a FILTER clause or a CASE, the virtual ones.",
        "Divide as a fraction: DuckDB's / gives a double, but // (and / in PostgreSQL or SQL Server on integers) "
        "truncates to 0. ORDER BY year.",
    ),
    solution=_key("TELEHEALTH"),
    wrong=_keys("TELEHEALTH_WRONG"),
    alternatives=_keys("TELEHEALTH_ALTERNATIVE"),
)


QUESTIONS = (q1, q2, q3, q4, q5, q6, q7, q8, q9, q10, q11)
