"""Lab 02's answer sources: each question's worked solution (the notebook's solution cell), other correct
answers, and known-wrong answers that must lose exactly that question's points. Left out of an exam release."""

from __future__ import annotations

# -- Q1 age at encounter -------------------------------------------------------------------------------------

AGE = '''age_at_encounter_sql = """
select e.Id,
       year(e.START) - year(p.BIRTHDATE)
         - case when strftime(e.START, '%m%d') < strftime(p.BIRTHDATE, '%m%d') then 1 else 0 end as age
from encounters e
join patients p on p.Id = e.PATIENT
where e.START >= timestamp '2025-01-01' and e.START < timestamp '2026-01-01'
"""'''
AGE_WRONG = (
    'age_at_encounter_sql = """select e.Id, date_diff(\'year\', p.BIRTHDATE, e.START) as age\n'
    'from encounters e join patients p on p.Id = e.PATIENT where year(e.START) = 2025"""',
)
AGE_ALTERNATIVE = (
    'age_at_encounter_sql = """select e.Id, date_sub(\'year\', p.BIRTHDATE, cast(e.START as date)) as age\n'
    'from encounters e join patients p on p.Id = e.PATIENT where year(e.START) = 2025"""',
)

# -- Q2 encounters by class per year -------------------------------------------------------------------------

CLASS_YEAR = '''encounters_by_class_year_sql = """
select ENCOUNTERCLASS, year(START) as year, count(*) as encounters
from encounters
group by ENCOUNTERCLASS, year(START)
"""'''
CLASS_YEAR_WRONG = (
    'encounters_by_class_year_sql = "select ENCOUNTERCLASS, year(START) as year, count(distinct PATIENT) '
    'as encounters from encounters group by all"',
)
CLASS_YEAR_ALTERNATIVE = (
    "encounters_by_class_year_sql = \"select ENCOUNTERCLASS, date_part('year', START) as year, count(Id) as encounters "
    'from encounters group by all order by 2, 1"',
)

# -- Q3 latest HbA1c and change ------------------------------------------------------------------------------

LATEST_HBA1C = '''latest_hba1c_sql = """
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
"""'''
LATEST_HBA1C_WRONG = (
    '''latest_hba1c_sql = """
with a1c as (
    select PATIENT, cast(VALUE as double) as value,
           lag(cast(VALUE as double)) over (partition by PATIENT order by DATE) as prior_value,
           row_number() over (partition by PATIENT order by DATE) as rn
    from observations where CODE = '4548-4'
)
select PATIENT, value as latest_value, prior_value, value - prior_value as change from a1c where rn = 1
"""''',
)
LATEST_HBA1C_ALTERNATIVE = (
    '''latest_hba1c_sql = """
select PATIENT,
       arg_max(cast(VALUE as double), DATE) as latest_value,
       (list(cast(VALUE as double) order by DATE desc))[2] as prior_value,
       latest_value - prior_value as change
from observations where CODE = '4548-4'
group by PATIENT
"""''',
)

# -- Q4 HbA1c out-of-range flag ------------------------------------------------------------------------------

HBA1C_FLAG = '''hba1c_flag_sql = """
with latest as (
    select PATIENT, arg_max(cast(VALUE as double), DATE) as latest_value
    from observations
    where CODE = '4548-4' and TYPE = 'numeric'
    group by PATIENT
)
select PATIENT, latest_value,
       case when latest_value > 5.6 then 'H' when latest_value < 4.0 then 'L' else 'N' end as flag
from latest
"""'''
HBA1C_FLAG_WRONG = (
    '''hba1c_flag_sql = """
with latest as (
    select PATIENT, arg_max(cast(VALUE as double), DATE) as latest_value
    from observations where CODE = '4548-4' group by PATIENT
)
select PATIENT, latest_value,
       case when latest_value >= 5.6 then 'H' when latest_value <= 4.0 then 'L' else 'N' end as flag
from latest
"""''',
)
HBA1C_FLAG_ALTERNATIVE = (
    '''hba1c_flag_sql = """
select PATIENT, cast(VALUE as double) as latest_value,
       case when cast(VALUE as double) between 4.0 and 5.6 then 'N'
            when cast(VALUE as double) > 5.6 then 'H' else 'L' end as flag
from observations
where CODE = '4548-4'
qualify row_number() over (partition by PATIENT order by DATE desc) = 1
"""''',
)

# -- Q5 length of stay by class ------------------------------------------------------------------------------

LENGTH_OF_STAY = '''length_of_stay_sql = """
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
"""'''
LENGTH_OF_STAY_WRONG = (
    '''length_of_stay_sql = """
select ENCOUNTERCLASS, count(*) as encounters, avg(date_diff('hour', START, STOP)) as avg_los_hours,
       sum(date_diff('hour', START, STOP)) as occupied_hours
from encounters group by ENCOUNTERCLASS
"""''',
)
LENGTH_OF_STAY_ALTERNATIVE = (
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
)

# -- Q6 diabetics without a recent HbA1c ---------------------------------------------------------------------

CARE_GAP = '''care_gap_sql = """
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
CARE_GAP_WRONG = (
    CARE_GAP.replace("select distinct c.PATIENT", "select c.PATIENT"),  # duplicates
    '''care_gap_sql = """
select distinct c.PATIENT from conditions c
where c.CODE = '44054006'
  and c.PATIENT not in (select PATIENT from observations
                        where CODE = '4548-4' and DATE >= timestamp '2025-01-01')
"""''',
)
CARE_GAP_ALTERNATIVE = (
    '''care_gap_sql = """
select p.Id as PATIENT from patients p
where p.DEATHDATE is null
  and p.Id in (select PATIENT from conditions where CODE = '44054006')
except
select PATIENT from observations where CODE = '4548-4' and DATE >= date '2025-01-01'
"""''',
)

# -- Q7 controlling high blood pressure ----------------------------------------------------------------------


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


CONTROLLING_BP = _cbp_sql()
CONTROLLING_BP_WRONG = (_cbp_sql(op="<="), _cbp_sql(exclusions=False))
CONTROLLING_BP_ALTERNATIVE = (
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
)

# -- Q8 30-day readmission rate ------------------------------------------------------------------------------

READMISSION = '''readmission_sql = """
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
"""'''
READMISSION_WRONG = (
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
)
READMISSION_ALTERNATIVE = (
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
)

# -- Q9 polypharmacy on 2025-07-01 ---------------------------------------------------------------------------

POLYPHARMACY = '''polypharmacy_sql = """
select m.PATIENT, count(distinct m.CODE) as active_medications
from medications m
join patients p on p.Id = m.PATIENT
where m.START <= timestamp '2025-07-01 00:00:00'
  and (m.STOP is null or m.STOP > timestamp '2025-07-01 00:00:00')
  and (p.DEATHDATE is null or p.DEATHDATE >= date '2025-07-01')
group by m.PATIENT
having count(distinct m.CODE) >= 5
"""'''
POLYPHARMACY_WRONG = (
    '''polypharmacy_sql = """
select m.PATIENT, count(distinct m.CODE) as active_medications
from medications m join patients p on p.Id = m.PATIENT
where m.START <= timestamp '2025-07-01' and m.STOP > timestamp '2025-07-01'
  and (p.DEATHDATE is null or p.DEATHDATE >= date '2025-07-01')
group by m.PATIENT having count(distinct m.CODE) >= 5
"""''',
)
POLYPHARMACY_ALTERNATIVE = (
    '''polypharmacy_sql = """
select PATIENT, count(distinct CODE) as active_medications
from medications
where timestamp '2025-07-01' >= START and timestamp '2025-07-01' < coalesce(STOP, timestamp '9999-12-31')
  and PATIENT not in (select Id from patients where DEATHDATE < date '2025-07-01')
group by all having count(distinct CODE) > 4
"""''',
)

# -- Q10 Charlson comorbidity index --------------------------------------------------------------------------

_CHARLSON_SETUP = (
    "from hitlab.checks.lab02 import charlson_sql, icd10_map_sql\n\n"
    "ICD10_MAP, CHARLSON = icd10_map_sql(), charlson_sql()\n"
)

CHARLSON_INDEX = (
    _CHARLSON_SETUP
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
"""'''
)
CHARLSON_INDEX_WRONG = (
    _CHARLSON_SETUP
    + '''charlson_index_sql = f"""
select c.PATIENT, sum(charlson.WEIGHT) as charlson
from conditions c
join patients p on p.Id = c.PATIENT and p.DEATHDATE is null
join {ICD10_MAP} on icd10_map.SNOMED = c.CODE
join {CHARLSON} on icd10_map.ICD10 like charlson.PREFIX || '%'
group by c.PATIENT
"""''',
)
CHARLSON_INDEX_ALTERNATIVE = (
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
)

# -- Q11 telehealth share per year ---------------------------------------------------------------------------

TELEHEALTH = '''telehealth_sql = """
select year(START) as year,
       count(*) as encounters,
       count(*) filter (where ENCOUNTERCLASS = 'virtual') as virtual,
       count(*) filter (where ENCOUNTERCLASS = 'virtual') / count(*) as virtual_share
from encounters
group by year(START)
order by year
"""'''
TELEHEALTH_WRONG = (
    '''telehealth_sql = """
select year(START) as year, count(*) as encounters,
       count(*) filter (where ENCOUNTERCLASS = 'virtual') as virtual,
       count(*) filter (where ENCOUNTERCLASS = 'virtual') // count(*) as virtual_share
from encounters group by year(START) order by year
"""''',
)
TELEHEALTH_ALTERNATIVE = (
    '''telehealth_sql = """
select year(START) as year, count(*) as encounters, sum(case when ENCOUNTERCLASS = 'virtual' then 1 else 0 end) as virtual,
       avg(case when ENCOUNTERCLASS = 'virtual' then 1.0 else 0 end)::double as virtual_share
from encounters group by 1 order by 1
"""''',
)
