"""Lab 04's reference implementations on real FHIR files (exact results), and its checks: solutions pass,
known-wrong answers fail with a message, learners' mutations and servers' state never leak between calls, and an
exam release (the package without ``reference`` and ``answers``) still imports and says it cannot check."""

from __future__ import annotations

import subprocess
import sys

import pytest

from course_proof import prove_grading
from hitlab.checks import Incorrect, lab04
from hitlab.checks.function import Case
from hitlab.checks.lab04 import (
    FIXTURES_R4,
    LOINC,
    SNOMED,
    SYNTHEA_REFERENCE,
    SYNTHEA_SAMPLE,
    Scenario,
    fixture,
    materials,
    questions,
    reference,
    resources,
    set_home_phone,
)

SAMPLE_PATIENT = "urn:uuid:d5582579-7193-4866-5560-a01e723b6552"


def answer(q, code: str):
    namespace: dict = {}
    exec(code, namespace)
    return namespace[q.variable]


def test_an_exam_release_imports_without_reference_and_answers():
    code = (
        "import sys\n"
        "sys.modules['hitlab.checks.lab04.reference'] = None\n"
        "sys.modules['hitlab.checks.lab04.answers'] = None\n"
        "from hitlab.checks import lab04\n"
        "from hitlab.checks.core import NOT_RELEASED\n"
        "assert all(q.solution_code == NOT_RELEASED and not q.wrong for q in lab04.QUESTIONS)\n"
        "for check in (lambda: lab04.q5.check(lambda concept, systems: None), lambda: lab04.q1.check('B')):\n"
        "    try:\n"
        "        check()\n"
        "    except RuntimeError as err:\n"
        "        assert 'no reference' in str(err), err\n"
        "    else:\n"
        "        raise SystemExit('checked without a reference')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_us_core_patient_reference_matches_the_dataset_fhir_patients():
    """The CSV → US Core mapping agrees with the dataset's own FHIR Patients on every graded element."""
    rows = {r["Id"]: r for r in materials._patient_rows()}
    for i in range(20):
        fhir_patient = resources(lab04.dataset_bundle(i))[0]
        built = reference.us_core_patient(rows[fhir_patient["id"]])
        got, want = questions._patient_summary(built), questions._patient_summary(fhir_patient)
        want["identifier"] = [p for p in want["identifier"] if p[0].endswith(("/patient", "us-ssn"))]
        assert got == want
        materials._validate(built)
    with pytest.raises(ValueError, match="needs an Id"):
        reference.us_core_patient({"Id": ""})


def test_us_core_patient_race_other_keeps_only_text():
    row = dict(materials._patient_rows()[0]) | {
        "RACE": "other",
        "ETHNICITY": "hispanic",
        "GENDER": "",
        "MIDDLE": "",
    }
    p = reference.us_core_patient(row)
    assert p["extension"][0]["extension"] == [{"url": "text", "valueString": "Other"}]
    assert p["extension"][1]["extension"][0]["valueCoding"]["code"] == "2135-2"
    assert p["gender"] == "unknown" and p["name"][0]["given"] == [row["FIRST"]]


def test_validation_errors_on_real_and_broken_resources():
    assert all(reference.validation_errors(fixture(n)) == [] for n in FIXTURES_R4)
    pat, obs = fixture("uscore-patient-example.json"), fixture("Observation-example.json")
    assert reference.validation_errors({**pat, "birthDate": "20-02-1987", "colour": "blue"}) == [
        "Patient.birthDate",
        "Patient.colour",
    ]
    assert reference.validation_errors({**obs, "valueString": "185 lbs"}) == ["Observation"]
    assert reference.validation_errors({k: v for k, v in obs.items() if k != "status"}) == [
        "Observation.status"
    ]
    assert reference.validation_errors({**obs, "valueQuantity": {"value": "heavy"}}) == [
        "Observation.valueQuantity.value"
    ]
    assert reference.validation_errors({**pat, "resourceType": "Patients"}) == ["resourceType"]
    assert reference.validation_errors({**pat, "gender": "M"}) == []  # bindings are not checked


def test_flatten_blood_pressure_on_hl7_us_core_and_synthea_files():
    bundle = materials._collection(
        fixture("Observation-blood-pressure.json"), fixture("uscore-blood-pressure.json")
    )
    assert reference.flatten_blood_pressure(bundle) == [
        {"id": "blood-pressure", "patient": "Patient/example", "effective": "2012-09-17", "systolic": 107,
         "diastolic": 60, "unit": "mm[Hg]"},
        {"id": "blood-pressure", "patient": "Patient/example", "effective": "1999-07-02", "systolic": 109,
         "diastolic": 44, "unit": "mm[Hg]"},
    ]  # fmt: skip
    rows = reference.flatten_blood_pressure(fixture(SYNTHEA_SAMPLE))
    assert len(rows) == 20
    assert rows[0] == {"id": "3f67a0b6-c886-8fe3-42e2-75f2d4ebefec", "patient": SAMPLE_PATIENT,
                       "effective": "2010-01-05T11:44:52-05:00", "systolic": 136, "diastolic": 49, "unit": "mm[Hg]"}  # fmt: skip
    assert reference.flatten_blood_pressure(materials._collection(fixture("Observation-example.json"))) == []


def test_preferred_coding_and_observation_value_on_real_files():
    code = fixture("Observation-blood-pressure.json")["component"][0]["code"]
    assert reference.preferred_coding(code, [SNOMED, LOINC])["code"] == "271649006"
    assert reference.preferred_coding(code, [LOINC])["code"] == "8480-6"
    assert reference.preferred_coding(code, ["http://hl7.org/fhir/sid/icd-10-cm"]) is None
    assert reference.preferred_coding({"text": "x"}, [SNOMED]) is None
    assert reference.observation_value(fixture("Observation-example.json")) == (185, "[lb_av]")
    assert reference.observation_value(fixture("uscore-blood-pressure.json")) is None
    base = {"resourceType": "Observation"}
    assert reference.observation_value(base | {"valueInteger": 0}) == (0, None)
    assert reference.observation_value(base | {"valueCodeableConcept": {"text": "positive"}}) == (
        "positive",
        None,
    )
    with pytest.raises(ValueError, match="one type only"):
        reference.observation_value(base | {"valueInteger": 1, "valueString": "1"})
    with pytest.raises(ValueError, match="not an R4 Observation value"):
        reference.observation_value(base | {"valueNumber": 1})


def test_resolve_references_on_examples_and_synthea():
    got = reference.resolve_references([{"resource": fixture(n)} for n in FIXTURES_R4])
    assert got == {
        "Patient/example": "Patient/example", "Practitioner/example": "Practitioner/example",
        "Encounter/example": "Encounter/example", "Location/1": None, "Organization/hl7": "Organization/hl7",
        "Patient/pat1": None, "Encounter/f001": None, "Coverage/SP1234": None, "Practitioner/f007": None,
        "Endpoint/example": None, "Organization/1": None, "Practitioner/practitioner-1": None,
        "Encounter/example-1": "Encounter/example-1", "Location/hospital": None,
    }  # fmt: skip
    alone = reference.resolve_references(fixture(SYNTHEA_SAMPLE)["entry"])
    assert (len(alone), sum(v is None for v in alone.values())) == (319, 6)
    assert alone[SAMPLE_PATIENT] == "Patient/d5582579-7193-4866-5560-a01e723b6552"
    with_reference = reference.resolve_references(
        fixture(SYNTHEA_SAMPLE)["entry"] + [e for n in SYNTHEA_REFERENCE for e in fixture(n)["entry"]]
    )
    assert sum(v is None for v in with_reference.values()) == 4  # another Synthea run: 2 of 6 resolve
    org = "Organization?identifier=https://github.com/synthetichealth/synthea|12c9daf5-a29c-36c9-ac55-28972463e566"
    assert with_reference[org] == "Organization/12c9daf5-a29c-36c9-ac55-28972463e566"


def test_urn_uuid_references_resolve_against_full_urls_not_ids():
    """FHIR R4 bundle.html#references: a urn:uuid reference is the entry whose fullUrl it equals."""
    patient = {"resourceType": "Patient", "id": "p1"}
    obs = {"resourceType": "Observation", "id": "o1", "subject": {"reference": "urn:uuid:aaaa"}}
    stale = {"resourceType": "Observation", "id": "o2", "subject": {"reference": "urn:uuid:p1"}}
    entries = [{"fullUrl": "urn:uuid:aaaa", "resource": patient}, {"resource": obs}, {"resource": stale}]
    assert reference.resolve_references(entries) == {"urn:uuid:aaaa": "Patient/p1", "urn:uuid:p1": None}
    twice = [*entries, {"fullUrl": "urn:uuid:aaaa", "resource": {"resourceType": "Patient", "id": "p2"}}]
    assert reference.resolve_references(twice)["urn:uuid:aaaa"] is None  # ambiguous

    rekeyed = questions._rekeyed_entries(2)
    ids = {e["resource"]["id"] for e in rekeyed}
    assert not any(e["fullUrl"].removeprefix("urn:uuid:") in ids for e in rekeyed)
    got = reference.resolve_references(rekeyed)
    patient = next(e for e in rekeyed if e["resource"]["resourceType"] == "Patient")
    assert got[patient["fullUrl"]] == f"Patient/{patient['resource']['id']}"
    stale_ref = f"urn:uuid:{patient['resource']['id']}"
    assert got[stale_ref] is None
    assert all(v is not None for k, v in got.items() if k.startswith("urn:uuid:") and k != stale_ref)
    assert rekeyed == questions._rekeyed_entries(2)  # deterministic


def test_transaction_reference_resolves_every_urn_uuid():
    patient, obs = fixture("uscore-patient-example.json"), fixture("uscore-blood-pressure.json")
    bundle = reference.transaction_bundle(patient, [obs])
    materials._validate(bundle)
    urls = [e["fullUrl"] for e in bundle["entry"]]
    assert bundle["entry"][1]["resource"]["subject"] == {"reference": urls[0]}
    assert [e["request"] for e in bundle["entry"]] == [
        {"method": "POST", "url": "Patient"},
        {"method": "POST", "url": "Observation"},
    ]
    with pytest.raises(ValueError, match="not about this patient"):
        reference.transaction_bundle(patient, [obs | {"subject": {"reference": "Patient/other"}}])


def test_scenarios_give_each_call_a_fresh_server():
    """The reference's call must not change the server the learner's call gets (Q11, Q12)."""
    case = questions._update_cases()[1]  # one concurrent write
    first = questions._fresh(reference.versioned_update)(*case.args)
    second = questions._fresh(reference.versioned_update)(*case.args)
    assert first.store is not second.store
    assert first.value == second.value
    history = first.store.history("Patient", first.value["id"])
    assert [v["meta"]["versionId"] for v in history] == ["1", "2", "3"]  # the colleague's write, then ours
    assert any(t.get("system") == "email" for t in first.value["telecom"])  # the colleague's change is kept
    assert {"system": "phone", "value": "555-0100", "use": "home"} in first.value["telecom"]
    assert isinstance(case.args[0], Scenario) and set_home_phone({})["telecom"][0]["value"] == "555-0100"


def test_conditional_create_outcomes():
    create = questions._fresh(reference.ensure_patient)
    by_label = {c.label: c for c in questions._create_cases()}
    new = create(*by_label["a dataset patient the server does not have yet"].args)
    assert new.value == "Patient/patient-3" and len(new.store.resources("Patient")) == 3
    existing = create(*by_label["a dataset patient the server already has"].args)
    assert existing.value == f"Patient/{resources(lab04.dataset_bundle(0))[0]['id']}"
    assert len(existing.store.resources("Patient")) == 3
    with pytest.raises(ValueError, match="several patients"):
        create(*by_label["a patient whose MRN two server records share"].args)
    with pytest.raises(ValueError, match="no medical record number"):
        create(*by_label["a patient without an MRN"].args)


def test_a_mutating_answer_fails_once_and_cannot_spoil_later_checks(capsys):
    q = lab04.q7
    with pytest.raises(Incorrect, match="changed its input resources"):
        q.check(answer(q, q.wrong[0]))
    q.check(answer(q, q.solution_code))  # the cases are intact after the mutating attempt
    assert capsys.readouterr().out.strip() == f"Correct: {q.title}"


def test_search_answers_are_evaluated_by_the_store_with_feedback():
    q = lab04.q9
    urls = answer(q, q.solution_code)
    bad = urls | {"women_born_before_1960": f"{lab04.BASE}/Patient?sex=female"}
    with pytest.raises(Incorrect, match="the server answered 400: Patient has no search parameter 'sex'"):
        q.check(bad)
    with pytest.raises(Incorrect, match="write a full URL"):
        q.check(urls | {"women_born_before_1960": "Patient?gender=female"})
    unsorted = urls | {"bp_2022_2024": urls["bp_2022_2024"].replace("_sort=-date", "_sort=date")}
    with pytest.raises(Incorrect, match="in the wrong order"):
        q.check(unsorted)


def test_function_signature_is_checked():
    with pytest.raises(Incorrect, match=r"define `flatten_blood_pressure\(bundle\)`"):
        lab04.q4.check(lambda resources: [])
    with pytest.raises(Incorrect, match="should be refused with ValueError"):
        lab04.q2.check(lambda row: reference.us_core_patient(row | {"Id": row["Id"] or "x"}))


def test_case_labels_name_the_real_files():
    labels = [c.label for c in questions._bp_cases()]
    assert "a Bundle holding uscore-blood-pressure.json" in labels
    assert f"Synthea's {SYNTHEA_SAMPLE}" in labels
    assert isinstance(questions._reference_cases()[0], Case)


@pytest.mark.notebook
@pytest.mark.slow
def test_verify_proves_the_grading():
    """``hitlab course verify lab04``: solution full marks, released zero, each known-wrong answer loses exactly
    its points (real nbgrader runs)."""
    prove_grading("lab04")
