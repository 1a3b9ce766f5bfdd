"""FHIR output: Synthea-style transaction bundles that validate with fhir.resources (R4B models)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fhir.resources.R4B.bundle import Bundle

US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"


@pytest.fixture(scope="module")
def fhir_dir(population) -> Path:
    return population(60, 21, formats=("fhir",)) / "fhir"


def references(node, path=""):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                yield path, value
            else:
                yield from references(value, f"{path}.{key}")
    elif isinstance(node, list):
        for item in node:
            yield from references(item, path)


def test_every_bundle_validates_with_r4b(fhir_dir):
    """All patient bundles and both reference bundles parse and validate as FHIR R4 (R4B models)."""
    files = sorted(fhir_dir.glob("*.json"))
    assert len(files) == 62
    for f in files:
        bundle = Bundle.model_validate_json(f.read_bytes())
        assert bundle.entry, f.name


def test_layout_and_bundle_types(fhir_dir):
    """One transaction bundle per patient named First_Last_Id.json, plus the two batch bundles."""
    hospital = list(fhir_dir.glob("hospitalInformation*.json"))
    practitioner = list(fhir_dir.glob("practitionerInformation*.json"))
    assert len(hospital) == len(practitioner) == 1
    for ref in hospital + practitioner:
        bundle = json.loads(ref.read_text())
        assert bundle["type"] == "batch"
        for entry in bundle["entry"]:
            assert entry["request"]["method"] == "POST"
            assert entry["request"]["ifNoneExist"].startswith("identifier=")
    patients = [f for f in fhir_dir.glob("*.json") if f not in hospital + practitioner]
    for f in patients:
        bundle = json.loads(f.read_text())
        assert bundle["type"] == "transaction"
        patient = bundle["entry"][0]["resource"]
        assert patient["resourceType"] == "Patient"
        assert f.name.endswith(f"_{patient['id']}.json")


def test_references_are_urn_uuid_or_resolvable_conditional_references(fhir_dir):
    """Inside a bundle references are urn:uuid full URLs of its entries; the rest are conditional references
    that match an identifier in the hospital or practitioner bundle."""
    identifiers = set()
    for ref in [*fhir_dir.glob("hospitalInformation*.json"), *fhir_dir.glob("practitionerInformation*.json")]:
        for entry in json.loads(ref.read_text())["entry"]:
            res = entry["resource"]
            for ident in res["identifier"]:
                identifiers.add(f"{res['resourceType']}?identifier={ident['system']}|{ident['value']}")
    conditional = 0
    for f in fhir_dir.glob("*_*_*.json"):
        bundle = json.loads(f.read_text())
        full_urls = {e["fullUrl"] for e in bundle["entry"]}
        assert all(u.startswith("urn:uuid:") for u in full_urls)
        for path, ref in references(bundle):
            if ref.startswith("urn:uuid:"):
                assert ref in full_urls, (f.name, path, ref)
            else:
                assert ref in identifiers, (f.name, path, ref)
                conditional += 1
    assert conditional > 100


def test_us_core_profiles_and_blood_pressure_panels(fhir_dir):
    """Every resource claims a US Core profile; blood pressure is one Observation with two components."""
    bp = 0
    for f in fhir_dir.glob("*.json"):
        for entry in json.loads(f.read_text())["entry"]:
            res = entry["resource"]
            assert any(p.startswith(US_CORE) for p in res["meta"]["profile"]), res["resourceType"]
            if res["resourceType"] == "Observation" and res["code"]["coding"][0]["code"] == "85354-9":
                codes = [c["code"]["coding"][0]["code"] for c in res["component"]]
                assert codes == ["8480-6", "8462-4"]
                assert all(c["valueQuantity"]["code"] == "mm[Hg]" for c in res["component"])
                bp += 1
    assert bp > 50


def test_patient_carries_us_core_extensions_and_identifiers(fhir_dir):
    f = next(fhir_dir.glob("*_*_*.json"))
    patient = json.loads(f.read_text())["entry"][0]["resource"]
    urls = {e["url"] for e in patient["extension"]}
    assert {US_CORE + "us-core-race", US_CORE + "us-core-ethnicity", US_CORE + "us-core-birthsex"} <= urls
    types = {i.get("type", {}).get("coding", [{}])[0].get("code") for i in patient["identifier"]}
    assert {"MR", "SS"} <= types
