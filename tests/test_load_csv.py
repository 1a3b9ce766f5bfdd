"""Synthea CSV sets (3.0 as exported, and 2.5.0 / 3.4.0 re-projected from it) into the canonical schema."""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import shutil
import zipfile
from pathlib import Path

import duckdb
import pytest

from hitlab.load import LoadReport, load, load_csv, schema

FIXTURES = Path(__file__).parent / "fixtures"
CSV30 = FIXTURES / "synthea_csv_3.0"
SHARED_HEADERS = FIXTURES.parent.parent / "src" / "hitlab" / "load" / "synthea_headers.json"


def data_lines(path: Path) -> int:
    """Rows of a Synthea CSV file, counted as text lines (Synthea never quotes, so no row spans lines)."""
    return len(path.read_bytes().splitlines()) - 1


def read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def write_csv(path: Path, header: list[str] | tuple[str, ...], rows: list[list[str]], **kwargs) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n", **kwargs)
        writer.writerow(header)
        writer.writerows(rows)


def reproject(version: str, out: Path) -> Path:
    """Write the 3.0 fixture as Synthea ``version`` would have: that release's files and headers, renamed
    columns carried over, columns the fixture lacks left empty, 2.x payer_transitions years as years."""
    out.mkdir(parents=True, exist_ok=True)
    back = {(t, new): old for (t, old), new in schema.RENAMES.items()}
    for table, header in schema.headers()[version].items():
        source = CSV30 / f"{table}.csv"
        _, rows = read_rows(source) if source.exists() else ([], [])
        projected = []
        for row in rows:
            values = []
            for column in header:
                name = column
                if name not in row:  # a 3.4 name the 3.0 file has under its old name, or the other way round
                    name = back.get((table, column), schema.RENAMES.get((table, column), column))
                value = row.get(name, "")
                if (table, column) in schema.YEAR_COLUMNS and version.startswith("2."):
                    value = value[:4]
                values.append(value)
            projected.append(values)
        write_csv(out / f"{table}.csv", header, projected)
    return out


@pytest.fixture(scope="module")
def v30(tmp_path_factory) -> tuple[LoadReport, Path]:
    db = tmp_path_factory.mktemp("v30") / "v30.duckdb"
    return load(CSV30, db), db


@pytest.fixture(scope="module")
def con30(v30):
    conn = duckdb.connect(str(v30[1]), read_only=True)
    yield conn
    conn.close()


def test_package_headers_are_the_shared_json():
    data = json.loads(SHARED_HEADERS.read_text(encoding="utf-8"))
    assert list(data) == ["2.5.0", "2.6.0", "2.7.0", "3.0.0", "3.1.0", "3.2.0", "3.3.0", "3.4.0"]
    assert schema.versions() == list(data)
    assert len(schema.tables()) == 19


def test_every_old_column_is_canonical_or_renamed():
    for version, files in schema.headers().items():
        for table, header in files.items():
            canonical = {c.name for c in schema.canonical_columns(table)}
            for column in header:
                assert column in canonical or (table, column) in schema.RENAMES, (version, table, column)
    # and each rename targets a canonical column that the renamed one's releases lack
    for (table, old), new in schema.RENAMES.items():
        assert new in {c.name for c in schema.canonical_columns(table)}
        for files in schema.headers().values():
            assert not (old in files.get(table, ()) and new in files.get(table, ())), (table, old, new)


def test_v30_every_table_loads_with_its_line_count(v30, con30):
    report, _ = v30
    expected = {table: 0 for table in schema.tables()}
    for path in CSV30.glob("*.csv"):
        expected[path.stem] = data_lines(path)
    assert len(list(CSV30.glob("*.csv"))) == 18
    assert report.tables == expected
    for table, count in expected.items():
        assert con30.execute(f'SELECT count(*) FROM "{table}"').fetchall()[0][0] == count
    assert report.kind == "synthea-csv"
    assert report.synthea_versions == ["3.0.0"]
    # patients.csv kept one header from 2.5.0 to 3.0.0; the set as a whole fits 3.0.0 only
    assert report.file_versions[str(CSV30 / "patients.csv")] == ["2.5.0", "2.6.0", "2.7.0", "3.0.0"]
    assert report.warnings == ["no file for patient_expenses: created empty"]


def test_v30_columns_are_canonical_names_order_and_types(con30):
    for table in schema.tables():
        described = [(r[0], r[1]) for r in con30.execute(f'DESCRIBE "{table}"').fetchall()]
        assert described == [(c.name, c.type) for c in schema.canonical_columns(table)], table


def test_v30_types_and_values(con30):
    row = con30.execute(
        "SELECT typeof(BIRTHDATE), BIRTHDATE, ZIP, typeof(ZIP), SSN, typeof(LAT), HEALTHCARE_EXPENSES "
        "FROM patients WHERE Id = '3edac2e3-d223-6fae-d515-daf96ef6bc76'"
    ).fetchall()
    assert row == [("DATE", dt.date(2014, 10, 6), "02155", "VARCHAR", "999-17-5017", "DOUBLE", 227761.06)]
    assert con30.execute("SELECT count(*) FROM patients WHERE ZIP LIKE '0%'").fetchall()[0][0] > 0
    enc = con30.execute(
        "SELECT typeof(START), START, STOP, BASE_ENCOUNTER_COST, REASONCODE FROM encounters "
        "WHERE Id = '57f2562b-445c-f11c-ba40-edc55af3c84f'"
    ).fetchall()
    assert enc == [
        (
            "TIMESTAMP",
            dt.datetime(2023, 1, 27, 16, 17, 47),
            dt.datetime(2023, 1, 27, 16, 32, 47),
            77.49,
            "195662009",
        )
    ]
    assert con30.execute("SELECT DISTINCT typeof(START) FROM conditions").fetchall() == [("DATE",)]
    assert con30.execute("SELECT DISTINCT typeof(DATE) FROM supplies").fetchall() == [("DATE",)]
    assert con30.execute("SELECT min(DATE) FROM supplies").fetchall()[0][0] == dt.date(2020, 10, 7)
    obs = con30.execute("SELECT DISTINCT typeof(VALUE), TYPE FROM observations ORDER BY TYPE").fetchall()
    assert ("VARCHAR", "numeric") in obs and ("VARCHAR", "text") in obs
    qols = con30.execute("SELECT QOLS_AVG FROM payers WHERE NAME = 'Dual Eligible'").fetchall()[0][0]
    assert math.isnan(qols)
    assert con30.execute(
        "SELECT typeof(UNITS), typeof(AMOUNT) FROM claims_transactions LIMIT 1"
    ).fetchall() == [("BIGINT", "DOUBLE")]
    pt = con30.execute(
        "SELECT START_DATE, END_DATE, PLAN_OWNERSHIP, OWNER_NAME FROM payer_transitions LIMIT 1"
    ).fetchall()
    assert pt == [
        (
            dt.datetime(2014, 10, 14, 4, 17, 47),
            dt.datetime(2015, 10, 20, 4, 17, 47),
            "Guardian",
            "Gail741 Mosciski958",
        )
    ]


def test_v30_empty_fields_are_null(con30):
    _, rows = read_rows(CSV30 / "patients.csv")
    no_zip = sum(1 for r in rows if r["ZIP"] == "")
    assert no_zip > 0
    assert con30.execute("SELECT count(*) FROM patients WHERE ZIP IS NULL").fetchall()[0][0] == no_zip
    assert con30.execute("SELECT count(*) FROM patients WHERE ZIP = ''").fetchall()[0][0] == 0


def test_v30_columns_of_later_releases_are_null(con30):
    for table, column in [
        ("patients", "MIDDLE"),
        ("patients", "FIPS"),
        ("patients", "INCOME"),
        ("conditions", "SYSTEM"),
        ("procedures", "SYSTEM"),
        ("payers", "OWNERSHIP"),
        ("providers", "PROCEDURES"),
    ]:
        assert con30.execute(f"SELECT count({column}) FROM {table}").fetchall()[0][0] == 0, (table, column)
    # providers UTILIZATION (<= 3.1) is ENCOUNTERS (3.2+): both are Clinician.getEncounterCount()
    _, rows = read_rows(CSV30 / "providers.csv")
    loaded = con30.execute("SELECT ENCOUNTERS FROM providers").fetchall()
    assert [r[0] for r in loaded] == [int(r["UTILIZATION"]) for r in rows]


def _attach_compare(con, a: str, b: str, table: str, columns: list[str]) -> int:
    cols = ", ".join(f'"{c}"' for c in columns)
    return con.execute(
        f'SELECT (SELECT count(*) FROM (SELECT {cols} FROM {a}."{table}" EXCEPT ALL SELECT {cols} FROM {b}."{table}"))'
        f' + (SELECT count(*) FROM (SELECT {cols} FROM {b}."{table}" EXCEPT ALL SELECT {cols} FROM {a}."{table}"))'
    ).fetchall()[0][0]


@pytest.mark.parametrize("version", ["2.5.0", "3.4.0"])
def test_other_releases_load_into_the_same_schema(version, v30, tmp_path):
    src = reproject(version, tmp_path / version)
    db = tmp_path / "other.duckdb"
    report = load_csv(src, db)
    # 3.4.0 wrote the same headers as 3.3.0, so such a set is reported as either
    assert report.synthea_versions == [
        v for v in schema.versions() if schema.headers()[v] == schema.headers()[version]
    ]
    assert report.synthea_versions == (["2.5.0"] if version == "2.5.0" else ["3.3.0", "3.4.0"])
    assert report.warnings == (
        [] if version == "3.4.0" else [f"no file for {_absent(version)}: created empty"]
    )
    counts30 = v30[0].tables
    files = schema.headers()[version]
    assert report.tables == {t: (counts30[t] if t in files else 0) for t in schema.tables()}

    con = duckdb.connect()
    con.execute(f"ATTACH '{v30[1]}' AS a (READ_ONLY)")
    con.execute(f"ATTACH '{db}' AS b (READ_ONLY)")
    for table, header in files.items():
        described = [(r[0], r[1]) for r in con.execute(f'DESCRIBE b."{table}"').fetchall()]
        assert described == [(c.name, c.type) for c in schema.canonical_columns(table)]
        if table not in schema.headers()["3.0.0"]:
            continue
        in30 = {schema.canonical_name(table, c) for c in schema.headers()["3.0.0"][table]}
        shared = [
            schema.canonical_name(table, c)
            for c in header
            if schema.canonical_name(table, c) in in30 and (table, c) not in schema.YEAR_COLUMNS
        ]
        assert shared, table
        assert _attach_compare(con, "a", "b", table, shared) == 0, (table, shared)
    if version == "2.5.0":
        # procedures DATE became START; STOP did not exist
        assert con.execute("SELECT count(STOP), count(START) FROM b.procedures").fetchall() == [
            (0, counts30["procedures"])
        ]
        # 2.x years: START_YEAR Y -> Y-01-01, END_YEAR Y -> (Y+1)-01-01 (inclusive years, half-open dates)
        mismatches = con.execute(
            "SELECT count(*) FROM (SELECT row_number() OVER () AS n, * FROM a.payer_transitions) x "
            "JOIN (SELECT row_number() OVER () AS n, * FROM b.payer_transitions) y USING (n) "
            "WHERE y.START_DATE <> make_timestamp(year(x.START_DATE), 1, 1, 0, 0, 0) "
            "   OR y.END_DATE <> make_timestamp(year(x.END_DATE) + 1, 1, 1, 0, 0, 0) "
            "   OR typeof(y.START_DATE) <> 'TIMESTAMP'"
        ).fetchall()[0][0]
        assert mismatches == 0
    else:
        # a header-only file (3.4's patient_expenses, absent from the 3.0 export) is 0 rows, not an error
        assert (src / "patient_expenses.csv").read_text().count("\n") == 1
        assert report.tables["patient_expenses"] == 0


def _absent(version: str) -> str:
    return ", ".join(t for t in schema.tables() if t not in schema.headers()[version])


def test_zip_of_a_set_in_a_subfolder_loads(v30, tmp_path):
    src = reproject("3.4.0", tmp_path / "set")
    archive = tmp_path / "synthea_sample_data_csv.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(src.glob("*.csv")):
            zf.write(path, f"output/csv/{path.name}")
        zf.writestr("output/README.txt", "not a CSV")
        zf.writestr("__MACOSX/output/csv/._patients.csv", b"\x00\x05\x16\x07 resource fork")
    con = duckdb.connect()
    report = load(archive, con)
    assert report.kind == "synthea-csv"
    assert report.synthea_versions == ["3.3.0", "3.4.0"]
    assert report.tables == {t: (v30[0].tables[t]) for t in schema.tables()}
    assert f"{archive}:output/csv/patients.csv" in report.file_versions


def test_requoted_crlf_reordered_file_loads_by_name_with_a_warning(con30, tmp_path):
    header, rows = read_rows(CSV30 / "patients.csv")
    reordered = list(reversed(header))
    write_csv(
        tmp_path / "patients.csv", reordered, [[r[c] for c in reordered] for r in rows], quoting=csv.QUOTE_ALL
    )
    (tmp_path / "patients.csv").write_bytes((tmp_path / "patients.csv").read_bytes().replace(b"\n", b"\r\n"))
    con = duckdb.connect()
    report = load(tmp_path, con)
    assert report.synthea_versions == []
    assert report.warnings[0].startswith(f"{tmp_path / 'patients.csv'}: header matches no Synthea release")
    assert "MIDDLE" in report.warnings[0]
    con.execute(f"ATTACH '{_db_path(con30)}' AS a (READ_ONLY)")
    assert _attach_compare(con, "a", "memory", "patients", header) == 0


def _db_path(con) -> str:
    return con.execute(
        "SELECT path FROM duckdb_databases() WHERE NOT internal AND database_name <> 'memory'"
    ).fetchall()[0][0]


def test_summary_is_an_aligned_table(v30):
    report, _ = v30
    lines = report.summary().splitlines()
    assert lines[0].startswith("loaded synthea-csv (Synthea 3.0.0) from ")
    assert lines[0].endswith(": 19 tables, 10,950 rows")
    assert lines[1].split() == ["table", "rows"]
    body = {line.split()[0]: line.split()[1] for line in lines[3:22]}
    assert body["claims_transactions"] == "5,228"
    assert body["patient_expenses"] == "0"
    assert len({len(line) for line in lines[1:22]}) == 1  # aligned
    assert lines[-1] == "  warning: no file for patient_expenses: created empty"


def test_a_header_of_no_release_with_years_or_timestamps_is_mapped_by_name(tmp_path):
    # payer_transitions with 2.x names but a column order no release wrote: years and timestamps both convert
    write_csv(
        tmp_path / "payer_transitions.csv",
        ["PAYER", "PATIENT", "OWNERSHIP", "START_YEAR", "END_YEAR"],
        [["p1", "a", "Self", "2015", "2016"], ["p2", "a", "Self", "2017-03-04T05:06:07Z", ""]],
    )
    con = duckdb.connect()
    report = load(tmp_path, con)
    assert "loaded by column name" in report.warnings[0] and "MEMBERID" in report.warnings[0]
    rows = con.execute(
        "SELECT PATIENT, START_DATE, END_DATE, PAYER, PLAN_OWNERSHIP FROM payer_transitions"
    ).fetchall()
    assert rows == [
        ("a", dt.datetime(2015, 1, 1), dt.datetime(2017, 1, 1), "p1", "Self"),
        ("a", dt.datetime(2017, 3, 4, 5, 6, 7), None, "p2", "Self"),
    ]


def test_files_from_different_releases_are_reported(tmp_path):
    src = tmp_path / "mixed"
    shutil.copytree(CSV30, src)
    newer = reproject("3.4.0", tmp_path / "new")
    (src / "patients.csv").write_bytes((newer / "patients.csv").read_bytes())
    report = load_csv(src, duckdb.connect())
    assert report.synthea_versions == schema.versions()
    assert report.warnings[0].startswith(
        "the files match different Synthea releases (patients: 3.3.0, 3.4.0;"
    )


def test_a_directory_with_csv_and_fhir_files_loads_both(tmp_path):
    (tmp_path / "patients.csv").write_bytes((CSV30 / "patients.csv").read_bytes())
    (tmp_path / "bundle.json").write_text('{"resourceType": "Bundle", "entry": []}')
    report = load(tmp_path, duckdb.connect())
    assert report.kind == "synthea-csv+fhir"
    assert report.tables["patients"] == 27 and report.tables["fhir_reference"] == 0


# --- a folder that holds more than Synthea's CSV files -------------------------------------------------------------

METADATA = next((FIXTURES / "synthea_metadata").glob("*.json"))  # Synthea 3.1.0's run metadata, a real file
SAMPLE_BUNDLE = FIXTURES / "synthea_fhir" / "sample_complete_patient.json"
METADATA_WHY = "Synthea's run metadata, not data"
OTHER_WHY = "not Synthea CSV, FHIR JSON or NDJSON"
JSON_WHY = "JSON that is not FHIR (no resourceType); not part of a Synthea CSV set"


def csv_with_strays(tmp_path: Path) -> Path:
    """The 3.0 set plus what sits beside real exports: Synthea's run metadata, a README, a tool's own JSON."""
    src = tmp_path / "export"
    shutil.copytree(CSV30, src)
    shutil.copy(METADATA, src)
    (src / "README.md").write_text("Synthea run of 2023-03-11\n", encoding="utf-8")
    (src / "settings.json").write_text('{"population": 100, "state": "Massachusetts"}', encoding="utf-8")
    (src / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")  # hidden: ignored, not listed
    return src


def test_the_metadata_fixture_is_what_synthea_writes():
    meta = json.loads(METADATA.read_text(encoding="utf-8"))
    assert {"runID", "seed", "clinicianSeed", "version", "runStartTime"} <= meta.keys()
    assert "resourceType" not in meta and meta["runID"].replace("-", "_") in METADATA.stem


def test_a_csv_folder_with_other_files_loads_the_csv_and_lists_what_it_skipped(tmp_path, v30):
    src = csv_with_strays(tmp_path)
    con = duckdb.connect()
    report = load(src, con)
    assert report.kind == "synthea-csv"
    assert report.synthea_versions == ["3.0.0"]
    assert report.tables == v30[0].tables  # exactly what the clean set loads: 19 tables, 10,950 rows
    assert report.rows == 10950
    assert report.skipped == {
        str(src / METADATA.name): METADATA_WHY,
        str(src / "README.md"): OTHER_WHY,
        str(src / "settings.json"): JSON_WHY,
    }
    assert report.notes == []
    assert report.warnings == ["no file for patient_expenses: created empty"]
    assert sorted(r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()) == sorted(
        schema.tables()
    )
    assert report.summary().splitlines()[-3:] == [
        f"  skipped: {src / METADATA.name} ({METADATA_WHY})",
        f"  skipped: {src / 'README.md'} ({OTHER_WHY})",
        f"  skipped: {src / 'settings.json'} ({JSON_WHY})",
    ]
    # load_csv on the same folder skips the same files
    assert load_csv(src, duckdb.connect()).skipped == report.skipped


def test_the_command_line_prints_what_it_skipped(tmp_path):
    from click.testing import CliRunner

    from hitlab.cli import main

    src = csv_with_strays(tmp_path)
    result = CliRunner().invoke(main, ["data", "load", str(src), "--db", str(tmp_path / "x.duckdb")])
    assert result.exit_code == 0, result.output
    assert f"  skipped: {src / METADATA.name} ({METADATA_WHY})\n" in result.output
    assert f"  skipped: {src / 'README.md'} ({OTHER_WHY})\n" in result.output


def test_load_csv_skips_fhir_beside_the_csv(tmp_path):
    src = tmp_path / "both"
    shutil.copytree(CSV30, src)
    shutil.copy(SAMPLE_BUNDLE, src)
    report = load_csv(src, duckdb.connect())
    assert report.kind == "synthea-csv" and report.tables["patients"] == 27
    assert "fhir_patient" not in report.tables
    assert report.skipped == {
        str(src / SAMPLE_BUNDLE.name): "FHIR; this load reads Synthea CSV only",
    }


def test_a_zip_with_the_run_metadata_lists_it(tmp_path):
    archive = tmp_path / "synthea.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(CSV30.glob("*.csv")):
            zf.write(path, f"output/csv/{path.name}")
        zf.write(METADATA, f"output/metadata/{METADATA.name}")
        zf.writestr("__MACOSX/output/csv/._patients.csv", b"junk")
    report = load(archive, duckdb.connect())
    assert report.kind == "synthea-csv" and report.rows == 10950
    assert (report.tables["patients"], report.tables["claims_transactions"]) == (27, 5228)
    assert report.skipped == {
        f"{archive}:output/metadata/{METADATA.name}": "not a CSV file; only the archive's *.csv are read"
    }


def test_synthea_output_folder_with_metadata_subfolder(tmp_path):
    out = tmp_path / "output"
    shutil.copytree(CSV30, out / "csv")
    (out / "fhir").mkdir()
    shutil.copy(SAMPLE_BUNDLE, out / "fhir")
    (out / "metadata").mkdir()
    shutil.copy(METADATA, out / "metadata")
    report = load(out, duckdb.connect())
    assert report.kind == "dataset"
    assert report.tables["patients"] == 27 and report.tables["fhir_patient"] == 1
    assert report.skipped == {} and report.notes == []
