"""Lab 08's answer sources: each question's worked solution (the notebook's solution cell), other correct
answers, and known-wrong answers that must lose exactly that question's points. Left out of an exam release."""

from __future__ import annotations


def _swap(code: str, old: str, new: str) -> str:
    """``code`` with ``old`` replaced; an answer built from a replacement that does not apply is a bug."""
    if old not in code:
        raise AssertionError(f"answers: {old!r} is not in the solution")
    return code.replace(old, new)


# -- Q1 star schema -------------------------------------------------------------------------------------------

STAR = '''### BEGIN SOLUTION
STAR_SQL = """
create or replace table dim_provider as
select row_number() over (order by Id) as provider_key, Id as provider_id, NAME as name,
       SPECIALITY as speciality, ORGANIZATION as organization
from providers;

create or replace table dim_patient as
with known as (
    select Id, GENDER, BIRTHDATE, CITY, ZIP, false as is_inferred from patients
    union all  -- a fact whose patient is not there yet: an inferred member, filled in when the patient arrives
    select distinct PATIENT, null, null, null, null, true from encounters
    where PATIENT not in (select Id from patients)
)
select row_number() over (order by Id) as patient_key, Id as patient_id, GENDER as gender,
       cast(BIRTHDATE as date) as birthdate, CITY as city, ZIP as zip, DATE '1900-01-01' as valid_from,
       cast(null as date) as valid_to, true as is_current, is_inferred
from known;

create or replace table dim_date as
select cast(strftime(d, '%Y%m%d') as integer) as date_key, cast(d as date) as full_date, year(d) as year,
       quarter(d) as quarter, month(d) as month, isodow(d) as day_of_week
from range((select make_timestamp(min(year(START)), 1, 1, 0, 0, 0) from encounters),
           (select make_timestamp(max(year(START)) + 1, 1, 1, 0, 0, 0) from encounters),
           interval 1 day) as t(d);

create or replace table fact_encounter as
select e.Id as encounter_id, p.patient_key, v.provider_key,
       cast(strftime(e.START, '%Y%m%d') as integer) as date_key, e.ENCOUNTERCLASS as encounter_class,
       e.TOTAL_CLAIM_COST as total_claim_cost, e.PAYER_COVERAGE as payer_coverage
from encounters e
join dim_patient p
  on p.patient_id = e.PATIENT
 and p.valid_from <= cast(e.START as date) and (p.valid_to is null or cast(e.START as date) < p.valid_to)
left join dim_provider v on v.provider_id = e.PROVIDER;

create or replace table bridge_diagnosis as
select ENCOUNTER as encounter_id, CODE as code, 1.0 / count(*) over (partition by ENCOUNTER) as weight
from (select distinct ENCOUNTER, CODE from conditions)
where ENCOUNTER in (select encounter_id from fact_encounter);
"""


def build_star(con):
    con.execute(STAR_SQL)  # create or replace throughout: run it twice, get the same tables
### END SOLUTION'''

STAR_ALTERNATIVE = _swap(
    _swap(STAR, "row_number() over (order by Id) as patient_key", "hash(Id) % 1000000007 as patient_key"),
    "select ENCOUNTER as encounter_id, CODE as code, 1.0 / count(*) over (partition by ENCOUNTER) as weight\n"
    "from (select distinct ENCOUNTER, CODE from conditions)\n",
    "select d.ENCOUNTER as encounter_id, d.CODE as code, 1.0 / n.codes as weight\n"
    "from (select distinct ENCOUNTER, CODE from conditions) d\n"
    "join (select ENCOUNTER, count(distinct CODE) as codes from conditions group by ENCOUNTER) n using (ENCOUNTER)\n",
).replace(
    'where ENCOUNTER in (select encounter_id from fact_encounter);\n"""',
    'where d.ENCOUNTER in (select encounter_id from fact_encounter);\n"""',
)

STAR_WRONG = (
    # appends instead of replacing: a second run doubles the facts
    _swap(
        STAR,
        "create or replace table fact_encounter as\nselect",
        "create table if not exists fact_encounter as\nselect * from (select",
    ).replace(
        "left join dim_provider v on v.provider_id = e.PROVIDER;",
        "left join dim_provider v on v.provider_id = e.PROVIDER) limit 0;\n"
        "insert into fact_encounter\nselect e.Id, p.patient_key, v.provider_key, "
        "cast(strftime(e.START, '%Y%m%d') as integer), e.ENCOUNTERCLASS, e.TOTAL_CLAIM_COST, e.PAYER_COVERAGE\n"
        "from encounters e join dim_patient p on p.patient_id = e.PATIENT "
        "left join dim_provider v on v.provider_id = e.PROVIDER;",
    ),
    # counts every condition row in the weight: a diagnosis recorded twice outweighs the others
    _swap(
        STAR,
        "from (select distinct ENCOUNTER, CODE from conditions)",
        "from (select ENCOUNTER, CODE from conditions)",
    ),
)

# -- Q2 incremental batch -------------------------------------------------------------------------------------

BATCH = '''### BEGIN SOLUTION
def load_batch(con, batch, as_of):
    for name in ("patients", "encounters", "conditions"):
        con.register(f"b_{name}", batch[name])
    day = f"DATE '{as_of.isoformat()}'"
    next_key = "(select coalesce(max(patient_key), 0) from dim_patient)"
    con.execute(f"""
    -- 1. patients never seen: a first version, valid since ever
    insert into dim_patient
    select {next_key} + row_number() over (order by Id), Id, GENDER, cast(BIRTHDATE as date), CITY, ZIP,
           DATE '1900-01-01', null, true, false
    from b_patients where Id not in (select patient_id from dim_patient);

    -- 2. an inferred member's patient arrives: fill the placeholder in place (its facts keep their key)
    update dim_patient d set gender = b.GENDER, birthdate = cast(b.BIRTHDATE as date), city = b.CITY,
           zip = b.ZIP, is_inferred = false
    from b_patients b where d.patient_id = b.Id and d.is_inferred;

    -- 3. type 1 (gender, birth date): a correction, true of every version
    update dim_patient d set gender = b.GENDER, birthdate = cast(b.BIRTHDATE as date)
    from b_patients b where d.patient_id = b.Id;

    -- 4. type 2 (city, ZIP): close the current version on as_of and open a new one
    create or replace temp table moved as
    select b.* from b_patients b join dim_patient d on d.patient_id = b.Id and d.is_current
    where d.city is distinct from b.CITY or d.zip is distinct from b.ZIP;
    update dim_patient set valid_to = {day}, is_current = false
    where is_current and patient_id in (select Id from moved);
    insert into dim_patient
    select {next_key} + row_number() over (order by Id), Id, GENDER, cast(BIRTHDATE as date), CITY, ZIP,
           {day}, null, true, false
    from moved;

    -- 5. facts about patients not known yet: inferred members
    insert into dim_patient
    select {next_key} + row_number() over (order by PATIENT), PATIENT, null, null, null, null,
           DATE '1900-01-01', null, true, true
    from (select distinct PATIENT from b_encounters where PATIENT not in (select patient_id from dim_patient));

    -- 6. upsert the facts: an encounter sent again replaces its row
    delete from fact_encounter where encounter_id in (select Id from b_encounters);
    insert into fact_encounter
    select e.Id, p.patient_key, v.provider_key, cast(strftime(e.START, '%Y%m%d') as integer),
           e.ENCOUNTERCLASS, e.TOTAL_CLAIM_COST, e.PAYER_COVERAGE
    from b_encounters e
    join dim_patient p on p.patient_id = e.PATIENT
     and p.valid_from <= cast(e.START as date) and (p.valid_to is null or cast(e.START as date) < p.valid_to)
    left join dim_provider v on v.provider_id = e.PROVIDER;

    -- 7. every fact points at the version valid on its day (a move may postdate facts already loaded)
    update fact_encounter f set patient_key = p2.patient_key
    from dim_patient p1, dim_patient p2
    where p1.patient_key = f.patient_key and p2.patient_id = p1.patient_id
      and p2.valid_from <= cast(strptime(cast(f.date_key as varchar), '%Y%m%d') as date)
      and (p2.valid_to is null or cast(strptime(cast(f.date_key as varchar), '%Y%m%d') as date) < p2.valid_to);

    -- 8. the batch's diagnoses replace those of its encounters
    delete from bridge_diagnosis where encounter_id in (select ENCOUNTER from b_conditions);
    insert into bridge_diagnosis
    select ENCOUNTER, CODE, 1.0 / count(*) over (partition by ENCOUNTER)
    from (select distinct ENCOUNTER, CODE from b_conditions)
    where ENCOUNTER in (select encounter_id from fact_encounter);

    -- 9. the calendar covers every year with a fact
    create or replace table dim_date as
    select cast(strftime(d, '%Y%m%d') as integer) as date_key, cast(d as date) as full_date, year(d) as year,
           quarter(d) as quarter, month(d) as month, isodow(d) as day_of_week
    from range((select make_timestamp(min(date_key) // 10000, 1, 1, 0, 0, 0) from fact_encounter),
               (select make_timestamp(max(date_key) // 10000 + 1, 1, 1, 0, 0, 0) from fact_encounter),
               interval 1 day) as t(d);
    """)
    for name in ("patients", "encounters", "conditions"):
        con.unregister(f"b_{name}")
### END SOLUTION'''

BATCH_ALTERNATIVE = _swap(
    BATCH,
    "    -- 4. type 2",
    "    -- (an extra no-op: deleting nothing is still idempotent)\n"
    "    delete from dim_patient where patient_id is null;\n\n    -- 4. type 2",
)

BATCH_WRONG = (
    # type 1 for the address too: the history is overwritten, old facts now show the new city
    _swap(
        BATCH,
        "where d.city is distinct from b.CITY or d.zip is distinct from b.ZIP;",
        "where false;\n    update dim_patient d set city = b.CITY, zip = b.ZIP from b_patients b where d.patient_id = b.Id;",
    ),
    # appends the facts without deleting: an encounter sent again is counted twice
    _swap(BATCH, "    delete from fact_encounter where encounter_id in (select Id from b_encounters);\n", ""),
    # late-arriving facts linked to the current version instead of the one valid on their day, never re-keyed
    _swap(
        BATCH[: BATCH.index("    -- 7.")] + BATCH[BATCH.index("    -- 8.") :],
        "     and p.valid_from <= cast(e.START as date) and (p.valid_to is null or cast(e.START as date) < p.valid_to)\n"
        "    left join dim_provider",
        "     and p.is_current\n    left join dim_provider",
    ),
)

# -- Q3 SCD types ---------------------------------------------------------------------------------------------

SCD = """### BEGIN SOLUTION
scd_types = {"address": "B", "birthdate_typo": "A", "payer_plan": "B", "preferred_name": "A"}
### END SOLUTION"""
SCD_ALTERNATIVE = (
    'scd_types = {"address": "b", "birthdate_typo": " a ", "payer_plan": "B", "preferred_name": "A"}'
)
SCD_WRONG = ('scd_types = {"address": "A", "birthdate_typo": "A", "payer_plan": "B", "preferred_name": "A"}',)

# -- Q4 visit_occurrence --------------------------------------------------------------------------------------

VISITS = '''### BEGIN SOLUTION
visit_sql = """
with enc as (
    select Id, PATIENT, START, STOP, ENCOUNTERCLASS as cls from encounters
),
ip as (  -- a stay opens when an inpatient encounter starts more than 1 day after every earlier one ended
    select *, coalesce(START > max(STOP) over w + interval 1 day, true) as opens
    from enc where cls = 'inpatient'
    window w as (partition by PATIENT order by START, STOP, Id rows between unbounded preceding and 1 preceding)
),
ip_n as (
    select *, sum(case when opens then 1 else 0 end) over (partition by PATIENT order by START, STOP, Id) as stay_no
    from ip
),
stays as (
    select PATIENT, stay_no, min(START) as s_start, max(STOP) as s_end from ip_n group by PATIENT, stay_no
),
in_stay as (  -- the encounters each stay takes in
    select Id, PATIENT, stay_no, START, false as erip from ip_n
    union all
    select e.Id, e.PATIENT, s.stay_no, e.START, e.START < s.s_start as erip
    from enc e
    join stays s on s.PATIENT = e.PATIENT
    where (e.cls in ('emergency', 'urgentcare')
           and ((e.START < s.s_start and e.STOP >= s.s_start)        -- the ER visit that led to the admission
                or (e.START > s.s_start and e.START <= s.s_end)))    -- an ER encounter during the stay
       or (e.cls in ('ambulatory', 'wellness', 'outpatient') and e.START between s.s_start and s.s_end)
),
rest as (
    select * from enc
    where cls in ('emergency', 'urgentcare', 'ambulatory', 'wellness', 'outpatient')
      and Id not in (select Id from in_stay)
)
select min(i.Id) as visit_source_value, i.PATIENT as person_id,
       case when bool_or(i.erip) then 262 else 9201 end as visit_concept_id,
       min(i.START) as visit_start_datetime, max(s.s_end) as visit_end_datetime
from in_stay i join stays s using (PATIENT, stay_no)
group by i.PATIENT, i.stay_no
union all
select min(Id), PATIENT, 9203, min(START), max(STOP)
from rest where cls in ('emergency', 'urgentcare')
group by PATIENT, cls, cast(START as date)
union all
select min(Id), PATIENT, 9202, min(START), max(STOP)
from rest where cls in ('ambulatory', 'wellness', 'outpatient')
group by PATIENT, cls, START
"""
### END SOLUTION'''

VISITS_ALTERNATIVE = _swap(
    VISITS,
    "coalesce(START > max(STOP) over w + interval 1 day, true) as opens",
    "START > coalesce(max(STOP) over w, TIMESTAMP '1800-01-01') + interval 24 hours as opens",
)

VISITS_WRONG = (
    # ETL-Synthea's visit concept by class alone: the ER-to-inpatient visit stays 9201, and its ER is separate
    _swap(VISITS, "(e.START < s.s_start and e.STOP >= s.s_start)", "false"),
    # merges inpatient encounters only when they overlap, not within a day
    _swap(VISITS, "max(STOP) over w + interval 1 day", "max(STOP) over w"),
    # keeps virtual encounters as outpatient visits
    _swap(
        VISITS,
        "from rest where cls in ('ambulatory', 'wellness', 'outpatient')",
        "from rest where cls in ('ambulatory', 'wellness', 'outpatient', 'virtual')",
    ).replace(
        "where cls in ('emergency', 'urgentcare', 'ambulatory', 'wellness', 'outpatient')\n",
        "where cls in ('emergency', 'urgentcare', 'ambulatory', 'wellness', 'outpatient', 'virtual')\n",
    ),
)

# -- Q5 observation_period ------------------------------------------------------------------------------------

OBSERVATION = '''### BEGIN SOLUTION
observation_sql = """
select PATIENT as person_id,
       cast(min(START) as date) as observation_period_start_date,
       cast(max(STOP) as date) as observation_period_end_date,   -- the last encounter's end, not its start
       32882 as period_type_concept_id
from encounters
group by PATIENT
"""
### END SOLUTION'''
OBSERVATION_ALTERNATIVE = '''observation_sql = """
select distinct PATIENT as person_id,
       cast(min(START) over (partition by PATIENT) as date) as observation_period_start_date,
       cast(max(STOP) over (partition by PATIENT) as date) as observation_period_end_date,
       32882 as period_type_concept_id
from encounters
"""'''
OBSERVATION_WRONG = (_swap(OBSERVATION, "cast(max(STOP) as date)", "cast(max(START) as date)"),)

# -- Q6 new-user cohort ---------------------------------------------------------------------------------------

COHORT = '''### BEGIN SOLUTION
cohort_sql = """
with first_use as (  -- new users: the first exposure ever seen is the index
    select PATIENT, cast(min(START) as date) as index_date
    from medications
    where CODE = '860975'
    group by PATIENT
)
select f.PATIENT as person_id, f.index_date
from first_use f
join patients p on p.Id = f.PATIENT
join observation_period o
  on o.person_id = f.PATIENT
 and f.index_date between o.observation_period_start_date and o.observation_period_end_date
 and o.observation_period_start_date <= f.index_date - interval 365 days  -- a year seen before: truly new
where p.BIRTHDATE + interval 18 years <= f.index_date
"""
### END SOLUTION'''
COHORT_ALTERNATIVE = '''cohort_sql = """
select m.PATIENT as person_id, cast(m.START as date) as index_date
from medications m
join patients p on p.Id = m.PATIENT
where m.CODE = '860975'
  and not exists (select 1 from medications e where e.PATIENT = m.PATIENT and e.CODE = m.CODE and e.START < m.START)
  and date_sub('year', p.BIRTHDATE, cast(m.START as date)) >= 18
  and exists (
      select 1 from observation_period o
      where o.person_id = m.PATIENT
        and cast(m.START as date) between o.observation_period_start_date and o.observation_period_end_date
        and date_diff('day', o.observation_period_start_date, cast(m.START as date)) >= 365)
"""'''
COHORT_WRONG = (
    # any exposure with a year of history, not the first: prevalent users slip in
    _swap(
        COHORT,
        "select PATIENT, cast(min(START) as date) as index_date",
        "select PATIENT, cast(START as date) as index_date",
    ).replace("    where CODE = '860975'\n    group by PATIENT\n", "    where CODE = '860975'\n"),
    # prior observation counted from any period, not the one holding the index date
    _swap(
        COHORT,
        " and f.index_date between o.observation_period_start_date and o.observation_period_end_date\n",
        "",
    ),
)

# -- Q7 prevalence --------------------------------------------------------------------------------------------

PREVALENCE = '''### BEGIN SOLUTION
prevalence_sql = """
with pop as (  -- alive on the day, born by then
    select Id, GENDER, date_sub('year', BIRTHDATE, DATE '2025-07-01') as age
    from patients
    where BIRTHDATE <= DATE '2025-07-01' and (DEATHDATE is null or DEATHDATE > DATE '2025-07-01')
),
banded as (
    select *, case when age < 18 then '0-17' when age < 45 then '18-44' when age < 65 then '45-64' else '65+' end
              as age_band
    from pop
),
cases as (  -- hypertension active on the day
    select distinct PATIENT from conditions
    where CODE = '59621000' and START <= DATE '2025-07-01' and (STOP is null or STOP > DATE '2025-07-01')
)
select b.age_band, b.GENDER as gender, count(*) as population, count(c.PATIENT) as cases,
       1000.0 * count(c.PATIENT) / count(*) as prevalence_per_1000
from banded b
left join cases c on c.PATIENT = b.Id
group by b.age_band, b.GENDER
"""
### END SOLUTION'''
PREVALENCE_ALTERNATIVE = _swap(
    PREVALENCE,
    "date_sub('year', BIRTHDATE, DATE '2025-07-01') as age",
    "year(DATE '2025-07-01') - year(BIRTHDATE) - case when strftime(BIRTHDATE, '%m%d') > '0701' then 1 else 0 end as age",
)
PREVALENCE_WRONG = (
    # counts everyone ever in the table, the dead included
    _swap(PREVALENCE, " and (DEATHDATE is null or DEATHDATE > DATE '2025-07-01')\n", "\n"),
    # age from the years alone: a birthday later in the year is counted early
    _swap(
        PREVALENCE, "date_sub('year', BIRTHDATE, DATE '2025-07-01') as age", "2025 - year(BIRTHDATE) as age"
    ),
)

# -- Q8 risk tiers --------------------------------------------------------------------------------------------

RISK = '''### BEGIN SOLUTION
risk_sql = """
with pop as (
    select Id from patients
    where BIRTHDATE <= DATE '2025-07-01' and (DEATHDATE is null or DEATHDATE > DATE '2025-07-01')
),
chronic as (
    select PATIENT, count(distinct CODE) as n
    from conditions
    where CODE in ('59621000', '44054006', '55822004', '88805009', '13645005', '195967001', '433144002', '36923009')
      and START <= DATE '2025-07-01' and (STOP is null or STOP > DATE '2025-07-01')
    group by PATIENT
),
use as (  -- the year before the day
    select PATIENT,
           count(*) filter (where ENCOUNTERCLASS = 'emergency') as ed,
           count(*) filter (where ENCOUNTERCLASS = 'inpatient') as ip
    from encounters
    where START >= DATE '2025-07-01' - interval 365 days and START < DATE '2025-07-01'
    group by PATIENT
)
select p.Id as PATIENT, coalesce(c.n, 0) as chronic_conditions, coalesce(u.ed, 0) as ed_visits,
       coalesce(u.ip, 0) as inpatient_encounters,
       case when coalesce(c.n, 0) >= 3 or coalesce(u.ip, 0) >= 1 or coalesce(u.ed, 0) >= 2 then 'high'
            when coalesce(c.n, 0) >= 1 or coalesce(u.ed, 0) = 1 then 'rising'
            else 'low' end as tier
from pop p
left join chronic c on c.PATIENT = p.Id
left join use u on u.PATIENT = p.Id
"""
### END SOLUTION'''
RISK_ALTERNATIVE = _swap(
    RISK,
    "where START >= DATE '2025-07-01' - interval 365 days and START < DATE '2025-07-01'",
    "where START between DATE '2025-07-01' - interval 365 days and DATE '2025-07-01' - interval 1 microsecond",
)
RISK_WRONG = (
    # counts every chronic condition ever recorded, resolved or not
    _swap(RISK, "      and START <= DATE '2025-07-01' and (STOP is null or STOP > DATE '2025-07-01')\n", ""),
    # any ED visit counts as high
    _swap(RISK, "coalesce(u.ed, 0) >= 2 then 'high'", "coalesce(u.ed, 0) >= 1 then 'high'"),
)

# -- Q9 PMPM --------------------------------------------------------------------------------------------------

PMPM = '''### BEGIN SOLUTION
pmpm_sql = """
with months as (  -- a member month: covered by a real payer on the month's first day
    select distinct t.PATIENT, cast(m as date) as month_start
    from payer_transitions t
    join payers p on p.Id = t.PAYER,
    unnest(generate_series(date_trunc('month', t.START_DATE), t.END_DATE, interval 1 month)) as g(m)
    where p.NAME <> 'NO_INSURANCE' and m >= t.START_DATE and m < t.END_DATE
),
claims_paid as (  -- what the payer paid on each claim line, in the month of the claim's day of service
    select c.PATIENTID as PATIENT, cast(date_trunc('month', c.SERVICEDATE) as date) as month_start,
           t.PAYMENTS as paid
    from claims c
    join claims_transactions t on t.CLAIMID = c.Id
    where t.TYPE = 'PAYMENT' and t.METHOD = 'ECHECK'  -- the payer's payments (the patient pays CASH, CHECK, CC)
),
mm as (select year(month_start) as year, count(*) as member_months from months group by 1),
paid as (
    select year(c.month_start) as year, sum(c.paid) as paid
    from claims_paid c join months m using (PATIENT, month_start)
    group by 1
)
select mm.year, mm.member_months, coalesce(paid.paid, 0) as paid,
       coalesce(paid.paid, 0) / mm.member_months as pmpm
from mm left join paid using (year)
order by mm.year
"""
### END SOLUTION'''
PMPM_ALTERNATIVE = (
    _swap(PMPM, "order by mm.year", "order by mm.year desc"),
    # the payer's share as charges minus what was transferred to the patient: the same on settled lines
    _swap(
        PMPM,
        "           t.PAYMENTS as paid\n",
        "           case t.TYPE when 'CHARGE' then t.AMOUNT else -t.TRANSFERS end as paid\n",
    ).replace(
        "    where t.TYPE = 'PAYMENT' and t.METHOD = 'ECHECK'  -- the payer's payments (the patient pays CASH, CHECK, CC)\n",
        "    where t.TYPE in ('CHARGE', 'TRANSFEROUT')\n",
    ),
)
PMPM_WRONG = (
    # the old way: encounters' and medications' PAYER_COVERAGE by START; a prescription's fills, years of them,
    # all land on its first day
    _swap(
        PMPM,
        PMPM[PMPM.index("claims_paid as (") : PMPM.index("mm as (")],
        "claims_paid as (\n"
        "    select PATIENT, cast(date_trunc('month', START) as date) as month_start, PAYER_COVERAGE as paid\n"
        "    from encounters\n"
        "    union all\n"
        "    select PATIENT, cast(date_trunc('month', START) as date), PAYER_COVERAGE from medications\n"
        "),\n",
    ),
    # every month touched by a coverage period, even when it starts mid-month
    _swap(PMPM, "and m >= t.START_DATE and m < t.END_DATE", "and m < t.END_DATE"),
    # counts the uninsured months as member months
    _swap(PMPM, "where p.NAME <> 'NO_INSURANCE' and", "where"),
    # every payment, the patient's share included
    _swap(PMPM, "    where t.TYPE = 'PAYMENT' and t.METHOD = 'ECHECK'", "    where t.TYPE = 'PAYMENT'"),
)

# -- Q10-Q12 plots --------------------------------------------------------------------------------------------

TREND = """### BEGIN SOLUTION
import matplotlib.pyplot as plt


def plot_trend(pmpm):
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(pmpm["year"], pmpm["pmpm"], marker="o")
    ax.set_title("Paid per member per month, by year")
    ax.set_xlabel("Year")
    ax.set_ylabel("PMPM ($)")
    ax.set_ylim(bottom=0)  # a manager reads heights: start at zero
    ax.set_xticks(list(pmpm["year"]))
    ax.grid(axis="y", alpha=0.3)
    return fig
### END SOLUTION"""
TREND_ALTERNATIVE = """from matplotlib.figure import Figure


def plot_trend(pmpm):
    fig = Figure()
    ax = fig.add_subplot()
    ax.plot(list(pmpm["year"]), list(pmpm["pmpm"]), color="black")
    ax.set(title="PMPM trend", xlabel="year", ylabel="PMPM in dollars", ylim=(0, max(pmpm["pmpm"]) * 1.2 + 1))
    return fig"""
TREND_WRONG = (_swap(TREND, "    ax.set_ylim(bottom=0)  # a manager reads heights: start at zero\n", ""),)

DISTRIBUTION = """### BEGIN SOLUTION
import matplotlib.pyplot as plt

import hitlab.checks.lab08 as lab08


def plot_cost_distribution(costs):
    labels = [label for label, _lo, _hi in lab08.COST_BANDS]
    counts = [0] * len(labels)
    for cost in costs:
        for i, (_label, lo, hi) in enumerate(lab08.COST_BANDS):
            if lo <= cost and (hi is None or cost < hi):
                counts[i] += 1
                break
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.bar(labels, counts, color="#4c72b0")
    ax.set_title("Members by annual paid amount")
    ax.set_xlabel("Paid in the year")
    ax.set_ylabel("Members")
    return fig
### END SOLUTION"""
DISTRIBUTION_ALTERNATIVE = """import matplotlib.pyplot as plt
import pandas as pd

import hitlab.checks.lab08 as lab08


def plot_cost_distribution(costs):
    edges = [lo for _l, lo, _h in lab08.COST_BANDS] + [float("inf")]
    labels = [label for label, _lo, _hi in lab08.COST_BANDS]
    counts = pd.cut(pd.Series(list(costs), dtype=float), edges, right=False, labels=labels).value_counts()
    fig, ax = plt.subplots()
    ax.bar(range(len(labels)), [int(counts[label]) for label in labels])
    ax.set_xticks(range(len(labels)), labels)
    ax.set(title="Cost distribution", ylabel="number of members")
    return fig"""
DISTRIBUTION_WRONG = (
    _swap(
        DISTRIBUTION,
        "if lo <= cost and (hi is None or cost < hi):",
        "if lo < cost and (hi is None or cost <= hi):",
    ),
)

SMALL_MULTIPLES = """### BEGIN SOLUTION
import matplotlib.pyplot as plt

import hitlab.checks.lab08 as lab08


def plot_small_multiples(prevalence):
    bands = [label for label, _lo, _hi in lab08.AGE_BANDS]
    sexes = sorted(prevalence["gender"].unique())
    fig, axes = plt.subplots(
        1, len(sexes), figsize=(4 * len(sexes), 3.5), sharey=True, squeeze=False, layout="constrained"
    )  # constrained: the panel titles clear the figure title
    for ax, sex in zip(axes[0], sexes):
        rows = prevalence[prevalence["gender"] == sex].set_index("age_band")
        ax.bar(bands, [float(rows["prevalence_per_1000"].get(b, 0.0)) for b in bands])
        ax.set_title(f"Sex: {sex}")
        ax.set_xlabel("Age band")
    axes[0][0].set_ylabel("Cases per 1,000")
    fig.suptitle("Hypertension prevalence by age band")
    return fig
### END SOLUTION"""
SMALL_MULTIPLES_ALTERNATIVE = _swap(
    SMALL_MULTIPLES, "sharey=True, squeeze=False,", "sharey='all', squeeze=False,"
)
SMALL_MULTIPLES_WRONG = (
    _swap(SMALL_MULTIPLES, "sharey=True, squeeze=False,", "sharey=False, squeeze=False,"),
)

# -- Q13 bulk ingest ------------------------------------------------------------------------------------------

BULK = '''### BEGIN SOLUTION
import json
from pathlib import Path

import pandas as pd


def _lines(folder, item):
    name = item["url"].rsplit("/", 1)[-1]
    with open(folder / name, encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                yield name, n, line.strip(), json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{name} line {n}: not JSON ({err.msg})") from None


def ingest_bulk(con, folder):
    folder = Path(folder)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    if not isinstance(manifest, dict) or not isinstance(manifest.get("transactionTime"), str) \\
            or not isinstance(manifest.get("output"), list):
        raise ValueError("manifest.json: a completed export needs transactionTime and output")
    when = manifest["transactionTime"]
    rows, counts = [], {}
    for item in manifest["output"]:  # error files (OperationOutcomes) are not data: they are not loaded
        counts.setdefault(item["type"], 0)
        for name, n, line, resource in _lines(folder, item):
            if not isinstance(resource, dict) or resource.get("resourceType") != item["type"] \\
                    or not resource.get("id"):
                raise ValueError(f"{name} line {n}: expected a {item['type']} resource with an id")
            rows.append((when, name, n, item["type"], resource["id"], line, False))
            counts[item["type"]] += 1
    for item in manifest.get("deleted") or []:  # Bundles of DELETE requests: one tombstone per entry
        for name, n, line, bundle in _lines(folder, item):
            entries = bundle.get("entry") if isinstance(bundle, dict) else None
            if not isinstance(entries, list) or bundle.get("resourceType") != "Bundle" or not entries:
                raise ValueError(f"{name} line {n}: expected a Bundle of deletions")
            for entry in entries:
                request = entry.get("request") or {}
                kind, _, rid = str(request.get("url", "")).partition("/")
                if request.get("method") != "DELETE" or not kind or not rid or "/" in rid:
                    raise ValueError(f"{name} line {n}: each entry should be a DELETE of Type/id")
                rows.append((when, name, n, kind, rid, line, True))
    # everything read and checked: now write, so a bad file leaves the table as it was
    con.execute("""create table if not exists raw_fhir (resource_type varchar, id varchar, resource json,
                   source_file varchar, line integer, transaction_time varchar, deleted boolean)""")
    frame = pd.DataFrame(rows, columns=["transaction_time", "source_file", "line", "resource_type", "id",
                                        "resource", "deleted"])
    con.register("incoming", frame)
    # append-only: a row already loaded (same export, file, line and resource) is not added again
    con.execute("""
        insert into raw_fhir
        select distinct resource_type, id, resource, source_file, line, transaction_time, deleted from incoming i
        where not exists (select 1 from raw_fhir r
                          where r.transaction_time = i.transaction_time and r.source_file = i.source_file
                            and r.line = i.line and r.resource_type = i.resource_type and r.id = i.id)""")
    con.unregister("incoming")
    # the current view: the latest row per resource; a tombstone there means deleted
    con.execute("""
        create or replace view raw_fhir_current as
        select resource_type, id, resource, source_file, line, transaction_time from (
            select * from raw_fhir
            qualify row_number() over (partition by resource_type, id
                                       order by transaction_time desc, source_file desc, line desc) = 1)
        where not deleted""")
    return counts
### END SOLUTION'''
BULK_ALTERNATIVE = _swap(
    BULK,
    """        select distinct resource_type, id, resource, source_file, line, transaction_time, deleted from incoming i
        where not exists (select 1 from raw_fhir r
                          where r.transaction_time = i.transaction_time and r.source_file = i.source_file
                            and r.line = i.line and r.resource_type = i.resource_type and r.id = i.id)""",
    """        select i.resource_type, i.id, i.resource, i.source_file, i.line, i.transaction_time, i.deleted
        from incoming i
        anti join raw_fhir r using (transaction_time, source_file, line, resource_type, id)""",
)
BULK_WRONG = (
    # upserts: the raw layer overwrites what arrived before, so history and replays are lost
    _swap(
        BULK,
        "    # append-only: a row already loaded (same export, file, line and resource) is not added again\n",
        '    con.execute("delete from raw_fhir where (resource_type, id) in (select resource_type, id from incoming)")\n',
    ),
    # trusts the file: a resource of another type than the manifest says is loaded under the wrong type
    _swap(BULK, 'resource.get("resourceType") != item["type"] \\\n                    or not', "not"),
    # appends blindly: loading the same export twice doubles every resource
    _swap(
        BULK,
        "                          where r.transaction_time = i.transaction_time and",
        "                          where false and",
    ),
    # ignores the manifest's deleted files: deleted resources stay current
    _swap(BULK, 'for item in manifest.get("deleted") or []:', "for item in []:"),
)
