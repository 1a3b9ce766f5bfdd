"""Lab 00's answer sources: each question's worked solution (the notebook's solution cell), other correct
answers, and known-wrong answers that must lose exactly that question's points. Left out of an exam release.

Each question's names: ``X`` (the solution cell), ``X_WRONG`` and ``X_ALTERNATIVES`` (tuples of cells).
"""

from __future__ import annotations

from hitlab.checks.choice import dict_code
from hitlab.checks.lab00.reference import CODE_SYSTEMS as _CODE_SYSTEMS
from hitlab.checks.lab00.reference import HIPAA_ROLES as _HIPAA_ROLES

# -- Q1 --------------------------------------------------------------------------------------------------------

STANDARDS_BODY = 'standards_body = "B"  # HL7 International'
STANDARDS_BODY_WRONG = ('standards_body = "A"',)
STANDARDS_BODY_ALTERNATIVES = ('standards_body = "b"',)

# -- Q2 --------------------------------------------------------------------------------------------------------

HIPAA_ROLES = dict_code("hipaa_roles", _HIPAA_ROLES)
HIPAA_ROLES_WRONG = (
    dict_code(
        "hipaa_roles",
        {**_HIPAA_ROLES, "a cloud company hosting the hospital's EHR under contract": "neither"},
    ),
)
HIPAA_ROLES_ALTERNATIVES = (dict_code("hipaa_roles", {k: v.upper() + " " for k, v in _HIPAA_ROLES.items()}),)

# -- Q3 --------------------------------------------------------------------------------------------------------

CODE_SYSTEMS = dict_code("code_systems", _CODE_SYSTEMS)
CODE_SYSTEMS_WRONG = (
    dict_code("code_systems", {**_CODE_SYSTEMS, "a clinical finding on the problem list": "ICD-10-CM"}),
)
CODE_SYSTEMS_ALTERNATIVES = (dict_code("code_systems", {k: v.lower() for k, v in _CODE_SYSTEMS.items()}),)

# -- Q4 --------------------------------------------------------------------------------------------------------

PATIENTS_BY_GENDER_SQL = (
    'patients_by_gender_sql = """\nselect GENDER, count(*) as patients\nfrom patients\ngroup by GENDER\n"""'
)
PATIENTS_BY_GENDER_SQL_WRONG = (
    'patients_by_gender_sql = "select GENDER, count(*) as patients from patients join encounters e on e.PATIENT = patients.Id group by GENDER"',
)
PATIENTS_BY_GENDER_SQL_ALTERNATIVES = (
    'patients_by_gender_sql = "select gender, count(distinct Id) as Patients from patients group by all order by 2"',
)

# -- Q5 --------------------------------------------------------------------------------------------------------

ENCOUNTERS_2024_SQL = (
    'encounters_2024_sql = """\nselect ENCOUNTERCLASS, count(*) as encounters\nfrom encounters\n'
    'where year(START) = 2024\ngroup by ENCOUNTERCLASS\n"""'
)
ENCOUNTERS_2024_SQL_WRONG = (
    'encounters_2024_sql = "select ENCOUNTERCLASS, count(*) as encounters from encounters group by ENCOUNTERCLASS"',
    'encounters_2024_sql = "select ENCOUNTERCLASS, count(*) as encounters from encounters '
    'where year(STOP) = 2024 group by ENCOUNTERCLASS"',
)
ENCOUNTERS_2024_SQL_ALTERNATIVES = (
    "encounters_2024_sql = \"select ENCOUNTERCLASS, count(*) as encounters from encounters where START >= '2024-01-01' "
    "and START < '2025-01-01' group by 1\"",
)

# -- Q6 --------------------------------------------------------------------------------------------------------

HIE = 'hie = "B"  # It lets hospitals, clinics and labs in a region share patients\' records with each other.'
HIE_WRONG = ('hie = "C"',)
HIE_ALTERNATIVES = ('hie = " b "',)
