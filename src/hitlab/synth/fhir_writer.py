"""Write a population as FHIR R4 (4.0.1) bundles, laid out as Synthea does: one ``transaction`` Bundle per
patient (``urn:uuid`` full URLs and references inside it), plus ``hospitalInformation*.json`` and
``practitionerInformation*.json`` ``batch`` bundles that patient bundles point at with conditional references
(``Organization?identifier=system|value``). Resources claim US Core 6.1.0 profiles in ``meta.profile``.
"""

from __future__ import annotations

import base64
from datetime import date, datetime, timedelta
from pathlib import Path

import orjson

from hitlab.synth.model import Encounter, Note, Observation, PatientRecord
from hitlab.synth.reference import Organization, Provider, World
from hitlab.synth.simulate import END
from hitlab.synth.streams import new_uuid, stable_uuid, stream
from hitlab.terminology import ETHNICITY, OMB_RACE_CATEGORIES, RACE, SYSTEM_URIS, Code

SID = "https://hitlab.example.org/fhir/sid/"
"""Base of hitlab's identifier systems (patient id, MRN, encounter, organization, location)."""
NPI = "http://hl7.org/fhir/sid/us-npi"
US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"
UCUM = "http://unitsofmeasure.org"
TERMINOLOGY = "http://terminology.hl7.org/CodeSystem/"
OMB = "urn:oid:2.16.840.1.113883.6.238"
REFERENCE_FILES_STAMP = int(END.timestamp() * 1000)
"""Synthea suffixes the reference bundles with a time; ours is fixed so outputs stay reproducible."""

_MARITAL = {"M": "Married", "S": "Never Married", "D": "Divorced", "W": "Widowed"}
_CLASS = {
    "wellness": ("AMB", "ambulatory"),
    "ambulatory": ("AMB", "ambulatory"),
    "outpatient": ("AMB", "ambulatory"),
    "urgentcare": ("AMB", "ambulatory"),
    "virtual": ("VR", "virtual"),
    "emergency": ("EMER", "emergency"),
    "inpatient": ("IMP", "inpatient encounter"),
}
_DISPOSITION = {
    "home": ("home", "Home"),
    "transfer": ("other-hcf", "Other healthcare facility"),
    "expired": ("exp", "Expired"),
    "admitted": ("oth", "Other"),
}
_ADMIT_SOURCE = {
    "emergency": ("emd", "From accident/emergency department"),
    "transfer": ("hosp-trans", "Transferred from other hospital"),
    "referral": ("mp", "Medical Practitioner/physician referral"),
}
_VITAL_PROFILE = {
    "8302-2": "us-core-body-height",
    "29463-7": "us-core-body-weight",
    "39156-5": "us-core-bmi",
    "85354-9": "us-core-blood-pressure",
    "8867-4": "us-core-heart-rate",
    "9279-1": "us-core-respiratory-rate",
}
_CATEGORY_DISPLAY = {
    "vital-signs": "Vital Signs",
    "laboratory": "Laboratory",
    "social-history": "Social History",
    "exam": "Exam",
}
_TAXONOMY = {  # NUCC Health Care Provider Taxonomy
    "GENERAL PRACTICE": ("208D00000X", "General Practice Physician"),
    "FAMILY PRACTICE": ("207Q00000X", "Family Medicine Physician"),
    "INTERNAL MEDICINE": ("207R00000X", "Internal Medicine Physician"),
    "EMERGENCY MEDICINE": ("207P00000X", "Emergency Medicine Physician"),
    "CARDIOLOGY": ("207RC0000X", "Cardiovascular Disease Physician"),
    "PULMONARY DISEASE": ("207RP1001X", "Pulmonary Disease Physician"),
    "NEPHROLOGY": ("207RN0300X", "Nephrology Physician"),
    "ORTHOPEDIC SURGERY": ("207X00000X", "Orthopaedic Surgery Physician"),
}


def instant(value: datetime) -> str:
    return value.isoformat(timespec="seconds") + "Z"


def dumps(resource: dict) -> bytes:
    """Compact UTF-8 JSON: the bytes ``json.dumps(resource, ensure_ascii=False, separators=(",", ":"))``
    would give, six times faster (the FHIR files are most of the output)."""
    return orjson.dumps(resource)


def _coding(system: str, code: str, display: str) -> dict:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def _quantity(value: float, units: str, decimals: int) -> dict:
    return {
        "value": round(value, decimals) if decimals else int(value),
        "unit": units,
        "system": UCUM,
        "code": units,
    }


def organization_ref(org: Organization) -> dict:
    return {"reference": f"Organization?identifier={SID}organization|{org.id}", "display": org.name}


def location_ref(org: Organization) -> dict:
    return {"reference": f"Location?identifier={SID}location|{org.id}", "display": org.name}


def practitioner_ref(pr: Provider) -> dict:
    return {"reference": f"Practitioner?identifier={NPI}|{pr.npi}", "display": f"{pr.prefix} {pr.name}"}


def _address(org: Organization) -> dict:
    t = org.town
    return {"line": [org.address], "city": t.name, "state": "MA", "postalCode": t.zip, "country": "US"}


class PatientBundle:
    """Builds the transaction Bundle of one patient."""

    def __init__(self, p: PatientRecord, seed: int) -> None:
        self.p = p
        self.ids = stream(seed, "fhir-ids", p.index)
        self.entries: list[dict] = []
        self.subject = {"reference": f"urn:uuid:{p.id}", "display": self.display_name()}

    def display_name(self) -> str:
        p = self.p
        return " ".join(x for x in (p.prefix, p.first, p.last) if x)

    def add(self, resource: dict, profile: str | list[str] | None) -> str:
        rid = resource.get("id") or new_uuid(self.ids)
        body = {"resourceType": resource.pop("resourceType"), "id": rid}
        if profile:
            profiles = [profile] if isinstance(profile, str) else profile
            body["meta"] = {"profile": [p if p.startswith("http") else US_CORE + p for p in profiles]}
        body.update(resource)
        body.pop("_", None)
        self.entries.append(
            {
                "fullUrl": f"urn:uuid:{rid}",
                "resource": body,
                "request": {"method": "POST", "url": body["resourceType"]},
            }
        )
        return rid

    def build(self) -> dict:
        p = self.p
        self.add(self.patient(), "us-core-patient")
        conditions = {}
        for e in p.encounters:
            self.add(self.encounter(e), "us-core-encounter")
        for c in sorted(p.conditions, key=lambda c: (c.start, c.code.code)):
            chronic = c.category == "problem-list-item"
            res = {
                "resourceType": "Condition",
                "clinicalStatus": _status("condition-clinical", "resolved" if c.stop else "active"),
                "verificationStatus": _status("condition-ver-status", "confirmed"),
                "category": [
                    {
                        "coding": [
                            {
                                "system": TERMINOLOGY + "condition-category",
                                "code": c.category,
                                "display": "Problem List Item" if chronic else "Encounter Diagnosis",
                            }
                        ]
                    }
                ],
                "code": {"coding": [c.code.coding(), c.icd.coding()], "text": c.code.display},
                "subject": self.subject,
                "encounter": {"reference": f"urn:uuid:{c.encounter.id}"},
                "onsetDateTime": c.start.isoformat(),
            }
            if c.stop:
                res["abatementDateTime"] = c.stop.isoformat()
            res["recordedDate"] = instant(c.encounter.start)
            profile = (
                "us-core-condition-problems-health-concerns"
                if chronic
                else "us-core-condition-encounter-diagnosis"
            )
            conditions[(c.code.code, c.encounter.id)] = self.add(res, profile)
        for group in _observation_groups(p.observations):
            res, profile = self.observation(group)
            self.add(res, profile)
        for m in sorted(p.medications, key=lambda m: (m.start, m.code.code)):
            status = (
                "active"
                if m.stop is None
                else ("stopped" if p.death_time and m.stop >= p.death_time else "completed")
            )
            res = {
                "resourceType": "MedicationRequest",
                "status": status,
                "intent": "order",
                "medicationCodeableConcept": m.code.concept(),
                "subject": self.subject,
                "encounter": {"reference": f"urn:uuid:{m.encounter.id}"},
                "authoredOn": instant(m.start),
                "requester": practitioner_ref(m.encounter.provider),
            }
            if m.reason is not None:
                res["reasonCode"] = [m.reason.concept()]
                condition = conditions.get((m.reason.code, m.encounter.id))  # diagnosed where prescribed
                if condition:
                    res["reasonReference"] = [{"reference": f"urn:uuid:{condition}"}]
            self.add(res, "us-core-medicationrequest")
        for i in sorted(p.immunizations, key=lambda i: (i.time, i.code.code)):
            self.add(
                {
                    "resourceType": "Immunization",
                    "status": "completed",
                    "vaccineCode": i.code.concept(),
                    "patient": self.subject,
                    "encounter": {"reference": f"urn:uuid:{i.encounter.id}"},
                    "occurrenceDateTime": instant(i.time),
                    "primarySource": True,
                    "location": location_ref(i.encounter.organization),
                },
                "us-core-immunization",
            )
        for al in p.allergies:
            res = {
                "resourceType": "AllergyIntolerance",
                "clinicalStatus": _status("allergyintolerance-clinical", "active"),
                "verificationStatus": _status("allergyintolerance-verification", "confirmed"),
                "type": "allergy",
                "category": [al.category],
                "criticality": "high" if any(s == "SEVERE" for _, s in al.reactions) else "low",
                "code": al.code.concept(),
                "patient": self.subject,
                "encounter": {"reference": f"urn:uuid:{al.encounter.id}"},
                "recordedDate": al.start.isoformat(),
                "reaction": [
                    {"manifestation": [r.concept()], "severity": sev.lower()} for r, sev in al.reactions
                ],
            }
            self.add(res, "us-core-allergyintolerance")
        for pr in sorted(p.procedures, key=lambda pr: pr.start):
            res = {
                "resourceType": "Procedure",
                "status": "completed",
                "code": pr.code.concept(),
                "subject": self.subject,
                "encounter": {"reference": f"urn:uuid:{pr.encounter.id}"},
                "performedPeriod": {"start": instant(pr.start), "end": instant(pr.stop)},
                "location": location_ref(pr.encounter.organization),
            }
            if pr.reason is not None:
                res["reasonCode"] = [pr.reason.concept()]
            self.add(res, "us-core-procedure")
        for cp in p.careplans:
            period = {"start": cp.start.isoformat()}
            if cp.stop:
                period["end"] = cp.stop.isoformat()
            res = {
                "resourceType": "CarePlan",
                "id": cp.id,
                "text": {
                    "status": "generated",
                    "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{cp.code.display} for {cp.reason.display}</div>',
                },
                "status": "revoked" if cp.stop else "active",
                "intent": "plan",
                "category": [
                    {
                        "coding": [
                            {
                                "system": "http://hl7.org/fhir/us/core/CodeSystem/careplan-category",
                                "code": "assess-plan",
                            }
                        ]
                    },
                    cp.code.concept(),
                ],
                "subject": self.subject,
                "encounter": {"reference": f"urn:uuid:{cp.encounter.id}"},
                "period": period,
            }
            condition = conditions.get((cp.reason.code, cp.encounter.id))
            if condition:
                res["addresses"] = [{"reference": f"urn:uuid:{condition}"}]
            self.add(res, "us-core-careplan")
        for note in p.notes:
            self.add(self.document_reference(note), "us-core-documentreference")
        return {"resourceType": "Bundle", "type": "transaction", "entry": self.entries}

    def patient(self) -> dict:
        p = self.p
        extensions = []
        race = RACE[p.race] if RACE[p.race][0] in OMB_RACE_CATEGORIES else None
        race_ext = (
            [{"url": "ombCategory", "valueCoding": {"system": OMB, "code": race[0], "display": race[1]}}]
            if race
            else []
        )
        race_ext.append({"url": "text", "valueString": race[1] if race else "Other"})
        extensions.append({"url": US_CORE + "us-core-race", "extension": race_ext})
        eth = ETHNICITY[p.ethnicity]
        extensions.append({
            "url": US_CORE + "us-core-ethnicity",
            "extension": [
                {"url": "ombCategory", "valueCoding": {"system": OMB, "code": eth[0], "display": eth[1]}},
                {"url": "text", "valueString": eth[1]},
            ],
        })  # fmt: skip
        extensions.append({"url": US_CORE + "us-core-birthsex", "valueCode": p.gender})
        identifiers = [
            {"system": SID + "patient", "value": p.id},
            {
                "type": _coding(TERMINOLOGY + "v2-0203", "MR", "Medical record number"),
                "system": SID + "mrn",
                "value": p.mrn,
            },
            {
                "type": _coding(TERMINOLOGY + "v2-0203", "SS", "Social Security number"),
                "system": "http://hl7.org/fhir/sid/us-ssn",
                "value": p.ssn.replace("-", ""),  # the us-ssn naming system drops the dashes
            },
        ]
        if p.drivers:
            identifiers.append({"type": _coding(TERMINOLOGY + "v2-0203", "DL", "Driver's license number"),
                                "system": "urn:oid:2.16.840.1.113883.4.3.25", "value": p.drivers})  # fmt: skip
        if p.passport:
            identifiers.append({"type": _coding(TERMINOLOGY + "v2-0203", "PPN", "Passport number"),
                                "system": "http://hl7.org/fhir/sid/passport-USA", "value": p.passport})  # fmt: skip
        name = {"use": "official", "family": p.last, "given": [g for g in (p.first, p.middle) if g]}
        if p.prefix:
            name["prefix"] = [p.prefix]
        if p.suffix:
            name["suffix"] = [p.suffix]
        names = [name]
        if p.maiden:
            names.append({"use": "maiden", "family": p.maiden, "given": [p.first]})
        addresses = []
        for i, a in enumerate(p.addresses):
            addr = {
                "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/geolocation", "extension": [
                    {"url": "latitude", "valueDecimal": a.lat}, {"url": "longitude", "valueDecimal": a.lon}]}],
                "use": "home" if i == len(p.addresses) - 1 else "old",
                "line": [a.line], "city": a.town.name, "district": a.town.county, "state": "MA",
                "postalCode": a.zip, "country": "US", "period": {"start": a.since.isoformat()},
            }  # fmt: skip
            if i + 1 < len(p.addresses):
                # Period.end is inclusive in FHIR: the last day at the old address is the day before the move
                addr["period"]["end"] = (p.addresses[i + 1].since - timedelta(days=1)).isoformat()
            addresses.append(addr)
        res = {
            "resourceType": "Patient",
            "id": p.id,
            "extension": extensions,
            "identifier": identifiers,
            "name": names,
            "telecom": [{"system": "phone", "value": p.phone, "use": "home"}],
            "gender": "male" if p.gender == "M" else "female",
            "birthDate": p.birthdate.isoformat(),
        }
        if p.death_time:
            res["deceasedDateTime"] = instant(p.death_time)
        res["address"] = addresses
        if p.marital:
            res["maritalStatus"] = _coding(TERMINOLOGY + "v3-MaritalStatus", p.marital, _MARITAL[p.marital])
        res["communication"] = [{"language": _coding("urn:ietf:bcp:47", "en-US", "English (United States)")}]
        return res

    def encounter(self, e: Encounter) -> dict:
        cls, cls_display = _CLASS[e.encclass]
        ongoing = e.stop >= END
        period = {"start": instant(e.start)}
        if not ongoing:
            period["end"] = instant(e.stop)
        res = {
            "resourceType": "Encounter",
            "id": e.id,
            "identifier": [{"use": "official", "system": SID + "encounter", "value": e.id}],
            "status": "in-progress" if ongoing else "finished",
            "class": {
                "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                "code": cls,
                "display": cls_display,
            },
            "type": [e.code.concept()],
            "subject": self.subject,
            "participant": [
                {
                    "type": [
                        _coding(
                            "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                            "PPRF",
                            "primary performer",
                        )
                    ],
                    "period": period,
                    "individual": practitioner_ref(e.provider),
                }
            ],
            "period": period,
        }
        if e.reason is not None:
            res["reasonCode"] = [e.reason.concept()]
        hosp = {}
        if e.admit_source:
            hosp["admitSource"] = _coding(TERMINOLOGY + "admit-source", *_ADMIT_SOURCE[e.admit_source])
        if e.disposition and not ongoing:
            hosp["dischargeDisposition"] = _coding(
                TERMINOLOGY + "discharge-disposition", *_DISPOSITION[e.disposition]
            )
        if hosp:
            res["hospitalization"] = hosp
        res["location"] = [{"location": location_ref(e.organization)}]
        res["serviceProvider"] = organization_ref(e.organization)
        return res

    def document_reference(self, note: Note) -> dict:
        """A clinical note as Synthea writes it: a ``DocumentReference`` with the text base64-encoded inline."""
        e = note.encounter
        return {
            "resourceType": "DocumentReference",
            "id": note.id,
            "identifier": [{"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{note.id}"}],
            "status": "current",
            "type": {"coding": [note.type.coding()], "text": note.type.display},
            "category": [
                {
                    "coding": [
                        {
                            "system": "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category",
                            "code": "clinical-note",
                            "display": "Clinical Note",
                        }
                    ]
                }
            ],
            "subject": self.subject,
            "date": instant(note.time),
            "author": [practitioner_ref(e.provider)],
            "custodian": organization_ref(e.organization),
            "content": [
                {
                    "attachment": {
                        "contentType": "text/plain; charset=utf-8",
                        "data": base64.b64encode(note.text.encode("utf-8")).decode("ascii"),
                    },
                    "format": {
                        "system": "http://ihe.net/fhir/ValueSet/IHE.FormatCode.codesystem",
                        "code": "urn:ihe:iti:xds:2017:mimeTypeSufficient",
                        "display": "mimeType Sufficient",
                    },
                }
            ],
            "context": {
                "encounter": [{"reference": f"urn:uuid:{e.id}"}],
                "period": {"start": instant(e.start), "end": instant(e.stop)},
            },
        }

    def observation(self, group: list[Observation]) -> tuple[dict, str | list[str] | None]:
        first = group[0]
        panel = first.panel if first.code.key in ("obs.systolic", "obs.diastolic") else None
        concept = panel or first.code
        res = {
            "resourceType": "Observation",
            "status": "final",
            "category": [_category(first.category)],
            "code": {"coding": [concept.coding()], "text": concept.display},
            "subject": self.subject,
            "encounter": {"reference": f"urn:uuid:{first.encounter.id}"},
            "effectiveDateTime": instant(first.time),
            "issued": instant(first.time),
        }
        if panel is not None:
            res["component"] = [
                {"code": o.code.concept(), "valueQuantity": _quantity(o.value, o.units, o.decimals)}
                for o in group
            ]
        else:
            _value(res, first)
        if first.category == "vital-signs":
            vital = _VITAL_PROFILE.get(concept.code)
            profiles = ["http://hl7.org/fhir/StructureDefinition/vitalsigns"]
            return res, ([US_CORE + vital] if vital else []) + profiles
        if first.category == "laboratory":
            return res, "us-core-observation-lab"
        if first.code.key == "obs.smoking":
            return res, "us-core-smokingstatus"
        return res, "us-core-observation-clinical-result"


def _value(res: dict, o: Observation) -> None:
    if isinstance(o.value, float):
        res["valueQuantity"] = _quantity(o.value, o.units, o.decimals)
        if o.reference_range is not None:
            low, high = o.reference_range
            rng = {}
            if low is not None:
                rng["low"] = _quantity(low, o.units, 1)
            if high is not None:
                rng["high"] = _quantity(high, o.units, 1)
            res["referenceRange"] = [rng]
            flag = o.interpretation()
            display = {"L": "Low", "H": "High", "N": "Normal"}[flag]
            res["interpretation"] = [_coding(TERMINOLOGY + "v3-ObservationInterpretation", flag, display)]
    elif isinstance(o.value, Code):
        res["valueCodeableConcept"] = o.value.concept()
    else:
        res["valueString"] = o.value


def _category(cat: str) -> dict:
    return {
        "coding": [
            {"system": TERMINOLOGY + "observation-category", "code": cat, "display": _CATEGORY_DISPLAY[cat]}
        ]
    }


def _status(system: str, code: str) -> dict:
    return {"coding": [{"system": TERMINOLOGY + system, "code": code}]}


def _observation_groups(observations: list[Observation]) -> list[list[Observation]]:
    """One group per FHIR Observation: blood pressure's two rows become one panel with components."""
    groups: list[list[Observation]] = []
    bp: dict[tuple[str, datetime], list[Observation]] = {}
    for o in sorted(observations, key=lambda o: o.time):
        if o.code.key in ("obs.systolic", "obs.diastolic"):
            key = (o.encounter.id, o.time)
            if key not in bp:
                bp[key] = []
                groups.append(bp[key])
            bp[key].append(o)
        else:
            groups.append([o])
    return groups


def patient_bundle(p: PatientRecord, seed: int) -> dict:
    """The transaction Bundle of one patient."""
    return PatientBundle(p, seed).build()


def patient_bundle_name(p: PatientRecord) -> str:
    """Synthea's file name for a patient bundle: ``First_Last_Id.json``."""
    return f"{p.first}_{p.last}_{p.id}.json"


def _batch(resources: list[tuple[dict, str]]) -> dict:
    entries = []
    for res, identifier in resources:
        entries.append({
            "fullUrl": f"urn:uuid:{res['id']}",
            "resource": res,
            "request": {"method": "POST", "url": res["resourceType"], "ifNoneExist": f"identifier={identifier}"},
        })  # fmt: skip
    return {"resourceType": "Bundle", "type": "batch", "entry": entries}


def hospital_bundle(world: World) -> dict:
    """Organizations and their Locations, as Synthea's ``hospitalInformation`` batch bundle."""
    out = []
    for org in world.organizations:
        out.append(({
            "resourceType": "Organization", "id": org.id,
            "meta": {"profile": [US_CORE + "us-core-organization"]},
            "identifier": [{"system": SID + "organization", "value": org.id}],
            "active": True,
            "type": [_coding(TERMINOLOGY + "organization-type", "prov", "Healthcare Provider")],
            "name": org.name,
            "telecom": [{"system": "phone", "value": org.phone}],
            "address": [_address(org)],
        }, f"{SID}organization|{org.id}"))  # fmt: skip
        loc_id = stable_uuid("location", org.id)
        out.append(({
            "resourceType": "Location", "id": loc_id,
            "meta": {"profile": [US_CORE + "us-core-location"]},
            "identifier": [{"system": SID + "location", "value": org.id}],
            "status": "active",
            "name": org.name,
            "telecom": [{"system": "phone", "value": org.phone}],
            "address": _address(org),
            "position": {"longitude": org.town.lon, "latitude": org.town.lat},
            "managingOrganization": organization_ref(org),
        }, f"{SID}location|{org.id}"))  # fmt: skip
    return _batch(out)


def practitioner_bundle(world: World) -> dict:
    """Practitioners and their PractitionerRoles, as Synthea's ``practitionerInformation`` batch bundle."""
    out = []
    for pr in world.providers:
        out.append(({
            "resourceType": "Practitioner", "id": pr.id,
            "meta": {"profile": [US_CORE + "us-core-practitioner"]},
            "identifier": [{"system": NPI, "value": pr.npi}],
            "active": True,
            "name": [{"family": pr.last, "given": [pr.first], "prefix": [pr.prefix]}],
            "address": [_address(pr.organization)],
            "gender": "male" if pr.gender == "M" else "female",
        }, f"{NPI}|{pr.npi}"))  # fmt: skip
        role_id = stable_uuid("practitioner-role", pr.npi)
        taxonomy = _TAXONOMY[pr.speciality]
        out.append(({
            "resourceType": "PractitionerRole", "id": role_id,
            "meta": {"profile": [US_CORE + "us-core-practitionerrole"]},
            "identifier": [{"system": SID + "practitioner-role", "value": pr.npi}],
            "practitioner": practitioner_ref(pr),
            "organization": organization_ref(pr.organization),
            "specialty": [_coding("http://nucc.org/provider-taxonomy", *taxonomy)],
            "location": [location_ref(pr.organization)],
            "telecom": [{"system": "phone", "value": pr.organization.phone}],
        }, f"{SID}practitioner-role|{pr.npi}"))  # fmt: skip
    return _batch(out)


class FhirWriter:
    """Writes one bundle file per patient into ``out_dir``; ``close()`` writes the reference bundles."""

    def __init__(self, out_dir: Path, world: World, seed: int) -> None:
        self.out_dir = out_dir
        self.world = world
        self.seed = seed
        self.bundles = 0
        self.resources = 0
        out_dir.mkdir(parents=True, exist_ok=True)

    def write(self, p: PatientRecord) -> None:
        bundle = patient_bundle(p, self.seed)
        (self.out_dir / patient_bundle_name(p)).write_bytes(dumps(bundle))
        self.bundles += 1
        self.resources += len(bundle["entry"])

    def close(self) -> None:
        for name, bundle in (
            (f"hospitalInformation{REFERENCE_FILES_STAMP}.json", hospital_bundle(self.world)),
            (f"practitionerInformation{REFERENCE_FILES_STAMP}.json", practitioner_bundle(self.world)),
        ):
            (self.out_dir / name).write_bytes(dumps(bundle))
            self.resources += len(bundle["entry"])

    def counts(self) -> dict[str, int]:
        return {"fhir_patient_bundles": self.bundles, "fhir_resources": self.resources}


assert set(SYSTEM_URIS)  # the writer relies on the terminology table's systems
_ = date  # dates are written through isoformat()
