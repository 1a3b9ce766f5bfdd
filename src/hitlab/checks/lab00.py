"""Checks of lab 00, orientation: how the workbook works and the health-IT landscape."""

from __future__ import annotations

from hitlab.checks.choice import choice_question, dict_code, mapping_question
from hitlab.checks.sql import Scenario, sql_question, table

q1 = choice_question(
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
    correct="B",
    why_not={
        "A": "ONC runs the EHR certification program and adopts standards for US regulation (USCDI, the Cures Act "
        "rules); it does not write HL7 v2 or FHIR.",
        "C": "IHE writes integration profiles that combine existing standards; it publishes neither HL7 v2 nor FHIR.",
        "D": "Regenstrief maintains LOINC, the code system for lab tests and clinical observations.",
    },
    hints=("Both standards carry the name of the organization that writes them.",),
    wrong=('standards_body = "A"',),
    alternatives=('standards_body = "b"',),
)

HIPAA_ROLES = {
    "a community hospital that bills insurers electronically": "covered entity",
    "a health plan (an insurer)": "covered entity",
    "a health care clearinghouse, acting in its own right": "covered entity",
    "a cloud company hosting the hospital's EHR under contract": "business associate",
    "a billing company that submits claims for a clinic": "business associate",
    "a step-counting app a consumer installs on their own": "neither",
}
q2 = mapping_question(
    grade_id="lab00_hipaa_roles",
    title="Q2 HIPAA roles",
    points=2,
    variable="hipaa_roles",
    answer=HIPAA_ROLES,
    allowed=("covered entity", "business associate", "neither"),
    hints=(
        "HIPAA's covered entities are of three kinds: health plans, health care clearinghouses, and providers who "
        "send health information electronically in standard transactions (45 CFR 160.103).",
        "A business associate creates, receives, keeps or sends protected health information on behalf of a "
        "covered entity; what it does makes it one, whether or not the required agreement was signed.",
    ),
    wrong=(
        dict_code(
            "hipaa_roles",
            {**HIPAA_ROLES, "a cloud company hosting the hospital's EHR under contract": "neither"},
        ),
    ),
    alternatives=(dict_code("hipaa_roles", {k: v.upper() + " " for k, v in HIPAA_ROLES.items()}),),
)

CODE_SYSTEMS = {
    "an HbA1c lab test": "LOINC",
    "a diagnosis on a US claim": "ICD-10-CM",
    "a clinical finding on the problem list": "SNOMED CT",
    "a metformin 500 mg tablet": "RxNorm",
    "a seasonal flu vaccine that was given": "CVX",
}
q3 = mapping_question(
    grade_id="lab00_code_systems",
    title="Q3 which code system",
    points=2,
    variable="code_systems",
    answer=CODE_SYSTEMS,
    allowed=("LOINC", "SNOMED CT", "RxNorm", "CVX", "ICD-10-CM"),
    hints=(
        "Observations and lab tests have one code system, clinical terms another, drugs and vaccines their own.",
        "Claims use the classification that billing requires; problem lists use the clinical terminology.",
    ),
    wrong=(
        dict_code("code_systems", {**CODE_SYSTEMS, "a clinical finding on the problem list": "ICD-10-CM"}),
    ),
    alternatives=(dict_code("code_systems", {k: v.lower() for k, v in CODE_SYSTEMS.items()}),),
)


def _patients_by_gender() -> list[tuple]:
    patients = table("patients")
    return [(g, int(n)) for g, n in patients["GENDER"].value_counts().items()]


q4 = sql_question(
    grade_id="lab00_patients_by_gender",
    title="Q4 patients by gender",
    points=2,
    variable="patients_by_gender_sql",
    columns=("GENDER", "patients"),
    reference=_patients_by_gender,
    hints=("One row per value of patients.GENDER: GROUP BY it.", "count(*) counts the rows of each group."),
    solution='patients_by_gender_sql = """\nselect GENDER, count(*) as patients\nfrom patients\ngroup by GENDER\n"""',
    wrong=(
        'patients_by_gender_sql = "select GENDER, count(*) as patients from patients join encounters e on e.PATIENT = patients.Id group by GENDER"',
    ),
    alternatives=(
        'patients_by_gender_sql = "select gender, count(distinct Id) as Patients from patients group by all order by 2"',
    ),
)


def _encounters_2024(enc=None) -> list[tuple]:
    enc = table("encounters") if enc is None else enc
    started = enc[enc["START"].dt.year == 2024]
    return [(c, int(n)) for c, n in started["ENCOUNTERCLASS"].value_counts().items()]


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
    reference=_encounters_2024,
    scenarios=(_NEW_YEAR,),
    on_scenario=lambda frames: _encounters_2024(frames["encounters"]),
    hints=(
        "Keep only encounters whose START falls in 2024, then count per ENCOUNTERCLASS.",
        "year(START) = 2024 works in DuckDB; times are UTC TIMESTAMPs.",
    ),
    solution=(
        'encounters_2024_sql = """\nselect ENCOUNTERCLASS, count(*) as encounters\nfrom encounters\n'
        'where year(START) = 2024\ngroup by ENCOUNTERCLASS\n"""'
    ),
    wrong=(
        'encounters_2024_sql = "select ENCOUNTERCLASS, count(*) as encounters from encounters group by ENCOUNTERCLASS"',
        'encounters_2024_sql = "select ENCOUNTERCLASS, count(*) as encounters from encounters '
        'where year(STOP) = 2024 group by ENCOUNTERCLASS"',
    ),
    alternatives=(
        "encounters_2024_sql = \"select ENCOUNTERCLASS, count(*) as encounters from encounters where START >= '2024-01-01' "
        "and START < '2025-01-01' group by 1\"",
    ),
)

q6 = choice_question(
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
    correct="B",
    why_not={
        "A": "That is the HHS Office for Civil Rights (OCR).",
        "C": "That is a health care clearinghouse.",
        "D": "That is the EHR's own data store; an exchange works between organizations.",
    },
    hints=("The E in HIE is about data moving between organizations.",),
    wrong=('hie = "C"',),
    alternatives=('hie = " b "',),
)

QUESTIONS = (q1, q2, q3, q4, q5, q6)
