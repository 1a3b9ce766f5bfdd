"""Clinical notes with planted PHI: notes.csv, FHIR DocumentReference, and the labelled spans of note_phi.json."""

from __future__ import annotations

import base64
import csv
import json
import re
from collections import Counter
from pathlib import Path

import duckdb
import pytest
from fhir.resources.R4B.documentreference import DocumentReference

from hitlab.errors import InputError
from hitlab.load import load
from hitlab.synth import generate
from hitlab.synth.notes import CATEGORIES, format_date, format_phone
from hitlab.synth.reference import world
from hitlab.synth.simulate import simulate_patient


@pytest.fixture(scope="module")
def pop(population) -> Path:
    return population(60, 21)


def spans_by_note(root: Path) -> dict[str, dict]:
    return {n["id"]: n for n in json.loads((root / "note_phi.json").read_text(encoding="utf-8"))["notes"]}


def csv_notes(root: Path) -> dict[str, dict]:
    with open(root / "csv/notes.csv", encoding="utf-8", newline="") as f:
        return {row["Id"]: row for row in csv.DictReader(f)}


def fhir_notes(root: Path) -> dict[str, dict]:
    out = {}
    for f in (root / "fhir").glob("*_*_*.json"):
        for entry in json.loads(f.read_bytes())["entry"]:
            if entry["resource"]["resourceType"] == "DocumentReference":
                out[entry["resource"]["id"]] = entry["resource"]
    return out


def decoded(doc: dict) -> str:
    return base64.b64decode(doc["content"][0]["attachment"]["data"]).decode("utf-8")


def test_spans_slice_to_their_text_in_csv_and_in_fhir(pop):
    """Every span's offsets cut its text out of notes.csv TEXT and out of the decoded DocumentReference."""
    spans, rows, docs = spans_by_note(pop), csv_notes(pop), fhir_notes(pop)
    assert spans.keys() == rows.keys() == docs.keys()
    assert len(spans) > 60
    for note_id, note in spans.items():
        text = rows[note_id]["TEXT"]
        assert decoded(docs[note_id]) == text
        assert "\n" in text and note["spans"]
        for s in note["spans"]:
            assert text[s["start"] : s["end"]] == s["text"], (note_id, s)
            assert s["category"] in CATEGORIES
        starts = [s["start"] for s in note["spans"]]
        assert starts == sorted(starts)
        assert all(a["end"] <= b["start"] for a, b in zip(note["spans"], note["spans"][1:], strict=False))


def test_manifest_references_the_spans_file(pop):
    manifest = json.loads((pop / "manifest.json").read_text())
    info = manifest["note_phi"]
    notes = spans_by_note(pop)
    assert info["file"] == "note_phi.json" and "note_phi.json" in manifest["files"]
    assert info["notes"] == len(notes) == manifest["counts"]["notes"]
    assert info["spans"] == sum(len(n["spans"]) for n in notes.values())
    assert "notes.csv" not in json.dumps(manifest["formats"]["csv"])  # the CSV set stays Synthea's


def test_every_category_appears_in_the_default_population():
    """Across the default 1,000 patients (seed 1) every category is planted, in every date and phone format."""
    found: Counter = Counter()
    formats: set[str] = set()
    for i in range(1000):
        for note in simulate_patient(world(), 1, i).notes:
            for s in note.spans:
                found[s.category] += 1
                if s.category == "DATE":
                    formats.add(
                        "iso"
                        if re.fullmatch(r"\d{4}-\d\d-\d\d", s.text)
                        else "us"
                        if re.fullmatch(r"\d\d/\d\d/\d{4}", s.text)
                        else "long"
                        if re.fullmatch(r"[A-Z][a-z]+ \d{1,2}, \d{4}", s.text)
                        else "short"
                        if re.fullmatch(r"\d{1,2} [A-Z][a-z]{2} \d{4}", s.text)
                        else s.text
                    )
                if s.category == "PHONE":
                    formats.add("paren" if s.text.startswith("(") else "dash")
                if s.category == "AGE_OVER_89":
                    assert int(s.text) >= 90
    assert set(found) == set(CATEGORIES), found
    assert formats == {"iso", "us", "long", "short", "paren", "dash"}


def test_formats():
    from datetime import date

    d = date(2024, 3, 5)
    assert [format_date(d, s) for s in ("iso", "us", "long", "short")] == [
        "2024-03-05",
        "03/05/2024",
        "March 5, 2024",
        "5 Mar 2024",
    ]
    assert format_phone("555-123-4567", "paren") == "(555) 123-4567"
    assert format_phone("6175550100", "dash") == "617-555-0100"


LOOK_ALIKES = [
    r"\d+(\.\d+)? MG",  # doses in RxNorm displays
    r"BP \d+/\d+ mmHg",
    r"HR \d+/min",
    r"LOINC \d+-\d",
    r"ICD-10-CM [A-Z]\d",
    r"Follow up in \d+ months",
    r"since \d{4}",
    r"a \d{1,2}-year-old",  # ages under 90
    r"Length of stay \d+ days",
]


def test_look_alikes_are_present_and_not_labelled(pop):
    """Doses, vitals, lab codes, years alone, intervals and ages under 90 appear in the notes but in no span."""
    spans, rows = spans_by_note(pop), csv_notes(pop)
    seen = Counter()
    for note_id, row in rows.items():
        text = row["TEXT"]
        covered = [(s["start"], s["end"]) for s in spans[note_id]["spans"]]
        for pattern in LOOK_ALIKES:
            for m in re.finditer(pattern, text):
                seen[pattern] += 1
                assert not any(a < m.end() and m.start() < b for a, b in covered), (note_id, m.group())
    assert set(seen) == set(LOOK_ALIKES), seen


def test_notes_use_the_patients_own_identifiers(pop):
    patients = {}
    with open(pop / "csv/patients.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            patients[row["Id"]] = row
    mrns = {}
    for f in (pop / "fhir").glob("*_*_*.json"):
        patient = json.loads(f.read_bytes())["entry"][0]["resource"]
        mrns[patient["id"]] = next(
            i["value"]
            for i in patient["identifier"]
            if i.get("type", {}).get("text") == "Medical record number"
        )
    rows = csv_notes(pop)
    for note_id, note in spans_by_note(pop).items():
        p = patients[note["patient"]]
        assert rows[note_id]["PATIENT"] == note["patient"]
        texts = {(s["category"], s["text"]) for s in note["spans"]}
        assert ("MRN", mrns[note["patient"]]) in texts
        assert any(c == "NAME" and p["FIRST"] in t and p["LAST"] in t for c, t in texts)


def test_same_seed_same_notes_and_names_do_not_shift_them(tmp_path):
    a = generate(patients=25, seed=3, out=tmp_path / "a", formats=["csv"])
    b = generate(patients=25, seed=3, out=tmp_path / "b", formats=["fhir"])
    assert (tmp_path / "a/note_phi.json").read_bytes() == (tmp_path / "b/note_phi.json").read_bytes()
    assert a["note_phi"] == b["note_phi"]
    c = generate(patients=25, seed=4, out=tmp_path / "c", formats=["csv"])
    assert c["note_phi"] != a["note_phi"]


def test_document_references_validate_and_follow_synthea_and_us_core(pop):
    docs = fhir_notes(pop)
    for doc in docs.values():
        DocumentReference.model_validate(doc)
        assert doc["status"] == "current"
        assert doc["meta"]["profile"] == [
            "http://hl7.org/fhir/us/core/StructureDefinition/us-core-documentreference"
        ]
        assert doc["type"]["coding"][0]["system"] == "http://loinc.org"
        assert doc["type"]["coding"][0]["code"] in {"34117-2", "11506-3", "18842-5"}
        assert doc["category"][0]["coding"][0]["code"] == "clinical-note"
        assert doc["subject"]["reference"].startswith("urn:uuid:")
        assert doc["context"]["encounter"][0]["reference"].startswith("urn:uuid:")
        assert doc["content"][0]["attachment"]["contentType"] == "text/plain; charset=utf-8"
        assert doc["author"] and doc["date"].endswith("Z")


def test_loader_loads_notes(population):
    root = population(60, 21, db=True)
    con = duckdb.connect(str(root / "hitlab.duckdb"), read_only=True)
    try:
        n, texts = con.execute("SELECT count(*), count(DISTINCT TEXT) FROM notes").fetchone()
        assert n == len(spans_by_note(root)) == texts
        described = dict((r[0], r[1]) for r in con.execute("DESCRIBE notes").fetchall())
        assert described["DATE"] == "TIMESTAMP" and described["TEXT"] == "VARCHAR"
        note_id, text = con.execute("SELECT Id, TEXT FROM notes ORDER BY Id LIMIT 1").fetchone()
        for s in spans_by_note(root)[note_id]["spans"]:
            assert text[s["start"] : s["end"]] == s["text"]
        orphans = con.execute(
            "SELECT count(*) FROM notes n ANTI JOIN encounters e ON e.Id = n.ENCOUNTER AND e.PATIENT = n.PATIENT"
        ).fetchone()[0]
        assert orphans == 0
        assert con.execute("SELECT count(*) FROM fhir_documentreference").fetchone()[0] == n
    finally:
        con.close()


def test_broken_notes_csv_names_the_file_and_line(tmp_path, pop):
    src = tmp_path / "csv"
    src.mkdir()
    for f in (pop / "csv").iterdir():
        (src / f.name).write_bytes(f.read_bytes())
    with open(src / "notes.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    rows[2][3] = "yesterday"
    with open(src / "notes.csv", "w", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    line = 2 + rows[1][6].count("\n") + 1  # the second note starts after the first one's lines
    with pytest.raises(InputError) as info:
        load(src, tmp_path / "db.duckdb")
    err = info.value
    assert (err.path, err.line, err.column) == (str(src / "notes.csv"), line, "DATE")
    assert "expected a UTC timestamp yyyy-MM-ddTHH:mm:ssZ, got 'yesterday'" in err.detail


def test_wrong_notes_header_is_named(tmp_path, pop):
    src = tmp_path / "csv"
    src.mkdir()
    for f in (pop / "csv").iterdir():
        (src / f.name).write_bytes(f.read_bytes())
    text = (src / "notes.csv").read_text(encoding="utf-8")
    (src / "notes.csv").write_text(text.replace("TYPE_CODE", "LOINC", 1), encoding="utf-8")
    with pytest.raises(InputError) as info:
        load(src, tmp_path / "db.duckdb")
    assert (info.value.path, info.value.line, info.value.column) == (str(src / "notes.csv"), 1, "LOINC")
    assert "not the header of hitlab's notes.csv" in info.value.detail
