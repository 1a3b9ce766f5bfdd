"""Lab 01's answer sources: each question's worked solution (the notebook's solution cell), other correct
answers, and known-wrong answers that must lose exactly that question's points. Left out of an exam release.

Each question's names: ``X`` (the solution cell), ``X_WRONG`` and ``X_ALTERNATIVES`` (tuples of cells).
"""

from __future__ import annotations

from hitlab.checks.choice import dict_code
from hitlab.checks.lab01.reference import COLUMN_TYPES as _COLUMN_TYPES

# -- Q1 ----------------------------------------------------------------------------------------------------

COLUMN_TYPES = dict_code("column_types", _COLUMN_TYPES)

COLUMN_TYPES_WRONG = (
    dict_code("column_types", {**_COLUMN_TYPES, "patients.ZIP, such as 02138": "INTEGER"}),
    dict_code("column_types", {**_COLUMN_TYPES, "patients.BIRTHDATE, a date of birth": "TIMESTAMP"}),
)

COLUMN_TYPES_ALTERNATIVES = (
    dict_code(
        "column_types",
        {k: v.lower() for k, v in _COLUMN_TYPES.items()},
    ),
)


# -- Q2 ----------------------------------------------------------------------------------------------------

EHR_DDL = '''ehr_ddl = """
create table patients (
    id        varchar primary key,
    birthdate date not null,
    deathdate date,
    gender    varchar not null,
    zip       varchar check (regexp_full_match(zip, '[0-9]{5}')),
    check (deathdate is null or deathdate >= birthdate)
);
create table encounters (
    id              varchar primary key,
    patient_id      varchar not null references patients (id),
    start_time      timestamp not null,
    stop_time       timestamp,
    encounter_class varchar not null check (encounter_class in
        ('wellness', 'ambulatory', 'urgentcare', 'virtual', 'outpatient', 'emergency', 'inpatient')),
    check (stop_time is null or stop_time >= start_time)
);
create table conditions (
    patient_id     varchar not null references patients (id),
    encounter_id   varchar not null references encounters (id),
    code           varchar not null,
    onset_date     date not null,
    abatement_date date,
    primary key (encounter_id, code),
    check (abatement_date is null or abatement_date >= onset_date)
);
"""'''

EHR_DDL_ALT = '''ehr_ddl = """
CREATE TABLE patients (
    id UUID NOT NULL, birthdate DATE NOT NULL, deathdate DATE, gender TEXT NOT NULL,
    zip TEXT CONSTRAINT zip_5_digits CHECK (length(zip) = 5 AND zip SIMILAR TO '[0-9]+'),
    CONSTRAINT pk_patients PRIMARY KEY (id),
    CONSTRAINT alive_before_dead CHECK (deathdate >= birthdate)
);
CREATE TABLE encounters (
    id UUID PRIMARY KEY, patient_id UUID NOT NULL, start_time TIMESTAMPTZ NOT NULL, stop_time TIMESTAMPTZ,
    encounter_class TEXT NOT NULL,
    FOREIGN KEY (patient_id) REFERENCES patients (id),
    CHECK (stop_time >= start_time),
    CHECK (encounter_class IN ('ambulatory','emergency','inpatient','outpatient','urgentcare','virtual','wellness'))
);
CREATE TABLE conditions (
    patient_id UUID NOT NULL, encounter_id UUID NOT NULL, code TEXT NOT NULL, onset_date DATE NOT NULL,
    abatement_date DATE,
    UNIQUE (encounter_id, code),
    FOREIGN KEY (patient_id) REFERENCES patients (id),
    FOREIGN KEY (encounter_id) REFERENCES encounters (id),
    CHECK (abatement_date >= onset_date)
);
"""'''

EHR_DDL_WRONG = (
    EHR_DDL.replace(
        "    patient_id      varchar not null references patients (id),",
        "    patient_id      varchar not null,",
    ),
    EHR_DDL.replace(
        "    zip       varchar check (regexp_full_match(zip, '[0-9]{5}')),", "    zip       integer,"
    ),
    EHR_DDL.replace("    primary key (encounter_id, code),\n", ""),
)

EHR_DDL_ALTERNATIVES = (EHR_DDL_ALT,)


# -- Q3 ----------------------------------------------------------------------------------------------------

NORMALIZED_SQL = '''normalized_sql = {
    "patient": """select distinct patient_id, patient_name, birthdate, zip from extract""",
    "organization": """select distinct organization_id, organization_name from extract""",
    "encounter": """
        select distinct encounter_id, patient_id, organization_id, encounter_start, encounter_class
        from extract""",
    "condition_code": """
        select distinct condition_code, condition_description
        from extract where condition_code is not null""",
    "encounter_condition": """
        select encounter_id, condition_code
        from extract where condition_code is not null""",
}'''

NORMALIZED_SQL_WRONG = (
    NORMALIZED_SQL.replace("select distinct patient_id", "select patient_id"),
    NORMALIZED_SQL.replace(
        "select encounter_id, condition_code\n        from extract where condition_code is not null",
        "select encounter_id, condition_code\n        from extract",
    ),
)

NORMALIZED_SQL_ALTERNATIVES = (
    NORMALIZED_SQL.replace(
        "select distinct patient_id, patient_name, birthdate, zip from extract",
        "select patient_id, any_value(patient_name) as patient_name, any_value(birthdate) as birthdate, "
        "any_value(zip) as zip from extract "
        "group by patient_id",
    ),
)


# -- Q4 ----------------------------------------------------------------------------------------------------

SCD2_SQL = '''address_scd2_sql = """
select f.id                                as patient_id,
       a ->> '$.line[0]'                   as line,
       a ->> 'city'                        as city,
       a ->> 'postalCode'                  as zip,
       cast(a ->> '$.period.start' as date) as valid_from,
       cast(a ->> '$.period.end' as date) + 1 as valid_to,
       a ->> '$.period.end' is null        as is_current
from fhir_patient f,
     unnest(json_extract(f.resource, '$.address[*]')) as t(a)
"""'''

SCD2_SQL_WRONG = (
    SCD2_SQL.replace("a ->> '$.period.end' is null        as is_current", "true as is_current"),
    SCD2_SQL.replace(
        "cast(a ->> '$.period.end' as date) + 1 as valid_to",
        "cast(a ->> '$.period.end' as date) as valid_to",
    ),
    'address_scd2_sql = """select Id as patient_id, ADDRESS as line, CITY as city, ZIP as zip, BIRTHDATE as valid_from, '
    'null::date as valid_to, true as is_current from patients"""',
)

SCD2_SQL_ALTERNATIVES = (
    SCD2_SQL.replace(
        "a ->> '$.period.end' is null        as is_current", "a ->> 'use' <> 'old' as is_current"
    ).replace(
        "cast(a ->> '$.period.end' as date) + 1 as valid_to",
        "cast((a -> 'period' ->> 'end')::date + interval 1 day as date) as valid_to",
    ),
)


# -- Q5 ----------------------------------------------------------------------------------------------------

AT_ENCOUNTER_SQL = '''address_at_encounter_sql = """
select e.Id as encounter_id, a.zip
from encounters e
join patient_address a
  on a.patient_id = e.PATIENT
 and cast(e.START as date) >= a.valid_from
 and (a.valid_to is null or cast(e.START as date) < a.valid_to)
"""'''

AT_ENCOUNTER_SQL_WRONG = (
    'address_at_encounter_sql = """select e.Id as encounter_id, a.zip from encounters e join patient_address a '
    'on a.patient_id = e.PATIENT and a.is_current"""',
    'address_at_encounter_sql = """select e.Id as encounter_id, a.zip from encounters e join patient_address a '
    'on a.patient_id = e.PATIENT and e.START::date between a.valid_from and coalesce(a.valid_to, \'9999-12-31\')"""',
)

AT_ENCOUNTER_SQL_ALTERNATIVES = (
    'address_at_encounter_sql = """select e.Id as encounter_id, a.zip from encounters e join patient_address a '
    'on a.patient_id = e.PATIENT and e.START >= a.valid_from and e.START < coalesce(a.valid_to, date \'9999-12-31\')"""',
)


# -- Q6 ----------------------------------------------------------------------------------------------------

ORPHANS_SQL = '''orphans_sql = """
select o.PATIENT, o.ENCOUNTER, o.CODE, 'observations' as table_name
from observations o
where o.PATIENT not in (select Id from patients) or o.ENCOUNTER not in (select Id from encounters)
union all
select c.PATIENT, c.ENCOUNTER, c.CODE, 'conditions'
from conditions c
where c.PATIENT not in (select Id from patients) or c.ENCOUNTER not in (select Id from encounters)
"""'''

ORPHANS_SQL_WRONG = (
    ORPHANS_SQL.replace(" or o.ENCOUNTER not in (select Id from encounters)", "").replace(
        " or c.ENCOUNTER not in (select Id from encounters)", ""
    ),
)

ORPHANS_SQL_ALTERNATIVES = (
    '''orphans_sql = """
select x.PATIENT, x.ENCOUNTER, x.CODE, x.t as table_name
from (select PATIENT, ENCOUNTER, CODE, 'observations' t from observations
      union all select PATIENT, ENCOUNTER, CODE, 'conditions' from conditions) x
left join patients p on p.Id = x.PATIENT
left join encounters e on e.Id = x.ENCOUNTER
where p.Id is null or e.Id is null
"""''',
)


# -- Q7 ----------------------------------------------------------------------------------------------------

AFTER_DEATH_SQL = '''after_death_sql = """
select e.PATIENT, e.Id as ENCOUNTER, 'encounters' as table_name
from encounters e join patients p on p.Id = e.PATIENT
where cast(e.START as date) > p.DEATHDATE
union all
select o.PATIENT, o.ENCOUNTER, 'observations'
from observations o join patients p on p.Id = o.PATIENT
where cast(o.DATE as date) > p.DEATHDATE
"""'''

AFTER_DEATH_SQL_WRONG = (
    AFTER_DEATH_SQL.replace("cast(e.START as date) > p.DEATHDATE", "e.START > p.DEATHDATE").replace(
        "cast(o.DATE as date) > p.DEATHDATE", "o.DATE > p.DEATHDATE"
    ),
)

AFTER_DEATH_SQL_ALTERNATIVES = (
    AFTER_DEATH_SQL.replace("cast(e.START as date) > p.DEATHDATE", "e.START >= p.DEATHDATE + 1").replace(
        "cast(o.DATE as date) > p.DEATHDATE", "o.DATE >= p.DEATHDATE + 1"
    ),
)


# -- Q8 ----------------------------------------------------------------------------------------------------

FUTURE_BIRTH_SQL = "future_birth_sql = \"select Id from patients where BIRTHDATE > date '2025-12-31'\""

FUTURE_BIRTH_SQL_WRONG = ('future_birth_sql = "select Id from patients where DEATHDATE < BIRTHDATE"',)

FUTURE_BIRTH_SQL_ALTERNATIVES = ('future_birth_sql = "select Id from patients where year(BIRTHDATE) > 2025"',)


# -- Q9 ----------------------------------------------------------------------------------------------------

MISSING_UNITS_SQL = (
    'missing_units_sql = """\nselect PATIENT, ENCOUNTER, CODE\nfrom observations\n'
    "where TYPE = 'numeric' and (UNITS is null or UNITS = '')\n\"\"\""
)

MISSING_UNITS_SQL_WRONG = (
    'missing_units_sql = "select PATIENT, ENCOUNTER, CODE from observations where UNITS is null"',
)

MISSING_UNITS_SQL_ALTERNATIVES = (
    'missing_units_sql = "select PATIENT, ENCOUNTER, CODE from observations '
    "where coalesce(UNITS, '') = '' and try_cast(VALUE as double) is not null and TYPE <> 'text'\"",
)


# -- Q10 ----------------------------------------------------------------------------------------------------

UNIT_MIXUP_SQL = '''unit_mixup_sql = """
with usual as (
    select CODE, mode(UNITS) as usual_units
    from observations
    where TYPE = 'numeric' and UNITS is not null
    group by CODE
)
select o.PATIENT, o.ENCOUNTER, o.CODE, o.UNITS
from observations o
join usual u on u.CODE = o.CODE
where o.UNITS <> u.usual_units
"""'''

UNIT_MIXUP_SQL_WRONG = (
    "unit_mixup_sql = \"select PATIENT, ENCOUNTER, CODE, UNITS from observations where UNITS <> 'mg/dL'\"",
)

UNIT_MIXUP_SQL_ALTERNATIVES = (
    '''unit_mixup_sql = """
select PATIENT, ENCOUNTER, CODE, UNITS
from (select *, count(*) over (partition by CODE, UNITS) as with_unit, count(*) over (partition by CODE) as all_
      from observations where TYPE = 'numeric' and UNITS is not null)
where with_unit < all_ / 2
"""''',
)


# -- Q11 ----------------------------------------------------------------------------------------------------

DUPLICATES_SQL = '''duplicates_sql = """
select a.Id as id_low, b.Id as id_high
from patients a
join patients b
  on a.Id < b.Id
 and a.BIRTHDATE = b.BIRTHDATE
 and a.GENDER = b.GENDER
 and (a.FIRST = b.FIRST or a.LAST = b.LAST)
 and jaro_winkler_similarity(a.FIRST || ' ' || a.LAST, b.FIRST || ' ' || b.LAST) > 0.9
"""'''

DUPLICATES_SQL_WRONG = (
    'duplicates_sql = "select a.Id as id_low, b.Id as id_high from patients a join patients b '
    'on a.Id < b.Id and a.SSN = b.SSN"',
    'duplicates_sql = "select a.Id as id_low, b.Id as id_high from patients a join patients b on a.Id < b.Id '
    'and a.BIRTHDATE = b.BIRTHDATE and a.GENDER = b.GENDER"',
)

DUPLICATES_SQL_ALTERNATIVES = (
    'duplicates_sql = """select a.Id as id_low, b.Id as id_high from patients a join patients b on a.Id < b.Id '
    "and a.BIRTHDATE = b.BIRTHDATE and a.ZIP = b.ZIP and a.GENDER = b.GENDER "
    'and levenshtein(a.FIRST || a.LAST, b.FIRST || b.LAST) <= 2"""',
)


# -- Q12 ----------------------------------------------------------------------------------------------------

FACT_SQL = '''fact_encounter_sql = """
with dx as (
    select ENCOUNTER as encounter_id, CODE as code from conditions
    union
    select Id, REASONCODE from encounters where REASONCODE is not null
)
select e.Id                                  as encounter_id,
       e.PATIENT                             as patient_id,
       cast(strftime(e.START, '%Y%m%d') as integer) as date_key,
       e.ENCOUNTERCLASS                      as encounter_class,
       count(dx.code)                        as diagnosis_count
from encounters e
left join dx on dx.encounter_id = e.Id
group by all
"""'''

FACT_SQL_WRONG = (
    FACT_SQL.replace("left join dx", "join dx"),
    FACT_SQL.replace("    union\n", "    union all\n"),
)

FACT_SQL_ALTERNATIVES = (
    '''fact_encounter_sql = """
select e.Id as encounter_id, e.PATIENT as patient_id,
       year(e.START) * 10000 + month(e.START) * 100 + day(e.START) as date_key, e.ENCOUNTERCLASS as encounter_class,
       (select count(distinct c) from (select CODE c from conditions where ENCOUNTER = e.Id
                                        union all select e.REASONCODE where e.REASONCODE is not null))
         as diagnosis_count
from encounters e
"""''',
)


# -- Q13 ----------------------------------------------------------------------------------------------------

BRIDGE_SQL = '''diagnosis_bridge_sql = """
with dx as (
    select ENCOUNTER as encounter_id, CODE as diagnosis_code from conditions
    union
    select Id, REASONCODE from encounters where REASONCODE is not null
)
select encounter_id, diagnosis_code,
       1.0 / count(*) over (partition by encounter_id) as weight
from dx
"""'''

BRIDGE_SQL_WRONG = (BRIDGE_SQL.replace("1.0 / count(*) over (partition by encounter_id)", "1.0"),)

BRIDGE_SQL_ALTERNATIVES = (
    '''diagnosis_bridge_sql = """
with dx as (select distinct * from (select ENCOUNTER e, CODE c from conditions
                                    union all select Id, REASONCODE from encounters where REASONCODE <> ''))
select dx.e as encounter_id, dx.c as diagnosis_code, 1 / n.k as weight from dx join (select e, count(*) k from dx group by e) n using (e)
"""''',
)
