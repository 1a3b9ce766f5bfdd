"""Same seed, same bytes; independent streams per patient and per concern."""

from __future__ import annotations

import filecmp
import json
from pathlib import Path

from hitlab.synth import generate
from hitlab.synth import simulate as sim
from hitlab.synth.reference import world
from hitlab.synth.simulate import simulate_patient


def all_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_same_seed_gives_the_same_bytes(tmp_path):
    """Two runs with the same arguments write byte-identical files, manifest included."""
    a = generate(patients=40, seed=5, out=tmp_path / "a", defects=True)
    b = generate(patients=40, seed=5, out=tmp_path / "b", defects=True)
    names = all_files(tmp_path / "a")
    assert names == all_files(tmp_path / "b")
    # CSV tables (claims included), notes and the access log's three, FHIR, HL7 v2, spans, access-log truth, manifest
    assert len(names) == 15 + 1 + 3 + 40 + 2 + 40 + 1 + 1 + 1
    _match, mismatch, errors = filecmp.cmpfiles(tmp_path / "a", tmp_path / "b", names, shallow=False)
    assert mismatch == [] and errors == []
    assert a == b
    recorded = json.loads((tmp_path / "a" / "manifest.json").read_text())["files"]
    assert sorted(recorded) == [n for n in names if n != "manifest.json"]


def test_another_seed_gives_another_population(tmp_path):
    generate(patients=20, seed=5, out=tmp_path / "a", formats=["csv"])
    generate(patients=20, seed=6, out=tmp_path / "b", formats=["csv"])
    a = (tmp_path / "a/csv/patients.csv").read_text().splitlines()[1:]
    b = (tmp_path / "b/csv/patients.csv").read_text().splitlines()[1:]
    assert not set(a) & set(b)


def test_a_patient_does_not_depend_on_population_size_or_formats(tmp_path):
    """Patient i is the same in a population of 15 and of 30, and CSV bytes do not depend on other formats."""
    generate(patients=15, seed=9, out=tmp_path / "small", formats=["csv", "fhir"])
    generate(patients=30, seed=9, out=tmp_path / "large", formats=["csv", "fhir", "hl7v2"])
    generate(patients=30, seed=9, out=tmp_path / "csv_only", formats=["csv"])
    small = (tmp_path / "small/csv/patients.csv").read_text().splitlines()
    large = (tmp_path / "large/csv/patients.csv").read_text().splitlines()
    assert large[: len(small)] == small
    for bundle in (tmp_path / "small/fhir").glob("*_*_*.json"):
        assert bundle.read_bytes() == (tmp_path / "large/fhir" / bundle.name).read_bytes()
    for f in (tmp_path / "csv_only/csv").iterdir():
        assert f.read_bytes() == (tmp_path / "large/csv" / f.name).read_bytes(), f.name


def test_changing_names_does_not_shift_clinical_facts(monkeypatch):
    """Names draw from their own stream: other first names, same encounters, results and prescriptions."""
    before = [simulate_patient(world(), 3, i) for i in range(25)]
    monkeypatch.setattr(
        sim, "FIRST_NAMES", {"F": ("Ada", "Grace", "Edith"), "M": ("Alan", "Edsger", "Niklaus")}
    )
    after = [simulate_patient(world(), 3, i) for i in range(25)]
    assert [p.first for p in before] != [p.first for p in after]
    for b, a in zip(before, after, strict=True):
        assert [(e.id, e.start, e.encclass) for e in b.encounters] == [
            (e.id, e.start, e.encclass) for e in a.encounters
        ]
        assert [(o.code.code, o.time, o.value) for o in b.observations] == [
            (o.code.code, o.time, o.value) for o in a.observations
        ]
        assert [(m.code.code, m.start) for m in b.medications] == [
            (m.code.code, m.start) for m in a.medications
        ]
