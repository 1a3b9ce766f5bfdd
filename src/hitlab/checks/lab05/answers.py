"""Lab 05's answer sources: each question's worked solution (the notebook's solution cell), other correct
answers, and known-wrong answers that must lose exactly that question's points. Left out of an exam release."""

from __future__ import annotations

ADT_SOLUTION = """### BEGIN SOLUTION
import hitlab.checks.lab05 as lab05

GENDER_0001 = {"F": "female", "M": "male", "O": "other", "U": "unknown", "A": "other", "N": "other"}
ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
V2_0004 = "http://terminology.hl7.org/CodeSystem/v2-0004"
CLASS_0004 = {"E": (ACT, "EMER"), "I": (ACT, "IMP"), "O": (ACT, "AMB"), "P": (ACT, "PRENC"),
              "R": (V2_0004, "R"), "B": (V2_0004, "B"), "C": (V2_0004, "C"), "N": (V2_0004, "N"),
              "U": (V2_0004, "U")}
STATUS_0004 = {"E": "in-progress", "I": "in-progress", "O": "in-progress", "P": "planned", "R": "in-progress",
               "B": "in-progress", "C": "in-progress", "N": "in-progress", "U": "unknown"}


def map_adt(message: str) -> dict:
    segments = {}
    for seg in lab05.parse_v2(message):
        segments.setdefault(seg.name, seg)
    if "PID" not in segments:
        raise ValueError("the message has no PID segment")
    zone = lab05.sender_zone(list(segments.values()))  # MSH-7's offset, else the facility's documented zone
    pid = segments["PID"]
    patient = {"resourceType": "Patient"}
    identifiers = []
    for i in range(1, len(pid.repetitions(3)) + 1):
        identifier = {"value": pid.get(3, 1, i)}
        if pid.get(3, 5, i):
            identifier["type"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                              "code": pid.get(3, 5, i)}]}
        identifiers.append(identifier)
    if identifiers:
        patient["identifier"] = identifiers
    names = []
    for i in range(1, len(pid.repetitions(5)) + 1):
        name = {}
        if pid.get(5, 1, i):
            name["family"] = pid.get(5, 1, i).split("&")[0]  # FN.1, the surname
        given = [g for g in (pid.get(5, 2, i), pid.get(5, 3, i)) if g]
        if given:
            name["given"] = given
        if pid.get(5, 5, i):
            name["prefix"] = [pid.get(5, 5, i)]
        if pid.get(5, 4, i):
            name["suffix"] = [pid.get(5, 4, i)]
        names.append(name)
    if names:
        patient["name"] = names
    if pid.get(7):
        patient["birthDate"] = lab05.fhir_datetime(pid.get(7)[:8])  # validates the date; drops the time
    if pid.get(8) in GENDER_0001:
        patient["gender"] = GENDER_0001[pid.get(8)]
    encounter = None
    if "PV1" in segments:
        pv1 = segments["PV1"]
        if pv1.get(2) not in CLASS_0004:
            raise ValueError(f"PV1-2 = {pv1.get(2)!r}: Encounter.class is required and has no table 0004 code")
        system, code = CLASS_0004[pv1.get(2)]
        encounter = {"resourceType": "Encounter", "class": {"system": system, "code": code},
                     "status": "finished" if pv1.get(45) else STATUS_0004[pv1.get(2)]}
        if pv1.get(19):
            encounter["identifier"] = [{"value": pv1.get(19), "type": {"coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "VN"}]}}]  # IG assigns VN
        period = {key: lab05.fhir_datetime(pv1.get(n), zone) for key, n in (("start", 44), ("end", 45))
                  if pv1.get(n)}
        if period:
            encounter["period"] = period
    return {"Patient": patient, "Encounter": encounter}
### END SOLUTION"""

ADT_ALTERNATIVE = ADT_SOLUTION.replace(
    "lab05.fhir_datetime(pid.get(7)[:8])",
    '__import__("datetime").date(int(pid.get(7)[:4]), int(pid.get(7)[4:6]), int(pid.get(7)[6:8])).isoformat()',
)


ORU_SOLUTION = """### BEGIN SOLUTION
import re

import hitlab.checks.lab05 as lab05

STATUS_0085 = {"A": "amended", "C": "corrected", "D": "entered-in-error", "F": "final", "P": "preliminary",
               "W": "entered-in-error", "X": "cancelled"}
SYSTEMS = {"LN": "http://loinc.org", "SCT": "http://snomed.info/sct", "UCUM": "http://unitsofmeasure.org",
           "I10C": "http://hl7.org/fhir/sid/icd-10-cm", "RXNORM": "http://www.nlm.nih.gov/research/umls/rxnorm"}
COMPARATORS = {"": None, "=": None, "<": "<", ">": ">", "<=": "<=", ">=": ">="}


def cwe_to_codeable(seg, n):
    codings = []
    for first in (1, 4):  # the identifier triplet, then the alternate triplet
        coding = {}
        if seg.get(n, first + 2) in SYSTEMS:
            coding["system"] = SYSTEMS[seg.get(n, first + 2)]
        if seg.get(n, first):
            coding["code"] = seg.get(n, first)
        if seg.get(n, first + 1):
            coding["display"] = seg.get(n, first + 1)
        if "code" in coding:
            codings.append(coding)
    concept = {"coding": codings}
    if seg.get(n, 9):
        concept["text"] = seg.get(n, 9)
    return concept


def number(text, where):
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{where}: {text!r} is not a number") from None


def units(code, text, system):
    quantity = {}
    if text or code:
        quantity["unit"] = text or code
    if code and system:
        quantity["code"] = code
        if system in SYSTEMS:
            quantity["system"] = SYSTEMS[system]
    return quantity


def value_of(seg, zone):
    where, kind, reps = f"OBX-{seg.get(1)}", seg.get(2), seg.repetitions(5)
    if not reps:
        return {}
    if kind in ("ST", "TX", "FT"):
        return {"valueString": "\\n".join(seg.get(5, 1, i) for i in range(1, len(reps) + 1))}
    if len(reps) > 1:
        raise ValueError(f"{where}: {len(reps)} repetitions in OBX-5, one value[x] in FHIR")
    c1, c2, c3, c4 = (seg.get(5, i) for i in range(1, 5))
    unit = units(seg.get(6, 1), seg.get(6, 2), seg.get(6, 3))
    if kind == "NM":
        return {"valueQuantity": {"value": number(c1, where), **unit}}
    if kind in ("CWE", "CE", "CNE", "CF"):
        return {"valueCodeableConcept": cwe_to_codeable(seg, 5)}
    if kind == "IS":
        return {"valueCodeableConcept": {"coding": [{"code": c1}]}}
    if kind in ("DT", "DTM", "TS"):
        return {"valueDateTime": lab05.fhir_datetime(c1, zone)}
    if kind == "TM":
        m = re.fullmatch(r"([01]\\d|2[0-3])([0-5]\\d)?([0-5]\\d(\\.\\d{1,4})?)?", c1)
        if not m:
            raise ValueError(f"{where}: {c1!r} is not a zone-less TM")
        return {"valueTime": f"{m.group(1)}:{m.group(2) or '00'}:{m.group(3) or '00'}"}
    if kind == "SN":
        if c1 not in COMPARATORS or (c1 not in ("", "=") and c3):
            raise ValueError(f"{where}: SN {c1!r} {c3!r} has no FHIR form")
        if c3 == "+":
            return {"valueString": " ".join(p for p in (c1, c2, c3, c4) if p)}
        if c3 in (":", "/"):
            return {"valueRatio": {"numerator": {"value": number(c2, where), **unit},
                                   "denominator": {"value": number(c4, where), **unit}}}
        if c3 == "-":
            return {"valueRange": {"low": {"value": number(c2, where), **unit},
                                   "high": {"value": number(c4, where), **unit}}}
        if c3 or c4:
            raise ValueError(f"{where}: SN separator {c3!r}")
        quantity = {"value": number(c2, where), **unit}
        if COMPARATORS[c1]:
            quantity["comparator"] = COMPARATORS[c1]
        return {"valueQuantity": quantity}
    if kind == "NR":
        return {"valueRange": {k: {"value": number(v, where)} for k, v in (("low", c1), ("high", c2)) if v}}
    if kind == "DR":
        return {"valuePeriod": {k: lab05.fhir_datetime(v, zone) for k, v in (("start", c1), ("end", c2)) if v}}
    if kind == "VR":
        return {"valueString": f"{c1}-{c2}"}
    if kind == "CQ":
        code, text, system = (c2.split("&") + ["", ""])[:3]
        return {"valueQuantity": {"value": number(c1, where), **units(code, text, system)}}
    raise ValueError(f"{where}: no R4 value[x] for OBX-2 = {kind!r} (ED, RP, NA and unmapped types are refused)")


def map_oru(message: str) -> list[dict]:
    segments = lab05.parse_v2(message)
    zone = lab05.sender_zone(segments)
    observations = []
    for seg in segments:
        if seg.name != "OBX":
            continue
        if seg.get(11) not in STATUS_0085:
            raise ValueError(f"OBX-{seg.get(1)}: OBX-11 = {seg.get(11)!r} has no Observation.status")
        obs = {"resourceType": "Observation", "status": STATUS_0085[seg.get(11)], "code": cwe_to_codeable(seg, 3)}
        obs.update(value_of(seg, zone))
        if seg.get(11) == "X" and not any(key.startswith("value") for key in obs):
            obs["dataAbsentReason"] = {"coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason", "code": "cannot-be-obtained"}]}
        if seg.get(14):
            obs["effectiveDateTime"] = lab05.fhir_datetime(seg.get(14), zone)
        observations.append(obs)
    return observations
### END SOLUTION"""


TRANSLATE_SOLUTION = """### BEGIN SOLUTION
MATCHING = {"relatedto", "equivalent", "equal", "wider", "subsumes", "narrower", "specializes", "inexact"}


def translate(code: str, concept_map: dict) -> list[dict]:
    if concept_map.get("resourceType") != "ConceptMap":
        raise ValueError("not a ConceptMap")
    results = []
    for group in concept_map.get("group", []):
        elements = [e for e in group.get("element", []) if e.get("code") == code]
        for element in elements:
            for target in element.get("target", []):
                if "equivalence" not in target:
                    raise ValueError(f"{code}: target without equivalence (R5 uses relationship)")
                if target["equivalence"] in MATCHING and "code" in target:
                    results.append({"system": group.get("target"), "code": target["code"],
                                    "equivalence": target["equivalence"]})
        unmapped = group.get("unmapped")
        if not elements and unmapped:
            if unmapped["mode"] == "provided":
                results.append({"system": group.get("source"), "code": code, "equivalence": "equal"})
            elif unmapped["mode"] == "fixed":
                results.append({"system": group.get("target"), "code": unmapped["code"], "equivalence": "inexact"})
            else:
                raise ValueError(f"unmapped mode {unmapped['mode']} is not supported")
    return results
### END SOLUTION"""


MAP_CODES_SOLUTION = """### BEGIN SOLUTION
def map_codes(codes: list[str], mapping) -> list[dict]:
    results = []
    for raw in codes:
        if not isinstance(raw, str) or not raw.strip():
            raise ValueError(f"not an ICD-10-CM code: {raw!r}")
        code = raw.strip().upper().replace(".", "")
        if len(code) > 3:
            code = code[:3] + "." + code[3:]
        rows = [r for r in mapping if r["source"] == code and r["target"]]
        targets = sorted({r["target"] for r in rows})
        if not targets:
            status = "unmatched"
        elif len(targets) > 1:
            status = "one-to-many"
        elif rows[0]["equivalence"] in ("equal", "equivalent"):
            status = "exact"
        else:
            status = rows[0]["equivalence"]
        results.append({"code": code, "targets": targets, "status": status, "lossy": status != "exact"})
    return results
### END SOLUTION"""

MAP_CODES_ALTERNATIVE = """import re


def map_codes(codes, mapping):
    targets_of, equivalence_of = {}, {}
    for row in mapping:
        if row["target"]:
            targets_of.setdefault(row["source"], set()).add(row["target"])
            equivalence_of[row["source"]] = row["equivalence"]
    out = []
    for raw in codes:
        if not isinstance(raw, str) or not raw.strip():
            raise ValueError(f"bad code {raw!r}")
        bare = re.sub(r"[^A-Z0-9]", "", raw.upper())
        code = bare[:3] + ("." + bare[3:] if len(bare) > 3 else "")
        targets = sorted(targets_of.get(code, ()))
        if not targets:
            status = "unmatched"
        elif len(targets) > 1:
            status = "one-to-many"
        else:
            status = {"equal": "exact", "equivalent": "exact"}.get(equivalence_of[code], equivalence_of[code])
        out.append({"code": code, "targets": targets, "status": status, "lossy": status != "exact"})
    return out"""


EXPAND_SOLUTION = """### BEGIN SOLUTION
def expand(root: str, hierarchy) -> set[str]:
    children = {}
    for child, parent in hierarchy:
        children.setdefault(parent, set()).add(child)
    if root not in children and all(child != root for child, _ in hierarchy):
        raise ValueError(f"{root} is not in the hierarchy")
    found, queue = {root}, [root]
    while queue:
        for child in children.get(queue.pop(), ()):
            if child not in found:
                found.add(child)
                queue.append(child)
    return found
### END SOLUTION"""

EXPAND_ALTERNATIVE = """def expand(root, hierarchy):
    edges = list(hierarchy)
    if not any(root in edge for edge in edges):
        raise ValueError(f"unknown concept {root}")

    def walk(code, seen):
        seen.add(code)
        for child, parent in edges:
            if parent == code and child not in seen:
                walk(child, seen)
        return seen

    return walk(root, set())"""


COHORT_SOLUTION = '''### BEGIN SOLUTION
import hitlab.checks.lab05 as lab05

cohort_sql = f"""
with recursive heart_disease(code) as (
    select '56265001'                       -- the root: is-a means descendant-or-self
    union                                   -- union (not union all) also stops on a cycle
    select snomed_isa.child
    from {lab05.hierarchy_sql()}
    join heart_disease on snomed_isa.parent = heart_disease.code
)
select PATIENT, min(START) as first_onset
from conditions
where CODE in (select code from heart_disease)
group by PATIENT
"""
### END SOLUTION'''

COHORT_ALTERNATIVE = '''from hitlab.checks import lab05

codes, frontier = {"56265001"}, ["56265001"]
while frontier:
    parent = frontier.pop()
    for child, p in lab05.snomed_hierarchy():
        if p == parent and child not in codes:
            codes.add(child)
            frontier.append(child)
cohort_sql = f"""
select PATIENT, min(START) as first_onset
from conditions
where CODE in ({", ".join(f"'{c}'" for c in sorted(codes))})
group by PATIENT
"""'''


INGREDIENTS_SOLUTION = """### BEGIN SOLUTION
def ingredients(rxcui: str, rxnorm) -> set[str]:
    concepts, relations = rxnorm["concepts"], rxnorm["relations"]
    if rxcui not in concepts:
        raise ValueError(f"{rxcui} is not in the table")
    tty = concepts[rxcui]["tty"]
    if tty == "IN":
        return {rxcui}
    if tty == "PIN":
        return {t for s, r, t in relations if s == rxcui and r == "form_of"}
    if tty == "SBD":  # a brand: go to its generic SCD first (an SBD names a brand, BN, not an ingredient)
        generics = [t for s, r, t in relations if s == rxcui and r == "tradename_of"]
        if not generics:
            raise ValueError(f"{rxcui}: no SCD")
        return set().union(*(ingredients(g, rxnorm) for g in generics))
    if tty == "SCD":
        found = {t for s, r, t in relations
                 if s == rxcui and r == "has_ingredient" and concepts.get(t, {}).get("tty") == "IN"}
        if not found:
            raise ValueError(f"{rxcui}: no ingredient")
        return found
    raise ValueError(f"{rxcui}: term type {tty} is not handled")
### END SOLUTION"""

INGREDIENTS_ALTERNATIVE = """def ingredients(rxcui, rxnorm):
    concepts = rxnorm["concepts"]
    if rxcui not in concepts:
        raise ValueError(f"{rxcui} unknown")
    links = {}
    for source, rela, target in rxnorm["relations"]:
        links.setdefault((source, rela), []).append(target)
    todo, found = [rxcui], set()
    while todo:
        cui = todo.pop()
        tty = concepts[cui]["tty"]
        if tty == "IN":
            found.add(cui)
        elif tty == "PIN":
            todo += links.get((cui, "form_of"), [])
        elif tty == "SBD":
            todo += links.get((cui, "tradename_of"), [])
        elif tty == "SCD":
            todo += [t for t in links.get((cui, "has_ingredient"), []) if concepts.get(t, {}).get("tty") == "IN"]
        else:
            raise ValueError(f"{cui}: {tty}")
    if not found:
        raise ValueError(f"{rxcui}: no ingredient found")
    return found"""


LINK_SOLUTION = """### BEGIN SOLUTION
from difflib import SequenceMatcher


def similar(a: str, b: str) -> float:
    return SequenceMatcher(None, a.casefold(), b.casefold()).ratio()


def link_patients(patients: list[dict]) -> set[tuple[str, str]]:
    blocks = {}
    for p in patients:  # blocking: only people born the same day with the same sex are compared
        blocks.setdefault((p["BIRTHDATE"], p["GENDER"]), []).append(p)
    pairs = set()
    for block in blocks.values():
        for i, a in enumerate(block):
            for b in block[i + 1:]:
                score = 0.0
                score += 2.0 if a["SSN"] and a["SSN"] == b["SSN"] else 0.0
                score += 1.5 * similar(a["FIRST"], b["FIRST"]) + 1.5 * similar(a["LAST"], b["LAST"])
                score += 1.0 if a["ADDRESS"] == b["ADDRESS"] and a["ZIP"] == b["ZIP"] else 0.0
                if score >= 3.5:
                    pairs.add(tuple(sorted((a["Id"], b["Id"]))))
    return pairs
### END SOLUTION"""

LINK_ALTERNATIVE = """from difflib import SequenceMatcher
from itertools import combinations


def link_patients(patients):
    blocks = {}
    for p in patients:
        blocks.setdefault(p["BIRTHDATE"], []).append(p)  # a looser block: birth date only
    pairs = set()
    for block in blocks.values():
        for a, b in combinations(block, 2):
            if a["GENDER"] != b["GENDER"]:
                continue
            name = SequenceMatcher(None, (a["FIRST"] + " " + a["LAST"]).lower(), (b["FIRST"] + " " + b["LAST"]).lower())
            same_ssn = bool(a["SSN"]) and a["SSN"] == b["SSN"]
            same_home = a["ADDRESS"] == b["ADDRESS"]
            if name.ratio() >= 0.9 and (same_ssn or same_home):
                pairs.add((a["Id"], b["Id"]))
    return pairs"""


RECONCILE_SOLUTION = """### BEGIN SOLUTION
import hitlab.checks.lab05 as lab05

def reconcile(csv_patients, csv_encounters, messages, fhir_resources) -> list[dict]:
    feed_birth, feed_encounters = {}, set()
    for message in messages:
        for seg in lab05.parse_v2(message):
            if seg.name == "PID":
                for i in range(1, len(seg.repetitions(3)) + 1):
                    if seg.get(3, 5, i) == "PI":  # the CSV/FHIR patient Id travels as the PI identifier
                        feed_birth[seg.get(3, 1, i)] = lab05.fhir_datetime(seg.get(7))[:10]
            elif seg.name == "PV1" and seg.get(19):
                feed_encounters.add(seg.get(19))
    fhir_birth = {r["id"]: r.get("birthDate") for r in fhir_resources if r["resourceType"] == "Patient"}
    fhir_encounters = {r["id"] for r in fhir_resources if r["resourceType"] == "Encounter"}
    found = []
    for p in csv_patients:
        for source, births in (("feed", feed_birth), ("fhir", fhir_birth)):
            if p["Id"] not in births:
                found.append({"kind": f"patient_not_in_{source}", "id": p["Id"]})
            elif births[p["Id"]] != p["BIRTHDATE"]:
                found.append({"kind": f"birthdate_differs_{source}", "id": p["Id"]})
    for e in csv_encounters:
        if e["Id"] not in feed_encounters:
            found.append({"kind": "encounter_not_in_feed", "id": e["Id"]})
        if e["Id"] not in fhir_encounters:
            found.append({"kind": "encounter_not_in_fhir", "id": e["Id"]})
    return found
### END SOLUTION"""

RECONCILE_ALTERNATIVE = """from hitlab.checks import lab05


def reconcile(csv_patients, csv_encounters, messages, fhir_resources):
    feed_patients, feed_encounters = {}, set()
    for message in messages:
        segments = {seg.name: seg for seg in lab05.parse_v2(message)}
        pid, pv1 = segments.get("PID"), segments.get("PV1")
        for rep in range(1, len(pid.repetitions(3)) + 1) if pid else ():
            if pid.get(3, 5, rep) == "PI":
                d = pid.get(7)
                feed_patients[pid.get(3, 1, rep)] = f"{d[:4]}-{d[4:6]}-{d[6:8]}"
        if pv1 and pv1.get(19):
            feed_encounters.add(pv1.get(19))
    fhir_patients = {r["id"]: r["birthDate"] for r in fhir_resources if r["resourceType"] == "Patient"}
    fhir_encounters = {r["id"] for r in fhir_resources if r["resourceType"] == "Encounter"}
    out = []
    for source, births, encounters in (("feed", feed_patients, feed_encounters),
                                       ("fhir", fhir_patients, fhir_encounters)):
        out += [{"kind": f"patient_not_in_{source}", "id": p["Id"]} for p in csv_patients if p["Id"] not in births]
        out += [{"kind": f"birthdate_differs_{source}", "id": p["Id"]} for p in csv_patients
                if p["Id"] in births and births[p["Id"]] != p["BIRTHDATE"]]
        out += [{"kind": f"encounter_not_in_{source}", "id": e["Id"]} for e in csv_encounters
                if e["Id"] not in encounters]
    return out"""


# -- the alternatives and known-wrong answers, by question -------------------------------------------------------

ADT_WRONG = (
    ADT_SOLUTION.replace('"A": "other", "N": "other"', '"A": "unknown", "N": "unknown"'),
    ADT_SOLUTION.replace('"R": (V2_0004, "R"), ', ""),
    ADT_SOLUTION.replace(
        "lab05.fhir_datetime(pv1.get(n), zone)", "lab05.fhir_datetime(pv1.get(n), '+00:00')"
    ),
    ADT_SOLUTION.replace(
        "lab05.fhir_datetime(pid.get(7)[:8])", "f'{pid.get(7)[:4]}-{pid.get(7)[4:6]}-{pid.get(7)[6:8]}'"
    ),
)

ORU_ALTERNATIVE = ORU_SOLUTION.replace("return float(text)", "return float(text.strip())")
ORU_WRONG = (
    ORU_SOLUTION.replace('quantity["unit"] = text or code', 'quantity["unit"] = code'),
    ORU_SOLUTION.replace("for first in (1, 4):", "for first in (1,):"),
    ORU_SOLUTION.replace('"X": "cancelled"}', '"X": "cancelled", "S": "preliminary"}'),
    ORU_SOLUTION.replace(
        'raise ValueError(f"{where}: no R4 value[x] for OBX-2 = {kind!r} (ED, RP, NA and unmapped types are refused)")',
        "return {}",
    ),
    ORU_SOLUTION.replace('quantity["comparator"] = COMPARATORS[c1]', "pass"),
)

TRANSLATE_ALTERNATIVE = TRANSLATE_SOLUTION.replace(
    'if target["equivalence"] in MATCHING and "code" in target:',
    'if target["equivalence"] not in ("unmatched", "disjoint") and target.get("code"):',
)
TRANSLATE_WRONG = (
    TRANSLATE_SOLUTION.replace(
        'if target["equivalence"] in MATCHING and "code" in target:', 'if "code" in target:'
    ),
    TRANSLATE_SOLUTION.replace("if not elements and unmapped:", "if False:"),
)

MAP_CODES_WRONG = (
    MAP_CODES_SOLUTION.replace('"lossy": status != "exact"', '"lossy": status == "unmatched"'),
    MAP_CODES_SOLUTION.replace('code = raw.strip().upper().replace(".", "")', "code = raw").replace(
        '        if len(code) > 3:\n            code = code[:3] + "." + code[3:]\n', ""
    ),
)

EXPAND_WRONG = (EXPAND_SOLUTION.replace("found, queue = {root}, [root]", "found, queue = set(), [root]"),)

COHORT_WRONG = (
    "cohort_sql = \"select PATIENT, min(START) as first_onset from conditions where CODE = '56265001' group by PATIENT\"",
)

INGREDIENTS_WRONG = (
    INGREDIENTS_SOLUTION.replace('and concepts.get(t, {}).get("tty") == "IN"}', "}")
    .replace('r == "tradename_of"]', 'r == "has_ingredient"]')
    .replace("set().union(*(ingredients(g, rxnorm) for g in generics))", "set(generics)"),
)

LINK_WRONG = (
    """def link_patients(patients: list[dict]) -> set[tuple[str, str]]:
    seen, pairs = {}, set()
    for p in patients:
        key = (p["FIRST"], p["LAST"], p["BIRTHDATE"])
        if key in seen:
            pairs.add(tuple(sorted((seen[key], p["Id"]))))
        seen[key] = p["Id"]
    return pairs""",
)

RECONCILE_WRONG = (
    RECONCILE_SOLUTION.replace(
        "feed_birth[seg.get(3, 1, i)] = lab05.fhir_datetime(seg.get(7))[:10]",
        "feed_birth[seg.get(3, 1, i)] = seg.get(7)",
    ),
)
