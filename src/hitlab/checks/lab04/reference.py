"""Lab 04's reference implementations: the answer each check compares a learner's function or URL with.
Left out of an exam release.

::

    us_core_patient(row)                       # Q2: a patients.csv row as a US Core Patient
    validation_errors(resource)                # Q3: the R4B models' error paths
    flatten_blood_pressure(bundle)             # Q4: one row per blood-pressure panel
    preferred_coding(concept, systems)         # Q5
    observation_value(obs)                     # Q6: value[x] as (value, unit or system)
    transaction_bundle(patient, observations)  # Q7
    resolve_references(entries)                # Q8: every reference -> the Type/id it lands on, or None
    search_urls()                              # Q9, Q10: the search URLs (and whether order matters)
    ensure_patient(server, patient)            # Q11: conditional create
    versioned_update(server, url, change)      # Q12: If-Match, retried on 412
"""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Callable
from typing import Any

from hitlab.checks.lab04.materials import (
    BP_PANEL,
    DIASTOLIC,
    HBA1C,
    LOINC,
    OMB,
    OMB_ETHNICITY,
    OMB_RACE,
    SID,
    SSN,
    SYSTOLIC,
    UCUM,
    US_CORE,
    V2_0203,
    VALUE_TYPES,
    search_patient,
)
from hitlab.fhirstore import BASE, FhirStore

R4_MODELS = "B"
"""Q1: the option whose classes read R4 data (``fhir.resources.R4B``)."""
R4_MODELS_WHY_NOT = {
    "A": "The top-level modules of fhir.resources 7 and later are FHIR R5: Encounter.class, "
    "MedicationRequest.medication[x] and more changed shape, so R4 bundles fail to validate.",
    "C": "STU3 (3.0.2) is older than R4; R4 resources use elements STU3 does not have.",
    "D": "Releases rename, retype and remove elements; a model only accepts its own release's shape.",
}
"""Q1: why each other option is wrong (left out of an exam release: the option it leaves out is the answer)."""


def us_core_patient(row: dict) -> dict:
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


def validation_errors(resource: dict) -> list[str]:
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


def _has_coding(concept: Any, system: str, code: str) -> bool:
    return isinstance(concept, dict) and any(
        c.get("system") == system and c.get("code") == code
        for c in concept.get("coding", [])
        if isinstance(c, dict)
    )


def flatten_blood_pressure(bundle: dict) -> list[dict]:
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


def preferred_coding(concept: dict, systems: list[str]) -> dict | None:
    codings = [c for c in (concept or {}).get("coding", []) if isinstance(c, dict)]
    for system in systems:
        matching = [c for c in codings if c.get("system") == system]
        if matching:
            return next((c for c in matching if c.get("userSelected") is True), matching[0])
    return None


def observation_value(obs: dict) -> tuple | None:
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


def _is_patient_ref(ref: str | None, patient: dict) -> bool:
    pid = patient.get("id")
    return ref in (f"Patient/{pid}", f"urn:uuid:{pid}")


def transaction_bundle(patient: dict, observations: list[dict]) -> dict:
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


def references_in(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["reference"]] if isinstance(node.get("reference"), str) else []
        return own + [r for k, v in node.items() if k != "reference" for r in references_in(v)]
    if isinstance(node, list):
        return [r for v in node for r in references_in(v)]
    return []


_RELATIVE = re.compile(r"^([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})$")
_CONDITIONAL = re.compile(r"^([A-Z][A-Za-z]+)\?identifier=([^|&]*)\|([^&]+)$")


def resolve_references(entries: list[dict]) -> dict[str, str | None]:
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
    for ref in references_in(resources_):
        if m := _RELATIVE.match(ref):
            out[ref] = ref if (m[1], m[2]) in by_key else None
        elif ref.startswith("urn:uuid:"):
            found = by_url.get(ref, [])
            out[ref] = found[0] if len(found) == 1 else None
        elif m := _CONDITIONAL.match(ref):
            found = by_identifier.get((m[1], m[2], m[3]), [])
            out[ref] = found[0] if len(found) == 1 else None
    return out


def search_urls() -> dict[str, tuple[str, bool]]:
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


def _mrn(patient: dict) -> dict:
    for ident in patient.get("identifier", []):
        coded_mr = any(
            c.get("system") == V2_0203 and c.get("code") == "MR"
            for c in ident.get("type", {}).get("coding", [])
        )
        if coded_mr and ident.get("system") and ident.get("value"):
            return ident
    raise ValueError("the patient has no medical record number (an identifier of type MR with a system)")


def ensure_patient(server: FhirStore, patient: dict) -> str:
    mrn = _mrn(patient)
    r = server.request("POST", "Patient", body=patient,
                       headers={"If-None-Exist": f"identifier={mrn['system']}|{mrn['value']}"})  # fmt: skip
    if r.status == 412:
        raise ValueError("several patients have this MRN: resolve the duplicates first")
    if r.status not in (200, 201):
        raise RuntimeError(f"the server answered {r.status}")
    return f"Patient/{r.body['id']}"


def versioned_update(server: FhirStore, url: str, change: Callable[[dict], dict]) -> dict:
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
