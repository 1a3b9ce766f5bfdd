"""Checks of lab 02, SQL on patient data: ages, utilization, labs, length of stay, care gaps, quality measures,
readmissions, polypharmacy, the Charlson index and telehealth.

Every expected answer is computed in pandas/Python from the tables (``hitlab.checks.sql.table``), not by the
solution's SQL. "Today" is the data's as-of date, 2025-12-31.

The package reads as the lab does: ``questions`` (the question table), ``materials`` (what learners use) and,
left out of an exam release, ``reference`` and ``answers``.
"""

from hitlab.checks.core import defined
from hitlab.checks.lab02.materials import (
    ACUTE,
    AS_OF,
    CHARLSON,
    DIABETES,
    DIASTOLIC,
    END,
    HBA1C,
    HBA1C_HIGH,
    HBA1C_LOW,
    HYPERTENSION,
    OFFICE,
    POLYPHARMACY_AT,
    SYSTOLIC,
    charlson_sql,
    charlson_weights,
    icd10_map,
    icd10_map_sql,
)
from hitlab.checks.lab02.questions import (
    LOS_COLUMNS,
    POLYPHARMACY_COLUMNS,
    QUESTIONS,
    READMISSION_COLUMNS,
    q1,
    q2,
    q3,
    q4,
    q5,
    q6,
    q7,
    q8,
    q9,
    q10,
    q11,
)

__all__ = [
    "ACUTE", "AS_OF", "CHARLSON", "DIABETES", "DIASTOLIC", "END", "HBA1C", "HBA1C_HIGH", "HBA1C_LOW",
    "HYPERTENSION", "LOS_COLUMNS", "OFFICE", "POLYPHARMACY_AT", "POLYPHARMACY_COLUMNS", "QUESTIONS",
    "READMISSION_COLUMNS", "SYSTOLIC", "charlson_sql", "charlson_weights", "defined", "icd10_map", "icd10_map_sql",
    "q1", "q2", "q3", "q4", "q5", "q6", "q7", "q8", "q9", "q10", "q11",
]  # fmt: skip
