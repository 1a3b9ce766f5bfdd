"""What lab 02's learners use: the data's as-of date and codes, the measures' constants, and the SNOMED CT →
ICD-10-CM map and Charlson categories (as data frames and as SQL ``VALUES`` tables) for the Charlson question."""

from __future__ import annotations

import datetime as dt
from functools import cache

import pandas as pd

AS_OF = dt.date(2025, 12, 31)
END = pd.Timestamp("2026-01-01 00:00:00")  # the end of the as-of day: open encounters count up to here
HBA1C, SYSTOLIC, DIASTOLIC = "4548-4", "8480-6", "8462-4"
DIABETES, HYPERTENSION = "44054006", "59621000"
POLYPHARMACY_AT = pd.Timestamp("2025-07-01 00:00:00")

# Charlson comorbidity index: Quan et al. 2005 ICD-10 coding algorithms with the original Charlson (1987)
# weights, for the categories whose codes this data can contain. A code belongs to a category when it starts
# with one of the category's prefixes. Renal disease keeps Quan's whole N18 category, so ICD-10-CM's milder
# CKD stages 1-3 (N18.1-N18.32; the data has N18.30) count as moderate-or-severe renal disease; ICD-10-CM
# adaptations that grade renal disease by CKD stage would treat them differently.
CHARLSON = (
    ("myocardial infarction", 1, ("I21", "I22", "I25.2")),
    (
        "congestive heart failure",
        1,
        (
            "I09.9",
            "I11.0",
            "I13.0",
            "I13.2",
            "I25.5",
            "I42.0",
            "I42.5",
            "I42.6",
            "I42.7",
            "I42.8",
            "I42.9",
            "I43",
            "I50",
        ),
    ),
    ("chronic pulmonary disease", 1, ("J40", "J41", "J42", "J43", "J44", "J45", "J46", "J47")),
    (
        "diabetes without chronic complication",
        1,
        ("E10.0", "E10.1", "E10.6", "E10.8", "E10.9", "E11.0", "E11.1", "E11.6", "E11.8", "E11.9"),
    ),
    ("renal disease", 2, ("I12.0", "I13.1", "N18", "N19", "Z49", "Z94.0", "Z99.2")),
)


@cache
def icd10_map() -> pd.DataFrame:
    """SNOMED CT condition codes of the data with their ICD-10-CM equivalents (``cond.X`` ↔ ``icd.X``)."""
    from hitlab.terminology import codes
    from hitlab.terminology import table as terms

    rows = []
    for c in codes("cond."):
        icd = terms().get("icd." + c.key.removeprefix("cond."))
        if icd is not None:
            rows.append((c.code, c.display, icd.code, icd.display))
    return pd.DataFrame(rows, columns=["SNOMED", "SNOMED_DISPLAY", "ICD10", "ICD10_DISPLAY"])


def charlson_weights() -> pd.DataFrame:
    """One row per ICD-10 prefix: ``PREFIX``, ``CATEGORY``, ``WEIGHT``."""
    return pd.DataFrame(
        [(p, cat, w) for cat, w, prefixes in CHARLSON for p in prefixes],
        columns=["PREFIX", "CATEGORY", "WEIGHT"],
    )


def _values(df: pd.DataFrame, name: str) -> str:
    def lit(v):
        return str(v) if isinstance(v, int) else "'" + str(v).replace("'", "''") + "'"

    rows = ",\n    ".join("(" + ", ".join(lit(v) for v in r) + ")" for r in df.itertuples(index=False))
    return f"(values\n    {rows}\n) as {name}({', '.join(df.columns)})"


def icd10_map_sql() -> str:
    """The SNOMED CT → ICD-10-CM map as a SQL ``VALUES`` table named ``icd10_map(SNOMED, ICD10)``."""
    return _values(icd10_map()[["SNOMED", "ICD10"]], "icd10_map")


def charlson_sql() -> str:
    """The Charlson categories as a SQL ``VALUES`` table named ``charlson(PREFIX, CATEGORY, WEIGHT)``."""
    w = charlson_weights()
    w["WEIGHT"] = w["WEIGHT"].astype(int).map(int)
    return _values(w, "charlson")


HBA1C_LOW, HBA1C_HIGH = 4.0, 5.6  # the HbA1c reference range, % (both ends normal)
OFFICE = ("wellness", "ambulatory", "virtual")  # visits that qualify a patient for the measure
ACUTE = ("emergency", "inpatient")  # blood pressures taken here do not count for the numerator
