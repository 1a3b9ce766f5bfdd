"""The CSV output is a Synthea 3.4.0 CSV set: exact headers, Synthea's value formats, consistent rows."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from hitlab.synth.csv_writer import TABLES, synthea_headers
from hitlab.terminology import table as terminology

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
DATE_COLUMNS = {
    "patients": ("BIRTHDATE", "DEATHDATE"),
    "conditions": ("START", "STOP"),
    "allergies": ("START", "STOP"),
    "careplans": ("START", "STOP"),
}
TIME_COLUMNS = {
    "encounters": ("START", "STOP"),
    "medications": ("START", "STOP"),
    "observations": ("DATE",),
    "procedures": ("START", "STOP"),
    "immunizations": ("DATE",),
    "payer_transitions": ("START_DATE", "END_DATE"),
}
ENCOUNTER_CLASSES = {
    "ambulatory", "emergency", "inpatient", "wellness", "urgentcare", "outpatient", "home", "hospice", "snf",
    "virtual",
}  # fmt: skip


@pytest.fixture(scope="module")
def csv_dir(population) -> Path:
    return population(150, 11, formats=("csv",)) / "csv"


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_package_headers_are_the_shared_fixture_bytes():
    """The header table shipped in the package is a byte copy of the facts read from Synthea's exporter."""
    shared = Path(__file__).parents[2] / "shared" / "fixtures" / "synthea_csv_headers_by_version.json"
    if not shared.exists():
        pytest.skip("../shared is not beside this checkout")
    packaged = Path(__file__).parents[1] / "src" / "hitlab" / "load" / "synthea_headers.json"
    assert packaged.read_bytes() == shared.read_bytes()


def test_every_table_has_synthea_340_header_byte_for_byte(csv_dir):
    """Each file starts with Synthea 3.4.0's header line exactly, ended by LF."""
    expected = json.loads(
        (Path(__file__).parents[1] / "src/hitlab/load/synthea_headers.json").read_text(encoding="utf-8")
    )["3.4.0"]
    hitlab_own = ("notes", "staff", "vip_patients", "access_log")
    assert sorted(p.stem for p in csv_dir.glob("*.csv")) == sorted((*TABLES, *hitlab_own))
    for table in TABLES:
        first = (csv_dir / f"{table}.csv").read_bytes().split(b"\n", 1)[0]
        assert first == expected[f"{table}.csv"].encode(), table
        assert synthea_headers()[table] == expected[f"{table}.csv"]


def test_no_quotes_and_every_line_has_the_header_field_count(csv_dir):
    """Synthea never quotes: no double quote anywhere, and no field holds a comma."""
    for table in TABLES:
        lines = (csv_dir / f"{table}.csv").read_text(encoding="utf-8").split("\n")
        assert lines[-1] == "", f"{table}: last line must end with LF"
        width = lines[0].count(",")
        for n, line in enumerate(lines[1:-1], start=2):
            assert '"' not in line, f"{table}:{n}"
            assert line.count(",") == width, f"{table}:{n}"


def test_date_and_timestamp_formats(csv_dir):
    """Date-only columns are yyyy-MM-dd, every other time UTC yyyy-MM-ddTHH:mm:ssZ, empty for null."""
    checked = 0
    for table, columns in DATE_COLUMNS.items():
        for row in rows(csv_dir / f"{table}.csv"):
            for c in columns:
                assert row[c] == "" or DATE.match(row[c]), (table, c, row[c])
                checked += bool(row[c])
    for table, columns in TIME_COLUMNS.items():
        for row in rows(csv_dir / f"{table}.csv"):
            for c in columns:
                assert row[c] == "" or TIMESTAMP.match(row[c]), (table, c, row[c])
                checked += bool(row[c])
    assert checked > 10_000


def test_value_domains(csv_dir):
    """Encounter classes are Synthea's; TYPE says whether VALUE is a number; ZIP and FIPS keep leading zeros."""
    encounters = rows(csv_dir / "encounters.csv")
    assert {e["ENCOUNTERCLASS"] for e in encounters} <= ENCOUNTER_CLASSES
    assert {"wellness", "ambulatory", "emergency", "inpatient", "virtual"} <= {
        e["ENCOUNTERCLASS"] for e in encounters
    }
    observations = rows(csv_dir / "observations.csv")
    assert {o["TYPE"] for o in observations} == {"numeric", "text"}
    for o in observations:
        if o["TYPE"] == "numeric":
            float(o["VALUE"])
            assert o["UNITS"], o
        else:
            assert not re.fullmatch(r"-?\d+(\.\d+)?", o["VALUE"]), o
    patients = rows(csv_dir / "patients.csv")
    assert all(re.fullmatch(r"\d{5}", p["ZIP"]) and re.fullmatch(r"25\d{3}", p["FIPS"]) for p in patients)
    assert any(p["ZIP"].startswith("0") for p in patients)
    assert {p["GENDER"] for p in patients} == {"M", "F"}


def test_codes_and_displays_come_from_the_terminology_table(csv_dir):
    """Every coded column holds a curated code with its display (commas turned into spaces, as Synthea does)."""
    known = {(c.code, c.display.replace(",", " ")) for c in terminology().values()}
    pairs = [
        ("encounters", "CODE", "DESCRIPTION"), ("encounters", "REASONCODE", "REASONDESCRIPTION"),
        ("conditions", "CODE", "DESCRIPTION"), ("medications", "CODE", "DESCRIPTION"),
        ("medications", "REASONCODE", "REASONDESCRIPTION"), ("observations", "CODE", "DESCRIPTION"),
        ("procedures", "CODE", "DESCRIPTION"), ("immunizations", "CODE", "DESCRIPTION"),
        ("allergies", "CODE", "DESCRIPTION"), ("careplans", "CODE", "DESCRIPTION"),
    ]  # fmt: skip
    seen = 0
    for table, code_col, display_col in pairs:
        for row in rows(csv_dir / f"{table}.csv"):
            if row[code_col]:
                assert (row[code_col], row[display_col]) in known, (table, row[code_col], row[display_col])
                seen += 1
    assert seen > 5_000


def test_references_resolve_within_the_set(csv_dir):
    """Every PATIENT, ENCOUNTER, ORGANIZATION, PROVIDER and PAYER id points at a row of its table."""
    patients = {r["Id"] for r in rows(csv_dir / "patients.csv")}
    encounters = rows(csv_dir / "encounters.csv")
    encounter_ids = {e["Id"] for e in encounters}
    orgs = {r["Id"] for r in rows(csv_dir / "organizations.csv")}
    providers = rows(csv_dir / "providers.csv")
    payers = {r["Id"] for r in rows(csv_dir / "payers.csv")}
    assert all(p["ORGANIZATION"] in orgs for p in providers)
    provider_ids = {p["Id"] for p in providers}
    for e in encounters:
        assert e["PATIENT"] in patients and e["ORGANIZATION"] in orgs
        assert e["PROVIDER"] in provider_ids and e["PAYER"] in payers
    for table in (
        "conditions",
        "medications",
        "observations",
        "procedures",
        "immunizations",
        "allergies",
        "careplans",
    ):
        for r in rows(csv_dir / f"{table}.csv"):
            assert r["PATIENT"] in patients and r["ENCOUNTER"] in encounter_ids, table
    for r in rows(csv_dir / "payer_transitions.csv"):
        assert r["PATIENT"] in patients and r["PAYER"] in payers


@pytest.fixture(scope="module")
def costs(csv_dir):
    """The CSV set loaded into DuckDB by hitlab's loader, for the cross-file money checks."""
    import duckdb

    from hitlab.load import load

    con = duckdb.connect()
    load(csv_dir, con)
    yield con
    con.close()


def test_claims_settle_and_agree_with_every_cost_column(costs):
    """Each encounter's TOTAL_CLAIM_COST and PAYER_COVERAGE are its claim's charges and payer payments; each
    medication's TOTALCOST and PAYER_COVERAGE are its fills' claims; every claim is paid in full; patients'
    and payers' totals are the claims' sums, so cost per member per month is the same from any file."""
    q = lambda sql: costs.execute(sql).fetchall()  # noqa: E731
    charges = """select c.Id, c.APPOINTMENTID as enc, c.SERVICEDATE as day, t.PROCEDURECODE as code,
        sum(t.AMOUNT) filter (where t.TYPE = 'CHARGE') as charged,
        sum(t.PAYMENTS) filter (where t.TYPE = 'PAYMENT' and t.METHOD = 'ECHECK') as payer,
        coalesce(sum(t.PAYMENTS) filter (where t.TYPE = 'PAYMENT' and t.METHOD <> 'ECHECK'), 0) as patient,
        coalesce(sum(t.AMOUNT) filter (where t.TYPE = 'TRANSFERIN'), 0) as transferred
        from claims c join claims_transactions t on t.CLAIMID = c.Id group by all"""
    # every line is settled: charged = payer + patient, and the patient paid what was transferred to them
    assert q(f"""select count(*) from ({charges}) where abs(charged - coalesce(payer, 0) - patient) > 0.005
                 or abs(patient - transferred) > 0.005""") == [(0,)]
    assert q("""select count(*) from claims_transactions i join claims_transactions o
                on o.CLAIMID = i.CLAIMID and o.CHARGEID = i.TRANSFEROUTID
                where i.TYPE = 'TRANSFERIN' and o.TYPE = 'TRANSFEROUT' and o.TRANSFERS = i.AMOUNT""") == q(
        "select count(*) from claims_transactions where TYPE = 'TRANSFERIN'"
    )
    encounter_claims = f"""select enc, sum(charged) charged, sum(coalesce(payer, 0)) payer from ({charges})
        where Id not in (select CLAIMID from claims_transactions where TYPE = 'CHARGE'
                         and PROCEDURECODE in (select CODE from medications)) group by enc"""
    assert q(f"""select count(*), count(*) filter (where abs(e.TOTAL_CLAIM_COST - c.charged) < 0.005
                 and abs(e.PAYER_COVERAGE - c.payer) < 0.005) from encounters e join ({encounter_claims}) c
                 on c.enc = e.Id""") == [(q("select count(*) from encounters")[0][0],) * 2]
    fills = f"""select enc, code, count(*) n, sum(charged) charged, sum(coalesce(payer, 0)) payer
        from ({charges}) where code in (select CODE from medications) group by all"""
    assert q(f"""select count(*) from medications m join ({fills}) f on f.enc = m.ENCOUNTER and f.code = m.CODE
                 where f.n <> m.DISPENSES or abs(f.charged - m.TOTALCOST) > 0.005
                 or abs(round(m.BASE_COST * m.DISPENSES, 2) - m.TOTALCOST) > 0.005""") == [(0,)]
    ((charged, payer),) = q(f"select sum(charged), sum(coalesce(payer, 0)) from ({charges})")
    ((expenses, coverage),) = q("select sum(HEALTHCARE_EXPENSES), sum(HEALTHCARE_COVERAGE) from patients")
    ((covered, uncovered),) = q("select sum(AMOUNT_COVERED), sum(AMOUNT_UNCOVERED) from payers")
    ((cost_columns,),) = q(
        "select (select sum(TOTAL_CLAIM_COST) from encounters) + sum(TOTALCOST) from medications"
    )
    assert charged == pytest.approx(expenses + coverage, abs=0.05) == pytest.approx(cost_columns, abs=0.05)
    assert payer == pytest.approx(coverage, abs=0.05) == pytest.approx(covered, abs=0.05)
    assert uncovered == pytest.approx(expenses, abs=0.05) and charged > 0 and 0 < payer < charged


def test_each_claim_is_paid_by_the_coverage_in_force_on_its_day(costs):
    """A claim's payer and member id are those of the payer_transitions row covering its service date (the
    moment of death is covered by the span that ends with it), and the payers' member months follow the
    documented rule: a month counts when the member is enrolled on its last day."""
    q = lambda sql: costs.execute(sql).fetchall()  # noqa: E731
    assert q("""select count(*) from claims c where not exists (select 1 from payer_transitions pt
                where pt.PATIENT = c.PATIENTID and pt.PAYER = c.PRIMARYPATIENTINSURANCEID
                and pt.START_DATE <= c.SERVICEDATE and (c.SERVICEDATE < pt.END_DATE or c.SERVICEDATE = pt.END_DATE
                and c.SERVICEDATE = (select max(END_DATE) from payer_transitions x where x.PATIENT = c.PATIENTID)))
             """) == [(0,)]
    assert q("""select count(*) from claims_transactions t join claims c on c.Id = t.CLAIMID
                where t.PATIENTINSURANCEID not in (select MEMBERID from payer_transitions p where p.PATIENT = c.PATIENTID
                and p.PAYER = c.PRIMARYPATIENTINSURANCEID)""") == [(0,)]
    member_months = q("""select PAYER, count(*) from payer_transitions pt,
        generate_series(date_trunc('month', pt.START_DATE), pt.END_DATE, interval 1 month) m(month)
        where last_day(month) >= pt.START_DATE and last_day(month) < pt.END_DATE group by PAYER""")
    assert dict(member_months) == {k: v for k, v in q("select Id, MEMBER_MONTHS from payers") if v}
