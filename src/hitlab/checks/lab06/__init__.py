"""Checks of lab 06, de-identification: Safe Harbor, re-identification risk, date shifting, keyed-hash
pseudonyms, k-anonymity and l-diversity, and PHI in clinical notes.

``questions`` holds the question table; ``inputs`` what the exercises work on (the learner uses it too);
``reference`` and ``answers`` the expected answers and the solutions, which an exam release leaves out.
"""

from hitlab.checks.lab06.inputs import (
    CODES,
    FINDING_CATEGORIES,
    PATIENT_IDENTIFIERS,
    PHI_CATEGORIES,
    QUASI,
    REFERENCE_YEAR,
    RELEASE_DATE,
    SAFE_HARBOR_COLUMNS,
    SENSITIVE,
    defined,
    encounter_dates,
    mrns,
    note_text,
    notes,
    patients,
    quasi_table,
    restricted_zip3,
    score_spans,
    unseen_notes,
)
from hitlab.checks.lab06.questions import KEY, QUESTIONS, q1, q2, q3, q4, q5, q6, q7, q8, q9, q10

__all__ = [
    "CODES",
    "FINDING_CATEGORIES",
    "KEY",
    "PATIENT_IDENTIFIERS",
    "PHI_CATEGORIES",
    "QUASI",
    "QUESTIONS",
    "REFERENCE_YEAR",
    "RELEASE_DATE",
    "SAFE_HARBOR_COLUMNS",
    "SENSITIVE",
    "defined",
    "encounter_dates",
    "mrns",
    "note_text",
    "notes",
    "patients",
    "q1",
    "q2",
    "q3",
    "q4",
    "q5",
    "q6",
    "q7",
    "q8",
    "q9",
    "q10",
    "quasi_table",
    "restricted_zip3",
    "score_spans",
    "unseen_notes",
]  # fmt: skip
