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
