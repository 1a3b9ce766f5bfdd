"""Lab 04's answer sources: each question's worked solution (the notebook's solution cell), other correct
answers, and known-wrong answers that must lose exactly that question's points. Left out of an exam release."""

from __future__ import annotations

from hitlab.checks.choice import dict_code

# -- Q1 R4B or R5

R4_MODELS_SOLUTION = 'r4_models = "B"  # from fhir.resources.R4B.patient import Patient'
R4_MODELS_WRONG = ('r4_models = "A"',)
R4_MODELS_ALTERNATIVES = ('r4_models = " b"',)

# -- Q2 US Core Patient

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

US_CORE_PATIENT_WRONG = (
    US_CORE_PATIENT_SOLUTION.replace('"url": "ombCategory"', '"url": US_CORE + "ombCategory"'),
    US_CORE_PATIENT_SOLUTION.replace('row["SSN"].replace("-", "")', 'row["SSN"]'),
)
US_CORE_PATIENT_ALTERNATIVES = (
    "import json\n\n"
    + US_CORE_PATIENT_SOLUTION.replace(
        "    Patient.model_validate(patient)  # raises if the structure is wrong\n    return patient",
        "    return json.loads(Patient.model_validate(patient).model_dump_json())",
    ),
)

# -- Q3 validation errors

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

VALIDATION_WRONG = (
    VALIDATION_SOLUTION.replace("from fhir.resources.R4B import", "from fhir.resources import"),
    VALIDATION_SOLUTION.replace(
        'return sorted({".".join([resource_type, *map(str, e["loc"])]) for e in err.errors()})',
        'e = err.errors()[0]\n        return [".".join([resource_type, *map(str, e["loc"])])]',
    ),
)
VALIDATION_ALTERNATIVES = (
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
)

# -- Q4 flatten blood pressure

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

BP_WRONG = (
    BP_SOLUTION.replace(
        'quantities.get("systolic", {}).get("value")', 'obs["component"][0]["valueQuantity"]["value"]'
    ),
    BP_SOLUTION.replace(
        'q.get("code") if q.get("system") == "http://unitsofmeasure.org" else q.get("unit")',
        'q.get("unit")',
    ),
)
BP_ALTERNATIVES = (
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
)

# -- Q5 preferred coding

CODING_SOLUTION = """def preferred_coding(concept: dict, systems: list[str]) -> dict | None:
    codings = concept.get("coding", [])
    for system in systems:
        matching = [c for c in codings if c.get("system") == system]
        if matching:
            chosen = [c for c in matching if c.get("userSelected") is True]
            return (chosen or matching)[0]
    return None"""

CODING_WRONG = (
    """def preferred_coding(concept: dict, systems: list[str]) -> dict | None:
    for coding in concept.get("coding", []):
        if coding.get("system") in systems:
            return coding
    return None""",
)
CODING_ALTERNATIVES = (
    """def preferred_coding(concept, systems):
    rank = {s: i for i, s in enumerate(systems)}
    codings = [c for c in concept.get("coding", []) if c.get("system") in rank]
    return min(codings, key=lambda c: (rank[c["system"]], not c.get("userSelected", False)), default=None)""",
)

# -- Q6 observation value

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

VALUE_WRONG = (
    VALUE_SOLUTION.replace(
        "    if not keys:\n        return None\n    value = obs[keys[0]]",
        "    if not keys or not obs[keys[0]]:\n        return None\n    value = obs[keys[0]]",
    ),
)
VALUE_ALTERNATIVES = (
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
)

# -- Q7 transaction bundle

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

TRANSACTION_WRONG = (
    TRANSACTION_SOLUTION.replace("        o = copy.deepcopy(obs)\n", "        o = obs\n"),
    TRANSACTION_SOLUTION.replace(
        'o["subject"] = {"reference": patient_url}', 'o["subject"] = {"reference": f"Patient/{pid}"}'
    ),
)
TRANSACTION_ALTERNATIVES = (
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
)

# -- Q8 resolve references

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

RESOLVE_WRONG = (
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
)
RESOLVE_ALTERNATIVES = (
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
)

# -- Q9, Q10 search


class _Raw(str):
    """A string that ``dict_code`` writes as source (its repr is itself)."""

    def __repr__(self) -> str:
        return str(self)


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


BASIC_SEARCHES_SOLUTION = SEARCH_PRELUDE + dict_code(
    "basic_searches", {k: _Raw(SEARCH_SOLUTIONS[k]) for k in ("bp_2022_2024", "women_born_before_1960")}
)
BASIC_SEARCHES_WRONG = (
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
)
BASIC_SEARCHES_ALTERNATIVES = (
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
)

LINKED_SEARCHES_SOLUTION = SEARCH_PRELUDE + dict_code(
    "linked_searches",
    {
        k: _Raw(SEARCH_SOLUTIONS[k])
        for k in ("hba1c_with_patients", "patient_with_observations", "encounters_by_family_name")
    },
)
LINKED_SEARCHES_WRONG = (
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
)
LINKED_SEARCHES_ALTERNATIVES = (
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
)

# -- Q11 conditional create

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

CREATE_WRONG = (
    CREATE_SOLUTION.replace(
        "f\"identifier={mrn['system']}|{mrn['value']}\"", "f\"identifier={mrn['value']}\""
    ),
    CREATE_SOLUTION.replace(
        '    if response.status == 412:\n        raise ValueError("several patients share this MRN")\n',
        "",
    ),
)
CREATE_ALTERNATIVES = (
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
)

# -- Q12 version-aware update

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

UPDATE_WRONG = (
    """import copy


def versioned_update(store, url: str, change) -> dict:
    read = store.request("GET", url)
    if read.status == 404:
        raise LookupError(url)
    return store.request("PUT", url, body=change(copy.deepcopy(read.body))).body""",
)
UPDATE_ALTERNATIVES = (
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
)
