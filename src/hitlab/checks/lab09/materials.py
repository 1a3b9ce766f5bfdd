"""What lab 09's exercises work on, for the learner and the checks alike: the tables of a dataset as pandas
DataFrames, its as-of date, the cohort's codes and weights, the feature list, the temporal split date, the
care-management budget, and :func:`perturb_after`, the leakage probe. Nothing here knows an answer.
"""

from __future__ import annotations

import json
from functools import cache

import numpy as np
import pandas as pd

from hitlab.checks.core import defined  # noqa: F401 - the notebooks call it from the lab module

DATASET = "analytics"
"""The lab's dataset; the checks also run your cohort and feature functions on
``"analytics-holdout"``, a population of another seed."""
HOLDOUT = "analytics-holdout"

TABLES = ("patients", "encounters", "conditions", "medications")
"""The tables the exercises use, as :func:`tables` returns them."""

INPATIENT, EMERGENCY_CLASS = "inpatient", "emergency"
EMERGENCY_ADMISSION = "183452005"
"""SNOMED CT: Emergency hospital admission (an inpatient stay's ``CODE``): acuity A = 3 in LACE."""
ELECTIVE_ADMISSION = "8715000"
"""SNOMED CT: Hospital admission, elective: a planned stay, never counted as a readmission."""

CHARLSON = {
    "22298006": ("myocardial infarction", 1),
    "88805009": ("congestive heart failure", 1),
    "13645005": ("chronic pulmonary disease", 1),
    "195967001": ("chronic pulmonary disease", 1),
    "44054006": ("diabetes without complications", 1),
    "433144002": ("renal disease", 2),
}
"""The generator's conditions that count in the Charlson comorbidity index (SNOMED CT code -> (Charlson
category, weight)), with the original Charlson weights and Quan et al.'s (2005) ICD-10 category for each
(COPD and asthma are one category: a patient with both scores 1; CKD stage 3 scores 2 because Quan et al. code
renal disease by ICD-10 N18, not by Charlson's clinical definition of creatinine above 3 mg/dL, dialysis or a
transplant). LACE's own comorbidity table (van Walraven et al. 2010) weighs some of these otherwise (heart failure
and chronic pulmonary disease 2, renal disease 2 or more), so this lab's C runs lower for those patients."""

FEATURES = (
    "age", "female", "los_days", "emergent", "charlson", "ed_visits_6m", "admissions_12m", "active_medications",
)  # fmt: skip
"""The feature columns, in order, of ``features(tables, stays)`` (see the notebook for each definition)."""

LACE_COLUMNS = ("L", "A", "C", "E", "LACE")
AGE_BANDS = ("18-44", "45-64", "65-74", "75+")
"""Age bands for subgroup metrics, by age in whole years at admission: 18-44, 45-64, 65-74, 75 and over."""
CAPACITY_SHARE = 0.10
"""The care-management team can call one discharged patient in ten: capacity = int(0.10 * stays)."""
FOLLOW_UP_DAYS, TRANSFER_HOURS, READMISSION_DAYS = 30, 24, 30
"""Follow-up and the readmission window count calendar days from the discharge date (CMS's convention); a
transfer is the next inpatient stay at another ORGANIZATION starting within 24 hours of a discharge."""


def _con(dataset: str):
    from hitlab.checks.sql import connection

    return connection(dataset).cursor()


@cache
def _loaded(dataset: str) -> dict[str, pd.DataFrame]:
    con = _con(dataset)
    return {name: con.execute(f"select * from {name} order by all").df() for name in TABLES}


def tables(dataset: str = DATASET) -> dict[str, pd.DataFrame]:
    """The dataset's ``patients``, ``encounters``, ``conditions`` and ``medications`` as DataFrames (fresh
    copies: change them freely). ``START``/``STOP`` of encounters and medications are timestamps; conditions'
    ``START``/``STOP`` and patients' ``BIRTHDATE``/``DEATHDATE`` are dates (datetime64 at midnight)."""
    out = {}
    for name, frame in _loaded(dataset).items():
        frame = frame.copy()
        for column in ("START", "STOP", "BIRTHDATE", "DEATHDATE"):
            if column in frame.columns:
                frame[column] = pd.to_datetime(frame[column])
        out[name] = frame
    return out


@cache
def as_of(dataset: str = DATASET) -> pd.Timestamp:
    """The dataset's as-of date (``manifest.json`` ``"as_of"``): nothing after it is recorded."""
    from hitlab.data import build_dataset

    manifest = build_dataset(dataset) / "manifest.json"
    try:
        return pd.Timestamp(json.loads(manifest.read_text(encoding="utf-8"))["as_of"])
    except (OSError, ValueError, KeyError) as err:
        raise ValueError(f"{manifest}: no readable 'as_of' date ({err})") from None


TEST_YEARS = 3
"""The test set is the last three years of stays: enough readmissions (about 70 on ``analytics``) for an AUROC
whose confidence interval is a few points wide rather than ten."""


def split_of(as_of_date) -> pd.Timestamp:
    """The temporal split of a dataset whose as-of date is ``as_of_date``: ``TEST_YEARS`` years before it."""
    return pd.Timestamp(as_of_date) - pd.DateOffset(years=TEST_YEARS)


def split_date(dataset: str = DATASET) -> pd.Timestamp:
    """The temporal split: three years before the as-of date. Train on stays whose 30-day window closed before
    it; test on stays admitted on or after it."""
    return split_of(as_of(dataset))


def check_tables(tables: object, where: str = "tables") -> dict[str, pd.DataFrame]:
    """``tables`` as a dict of the lab's DataFrames; anything else raises ``ValueError`` naming what is wrong."""
    if not isinstance(tables, dict):
        raise ValueError(
            f"{where} should be a dict of DataFrames (lab09.tables()), got {type(tables).__name__}"
        )
    needed = {
        "patients": ("Id", "BIRTHDATE", "DEATHDATE", "GENDER"),
        "encounters": ("Id", "PATIENT", "START", "STOP", "ORGANIZATION", "ENCOUNTERCLASS", "CODE"),
        "conditions": ("PATIENT", "START", "CODE"),
        "medications": ("PATIENT", "START", "STOP", "CODE"),
    }
    for name, columns in needed.items():
        frame = tables.get(name)
        if not isinstance(frame, pd.DataFrame):
            raise ValueError(f"{where}[{name!r}] should be a DataFrame, got {type(frame).__name__}")
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ValueError(f"{where}[{name!r}] has no column {missing[0]}")
    return tables


def perturb_after(tables: dict, cutoffs: pd.Series, seed: int = 0) -> dict[str, pd.DataFrame]:
    """A copy of ``tables`` in which everything dated after each patient's cutoff is changed.

    ``cutoffs`` maps a patient id to a timestamp (an index stay's ``STOP``). For those patients: encounters
    starting after the cutoff are dropped at random and new emergency visits and emergency inpatient stays
    added; conditions starting after the cutoff's date are dropped and Charlson conditions added the day
    after; medications starting after it are dropped and one added, and a ``STOP`` after the cutoff is
    cleared; a death a few days after it is recorded. Nothing dated on or before the cutoff changes, so
    features computed only from what was known at discharge stay exactly the same.
    """
    rng = np.random.default_rng(seed)
    cut = pd.Series(cutoffs)
    out = {name: frame.copy() for name, frame in tables.items()}
    patients = list(cut.index)

    enc = out["encounters"]
    after = enc["START"] > enc["PATIENT"].map(cut)
    drop = after & (rng.random(len(enc)) < 0.5)
    new = []
    for k, (patient, when) in enumerate(cut.items()):
        for j, (cls, code, days) in enumerate(
            ((EMERGENCY_CLASS, "50849002", 2), (INPATIENT, EMERGENCY_ADMISSION, 5))
        ):
            start = when + pd.Timedelta(days=days, hours=3)
            new.append({"Id": f"perturbed-{seed}-{k}-{j}", "PATIENT": patient, "START": start,
                        "STOP": start + pd.Timedelta(days=1 + j * 3), "ORGANIZATION": f"perturbed-{seed}-org",
                        "ENCOUNTERCLASS": cls, "CODE": code})  # fmt: skip
    out["encounters"] = pd.concat([enc[~drop], pd.DataFrame(new)], ignore_index=True)

    cond = out["conditions"]
    cond_cut = cond["PATIENT"].map(cut).dt.normalize()
    added = pd.DataFrame({"PATIENT": patients, "START": [c.normalize() + pd.Timedelta(days=1) for c in cut],
                          "CODE": "88805009"})  # fmt: skip
    ckd = added.assign(CODE="433144002")
    out["conditions"] = pd.concat([cond[~(cond["START"] > cond_cut)], added, ckd], ignore_index=True)

    med = out["medications"]
    med_cut = med["PATIENT"].map(cut)
    med = med[~(med["START"] > med_cut)].copy()
    med.loc[med["STOP"] > med["PATIENT"].map(cut), "STOP"] = pd.NaT
    extra = pd.DataFrame({"PATIENT": patients, "START": [c + pd.Timedelta(days=1) for c in cut], "STOP": pd.NaT,
                          "CODE": "310798"})  # fmt: skip
    out["medications"] = pd.concat([med, extra], ignore_index=True)

    pat = out["patients"]
    death = pat["Id"].map(cut).dt.normalize() + pd.Timedelta(days=4)
    pat.loc[death.notna(), "DEATHDATE"] = death[death.notna()]
    return out
