"""Lab 05's questions, as data: what each asks, its points, hints, how it is compared, and the edge cases a
right answer must also get right. The expected values come from ``reference.py`` and the worked answers from
``answers.py``, both imported only when needed, so that an exam release can leave them out.

| Q  | grade id                  | pts | asks for                                                                      |
|----|---------------------------|-----|-------------------------------------------------------------------------------|
| 1  | lab05_map_adt             | 3   | `map_adt(message)`: PID → Patient, PV1 → Encounter, as the v2-to-FHIR IG maps |
| 2  | lab05_map_oru             | 2   | `map_oru(message)`: one Observation per OBX; unmappable values refused        |
| 3  | lab05_translate           | 2   | `translate(code, concept_map)`: R4 ConceptMap $translate                      |
| 4  | lab05_map_codes           | 2   | `map_codes(codes, mapping)`: ICD-10-CM → SNOMED CT, lossy maps flagged        |
| 6  | lab05_expand              | 2   | `expand(root, hierarchy)`: a descendant-or-self value set                     |
| 7  | lab05_cohort              | 2   | `cohort_sql`: first heart-disease onset per patient from the expansion        |
| 8  | lab05_rxnorm_ingredients  | 2   | `ingredients(rxcui, rxnorm)`: IN, PIN, SCD and SBD to ingredients             |
| 9  | lab05_record_linkage      | 3   | `link_patients(patients)`: duplicate pairs, precision ≥ 0.9 and recall ≥ 0.85 |
| 10 | lab05_reconcile           | 3   | `reconcile(csv_patients, csv_encounters, messages, fhir_resources)`           |

Q5 (written, 2 points, `lab05_explain_lossy_map`) is graded by hand; its rubric is in the notebook.

Mappings (Q1, Q2) are compared field by field and a difference is named by its FHIR path; where the reference
refuses a message (``ValueError``), the answer must refuse it too. Q9 is compared by precision and recall, on
the defects dataset and on a copy with duplicates the check plants itself.
"""

from __future__ import annotations

import json
import random
from typing import Any

from hitlab.checks.core import AnswerKey, Incorrect, reference_of
from hitlab.checks.function import Case, function_question
from hitlab.checks.lab05.materials import (
    EXTRA_DUPLICATES,
    FIXTURE_SN_FN,
    FIXTURES_ADT,
    FIXTURES_ORU,
    concept_map,
    feed_messages,
    icd10_to_snomed,
    linkage_patients,
    parse_v2,
    read_fixture,
    reconcile_inputs,
    rxnorm_table,
    snomed_hierarchy,
)
from hitlab.checks.sql import sql_question

_answers = AnswerKey("hitlab.checks.lab05")  # left out of an exam release
_key, _keys = _answers.source, _answers.sources


def _ref():
    """The reference implementations (absent from an exam release: the grader's install has them)."""
    return reference_of("hitlab.checks.lab05")


# -- v2 to FHIR --------------------------------------------------------------------------------------------------


def first_difference(got: Any, expected: Any, path: str) -> str | None:
    """The FHIR path of the first element where ``got`` differs from ``expected`` (``None`` if equal)."""
    if isinstance(expected, dict) and isinstance(got, dict):
        for key in sorted(set(expected) | set(got), key=lambda k: (k not in expected, str(k))):
            if key not in got:
                return f"{path}.{key} is missing"
            if key not in expected:
                return f"{path}.{key} should not be there"
            found = first_difference(got[key], expected[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(expected, list) and isinstance(got, list):
        if len(got) != len(expected):
            return f"{path} has {len(got)} items, expected {len(expected)}"
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            found = first_difference(g, e, f"{path}[{i}]")
            if found:
                return found
        return None
    if isinstance(expected, float) and isinstance(got, int | float) and not isinstance(got, bool):
        return None if abs(got - expected) <= 1e-9 * max(1.0, abs(expected)) else f"{path} is {got!r}"
    if got != expected or type(got) is not type(expected):
        return f"{path} is {got!r}" if not isinstance(got, dict | list) else f"{path} has the wrong shape"
    return None


def compare_fhir(got: Any, expected: Any, case: Case, title: str) -> None:
    """Field-by-field diff of the learner's resources against the reference mapping."""
    found = first_difference(got, expected, "result")
    if found:
        raise Incorrect(f"{title}: for {case.label}, {found}, which is not right.")


def _sample_messages(kind: str, n: int, seed: int) -> list[tuple[str, str]]:
    feed = feed_messages()
    rng = random.Random(seed)
    chosen = []
    for pid in rng.sample(sorted(feed), 60):
        msgs = [m for m in feed[pid] if m.split("|", 9)[8].startswith(kind)]
        if msgs:
            chosen.append((pid, rng.choice(msgs)))
        if len(chosen) == n:
            break
    return chosen


def _adt_cases() -> list[Case]:
    cases = [Case(f"fixture {name}", (read_fixture(name),)) for name in FIXTURES_ADT]
    for pid, msg in _sample_messages("ADT", 12, 5):
        event = msg.split("|", 9)[8]
        cases.append(Case(f"generated {event} of patient {pid}", (msg,)))
    base = _sample_messages("ADT^A01", 1, 7)[0][1]  # variants: rarer table values and a birth time
    for label, old, new in (
        ("PID-8 = A (ambiguous)", "||{birth}|{sex}|", "||{birth}|A|"),
        ("PID-8 = N (not applicable)", "||{birth}|{sex}|", "||{birth}|N|"),
        ("PID-7 with a time of birth", "||{birth}|{sex}|", "||{birth}0830|{sex}|"),
        ("PID-7 = 19620352 (day 52)", "||{birth}|{sex}|", "||19620352|{sex}|"),
        ("PID-7 = 19621301 (month 13)", "||{birth}|{sex}|", "||19621301|{sex}|"),
        ("PV1-2 = P (preadmit)", "PV1|1|I|", "PV1|1|P|"),
        ("PV1-2 = R (recurring patient)", "PV1|1|I|", "PV1|1|R|"),
        ("PV1-2 = B (obstetrics)", "PV1|1|I|", "PV1|1|B|"),
        ("PV1-2 = U (unknown)", "PV1|1|I|", "PV1|1|U|"),
        ("PV1-2 empty (Encounter.class is required)", "PV1|1|I|", "PV1|1||"),
        ("every time zone removed", "+0000", ""),
        ("MSH-7 in -0500 and PV1-44 without a zone", "+0000", "-0500"),
    ):
        pid = parse_v2(base)[2]
        fill = {"birth": pid.get(7), "sex": pid.get(8)}
        text = base.replace(old.format(**fill), new.format(**fill))
        if label.startswith("MSH-7 in"):
            pv1 = next(s for s in text.split("\r") if s.startswith("PV1|"))
            text = text.replace(pv1, pv1.replace("-0500", ""))
        cases.append(Case(f"a generated A01 with {label}", (text,)))
    cases.append(Case("the HL7 standard's ORU example (PID-7 = 196203520)", (read_fixture(FIXTURE_SN_FN),)))
    cases.append(
        Case("a message with no PID segment", ("MSH|^~\\&|A|B|C|D|20240101||ADT^A04|1|P|2.5.1\rEVN|A04\r",))
    )
    cases.append(Case("text that is not an HL7 message", ("PID|1||123^^^X^MR",)))
    return cases


def _oru(*obx: str) -> str:
    """A small ORU^R01 (MSH-7 at -0500) around the given OBX segments."""
    return "\r".join(
        ("MSH|^~\\&|LAB|HOSP|EHR|HOSP|20240101120000-0500||ORU^R01|1|P|2.5.1", "PID|1||1^^^X^MR", *obx)
    )


OBX_VARIANTS = (
    ("SN with a comparator (a NIST LRI MIC)", "OBX|1|SN|28-1^Ampicillin MIC^LN|1|<^0.06|ug/mL^^UCUM||S|||F"),
    ("SN with >= and no units", "OBX|1|SN|11011-4^HCV RNA^LN||>=^5.0||||||F"),
    ("SN as a ratio (a titer 1:128)", "OBX|1|SN|5370-8^Titer^LN||^1^:^128||||||F"),
    ("SN as a range", "OBX|1|SN|2345-7^Glucose^LN||^2^-^5|mmol/L^millimole per liter^UCUM|||||F"),
    ("SN as a category (2+)", "OBX|1|SN|2888-6^Protein^LN||^2^+||||||F"),
    ("SN with <> (no FHIR comparator)", "OBX|1|SN|2345-7^Glucose^LN||<>^5|mg/dL|||||F"),
    ("DT", "OBX|1|DT|29769-7^VIS presented^LN||20110531||||||F"),
    ("DTM without its own zone (MSH-7's applies)", "OBX|1|DTM|x^Time of onset^L||201105311230||||||F"),
    ("TM", "OBX|1|TM|x^Time of dose^L||1430||||||F"),
    ("TM at hour 25", "OBX|1|TM|x^Time of dose^L||2530||||||F"),
    ("NR", "OBX|1|NR|x^Normal range^L||3.5^5.1||||||F"),
    ("DR", "OBX|1|DR|x^Episode^L||20110101^20110131||||||F"),
    ("VR", "OBX|1|VR|x^Value range^L||A^F||||||F"),
    ("CQ", "OBX|1|CQ|x^Dose^L||5^mg&milligram&UCUM||||||F"),
    ("IS", "OBX|1|IS|x^Flag^L||Y||||||F"),
    ("CNE", "OBX|1|CNE|x^Answer^L||LA33-6^Yes^LN||||||F"),
    ("TX with two repetitions (lines)", "OBX|1|TX|x^Comment^L||First line.~Second line.||||||F"),
    ("NM repeated (27~25)", "OBX|1|NM|2345-7^Glucose^LN||27~25|mg/dL|||||F"),
    ("ED (a PDF)", "OBX|1|ED|x^Report^L||^AP^PDF^Base64^JVBERi0xLjQK||||||F"),
    ("RP", "OBX|1|RP|x^Image^L||http://example.org/img.png^^IMAGE^PNG||||||F"),
    ("NA", "OBX|1|NA|x^Waveform^L||1^2^3||||||F"),
    ("XPN (no map in the IG)", "OBX|1|XPN|x^Name^L||Smith^John||||||F"),
    ("OBX-2 empty with a value", "OBX|1||x^Note^L||something||||||F"),
    ("OBX-11 = X with no value", "OBX|1|NM|2345-7^Glucose^LN||||||||X"),
    ("OBX-11 = S (no target in table 0085)", "OBX|1|NM|2345-7^Glucose^LN||98|mg/dL|||||S"),
    ("OBX-11 = I (no target in table 0085)", "OBX|1|NM|2345-7^Glucose^LN||||||||I"),
    ("OBX-11 empty", "OBX|1|NM|2345-7^Glucose^LN||98|mg/dL|||||"),
    ("OBX-14 at hour 25", "OBX|1|NM|2345-7^Glucose^LN||98|mg/dL|||||F|||20110531250000-0500"),
)


def _oru_cases() -> list[Case]:
    cases = [Case(f"fixture {name}", (read_fixture(name),)) for name in (*FIXTURES_ORU, FIXTURE_SN_FN)]
    sample = read_fixture(FIXTURE_SN_FN)
    cases.append(
        Case(f"fixture {FIXTURE_SN_FN} without its FN result", (sample[: sample.index("\rOBX|2|FN")],))
    )
    for pid, msg in _sample_messages("ORU", 8, 6):
        cases.append(Case(f"generated ORU^R01 of patient {pid}", (msg,)))
    pid, msg = _sample_messages("ORU", 1, 9)[0]
    cases.append(
        Case(
            f"generated ORU^R01 of patient {pid}, units without a coding system",
            (msg.replace("^UCUM|", "|"),),
        )
    )
    cases += [Case(f"an OBX of type {label}", (_oru(obx),)) for label, obx in OBX_VARIANTS]
    bad = "MSH|^~\\&|A|B|C|D|20240101||ORU^R01|1|P|2.5.1\rPID|1||1^^^X^MR\rOBX|1|NM|2345-7^Glucose^LN||high|mg/dL^mg/dL^UCUM|||||F"
    cases.append(Case("an NM result whose value is not a number", (bad,)))
    return cases


def _adt_class_r(map_adt: Any) -> None:
    """The IG's A08 example with PV1-2 = R (recurring patient) keeps its v2 code."""
    _ref().adt_class_r(map_adt, q1.title)


q1 = function_question(
    grade_id="lab05_map_adt",
    title="Q1 map an ADT message to Patient and Encounter",
    points=3,
    name="map_adt",
    parameters=("message",),
    reference=lambda message: _ref().ref_map_adt(message),
    cases=_adt_cases,
    compare=compare_fhir,
    edge_cases=(_adt_class_r,),
    hints=(
        "Walk the IG's segment maps row by row: PID-3 → identifier (one per repetition), PID-5 → name, PID-7 → "
        "birthDate, PID-8 → gender; PV1-19 → identifier, PV1-2 → class and status, PV1-44/45 → period.",
        "Codes go through the tables' ConceptMaps: 0001 maps A and N to `other`; 0004 maps E, I, O and P to v3 "
        "ActCode and R, B, C, N and U to themselves in `v2-0004`. `class` and `status` are both required, so an "
        "empty PV1-2 is an error; a valued PV1-45 makes the status `finished`.",
        "`PID-7` may carry a time; `Patient.birthDate` is a date, so keep only the date part, but check it is a "
        "real date (`lab05.fhir_datetime` refuses day 52).",
        "A FHIR dateTime with a time needs a zone: pass `lab05.sender_zone(segments)` to `lab05.fhir_datetime`.",
    ),
    solution_code=_key("ADT_SOLUTION"),
    alternatives=_keys("ADT_ALTERNATIVE"),
    wrong=_keys("ADT_WRONG"),
)


def _refuses_fn_results(map_oru: Any) -> None:
    """An ORU with an FN (formatted text) result must be refused, not silently dropped."""
    try:
        map_oru(read_fixture("pyhl7_ORU_R01_v2.4_SN_FN_standard_sample.hl7"))
    except ValueError:
        return
    raise Incorrect(
        f"{q2.title}: on a sample ORU with an FN (formatted text) result, your function returned a result; "
        "a value type it cannot map must be refused with ValueError, not dropped."
    )


q2 = function_question(
    grade_id="lab05_map_oru",
    title="Q2 map ORU results to Observations",
    points=2,
    name="map_oru",
    parameters=("message",),
    reference=lambda message: _ref().ref_map_oru(message),
    cases=_oru_cases,
    compare=compare_fhir,
    edge_cases=(_refuses_fn_results,),
    hints=(
        "One Observation per OBX: OBX-3 → code, OBX-5 (read as OBX-2 says) → value[x], OBX-6 → the quantity's "
        "unit, OBX-11 → status, OBX-14 → effectiveDateTime.",
        "CWE → CodeableConcept: components 1-3 are one coding, 4-6 the alternate coding, 9 the original text. "
        "The coding-system name (LN, SCT, UCUM) becomes a URI.",
        "Table 0085 → observation-status (the IG's map): F final, C corrected, P preliminary, A amended, D and W "
        "entered-in-error, X cancelled. S, I, R and the rest have no target, and status is required: refuse.",
        "SN is `comparator^number^separator^number`: no separator → valueQuantity (with `comparator`), `-` → "
        "valueRange, `:` or `/` → valueRatio, `+` → valueString. A type with no R4 value[x] (ED, RP, NA, FN, ...) "
        "and a repeated OBX-5 (other than text lines) raise ValueError: never drop a result in silence.",
    ),
    solution_code=_key("ORU_SOLUTION"),
    alternatives=_keys("ORU_ALTERNATIVE"),
    wrong=_keys("ORU_WRONG"),
)


def _translate_cases() -> list[Case]:
    gender, klass = concept_map("v2-0001-to-gender"), concept_map("v2-0004-to-encounter-class")
    cases = [Case(f"code {c!r} with the table 0001 map", (c, gender)) for c in "FMOUANX"]
    cases += [Case(f"code {c!r} with the table 0004 map", (c, klass)) for c in "EIOPRBCNU"]
    fixed = json.loads(json.dumps(klass))
    fixed["group"][0]["unmapped"] = {"mode": "fixed", "code": "AMB"}
    provided = json.loads(json.dumps(gender))
    provided["group"][0]["unmapped"] = {"mode": "provided"}
    cases += [Case(f"code {c!r} with the 0004 map, unmapped mode fixed", (c, fixed)) for c in "ER"]
    cases += [Case(f"code {c!r} with the 0001 map, unmapped mode provided", (c, provided)) for c in "FX"]
    disjoint = json.loads(json.dumps(gender))
    disjoint["group"][0]["element"][3]["target"].append({"code": "other", "equivalence": "disjoint"})
    cases.append(Case("code 'U' with a map that also lists a disjoint target", ("U", disjoint)))
    r5 = json.loads(json.dumps(gender))
    for element in r5["group"][0]["element"]:
        for target in element["target"]:
            target["relationship"] = {
                "equivalent": "equivalent",
                "wider": "source-is-narrower-than-target",
            }.get(target.pop("equivalence"), "related-to")
    cases.append(Case("an R5 ConceptMap (relationship, not equivalence)", ("M", r5)))
    cases.append(Case("a ValueSet instead of a ConceptMap", ("M", {"resourceType": "ValueSet"})))
    return cases


def _translate_r(translate: Any) -> None:
    """R (recurring patient) maps to itself in v2-0004 through the IG's ConceptMap."""
    _ref().translate_r(translate, q3.title)


q3 = function_question(
    grade_id="lab05_translate",
    title="Q3 $translate through a ConceptMap",
    points=2,
    name="translate",
    parameters=("code", "concept_map"),
    reference=lambda code, concept_map: _ref().ref_translate(code, concept_map),
    cases=_translate_cases,
    edge_cases=(_translate_r,),
    hints=(
        "Look in every group: an element whose `code` is the code you translate lists its `target`s; the "
        "group's `target` is their code system.",
        "`unmatched` and `disjoint` are not translations: leave those targets out. A code with no element "
        "falls back on the group's `unmapped` (provided: the code itself; fixed: `unmapped.code`).",
        "R4 writes `target.equivalence`; R5 renamed it `relationship` with other codes. Refuse an R5 map "
        "rather than guessing.",
    ),
    solution_code=_key("TRANSLATE_SOLUTION"),
    alternatives=_keys("TRANSLATE_ALTERNATIVE"),
    wrong=_keys("TRANSLATE_WRONG"),
)


def _map_codes_cases() -> list[Case]:
    rows = icd10_to_snomed()
    dataset_codes = sorted({r["source"] for r in rows})
    rng = random.Random(30)
    shuffled = rng.sample(dataset_codes, len(dataset_codes))
    cases = [
        Case("every ICD-10-CM code of the authored map", (dataset_codes, rows)),
        Case("the codes in another order, with repeats", (shuffled + shuffled[:3], rows)),
        Case("codes written without dots and in lower case", (["e119", "I509", "j45.909", " R07.9 "], rows)),
        Case("codes the map does not know", (["U07.1", "Z00.00"], rows)),
        Case("an empty list", ([], rows)),
        Case("an empty code", (["I10", ""], rows)),
    ]
    return cases


q4 = function_question(
    grade_id="lab05_map_codes",
    title="Q4 ICD-10-CM to SNOMED CT, flagging lossy maps",
    points=2,
    name="map_codes",
    parameters=("codes", "mapping"),
    reference=lambda codes, mapping: _ref().ref_map_codes(codes, mapping),
    cases=_map_codes_cases,
    hints=(
        "Normalize first: trim, upper-case, and put the dot after the third character (`E119` is `E11.9`).",
        "Collect the distinct targets of a code: none → unmatched, several → one-to-many, one → the row's "
        "equivalence decides (equal/equivalent is exact, anything else is lossy).",
    ),
    solution_code=_key("MAP_CODES_SOLUTION"),
    alternatives=_keys("MAP_CODES_ALTERNATIVE"),
    wrong=_keys("MAP_CODES_WRONG"),
)


def _expand_cases() -> list[Case]:
    h = snomed_hierarchy()
    roots = sorted({p for _, p in h} | {c for c, _ in h})
    cases = [Case(f"root {r}", (r, h)) for r in roots]
    cases.append(Case("a root that is not in the table", ("404684003", h)))
    cycle = (("1", "2"), ("2", "3"), ("3", "1"), ("4", "3"))
    cases.append(Case("a table with a cycle (bad data must not hang you)", ("3", cycle)))
    return cases


q6 = function_question(
    grade_id="lab05_expand",
    title="Q6 expand a descendant-or-self value set",
    points=2,
    name="expand",
    parameters=("root", "hierarchy"),
    reference=lambda root, hierarchy: _ref().ref_expand(root, hierarchy),
    cases=_expand_cases,
    hints=(
        "Index the edges by parent, then walk down from the root (breadth- or depth-first), collecting codes.",
        "`is-a` in a ValueSet compose means descendant-or-self: the root belongs to the expansion. SNOMED CT is "
        "a polyhierarchy, so remember what you have visited.",
    ),
    solution_code=_key("EXPAND_SOLUTION"),
    alternatives=_keys("EXPAND_ALTERNATIVE"),
    wrong=_keys("EXPAND_WRONG"),
)


q7 = sql_question(
    grade_id="lab05_cohort",
    title="Q7 heart-disease cohort from the expanded value set",
    points=2,
    variable="cohort_sql",
    columns=("PATIENT", "first_onset"),
    reference=lambda: _ref().heart_disease_cohort(),
    hints=(
        "Expand 56265001 with your `expand`, then keep the `conditions` rows whose CODE is in the expansion.",
        "One row per patient: group by PATIENT and take min(START).",
    ),
    solution=_key("COHORT_SOLUTION"),
    alternatives=_keys("COHORT_ALTERNATIVE"),
    wrong=_keys("COHORT_WRONG"),
)


def _ingredient_cases() -> list[Case]:
    rx = rxnorm_table()
    cases = [Case(f"RxCUI {c} ({v['tty']}, {v['name']})", (c, rx)) for c, v in sorted(rx["concepts"].items())]
    cases.append(Case("RxCUI 106892, a branded insulin not in the table", ("106892", rx)))
    return cases


q8 = function_question(
    grade_id="lab05_rxnorm_ingredients",
    title="Q8 normalize drugs to RxNorm ingredients",
    points=2,
    name="ingredients",
    parameters=("rxcui", "rxnorm"),
    reference=lambda rxcui, rxnorm: _ref().ref_ingredients(rxcui, rxnorm),
    cases=_ingredient_cases,
    hints=(
        "Dispatch on the term type: IN is already an ingredient; SCD has ingredients; SBD is a brand of an SCD.",
        "For an SBD follow `tradename_of` to its SCD: the branded drug is tied to a brand name (BN), which is "
        "not an ingredient.",
        "A combination drug (fluticasone/salmeterol) has two ingredients: return both.",
    ),
    solution_code=_key("INGREDIENTS_SOLUTION"),
    alternatives=_keys("INGREDIENTS_ALTERNATIVE"),
    wrong=_keys("INGREDIENTS_WRONG"),
)


MIN_PRECISION, MIN_RECALL = 0.9, 0.85


def _linkage_cases() -> list[Case]:
    rows = list(linkage_patients())
    extra, _ = _ref().extra_duplicates()
    return [
        Case("the defects dataset's patients", (rows,)),
        Case(f"the same with {EXTRA_DUPLICATES} more duplicates planted by the check", (rows + list(extra),)),
    ]


def compare_linkage(got: Any, expected: set, case: Case, title: str) -> None:
    if not isinstance(got, set | frozenset | list | tuple):
        raise Incorrect(f"{title}: return a set of (Id, Id) pairs, got {type(got).__name__}.")
    try:
        pairs = {tuple(sorted(p)) for p in got if len(p) == 2}
    except TypeError:
        raise Incorrect(f"{title}: every item should be a pair of patient Ids.") from None
    pairs = {p for p in pairs if p[0] != p[1]}
    hit = len(pairs & expected)
    precision = hit / len(pairs) if pairs else 0.0
    recall = hit / len(expected) if expected else 1.0
    if precision < MIN_PRECISION or recall < MIN_RECALL:
        raise Incorrect(
            f"{title}: on {case.label}, precision {precision:.2f} and recall {recall:.2f} "
            f"({len(pairs)} pairs returned); precision must reach {MIN_PRECISION} and recall {MIN_RECALL}."
        )


q9 = function_question(
    grade_id="lab05_record_linkage",
    title="Q9 EMPI-style record linkage",
    points=3,
    name="link_patients",
    parameters=("patients",),
    reference=lambda patients: _ref().truth(patients),
    cases=_linkage_cases,
    compare=compare_linkage,
    hints=(
        "Comparing every pair of 1,000 people is half a million comparisons; block first (same birth date and "
        "sex) and compare only within a block.",
        "Duplicates differ by a typo in a name and sometimes a missing SSN: score agreement field by field "
        "(a fuzzy name similarity, SSN when both have one, address) and pick a threshold.",
    ),
    solution_code=_key("LINK_SOLUTION"),
    alternatives=_keys("LINK_ALTERNATIVE"),
    wrong=_keys("LINK_WRONG"),
)


def compare_discrepancies(got: Any, expected: list[dict], case: Case, title: str) -> None:
    if not isinstance(got, list) or not all(isinstance(d, dict) and {"kind", "id"} <= set(d) for d in got):
        raise Incorrect(f"{title}: return a list of dicts with keys 'kind' and 'id'.")
    found = {(d["kind"], d["id"]) for d in got}
    truth = {(d["kind"], d["id"]) for d in expected}
    extra = found - truth
    if extra:
        kind, ident = sorted(extra)[0]
        raise Incorrect(f"{title}: {kind} for {ident} is not a real discrepancy ({len(extra)} such).")
    missing = truth - found
    if missing:
        kinds = sorted({k for k, _ in missing})
        raise Incorrect(f"{title}: {len(missing)} discrepancies are missing (kinds: {', '.join(kinds)}).")
    if len(got) != len(found):
        raise Incorrect(f"{title}: report each discrepancy once.")


def _reconcile_cases() -> list[Case]:
    return [Case("a sample of the defects population", reconcile_inputs())]


def _every_planted_duplicate(reconcile: Any) -> None:
    """Each of the nine planted duplicate patients is reported as missing from the feed."""
    _ref().every_planted_duplicate(reconcile, q10.title)


q10 = function_question(
    grade_id="lab05_reconcile",
    title="Q10 reconcile the CSV export, the ADT feed and the FHIR bundles",
    points=3,
    name="reconcile",
    parameters=("csv_patients", "csv_encounters", "messages", "fhir_resources"),
    reference=lambda *sources: _ref().ref_reconcile(*sources),
    cases=_reconcile_cases,
    compare=compare_discrepancies,
    edge_cases=(_every_planted_duplicate,),
    hints=(
        "Index each source by the shared identifiers first: patient Id = `Patient.id` = the `PID-3` repetition "
        "of type PI; encounter Id = `Encounter.id` = `PV1-19`.",
        "Then walk the CSV (the system of record here): each patient and encounter either has its counterpart "
        "in the feed and in FHIR or is a discrepancy; for patients present, compare the birth dates.",
        "`PID-7` is `YYYYMMDD`; the CSV and FHIR write `YYYY-MM-DD`. Compare like with like.",
    ),
    solution_code=_key("RECONCILE_SOLUTION"),
    alternatives=_keys("RECONCILE_ALTERNATIVE"),
    wrong=_keys("RECONCILE_WRONG"),
)

QUESTIONS = (q1, q2, q3, q4, q6, q7, q8, q9, q10)
