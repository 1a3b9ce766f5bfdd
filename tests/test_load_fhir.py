"""FHIR bundles and NDJSON into landing tables, with every reference listed and resolved."""

from __future__ import annotations

import collections
import json
import shutil
from pathlib import Path
from urllib.parse import unquote

import duckdb
import pytest

from hitlab.load import fhir, load, load_fhir
from hitlab.load.fhir import fhir_sources

FIXTURES = Path(__file__).parent / "fixtures"
FHIR = FIXTURES / "synthea_fhir"
SAMPLE = FHIR / "sample_complete_patient.json"
PATIENT_ID = "d5582579-7193-4866-5560-a01e723b6552"


def bundle_entries(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["entry"]


def walk(node: dict, prefix: str = ""):
    """(path, reference) for every ``reference`` string under ``node``, written independently of the loader."""
    for key, value in node.items():
        items = [(f"{prefix}{key}", value)] if isinstance(value, dict) else []
        if isinstance(value, list):
            items = [(f"{prefix}{key}[{n}]", v) for n, v in enumerate(value) if isinstance(v, dict)]
        for path, child in items:
            if isinstance(child.get("reference"), str):
                yield path, child["reference"]
            yield from walk(child, path + ".")


def expected_references() -> list[tuple]:
    entries = [e for path in fhir_sources(FHIR) for e in bundle_entries(path)]
    by_url = {e["fullUrl"]: e["resource"] for e in entries}
    by_identifier = collections.defaultdict(set)
    for e in entries:
        r = e["resource"]
        for ident in r.get("identifier", []):
            by_identifier[(r["resourceType"], ident.get("system"), ident["value"])].add(r["id"])
    rows = []
    for e in entries:
        r = e["resource"]
        for path, ref in walk(r):
            target = (None, None)
            if ref in by_url:
                target = (by_url[ref]["resourceType"], by_url[ref]["id"])
            elif "?identifier=" in ref:
                rtype, token = ref.split("?identifier=")
                system, value = unquote(token).split("|")
                ids = by_identifier.get((rtype, system, value), set())
                if len(ids) == 1:
                    target = (rtype, next(iter(ids)))
            rows.append((r["resourceType"], r["id"], path, ref, *target))
    return rows


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    db = tmp_path_factory.mktemp("fhir") / "fhir.duckdb"
    report = load(FHIR, db)
    conn = duckdb.connect(str(db), read_only=True)
    yield report, conn
    conn.close()


def test_hospital_and_practitioner_bundles_are_read_first():
    names = [p.name for p in fhir_sources(FHIR)]
    assert names == [
        "hospitalInformation1678504395403.json",
        "practitionerInformation1678504395403.json",
        "sample_complete_patient.json",
    ]


def test_one_table_per_resource_type_with_the_bundles_counts(sample):
    report, con = sample
    counts = collections.Counter(
        e["resource"]["resourceType"] for p in FHIR.glob("*.json") for e in bundle_entries(p)
    )
    assert len(counts) == 20
    expected = {f"fhir_{t.lower()}": n for t, n in counts.items()}
    assert {k: v for k, v in report.tables.items() if k != "fhir_reference"} == expected
    for table, n in expected.items():
        assert con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0] == n
        described = [(r[0], r[1]) for r in con.execute(f"DESCRIBE {table}").fetchall()]
        assert described == [
            ("id", "VARCHAR"),
            ("patient_id", "VARCHAR"),
            ("encounter_id", "VARCHAR"),
            ("source", "VARCHAR"),
            ("resource", "JSON"),
        ]
    assert report.kind == "fhir"


def test_resources_are_whole_and_unchanged_in_value(sample):
    _, con = sample
    for path in FHIR.glob("*.json"):
        for entry in bundle_entries(path):
            r = entry["resource"]
            rows = con.execute(
                f"SELECT resource, source FROM fhir_{r['resourceType'].lower()} WHERE id = ?", [r["id"]]
            ).fetchall()
            assert len(rows) == 1
            assert json.loads(rows[0][0]) == r
            assert rows[0][1] == path.name


def test_every_reference_is_listed_and_resolved_as_expected(sample):
    report, con = sample
    rows = con.execute("SELECT * FROM fhir_reference").fetchall()
    assert [d[0] for d in con.execute("DESCRIBE fhir_reference").fetchall()] == [
        "source_type",
        "source_id",
        "path",
        "reference",
        "target_type",
        "target_id",
    ]
    expected = expected_references()
    assert len(rows) == len(expected) == 1703 == report.references
    assert sorted(rows, key=repr) == sorted(expected, key=repr)


def test_exactly_which_references_stay_unresolved(sample):
    report, con = sample
    unresolved = dict(
        con.execute(
            """
            SELECT CASE WHEN starts_with(reference, '#') THEN reference ELSE split_part(reference, '?', 1) END, count(*)
            FROM fhir_reference WHERE target_id IS NULL GROUP BY ALL
            """
        ).fetchall()
    )
    # Contained references point inside their own ExplanationOfBenefit, not at a loaded resource. The sample
    # patient comes from another Synthea run than the two batch bundles: its practitioners (NPI 9999962229 and
    # 9999999559), one organization and one location are not in them. Everything else resolves.
    assert unresolved == {
        "#referral": 37,
        "#coverage": 37,
        "Practitioner": 277,
        "Organization": 27,
        "Location": 15,
    }
    assert report.unresolved_references == 393
    missing = con.execute(
        "SELECT DISTINCT reference FROM fhir_reference WHERE target_id IS NULL AND contains(reference, '?') ORDER BY 1"
    ).fetchall()
    assert {m[0].rsplit("|", 1)[1] for m in missing} == {
        "9999962229",
        "9999999559",
        "cb6521ac-69d9-3b02-b34a-15e5d2ed50ea",
        "dd406540-fa97-3a90-858e-0a0ea61cf07b",
    }
    resolved = dict(
        con.execute(
            """
            SELECT CASE WHEN starts_with(reference, 'urn:uuid:') THEN 'urn:uuid' ELSE split_part(reference, '?', 1) END,
                   count(*)
            FROM fhir_reference WHERE target_id IS NOT NULL GROUP BY ALL
            """
        ).fetchall()
    )
    assert resolved == {"urn:uuid": 1101, "Organization": 110, "Location": 99}


def test_patient_and_encounter_ids(sample):
    _, con = sample
    entries = bundle_entries(SAMPLE)
    urls = {e["fullUrl"]: e["resource"] for e in entries}
    checked = 0
    for e in entries:
        r = e["resource"]
        row = con.execute(
            f"SELECT patient_id, encounter_id FROM fhir_{r['resourceType'].lower()} WHERE id = ?", [r["id"]]
        ).fetchall()[0]
        ref = next((r[k]["reference"] for k in ("subject", "patient", "beneficiary") if k in r), None)
        patient = (
            PATIENT_ID if r["resourceType"] == "Patient" or (ref and urls[ref]["id"] == PATIENT_ID) else None
        )
        context = r.get("context") or {}  # a Reference (MedicationAdministration) or holding encounter[]
        enc = r.get("encounter") or (
            context if "reference" in context else context.get("encounter", [None])[0]
        )
        encounter = urls[enc["reference"]]["id"] if enc else None
        assert row == (patient, encounter), r["resourceType"]
        checked += encounter is not None
    assert checked > 100
    assert (
        con.execute("SELECT count(*) FROM fhir_organization WHERE patient_id IS NOT NULL").fetchall()[0][0]
        == 0
    )
    assert con.execute("SELECT count(encounter_id) FROM fhir_documentreference").fetchall()[0][0] == 37


def _write_ndjson(path: Path) -> list[dict]:
    """The sample's resources one a line, urn:uuid references made relative (as in a Bulk Data export)."""
    entries = bundle_entries(SAMPLE)
    urls = {e["fullUrl"]: f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in entries}
    text = SAMPLE.read_text(encoding="utf-8")
    for url, relative in urls.items():
        text = text.replace(f'"{url}"', f'"{relative}"')
    resources = [e["resource"] for e in json.loads(text)["entry"]]
    lines = [json.dumps(r, separators=(", ", ": ")) for r in resources]
    lines.insert(3, "")  # blank lines are skipped
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": {"resourceType": "Basic"}}],
    }
    lines.append(json.dumps(bundle))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return resources


def test_ndjson_lines_are_kept_as_is_and_relative_references_resolve(tmp_path):
    resources = _write_ndjson(tmp_path / "export.ndjson")
    con = duckdb.connect()
    report = load(tmp_path / "export.ndjson", con)
    assert report.tables["fhir_observation"] == 58
    assert report.tables["fhir_basic"] == 1  # from the Bundle on the last line
    lines = (tmp_path / "export.ndjson").read_text().splitlines()
    source, text = con.execute(
        "SELECT source, CAST(resource AS VARCHAR) FROM fhir_patient WHERE id = ?", [PATIENT_ID]
    ).fetchall()[0]
    assert source == "export.ndjson:1"
    assert text == lines[0]  # byte for byte
    obs = next(r for r in resources if r["resourceType"] == "Observation")
    line_no = lines.index(json.dumps(obs, separators=(", ", ": "))) + 1
    assert con.execute("SELECT source FROM fhir_observation WHERE id = ?", [obs["id"]]).fetchall() == [
        (f"export.ndjson:{line_no}",)
    ]
    assert con.execute("SELECT source FROM fhir_basic").fetchall() == [(f"export.ndjson:{len(lines)}",)]
    relative = con.execute(
        "SELECT count(*), count(target_id) FROM fhir_reference WHERE regexp_matches(reference, '^[A-Z][a-zA-Z]+/')"
    ).fetchall()[0]
    assert relative == (1101, 1101)
    assert con.execute("SELECT DISTINCT patient_id FROM fhir_condition").fetchall() == [(PATIENT_ID,)]


def test_absolute_and_relative_references_and_fullurls(tmp_path):
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "fullUrl": "http://example.org/fhir/Patient/p1",
                "resource": {"resourceType": "Patient", "id": "p1"},
            },
            {
                "fullUrl": "http://example.org/fhir/Encounter/e1",
                "resource": {"resourceType": "Encounter", "id": "e1", "subject": {"reference": "Patient/p1"}},
            },
            {
                "resource": {
                    "resourceType": "Observation",
                    "id": "o1",
                    "subject": {"reference": "http://example.org/fhir/Patient/p1"},
                    "encounter": {"reference": "http://other.example/fhir/Encounter/e1/_history/2"},
                    "performer": [{"reference": "Practitioner/nobody"}, {"display": "no reference"}],
                    "extension": [{"url": "x", "valueReference": {"reference": "Patient/p1"}}],
                    "hasMember": [{"reference": "Observation?identifier=urn:x%7Cv1"}],
                }
            },
            {
                "resource": {
                    "resourceType": "Observation",
                    "id": "o2",
                    "identifier": {"system": "urn:x", "value": "v1"},
                }
            },
        ],
    }
    (tmp_path / "b.json").write_text(json.dumps(bundle, indent=2))
    con = duckdb.connect()
    report = load_fhir(tmp_path / "b.json", con)
    rows = con.execute(
        "SELECT source_id, path, target_type, target_id FROM fhir_reference ORDER BY ALL"
    ).fetchall()
    assert rows == [
        ("e1", "subject", "Patient", "p1"),
        ("o1", "encounter", "Encounter", "e1"),
        ("o1", "extension[0].valueReference", "Patient", "p1"),
        ("o1", "hasMember[0]", "Observation", "o2"),
        ("o1", "performer[0]", None, None),
        ("o1", "subject", "Patient", "p1"),
    ]
    assert report.unresolved_references == 1
    ids = con.execute("SELECT id, patient_id, encounter_id FROM fhir_observation ORDER BY id").fetchall()
    assert ids == [("o1", "p1", "e1"), ("o2", None, None)]


def test_a_dataset_directory_loads_csv_and_fhir(tmp_path):
    shutil.copytree(FIXTURES / "synthea_csv_3.0", tmp_path / "csv")
    shutil.copytree(FHIR, tmp_path / "fhir")
    (tmp_path / "manifest.json").write_text('{"generator": "test"}')
    con = duckdb.connect()
    report = load(tmp_path, con)
    assert report.kind == "dataset"
    assert report.synthea_versions == ["3.0.0"]
    assert report.tables["patients"] == 27 and report.tables["fhir_patient"] == 1
    assert report.references == 1703
    assert "fhir_reference" in report.summary()


def test_a_batch_bundle_loaded_twice_still_resolves(tmp_path):
    for path in FHIR.glob("*.json"):
        shutil.copy(path, tmp_path)
    shutil.copy(FHIR / "hospitalInformation1678504395403.json", tmp_path / "hospitalInformation2.json")
    con = duckdb.connect()
    report = load_fhir(tmp_path, con)
    assert report.tables["fhir_organization"] == 2 * 151
    assert report.unresolved_references == 393  # the same organization twice is still one target


# --- a FHIR folder with other files; batch-response / transaction-response bundles ------------------------------

METADATA = next((FIXTURES / "synthea_metadata").glob("*.json"))  # Synthea's run metadata, a real file
RESPONSES = FIXTURES / "fhir_responses"
# FHIR specification examples (provenance in fixtures/SOURCES.md): 3 of 10 entries hold a resource; all 5 do.
TRANSACTION_RESPONSE = RESPONSES / "bundle-response.json"
BATCH_RESPONSE = RESPONSES / "Bundle-bundle-response-medsallergies.json"


def test_a_fhir_folder_with_other_files_loads_the_fhir_and_lists_what_it_skipped(tmp_path, sample):
    src = tmp_path / "fhir"
    shutil.copytree(FHIR, src)
    shutil.copy(METADATA, src)
    (src / "README.txt").write_text("Synthea 3.1.0, seed 12345\n", encoding="utf-8")
    report = load(src, duckdb.connect())
    assert report.kind == "fhir"
    assert report.tables == sample[0].tables
    assert (report.references, report.unresolved_references) == (1703, 393)
    assert report.skipped == {
        str(src / METADATA.name): "Synthea's run metadata, not data",
        str(src / "README.txt"): "not Synthea CSV, FHIR JSON or NDJSON",
    }
    assert report.notes == []
    assert load_fhir(src, duckdb.connect()).skipped == report.skipped
    assert [p.name for p in fhir_sources(src)] == [p.name for p in fhir_sources(FHIR)]


def test_load_fhir_skips_csv_beside_the_bundles(tmp_path):
    src = tmp_path / "both"
    src.mkdir()
    shutil.copy(SAMPLE, src)
    shutil.copy(FIXTURES / "synthea_csv_3.0" / "patients.csv", src)
    report = load_fhir(src, duckdb.connect())
    assert report.tables["fhir_patient"] == 1 and "patients" not in report.tables
    assert report.skipped == {str(src / "patients.csv"): "a CSV file; this load reads FHIR only"}


def test_a_transaction_response_loads_the_entries_that_hold_a_resource():
    con = duckdb.connect()
    report = load_fhir(TRANSACTION_RESPONSE, con)
    assert report.kind == "fhir"
    assert report.tables == {"fhir_bundle": 1, "fhir_parameters": 1, "fhir_patient": 1, "fhir_reference": 0}
    assert report.skipped == {}
    assert report.notes == [
        f"{TRANSACTION_RESPONSE}: 7 of 10 entries of this transaction-response Bundle have no resource, "
        "only entry.response; not loaded: Bundle.entry[1-6, 9]"
    ]
    assert report.summary().splitlines()[-1] == f"  note: {report.notes[0]}"
    entries = bundle_entries(TRANSACTION_RESPONSE)
    assert [n for n, e in enumerate(entries) if "resource" not in e] == [1, 2, 3, 4, 5, 6, 9]
    loaded = {
        (t, r[0]): json.loads(r[1])
        for t in ("patient", "parameters", "bundle")
        for r in con.execute(f"SELECT id, resource FROM fhir_{t}").fetchall()
    }
    assert loaded == {
        ("patient", "12423"): entries[0]["resource"],
        # a Parameters without an id takes it from its urn:uuid fullUrl
        ("parameters", "7f9724ed-ef8d-4434-aacb-41869db83233"): entries[7]["resource"],
        ("bundle", "fb6ed6cb-324e-4588-87cd-0c92c68986ca"): entries[8]["resource"],
    }
    assert con.execute("SELECT DISTINCT source FROM fhir_patient").fetchall() == [("bundle-response.json",)]


def test_a_batch_response_whose_entries_all_hold_a_resource():
    con = duckdb.connect()
    report = load_fhir(BATCH_RESPONSE, con)
    assert report.tables == {"fhir_bundle": 4, "fhir_patient": 1, "fhir_reference": 1}
    assert report.notes == [] and report.skipped == {}
    assert con.execute("SELECT * FROM fhir_reference").fetchall() == [
        ("Patient", "example", "managingOrganization", "Organization/1", None, None)
    ]
    assert report.unresolved_references == 1
    assert con.execute("SELECT id, patient_id FROM fhir_patient").fetchall() == [("example", "example")]
    assert sorted(r[0] for r in con.execute("SELECT id FROM fhir_bundle").fetchall()) == sorted(
        e["resource"]["id"] for e in bundle_entries(BATCH_RESPONSE)[1:]
    )


def test_response_folder_request_only_entries_and_ndjson(tmp_path):
    """Both spec examples as a folder, a transaction whose DELETE entry holds only a request, and an NDJSON line
    holding the transaction-response: one note per Bundle, in load order."""
    src = tmp_path / "responses"
    shutil.copytree(RESPONSES, src)
    transaction = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a",
                "resource": {"resourceType": "Patient"},
                "request": {"method": "POST", "url": "Patient"},
            },
            {"request": {"method": "DELETE", "url": "Patient/12423"}},
        ],
    }
    (src / "transaction.json").write_text(json.dumps(transaction, indent=2), encoding="utf-8")
    one_line = json.dumps(json.loads(TRANSACTION_RESPONSE.read_text(encoding="utf-8")))
    (src / "z.ndjson").write_text(
        '{"resourceType": "Basic", "id": "b1"}\n' + one_line + "\n", encoding="utf-8"
    )
    report = load(src, duckdb.connect())
    assert report.kind == "fhir" and report.skipped == {}
    assert report.tables == {
        "fhir_basic": 1,
        "fhir_bundle": 4 + 1 + 1,
        "fhir_parameters": 2,
        "fhir_patient": 1 + 1 + 1 + 1,
        "fhir_reference": 1,
    }
    assert report.notes == [
        f"{src / 'bundle-response.json'}: 7 of 10 entries of this transaction-response Bundle have no "
        "resource, only entry.response; not loaded: Bundle.entry[1-6, 9]",
        f"{src / 'transaction.json'}: 1 of 2 entries of this transaction Bundle have no resource, only "
        "entry.request; not loaded: Bundle.entry[1]",
        f"{src / 'z.ndjson'}, line 2: 7 of 10 entries of this transaction-response Bundle have no resource, "
        "only entry.response; not loaded: Bundle.entry[1-6, 9]",
    ]


# --- batches ------------------------------------------------------------------------------------------------------


def _tables(path: Path) -> dict[str, list[tuple]]:
    """Every table of a database file, rows in the order they are stored, with its columns."""
    con = duckdb.connect(str(path), read_only=True)
    names = [n for (n,) in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()]
    tables = {
        n: con.execute(f"DESCRIBE {n}").fetchall() + con.execute(f"SELECT * FROM {n}").fetchall()
        for n in names
    }
    con.close()
    return tables


def test_a_load_in_batches_lands_exactly_what_one_batch_does(tmp_path, monkeypatch):
    """Files are read and landed a batch at a time (memory stays flat as a population grows) and references
    resolved across all of them at the end: a batch per file gives the same tables, row for row and in the same
    order, as one batch. The folder has references across files (conditional ones to the hospital and
    practitioner bundles, relative ones in NDJSON) and the same fullUrls in two bundles."""
    src = tmp_path / "fhir"
    shutil.copytree(FHIR, src)
    shutil.copy(FHIR / "hospitalInformation1678504395403.json", src / "hospitalInformation2.json")
    _write_ndjson(src / "export.ndjson")
    reports, tables = [], []
    for batch_bytes in (fhir.BATCH_BYTES, 1):
        monkeypatch.setattr(fhir, "BATCH_BYTES", batch_bytes)
        batches = fhir._Files(fhir_sources(src)).batches()
        # hospital and practitioner bundles, the NDJSON, the patient's bundle; or a batch per file
        assert [len(b) for b in batches] == ([3, 1, 1] if batch_bytes > 1 else [1] * 5)
        db = tmp_path / f"batches{len(batches)}.duckdb"
        reports.append(load(src, db))
        tables.append(_tables(db))
    assert tables[0] == tables[1]
    assert reports[0].tables == reports[1].tables and reports[0].tables["fhir_organization"] == 2 * 151
    assert reports[0].references == reports[1].references == len(tables[0]["fhir_reference"]) - 6  # 6 columns
    assert [r[3] for r in tables[0]["fhir_patient"][5:]] == ["export.ndjson:1", SAMPLE.name]  # in load order
