"""Lab 02's reference answers: every expected result computed in pandas/Python from the tables
(``hitlab.checks.sql.table``), not by the solution's SQL, on the data and on the questions' made-up rows.
"Today" is the data's as-of date, 2025-12-31. Left out of an exam release (the grader's install has it).
"""

from __future__ import annotations

import datetime as dt
from functools import cache

import pandas as pd

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
    icd10_map,
)
from hitlab.checks.sql import table

# -- helpers -------------------------------------------------------------------------------------------------


def _age(born: dt.date, on: dt.date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _none(v):
    return None if v is None or (isinstance(v, float) and pd.isna(v)) else v


@cache
def _numeric(code: str) -> pd.DataFrame:
    return _numeric_rows(table("observations"), code)


def _numeric_rows(obs: pd.DataFrame, code: str) -> pd.DataFrame:
    obs = obs[(obs["CODE"] == code) & (obs["TYPE"] == "numeric")].copy()
    obs["value"] = obs["VALUE"].astype(float)
    return obs


def _alive_at_end(patients: pd.DataFrame) -> set:
    return set(patients.loc[patients["DEATHDATE"].isna(), "Id"])


# -- Q1 age at encounter -------------------------------------------------------------------------------------


def age_at_encounter() -> list[tuple]:
    enc = table("encounters")
    enc = enc[enc["START"].dt.year == 2025]
    born = dict(zip(table("patients")["Id"], table("patients")["BIRTHDATE"], strict=True))
    return [(i, _age(pd.Timestamp(born[p]).date(), s.date())) for i, p, s in zip(enc["Id"], enc["PATIENT"], enc["START"], strict=True)]  # fmt: skip


# -- Q2 encounters by class per year -------------------------------------------------------------------------


def encounters_by_class_year() -> list[tuple]:
    enc = table("encounters")
    counts = enc.groupby([enc["ENCOUNTERCLASS"], enc["START"].dt.year]).size()
    return [(c, int(y), int(n)) for (c, y), n in counts.items()]


# -- Q3 latest HbA1c and change from the prior value ---------------------------------------------------------


def _latest_two() -> pd.DataFrame:
    obs = _numeric(HBA1C).sort_values(["PATIENT", "DATE"])
    rows = []
    for patient, g in obs.groupby("PATIENT", sort=False):
        values = list(g["value"])
        latest = values[-1]
        prior = values[-2] if len(values) > 1 else None
        rows.append((patient, latest, prior))
    return pd.DataFrame(rows, columns=["PATIENT", "latest", "prior"])


def latest_hba1c() -> list[tuple]:
    out = []
    for p, latest, prior in _latest_two().itertuples(index=False):
        prior = _none(prior)
        out.append((p, latest, prior, None if prior is None else latest - prior))
    return out


# -- Q4 the latest HbA1c against its reference range ---------------------------------------------------------


def hba1c_flags() -> list[tuple]:
    out = []
    for p, latest, _prior in _latest_two().itertuples(index=False):
        flag = "H" if latest > HBA1C_HIGH else "L" if latest < HBA1C_LOW else "N"
        out.append((p, latest, flag))
    return out


# -- Q5 length of stay by class: missing stops and overlaps --------------------------------------------------


def length_of_stay(enc: pd.DataFrame) -> list[tuple]:
    enc = enc.copy()
    enc["stop"] = enc["STOP"].fillna(END)
    enc["hours"] = (enc["stop"] - enc["START"]).dt.total_seconds() / 3600
    out = []
    for cls, g in enc.groupby("ENCOUNTERCLASS"):
        occupied = 0.0
        for _p, h in g.sort_values("START").groupby("PATIENT"):
            cur_start = cur_stop = None
            for s, e in zip(h["START"], h["stop"], strict=True):
                if cur_stop is not None and s <= cur_stop:
                    cur_stop = max(cur_stop, e)
                    continue
                if cur_stop is not None:
                    occupied += (cur_stop - cur_start).total_seconds() / 3600
                cur_start, cur_stop = s, e
            occupied += (cur_stop - cur_start).total_seconds() / 3600
        out.append((cls, len(g), float(g["hours"].mean()), occupied))
    return out


# -- Q6 care gap: diabetics without an HbA1c in the last 12 months -------------------------------------------


def care_gap(frames: dict[str, pd.DataFrame] | None = None) -> list[tuple]:
    cond = frames["conditions"] if frames else table("conditions")
    diabetics = set(cond.loc[(cond["CODE"] == DIABETES) & (cond["START"] <= pd.Timestamp(AS_OF)), "PATIENT"])
    diabetics &= _alive_at_end(frames["patients"] if frames else table("patients"))
    a1c = _numeric_rows(frames["observations"], HBA1C) if frames else _numeric(HBA1C)
    recent = set(a1c.loc[(a1c["DATE"] >= pd.Timestamp("2025-01-01")) & (a1c["DATE"] < END), "PATIENT"])
    return [(p,) for p in sorted(diabetics - recent)]


# -- Q7 controlling high blood pressure ----------------------------------------------------------------------


def controlling_bp(frames: dict[str, pd.DataFrame] | None = None) -> list[tuple]:
    patients = frames["patients"] if frames else table("patients")
    enc = frames["encounters"] if frames else table("encounters")
    cond = frames["conditions"] if frames else table("conditions")
    htn = set(
        cond.loc[(cond["CODE"] == HYPERTENSION) & (cond["START"] < pd.Timestamp("2025-07-01")), "PATIENT"]
    )
    chf = set(cond.loc[cond["CODE"] == "88805009", "PATIENT"])
    seen = set(enc.loc[(enc["START"].dt.year == 2025) & enc["ENCOUNTERCLASS"].isin(OFFICE), "PATIENT"])
    admitted = set(
        enc.loc[enc["START"].dt.year.isin((2024, 2025)) & (enc["ENCOUNTERCLASS"] == "inpatient"), "PATIENT"]
    )
    denominator, excluded = set(), set()
    for pid, born, died in zip(patients["Id"], patients["BIRTHDATE"], patients["DEATHDATE"], strict=True):
        age = _age(pd.Timestamp(born).date(), AS_OF)
        if pid in htn and pid in seen and 18 <= age <= 85:
            denominator.add(pid)
            if (not pd.isna(died) and pd.Timestamp(died).year == 2025) or (
                age >= 66 and pid in chf and pid in admitted
            ):
                excluded.add(pid)
    acute = set(enc.loc[enc["ENCOUNTERCLASS"].isin(ACUTE), "Id"])
    last = {}
    for code in (SYSTOLIC, DIASTOLIC):
        o = _numeric_rows(frames["observations"], code) if frames else _numeric(code)
        o = o[(o["DATE"].dt.year == 2025) & ~o["ENCOUNTER"].isin(acute)].sort_values("DATE")
        last[code] = o.groupby("PATIENT")["value"].last()
    numerator = {
        p
        for p in denominator - excluded
        if p in last[SYSTOLIC] and last[SYSTOLIC][p] < 140 and last[DIASTOLIC][p] < 90
    }
    eligible = len(denominator) - len(excluded)
    return [(len(denominator), len(excluded), len(numerator), len(numerator) / eligible)]


# -- Q8 30-day all-cause readmission rate --------------------------------------------------------------------


def readmission(enc: pd.DataFrame | None = None, patients: pd.DataFrame | None = None) -> list[tuple]:
    enc = table("encounters") if enc is None else enc
    patients = table("patients") if patients is None else patients
    died = dict(zip(patients["Id"], patients["DEATHDATE"], strict=True))
    stays = enc[enc["ENCOUNTERCLASS"] == "inpatient"].sort_values(["PATIENT", "START"])
    index = readmitted = 0
    for pid, g in stays.groupby("PATIENT"):
        rows = list(zip(g["START"], g["STOP"], g["ORGANIZATION"], strict=True))
        for i, (_start, stop, org) in enumerate(rows):
            if pd.isna(stop) or stop >= pd.Timestamp("2025-12-01"):
                continue  # not discharged, or fewer than 30 days of follow-up before 2025-12-31
            d = died[pid]
            if not pd.isna(d) and pd.Timestamp(d).date() == stop.date():
                continue  # died in hospital
            nxt = rows[i + 1] if i + 1 < len(rows) else None  # the patient's next inpatient stay
            if nxt is not None and nxt[0] - stop <= pd.Timedelta(hours=6) and nxt[2] != org:
                continue  # transferred out: the receiving stay is the one that ends in a discharge
            index += 1
            if nxt is not None and nxt[0] - stop <= pd.Timedelta(days=30):
                readmitted += 1
    return [(index, readmitted, readmitted / index)]


# -- Q9 polypharmacy -----------------------------------------------------------------------------------------


def polypharmacy(meds: pd.DataFrame | None = None, patients: pd.DataFrame | None = None) -> list[tuple]:
    meds = table("medications") if meds is None else meds
    patients = table("patients") if patients is None else patients
    alive = set(
        patients.loc[
            patients["DEATHDATE"].isna() | (pd.to_datetime(patients["DEATHDATE"]) >= POLYPHARMACY_AT), "Id"
        ]
    )
    active = meds[
        (meds["START"] <= POLYPHARMACY_AT) & (meds["STOP"].isna() | (meds["STOP"] > POLYPHARMACY_AT))
    ]
    active = active[active["PATIENT"].isin(alive)]
    n = active.groupby("PATIENT")["CODE"].nunique()
    return [(p, int(k)) for p, k in n.items() if k >= 5]


# -- Q10 Charlson comorbidity index --------------------------------------------------------------------------


def charlson() -> list[tuple]:
    cond = table("conditions")
    to_icd = dict(zip(icd10_map()["SNOMED"], icd10_map()["ICD10"], strict=True))
    alive = _alive_at_end(table("patients"))
    categories: dict[str, set] = {}
    for pid, code in zip(cond["PATIENT"], cond["CODE"], strict=True):
        icd = to_icd.get(code)
        if pid not in alive or icd is None:
            continue
        for cat, _w, prefixes in CHARLSON:
            if any(icd.startswith(p) for p in prefixes):
                categories.setdefault(pid, set()).add(cat)
    weight = {cat: w for cat, w, _ in CHARLSON}
    return [(p, sum(weight[c] for c in cats)) for p, cats in categories.items()]


# -- Q11 telehealth share per year ---------------------------------------------------------------------------


def telehealth() -> list[tuple]:
    enc = table("encounters")
    out = []
    for year, g in sorted(enc.groupby(enc["START"].dt.year)):
        virtual = int((g["ENCOUNTERCLASS"] == "virtual").sum())
        out.append((int(year), len(g), virtual, virtual / len(g)))
    return out
