"""Lab 04's questions, as data: what each asks, its points, hints, how it is compared, and the cases a right
answer must also get right. The expected values come from ``reference.py`` and the worked answers from
``answers.py``, both imported only when needed, so that an exam release can leave them out.

| Q  | grade id                     | pts | asks for                                                              |
|----|------------------------------|-----|-----------------------------------------------------------------------|
| 1  | lab04_r4b_models             | 1   | `r4_models`: which fhir.resources classes read R4 data                |
| 2  | lab04_us_core_patient        | 3   | `us_core_patient(row)`: a US Core Patient from a patients.csv row     |
| 3  | lab04_validation_errors      | 2   | `validation_errors(resource)`: the R4B models' error paths, sorted    |
| 4  | lab04_flatten_blood_pressure | 3   | `flatten_blood_pressure(bundle)`: one row per blood-pressure panel    |
| 5  | lab04_preferred_coding       | 2   | `preferred_coding(concept, systems)`: the coding of the first system  |
| 6  | lab04_observation_value      | 2   | `observation_value(obs)`: an Observation's `value[x]`                 |
| 7  | lab04_transaction_bundle     | 3   | `transaction_bundle(patient, observations)`: urn:uuid references      |
| 8  | lab04_resolve_references     | 3   | `resolve_references(entries)`: each reference's target, or None       |
| 9  | lab04_search_basic           | 2   | `basic_searches`: search URLs with a code, a date range, a sort       |
| 10 | lab04_search_linked          | 3   | `linked_searches`: `_include`, `_revinclude`, a chained parameter     |
| 11 | lab04_conditional_create     | 2   | `ensure_patient(store, patient)`: conditional create on the MRN       |
| 12 | lab04_versioned_update       | 2   | `versioned_update(store, url, change)`: If-Match, retried on 412      |

Q13 (written, 3 points, `lab04_explain_validation`) is graded by hand; its rubric is in the notebook.

Every coding exercise is a named function, run on generated resources from the dataset's FHIR bundles and on
real files from other projects (``hitlab/labdata/lab04``, see its SOURCES.md), against the reference. Each call
gets deep copies of its arguments (a fresh server for each :class:`~hitlab.checks.lab04.materials.Scenario`), so
no answer can spoil the cases for the next one. FHIR R4 4.0.1, US Core 6.1.0, read with ``fhir.resources.R4B``.
"""

from __future__ import annotations

import copy
import functools
import inspect
import json
import re
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from hitlab.checks.choice import choice_question
from hitlab.checks.core import AnswerKey, Incorrect, Question, reference_of
from hitlab.checks.function import Case, function_question
from hitlab.checks.lab04.materials import (
    FIXTURES_R4,
    ICD10CM,
    LOINC,
    OMB_ETHNICITY,
    OMB_RACE,
    RXNORM,
    SNOMED,
    SYNTHEA_REFERENCE,
    SYNTHEA_SAMPLE,
    US_CORE,
    V2_0203,
    Scenario,
    ScenarioStore,
    _collection,
    _dataset_bundle,
    _patient_rows,
    _reference_bundles,
    _search_store,
    _validate,
    dataset_bundle,
    fixture,
    mark_inactive,
    resources,
    set_home_phone,
)
from hitlab.fhirstore import BASE, FhirStore, Response, result_keys

_answers = AnswerKey("hitlab.checks.lab04")  # left out of an exam release
_key, _keys = _answers.source, _answers.sources


def _ref():
    """The reference implementations (absent from an exam release: the grader's install has them)."""
    return reference_of("hitlab.checks.lab04")


# -- calls on copies --------------------------------------------------------------------------------------------


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

_R4_TITLE = "Q1 which fhir.resources classes read R4 data"
_R4_OPTIONS = {
    "A": "from fhir.resources.patient import Patient",
    "B": "from fhir.resources.R4B.patient import Patient",
    "C": "from fhir.resources.STU3.patient import Patient",
    "D": "any of them: FHIR JSON is the same in every release",
}

q1 = choice_question(
    grade_id="lab04_r4b_models",
    title=_R4_TITLE,
    points=1,
    variable="r4_models",
    options=_R4_OPTIONS,
    correct=lambda: _ref().R4_MODELS,
    why_not=lambda: _ref().R4_MODELS_WHY_NOT,  # the option it leaves out is the answer
    hints=("fhir.resources names its sub-packages after FHIR releases; the top level is the newest.",),
    solution_code=_key("R4_MODELS_SOLUTION"),
    wrong=_keys("R4_MODELS_WRONG"),
    alternatives=_keys("R4_MODELS_ALTERNATIVES"),
)


# -- Q2 US Core Patient ---------------------------------------------------------------------------------------


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


q2 = _copying_question(
    function_question(
        grade_id="lab04_us_core_patient",
        title="Q2 US Core Patient from a CSV row",
        points=3,
        name="us_core_patient",
        parameters=("row",),
        reference=lambda *args: _ref().us_core_patient(*args),
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
        solution_code=_key("US_CORE_PATIENT_SOLUTION"),
        wrong=_keys("US_CORE_PATIENT_WRONG"),
        alternatives=_keys("US_CORE_PATIENT_ALTERNATIVES"),
    )
)


# -- Q3 validation errors ---------------------------------------------------------------------------------------


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


q3 = _copying_question(
    function_question(
        grade_id="lab04_validation_errors",
        title="Q3 validation errors",
        points=2,
        name="validation_errors",
        parameters=("resource",),
        reference=lambda *args: _ref().validation_errors(*args),
        cases=_validation_cases,
        compare=_compare_errors,
        hints=(
            "`fhir.resources.R4B.get_fhir_model_class(resource_type)` gives the model class; it raises for an "
            "unknown type. `Model.model_validate(resource)` raises pydantic's `ValidationError`.",
            "`err.errors()` lists every problem; each has a `loc` tuple such as `('valueQuantity', 'value')`. "
            "A problem with the resource as a whole (two `value[x]`) has an empty `loc`: its path is just the type.",
            "Use the R4B package: the default (R5) models reject valid R4 resources such as Synthea's Encounters.",
        ),
        solution_code=_key("VALIDATION_SOLUTION"),
        wrong=_keys("VALIDATION_WRONG"),
        alternatives=_keys("VALIDATION_ALTERNATIVES"),
    )
)


# -- Q4 flatten blood pressure ------------------------------------------------------------------------------------


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


q4 = _copying_question(
    function_question(
        grade_id="lab04_flatten_blood_pressure",
        title="Q4 flatten blood pressure",
        points=3,
        name="flatten_blood_pressure",
        parameters=("bundle",),
        reference=lambda *args: _ref().flatten_blood_pressure(*args),
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
        solution_code=_key("BP_SOLUTION"),
        wrong=_keys("BP_WRONG"),
        alternatives=_keys("BP_ALTERNATIVES"),
    )
)


# -- Q5 preferred coding --------------------------------------------------------------------------------------------


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


q5 = _copying_question(
    function_question(
        grade_id="lab04_preferred_coding",
        title="Q5 preferred coding",
        points=2,
        name="preferred_coding",
        parameters=("concept", "systems"),
        reference=lambda *args: _ref().preferred_coding(*args),
        cases=_coding_cases,
        hints=(
            "Loop over the systems in order of preference, not over the codings: the first system that has any "
            "coding wins, wherever that coding sits in the list.",
            "Within the winning system, a coding with `userSelected: true` beats the others; a concept with only "
            "`text` has no `coding` at all.",
        ),
        solution_code=_key("CODING_SOLUTION"),
        wrong=_keys("CODING_WRONG"),
        alternatives=_keys("CODING_ALTERNATIVES"),
    )
)


# -- Q6 observation value ----------------------------------------------------------------------------------------------


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


q6 = _copying_question(
    function_question(
        grade_id="lab04_observation_value",
        title="Q6 observation value[x]",
        points=2,
        name="observation_value",
        parameters=("obs",),
        reference=lambda *args: _ref().observation_value(*args),
        cases=_value_cases,
        compare=_compare_value,
        hints=(
            "`value[x]` appears in JSON as one element named `value` + a type: `valueQuantity`, "
            "`valueCodeableConcept`, `valueString`, `valueBoolean`, `valueInteger` ... Find the key, then branch.",
            "Test for the key's presence, not the value's truth: `valueInteger: 0`, `valueBoolean: false` and "
            '`valueString: ""` are values. No `value[x]` (components only, or a `dataAbsentReason`) returns None.',
        ),
        solution_code=_key("VALUE_SOLUTION"),
        wrong=_keys("VALUE_WRONG"),
        alternatives=_keys("VALUE_ALTERNATIVES"),
    )
)


# -- Q7 transaction bundle --------------------------------------------------------------------------------------------


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
    for ref in _ref().references_in([e["resource"] for e in entries]):
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


q7 = _stateful(
    function_question(
        grade_id="lab04_transaction_bundle",
        title="Q7 transaction Bundle with urn:uuid references",
        points=3,
        name="transaction_bundle",
        parameters=("patient", "observations"),
        reference=_fresh(lambda *args: _ref().transaction_bundle(*args)),
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
        solution_code=_key("TRANSACTION_SOLUTION"),
        wrong=_keys("TRANSACTION_WRONG"),
        alternatives=_keys("TRANSACTION_ALTERNATIVES"),
    )
)


# -- Q8 resolve references -------------------------------------------------------------------------------------------


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


q8 = _copying_question(
    function_question(
        grade_id="lab04_resolve_references",
        title="Q8 resolve references",
        points=3,
        name="resolve_references",
        parameters=("entries",),
        reference=lambda *args: _ref().resolve_references(*args),
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
        solution_code=_key("RESOLVE_SOLUTION"),
        wrong=_keys("RESOLVE_WRONG"),
        alternatives=_keys("RESOLVE_ALTERNATIVES"),
    )
)


# -- Q9, Q10 search ---------------------------------------------------------------------------------------------------

BASIC_SEARCHES = ("bp_2022_2024", "women_born_before_1960")
LINKED_SEARCHES = ("hba1c_with_patients", "patient_with_observations", "encounters_by_family_name")


def _run_search(url: str) -> Response:
    return _search_store().request("GET", url)


def _search_question(
    grade_id, title, points, variable, keys, hints, solution_code, wrong, alternatives=()
) -> Question:
    def refs():
        return _ref().search_urls()

    def expected():
        return {k: result_keys(_run_search(refs()[k][0]).body) for k in keys}

    def run(got: Any) -> dict[str, Response]:
        """The server's answer to each search: a dict with exactly ``keys``, each a full URL it accepts."""
        if not isinstance(got, dict) or set(got) != set(keys):
            raise Incorrect(f"{title}: set `{variable}` to a dict with exactly the keys {list(keys)}.")
        answers = {}
        for k in keys:
            url = got[k]
            if not isinstance(url, str) or not url.startswith(BASE + "/"):
                raise Incorrect(f"{title}: {k}: write a full URL starting with BASE ({BASE}/).")
            r = answers[k] = _run_search(url)
            if r.status != 200:
                raise Incorrect(
                    f"{title}: {k}: the server answered {r.status}: {r.body['issue'][0]['diagnostics']}"
                )
        return answers

    def compare(got: Any, key: dict) -> None:
        for k, r in run(got).items():
            got_keys, exp = result_keys(r.body), key[k]
            if refs()[k][1]:
                if got_keys != exp:
                    raise Incorrect(f"{title}: {k}: your URL returns {len(got_keys)} entries"
                                    + (", in the wrong order." if sorted(got_keys) == sorted(exp) else ", not the right ones."))  # fmt: skip
            elif sorted(got_keys) != sorted(exp):
                included = sum(m == "include" for m, _ in got_keys)
                raise Incorrect(f"{title}: {k}: your URL returns {len(got_keys)} entries "
                                f"({included} included), which is not right.")  # fmt: skip

    return Question(grade_id=grade_id, title=title, points=points, variable=variable, expected=expected,
                    compare=compare, hints=hints, solution_code=solution_code, wrong=wrong, alternatives=alternatives,
                    form=(run,))  # fmt: skip


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
    wrong=_keys("BASIC_SEARCHES_WRONG"),
    alternatives=_keys("BASIC_SEARCHES_ALTERNATIVES"),
    solution_code=_key("BASIC_SEARCHES_SOLUTION"),
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
    wrong=_keys("LINKED_SEARCHES_WRONG"),
    alternatives=_keys("LINKED_SEARCHES_ALTERNATIVES"),
    solution_code=_key("LINKED_SEARCHES_SOLUTION"),
)


# -- Q11, Q12 conditional create and version-aware update ----------------------------------------------------------------


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


q11 = _stateful(
    function_question(
        grade_id="lab04_conditional_create",
        title="Q11 conditional create",
        points=2,
        name="ensure_patient",
        parameters=("store", "patient"),
        reference=_fresh(lambda *args: _ref().ensure_patient(*args)),
        cases=_create_cases,
        compare=_compare_create,
        hints=(
            "POST the Patient with the header `If-None-Exist: identifier=<system>|<value>` of its MRN (the identifier "
            "whose `type` has the v2-0203 code `MR`). The server searches and creates in one step.",
            "201 Created: a new patient; 200 OK: one already matched and nothing was created (the body is the "
            "existing one); 412 Precondition Failed: several matched, so raise ValueError. Either way the body's "
            "`id` names the patient.",
        ),
        solution_code=_key("CREATE_SOLUTION"),
        wrong=_keys("CREATE_WRONG"),
        alternatives=_keys("CREATE_ALTERNATIVES"),
    )
)


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


q12 = _stateful(
    function_question(
        grade_id="lab04_versioned_update",
        title="Q12 version-aware update",
        points=2,
        name="versioned_update",
        parameters=("store", "url", "change"),
        reference=_fresh(lambda *args: _ref().versioned_update(*args)),
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
        solution_code=_key("UPDATE_SOLUTION"),
        wrong=_keys("UPDATE_WRONG"),
        alternatives=_keys("UPDATE_ALTERNATIVES"),
    )
)


QUESTIONS = (q1, q2, q3, q4, q5, q6, q7, q8, q9, q10, q11, q12)
