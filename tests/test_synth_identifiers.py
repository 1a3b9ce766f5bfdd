"""The same patients and encounters in all three formats, linked by the identifiers the data README documents."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest

from hitlab.synth.hl7v2_writer import read_messages


@pytest.fixture(scope="module")
def pop(population) -> Path:
    return population(40, 41)


def read(path: Path):
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def fhir_resources(pop: Path) -> list[dict]:
    out = []
    for f in (pop / "fhir").glob("*_*_*.json"):
        out.extend(e["resource"] for e in json.loads(f.read_text())["entry"])
    return out


def hl7_fields(pop: Path, segment: str, field: int) -> list[str]:
    values = []
    for f in (pop / "hl7v2").glob("*.hl7"):
        for message in read_messages(f):
            for seg in message.split("\r"):
                parts = seg.split("|")
                if parts[0] == segment and len(parts) > field:
                    values.append(parts[field])
    return values


def test_patients_match_across_formats(pop):
    """patients.csv Id = Patient.id = PID-3 (PI); the MRN in Patient.identifier (MR) = PID-3 (MR)."""
    csv_ids = {p["Id"] for p in read(pop / "csv/patients.csv")}
    patients = [r for r in fhir_resources(pop) if r["resourceType"] == "Patient"]
    assert {p["id"] for p in patients} == csv_ids
    fhir_mrn = {
        p["id"]: next(
            i["value"]
            for i in p["identifier"]
            if i.get("type", {}).get("coding", [{}])[0].get("code") == "MR"
        )
        for p in patients
    }
    pairs = set()
    for pid3 in hl7_fields(pop, "PID", 3):
        reps = {r.split("^")[4]: r.split("^")[0] for r in pid3.split("~")}
        pairs.add((reps["PI"], reps["MR"]))
    assert pairs == set(fhir_mrn.items())
    assert len(set(fhir_mrn.values())) == len(fhir_mrn)


def test_encounters_match_across_formats(pop):
    """encounters.csv Id = Encounter.id = PV1-19 of the ADT messages."""
    csv_ids = {e["Id"] for e in read(pop / "csv/encounters.csv")}
    fhir_ids = {r["id"] for r in fhir_resources(pop) if r["resourceType"] == "Encounter"}
    visit_numbers = {v.split("^")[0] for v in hl7_fields(pop, "PV1", 19) if v}
    assert csv_ids == fhir_ids == visit_numbers


def test_clinical_rows_match_fhir_resources(pop):
    """Each CSV row is one FHIR resource (blood pressure's two rows are one Observation with components)."""
    counts = Counter(r["resourceType"] for r in fhir_resources(pop))
    observations = read(pop / "csv/observations.csv")
    bp_pairs = sum(o["CODE"] == "8480-6" for o in observations)
    assert counts["Observation"] == len(observations) - bp_pairs
    for table, resource in (
        ("conditions", "Condition"), ("medications", "MedicationRequest"), ("immunizations", "Immunization"),
        ("procedures", "Procedure"), ("allergies", "AllergyIntolerance"), ("careplans", "CarePlan"),
    ):  # fmt: skip
        assert counts[resource] == len(read(pop / f"csv/{table}.csv")), table
