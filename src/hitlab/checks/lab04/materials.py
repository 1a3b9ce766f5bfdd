"""What lab 04's exercises work on, for the learner and the checks alike: the FHIR code systems and profile
URLs, the OMB race and ethnicity maps, real FHIR files shipped with the lab (``hitlab/labdata/lab04``, see its
SOURCES.md) and the dataset's bundles, the lab's in-memory FHIR server, the patient the search questions are
about, the servers Q11 and Q12 run on, and the changes Q12 applies. Nothing here knows an answer.
"""

from __future__ import annotations

import copy
import csv
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from hitlab.fhirstore import FhirStore, Response
from hitlab.terminology import ETHNICITY, OMB_RACE_CATEGORIES, RACE, SYSTEM_URIS

LABDATA = Path(__file__).resolve().parents[2] / "labdata" / "lab04"
US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"
OMB = "urn:oid:2.16.840.1.113883.6.238"
LOINC, SNOMED, ICD10CM, RXNORM = (SYSTEM_URIS[k] for k in ("LOINC", "SNOMED", "ICD10CM", "RXNORM"))
UCUM = "http://unitsofmeasure.org"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
SID = "https://hitlab.example.org/fhir/sid/"
SSN = "http://hl7.org/fhir/sid/us-ssn"
BP_PANEL, SYSTOLIC, DIASTOLIC, HBA1C = "85354-9", "8480-6", "8462-4", "4548-4"

OMB_RACE = {value: code for value, code in RACE.items() if code[0] in OMB_RACE_CATEGORIES}
"""Synthea's ``patients.RACE`` values → OMB race category (code, display); ``other`` has no OMB category."""
OMB_ETHNICITY = dict(ETHNICITY)
"""Synthea's ``patients.ETHNICITY`` values → OMB ethnicity category (code, display)."""


# -- data --------------------------------------------------------------------------------------------------


def fixture(name: str) -> dict:
    """A real FHIR file shipped with the lab (see ``hitlab/labdata/lab04/SOURCES.md``)."""
    return json.loads((LABDATA / name).read_text(encoding="utf-8"))


FIXTURES_R4 = (
    "AllergyIntolerance-example.json", "Bundle-bundle-transaction.json", "Condition-example.json",
    "Encounter-example.json", "Immunization-example.json", "MedicationRequest-medrx0302.json",
    "Observation-blood-pressure.json", "Observation-example.json", "Organization-hl7.json", "Patient-example.json",
    "Practitioner-example.json", "Procedure-example.json", "uscore-blood-pressure.json",
    "uscore-condition-encounter-diagnosis-example1.json", "uscore-encounter-example-1.json",
    "uscore-patient-example.json",
)  # fmt: skip
"""The FHIR R4 core examples and US Core examples shipped with the lab."""
SYNTHEA_SAMPLE = "sample_complete_patient.json"
SYNTHEA_REFERENCE = ("hospitalInformation1678504395403.json", "practitionerInformation1678504395403.json")


@cache
def _fhir_dir() -> Path:
    from hitlab.data import build_dataset

    return build_dataset() / "fhir"


@cache
def _bundle_paths() -> tuple[tuple[Path, ...], tuple[Path, ...]]:
    files = sorted(_fhir_dir().glob("*.json"))
    reference = tuple(
        sorted(f for f in files if f.name.startswith(("hospitalInformation", "practitionerInformation")))
    )
    return reference, tuple(f for f in files if f not in reference)


def dataset_bundle(i: int) -> dict:
    """The ``i``-th patient bundle of the dataset (file names sorted), as a dict (a fresh copy)."""
    return copy.deepcopy(_dataset_bundle(i))


@cache
def _dataset_bundle(i: int) -> dict:
    return json.loads(_bundle_paths()[1][i].read_text(encoding="utf-8"))


@cache
def _reference_bundles() -> tuple[dict, ...]:
    return tuple(json.loads(p.read_text(encoding="utf-8")) for p in _bundle_paths()[0])


STORE_PATIENTS = 8
"""How many patient bundles the lab's store holds (with the hospital and practitioner bundles)."""


def store() -> FhirStore:
    """A fresh in-memory FHIR server holding the hospital and practitioner bundles and the first
    ``STORE_PATIENTS`` patient bundles of the dataset, at ``hitlab.fhirstore.BASE``."""
    return FhirStore.from_bundles(
        [*_reference_bundles(), *(_dataset_bundle(i) for i in range(STORE_PATIENTS))]
    )


@cache
def _search_store() -> FhirStore:
    return store()


def resources(bundle: dict) -> list[dict]:
    return [e["resource"] for e in bundle.get("entry", []) if "resource" in e]


@cache
def _patient_rows() -> tuple[dict, ...]:
    with open(_fhir_dir().parent / "csv" / "patients.csv", newline="", encoding="utf-8") as f:
        return tuple(csv.DictReader(f))


def _collection(*resources_: dict) -> dict:
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources_]}


def _validate(resource: dict):
    from fhir.resources.R4B import get_fhir_model_class

    return get_fhir_model_class(resource["resourceType"]).model_validate(resource)


VALUE_TYPES = ("Quantity", "CodeableConcept", "String", "Boolean", "Integer", "Range", "Ratio", "SampledData",
               "Time", "DateTime", "Period")  # fmt: skip
"""The R4 Observation ``value[x]`` types (element names ``valueQuantity`` ... ``valuePeriod``)."""


# -- the search questions (Q9, Q10) ------------------------------------------------------------------------------


@cache
def search_patient() -> dict:
    """The Patient the search questions are about: the store's patient with the most blood-pressure panels."""
    s = _search_store()
    return max(
        s.resources("Patient"),
        key=lambda p: s.search(f"Observation?subject=Patient/{p['id']}&code={BP_PANEL}")["total"],
    )


# -- the servers of Q11 and Q12 --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """A server in a known state, built fresh for every call: ``preload`` resources, and ``concurrent``
    writes by someone else, one after each of the first GETs of ``contested``."""

    label: str
    preload: tuple = ()
    concurrent: int = 0
    contested: str | None = None

    def store(self) -> ScenarioStore:
        s = ScenarioStore()
        for r in self.preload:
            s._write(copy.deepcopy(r))
        s.concurrent, s.contested = self.concurrent, self.contested
        return s


class ScenarioStore(FhirStore):
    """A :class:`FhirStore` that logs requests and lets a colleague write between your read and your write."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[str, str, dict]] = []
        self.concurrent = 0
        self.contested: str | None = None

    def request(self, method, url, body=None, headers=None) -> Response:
        self.log.append((method.upper(), url, dict(headers or {})))
        response = super().request(method, url, body, headers)
        if (
            method.upper() == "GET"
            and self.contested
            and self._path(url) == self.contested
            and self.concurrent > 0
        ):
            self.concurrent -= 1
            type_, rid = self.contested.split("/")
            current = self.get(type_, rid)
            current.setdefault("telecom", []).append(
                {"system": "email", "value": f"colleague{len(self.history(type_, rid))}@example.org"}
            )
            self._write(current)
        return response


def set_home_phone(patient: dict) -> dict:
    """The change of Q12: the patient's home phone becomes 555-0100 (other telecoms are kept)."""
    telecom = [
        t for t in patient.get("telecom", []) if not (t.get("system") == "phone" and t.get("use") == "home")
    ]
    patient["telecom"] = [*telecom, {"system": "phone", "value": "555-0100", "use": "home"}]
    return patient


def mark_inactive(patient: dict) -> dict:
    """Another change: ``active`` becomes false."""
    patient["active"] = False
    return patient
