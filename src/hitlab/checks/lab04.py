"""Checks of lab 04, FHIR resources: R4B models, a US Core Patient, blood-pressure components, transaction
bundles, references, codings and ``value[x]``, search, conditional create and version-aware update.

Every coding exercise is a named function, run on generated resources from the dataset's FHIR bundles and on
real files from other projects (``hitlab/labdata/lab04``, see its SOURCES.md), against the reference
implementations below. FHIR R4 4.0.1, US Core 6.1.0, read with the ``fhir.resources.R4B`` models.
"""

from __future__ import annotations

import copy
import csv
import functools
import inspect
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

from hitlab.checks.choice import choice_question, dict_code
from hitlab.checks.core import Incorrect, Question
from hitlab.checks.function import Case, function_question
from hitlab.fhirstore import BASE, FhirStore, Response, result_keys
from hitlab.terminology import ETHNICITY, OMB_RACE_CATEGORIES, RACE, SYSTEM_URIS

LABDATA = Path(__file__).resolve().parents[1] / "labdata" / "lab04"
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


@dataclass
class Outcome:
    """What a call left behind: its return value, the server it worked on, whether it changed its inputs."""

    value: Any
    store: ScenarioStore | None = field(default=None, repr=False)
    mutated: bool = False


def _isolated(fn: Any, outcome: bool) -> Any:
    """Call ``fn`` on deep copies of the case's arguments (a fresh store for each :class:`Scenario`), so no call
    can spoil the cases for the next one; with ``outcome``, return an :class:`Outcome` instead of the value."""
    if not callable(fn):
        return fn

    @functools.wraps(fn)
    def call(*args, **kwargs):
        fresh = [a.store() if isinstance(a, Scenario) else copy.deepcopy(a) for a in args]
        plain = [a for a in fresh if not isinstance(a, ScenarioStore)]
        before = copy.deepcopy(plain)
        value = fn(*fresh, **kwargs)
        if not outcome:
            return value
        store_ = next((a for a in fresh if isinstance(a, ScenarioStore)), None)
        return Outcome(value, store_, mutated=plain != before)

    call.__signature__ = inspect.signature(fn)
    return call


def _copying(fn: Any) -> Any:
    return _isolated(fn, outcome=False)


def _fresh(fn: Any) -> Any:
    return _isolated(fn, outcome=True)


def _stateful(q: Question) -> Question:
    return replace(q, prepare=_fresh)


def _copying_question(q: Question) -> Question:
    return replace(q, prepare=_copying)


# -- Q1 R4B or R5 ---------------------------------------------------------------------------------------------

q1 = choice_question(
    grade_id="lab04_r4b_models",
    title="Q1 which fhir.resources classes read R4 data",
    points=1,
    variable="r4_models",
    options={
        "A": "from fhir.resources.patient import Patient",
        "B": "from fhir.resources.R4B.patient import Patient",
        "C": "from fhir.resources.STU3.patient import Patient",
        "D": "any of them: FHIR JSON is the same in every release",
    },
    correct="B",
    why_not={
        "A": "The top-level modules of fhir.resources 7 and later are FHIR R5: Encounter.class, "
        "MedicationRequest.medication[x] and more changed shape, so R4 bundles fail to validate.",
        "C": "STU3 (3.0.2) is older than R4; R4 resources use elements STU3 does not have.",
        "D": "Releases rename, retype and remove elements; a model only accepts its own release's shape.",
    },
    hints=("fhir.resources names its sub-packages after FHIR releases; the top level is the newest.",),
    wrong=('r4_models = "A"',),
    alternatives=('r4_models = " b"',),
)


# -- Q2 US Core Patient ---------------------------------------------------------------------------------------


def _us_core_patient(row: dict) -> dict:
    if not row.get("Id"):
        raise ValueError("a patient row needs an Id: US Core requires Patient.identifier")
    race = OMB_RACE.get(row.get("RACE", ""))
    race_ext = (
        [{"url": "ombCategory", "valueCoding": {"system": OMB, "code": race[0], "display": race[1]}}]
        if race
        else []
    )
    race_ext.append({"url": "text", "valueString": race[1] if race else "Other"})
    extensions = [{"url": US_CORE + "us-core-race", "extension": race_ext}]
    eth = OMB_ETHNICITY.get(row.get("ETHNICITY", ""))
    if eth:
        extensions.append({"url": US_CORE + "us-core-ethnicity", "extension": [
            {"url": "ombCategory", "valueCoding": {"system": OMB, "code": eth[0], "display": eth[1]}},
            {"url": "text", "valueString": eth[1]}]})  # fmt: skip
    identifiers = [{"system": SID + "patient", "value": row["Id"]}]
    if row.get("SSN"):
        identifiers.append({"system": SSN, "value": row["SSN"].replace("-", "")})
    given = [g for g in (row.get("FIRST"), row.get("MIDDLE")) if g]
    patient = {
        "resourceType": "Patient",
        "meta": {"profile": [US_CORE + "us-core-patient"]},
        "extension": extensions,
        "identifier": identifiers,
        "name": [{"use": "official", "family": row.get("LAST", ""), "given": given}],
        "gender": {"M": "male", "F": "female"}.get(row.get("GENDER", ""), "unknown"),
    }
    if row.get("BIRTHDATE"):
        patient["birthDate"] = row["BIRTHDATE"]
    return patient


def _omb(patient: dict, name: str) -> tuple | None:
    exts = [e for e in patient.get("extension", []) if isinstance(e, dict) and e.get("url") == US_CORE + name]
    if not exts:
        return None
    subs = exts[0].get("extension", [])
    categories = sorted((s.get("valueCoding", {}).get("system"), s.get("valueCoding", {}).get("code"))
                        for s in subs if s.get("url") == "ombCategory")  # fmt: skip
    texts = [s.get("valueString") for s in subs if s.get("url") == "text"]
    return len(exts), categories, texts


def _patient_summary(p: dict) -> dict:
    official = [n for n in p.get("name", []) if isinstance(n, dict) and n.get("use") == "official"]
    return {
        "resourceType": p.get("resourceType"),
        "meta.profile": any(str(u).split("|")[0] == US_CORE + "us-core-patient" for u in p.get("meta", {}).get("profile", [])),
        "identifier": sorted((i.get("system"), i.get("value")) for i in p.get("identifier", [])),
        "name (official)": [(n.get("family"), n.get("given")) for n in official],
        "gender": p.get("gender"),
        "birthDate": p.get("birthDate"),
        "us-core-race": _omb(p, "us-core-race"),
        "us-core-ethnicity": _omb(p, "us-core-ethnicity"),
    }  # fmt: skip


def _compare_patient(got: Any, expected: dict, case: Case, title: str) -> None:
    if not isinstance(got, dict):
        raise Incorrect(
            f"{title}: for {case.label}, return a dict (the Patient's JSON), not {type(got).__name__}."
        )
    g, e = _patient_summary(got), _patient_summary(expected)
    for key in e:
        if g[key] != e[key]:
            raise Incorrect(f"{title}: for {case.label}, {key} is {g[key]!r}, which is not right.")
    try:
        _validate(got)
    except Exception as err:
        raise Incorrect(
            f"{title}: for {case.label}, the R4B Patient model rejects your resource: {err}"
        ) from None


def _patient_cases() -> list[Case]:
    rows = _patient_rows()
    chosen = list(rows[:25])
    for field_, values in (("RACE", [*OMB_RACE, "other"]), ("ETHNICITY", list(OMB_ETHNICITY))):
        for v in values:
            row = next((r for r in rows if r[field_] == v), None)
            if row is not None and row not in chosen:
                chosen.append(row)
    cases = [
        Case(f"patients.csv row Id={r['Id']} ({r['RACE']}, {r['ETHNICITY']})", (dict(r),)) for r in chosen
    ]
    base = dict(rows[0])
    cases += [
        Case("a row whose RACE is 'other'", ({**base, "RACE": "other"},)),
        Case("a row with no MIDDLE name", ({**base, "MIDDLE": ""},)),
        Case("a row with an empty GENDER", ({**base, "GENDER": ""},)),
        Case("a row with no SSN", ({**base, "SSN": ""},)),
        Case("a row with no Id", ({**base, "Id": ""},)),
    ]
    return cases


US_CORE_PATIENT_SOLUTION = """from fhir.resources.R4B.patient import Patient

from hitlab.checks.lab04 import OMB_ETHNICITY, OMB_RACE

US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"
OMB = "urn:oid:2.16.840.1.113883.6.238"


def us_core_patient(row: dict) -> dict:
    if not row.get("Id"):
        raise ValueError("US Core requires an identifier: the row has no Id")
    race = OMB_RACE.get(row["RACE"])
    race_parts = []
    if race:
        race_parts.append({"url": "ombCategory", "valueCoding": {"system": OMB, "code": race[0], "display": race[1]}})
    race_parts.append({"url": "text", "valueString": race[1] if race else "Other"})
    extensions = [{"url": US_CORE + "us-core-race", "extension": race_parts}]
    ethnicity = OMB_ETHNICITY.get(row["ETHNICITY"])
    if ethnicity:
        code, display = ethnicity
        extensions.append({"url": US_CORE + "us-core-ethnicity", "extension": [
            {"url": "ombCategory", "valueCoding": {"system": OMB, "code": code, "display": display}},
            {"url": "text", "valueString": display},
        ]})
    identifiers = [{"system": "https://hitlab.example.org/fhir/sid/patient", "value": row["Id"]}]
    if row["SSN"]:
        identifiers.append({"system": "http://hl7.org/fhir/sid/us-ssn", "value": row["SSN"].replace("-", "")})
    patient = {
        "resourceType": "Patient",
        "meta": {"profile": [US_CORE + "us-core-patient"]},
        "extension": extensions,
        "identifier": identifiers,
        "name": [{"use": "official", "family": row["LAST"], "given": [g for g in (row["FIRST"], row["MIDDLE"]) if g]}],
        "gender": {"M": "male", "F": "female"}.get(row["GENDER"], "unknown"),
    }
    if row["BIRTHDATE"]:
        patient["birthDate"] = row["BIRTHDATE"]
    Patient.model_validate(patient)  # raises if the structure is wrong
    return patient"""

q2 = _copying_question(
    function_question(
        grade_id="lab04_us_core_patient",
        title="Q2 US Core Patient from a CSV row",
        points=3,
        name="us_core_patient",
        parameters=("row",),
        reference=_us_core_patient,
        cases=_patient_cases,
        compare=_compare_patient,
        hints=(
            "Race and ethnicity are complex extensions: one extension with the profile's URL, holding "
            "sub-extensions whose `url` is just `ombCategory` (a `valueCoding`) or `text` (a `valueString`).",
            "The OMB codes live in the code system `urn:oid:2.16.840.1.113883.6.238`. Synthea's `other` race has no "
            "OMB category: keep only the `text` sub-extension (US Core requires `text`).",
            "SSNs go in the `http://hl7.org/fhir/sid/us-ssn` system without dashes; `gender` is 1..1 in US Core, so "
            "an empty GENDER becomes `unknown`; birthDate is omitted when empty.",
        ),
        solution_code=US_CORE_PATIENT_SOLUTION,
        wrong=(
            US_CORE_PATIENT_SOLUTION.replace('"url": "ombCategory"', '"url": US_CORE + "ombCategory"'),
            US_CORE_PATIENT_SOLUTION.replace('row["SSN"].replace("-", "")', 'row["SSN"]'),
        ),
        alternatives=(
            "import json\n\n"
            + US_CORE_PATIENT_SOLUTION.replace(
                "    Patient.model_validate(patient)  # raises if the structure is wrong\n    return patient",
                "    return json.loads(Patient.model_validate(patient).model_dump_json())",
            ),
        ),
    )
)


# -- Q3 validation errors ---------------------------------------------------------------------------------------


def _validation_errors(resource: dict) -> list[str]:
    from fhir.resources.R4B import get_fhir_model_class
    from pydantic import ValidationError

    type_ = resource.get("resourceType")
    try:
        model = get_fhir_model_class(type_)
    except (KeyError, ValueError, TypeError):
        return ["resourceType"]
    try:
        model.model_validate(resource)
    except ValidationError as err:
        return sorted({".".join([type_, *map(str, e["loc"])]) for e in err.errors()})
    return []


def _validation_cases() -> list[Case]:
    cases = [Case(f"{name} (valid)", (fixture(name),)) for name in FIXTURES_R4]
    seen = set()
    for r in resources(dataset_bundle(0)) + resources(fixture(SYNTHEA_SAMPLE))[:40]:
        if r["resourceType"] not in seen:
            seen.add(r["resourceType"])
            cases.append(Case(f"a dataset {r['resourceType']} (valid)", (r,)))
    obs = fixture("Observation-example.json")
    pat = fixture("uscore-patient-example.json")
    bp = fixture("uscore-blood-pressure.json")
    broken = [
        ("an Observation without status", {k: v for k, v in obs.items() if k != "status"}),
        ("a Patient born on 1987-02-30", {**pat, "birthDate": "1987-02-30"}),
        ("a Patient with an unknown element 'colour'", {**pat, "colour": "blue"}),
        ("an Observation whose code is a plain string", {**obs, "code": "29463-7"}),
        ("an Observation whose valueQuantity.value is text", {**obs, "valueQuantity": {"value": "heavy"}}),
        ("an Observation with both valueQuantity and valueString", {**obs, "valueString": "185 lbs"}),
        ("a blood pressure whose second component has no code",
         {**bp, "component": [bp["component"][0], {"valueQuantity": bp["component"][1]["valueQuantity"]}]}),
        ("an Observation dated 2024-13-01", {**obs, "effectiveDateTime": "2024-13-01"}),
        ("a resource of type 'Patients'", {**pat, "resourceType": "Patients"}),
        ("a resource with no resourceType", {k: v for k, v in pat.items() if k != "resourceType"}),
        ("a Patient with gender 'M' (a code outside the value set)", {**pat, "gender": "M"}),
        ("a Patient with two problems", {**pat, "birthDate": "20-02-1987", "colour": "blue"}),
    ]  # fmt: skip
    return cases + [Case(label, (r,)) for label, r in broken]


def _compare_errors(got: Any, expected: list[str], case: Case, title: str) -> None:
    if not isinstance(got, list) or not all(isinstance(x, str) for x in got):
        raise Incorrect(f"{title}: for {case.label}, return a list of strings, got {type(got).__name__}.")
    if sorted(set(got)) != got:
        raise Incorrect(f"{title}: for {case.label}, return the paths sorted and without duplicates.")
    if got != expected:
        if not expected:
            raise Incorrect(f"{title}: {case.label} is valid for R4B, but your function reports {got[:3]!r}.")
        missing = [p for p in expected if p not in got]
        if missing:
            raise Incorrect(f"{title}: for {case.label}, the error at {missing[0]!r} is not reported.")
        extra = next(p for p in got if p not in expected)
        raise Incorrect(f"{title}: for {case.label}, {extra!r} is not an error.")


VALIDATION_SOLUTION = """from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError


def validation_errors(resource: dict) -> list[str]:
    resource_type = resource.get("resourceType")
    try:
        model = get_fhir_model_class(resource_type)
    except (KeyError, ValueError, TypeError):
        return ["resourceType"]
    try:
        model.model_validate(resource)
    except ValidationError as err:
        return sorted({".".join([resource_type, *map(str, e["loc"])]) for e in err.errors()})
    return []"""

q3 = _copying_question(
    function_question(
        grade_id="lab04_validation_errors",
        title="Q3 validation errors",
        points=2,
        name="validation_errors",
        parameters=("resource",),
        reference=_validation_errors,
        cases=_validation_cases,
        compare=_compare_errors,
        hints=(
            "`fhir.resources.R4B.get_fhir_model_class(resource_type)` gives the model class; it raises for an "
            "unknown type. `Model.model_validate(resource)` raises pydantic's `ValidationError`.",
            "`err.errors()` lists every problem; each has a `loc` tuple such as `('valueQuantity', 'value')`. "
            "A problem with the resource as a whole (two `value[x]`) has an empty `loc`: its path is just the type.",
            "Use the R4B package: the default (R5) models reject valid R4 resources such as Synthea's Encounters.",
        ),
        solution_code=VALIDATION_SOLUTION,
        wrong=(
            VALIDATION_SOLUTION.replace("from fhir.resources.R4B import", "from fhir.resources import"),
            VALIDATION_SOLUTION.replace(
                'return sorted({".".join([resource_type, *map(str, e["loc"])]) for e in err.errors()})',
                'e = err.errors()[0]\n        return [".".join([resource_type, *map(str, e["loc"])])]',
            ),
        ),
        alternatives=(
            """import importlib

from pydantic import ValidationError


def validation_errors(resource):
    rtype = resource.get("resourceType")
    try:
        model = getattr(importlib.import_module(f"fhir.resources.R4B.{rtype.lower()}"), rtype)
    except (AttributeError, ImportError):
        return ["resourceType"]
    try:
        model.model_validate(resource)
    except ValidationError as err:
        return sorted({".".join(str(p) for p in (rtype, *e["loc"])) for e in err.errors()})
    return []""",
        ),
    )
)


# -- Q4 flatten blood pressure ------------------------------------------------------------------------------------


def _has_coding(concept: Any, system: str, code: str) -> bool:
    return isinstance(concept, dict) and any(
        c.get("system") == system and c.get("code") == code
        for c in concept.get("coding", [])
        if isinstance(c, dict)
    )


def _flatten_bp(bundle: dict) -> list[dict]:
    rows = []
    for e in bundle.get("entry", []):
        obs = e.get("resource") or {}
        if obs.get("resourceType") != "Observation" or not _has_coding(obs.get("code"), LOINC, BP_PANEL):
            continue
        values = {}
        for comp in obs.get("component", []):
            for key, code in (("systolic", SYSTOLIC), ("diastolic", DIASTOLIC)):
                if _has_coding(comp.get("code"), LOINC, code) and "valueQuantity" in comp:
                    values[key] = comp["valueQuantity"]
        first = values.get("systolic") or values.get("diastolic") or {}
        effective = (
            obs.get("effectiveDateTime")
            or obs.get("effectiveInstant")
            or obs.get("effectivePeriod", {}).get("start")
        )
        rows.append({
            "id": obs.get("id"),
            "patient": obs.get("subject", {}).get("reference"),
            "effective": effective,
            "systolic": values.get("systolic", {}).get("value"),
            "diastolic": values.get("diastolic", {}).get("value"),
            "unit": first.get("code") if first.get("system") == UCUM else first.get("unit"),
        })  # fmt: skip
    return rows


def _bp_cases() -> list[Case]:
    cases = [Case(f"dataset patient bundle {i}", (dataset_bundle(i),)) for i in (0, 1, 2)]
    cases.append(Case(f"Synthea's {SYNTHEA_SAMPLE}", (fixture(SYNTHEA_SAMPLE),)))
    for name in ("Observation-blood-pressure.json", "uscore-blood-pressure.json", "Observation-example.json"):
        cases.append(Case(f"a Bundle holding {name}", (_collection(fixture(name)),)))
    bp = fixture("uscore-blood-pressure.json")
    no_dia = copy.deepcopy(bp)
    no_dia["component"][1] = {
        "code": bp["component"][1]["code"],
        "dataAbsentReason": {"text": "cuff slipped"},
    }
    period = {k: v for k, v in bp.items() if k != "effectiveDateTime"} | {"id": "bp-period",
              "effectivePeriod": {"start": "2024-05-01T10:00:00Z", "end": "2024-05-01T10:05:00Z"}}  # fmt: skip
    snomed_only = copy.deepcopy(bp) | {"id": "bp-snomed"}
    snomed_only["code"] = {"coding": [{"system": SNOMED, "code": "75367002"}], "text": "Blood pressure"}
    other_system = copy.deepcopy(bp) | {"id": "bp-local"}
    other_system["code"]["coding"][0]["system"] = "http://acme.org/codes"
    swapped = copy.deepcopy(bp) | {"id": "bp-swapped"}
    swapped["component"].reverse()
    cases.append(Case("a Bundle with a missing diastolic, a period, a SNOMED-coded and a local-coded panel, and "
                      "components in reverse order", (_collection(no_dia, period, snomed_only, other_system, swapped),)))  # fmt: skip
    return cases


def _compare_rows(got: Any, expected: list[dict], case: Case, title: str) -> None:
    if not isinstance(got, list) or not all(isinstance(r, dict) for r in got):
        raise Incorrect(f"{title}: for {case.label}, return a list of dicts.")
    if len(got) != len(expected):
        raise Incorrect(f"{title}: for {case.label}, expected {len(expected)} rows, got {len(got)}.")
    for i, (g, e) in enumerate(zip(got, expected, strict=True)):
        if set(g) != set(e):
            raise Incorrect(
                f"{title}: for {case.label}, row {i + 1} should have exactly the keys {sorted(e)}."
            )
        for k in e:
            if g[k] != e[k]:
                raise Incorrect(
                    f"{title}: for {case.label}, row {i + 1} ({k}) is {g[k]!r}, which is not right."
                )


BP_SOLUTION = """def flatten_blood_pressure(bundle: dict) -> list[dict]:
    def has(concept, system, code):
        return any(c.get("system") == system and c.get("code") == code for c in (concept or {}).get("coding", []))

    rows = []
    for entry in bundle.get("entry", []):
        obs = entry.get("resource", {})
        if obs.get("resourceType") != "Observation" or not has(obs.get("code"), "http://loinc.org", "85354-9"):
            continue
        quantities = {}
        for component in obs.get("component", []):
            for name, code in (("systolic", "8480-6"), ("diastolic", "8462-4")):
                if has(component.get("code"), "http://loinc.org", code) and "valueQuantity" in component:
                    quantities[name] = component["valueQuantity"]
        q = quantities.get("systolic") or quantities.get("diastolic") or {}
        rows.append({
            "id": obs.get("id"),
            "patient": obs.get("subject", {}).get("reference"),
            "effective": obs.get("effectiveDateTime") or obs.get("effectiveInstant")
            or obs.get("effectivePeriod", {}).get("start"),
            "systolic": quantities.get("systolic", {}).get("value"),
            "diastolic": quantities.get("diastolic", {}).get("value"),
            "unit": q.get("code") if q.get("system") == "http://unitsofmeasure.org" else q.get("unit"),
        })
    return rows"""

q4 = _copying_question(
    function_question(
        grade_id="lab04_flatten_blood_pressure",
        title="Q4 flatten blood pressure",
        points=3,
        name="flatten_blood_pressure",
        parameters=("bundle",),
        reference=_flatten_bp,
        cases=_bp_cases,
        compare=_compare_rows,
        hints=(
            "Select panels by a coding with system `http://loinc.org` and code `85354-9`; then look at each "
            "`component`, never at the panel's own `value[x]` (it has none).",
            "Find systolic and diastolic by their LOINC codes, not by position: Synthea's own sample lists the "
            "diastolic first. A component may have a `dataAbsentReason` instead of a value: that value is None.",
            "`effective[x]` can be `effectiveDateTime`, `effectiveInstant` (Synthea's sample) or `effectivePeriod` "
            "(use its start). The unit is the UCUM `code` (`mm[Hg]`), not the human-readable `unit` (`mmHg`).",
        ),
        solution_code=BP_SOLUTION,
        wrong=(
            BP_SOLUTION.replace(
                'quantities.get("systolic", {}).get("value")', 'obs["component"][0]["valueQuantity"]["value"]'
            ),
            BP_SOLUTION.replace(
                'q.get("code") if q.get("system") == "http://unitsofmeasure.org" else q.get("unit")',
                'q.get("unit")',
            ),
        ),
        alternatives=(
            """LOINC = "http://loinc.org"


def coded(concept, code):
    return any(c.get("system") == LOINC and c.get("code") == code for c in (concept or {}).get("coding", []))


def quantity(obs, code):
    for comp in obs.get("component", []):
        if coded(comp.get("code"), code) and "valueQuantity" in comp:
            return comp["valueQuantity"]
    return None


def flatten_blood_pressure(bundle):
    out = []
    for obs in (e["resource"] for e in bundle.get("entry", []) if "resource" in e):
        if obs["resourceType"] != "Observation" or not coded(obs.get("code"), "85354-9"):
            continue
        sys_q, dia_q = quantity(obs, "8480-6"), quantity(obs, "8462-4")
        q = sys_q or dia_q
        unit = None
        if q is not None:
            unit = q.get("code") if q.get("system") == "http://unitsofmeasure.org" else q.get("unit")
        effective = obs.get("effectiveDateTime", obs.get("effectiveInstant"))
        if effective is None and "effectivePeriod" in obs:
            effective = obs["effectivePeriod"].get("start")
        out.append({"id": obs.get("id"), "patient": obs.get("subject", {}).get("reference"), "effective": effective,
                    "systolic": sys_q and sys_q.get("value"), "diastolic": dia_q and dia_q.get("value"), "unit": unit})
    return out""",
        ),
    )
)


# -- Q5 preferred coding --------------------------------------------------------------------------------------------


def _preferred_coding(concept: dict, systems: list[str]) -> dict | None:
    codings = [c for c in (concept or {}).get("coding", []) if isinstance(c, dict)]
    for system in systems:
        matching = [c for c in codings if c.get("system") == system]
        if matching:
            return next((c for c in matching if c.get("userSelected") is True), matching[0])
    return None


def _concepts(res: Any, out: list) -> None:
    if isinstance(res, dict):
        if "coding" in res:
            out.append(res)
        for v in res.values():
            _concepts(v, out)
    elif isinstance(res, list):
        for v in res:
            _concepts(v, out)


def _coding_cases() -> list[Case]:
    concepts: list[dict] = []
    extra = [fixture("Observation-blood-pressure.json"), fixture("MedicationRequest-medrx0302.json")]
    for r in [*resources(dataset_bundle(3))[:60], *extra]:
        _concepts(r, concepts)
    unique = list({json.dumps(c, sort_keys=True): c for c in concepts}.values())
    preferences = (
        [SNOMED, ICD10CM],
        [ICD10CM, SNOMED],
        [LOINC],
        [RXNORM, SNOMED],
        ["http://acme.org/devices/clinical-codes", LOINC],
    )
    cases = [Case(f"a CodeableConcept with {[c.get('system') for c in concept['coding']]}, preferring {systems}",
                  (concept, list(systems))) for concept in unique for systems in preferences]  # fmt: skip
    two = {"coding": [{"system": SNOMED, "code": "38341003"}, {"system": ICD10CM, "code": "I10"},
                      {"system": SNOMED, "code": "59621000", "userSelected": True}], "text": "Hypertension"}  # fmt: skip
    cases += [
        Case("a concept with only text", ({"text": "high blood pressure"}, [SNOMED])),
        Case("two SNOMED CT codings, the second chosen by the user", (two, [SNOMED, ICD10CM])),
        Case("the same concept, preferring ICD-10-CM", (two, [ICD10CM, SNOMED])),
        Case("an empty preference list", (two, [])),
    ]
    return cases


CODING_SOLUTION = """def preferred_coding(concept: dict, systems: list[str]) -> dict | None:
    codings = concept.get("coding", [])
    for system in systems:
        matching = [c for c in codings if c.get("system") == system]
        if matching:
            chosen = [c for c in matching if c.get("userSelected") is True]
            return (chosen or matching)[0]
    return None"""

q5 = _copying_question(
    function_question(
        grade_id="lab04_preferred_coding",
        title="Q5 preferred coding",
        points=2,
        name="preferred_coding",
        parameters=("concept", "systems"),
        reference=_preferred_coding,
        cases=_coding_cases,
        hints=(
            "Loop over the systems in order of preference, not over the codings: the first system that has any "
            "coding wins, wherever that coding sits in the list.",
            "Within the winning system, a coding with `userSelected: true` beats the others; a concept with only "
            "`text` has no `coding` at all.",
        ),
        solution_code=CODING_SOLUTION,
        wrong=(
            """def preferred_coding(concept: dict, systems: list[str]) -> dict | None:
    for coding in concept.get("coding", []):
        if coding.get("system") in systems:
            return coding
    return None""",
        ),
        alternatives=(
            """def preferred_coding(concept, systems):
    rank = {s: i for i, s in enumerate(systems)}
    codings = [c for c in concept.get("coding", []) if c.get("system") in rank]
    return min(codings, key=lambda c: (rank[c["system"]], not c.get("userSelected", False)), default=None)""",
        ),
    )
)


# -- Q6 observation value ----------------------------------------------------------------------------------------------

VALUE_TYPES = ("Quantity", "CodeableConcept", "String", "Boolean", "Integer", "Range", "Ratio", "SampledData",
               "Time", "DateTime", "Period")  # fmt: skip
"""The R4 Observation ``value[x]`` types (element names ``valueQuantity`` ... ``valuePeriod``)."""


def _observation_value(obs: dict) -> tuple | None:
    keys = [k for k in obs if k.startswith("value")]
    for k in keys:
        if k[5:] not in VALUE_TYPES:
            raise ValueError(f"{k} is not an R4 Observation value[x] element")
    if len(keys) > 1:
        raise ValueError(f"value[x] has one type only, found {keys}")
    if not keys:
        return None
    v = obs[keys[0]]
    if keys[0] == "valueQuantity":
        return v.get("value"), v.get("code") if v.get("system") == UCUM and "code" in v else v.get("unit")
    if keys[0] == "valueCodeableConcept":
        codings = v.get("coding", [])
        return (codings[0].get("code"), codings[0].get("system")) if codings else (v.get("text"), None)
    return v, None


def _value_cases() -> list[Case]:
    seen, cases = set(), []
    for i in (0, 1, 2, 3):
        for r in resources(dataset_bundle(i)):
            if r["resourceType"] == "Observation":
                kind = (next((k for k in r if k.startswith("value")), "none"), r["code"]["coding"][0]["code"])
                if kind not in seen:
                    seen.add(kind)
                    cases.append(Case(f"a dataset Observation {kind[1]} with {kind[0]}", (r,)))
    for name in ("Observation-example.json", "Observation-blood-pressure.json", "uscore-blood-pressure.json"):
        cases.append(Case(name, (fixture(name),)))
    smoking = [
        r
        for r in resources(fixture(SYNTHEA_SAMPLE))
        if r["resourceType"] == "Observation" and "valueCodeableConcept" in r
    ]
    if smoking:
        cases.append(Case(f"a valueCodeableConcept from {SYNTHEA_SAMPLE}", (smoking[0],)))
    base = {"resourceType": "Observation", "status": "final", "code": {"text": "test"}}
    made = [
        ("valueInteger 0", {"valueInteger": 0}),
        ("valueBoolean false", {"valueBoolean": False}),
        ("an empty valueString", {"valueString": ""}),
        ("a dataAbsentReason", {"dataAbsentReason": {"text": "patient refused"}}),
        ("a valueQuantity with a unit but no code", {"valueQuantity": {"value": 7.2, "unit": "%"}}),
        ("a valueQuantity in a non-UCUM system", {"valueQuantity": {"value": 3, "unit": "tabs", "system": "http://acme.org/units", "code": "TAB"}}),
        ("a valueCodeableConcept with only text", {"valueCodeableConcept": {"text": "positive"}}),
        ("a valueRange", {"valueRange": {"low": {"value": 1}, "high": {"value": 2}}}),
        ("a valueDateTime", {"valueDateTime": "2024-03-01"}),
        ("both valueQuantity and valueString", {"valueQuantity": {"value": 1}, "valueString": "1"}),
        ("a valueNumber (not an R4 type)", {"valueNumber": 5}),
    ]  # fmt: skip
    return cases + [Case(f"an Observation with {label}", (base | extra,)) for label, extra in made]


def _compare_value(got: Any, expected: Any, case: Case, title: str) -> None:
    if (
        got != expected
        or type(got) is not type(expected)
        or (
            isinstance(got, tuple) and any(type(a) is not type(b) for a, b in zip(got, expected, strict=True))
        )
    ):
        raise Incorrect(f"{title}: for {case.label}, your function returned {got!r}, which is not right.")


VALUE_SOLUTION = """VALUE_TYPES = ("Quantity", "CodeableConcept", "String", "Boolean", "Integer", "Range", "Ratio",
               "SampledData", "Time", "DateTime", "Period")


def observation_value(obs: dict) -> tuple | None:
    keys = [k for k in obs if k.startswith("value")]
    for k in keys:
        if k.removeprefix("value") not in VALUE_TYPES:
            raise ValueError(f"{k} is not an R4 Observation value[x]")
    if len(keys) > 1:
        raise ValueError(f"value[x] allows one type, found {keys}")
    if not keys:
        return None
    value = obs[keys[0]]
    if keys[0] == "valueQuantity":
        ucum = value.get("system") == "http://unitsofmeasure.org" and "code" in value
        return value.get("value"), value["code"] if ucum else value.get("unit")
    if keys[0] == "valueCodeableConcept":
        if value.get("coding"):
            return value["coding"][0].get("code"), value["coding"][0].get("system")
        return value.get("text"), None
    return value, None"""

q6 = _copying_question(
    function_question(
        grade_id="lab04_observation_value",
        title="Q6 observation value[x]",
        points=2,
        name="observation_value",
        parameters=("obs",),
        reference=_observation_value,
        cases=_value_cases,
        compare=_compare_value,
        hints=(
            "`value[x]` appears in JSON as one element named `value` + a type: `valueQuantity`, "
            "`valueCodeableConcept`, `valueString`, `valueBoolean`, `valueInteger` ... Find the key, then branch.",
            "Test for the key's presence, not the value's truth: `valueInteger: 0`, `valueBoolean: false` and "
            '`valueString: ""` are values. No `value[x]` (components only, or a `dataAbsentReason`) returns None.',
        ),
        solution_code=VALUE_SOLUTION,
        wrong=(
            VALUE_SOLUTION.replace(
                "    if not keys:\n        return None\n    value = obs[keys[0]]",
                "    if not keys or not obs[keys[0]]:\n        return None\n    value = obs[keys[0]]",
            ),
        ),
        alternatives=(
            """R4_TYPES = {"Quantity", "CodeableConcept", "String", "Boolean", "Integer", "Range", "Ratio", "SampledData",
            "Time", "DateTime", "Period"}


def observation_value(obs):
    found = {k[5:]: v for k, v in obs.items() if k.startswith("value")}
    if not found.keys() <= R4_TYPES or len(found) > 1:
        raise ValueError(f"bad value[x]: {sorted(found)}")
    if not found:
        return None
    (kind, value), = found.items()
    match kind:
        case "Quantity":
            if value.get("system") == "http://unitsofmeasure.org" and "code" in value:
                return value.get("value"), value["code"]
            return value.get("value"), value.get("unit")
        case "CodeableConcept":
            first = (value.get("coding") or [None])[0]
            return (first.get("code"), first.get("system")) if first else (value.get("text"), None)
        case _:
            return value, None""",
        ),
    )
)


# -- Q7 transaction bundle --------------------------------------------------------------------------------------------


def _is_patient_ref(ref: str | None, patient: dict) -> bool:
    pid = patient.get("id")
    return ref in (f"Patient/{pid}", f"urn:uuid:{pid}")


def _transaction_bundle(patient: dict, observations: list[dict]) -> dict:
    patient_url = f"urn:uuid:{uuid.uuid4()}"
    entries = [{"fullUrl": patient_url, "resource": {k: v for k, v in copy.deepcopy(patient).items() if k != "id"},
                "request": {"method": "POST", "url": "Patient"}}]  # fmt: skip
    for obs in observations:
        if not _is_patient_ref(obs.get("subject", {}).get("reference"), patient):
            raise ValueError(f"Observation {obs.get('id')} is not about this patient")
        o = {k: v for k, v in copy.deepcopy(obs).items() if k != "id"}
        o["subject"] = {"reference": patient_url}
        if o.get("encounter", {}).get("reference", "").startswith("urn:uuid:"):
            del o["encounter"]  # it would point outside the bundle
        entries.append(
            {
                "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                "resource": o,
                "request": {"method": "POST", "url": "Observation"},
            }
        )
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["reference"]] if isinstance(node.get("reference"), str) else []
        return own + [r for k, v in node.items() if k != "reference" for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _transaction_cases() -> list[Case]:
    cases = []
    for i in (0, 4):
        rs = resources(dataset_bundle(i))
        obs = [r for r in rs if r["resourceType"] == "Observation"][:12]
        cases.append(Case(f"the Patient and 12 Observations of dataset bundle {i}", (rs[0], obs)))
    ex = fixture("Patient-example.json")
    cases.append(
        Case(
            "Patient-example.json with Observation-example.json and Observation-blood-pressure.json",
            (ex, [fixture("Observation-example.json"), fixture("Observation-blood-pressure.json")]),
        )
    )
    cases.append(
        Case(
            "uscore-patient-example.json with uscore-blood-pressure.json",
            (fixture("uscore-patient-example.json"), [fixture("uscore-blood-pressure.json")]),
        )
    )
    cases.append(Case("a Patient with no Observations", (ex, [])))
    stranger = fixture("Observation-example.json") | {"subject": {"reference": "Patient/somebody-else"}}
    cases.append(
        Case("an Observation about another patient", (ex, [fixture("Observation-example.json"), stranger]))
    )
    return cases


def _compare_transaction(outcome_: Any, _expected: Any, case: Case, title: str) -> None:
    observations = case.args[1]
    where = f"{title}: for {case.label},"
    if outcome_.mutated:
        raise Incorrect(
            f"{where} your function changed its input resources: copy them (copy.deepcopy) first."
        )
    got = outcome_.value
    if not isinstance(got, dict):
        raise Incorrect(f"{where} return the Bundle as a dict.")
    try:
        _validate(got)
    except Exception as err:
        raise Incorrect(f"{where} the R4B Bundle model rejects your bundle: {str(err)[:300]}") from None
    if got.get("type") != "transaction":
        raise Incorrect(
            f"{where} Bundle.type should say how the server must process it; {got.get('type')!r} is not right."
        )
    entries = got.get("entry", [])
    if len(entries) != 1 + len(observations):
        raise Incorrect(f"{where} expected {1 + len(observations)} entries, got {len(entries)}.")
    urls = [e.get("fullUrl", "") for e in entries]
    for u in urls:
        if not re.fullmatch(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", u):
            raise Incorrect(f"{where} fullUrl {u!r} is not a urn:uuid: with a lower-case UUID.")
    if len(set(urls)) != len(urls):
        raise Incorrect(f"{where} two entries share a fullUrl.")
    for e in entries:
        req, res = e.get("request", {}), e.get("resource", {})
        if req.get("method") != "POST" or req.get("url") != res.get("resourceType"):
            raise Incorrect(f"{where} the {res.get('resourceType')} entry's request should create it: "
                            f"method {req.get('method')!r}, url {req.get('url')!r} is not right.")  # fmt: skip
    types = [e["resource"].get("resourceType") for e in entries]
    if types.count("Patient") != 1 or types.count("Observation") != len(observations):
        raise Incorrect(f"{where} expected one Patient and {len(observations)} Observations, got {types}.")
    patient_url = next(e["fullUrl"] for e in entries if e["resource"]["resourceType"] == "Patient")
    for ref in _refs([e["resource"] for e in entries]):
        if ref.startswith("urn:uuid:") and ref not in urls:
            raise Incorrect(f"{where} the reference {ref!r} does not resolve to a fullUrl in the bundle.")
    got_obs = [e["resource"] for e in entries if e["resource"]["resourceType"] == "Observation"]
    for g, o in zip(got_obs, observations, strict=True):
        if g.get("subject", {}).get("reference") != patient_url:
            raise Incorrect(
                f"{where} an Observation's subject does not point to the Patient entry's fullUrl."
            )
        for k in (
            "code",
            "status",
            "component",
            "valueQuantity",
            "valueCodeableConcept",
            "effectiveDateTime",
        ):
            if g.get(k) != o.get(k):
                raise Incorrect(f"{where} an Observation's {k} changed on the way into the bundle.")


TRANSACTION_SOLUTION = """import copy
import uuid


def transaction_bundle(patient: dict, observations: list[dict]) -> dict:
    pid = patient.get("id")
    patient_url = f"urn:uuid:{uuid.uuid4()}"
    body = copy.deepcopy(patient)
    body.pop("id", None)
    entries = [{"fullUrl": patient_url, "resource": body, "request": {"method": "POST", "url": "Patient"}}]
    for obs in observations:
        if obs.get("subject", {}).get("reference") not in (f"Patient/{pid}", f"urn:uuid:{pid}"):
            raise ValueError(f"Observation {obs.get('id')} is about someone else")
        o = copy.deepcopy(obs)
        o.pop("id", None)
        o["subject"] = {"reference": patient_url}
        if o.get("encounter", {}).get("reference", "").startswith("urn:uuid:"):
            del o["encounter"]  # a urn:uuid that is not in this bundle cannot be resolved
        entries.append({"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": o,
                        "request": {"method": "POST", "url": "Observation"}})
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}"""

q7 = _stateful(
    function_question(
        grade_id="lab04_transaction_bundle",
        title="Q7 transaction Bundle with urn:uuid references",
        points=3,
        name="transaction_bundle",
        parameters=("patient", "observations"),
        reference=_fresh(_transaction_bundle),
        cases=_transaction_cases,
        compare=_compare_transaction,
        hints=(
            'Each entry gets `fullUrl: "urn:uuid:<uuid4>"`, the `resource`, and `request: {method: POST, url: '
            "<resourceType>}`. A reference to another entry uses that entry's fullUrl; the server rewrites it to the "
            "new `Patient/<id>` when it processes the transaction.",
            "Dataset Observations carry `encounter: {reference: urn:uuid:...}` pointing at an Encounter that is not in "
            "your bundle: a urn:uuid only means something inside one bundle, so drop that element.",
            "Work on copies (`copy.deepcopy`): the caller's resources must not change. Refuse (ValueError) an "
            "Observation whose subject is not `Patient/<id>` or `urn:uuid:<id>` of the given patient.",
        ),
        solution_code=TRANSACTION_SOLUTION,
        wrong=(
            TRANSACTION_SOLUTION.replace("        o = copy.deepcopy(obs)\n", "        o = obs\n"),
            TRANSACTION_SOLUTION.replace(
                'o["subject"] = {"reference": patient_url}', 'o["subject"] = {"reference": f"Patient/{pid}"}'
            ),
        ),
        alternatives=(
            """import json
import uuid


def transaction_bundle(patient, observations):
    def entry(resource):
        resource = json.loads(json.dumps(resource))  # a deep copy
        resource.pop("id", None)
        url = "urn:uuid:" + str(uuid.uuid4())
        return {"fullUrl": url, "resource": resource, "request": {"method": "POST", "url": resource["resourceType"]}}

    mine = {"Patient/" + patient["id"], "urn:uuid:" + patient["id"]}
    first = entry(patient)
    entries = [first]
    for obs in observations:
        if obs.get("subject", {}).get("reference") not in mine:
            raise ValueError("not this patient's observation")
        e = entry(obs)
        e["resource"]["subject"] = {"reference": first["fullUrl"]}
        encounter = e["resource"].get("encounter", {}).get("reference", "")
        if encounter.startswith("urn:uuid:"):
            e["resource"].pop("encounter")
        entries.append(e)
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}""",
        ),
    )
)


# -- Q8 resolve references -------------------------------------------------------------------------------------------

_RELATIVE = re.compile(r"^([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})$")
_CONDITIONAL = re.compile(r"^([A-Z][A-Za-z]+)\?identifier=([^|&]*)\|([^&]+)$")


def _resolve_references(entries: list[dict]) -> dict[str, str | None]:
    """Every reference in the entries' resources → the ``Type/id`` it lands on, or None. A ``urn:uuid:``
    reference is looked up among the entries' ``fullUrl`` values (R4 bundle.html#references), not the ids."""
    resources_ = [e["resource"] for e in entries]
    by_key = {(r.get("resourceType"), r.get("id")) for r in resources_}
    by_url: dict[str, list[str]] = {}
    by_identifier: dict[tuple, list[str]] = {}
    for e in entries:
        r = e["resource"]
        if "fullUrl" in e:
            by_url.setdefault(e["fullUrl"], []).append(f"{r['resourceType']}/{r.get('id')}")
        for i in r.get("identifier", []) if isinstance(r.get("identifier"), list) else []:
            by_identifier.setdefault((r["resourceType"], i.get("system"), i.get("value")), []).append(
                f"{r['resourceType']}/{r.get('id')}"
            )
    out: dict[str, str | None] = {}
    for ref in _refs(resources_):
        if m := _RELATIVE.match(ref):
            out[ref] = ref if (m[1], m[2]) in by_key else None
        elif ref.startswith("urn:uuid:"):
            found = by_url.get(ref, [])
            out[ref] = found[0] if len(found) == 1 else None
        elif m := _CONDITIONAL.match(ref):
            found = by_identifier.get((m[1], m[2], m[3]), [])
            out[ref] = found[0] if len(found) == 1 else None
    return out


def _loose(resources_: list[dict]) -> list[dict]:
    """Resources that come without a Bundle (an NDJSON export, example files): entries with no fullUrl."""
    return [{"resource": r} for r in resources_]


def _entries(bundle: dict) -> list[dict]:
    return [e for e in bundle.get("entry", []) if "resource" in e]


def _rekeyed_entries(i: int) -> list[dict]:
    """Dataset patient bundle ``i`` with new fullUrls that are not the resource ids (as a transaction, or any
    sender other than Synthea, may write them), every ``urn:uuid:`` reference following its entry's new
    fullUrl, except the first Observation's subject, left as ``urn:uuid:<patient id>``: no fullUrl is that, so
    it dangles."""
    entries = copy.deepcopy(_entries(_dataset_bundle(i)))
    new = {e["fullUrl"]: f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'hitlab-rekeyed:' + e['fullUrl'])}"
           for e in entries}  # fmt: skip

    def rewrite(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("reference") in new:
                node["reference"] = new[node["reference"]]
            for k, v in node.items():
                if k != "reference":
                    rewrite(v)
        elif isinstance(node, list):
            for v in node:
                rewrite(v)

    for e in entries:
        e["fullUrl"] = new[e["fullUrl"]]
        rewrite(e["resource"])
    patient = next(e["resource"] for e in entries if e["resource"]["resourceType"] == "Patient")
    first_obs = next(e["resource"] for e in entries if e["resource"]["resourceType"] == "Observation")
    first_obs["subject"] = {"reference": f"urn:uuid:{patient['id']}"}
    return entries


def _export(n: int, drop_every: int) -> list[dict]:
    """Resources as a bulk export would give them (``Type/id`` references), some Encounters left out."""
    s = FhirStore.from_bundles([*_reference_bundles(), *(_dataset_bundle(i) for i in range(5, 5 + n))])
    out, encounters = [], 0
    for r in s.resources():
        if r["resourceType"] == "Encounter":
            encounters += 1
            if encounters % drop_every == 0:
                continue
        r = {k: v for k, v in r.items() if k != "meta"}
        out.append(r)
    return out


def _reference_cases() -> list[Case]:
    hospital, practitioners = (_entries(b) for b in _reference_bundles())
    sample = _entries(fixture(SYNTHEA_SAMPLE))
    return [
        Case("dataset patient bundle 0 with the hospital and practitioner bundles",
             (_entries(dataset_bundle(0)) + hospital + practitioners,)),
        Case("dataset patient bundle 1 alone (its conditional references have nothing to resolve to)",
             (_entries(dataset_bundle(1)),)),
        Case("dataset patient bundle 2 with fullUrls that differ from the resource ids "
             "(one reference still names the Patient's id)", (_rekeyed_entries(2),)),
        Case("an NDJSON-style export of 3 patients with every 4th Encounter missing (no fullUrls)",
             (_loose(_export(3, 4)),)),
        Case(f"Synthea's {SYNTHEA_SAMPLE} alone", (sample,)),
        Case(f"{SYNTHEA_SAMPLE} with Synthea's hospital and practitioner bundles",
             (sample + [e for n in SYNTHEA_REFERENCE for e in _entries(fixture(n))],)),
        Case("the FHIR R4 and US Core example files together (no fullUrls)",
             (_loose([fixture(n) for n in FIXTURES_R4]),)),
    ]  # fmt: skip


def _compare_resolution(got: Any, expected: dict, case: Case, title: str) -> None:
    if not isinstance(got, dict):
        raise Incorrect(f"{title}: for {case.label}, return a dict, not {type(got).__name__}.")
    for ref, target in expected.items():
        if ref not in got:
            raise Incorrect(f"{title}: for {case.label}, the reference {ref!r} is missing from your result.")
        if got[ref] != target:
            kind = "dangling (None)" if target is None else "resolvable"
            raise Incorrect(f"{title}: for {case.label}, {ref!r} maps to {got[ref]!r}, but it is {kind}.")
    extra = [k for k in got if k not in expected]
    if extra:
        raise Incorrect(f"{title}: for {case.label}, {extra[0]!r} should not be in the result.")


RESOLVE_SOLUTION = """import re

RELATIVE = re.compile(r"^([A-Z][A-Za-z]+)/([A-Za-z0-9\\-.]{1,64})$")
CONDITIONAL = re.compile(r"^([A-Z][A-Za-z]+)\\?identifier=([^|&]*)\\|([^&]+)$")


def all_references(node):
    if isinstance(node, dict):
        if isinstance(node.get("reference"), str):
            yield node["reference"]
        for key, value in node.items():
            if key != "reference":
                yield from all_references(value)
    elif isinstance(node, list):
        for value in node:
            yield from all_references(value)


def resolve_references(entries: list[dict]) -> dict[str, str | None]:
    resources = [e["resource"] for e in entries]
    keys = {f"{r['resourceType']}/{r['id']}" for r in resources}
    by_full_url, by_identifier = {}, {}
    for e in entries:
        r = e["resource"]
        key = f"{r['resourceType']}/{r['id']}"
        if "fullUrl" in e:
            by_full_url.setdefault(e["fullUrl"], []).append(key)
        for ident in r.get("identifier", []):
            by_identifier.setdefault((r["resourceType"], ident.get("system"), ident.get("value")), []).append(key)
    result = {}
    for ref in all_references(resources):
        if RELATIVE.match(ref):
            result[ref] = ref if ref in keys else None
        elif ref.startswith("urn:uuid:"):
            found = by_full_url.get(ref, [])  # the entry whose fullUrl is this URN, whatever the id
            result[ref] = found[0] if len(found) == 1 else None
        elif m := CONDITIONAL.match(ref):
            found = by_identifier.get((m[1], m[2], m[3]), [])
            result[ref] = found[0] if len(found) == 1 else None
    return result"""

q8 = _copying_question(
    function_question(
        grade_id="lab04_resolve_references",
        title="Q8 resolve references",
        points=3,
        name="resolve_references",
        parameters=("entries",),
        reference=_resolve_references,
        cases=_reference_cases,
        compare=_compare_resolution,
        hints=(
            "Walk every entry's `resource` recursively: a reference is any `reference` string inside a dict, "
            "at any depth (`subject`, `participant[].individual`, `reasonReference[]`, `location[].location` ...).",
            "Three forms resolve: `Type/id` (that resource is in the entries), `urn:uuid:...` (the one entry "
            "whose `fullUrl` is exactly that string: build the lookup from `fullUrl`, not from `id`, which may "
            "differ; an entry without a fullUrl can only be reached as `Type/id`), and "
            "`Type?identifier=system|value` (exactly one resource of that type has that identifier; none or "
            "several is dangling). Leave `#contained` and absolute URLs out.",
        ),
        solution_code=RESOLVE_SOLUTION,
        wrong=(
            RESOLVE_SOLUTION.replace(
                "            found = by_identifier.get((m[1], m[2], m[3]), [])\n            result[ref] = found[0] if len(found) == 1 else None",
                "            result[ref] = None",
            ),
            RESOLVE_SOLUTION.replace(
                "            result[ref] = ref if ref in keys else None", "            result[ref] = ref"
            ),
            # urn:uuid:<x> looked up as the resource whose id is <x>: right for Synthea, wrong in general
            RESOLVE_SOLUTION.replace(
                "            found = by_full_url.get(ref, [])",
                "            found = [k for k in keys if k.split('/', 1)[1] == ref[len('urn:uuid:'):]]",
            ),
        ),
        alternatives=(
            """import re
from collections import defaultdict


def resolve_references(entries):
    urls, idents, keys = defaultdict(list), defaultdict(list), set()
    for entry in entries:
        r = entry["resource"]
        key = r["resourceType"] + "/" + r["id"]
        keys.add(key)
        if entry.get("fullUrl"):
            urls[entry["fullUrl"]].append(key)
        for i in r.get("identifier", []):
            idents[(r["resourceType"], i.get("system"), i.get("value"))].append(key)
    out, stack = {}, [entry["resource"] for entry in entries]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            ref = node.get("reference")
            if isinstance(ref, str):
                if re.fullmatch(r"[A-Z][A-Za-z]+/[A-Za-z0-9\\-.]{1,64}", ref):
                    out[ref] = ref if ref in keys else None
                elif ref.startswith("urn:uuid:"):
                    hits = urls[ref]
                    out[ref] = hits[0] if len(hits) == 1 else None
                elif m := re.fullmatch(r"([A-Z][A-Za-z]+)\\?identifier=([^|&]*)\\|([^&]+)", ref):
                    hits = idents[(m[1], m[2], m[3])]
                    out[ref] = hits[0] if len(hits) == 1 else None
            stack.extend(v for k, v in node.items() if k != "reference")
    return out""",
            # the whole Bundle.entry is walked (fullUrl and request hold no `reference` key), urn:uuid
            # matched by scanning the entries
            """import re


def refs(node):
    if isinstance(node, dict):
        return ([node["reference"]] if isinstance(node.get("reference"), str) else []) + [
            x for k, v in node.items() if k != "reference" for x in refs(v)
        ]
    return [x for v in node for x in refs(v)] if isinstance(node, list) else []


def resolve_references(entries):
    def key(r):
        return f"{r['resourceType']}/{r['id']}"

    keys = {key(e["resource"]) for e in entries}
    out = {}
    for ref in refs(entries):
        if re.fullmatch(r"[A-Z][A-Za-z]+/[A-Za-z0-9\\-.]{1,64}", ref):
            out[ref] = ref if ref in keys else None
        elif ref.startswith("urn:uuid:"):
            hits = [key(e["resource"]) for e in entries if e.get("fullUrl") == ref]
            out[ref] = hits[0] if len(hits) == 1 else None
        elif m := re.fullmatch(r"([A-Z][A-Za-z]+)\\?identifier=([^|&]*)\\|([^&]+)", ref):
            hits = [key(e["resource"]) for e in entries if e["resource"]["resourceType"] == m[1]
                    and any((i.get("system"), i.get("value")) == (m[2], m[3])
                            for i in e["resource"].get("identifier", []))]
            out[ref] = hits[0] if len(hits) == 1 else None
    return out""",
        ),
    )
)


# -- Q9, Q10 search ---------------------------------------------------------------------------------------------------


@cache
def search_patient() -> dict:
    """The Patient the search questions are about: the store's patient with the most blood-pressure panels."""
    s = _search_store()
    return max(
        s.resources("Patient"),
        key=lambda p: s.search(f"Observation?subject=Patient/{p['id']}&code={BP_PANEL}")["total"],
    )


def _search_refs() -> dict[str, tuple[str, bool]]:
    p = search_patient()
    family = p["name"][0]["family"]
    return {
        "bp_2022_2024": (f"{BASE}/Observation?patient=Patient/{p['id']}&code={LOINC}|{BP_PANEL}"
                    f"&date=ge2022-01-01&date=lt2025-01-01&_sort=-date", True),
        "women_born_before_1960": (f"{BASE}/Patient?gender=female&birthdate=lt1960-01-01", False),
        "hba1c_with_patients": (f"{BASE}/Observation?code={LOINC}|{HBA1C}&_include=Observation:subject", False),
        "patient_with_observations": (f"{BASE}/Patient?_id={p['id']}&_revinclude=Observation:subject", False),
        "encounters_by_family_name": (f"{BASE}/Encounter?subject:Patient.family={family}", False),
    }  # fmt: skip


BASIC_SEARCHES = ("bp_2022_2024", "women_born_before_1960")
LINKED_SEARCHES = ("hba1c_with_patients", "patient_with_observations", "encounters_by_family_name")


def _run_search(url: str) -> Response:
    return _search_store().request("GET", url)


def _search_question(grade_id, title, points, variable, keys, hints, wrong, alternatives=()) -> Question:
    refs = _search_refs

    def expected():
        return {k: result_keys(_run_search(refs()[k][0]).body) for k in keys}

    def compare(got: Any, key: dict) -> None:
        if not isinstance(got, dict) or set(got) != set(keys):
            raise Incorrect(f"{title}: set `{variable}` to a dict with exactly the keys {list(keys)}.")
        for k in keys:
            url = got[k]
            if not isinstance(url, str) or not url.startswith(BASE + "/"):
                raise Incorrect(f"{title}: {k}: write a full URL starting with BASE ({BASE}/).")
            r = _run_search(url)
            if r.status != 200:
                raise Incorrect(
                    f"{title}: {k}: the server answered {r.status}: {r.body['issue'][0]['diagnostics']}"
                )
            got_keys, exp = result_keys(r.body), key[k]
            if refs()[k][1]:
                if got_keys != exp:
                    raise Incorrect(f"{title}: {k}: your URL returns {len(got_keys)} entries"
                                    + (", in the wrong order." if sorted(got_keys) == sorted(exp) else ", not the right ones."))  # fmt: skip
            elif sorted(got_keys) != sorted(exp):
                included = sum(m == "include" for m, _ in got_keys)
                raise Incorrect(f"{title}: {k}: your URL returns {len(got_keys)} entries "
                                f"({included} included), which is not right.")  # fmt: skip

    solution = SEARCH_PRELUDE + dict_code(variable, {k: _search_solution(k) for k in keys})
    return Question(grade_id=grade_id, title=title, points=points, variable=variable, expected=expected,
                    compare=compare, hints=hints, solution_code=solution, wrong=wrong, alternatives=alternatives)  # fmt: skip


SEARCH_PRELUDE = """from hitlab.checks.lab04 import search_patient
from hitlab.fhirstore import BASE

PATIENT_ID = search_patient()["id"]
FAMILY = search_patient()["name"][0]["family"]
"""
SEARCH_SOLUTIONS = {
    "bp_2022_2024": 'f"{BASE}/Observation?patient=Patient/{PATIENT_ID}&code=http://loinc.org|85354-9'
    '&date=ge2022-01-01&date=lt2025-01-01&_sort=-date"',
    "women_born_before_1960": 'f"{BASE}/Patient?gender=female&birthdate=lt1960-01-01"',
    "hba1c_with_patients": 'f"{BASE}/Observation?code=http://loinc.org|4548-4&_include=Observation:subject"',
    "patient_with_observations": 'f"{BASE}/Patient?_id={PATIENT_ID}&_revinclude=Observation:subject"',
    "encounters_by_family_name": 'f"{BASE}/Encounter?subject:Patient.family={FAMILY}"',
}


def _search_solution(key: str) -> str:
    return _Raw(SEARCH_SOLUTIONS[key])


class _Raw(str):
    """A string that ``dict_code`` writes as source (its repr is itself)."""

    def __repr__(self) -> str:
        return str(self)


q9 = _search_question(
    "lab04_search_basic",
    "Q9 search: code, date range, sort",
    2,
    "basic_searches",
    BASIC_SEARCHES,
    hints=(
        "Token parameters take `system|code`: `code=http://loinc.org|85354-9`. Two `date` parameters are ANDed: "
        "`date=ge2022-01-01&date=lt2025-01-01` keeps 2022-01-01 up to the end of 2024, three whole years "
        "(2024 alone would be `date=ge2024-01-01&date=lt2025-01-01`, or `date=2024`).",
        "`_sort=-date` sorts newest first. `birthdate=lt1960-01-01` means born before 1960.",
    ),
    wrong=(
        SEARCH_PRELUDE
        + dict_code(
            "basic_searches",
            {
                "bp_2022_2024": _Raw(
                    'f"{BASE}/Observation?patient=Patient/{PATIENT_ID}&code=http://loinc.org|85354-9&date=ge2024-01-01&date=le2025-01-01&_sort=date"'
                ),
                "women_born_before_1960": _Raw(SEARCH_SOLUTIONS["women_born_before_1960"]),
            },
        ),
    ),
    alternatives=(
        SEARCH_PRELUDE
        + dict_code(
            "basic_searches",
            {
                "bp_2022_2024": _Raw(
                    'f"{BASE}/Observation?subject=Patient/{PATIENT_ID}&code=http://loinc.org%7C85354-9'
                    '&date=ge2022&date=le2024-12-31&_sort=-date"'
                ),
                "women_born_before_1960": _Raw('f"{BASE}/Patient?birthdate=lt1960&gender=female"'),
            },
        ),
    ),
)
q10 = _search_question(
    "lab04_search_linked",
    "Q10 search: _include, _revinclude, chaining",
    3,
    "linked_searches",
    LINKED_SEARCHES,
    hints=(
        "`_include=Observation:subject` adds the Patients the matched Observations point to; "
        "`_revinclude=Observation:subject` adds the Observations that point to the matched Patients.",
        "A chained parameter searches through a reference: `subject:Patient.family=Smith` (the `:Patient` "
        "modifier names the target type, `.family` the target's parameter).",
    ),
    wrong=(
        SEARCH_PRELUDE
        + dict_code(
            "linked_searches",
            {
                "hba1c_with_patients": _Raw(SEARCH_SOLUTIONS["hba1c_with_patients"]),
                "patient_with_observations": _Raw(
                    'f"{BASE}/Patient?_id={PATIENT_ID}&_include=Observation:subject"'
                ),
                "encounters_by_family_name": _Raw(SEARCH_SOLUTIONS["encounters_by_family_name"]),
            },
        ),
    ),
    alternatives=(
        SEARCH_PRELUDE
        + dict_code(
            "linked_searches",
            {
                "hba1c_with_patients": _Raw(
                    'f"{BASE}/Observation?_include=Observation:subject:Patient&code=http://loinc.org|4548-4"'
                ),
                "patient_with_observations": _Raw(
                    'f"{BASE}/Patient?_revinclude=Observation:patient&_id={PATIENT_ID}"'
                ),
                "encounters_by_family_name": _Raw('f"{BASE}/Encounter?patient.family={FAMILY}"'),
            },
        ),
    ),
)


# -- Q11, Q12 conditional create and version-aware update ----------------------------------------------------------------


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


def _mrn(patient: dict) -> dict:
    for ident in patient.get("identifier", []):
        coded_mr = any(
            c.get("system") == V2_0203 and c.get("code") == "MR"
            for c in ident.get("type", {}).get("coding", [])
        )
        if coded_mr and ident.get("system") and ident.get("value"):
            return ident
    raise ValueError("the patient has no medical record number (an identifier of type MR with a system)")


def _ensure_patient(server: FhirStore, patient: dict) -> str:
    mrn = _mrn(patient)
    r = server.request("POST", "Patient", body=patient,
                       headers={"If-None-Exist": f"identifier={mrn['system']}|{mrn['value']}"})  # fmt: skip
    if r.status == 412:
        raise ValueError("several patients have this MRN: resolve the duplicates first")
    if r.status not in (200, 201):
        raise RuntimeError(f"the server answered {r.status}")
    return f"Patient/{r.body['id']}"


_OTHER_12345 = {
    "resourceType": "Patient",
    "id": "other-hospital-12345",
    "identifier": [{"type": {"coding": [{"system": V2_0203, "code": "MR"}]},
                    "system": "http://other-hospital.example.org/mrn", "value": "12345"}],
    "name": [{"family": "Else", "given": ["Someone"]}],
}  # fmt: skip


def _create_cases() -> list[Case]:
    dataset = [resources(dataset_bundle(i))[0] for i in range(3)]
    us = fixture("uscore-patient-example.json")
    dup = copy.deepcopy(us) | {"id": "example-duplicate"}
    others = tuple(dataset)
    sample = resources(fixture(SYNTHEA_SAMPLE))[0]
    new = {k: v for k, v in dataset[0].items() if k != "id"}
    return [
        Case("a dataset patient the server does not have yet", (Scenario("new", others[1:]), new)),
        Case("a dataset patient the server already has", (Scenario("existing", others), new)),
        Case("uscore-patient-example.json on a server that has it",
             (Scenario("us-core", (*others, us)), {k: v for k, v in us.items() if k != "id"})),
        Case("Patient-example.json on a server holding dataset patients",
             (Scenario("core", others), fixture("Patient-example.json"))),
        Case("Patient-example.json on a server where another hospital's MRN 12345 belongs to someone else",
             (Scenario("other-system", (*others, _OTHER_12345)), fixture("Patient-example.json"))),
        Case(f"the Patient of {SYNTHEA_SAMPLE}", (Scenario("synthea", others), sample)),
        Case("a patient whose MRN two server records share", (Scenario("dup", (us, dup)), us)),
        Case("a patient without an MRN", (Scenario("no-mrn", others), {"resourceType": "Patient", "name": [{"family": "Doe"}]})),
    ]  # fmt: skip


def _compare_create(got: Outcome, expected: Outcome, case: Case, title: str) -> None:
    where = f"{title}: for {case.label},"
    if got.value != expected.value:
        raise Incorrect(f"{where} your function returned {got.value!r}, which is not right.")
    posts = [h for m, _, h in got.store.log if m == "POST"]
    if not posts or not any(k.lower() == "if-none-exist" for h in posts for k in h):
        raise Incorrect(f"{where} create with a POST carrying If-None-Exist: a search, then a create, can race "
                        "with another client and make a duplicate.")  # fmt: skip
    if len(got.store.resources("Patient")) != len(expected.store.resources("Patient")):
        raise Incorrect(
            f"{where} the server ends with {len(got.store.resources('Patient'))} patients, which is not right."
        )


CREATE_SOLUTION = '''V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"


def ensure_patient(store, patient: dict) -> str:
    mrn = next((i for i in patient.get("identifier", [])
                if any(c.get("system") == V2_0203 and c.get("code") == "MR" for c in i.get("type", {}).get("coding", []))
                and i.get("system") and i.get("value")), None)
    if mrn is None:
        raise ValueError("no MRN (identifier of type MR with a system) to match on")
    response = store.request("POST", "Patient", body=patient,
                             headers={"If-None-Exist": f"identifier={mrn['system']}|{mrn['value']}"})
    if response.status == 412:
        raise ValueError("several patients share this MRN")
    if response.status not in (200, 201):
        raise RuntimeError(f"unexpected status {response.status}")
    return f"Patient/{response.body['id']}"'''

q11 = _stateful(
    function_question(
        grade_id="lab04_conditional_create",
        title="Q11 conditional create",
        points=2,
        name="ensure_patient",
        parameters=("store", "patient"),
        reference=_fresh(_ensure_patient),
        cases=_create_cases,
        compare=_compare_create,
        hints=(
            "POST the Patient with the header `If-None-Exist: identifier=<system>|<value>` of its MRN (the identifier "
            "whose `type` has the v2-0203 code `MR`). The server searches and creates in one step.",
            "201 Created: a new patient; 200 OK: one already matched and nothing was created (the body is the "
            "existing one); 412 Precondition Failed: several matched, so raise ValueError. Either way the body's "
            "`id` names the patient.",
        ),
        solution_code=CREATE_SOLUTION,
        wrong=(
            CREATE_SOLUTION.replace(
                "f\"identifier={mrn['system']}|{mrn['value']}\"", "f\"identifier={mrn['value']}\""
            ),
            CREATE_SOLUTION.replace(
                '    if response.status == 412:\n        raise ValueError("several patients share this MRN")\n',
                "",
            ),
        ),
        alternatives=(
            """from hitlab.fhirstore import BASE


def ensure_patient(store, patient):
    for ident in patient.get("identifier", []):
        codes = {(c.get("system"), c.get("code")) for c in ident.get("type", {}).get("coding", [])}
        if ("http://terminology.hl7.org/CodeSystem/v2-0203", "MR") in codes and ident.get("system") and ident.get("value"):
            break
    else:
        raise ValueError("no MRN")
    r = store.request("POST", BASE + "/Patient", body=patient,
                      headers={"if-none-exist": "identifier=" + ident["system"] + "|" + ident["value"]})
    if r.status in (200, 201):
        return "Patient/" + r.body["id"]
    raise ValueError(f"conditional create failed with {r.status}")""",
        ),
    )
)


def _versioned_update(server: FhirStore, url: str, change: Callable[[dict], dict]) -> dict:
    for _ in range(5):
        r = server.request("GET", url)
        if r.status == 404:
            raise LookupError(f"{url} does not exist")
        new = change(copy.deepcopy(r.body))
        w = server.request("PUT", url, body=new, headers={"If-Match": r.headers["ETag"]})
        if w.status in (200, 201):
            return w.body
        if w.status != 412:
            raise RuntimeError(f"the server answered {w.status}")
    raise RuntimeError("gave up after 5 attempts")


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


def _update_cases() -> list[Case]:
    dataset = resources(dataset_bundle(0))[0]
    us = fixture("uscore-patient-example.json")
    ex = fixture("Patient-example.json")
    durl = f"Patient/{dataset['id']}"
    return [
        Case("a quiet server", (Scenario("quiet", (dataset,)), durl, set_home_phone)),
        Case("a colleague writes once between your read and your write",
             (Scenario("one", (dataset,), 1, durl), durl, set_home_phone)),
        Case("a colleague writes twice", (Scenario("two", (us, ex), 2, "Patient/example"), "Patient/example", mark_inactive)),
        Case("uscore-patient-example.json, one concurrent write, on the full URL",
             (Scenario("full", (us,), 1, "Patient/example"), f"{BASE}/Patient/example", set_home_phone)),
        Case("a patient the server does not have", (Scenario("missing", (us,)), "Patient/nobody", set_home_phone)),
    ]  # fmt: skip


def _strip_meta(r: dict) -> dict:
    return {k: v for k, v in r.items() if k != "meta"}


def _compare_update(got: Outcome, expected: Outcome, case: Case, title: str) -> None:
    where = f"{title}: for {case.label},"
    url = case.args[1].removeprefix(BASE + "/")
    type_, rid = url.split("/")
    final_got, final_exp = got.store.get(type_, rid), expected.store.get(type_, rid)
    if _strip_meta(final_got) != _strip_meta(final_exp):
        lost = (
            "a colleague's change was lost"
            if len(final_got.get("telecom", [])) < len(final_exp.get("telecom", []))
            else "it is not right"
        )
        raise Incorrect(f"{where} the resource the server ends with differs from the expected one: {lost}.")
    if len(got.store.history(type_, rid)) != len(expected.store.history(type_, rid)):
        raise Incorrect(
            f"{where} the server has {len(got.store.history(type_, rid))} versions, which is not right."
        )
    puts = [h for m, _, h in got.store.log if m == "PUT"]
    if not all(any(k.lower() == "if-match" for k in h) for h in puts):
        raise Incorrect(f'{where} every PUT must carry If-Match with the ETag you read (W/"n").')
    if not isinstance(got.value, dict) or _strip_meta(got.value) != _strip_meta(final_exp):
        raise Incorrect(f"{where} return the resource as the server stored it (the PUT response's body).")


UPDATE_SOLUTION = """import copy


def versioned_update(store, url: str, change) -> dict:
    for _attempt in range(5):
        read = store.request("GET", url)
        if read.status == 404:
            raise LookupError(f"{url} does not exist")
        updated = change(copy.deepcopy(read.body))
        write = store.request("PUT", url, body=updated, headers={"If-Match": read.headers["ETag"]})
        if write.status in (200, 201):
            return write.body
        if write.status != 412:  # 412: someone wrote first; read again and re-apply the change
            raise RuntimeError(f"unexpected status {write.status}")
    raise RuntimeError("the resource kept changing; gave up")"""

q12 = _stateful(
    function_question(
        grade_id="lab04_versioned_update",
        title="Q12 version-aware update",
        points=2,
        name="versioned_update",
        parameters=("store", "url", "change"),
        reference=_fresh(_versioned_update),
        cases=_update_cases,
        compare=_compare_update,
        refuses=LookupError,
        hints=(
            'Read first: `store.request("GET", url)` returns the resource and `headers["ETag"]`, e.g. `W/"3"`. '
            'Write it back with `store.request("PUT", url, body=..., headers={"If-Match": etag})`.',
            "412 Precondition Failed means someone else wrote in between: read again and re-apply `change` to the "
            "new version (never PUT your stale copy without If-Match: that silently erases their change). "
            "A 404 on the read: raise LookupError.",
        ),
        solution_code=UPDATE_SOLUTION,
        wrong=(
            """import copy


def versioned_update(store, url: str, change) -> dict:
    read = store.request("GET", url)
    if read.status == 404:
        raise LookupError(url)
    return store.request("PUT", url, body=change(copy.deepcopy(read.body))).body""",
        ),
        alternatives=(
            """import copy


def versioned_update(store, url, change):
    attempts = 0
    while attempts < 5:
        attempts += 1
        current = store.request("GET", url)
        if current.status == 404:
            raise KeyError(url)
        version = current.body["meta"]["versionId"]
        result = store.request("PUT", url, body=change(copy.deepcopy(current.body)),
                               headers={"If-Match": f'W/"{version}"'})
        if result.status == 412:
            continue
        return result.body
    raise RuntimeError("too many concurrent changes")""",
        ),
    )
)

QUESTIONS = (q1, q2, q3, q4, q5, q6, q7, q8, q9, q10, q11, q12)
