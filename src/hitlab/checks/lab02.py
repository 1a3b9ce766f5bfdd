"""Checks of lab 02, SQL on patient data: ages, utilization, labs, length of stay, care gaps, quality measures,
readmissions, polypharmacy, the Charlson index and telehealth.

Every expected answer is computed here in pandas/Python from the tables (``hitlab.checks.sql.table``), not by
the solution's SQL. "Today" is the data's as-of date, 2025-12-31.
"""

from __future__ import annotations

import datetime as dt
from functools import cache

import pandas as pd

from hitlab.checks.sql import Scenario, sql_question, table

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


# -- reference helpers ---------------------------------------------------------------------------------------


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


# -- Q1 age at encounter ------------------------------------------------------------------------------------


def _age_at_encounter() -> list[tuple]:
    enc = table("encounters")
    enc = enc[enc["START"].dt.year == 2025]
    born = dict(zip(table("patients")["Id"], table("patients")["BIRTHDATE"], strict=True))
    return [(i, _age(pd.Timestamp(born[p]).date(), s.date())) for i, p, s in zip(enc["Id"], enc["PATIENT"], enc["START"], strict=True)]  # fmt: skip


q1 = sql_question(
    grade_id="lab02_age_at_encounter",
    title="Q1 age at encounter",
    points=2,
    variable="age_at_encounter_sql",
    columns=("Id", "age"),
    reference=_age_at_encounter,
    hints=(
        "Join encounters to patients on encounters.PATIENT = patients.Id and keep encounters that started in 2025.",
        "Age in completed years: the difference of the years, minus one if the birthday has not come yet that "
        "year. date_diff('year', ...) counts calendar-year boundaries crossed, which is not the same thing.",
        "DuckDB's date_sub('year', BIRTHDATE, START) counts complete years (but a 29 February birthday is "
        "reached on 28 February in a non-leap year); comparing strftime(..., '%m%d') follows the rule exactly.",
    ),
    solution='''age_at_encounter_sql = """
select e.Id,
       year(e.START) - year(p.BIRTHDATE)
         - case when strftime(e.START, '%m%d') < strftime(p.BIRTHDATE, '%m%d') then 1 else 0 end as age
from encounters e
join patients p on p.Id = e.PATIENT
where e.START >= timestamp '2025-01-01' and e.START < timestamp '2026-01-01'
"""''',
    wrong=(
        'age_at_encounter_sql = """select e.Id, date_diff(\'year\', p.BIRTHDATE, e.START) as age\n'
        'from encounters e join patients p on p.Id = e.PATIENT where year(e.START) = 2025"""',
    ),
    alternatives=(
        'age_at_encounter_sql = """select e.Id, date_sub(\'year\', p.BIRTHDATE, cast(e.START as date)) as age\n'
        'from encounters e join patients p on p.Id = e.PATIENT where year(e.START) = 2025"""',
    ),
)


# -- Q2 encounters by class per year ------------------------------------------------------------------------


def _encounters_by_class_year() -> list[tuple]:
    enc = table("encounters")
    counts = enc.groupby([enc["ENCOUNTERCLASS"], enc["START"].dt.year]).size()
    return [(c, int(y), int(n)) for (c, y), n in counts.items()]


q2 = sql_question(
    grade_id="lab02_encounters_by_class_year",
    title="Q2 encounters by class per year",
    points=2,
    variable="encounters_by_class_year_sql",
    columns=("ENCOUNTERCLASS", "year", "encounters"),
    reference=_encounters_by_class_year,
    hints=(
        "Group by two things: the class and the year the encounter started.",
        "count(*) counts encounters; count(distinct PATIENT) would count patients, a different question.",
    ),
    solution='''encounters_by_class_year_sql = """
select ENCOUNTERCLASS, year(START) as year, count(*) as encounters
from encounters
group by ENCOUNTERCLASS, year(START)
"""''',
    wrong=(
        'encounters_by_class_year_sql = "select ENCOUNTERCLASS, year(START) as year, count(distinct PATIENT) '
        'as encounters from encounters group by all"',
    ),
    alternatives=(
        "encounters_by_class_year_sql = \"select ENCOUNTERCLASS, date_part('year', START) as year, count(Id) as encounters "
        'from encounters group by all order by 2, 1"',
    ),
)


# -- Q3 latest HbA1c and change from the prior value --------------------------------------------------------


def _latest_two() -> pd.DataFrame:
    obs = _numeric(HBA1C).sort_values(["PATIENT", "DATE"])
    rows = []
    for patient, g in obs.groupby("PATIENT", sort=False):
        values = list(g["value"])
        latest = values[-1]
        prior = values[-2] if len(values) > 1 else None
        rows.append((patient, latest, prior))
    return pd.DataFrame(rows, columns=["PATIENT", "latest", "prior"])


def _latest_hba1c() -> list[tuple]:
    out = []
    for p, latest, prior in _latest_two().itertuples(index=False):
        prior = _none(prior)
        out.append((p, latest, prior, None if prior is None else latest - prior))
    return out


q3 = sql_question(
    grade_id="lab02_latest_hba1c",
    title="Q3 latest HbA1c and change",
    points=3,
    variable="latest_hba1c_sql",
    columns=("PATIENT", "latest_value", "prior_value", "change"),
    reference=_latest_hba1c,
    hints=(
        "Number each patient's HbA1c results (CODE = '4548-4') from newest to oldest with a window function.",
        "row_number() over (partition by PATIENT order by DATE desc) = 1 is the latest; lag(value) over "
        "(partition by PATIENT order by DATE) gives the value before each one.",
        "VALUE is text: cast(VALUE as double). With a single result, prior_value and change are NULL.",
    ),
    solution='''latest_hba1c_sql = """
with a1c as (
    select PATIENT, DATE, cast(VALUE as double) as value,
           lag(cast(VALUE as double)) over (partition by PATIENT order by DATE) as prior_value,
           row_number() over (partition by PATIENT order by DATE desc) as rn
    from observations
    where CODE = '4548-4' and TYPE = 'numeric'
)
select PATIENT, value as latest_value, prior_value, value - prior_value as change
from a1c
where rn = 1
"""''',
    wrong=(
        '''latest_hba1c_sql = """
with a1c as (
    select PATIENT, cast(VALUE as double) as value,
           lag(cast(VALUE as double)) over (partition by PATIENT order by DATE) as prior_value,
           row_number() over (partition by PATIENT order by DATE) as rn
    from observations where CODE = '4548-4'
)
select PATIENT, value as latest_value, prior_value, value - prior_value as change from a1c where rn = 1
"""''',
    ),
    alternatives=(
        '''latest_hba1c_sql = """
select PATIENT,
       arg_max(cast(VALUE as double), DATE) as latest_value,
       (list(cast(VALUE as double) order by DATE desc))[2] as prior_value,
       latest_value - prior_value as change
from observations where CODE = '4548-4'
group by PATIENT
"""''',
    ),
)


# -- Q4 flag the latest HbA1c against its reference range ---------------------------------------------------

HBA1C_LOW, HBA1C_HIGH = 4.0, 5.6


def _hba1c_flags() -> list[tuple]:
    out = []
    for p, latest, _prior in _latest_two().itertuples(index=False):
        flag = "H" if latest > HBA1C_HIGH else "L" if latest < HBA1C_LOW else "N"
        out.append((p, latest, flag))
    return out


q4 = sql_question(
    grade_id="lab02_hba1c_flag",
    title="Q4 HbA1c out-of-range flag",
    points=2,
    variable="hba1c_flag_sql",
    columns=("PATIENT", "latest_value", "flag"),
    reference=_hba1c_flags,
    hints=(
        "Start from each patient's latest HbA1c (Q3), then a CASE expression for the flag.",
        "The reference range 4.0–5.6 % includes both ends: 5.6 is normal, 5.7 is high.",
    ),
    solution='''hba1c_flag_sql = """
with latest as (
    select PATIENT, arg_max(cast(VALUE as double), DATE) as latest_value
    from observations
    where CODE = '4548-4' and TYPE = 'numeric'
    group by PATIENT
)
select PATIENT, latest_value,
       case when latest_value > 5.6 then 'H' when latest_value < 4.0 then 'L' else 'N' end as flag
from latest
"""''',
    wrong=(
        '''hba1c_flag_sql = """
with latest as (
    select PATIENT, arg_max(cast(VALUE as double), DATE) as latest_value
    from observations where CODE = '4548-4' group by PATIENT
)
select PATIENT, latest_value,
       case when latest_value >= 5.6 then 'H' when latest_value <= 4.0 then 'L' else 'N' end as flag
from latest
"""''',
    ),
    alternatives=(
        '''hba1c_flag_sql = """
select PATIENT, cast(VALUE as double) as latest_value,
       case when cast(VALUE as double) between 4.0 and 5.6 then 'N'
            when cast(VALUE as double) > 5.6 then 'H' else 'L' end as flag
from observations
where CODE = '4548-4'
qualify row_number() over (partition by PATIENT order by DATE desc) = 1
"""''',
    ),
)


# -- Q5 length of stay by class: missing stops and overlaps -------------------------------------------------


def _los(enc: pd.DataFrame) -> list[tuple]:
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


LOS_COLUMNS = ("ENCOUNTERCLASS", "encounters", "avg_los_hours", "occupied_hours")

_ENCOUNTER_COLUMNS = {"encounters": ("PATIENT", "ENCOUNTERCLASS", "START", "STOP")}
_LOS_STAYS = {
    "overlapping inpatient stays, one nested inside another, and an emergency visit just before them": (
        ("p1", "inpatient", "2025-03-01 10:00:00", "2025-03-03 10:00:00"),
        ("p1", "inpatient", "2025-03-02 10:00:00", "2025-03-05 10:00:00"),
        ("p1", "inpatient", "2025-03-02 12:00:00", "2025-03-02 13:00:00"),
        ("p1", "inpatient", "2025-04-01 00:00:00", "2025-04-01 12:00:00"),
        ("p1", "emergency", "2025-03-01 06:00:00", "2025-03-01 10:00:00"),
    ),
    "a stay with no STOP (still admitted) and an emergency visit inside another": (
        ("p2", "inpatient", "2025-12-30 00:00:00", None),
        ("p2", "emergency", "2025-12-29 20:00:00", "2025-12-30 00:00:00"),
        ("p2", "emergency", "2025-12-29 22:00:00", "2025-12-29 23:00:00"),
    ),
    "two stays of a patient that touch (one ends as the next starts)": (
        ("p3", "inpatient", "2025-06-01 00:00:00", "2025-06-02 00:00:00"),
        ("p3", "inpatient", "2025-06-02 00:00:00", "2025-06-03 00:00:00"),
    ),
    "a short stay nested in a long one, then a stay that starts after the short one ends but before the long "
    "one does": (
        ("p4", "inpatient", "2025-08-01 00:00:00", "2025-08-10 00:00:00"),
        ("p4", "inpatient", "2025-08-02 00:00:00", "2025-08-03 00:00:00"),
        ("p4", "inpatient", "2025-08-05 00:00:00", "2025-08-12 00:00:00"),
    ),
}
_LOS_SCENARIOS = (
    *(Scenario(what, {"encounters": rows}, _ENCOUNTER_COLUMNS) for what, rows in _LOS_STAYS.items()),
    Scenario(
        "all of those stays, of four patients, together",
        {"encounters": tuple(r for rows in _LOS_STAYS.values() for r in rows)},
        _ENCOUNTER_COLUMNS,
    ),
)

q5 = sql_question(
    grade_id="lab02_length_of_stay",
    title="Q5 length of stay by class",
    points=3,
    variable="length_of_stay_sql",
    columns=LOS_COLUMNS,
    reference=lambda: _los(table("encounters")),
    scenarios=_LOS_SCENARIOS,
    on_scenario=lambda frames: _los(frames["encounters"]),
    hints=(
        "An encounter with no STOP is still going on: coalesce(STOP, timestamp '2026-01-01 00:00:00').",
        "Hours between two timestamps: epoch(stop - START) / 3600 (seconds in the interval divided by 3600).",
        "For occupied_hours, merge each patient's overlapping encounters of a class into islands first: an "
        "encounter starts a new island when it starts after the latest stop of every earlier one "
        "(max(stop) over (partition by PATIENT, ENCOUNTERCLASS order by START rows between unbounded preceding "
        "and 1 preceding)); number the islands with a running sum of those starts.",
    ),
    solution='''length_of_stay_sql = """
with e as (
    select PATIENT, ENCOUNTERCLASS, START, coalesce(STOP, timestamp '2026-01-01 00:00:00') as stop
    from encounters
),
marked as (
    select *,
           case when START <= max(stop) over (partition by PATIENT, ENCOUNTERCLASS order by START, stop
                                              rows between unbounded preceding and 1 preceding)
                then 0 else 1 end as new_island
    from e
),
islands as (
    select *, sum(new_island) over (partition by PATIENT, ENCOUNTERCLASS order by START, stop
                                    rows unbounded preceding) as island
    from marked
),
merged as (
    select ENCOUNTERCLASS, epoch(max(stop) - min(START)) / 3600 as hours
    from islands
    group by PATIENT, ENCOUNTERCLASS, island
)
select s.ENCOUNTERCLASS, s.encounters, s.avg_los_hours, m.occupied_hours
from (select ENCOUNTERCLASS, count(*) as encounters, avg(epoch(stop - START) / 3600) as avg_los_hours
      from e group by ENCOUNTERCLASS) s
join (select ENCOUNTERCLASS, sum(hours) as occupied_hours from merged group by ENCOUNTERCLASS) m
  using (ENCOUNTERCLASS)
"""''',
    wrong=(
        '''length_of_stay_sql = """
select ENCOUNTERCLASS, count(*) as encounters, avg(date_diff('hour', START, STOP)) as avg_los_hours,
       sum(date_diff('hour', START, STOP)) as occupied_hours
from encounters group by ENCOUNTERCLASS
"""''',
    ),
    alternatives=(
        '''length_of_stay_sql = """
with e as (
    select PATIENT, ENCOUNTERCLASS, START, coalesce(STOP, timestamp '2026-01-01') as stop from encounters
),
g as (
    select *, sum(case when START > prev_stop then 1 else 0 end)
                  over (partition by PATIENT, ENCOUNTERCLASS order by START, stop) as island
    from (select *, coalesce(max(stop) over (partition by PATIENT, ENCOUNTERCLASS order by START, stop
                                             rows between unbounded preceding and 1 preceding),
                             timestamp '1900-01-01') as prev_stop
          from e)
)
select ENCOUNTERCLASS, count(*) as encounters,
       avg(epoch(stop - START)) / 3600 as avg_los_hours,
       (select sum(epoch(hi - lo)) / 3600
        from (select min(START) lo, max(stop) hi from g g2 where g2.ENCOUNTERCLASS = g.ENCOUNTERCLASS
              group by PATIENT, island)) as occupied_hours
from g group by ENCOUNTERCLASS
"""''',
    ),
)

# -- Q6 care gap: diabetics without an HbA1c in the last 12 months ------------------------------------------


def _care_gap(frames: dict[str, pd.DataFrame] | None = None) -> list[tuple]:
    cond = frames["conditions"] if frames else table("conditions")
    diabetics = set(cond.loc[(cond["CODE"] == DIABETES) & (cond["START"] <= pd.Timestamp(AS_OF)), "PATIENT"])
    diabetics &= _alive_at_end(frames["patients"] if frames else table("patients"))
    a1c = _numeric_rows(frames["observations"], HBA1C) if frames else _numeric(HBA1C)
    recent = set(a1c.loc[(a1c["DATE"] >= pd.Timestamp("2025-01-01")) & (a1c["DATE"] < END), "PATIENT"])
    return [(p,) for p in sorted(diabetics - recent)]


_CARE_GAP_COLUMNS = {
    "conditions": ("PATIENT", "CODE", "START"),
    "observations": ("PATIENT", "CODE", "DATE", "VALUE", "TYPE"),
    "patients": ("Id", "BIRTHDATE", "DEATHDATE"),
}
_CARE_GAPS = {
    "a diabetic whose diagnosis is recorded twice and whose HbA1c results are all from 2024": (
        ("d1", None),
        (("d1", DIABETES, "2019-05-01"), ("d1", DIABETES, "2023-02-01")),
        (("d1", HBA1C, "2024-03-01", "7.9"), ("d1", HBA1C, "2024-11-01", "8.1")),
    ),
    "a diabetic with two HbA1c results in 2025": (
        ("d2", None),
        (("d2", DIABETES, "2020-01-01"),),
        (("d2", HBA1C, "2025-02-01", "6.9"), ("d2", HBA1C, "2025-09-01", "7.0")),
    ),
    "a diabetic who died in 2025 without an HbA1c": (
        ("d3", "2025-06-01"),
        (("d3", DIABETES, "2018-01-01"),),
        (),
    ),
}


def _care_gap_scenario(what: str, cases) -> Scenario:
    tables = {
        "patients": tuple((pid, "1950-01-01", died) for (pid, died), _c, _o in cases),
        "conditions": tuple(c for _p, conds, _o in cases for c in conds),
        "observations": tuple((*o, "numeric") for _p, _c, obs in cases for o in obs),
    }
    return Scenario(what, tables, _CARE_GAP_COLUMNS)


_CARE_GAP_SCENARIOS = (
    *(_care_gap_scenario(what, [case]) for what, case in _CARE_GAPS.items()),
    _care_gap_scenario("all of those patients together", list(_CARE_GAPS.values())),
)

CARE_GAP_SQL = '''care_gap_sql = """
select distinct c.PATIENT
from conditions c
join patients p on p.Id = c.PATIENT
where c.CODE = '44054006' and p.DEATHDATE is null
  and not exists (
      select 1 from observations o
      where o.PATIENT = c.PATIENT and o.CODE = '4548-4'
        and o.DATE >= timestamp '2025-01-01' and o.DATE < timestamp '2026-01-01'
  )
"""'''

q6 = sql_question(
    grade_id="lab02_hba1c_care_gap",
    title="Q6 diabetics without a recent HbA1c",
    points=3,
    variable="care_gap_sql",
    columns=("PATIENT",),
    reference=_care_gap,
    scenarios=_CARE_GAP_SCENARIOS,
    on_scenario=_care_gap,
    hints=(
        "Denominator first: living patients with a type 2 diabetes condition (SNOMED CT 44054006).",
        "Then remove those with an HbA1c (LOINC 4548-4) dated 2025-01-01 or later: NOT EXISTS or an anti join.",
        "A patient who died is no longer anyone's care gap: DEATHDATE is null for the living.",
    ),
    solution=CARE_GAP_SQL,
    wrong=(
        CARE_GAP_SQL.replace("select distinct c.PATIENT", "select c.PATIENT"),  # duplicates
        '''care_gap_sql = """
select distinct c.PATIENT from conditions c
where c.CODE = '44054006'
  and c.PATIENT not in (select PATIENT from observations
                        where CODE = '4548-4' and DATE >= timestamp '2025-01-01')
"""''',
    ),
    alternatives=(
        '''care_gap_sql = """
select p.Id as PATIENT from patients p
where p.DEATHDATE is null
  and p.Id in (select PATIENT from conditions where CODE = '44054006')
except
select PATIENT from observations where CODE = '4548-4' and DATE >= date '2025-01-01'
"""''',
    ),
)


# -- Q7 controlling high blood pressure ----------------------------------------------------------------------

OFFICE = ("wellness", "ambulatory", "virtual")  # visits that qualify a patient for the measure
ACUTE = ("emergency", "inpatient")  # blood pressures taken here do not count for the numerator


def _cbp() -> list[tuple]:
    patients = table("patients")
    enc = table("encounters")
    cond = table("conditions")
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
        o = _numeric(code)
        o = o[(o["DATE"].dt.year == 2025) & ~o["ENCOUNTER"].isin(acute)].sort_values("DATE")
        last[code] = o.groupby("PATIENT")["value"].last()
    numerator = {
        p
        for p in denominator - excluded
        if p in last[SYSTOLIC] and last[SYSTOLIC][p] < 140 and last[DIASTOLIC][p] < 90
    }
    eligible = len(denominator) - len(excluded)
    return [(len(denominator), len(excluded), len(numerator), len(numerator) / eligible)]


def _cbp_sql(*, exclusions: bool = True, acute: bool = False, op: str = "<") -> str:
    excl = (
        """(year(DEATHDATE) = 2025
           or (age >= 66
               and exists (select 1 from conditions c where c.PATIENT = d.PATIENT and c.CODE = '88805009')
               and exists (select 1 from encounters e where e.PATIENT = d.PATIENT
                           and e.ENCOUNTERCLASS = 'inpatient' and year(e.START) in (2024, 2025))))"""
        if exclusions
        else "year(DEATHDATE) = 2025"
    )
    where_bp = "" if acute else "\n      and e.ENCOUNTERCLASS not in ('emergency', 'inpatient')"
    return f"""controlling_bp_sql = \"\"\"
with denominator as (
    select p.Id as PATIENT, p.DEATHDATE, date_sub('year', p.BIRTHDATE, date '2025-12-31') as age
    from patients p
    where date_sub('year', p.BIRTHDATE, date '2025-12-31') between 18 and 85
      and exists (select 1 from conditions c where c.PATIENT = p.Id
                  and c.CODE = '59621000' and c.START < date '2025-07-01')
      and exists (select 1 from encounters e where e.PATIENT = p.Id and year(e.START) = 2025
                  and e.ENCOUNTERCLASS in ('wellness', 'ambulatory', 'virtual'))
),
exclusions as (
    select PATIENT from denominator d
    where {excl}
),
bp as (
    select o.PATIENT,
           arg_max(case when o.CODE = '8480-6' then cast(o.VALUE as double) end, o.DATE) as systolic,
           arg_max(case when o.CODE = '8462-4' then cast(o.VALUE as double) end, o.DATE) as diastolic
    from observations o
    join encounters e on e.Id = o.ENCOUNTER
    where o.CODE in ('8480-6', '8462-4') and year(o.DATE) = 2025{where_bp}
    group by o.PATIENT
),
numerator as (
    select d.PATIENT from denominator d join bp using (PATIENT)
    where d.PATIENT not in (select PATIENT from exclusions) and bp.systolic {op} 140 and bp.diastolic {op} 90
)
select (select count(*) from denominator) as denominator,
       (select count(*) from exclusions) as exclusions,
       (select count(*) from numerator) as numerator,
       (select count(*) from numerator)
         / ((select count(*) from denominator) - (select count(*) from exclusions)) as rate
\"\"\""""


q7 = sql_question(
    grade_id="lab02_controlling_bp",
    title="Q7 controlling high blood pressure",
    points=4,
    variable="controlling_bp_sql",
    columns=("denominator", "exclusions", "numerator", "rate"),
    reference=_cbp,
    rel=1e-3,
    hints=(
        "Build three patient sets in CTEs: denominator, exclusions (a subset of it), numerator (from "
        "denominator minus exclusions); then count each in one final SELECT.",
        "Age on 2025-12-31 in completed years: date_sub('year', BIRTHDATE, date '2025-12-31'). Hypertension "
        "onset is conditions.START (the exercise checks only the onset, not whether the diagnosis was still "
        "active in 2025 as CMS165 asks). Exclusions are either a 2025 death or the "
        "heart-failure-plus-admission rule.",
        "Most recent reading: join observations to encounters to drop emergency and inpatient readings; the "
        "systolic (8480-6) and diastolic (8462-4) rows of a reading share DATE, so arg_max(value, DATE) per code "
        "gives the latest of each. Controlled means < 140 and < 90, strictly.",
    ),
    solution=_cbp_sql(),
    wrong=(_cbp_sql(op="<="), _cbp_sql(exclusions=False)),
    alternatives=(
        """controlling_bp_sql = \"\"\"
with den as (
    select p.Id, p.DEATHDATE, date_sub('year', p.BIRTHDATE, date '2025-12-31') as age
    from patients p
    where p.Id in (select PATIENT from conditions where CODE = '59621000' and START < date '2025-07-01')
      and p.Id in (select PATIENT from encounters where START >= timestamp '2025-01-01'
                   and START < timestamp '2026-01-01' and ENCOUNTERCLASS in ('wellness', 'ambulatory', 'virtual'))
      and date_sub('year', p.BIRTHDATE, date '2025-12-31') between 18 and 85
),
exc as (
    select Id from den
    where year(DEATHDATE) = 2025
       or (age >= 66 and Id in (select PATIENT from conditions where CODE = '88805009')
           and Id in (select PATIENT from encounters where ENCOUNTERCLASS = 'inpatient'
                      and START >= timestamp '2024-01-01' and START < timestamp '2026-01-01'))
),
readings as (
    select o.PATIENT, o.DATE,
           max(case when o.CODE = '8480-6' then cast(o.VALUE as double) end) as sys,
           max(case when o.CODE = '8462-4' then cast(o.VALUE as double) end) as dia
    from observations o join encounters e on e.Id = o.ENCOUNTER
    where o.CODE in ('8480-6', '8462-4') and year(o.DATE) = 2025
      and e.ENCOUNTERCLASS not in ('emergency', 'inpatient')
    group by o.PATIENT, o.DATE
    qualify row_number() over (partition by o.PATIENT order by o.DATE desc) = 1
),
num as (
    select Id from den join readings r on r.PATIENT = den.Id
    where Id not in (select Id from exc) and sys < 140 and dia < 90
)
select count(*) as denominator, (select count(*) from exc) as exclusions, (select count(*) from num) as numerator,
       round((select count(*) from num) / (count(*) - (select count(*) from exc)), 4) as rate
from den
\"\"\"""",
    ),
)


# -- Q8 30-day all-cause readmission rate --------------------------------------------------------------------


def _readmission(enc: pd.DataFrame | None = None, patients: pd.DataFrame | None = None) -> list[tuple]:
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


_STAY_COLUMNS = {
    "encounters": ("PATIENT", "ORGANIZATION", "ENCOUNTERCLASS", "START", "STOP"),
    "patients": ("Id", "BIRTHDATE", "DEATHDATE"),
}
_ORDINARY_STAY = ("b", "X", "inpatient", "2025-02-01 00:00:00", "2025-02-03 00:00:00")  # in every scenario
_STAYS = {
    "an emergency visit, a stay that ends in a transfer to another hospital within 6 hours, and a "
    "readmission within 30 days": (
        ("p1", "X", "emergency", "2025-01-01 00:00:00", "2025-01-01 04:00:00"),
        ("p1", "X", "inpatient", "2025-01-01 04:00:00", "2025-01-05 10:00:00"),  # transferred out
        ("p1", "Y", "inpatient", "2025-01-05 12:00:00", "2025-01-10 00:00:00"),  # index, readmitted
        ("p1", "Y", "inpatient", "2025-02-08 23:00:00", "2025-02-12 00:00:00"),  # index
    ),
    "a return to the same hospital 2 hours after discharge (a readmission, not a transfer)": (
        ("p2", "X", "inpatient", "2025-03-01 00:00:00", "2025-03-04 08:00:00"),  # index, readmitted
        ("p2", "X", "inpatient", "2025-03-04 10:00:00", "2025-03-06 00:00:00"),  # index
    ),
    "a patient who died on the day of discharge": (
        ("p3", "X", "inpatient", "2025-04-01 00:00:00", "2025-04-03 09:00:00"),
    ),
    "a next stay 30 days and 1 second after discharge, with an emergency visit in between": (
        ("p4", "X", "inpatient", "2025-05-01 00:00:00", "2025-05-02 12:00:00"),  # index
        ("p4", "X", "emergency", "2025-05-10 00:00:00", "2025-05-10 03:00:00"),
        ("p4", "X", "inpatient", "2025-06-01 12:00:01", "2025-06-03 00:00:00"),  # index
    ),
    "a discharge after 2025-12-01 (too late to follow up) and a stay with no STOP": (
        ("p5", "X", "inpatient", "2025-11-20 00:00:00", "2025-12-02 00:00:00"),
        ("p5", "X", "inpatient", "2025-12-20 00:00:00", None),
    ),
    "a next stay exactly 30 days after discharge": (
        ("p6", "Y", "inpatient", "2025-06-25 00:00:00", "2025-07-01 00:00:00"),  # index, readmitted
        ("p6", "Y", "inpatient", "2025-07-31 00:00:00", "2025-08-02 00:00:00"),  # index
    ),
}
_STAY_PATIENTS = (
    ("b", "1950-01-01", None),
    ("p1", "1950-01-01", None),
    ("p2", "1950-01-01", None),
    ("p3", "1950-01-01", "2025-04-03"),
    ("p4", "1950-01-01", None),
    ("p5", "1950-01-01", None),
    ("p6", "1950-01-01", None),
)
_READMISSION_SCENARIOS = tuple(
    Scenario(what, {"encounters": (_ORDINARY_STAY, *rows), "patients": _STAY_PATIENTS}, _STAY_COLUMNS)
    for what, rows in (
        *_STAYS.items(),
        ("all of those stays, of six patients, together", tuple(r for rows in _STAYS.values() for r in rows)),
    )
)
READMISSION_COLUMNS = ("index_stays", "readmissions", "readmission_rate")
q8 = sql_question(
    grade_id="lab02_readmission_rate",
    title="Q8 30-day readmission rate",
    points=4,
    variable="readmission_sql",
    columns=READMISSION_COLUMNS,
    reference=lambda: _readmission(),
    rel=1e-3,
    scenarios=_READMISSION_SCENARIOS,
    on_scenario=lambda frames: _readmission(frames["encounters"], frames["patients"]),
    hints=(
        "Work on inpatient encounters only. For each stay, find the same patient's next inpatient stay with "
        "lead(START) and lead(ORGANIZATION) over (partition by PATIENT order by START).",
        "Index stays: STOP before 2025-12-01, the patient did not die that day (DEATHDATE is the discharge date "
        "of an in-hospital death), and not a transfer (next stay within 6 hours at another ORGANIZATION).",
        "Readmitted: the next stay starts within 30 days after STOP (next_start <= STOP + interval 30 days). "
        "Compute the rate as a double: readmissions / index_stays.",
    ),
    solution='''readmission_sql = """
with stays as (
    select e.PATIENT, e.START, e.STOP, e.ORGANIZATION, p.DEATHDATE,
           lead(e.START) over w as next_start,
           lead(e.ORGANIZATION) over w as next_org
    from encounters e
    join patients p on p.Id = e.PATIENT
    where e.ENCOUNTERCLASS = 'inpatient'
    window w as (partition by e.PATIENT order by e.START)
),
index_stays as (
    select * from stays
    where STOP < timestamp '2025-12-01'
      and (DEATHDATE is null or DEATHDATE <> cast(STOP as date))
      and not (next_start is not null and next_start <= STOP + interval 6 hours and next_org <> ORGANIZATION)
)
select count(*) as index_stays,
       count(*) filter (where next_start <= STOP + interval 30 days) as readmissions,
       count(*) filter (where next_start <= STOP + interval 30 days) / count(*) as readmission_rate
from index_stays
"""''',
    wrong=(
        '''readmission_sql = """
with stays as (
    select e.PATIENT, e.START, e.STOP, p.DEATHDATE,
           lead(e.START) over (partition by e.PATIENT order by e.START) as next_start
    from encounters e join patients p on p.Id = e.PATIENT
    where e.ENCOUNTERCLASS = 'inpatient'
),
index_stays as (
    select * from stays
    where STOP < timestamp '2025-12-01' and (DEATHDATE is null or DEATHDATE <> cast(STOP as date))
)
select count(*) as index_stays, count(*) filter (where next_start <= STOP + interval 30 days) as readmissions,
       count(*) filter (where next_start <= STOP + interval 30 days) / count(*) as readmission_rate
from index_stays
"""''',
        '''readmission_sql = """
with stays as (
    select e.PATIENT, e.START, e.STOP, e.ORGANIZATION,
           lead(e.START) over w as next_start, lead(e.ORGANIZATION) over w as next_org
    from encounters e
    where e.ENCOUNTERCLASS = 'inpatient'
    window w as (partition by e.PATIENT order by e.START)
),
index_stays as (
    select * from stays
    where STOP < timestamp '2025-12-01'
      and not (next_start is not null and next_start <= STOP + interval 6 hours and next_org <> ORGANIZATION)
)
select count(*) as index_stays, count(*) filter (where next_start <= STOP + interval 30 days) as readmissions,
       count(*) filter (where next_start <= STOP + interval 30 days) / count(*) as readmission_rate
from index_stays
"""''',
    ),
    alternatives=(
        '''readmission_sql = """
with s as (
    select e.*, p.DEATHDATE from encounters e join patients p on p.Id = e.PATIENT
    where ENCOUNTERCLASS = 'inpatient'
),
x as (
    select a.Id,
           (select min(b.START) from s b where b.PATIENT = a.PATIENT and b.START >= a.STOP) as next_start,
           exists (select 1 from s b where b.PATIENT = a.PATIENT and b.START >= a.STOP
                   and b.START <= a.STOP + interval 6 hours and b.ORGANIZATION <> a.ORGANIZATION) as transferred,
           a.STOP
    from s a
    where a.STOP < date '2025-12-01' and (a.DEATHDATE is null or a.DEATHDATE != a.STOP::date)
)
select count(*) as index_stays, sum(case when next_start - STOP <= interval 30 days then 1 else 0 end) as readmissions,
       round(avg(case when next_start - STOP <= interval 30 days then 1.0 else 0.0 end), 4)::double as readmission_rate
from x where not transferred
"""''',
    ),
)


# -- Q9 polypharmacy -----------------------------------------------------------------------------------------


def _polypharmacy(meds: pd.DataFrame | None = None, patients: pd.DataFrame | None = None) -> list[tuple]:
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


_MED_COLUMNS = {
    "medications": ("PATIENT", "CODE", "START", "STOP"),
    "patients": ("Id", "BIRTHDATE", "DEATHDATE"),
}
_MEDS = {
    "a drug that stops one second after 2025-07-01 00:00 and one that starts at that instant (both active)": (
        ("m1", None),
        (
            *(("m1", c, "2025-01-01 00:00:00", None) for c in ("a", "b", "c")),
            ("m1", "d", "2025-06-30 00:00:00", "2025-07-01 00:00:01"),
            ("m1", "e", "2025-07-01 00:00:00", None),
        ),
    ),
    "a drug stopped at 2025-07-01 00:00 exactly (no longer active)": (
        ("m2", None),
        (
            *(("m2", c, "2025-01-01 00:00:00", None) for c in ("a", "b", "c", "d")),
            ("m2", "e", "2025-01-01 00:00:00", "2025-07-01 00:00:00"),
        ),
    ),
    "the same drug prescribed twice and a drug that starts one second too late": (
        ("m3", None),
        (
            *(("m3", c, "2025-01-01 00:00:00", None) for c in ("a", "b", "c", "d")),
            ("m3", "a", "2025-03-01 00:00:00", None),
            ("m3", "e", "2025-07-01 00:00:01", None),
        ),
    ),
    "a patient who died before 2025-07-01": (
        ("m4", "2025-06-15"),
        tuple(("m4", c, "2025-01-01 00:00:00", None) for c in ("a", "b", "c", "d", "e")),
    ),
    "a patient who died on 2025-07-01": (
        ("m5", "2025-07-01"),
        tuple(("m5", c, "2025-01-01 00:00:00", None) for c in ("a", "b", "c", "d", "e")),
    ),
}


def _med_scenario(what: str, cases) -> Scenario:
    patients = tuple((pid, "1950-01-01", died) for (pid, died), _meds in cases)
    meds = tuple(m for _patient, rows in cases for m in rows)
    return Scenario(what, {"medications": meds, "patients": patients}, _MED_COLUMNS)


_POLYPHARMACY_SCENARIOS = (
    *(_med_scenario(what, [case]) for what, case in _MEDS.items()),
    _med_scenario("all of those patients together", list(_MEDS.values())),
)
POLYPHARMACY_COLUMNS = ("PATIENT", "active_medications")
q9 = sql_question(
    grade_id="lab02_polypharmacy",
    title="Q9 polypharmacy on 2025-07-01",
    points=3,
    variable="polypharmacy_sql",
    columns=POLYPHARMACY_COLUMNS,
    reference=lambda: _polypharmacy(),
    scenarios=_POLYPHARMACY_SCENARIOS,
    on_scenario=lambda frames: _polypharmacy(frames["medications"], frames["patients"]),
    hints=(
        "Active at an instant t: START <= t and (STOP is null or STOP > t). A null STOP means still taking it.",
        "Count distinct RxNorm CODEs per patient (the same drug prescribed twice is one medication) and keep "
        "counts of 5 or more with HAVING.",
        "Leave out patients who died before 2025-07-01: their records are closed.",
    ),
    solution='''polypharmacy_sql = """
select m.PATIENT, count(distinct m.CODE) as active_medications
from medications m
join patients p on p.Id = m.PATIENT
where m.START <= timestamp '2025-07-01 00:00:00'
  and (m.STOP is null or m.STOP > timestamp '2025-07-01 00:00:00')
  and (p.DEATHDATE is null or p.DEATHDATE >= date '2025-07-01')
group by m.PATIENT
having count(distinct m.CODE) >= 5
"""''',
    wrong=(
        '''polypharmacy_sql = """
select m.PATIENT, count(distinct m.CODE) as active_medications
from medications m join patients p on p.Id = m.PATIENT
where m.START <= timestamp '2025-07-01' and m.STOP > timestamp '2025-07-01'
  and (p.DEATHDATE is null or p.DEATHDATE >= date '2025-07-01')
group by m.PATIENT having count(distinct m.CODE) >= 5
"""''',
    ),
    alternatives=(
        '''polypharmacy_sql = """
select PATIENT, count(distinct CODE) as active_medications
from medications
where timestamp '2025-07-01' >= START and timestamp '2025-07-01' < coalesce(STOP, timestamp '9999-12-31')
  and PATIENT not in (select Id from patients where DEATHDATE < date '2025-07-01')
group by all having count(distinct CODE) > 4
"""''',
    ),
)


# -- Q10 Charlson comorbidity index --------------------------------------------------------------------------


def _charlson() -> list[tuple]:
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


_CHARLSON_SETUP = (
    "from hitlab.checks.lab02 import charlson_sql, icd10_map_sql\n\n"
    "ICD10_MAP, CHARLSON = icd10_map_sql(), charlson_sql()\n"
)

q10 = sql_question(
    grade_id="lab02_charlson",
    title="Q10 Charlson comorbidity index",
    points=4,
    variable="charlson_index_sql",
    columns=("PATIENT", "charlson"),
    reference=_charlson,
    hints=(
        "Three joins: conditions → icd10_map (on the SNOMED CT code) → charlson (the ICD-10 code starts with "
        "the PREFIX: ICD10 like PREFIX || '%', or starts_with(ICD10, PREFIX)).",
        "Each category counts once per patient, however many codes or rows point to it: COPD, asthma and a COPD "
        "exacerbation are all one 'chronic pulmonary disease' (weight 1). Take distinct patient-category pairs "
        "before summing the weights.",
        "Only living patients (DEATHDATE is null), and only those with a score of at least 1.",
    ),
    solution=_CHARLSON_SETUP
    + '''charlson_index_sql = f"""
with coded as (
    select distinct c.PATIENT, charlson.CATEGORY, charlson.WEIGHT
    from conditions c
    join patients p on p.Id = c.PATIENT and p.DEATHDATE is null
    join {ICD10_MAP} on icd10_map.SNOMED = c.CODE
    join {CHARLSON} on icd10_map.ICD10 like charlson.PREFIX || '%'
)
select PATIENT, sum(WEIGHT) as charlson
from coded
group by PATIENT
"""''',
    wrong=(
        _CHARLSON_SETUP
        + '''charlson_index_sql = f"""
select c.PATIENT, sum(charlson.WEIGHT) as charlson
from conditions c
join patients p on p.Id = c.PATIENT and p.DEATHDATE is null
join {ICD10_MAP} on icd10_map.SNOMED = c.CODE
join {CHARLSON} on icd10_map.ICD10 like charlson.PREFIX || '%'
group by c.PATIENT
"""''',
    ),
    alternatives=(
        _CHARLSON_SETUP
        + '''charlson_index_sql = f"""
with cats as (
    select c.PATIENT, charlson.CATEGORY, max(charlson.WEIGHT) as w
    from conditions c, {ICD10_MAP}, {CHARLSON}
    where icd10_map.SNOMED = c.CODE and starts_with(icd10_map.ICD10, charlson.PREFIX)
      and c.PATIENT in (select Id from patients where DEATHDATE is null)
    group by all
)
select PATIENT, sum(w) as charlson from cats group by PATIENT having sum(w) >= 1
"""''',
    ),
)


# -- Q11 telehealth share per year ---------------------------------------------------------------------------


def _telehealth() -> list[tuple]:
    enc = table("encounters")
    out = []
    for year, g in sorted(enc.groupby(enc["START"].dt.year)):
        virtual = int((g["ENCOUNTERCLASS"] == "virtual").sum())
        out.append((int(year), len(g), virtual, virtual / len(g)))
    return out


q11 = sql_question(
    grade_id="lab02_telehealth_share",
    title="Q11 telehealth share per year",
    points=2,
    variable="telehealth_sql",
    columns=("year", "encounters", "virtual", "virtual_share"),
    reference=_telehealth,
    ordered=True,
    rel=1e-3,
    hints=(
        "One row per year(START); count all encounters and, with a FILTER clause or a CASE, the virtual ones.",
        "Divide as a fraction: DuckDB's / gives a double, but // (and / in PostgreSQL or SQL Server on integers) "
        "truncates to 0. ORDER BY year.",
    ),
    solution='''telehealth_sql = """
select year(START) as year,
       count(*) as encounters,
       count(*) filter (where ENCOUNTERCLASS = 'virtual') as virtual,
       count(*) filter (where ENCOUNTERCLASS = 'virtual') / count(*) as virtual_share
from encounters
group by year(START)
order by year
"""''',
    wrong=(
        '''telehealth_sql = """
select year(START) as year, count(*) as encounters,
       count(*) filter (where ENCOUNTERCLASS = 'virtual') as virtual,
       count(*) filter (where ENCOUNTERCLASS = 'virtual') // count(*) as virtual_share
from encounters group by year(START) order by year
"""''',
    ),
    alternatives=(
        '''telehealth_sql = """
select year(START) as year, count(*) as encounters, sum(case when ENCOUNTERCLASS = 'virtual' then 1 else 0 end) as virtual,
       avg(case when ENCOUNTERCLASS = 'virtual' then 1.0 else 0 end)::double as virtual_share
from encounters group by 1 order by 1
"""''',
    ),
)

QUESTIONS = (q1, q2, q3, q4, q5, q6, q7, q8, q9, q10, q11)
