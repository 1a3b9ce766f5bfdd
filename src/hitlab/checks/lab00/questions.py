"""Lab 00's questions, as data: what each asks, its points, hints, how it is compared. The right picks, keys
and counts come from ``reference.py`` and the answer cells from ``answers.py``, both imported only when needed,
so that an exam release can leave them out.

| Q | grade id                 | pts | asks for                                                       |
|---|--------------------------|-----|----------------------------------------------------------------|
| 1 | lab00_standards_body     | 1   | `standards_body`: who publishes HL7 v2 and FHIR (a letter)     |
| 2 | lab00_hipaa_roles        | 2   | `hipaa_roles`: covered entity, business associate or neither   |
| 3 | lab00_code_systems       | 2   | `code_systems`: which code system codes each thing             |
| 4 | lab00_patients_by_gender | 2   | `patients_by_gender_sql`: patients per GENDER                  |
| 5 | lab00_encounters_2024    | 2   | `encounters_2024_sql`: encounters started in 2024 per class    |
| 6 | lab00_hie                | 1   | `hie`: what a health information exchange does (a letter)      |
"""

from __future__ import annotations

from typing import Any

from hitlab.checks.choice import choice_question, mapping_question
from hitlab.checks.core import AnswerKey, Question, reference_of
from hitlab.checks.sql import Scenario, sql_question

_answers = AnswerKey("hitlab.checks.lab00")  # left out of an exam release
_key, _keys = _answers.source, _answers.sources


def _ref():
    """The reference answers (absent from an exam release: the grader's install has them)."""
    return reference_of("hitlab.checks.lab00")


def _choice(key: str, **kwargs: Any) -> Question:
    """A choice question whose right letter is the reference's ``key``, read only when checking; its answer
    cells are the answer key's ``key``, ``key_WRONG`` and ``key_ALTERNATIVES``."""
    return choice_question(
        correct=lambda: getattr(_ref(), key),
        why_not=lambda: getattr(_ref(), f"{key}_WHY_NOT"),  # the option it leaves out is the answer
        solution_code=_key(key),
        wrong=_keys(f"{key}_WRONG"),
        alternatives=_keys(f"{key}_ALTERNATIVES"),
        **kwargs,
    )


def _mapping(key: str, **kwargs: Any) -> Question:
    """A mapping question whose key is the reference's ``key`` (a dict), read only when checking; its answer
    cells are the answer key's ``key``, ``key_WRONG`` and ``key_ALTERNATIVES``."""
    return mapping_question(
        answer=lambda: getattr(_ref(), key),
        solution_code=_key(key),
        wrong=_keys(f"{key}_WRONG"),
        alternatives=_keys(f"{key}_ALTERNATIVES"),
        **kwargs,
    )


q1 = _choice(
    "STANDARDS_BODY",
    grade_id="lab00_standards_body",
    title="Q1 who publishes HL7 v2 and FHIR",
    points=1,
    variable="standards_body",
    options={
        "A": "ONC (the Office of the National Coordinator for Health IT)",
        "B": "HL7 International",
        "C": "IHE (Integrating the Healthcare Enterprise)",
        "D": "the Regenstrief Institute",
    },
    hints=("Both standards carry the name of the organization that writes them.",),
)

q2 = _mapping(
    "HIPAA_ROLES",
    grade_id="lab00_hipaa_roles",
    title="Q2 HIPAA roles",
    points=2,
    variable="hipaa_roles",
    items=(
        "a community hospital that bills insurers electronically",
        "a health plan (an insurer)",
        "a health care clearinghouse, acting in its own right",
        "a cloud company hosting the hospital's EHR under contract",
        "a billing company that submits claims for a clinic",
        "a step-counting app a consumer installs on their own",
    ),
    allowed=("covered entity", "business associate", "neither"),
    hints=(
        "HIPAA's covered entities are of three kinds: health plans, health care clearinghouses, and providers who "
        "send health information electronically in standard transactions (45 CFR 160.103).",
        "A business associate creates, receives, keeps or sends protected health information on behalf of a "
        "covered entity; what it does makes it one, whether or not the required agreement was signed.",
    ),
)

q3 = _mapping(
    "CODE_SYSTEMS",
    grade_id="lab00_code_systems",
    title="Q3 which code system",
    points=2,
    variable="code_systems",
    items=(
        "an HbA1c lab test",
        "a diagnosis on a US claim",
        "a clinical finding on the problem list",
        "a metformin 500 mg tablet",
        "a seasonal flu vaccine that was given",
    ),
    allowed=("LOINC", "SNOMED CT", "RxNorm", "CVX", "ICD-10-CM"),
    hints=(
        "Observations and lab tests have one code system, clinical terms another, drugs and vaccines their own.",
        "Claims use the classification that billing requires; problem lists use the clinical terminology.",
    ),
)

q4 = sql_question(
    grade_id="lab00_patients_by_gender",
    title="Q4 patients by gender",
    points=2,
    variable="patients_by_gender_sql",
    columns=("GENDER", "patients"),
    reference=lambda: _ref().patients_by_gender(),
    hints=("One row per value of patients.GENDER: GROUP BY it.", "count(*) counts the rows of each group."),
    solution=_key("PATIENTS_BY_GENDER_SQL"),
    wrong=_keys("PATIENTS_BY_GENDER_SQL_WRONG"),
    alternatives=_keys("PATIENTS_BY_GENDER_SQL_ALTERNATIVES"),
)

_NEW_YEAR = Scenario(
    "encounters that start on New Year's Eve and end the next day (one in 2023-24, one in 2024-25)",
    {
        "encounters": (
            ("p1", "ambulatory", "2023-12-31 23:00:00", "2024-01-01 01:00:00"),
            ("p1", "emergency", "2024-12-31 22:00:00", "2025-01-01 02:00:00"),
            ("p1", "wellness", "2024-06-03 09:00:00", "2024-06-03 09:30:00"),
        )
    },
    {"encounters": ("PATIENT", "ENCOUNTERCLASS", "START", "STOP")},
)

q5 = sql_question(
    grade_id="lab00_encounters_2024",
    title="Q5 encounters by class in 2024",
    points=2,
    variable="encounters_2024_sql",
    columns=("ENCOUNTERCLASS", "encounters"),
    reference=lambda: _ref().encounters_2024(),
    scenarios=(_NEW_YEAR,),
    on_scenario=lambda frames: _ref().encounters_2024(frames["encounters"]),
    hints=(
        "Keep only encounters whose START falls in 2024, then count per ENCOUNTERCLASS.",
        "year(START) = 2024 works in DuckDB; times are UTC TIMESTAMPs.",
    ),
    solution=_key("ENCOUNTERS_2024_SQL"),
    wrong=_keys("ENCOUNTERS_2024_SQL_WRONG"),
    alternatives=_keys("ENCOUNTERS_2024_SQL_ALTERNATIVES"),
)

q6 = _choice(
    "HIE",
    grade_id="lab00_hie",
    title="Q6 what an HIE does",
    points=1,
    variable="hie",
    options={
        "A": "It is the federal office that enforces HIPAA's privacy rule.",
        "B": "It lets hospitals, clinics and labs in a region share patients' records with each other.",
        "C": "It converts claims between payers' formats.",
        "D": "It is the database inside an EHR product.",
    },
    hints=("The E in HIE is about data moving between organizations.",),
)

QUESTIONS = (q1, q2, q3, q4, q5, q6)
