"""Clinical realism the labs rely on, measured with SQL on a generated population of 3,000 patients."""

from __future__ import annotations

import duckdb
import pytest

from hitlab.terminology import codes

AS_OF = "2025-12-31"


@pytest.fixture(scope="module")
def con(population):
    folder = population(3000, 2024, formats=("csv",), db=True)
    con = duckdb.connect(str(folder / "hitlab.duckdb"), read_only=True)
    con.execute(f"""
        create temp view adults as
        select Id, date_diff('year', BIRTHDATE, date '{AS_OF}')
                   - (strftime(BIRTHDATE, '%m%d') > strftime(date '{AS_OF}', '%m%d'))::int as age
        from patients where DEATHDATE is null
        """)
    con.execute(f"""
        create temp view adults18 as select * from adults where age >= 18;
        create temp view has as
        select distinct PATIENT, CODE from conditions where START <= date '{AS_OF}'
        """)
    yield con
    con.close()


def share(con, sql: str) -> float:
    return con.execute(sql).fetchone()[0]


def test_adult_hypertension_prevalence(con):
    """Hypertension in 25–50% of living adults."""
    p = share(con, "select avg((h.PATIENT is not null)::int) from adults18 a left join has h "
                   "on h.PATIENT = a.Id and h.CODE = '59621000'")  # fmt: skip
    assert 0.25 <= p <= 0.50, p


def test_type2_diabetes_prevalence_rises_with_age(con):
    """Type 2 diabetes in 7–15% of living adults, higher in each older age band."""
    rows = con.execute("""
        select case when age < 45 then 1 when age < 65 then 2 else 3 end as band,
               avg((h.PATIENT is not null)::int) as p, count(*) as n
        from adults18 a left join has h on h.PATIENT = a.Id and h.CODE = '44054006'
        group by band order by band
        """).fetchall()
    overall = sum(p * n for _b, p, n in rows) / sum(n for _b, _p, n in rows)
    assert 0.07 <= overall <= 0.15, overall
    bands = [p for _b, p, _n in rows]
    assert bands[0] < bands[1] < bands[2], bands


def test_hba1c_recorded_for_diabetics_and_higher_than_in_others(con):
    """HbA1c (LOINC 4548-4) for at least 80% of diabetics, their mean clearly above non-diabetics'."""
    covered = share(
        con,
        """
        select avg((exists (select 1 from observations o where o.PATIENT = d.PATIENT and o.CODE = '4548-4'))::int)
        from (select distinct PATIENT from conditions where CODE = '44054006') d
        """,
    )
    assert covered >= 0.80, covered
    diabetic, other = con.execute("""
        select avg(VALUE::double) filter (where d.PATIENT is not null),
               avg(VALUE::double) filter (where d.PATIENT is null)
        from observations o
        left join (select distinct PATIENT from conditions where CODE = '44054006') d on d.PATIENT = o.PATIENT
        where o.CODE = '4548-4'
        """).fetchone()
    assert diabetic - other > 1.0, (diabetic, other)
    assert 6.5 < diabetic < 9.0 and other < 6.0  # others include prediabetes (5.7–6.4)


def test_wellness_visits_record_vitals(con):
    """Blood pressure, BMI and heart rate at wellness visits (by the ages they apply to)."""
    missing = con.execute("""
        with w as (
            select e.Id, date_diff('day', p.BIRTHDATE, e.START::date) / 365.25 as age
            from encounters e join patients p on p.Id = e.PATIENT where e.ENCOUNTERCLASS = 'wellness'),
        v as (select ENCOUNTER, list(distinct CODE) as codes from observations group by ENCOUNTER)
        select count(*) filter (where age >= 3 and not list_contains(codes, '8480-6')),
               count(*) filter (where age >= 2 and not list_contains(codes, '39156-5')),
               count(*) filter (where not list_contains(codes, '8867-4')),
               count(*)
        from w join v on v.ENCOUNTER = w.Id
        """).fetchone()
    assert missing[:3] == (0, 0, 0) and missing[3] > 10_000
    assert share(con, "select count(*) from encounters where ENCOUNTERCLASS = 'wellness'") == missing[3]


def test_medications_follow_conditions(con):
    """Metformin for diabetes, an antihypertensive for hypertension; nobody gets them without the condition."""
    metformin = share(
        con,
        """
        select avg((exists (select 1 from medications m where m.PATIENT = d.PATIENT and m.CODE = '860975'))::int)
        from (select distinct PATIENT from conditions where CODE = '44054006') d""",
    )
    assert metformin >= 0.80, metformin
    antihypertensive = share(
        con,
        """
        select avg((exists (select 1 from medications m where m.PATIENT = d.PATIENT
                            and m.CODE in ('314076', '310798', '197361')))::int)
        from (select distinct PATIENT from conditions where CODE = '59621000') d""",
    )
    assert antihypertensive >= 0.75, antihypertensive
    orphans = share(
        con,
        """
        select count(*) from medications m where m.CODE in ('860975', '314076')
        and not exists (select 1 from conditions c where c.PATIENT = m.PATIENT and c.CODE = m.REASONCODE)""",
    )
    assert orphans == 0


def test_immunizations_use_cvx_codes(con):
    cvx = {c.code for c in codes("vax.")}
    seen = {r[0] for r in con.execute("select distinct CODE from immunizations").fetchall()}
    assert seen <= cvx and "140" in seen and len(seen) >= 8


def test_emergency_inpatient_and_30_day_readmissions(con):
    """ED visits and admissions exist; 8–20% of index stays (no death, no transfer) are readmitted in 30 days."""
    counts = dict(con.execute("select ENCOUNTERCLASS, count(*) from encounters group by all").fetchall())
    assert counts["emergency"] > 500 and counts["inpatient"] > 150
    rate, index_stays, transfers = con.execute("""
        with stays as (
            select e.Id, e.PATIENT, e.ORGANIZATION, e.START, e.STOP, p.DEATHDATE,
                   lead(e.START) over w as next_start, lead(e.ORGANIZATION) over w as next_org
            from encounters e join patients p on p.Id = e.PATIENT
            where e.ENCOUNTERCLASS = 'inpatient' window w as (partition by e.PATIENT order by e.START)),
        classified as (
            select *, next_start < STOP + interval 6 hour and next_org <> ORGANIZATION as transferred,
                   DEATHDATE is not null and DEATHDATE <= STOP::date as died
            from stays where STOP is not null)
        select avg(coalesce(next_start <= STOP + interval 30 day, false)::int) filter (where not coalesce(transferred, false) and not died),
               count(*) filter (where not coalesce(transferred, false) and not died),
               count(*) filter (where transferred)
        from classified
        """).fetchone()
    assert 0.08 <= rate <= 0.20, rate
    assert index_stays > 100 and transfers > 0


def test_deaths_have_no_events_after_them(con):
    deaths = share(con, "select count(*) from patients where DEATHDATE is not null")
    assert deaths > 30
    for table, column in (("encounters", "START"), ("observations", "DATE"), ("medications", "START"),
                          ("procedures", "START"), ("immunizations", "DATE"), ("conditions", "START")):  # fmt: skip
        late = share(
            con,
            f"""select count(*) from {table} t join patients p on p.Id = t.PATIENT
                              where p.DEATHDATE is not null and t.{column}::date > p.DEATHDATE""",
        )
        assert late == 0, table


def test_telehealth_present_and_rising_after_2020(con):
    before, after = con.execute("""
        select avg((ENCOUNTERCLASS = 'virtual')::int) filter (where year(START) between 2016 and 2019),
               avg((ENCOUNTERCLASS = 'virtual')::int) filter (where year(START) >= 2020)
        from encounters""").fetchone()
    assert before < 0.01 and after > 3 * before and after > 0.02, (before, after)
