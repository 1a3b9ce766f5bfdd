"""Checks of lab 01, EHR data modeling: keys and constraints, types, normalization, SCD type 2 addresses,
a data-quality report against the planted defects, and a star schema with a diagnosis bridge table.

Reference answers are computed independently of the solution SQL: from the tables with pandas, from the Patient
JSON parsed in Python (address history), and from the defects manifest plus the raw CSV lines (data quality).

The package reads as the lab does: ``questions`` (the question table), ``materials`` (what learners use), and,
left out of an exam release, ``reference`` and ``answers``.
"""

from hitlab.checks.core import defined
from hitlab.checks.lab01.materials import (
    AS_OF,
    NORMAL_COLUMNS,
    SCD2_COLUMNS,
    address_workspace,
    wide_extract,
)
from hitlab.checks.lab01.questions import (
    QUESTIONS,
    dq_question,
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
    q12,
    q13,
)

__all__ = [
    "AS_OF", "NORMAL_COLUMNS", "QUESTIONS", "SCD2_COLUMNS", "address_workspace", "defined", "dq_question", "q1",
    "q2", "q3", "q4", "q5", "q6", "q7", "q8", "q9", "q10", "q11", "q12", "q13", "wide_extract",
]  # fmt: skip
