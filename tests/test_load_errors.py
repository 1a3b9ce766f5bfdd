"""Bad input: a precise InputError (file, line or column, what was expected), and nothing half-loaded."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import duckdb
import pytest

from hitlab.errors import HitlabError, InputError
from hitlab.load import fhir, load, load_csv, load_fhir

FIXTURES = Path(__file__).parent / "fixtures"
CSV30 = FIXTURES / "synthea_csv_3.0"
SAMPLE = FIXTURES / "synthea_fhir" / "sample_complete_patient.json"


@pytest.fixture
def db(tmp_path) -> Path:
    """A DuckDB file that already holds two tables, one of them named like a table a load would replace."""
    path = tmp_path / "existing.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE keepme AS SELECT * FROM range(3) AS t(x)")
    con.execute("CREATE TABLE patients AS SELECT 'old' AS Id")
    con.close()
    return path


def assert_untouched(db: Path) -> None:
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert sorted(r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()) == [
            "keepme",
            "patients",
        ]
        assert con.execute("SELECT * FROM patients").fetchall() == [("old",)]
        assert con.execute("SELECT sum(x) FROM keepme").fetchall() == [(3,)]
    finally:
        con.close()


def csv_set(tmp_path: Path) -> Path:
    out = tmp_path / "csv"
    shutil.copytree(CSV30, out)
    return out


def edit_field(path: Path, line: int, column: str, value: str) -> None:
    """Set one field (1-based line, the header being line 1) of an unquoted Synthea CSV file."""
    lines = path.read_text(encoding="utf-8").split("\n")
    header = lines[0].split(",")
    fields = lines[line - 1].split(",")
    fields[header.index(column)] = value
    lines[line - 1] = ",".join(fields)
    path.write_text("\n".join(lines), encoding="utf-8")


def failing_load(src: Path, db: Path, loader=load) -> InputError:
    with pytest.raises(InputError) as info:
        loader(src, db)
    assert_untouched(db)
    return info.value


# --- CSV ----------------------------------------------------------------------------------------------------------


def test_bad_date(tmp_path, db):
    src = csv_set(tmp_path)
    edit_field(src / "patients.csv", 6, "BIRTHDATE", "1999/01/02")
    err = failing_load(src, db)
    assert (err.path, err.line, err.column) == (str(src / "patients.csv"), 6, "BIRTHDATE")
    assert (
        str(err)
        == f"{src / 'patients.csv'}, line 6, column BIRTHDATE: expected a date yyyy-MM-dd, got '1999/01/02'"
    )


def test_bad_timestamp_in_a_later_file_rolls_back_the_earlier_ones(tmp_path, db):
    src = csv_set(tmp_path)
    edit_field(src / "encounters.csv", 11, "START", "2023-01-27 16:17:47")
    err = failing_load(src, db)
    assert (err.path, err.line, err.column) == (str(src / "encounters.csv"), 11, "START")
    assert "expected a UTC timestamp yyyy-MM-ddTHH:mm:ssZ, got '2023-01-27 16:17:47'" in str(err)


@pytest.mark.parametrize(
    ("file", "line", "column", "value", "expected"),
    [
        ("medications.csv", 40, "BASE_COST", "N/A", "expected a number, got 'N/A'"),
        ("supplies.csv", 3, "QUANTITY", "two", "expected a whole number, got 'two'"),
        ("conditions.csv", 2, "STOP", "2023-02-30", "expected a date yyyy-MM-dd, got '2023-02-30'"),
    ],
)
def test_bad_numbers_and_impossible_dates(tmp_path, db, file, line, column, value, expected):
    src = csv_set(tmp_path)
    edit_field(src / file, line, column, value)
    err = failing_load(src, db)
    assert (err.path, err.line, err.column) == (str(src / file), line, column)
    assert err.detail == expected


def test_missing_required_column(tmp_path, db):
    src = csv_set(tmp_path)
    lines = (src / "conditions.csv").read_text().splitlines()
    cut = [",".join(f for n, f in enumerate(line.split(",")) if n != 2) for line in lines]  # drop PATIENT
    (src / "conditions.csv").write_text("\n".join(cut) + "\n")
    err = failing_load(src, db)
    assert (err.path, err.line, err.column) == (str(src / "conditions.csv"), 1, "PATIENT")
    assert err.detail == (
        "missing required column PATIENT; the header has: START, STOP, ENCOUNTER, CODE, DESCRIPTION"
    )


def test_unknown_column(tmp_path, db):
    src = csv_set(tmp_path)
    text = (src / "payers.csv").read_text()
    (src / "payers.csv").write_text(
        text.replace("\n", ",x\n").replace("MEMBER_MONTHS,x", "MEMBER_MONTHS,NICKNAME")
    )
    err = failing_load(src, db)
    assert (err.path, err.column) == (str(src / "payers.csv"), "NICKNAME")
    assert "unknown column NICKNAME for payers.csv" in err.detail and "AMOUNT_COVERED" in err.detail


def test_unknown_file(tmp_path, db):
    src = csv_set(tmp_path)
    (src / "nicknames.csv").write_text("a,b\n1,2\n")
    err = failing_load(src, db)
    assert err.path == str(src / "nicknames.csv")
    assert "not a Synthea CSV file name; expected one of: patients.csv, allergies.csv" in err.detail
    assert (
        "patient_expenses.csv (or hitlab's own notes.csv, staff.csv, vip_patients.csv, access_log.csv)"
        in err.detail
    )


def test_row_with_too_few_fields(tmp_path, db):
    src = csv_set(tmp_path)
    lines = (src / "observations.csv").read_text().split("\n")
    lines[99] = ",".join(lines[99].split(",")[:5])
    (src / "observations.csv").write_text("\n".join(lines))
    err = failing_load(src, db)
    assert (err.path, err.line, err.column) == (str(src / "observations.csv"), 100, "DESCRIPTION")
    assert err.detail == (
        "the row has 5 of 9 fields: the row is cut short (a truncated line); the first missing field is DESCRIPTION"
    )


def test_last_line_cut_short(tmp_path, db):
    src = csv_set(tmp_path)
    path = src / "claims_transactions.csv"
    data = path.read_bytes()
    last_start = data.rstrip(b"\n").rfind(b"\n") + 1
    path.write_bytes(data[: last_start + 200])  # the download stopped mid-row
    err = failing_load(src, db)
    lines = data.count(b"\n")  # header + rows; the cut row is the last one
    assert (err.path, err.line) == (str(path), lines)
    assert "the file ends in the middle of this row, so it was probably cut short" in err.detail


def test_not_utf8(tmp_path, db):
    src = csv_set(tmp_path)
    path = src / "patients.csv"
    data = path.read_bytes().replace(b"Maynard46", b"Ma\xefnard46", 1)  # Latin-1, as Excel might save it
    path.write_bytes(data)
    err = failing_load(src, db)
    offset = data.index(b"\xef")
    assert (err.path, err.line) == (str(path), data.count(b"\n", 0, offset) + 1)
    assert err.line == 2
    assert f"byte 0xEF at byte offset {offset} of the file cannot be decoded" in err.detail
    assert "UTF-8" in err.detail


def test_empty_file(tmp_path, db):
    src = csv_set(tmp_path)
    (src / "careplans.csv").write_bytes(b"")
    err = failing_load(src, db)
    assert err.path == str(src / "careplans.csv")
    assert err.detail.startswith("the file is empty (0 bytes)")


def test_bad_value_inside_a_zip_names_the_member(tmp_path, db):
    src = csv_set(tmp_path)
    edit_field(src / "procedures.csv", 4, "BASE_COST", "12,5".replace(",", ";"))
    archive = tmp_path / "set.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(src.glob("*.csv")):
            zf.write(path, f"csv/{path.name}")
    err = failing_load(archive, db)
    assert (err.path, err.line, err.column) == (f"{archive}:csv/procedures.csv", 4, "BASE_COST")
    assert str(err).startswith(f"{archive}:csv/procedures.csv, line 4, column BASE_COST: expected a number")


@pytest.mark.parametrize("member", ["../evil.csv", "/tmp/evil.csv", "csv/../../evil.csv"])
def test_unsafe_zip_members_are_refused(tmp_path, db, member):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(CSV30 / "patients.csv", "csv/patients.csv")
        zf.writestr(member, "Id\n1\n")
    err = failing_load(archive, db)
    assert err.path == f"{archive}:{member}"
    assert "absolute path or '..'" in err.detail
    assert not (tmp_path.parent / "evil.csv").exists()


# --- FHIR ---------------------------------------------------------------------------------------------------------


def fhir_dir(tmp_path: Path, name: str, text: str | bytes) -> Path:
    out = tmp_path / "fhir"
    out.mkdir()
    shutil.copy(SAMPLE, out)
    path = out / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return out


def test_invalid_json(tmp_path, db):
    text = SAMPLE.read_text(encoding="utf-8")
    broken = text.replace('"resourceType": "Encounter",', '"resourceType": "Encounter"', 1)
    src = fhir_dir(tmp_path, "zz_broken.json", broken)
    err = failing_load(src, db)
    with pytest.raises(json.JSONDecodeError) as info:
        json.loads(broken)
    assert (err.path, err.line, err.column) == (
        str(src / "zz_broken.json"),
        info.value.lineno,
        str(info.value.colno),
    )
    assert err.detail == "invalid JSON: Expecting ',' delimiter"


def test_invalid_json_in_a_later_batch_after_others_landed(tmp_path, db, monkeypatch):
    """Files are landed batch by batch: one that breaks after others were landed is still named exactly, and the
    earlier batches' tables go with the rest of the transaction."""
    monkeypatch.setattr(fhir, "BATCH_BYTES", 1)  # a batch per file
    src = fhir_dir(tmp_path, "zz_broken.ndjson", '{"resourceType": "Basic"}\n{"resourceType": "Basic"\n')
    shutil.copy(SAMPLE, src / "another.json")
    assert [len(batch) for batch in fhir._Files(fhir.fhir_sources(src)).batches()] == [1, 1, 1]
    err = failing_load(src, db)
    assert (err.path, err.line) == (str(src / "zz_broken.ndjson"), 2)
    assert err.detail.startswith("invalid JSON")


def test_json_that_is_not_a_bundle(tmp_path, db):
    patient = json.loads(SAMPLE.read_text())["entry"][0]["resource"]
    src = fhir_dir(tmp_path, "patient.json", json.dumps(patient))
    err = failing_load(src, db)
    assert err.path == str(src / "patient.json")
    assert err.detail.startswith(
        "expected a FHIR Bundle (resourceType 'Bundle'), found resourceType 'Patient'"
    )


@pytest.mark.parametrize(
    ("text", "found"), [('{"entry": []}', "no resourceType"), ("[1, 2]", "a JSON array")]
)
def test_json_without_resource_type(tmp_path, db, text, found):
    src = fhir_dir(tmp_path, "odd.json", text)
    err = failing_load(src, db)
    assert err.path == str(src / "odd.json")
    assert err.detail == f"expected a FHIR Bundle (resourceType 'Bundle'), found {found}"


def test_ndjson_line_that_is_not_json(tmp_path, db):
    lines = ['{"resourceType": "Patient", "id": "a"}', "", '{"resourceType": "Patient", "id": }']
    src = fhir_dir(tmp_path, "Patient.ndjson", "\n".join(lines) + "\n")
    err = failing_load(src, db)
    assert (err.path, err.line, err.column) == (str(src / "Patient.ndjson"), 3, "35")
    assert err.detail == "invalid JSON: Expecting value"


def test_ndjson_line_without_resource_type(tmp_path, db):
    lines = ['{"resourceType": "Patient", "id": "a"}', '{"id": "b"}']
    src = fhir_dir(tmp_path, "Patient.ndjson", "\n".join(lines))
    err = failing_load(src, db)
    assert (err.path, err.line) == (str(src / "Patient.ndjson"), 2)
    assert err.detail == "expected a FHIR resource (a JSON object with a resourceType), found no resourceType"


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        (
            {"fullUrl": "urn:uuid:x"},
            "Bundle.entry[2] has no resource; expected each entry to hold a FHIR resource",
        ),
        ({"resource": {"id": "x"}}, "Bundle.entry[2].resource has no resourceType; expected a FHIR resource"),
    ],
)
def test_bundle_entry_without_resource_or_type(tmp_path, db, entry, problem):
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": {"resourceType": "Patient", "id": "a"}},
            {"resource": {"resourceType": "Basic"}},
            entry,
        ],
    }
    src = fhir_dir(tmp_path, "b.json", json.dumps(bundle, indent=1))
    err = failing_load(src, db)
    assert err.path == str(src / "b.json")
    assert err.detail == problem


def test_fhir_not_utf8(tmp_path, db):
    data = SAMPLE.read_bytes().replace(b'"family": "', b'"family": "\xe9', 1)
    src = fhir_dir(tmp_path, "latin1.json", data)
    err = failing_load(src, db)
    offset = data.index(b"\xe9")
    assert (err.path, err.line) == (str(src / "latin1.json"), data.count(b"\n", 0, offset) + 1)
    assert f"byte 0xE9 at byte offset {offset}" in err.detail


def test_a_failing_fhir_part_rolls_back_the_csv_part_of_a_dataset(tmp_path, db):
    shutil.copytree(CSV30, tmp_path / "set" / "csv")
    (tmp_path / "set" / "fhir").mkdir()
    (tmp_path / "set" / "fhir" / "x.json").write_text('{"resourceType": "Patient"}')
    (tmp_path / "set" / "manifest.json").write_text("{}")
    err = failing_load(tmp_path / "set", db)
    assert err.path == str(tmp_path / "set" / "fhir" / "x.json")


def test_an_open_connection_is_left_as_it_was(tmp_path):
    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.execute("CREATE TABLE keepme AS SELECT 1 AS x")
    src = fhir_dir(tmp_path, "x.json", "[]")
    with pytest.raises(InputError):
        load_fhir(src, con)
    assert con.execute("SELECT table_name FROM duckdb_tables()").fetchall() == [("keepme",)]
    assert con.execute("SELECT current_setting('threads')").fetchall() == [(2,)]
    # and it still works, outside any transaction
    load_csv(CSV30, con)
    assert con.execute("SELECT count(*) FROM patients").fetchall() == [(27,)]


def test_what_cannot_be_loaded(tmp_path, db):
    (tmp_path / "notes.txt").write_text("hello")
    for src, expected in [
        (tmp_path / "missing", "no such file or directory"),
        (tmp_path / "notes.txt", "expected a directory, a .zip of Synthea CSV"),
        (CSV30 / "patients.csv", "load the directory that holds this file"),
        (tmp_path, "found no Synthea CSV (*.csv), FHIR (*.json, *.ndjson) or hitlab dataset"),
    ]:
        err = failing_load(src, db)
        assert err.path == str(src) and expected in err.detail
    assert issubclass(InputError, HitlabError)


def test_a_connection_with_an_open_transaction_is_refused():
    con = duckdb.connect()
    con.execute("BEGIN TRANSACTION")
    con.execute("CREATE TABLE mine AS SELECT 1 AS x")
    with pytest.raises(HitlabError, match="already has an open transaction"):
        load(CSV30, con)
    assert con.execute("SELECT * FROM mine").fetchall() == [(1,)]  # the caller's transaction goes on
    con.execute("COMMIT")


def test_a_database_that_cannot_be_opened(tmp_path):
    with pytest.raises(HitlabError, match="cannot open the DuckDB database"):
        load(CSV30, tmp_path / "no" / "such" / "dir" / "x.duckdb")


# --- folders with other files; response bundles ---------------------------------------------------------------------

METADATA = next((FIXTURES / "synthea_metadata").glob("*.json"))
TRANSACTION_RESPONSE = FIXTURES / "fhir_responses" / "bundle-response.json"


def test_json_that_is_not_fhir_in_a_folder_that_holds_fhir_is_refused(tmp_path, db):
    # Beside CSV alone it would be skipped; once the folder holds FHIR, a .json without resourceType may be a
    # broken bundle, so it is refused like one (Synthea's run metadata excepted).
    src = csv_set(tmp_path)
    shutil.copy(SAMPLE, src)
    shutil.copy(METADATA, src)
    (src / "settings.json").write_text('{"population": 100}', encoding="utf-8")
    err = failing_load(src, db)
    assert err.path == str(src / "settings.json")
    assert err.detail == "expected a FHIR Bundle (resourceType 'Bundle'), found no resourceType"


def test_a_folder_with_nothing_to_load_lists_its_files(tmp_path, db):
    src = tmp_path / "run"
    src.mkdir()
    shutil.copy(METADATA, src)
    (src / "README.md").write_text("nothing here yet\n")
    err = failing_load(src, db)
    assert err.path == str(src)
    assert err.detail == (
        "found no Synthea CSV (*.csv), FHIR (*.json, *.ndjson) or hitlab dataset (manifest.json) here; "
        f"the files here: {METADATA.name} (Synthea's run metadata, not data); "
        "README.md (not Synthea CSV, FHIR JSON or NDJSON)"
    )
    err = failing_load(src, db, load_fhir)
    assert err.detail == (
        "no FHIR files (bundle .json or .ndjson) in this directory; expected FHIR bundles; the files here: "
        f"{METADATA.name} (Synthea's run metadata, not data); README.md (not Synthea CSV, FHIR JSON or NDJSON)"
    )
    err = failing_load(src, db, load_csv)
    assert err.detail == "no .csv files in this directory; expected Synthea's CSV files"


def test_a_response_entry_with_nothing_at_all_is_still_refused(tmp_path, db):
    bundle = json.loads(TRANSACTION_RESPONSE.read_text(encoding="utf-8"))
    bundle["entry"].append({"fullUrl": "urn:uuid:0d7b4c1e-5a43-4b0e-9f59-1f1b8f5d2a11"})  # breaks R4 bdl-5
    src = fhir_dir(tmp_path, "response.json", json.dumps(bundle, indent=2))
    err = failing_load(src, db)
    assert err.path == str(src / "response.json")
    assert err.detail == "Bundle.entry[10] has no resource; expected each entry to hold a FHIR resource"
