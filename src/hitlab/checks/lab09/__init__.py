"""Checks of lab 09, machine learning in healthcare: a 30-day readmission model. Index stays and the
readmission label, features known at discharge (leakage caught by changing what came after), the LACE index,
a temporal split, a scikit-learn logistic regression, AUROC with DeLong's interval, calibration, subgroup
metrics, a threshold for a care-management budget, and the explanation of one prediction.

Sources: van Walraven et al., CMAJ 2010;182(6):551-557 (LACE); CMS's Hospital-Wide Readmission measure (index
stays transferred to another acute-care hospital left out, the 30 days counted from the discharge date);
Charlson et al. 1987 (weights) with Quan et al., Med Care 2005 (ICD-10 coding); DeLong, DeLong and
Clarke-Pearson, Biometrics 1988 (interval and paired test); Van Calster et al. 2016 and 2019 (calibration
hierarchy, slope and intercept).

The package reads as the lab does: ``questions`` (the question table), ``materials`` (what learners use), and,
left out of an exam release, ``reference`` and ``answers``.
"""

from hitlab.checks.lab09.materials import (
    AGE_BANDS,
    CAPACITY_SHARE,
    CHARLSON,
    DATASET,
    ELECTIVE_ADMISSION,
    EMERGENCY_ADMISSION,
    FEATURES,
    HOLDOUT,
    LACE_COLUMNS,
    TABLES,
    as_of,
    check_tables,
    defined,
    perturb_after,
    split_date,
    tables,
)
from hitlab.checks.lab09.questions import HOLDOUT as HIDDEN
from hitlab.checks.lab09.questions import QUESTIONS, q1, q2, q3, q4, q5, q6, q7, q8, q9, q10, q11

__all__ = [
    "AGE_BANDS", "CAPACITY_SHARE", "CHARLSON", "DATASET", "ELECTIVE_ADMISSION", "EMERGENCY_ADMISSION", "FEATURES",
    "HIDDEN", "HOLDOUT", "LACE_COLUMNS", "QUESTIONS", "TABLES", "as_of", "check_tables", "defined", "perturb_after",
    "q1", "q2", "q3", "q4", "q5", "q6", "q7", "q8", "q9", "q10", "q11", "split_date", "tables",
]  # fmt: skip
