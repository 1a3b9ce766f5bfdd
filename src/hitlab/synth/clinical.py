"""Clinical parameters of the simulation: who gets which chronic condition when, what is prescribed for it,
and how vitals and lab results depend on age and disease.

Prevalence curves are cumulative: ``ONSET[c]`` lists (age, share of people who have had condition ``c`` by
that age); a patient's onset age is drawn by inverting that curve, so prevalence rises with age as in US
surveys (hypertension about a third of adults, type 2 diabetes about one in ten, both far higher after 60).
"""

from __future__ import annotations

import bisect
import math
import random

# (age, cumulative share) knots, linear in between; flat after the last knot.
ONSET: dict[str, tuple[tuple[float, float], ...]] = {
    "hypertension": (
        (18, 0.0),
        (25, 0.03),
        (35, 0.09),
        (45, 0.22),
        (55, 0.38),
        (65, 0.54),
        (75, 0.66),
        (90, 0.74),
    ),
    "diabetes": (
        (20, 0.0),
        (30, 0.015),
        (40, 0.045),
        (50, 0.095),
        (60, 0.16),
        (70, 0.23),
        (80, 0.27),
        (95, 0.28),
    ),
    "prediabetes": ((20, 0.0), (40, 0.08), (60, 0.2), (80, 0.26)),
    "hyperlipidemia": ((20, 0.0), (30, 0.04), (40, 0.11), (50, 0.24), (60, 0.36), (70, 0.44), (90, 0.5)),
    "chf": ((40, 0.0), (50, 0.008), (60, 0.025), (70, 0.06), (80, 0.12), (95, 0.2)),
    "copd": ((40, 0.0), (50, 0.025), (60, 0.06), (70, 0.1), (90, 0.14)),
    "asthma": ((1, 0.0), (5, 0.05), (12, 0.08), (40, 0.1), (90, 0.11)),
    "ckd3": ((40, 0.0), (50, 0.015), (60, 0.045), (70, 0.1), (80, 0.18), (95, 0.25)),
    "depression": ((12, 0.0), (20, 0.05), (30, 0.1), (50, 0.15), (90, 0.18)),
    "knee_oa": ((40, 0.0), (50, 0.04), (60, 0.1), (70, 0.16), (80, 0.21), (95, 0.24)),  # symptomatic
}
CHRONIC = tuple(ONSET)
SERIOUS = ("chf", "copd", "ckd3")  # raise mortality and hospital use

# Relative risk by latent factor, applied by scaling the uniform draw (u / rr): rr > 1 makes onset earlier.
RISK = {
    ("diabetes", "obese"): 2.0,
    ("hypertension", "obese"): 1.4,
    ("copd", "smoker"): 3.0,
    ("copd", "never"): 0.35,
    ("ckd3", "diabetes"): 1.8,
    ("ckd3", "hypertension"): 1.4,
    ("chf", "hypertension"): 1.5,
}


def onset_age(condition: str, rng: random.Random, rr: float = 1.0) -> float | None:
    """Age at onset of ``condition`` drawn by inverting its cumulative curve, or None (never in a lifetime)."""
    knots = ONSET[condition]
    u = rng.random() / rr
    shares = [s for _, s in knots]
    if u >= shares[-1]:
        return None
    i = bisect.bisect_right(shares, u)
    (a0, s0), (a1, s1) = knots[i - 1], knots[i]
    return a0 + (a1 - a0) * (u - s0) / (s1 - s0)


def annual_mortality(age: float, serious: int, diabetic: bool) -> float:
    """Yearly probability of death: a Gompertz curve in age, raised by serious chronic disease."""
    q = 0.00005 * math.exp(0.085 * age)
    q *= 1.0 + 0.7 * serious + (0.25 if diabetic else 0.0)
    return min(q, 0.6)


# What is prescribed when a chronic condition is recorded: list of (probability, [medication keys]).
PRESCRIPTIONS: dict[str, tuple[tuple[float, tuple[str, ...]], ...]] = {
    "hypertension": ((0.6, ("med.lisinopril",)), (0.25, ("med.hctz",)), (0.15, ("med.amlodipine",))),
    "diabetes": ((1.0, ("med.metformin",)),),
    "hyperlipidemia": ((0.65, ("med.simvastatin",)), (0.35, ("med.atorvastatin",))),
    "chf": ((1.0, ("med.metoprolol", "med.furosemide")),),
    "copd": ((1.0, ("med.fluticasone_salmeterol", "med.albuterol")),),
    "asthma": ((0.6, ("med.albuterol",)), (0.4, ("med.albuterol", "med.fluticasone_salmeterol"))),
    "depression": ((0.75, ("med.sertraline",)), (0.25, ())),
}
PRESCRIBED_SHARE = {"hypertension": 0.85, "diabetes": 0.9, "hyperlipidemia": 0.7, "chf": 0.95, "copd": 0.9}
CAREPLANS = {
    "diabetes": "careplan.diabetes",
    "hypertension": "careplan.hypertension",
    "asthma": "careplan.asthma",
    "copd": "careplan.copd",
    "chf": "careplan.chf",
    "hyperlipidemia": "careplan.hyperlipidemia",
}
FILL_DAYS = 90
"""Days' supply of a fill of a long-term medication (a 90-day supply, as most maintenance drugs are filled)."""
MED_COST = {  # base cost of a 30-day supply, USD
    "med.metformin": 12.40, "med.insulin": 176.88, "med.lisinopril": 9.60, "med.hctz": 8.20,
    "med.amlodipine": 10.10, "med.simvastatin": 11.35, "med.atorvastatin": 14.80, "med.metoprolol": 17.25,
    "med.furosemide": 7.45, "med.fluticasone_salmeterol": 302.15, "med.albuterol": 42.90,
    "med.sertraline": 13.70, "med.penicillin_v": 6.10, "med.amox_clav": 16.40, "med.acetaminophen": 4.80,
    "med.ibuprofen": 5.20,
}  # fmt: skip

# Acute problems seen in clinics: (condition key, weight, medication key or None, procedure key or None, days).
ACUTE = (
    ("pharyngitis", 0.25, "med.penicillin_v", "proc.throat_culture", 10),
    ("sinusitis", 0.25, "med.amox_clav", None, 10),
    ("bronchitis", 0.2, "med.acetaminophen", None, 14),
    ("uti", 0.15, None, None, 7),
    ("ankle_sprain", 0.15, "med.ibuprofen", None, 21),
)

# Emergency visits: reason -> (weight when eligible, chance of admission, procedure key or None).
EMERGENCY = {
    "chest_pain": (0.3, 0.25, "proc.ecg"),
    "ankle_sprain": (0.2, 0.01, None),
    "pneumonia": (0.15, 0.45, "proc.chest_xray"),
    "copd_exacerbation": (0.0, 0.5, "proc.chest_xray"),  # only with COPD
    "chf": (0.0, 0.6, "proc.chest_xray"),  # only with heart failure: decompensation
    "asthma": (0.0, 0.12, None),  # only with asthma: exacerbation
}

# The hospital model. Emergency visits come at a rate raised by age and chronic disease and multiplied by the
# patient's own propensity to use the emergency department (a gamma frailty of mean 1: most people rarely go,
# a few go often, as in real utilization data). Lengths of stay are lognormal, longer with age, comorbidity,
# acuity and the reason for admission. Whether a discharged patient comes back within 30 days is a logistic
# model of what published readmission studies find predictive: length of stay, an emergent admission,
# comorbidity (Charlson), recent emergency visits (the four parts of van Walraven's LACE index), and beyond
# LACE age, earlier admissions, low income and the same frailty. LACE sees only part of the risk, so it
# discriminates moderately (a C-statistic near 0.7) and a model with the richer features does better.
ED_FRAILTY_SHAPE = 0.7
CHARLSON = {"mi": 1, "chf": 1, "copd": 1, "asthma": 1, "diabetes": 1, "ckd3": 2}
"""Charlson weights of the generator's conditions (COPD and asthma are one category, chronic pulmonary
disease, so they count once: see :func:`charlson`)."""
LOS_REASON = {"mi": 0.35, "chf": 0.25, "pneumonia": 0.2, "copd_exacerbation": 0.15, "chest_pain": -0.35,
              "asthma": -0.3, "ankle_sprain": -0.2}  # fmt: skip
ELECTIVE_PER_YEAR = 0.08
"""Yearly chance that a patient of 50 or more with knee osteoarthritis has a knee replaced (at most twice)."""


def charlson(conditions: set[str]) -> int:
    """Charlson comorbidity score (original weights, no age points) of the generator's conditions."""
    pulmonary = bool({"copd", "asthma"} & conditions)
    return pulmonary + sum(w for c, w in CHARLSON.items() if c in conditions and c not in ("copd", "asthma"))


def stay_days(rng: random.Random, age: int, score: int, reason: str, frailty: float, elective: bool) -> int:
    """Length of an inpatient stay in whole days (at least 1, at most 30)."""
    if elective:
        return min(max(1, round(rng.lognormvariate(0.75, 0.35))), 6)
    mu = 0.85 + 0.13 * min(score, 5) + 0.012 * max(0, age - 50) + LOS_REASON.get(reason, 0.0)
    mu += 0.12 * math.log(frailty)
    return min(max(1, round(rng.lognormvariate(mu, 0.55))), 30)


def readmission_risk(
    days: int, emergent: bool, score: int, ed_visits: int, age: int, prior_stays: int, poor: bool,
    frailty: float,
) -> float:  # fmt: skip
    """Probability that a patient discharged home comes back to the emergency department within 30 days and is
    admitted. The return visit is drawn 1 to 30 days after discharge and lasts a few hours, so a few of these
    admissions fall just after day 30: whether a stay counts as a 30-day readmission is the analysis's
    definition (lab 09's), not the generator's."""
    z = -3.3 + 0.3 * math.log(days) + 0.4 * emergent + 0.1 * min(score, 5) + 0.1 * min(ed_visits, 4)
    z += 0.02 * (age - 65) + 0.3 * min(prior_stays, 3) + 0.5 * poor + 0.2 * math.log(frailty)
    return 1.0 / (1.0 + math.exp(-z))


# Virtual (telehealth) share of follow-up and acute visits, by year: rare before 2020, then established.
TELEHEALTH_SHARE = {2016: 0.005, 2017: 0.008, 2018: 0.01, 2019: 0.015, 2020: 0.35, 2021: 0.27, 2022: 0.22}
TELEHEALTH_LATER = 0.2

ENCOUNTER_COST = {
    "wellness": 136.80, "ambulatory": 85.55, "outpatient": 85.55, "urgentcare": 142.58, "virtual": 59.00,
    "emergency": 1018.04, "inpatient": 2412.60,  # inpatient: per day of stay
}  # fmt: skip
PROCEDURE_COST = {
    "proc.med_reconciliation": 735.40, "proc.depression_screening": 431.40, "proc.ecg": 522.39,
    "proc.chest_xray": 448.71, "proc.colonoscopy": 7632.88, "proc.mammography": 394.35,
    "proc.throat_culture": 314.61, "proc.knee_replacement": 16834.50,
}  # fmt: skip

# Reference ranges and units of numeric results (LOINC key -> (units, low, high, decimals)).
LAB_UNITS = {
    "obs.hba1c": ("%", 4.0, 5.6, 1),
    "obs.glucose": ("mg/dL", 70.0, 99.0, 1),
    "obs.creatinine": ("mg/dL", 0.6, 1.3, 2),
    "obs.egfr": ("mL/min/{1.73_m2}", 60.0, None, 1),
    "obs.cholesterol": ("mg/dL", None, 200.0, 1),
    "obs.triglycerides": ("mg/dL", None, 150.0, 1),
    "obs.ldl": ("mg/dL", None, 130.0, 1),
    "obs.hdl": ("mg/dL", 40.0, None, 1),
}
VITAL_UNITS = {
    "obs.height": ("cm", 1),
    "obs.weight": ("kg", 1),
    "obs.bmi": ("kg/m2", 1),
    "obs.systolic": ("mm[Hg]", 0),
    "obs.diastolic": ("mm[Hg]", 0),
    "obs.heart_rate": ("/min", 0),
    "obs.resp_rate": ("/min", 0),
}


def clip(x: float, low: float, high: float) -> float:
    return float(low if x < low else high if x > high else x)


def hba1c(rng: random.Random, diabetic: bool, prediabetic: bool, control: float) -> float:
    """HbA1c in %: diabetics by their control level (about 6.3–9), prediabetics 5.7–6.4, others below 5.7."""
    if diabetic:
        return clip(rng.gauss(control, 0.6), 5.8, 13.5)
    if prediabetic:
        return clip(rng.gauss(6.0, 0.2), 5.7, 6.4)
    return clip(rng.gauss(5.25, 0.22), 4.3, 5.6)


def glucose(rng: random.Random, diabetic: bool, prediabetic: bool, control: float) -> float:
    if diabetic:
        return clip(rng.gauss(28.7 * control - 46.7, 25), 80, 450)  # ADAG estimated average glucose
    if prediabetic:
        return clip(rng.gauss(110, 7), 100, 125)
    return clip(rng.gauss(88, 7), 65, 99)


def height_cm(age: float, adult_height: float) -> float:
    """A smooth growth curve reaching the adult height at 18."""
    if age >= 18:
        return adult_height
    if age < 2:
        return 50 + 37 * age / 2
    return 87 + (adult_height - 87) * (age - 2) / 16
