"""Lab 05 (interoperability): the reference mappings on real HL7 v2 files, their agreement with the generated
FHIR bundles, the authored terminology tables, linkage and reconciliation against the planted defects, and
the checks themselves (solutions pass, known-wrong answers fail), and that an exam release (the package without
``reference`` and ``answers``) still imports, with no answer in it."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections import Counter
from datetime import datetime

import pytest

from course_proof import prove_grading
from hitlab.checks import lab05
from hitlab.checks.core import Incorrect
from hitlab.checks.function import Case
from hitlab.checks.lab05 import questions as Q
from hitlab.checks.lab05 import reference as R
from hitlab.data import dataset_dir

V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"


def _source(code: str) -> str:
    return code.replace("### BEGIN SOLUTION\n", "").replace("\n### END SOLUTION", "")


def _define(code: str, extra: dict | None = None) -> dict:
    ns = {"lab05": lab05, **(extra or {})}
    exec(_source(code), ns)
    return ns


# -- helpers ---------------------------------------------------------------------------------------------------


def test_parse_v2_fields_components_and_bom():
    segs = lab05.parse_v2(lab05.read_fixture("ms_ORU_R01_NIST_LRI_CBC.hl7"))
    assert [s.name for s in segs[:4]] == ["MSH", "PID", "ORC", "OBR"]
    assert segs[0].get(9) == "ORU" and segs[0].get(12) == "2.5.1"
    assert segs[1].get(5, 1) == "Jones" and segs[1].get(3, 4) == "NIST MPI"
    assert lab05.parse_v2("MSH|^~\\&|A\nPID|1||x\\S\\y^^^Z^MR")[1].get(3, 1) == "x^y"


def test_parse_v2_refuses_non_messages():
    with pytest.raises(ValueError, match="starts with MSH"):
        lab05.parse_v2("PID|1||123")
    with pytest.raises(ValueError, match="as a string"):
        lab05.parse_v2(b"MSH|^~\\&|")


@pytest.mark.parametrize(
    ("dtm", "fhir"),
    [
        ("1961", "1961"),
        ("196106", "1961-06"),
        ("19610615", "1961-06-15"),
        ("20110103143428-0800", "2011-01-03T14:34:28-08:00"),
        ("20240101120000.25+0000", "2024-01-01T12:00:00.25+00:00"),
        ("20240229", "2024-02-29"),
    ],
)
def test_fhir_datetime(dtm, fhir):
    assert lab05.fhir_datetime(dtm) == fhir


@pytest.mark.parametrize(
    ("dtm", "zone", "fhir"),
    [
        ("2019050410", "+0100", "2019-05-04T10:00:00+01:00"),
        ("20190504102341", "-05:00", "2019-05-04T10:23:41-05:00"),
        ("20190504102341", "Europe/Amsterdam", "2019-05-04T10:23:41+02:00"),  # summer time
        ("20190104102341", "Europe/Amsterdam", "2019-01-04T10:23:41+01:00"),  # winter time
        ("20110103143428-0800", "+0100", "2011-01-03T14:34:28-08:00"),  # the value's own offset wins
        ("19610615", None, "1961-06-15"),  # a date needs no zone
    ],
)
def test_fhir_datetime_zones(dtm, zone, fhir):
    assert lab05.fhir_datetime(dtm, zone) == fhir


@pytest.mark.parametrize(
    ("dtm", "message"),
    [
        ("2019-05-04", "not an HL7 v2 date/time"),
        ("196203520", "not an HL7 v2 date/time"),
        ("19620352", "not a real date"),
        ("19621301", "not a real date"),
        ("20230229", "not a real date"),
        ("2019050425", "not a real time of day"),
        ("201905041061", "not a real time of day"),
        ("20190504102341", "no time zone"),
    ],
)
def test_fhir_datetime_refuses_impossible_values(dtm, message):
    with pytest.raises(ValueError, match=message):
        lab05.fhir_datetime(dtm)


def test_sender_zone_prefers_msh7_then_the_documented_facility_zone():
    feed = next(iter(lab05.feed_messages().values()))[0]
    assert lab05.sender_zone(lab05.parse_v2(feed)) == "+0000"
    a04 = lab05.parse_v2(lab05.read_fixture("v2tofhir_ADT_A04_allergies_v2.3.1.hl7"))
    assert lab05.sender_zone(a04) == "Europe/Amsterdam"  # VHIS: no offset anywhere in the message
    a01 = lab05.parse_v2(lab05.read_fixture("v2tofhir_ADT_A01_v2.8_base_standard_example.hl7"))
    assert lab05.sender_zone(a01) is None


# -- v2 to FHIR on the IG's own messages ---------------------------------------------------------------------


def test_map_adt_ig_a01_v28():
    got = R.ref_map_adt(lab05.read_fixture("v2tofhir_ADT_A01_v2.8_base_standard_example.hl7"))
    assert got == {
        "Patient": {
            "resourceType": "Patient",
            "identifier": [
                {"value": "PATID1234", "type": {"coding": [{"system": V2_0203, "code": "MR"}]}},
                {"value": "123456789", "type": {"coding": [{"system": V2_0203, "code": "SS"}]}},
            ],
            "name": [{"family": "EVERYMAN", "given": ["ADAM", "A"], "suffix": ["III"]}],
            "birthDate": "1961-06-15",
            "gender": "male",
        },
        "Encounter": {
            "resourceType": "Encounter",
            "status": "in-progress",
            "class": {"system": ACT, "code": "IMP"},
        },
    }


def test_map_adt_ig_a04_v231():
    got = R.ref_map_adt(lab05.read_fixture("v2tofhir_ADT_A04_allergies_v2.3.1.hl7"))
    assert got == {
        "Patient": {
            "resourceType": "Patient",
            "identifier": [{"value": "84168156"}],
            "name": [{"family": "Nestor", "given": ["Timothy", "NA"]}],
            "birthDate": "1998-12-24",
            "gender": "male",
        },
        "Encounter": {
            "resourceType": "Encounter",
            "status": "finished",  # PV1-45 is valued
            "identifier": [{"value": "4863104188", "type": {"coding": [{"system": V2_0203, "code": "VN"}]}}],
            "class": {"system": ACT, "code": "IMP"},
            "period": {"start": "2019-05-04T10:23:41+02:00", "end": "2019-05-04T10:23:41+02:00"},
        },
    }


def test_map_adt_ig_a08_recurring_patient_keeps_its_table_0004_class():
    got = R.ref_map_adt(lab05.read_fixture("v2tofhir_ADT_A08_update_v2.3.hl7"))
    assert got["Encounter"] == {
        "resourceType": "Encounter",
        "status": "in-progress",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v2-0004", "code": "R"},
    }
    assert got["Patient"]["name"] == [{"family": "Bond", "given": ["Tiny"]}]
    assert got["Patient"]["birthDate"] == "1999-07-23"


def test_map_adt_refuses_an_impossible_birth_date_and_a_missing_class():
    with pytest.raises(ValueError, match="not a real date: '19620352'"):
        R.ref_map_adt(lab05.read_fixture(lab05.FIXTURE_SN_FN))  # the HL7 standard's PID-7 = 196203520
    a08 = lab05.read_fixture("v2tofhir_ADT_A08_update_v2.3.hl7")
    with pytest.raises(ValueError, match=r"Encounter\.class is required"):
        R.ref_map_adt(a08.replace("PV1|1|R|", "PV1|1||"))
    a04 = lab05.read_fixture("v2tofhir_ADT_A04_allergies_v2.3.1.hl7")
    with pytest.raises(ValueError, match="no time zone"):
        R.ref_map_adt(a04.replace("|VHIS|VHIS|", "|VHIS|ELSEWHERE|"))


def test_map_adt_refuses_a_message_without_pid():
    with pytest.raises(ValueError, match="no PID segment"):
        R.ref_map_adt("MSH|^~\\&|A|B|C|D|20240101||ADT^A04|1|P|2.5.1\rEVN|A04\r")


def test_map_oru_ig_lri_basic():
    got = R.ref_map_oru(lab05.read_fixture("v2tofhir_ORU_R01_LRI_basic_v2.5.1.hl7"))
    assert len(got) == 3
    assert got[0] == {
        "resourceType": "Observation",
        "status": "final",
        "code": {
            "coding": [
                {"system": "http://loinc.org", "code": "22314-9",
                 "display": "Hepatitis A virus IgM Ab [Presence] in Serum"},
                {"code": "HAVM", "display": "Hepatitis A IgM antibodies (IgM anti-HAV)"},
            ]
        },
        "valueCodeableConcept": {
            "coding": [
                {"system": "http://snomed.info/sct", "code": "260385009", "display": "Negative (qualifier value)"},
                {"code": "NEG", "display": "NEGATIVE"},
            ],
            "text": "Negative (qualifier value)",
        },
        "effectiveDateTime": "2015-09-25",
    }  # fmt: skip
    assert got[2]["valueQuantity"] == {
        "value": 0.7,
        "unit": "international unit per milliliter",
        "system": "http://unitsofmeasure.org",
        "code": "[IU]/mL",
    }


def test_map_oru_nist_cbc():
    got = R.ref_map_oru(lab05.read_fixture("ms_ORU_R01_NIST_LRI_CBC.hl7"))
    assert len(got) == 28
    kinds = Counter(next(k for k in o if k.startswith("value")) for o in got)
    assert kinds == {"valueQuantity": 19, "valueCodeableConcept": 6, "valueString": 3}
    assert got[1]["valueQuantity"] == {
        "value": 12.5, "unit": "grams per milliliter", "system": "http://unitsofmeasure.org", "code": "g/mL"
    }  # fmt: skip
    assert got[-1]["valueString"] == "Platelets show defective granulation."
    assert {o["effectiveDateTime"] for o in got} == {"2011-01-03T14:34:28-08:00"}
    assert {o["status"] for o in got} == {"final"}


def test_map_oru_standard_sample_sn_kept_and_fn_refused():
    sample = lab05.read_fixture(lab05.FIXTURE_SN_FN)
    with pytest.raises(ValueError, match="OBX-2: value type 'FN' has no OBX-5 map"):
        R.ref_map_oru(sample)
    got = R.ref_map_oru(sample[: sample.index("\rOBX|2|FN")])
    assert got == [
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"code": "1554-5", "display": "GLUCOSE"}]},
            "valueQuantity": {"value": 182.0, "unit": "mg/dl"},
        }
    ]


@pytest.mark.parametrize(
    ("obx", "value"),
    [
        ("OBX|1|SN|x^y^L||<^0.06|ug/mL^^UCUM|||||F", {"valueQuantity": {
            "value": 0.06, "comparator": "<", "unit": "ug/mL", "code": "ug/mL", "system": "http://unitsofmeasure.org"}}),
        ("OBX|1|SN|x^y^L||^1^:^128||||||F", {"valueRatio": {"numerator": {"value": 1.0}, "denominator": {"value": 128.0}}}),
        ("OBX|1|SN|x^y^L||^2^-^5|mmol/L|||||F", {"valueRange": {
            "low": {"value": 2.0, "unit": "mmol/L"}, "high": {"value": 5.0, "unit": "mmol/L"}}}),
        ("OBX|1|SN|x^y^L||^2^+||||||F", {"valueString": "2 +"}),
        ("OBX|1|DT|x^y^L||20110531||||||F", {"valueDateTime": "2011-05-31"}),
        ("OBX|1|DTM|x^y^L||201105311230||||||F", {"valueDateTime": "2011-05-31T12:30:00-05:00"}),
        ("OBX|1|TM|x^y^L||1430||||||F", {"valueTime": "14:30:00"}),
        ("OBX|1|VR|x^y^L||A^F||||||F", {"valueString": "A-F"}),
        ("OBX|1|NR|x^y^L||3.5^5.1||||||F", {"valueRange": {"low": {"value": 3.5}, "high": {"value": 5.1}}}),
        ("OBX|1|DR|x^y^L||20110101^20110131||||||F", {"valuePeriod": {"start": "2011-01-01", "end": "2011-01-31"}}),
        ("OBX|1|CQ|x^y^L||5^mg&milligram&UCUM||||||F", {"valueQuantity": {
            "value": 5.0, "unit": "milligram", "code": "mg", "system": "http://unitsofmeasure.org"}}),
        ("OBX|1|TX|x^y^L||one~two||||||F", {"valueString": "one\ntwo"}),
        ("OBX|1|NM|x^y^L||||||||X", {"dataAbsentReason": {"coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason", "code": "cannot-be-obtained"}]}}),
    ],
)  # fmt: skip
def test_map_oru_value_types(obx, value):
    (got,) = R.ref_map_oru(Q._oru(obx))
    assert {k: v for k, v in got.items() if k.startswith("value") or k == "dataAbsentReason"} == value


@pytest.mark.parametrize(
    ("obx", "message"),
    [
        ("OBX|1|NM|x^y^L||27~25|mg/dL|||||F", "OBX-5 repeats"),
        ("OBX|1|ED|x^y^L||^AP^PDF^Base64^JVBE||||||F", "ED needs value"),
        ("OBX|1|RP|x^y^L||http://x/y.png||||||F", "RP needs value"),
        ("OBX|1|NA|x^y^L||1^2^3||||||F", "NA needs SampledData"),
        ("OBX|1|XPN|x^y^L||Smith^John||||||F", "value type 'XPN' has no OBX-5 map"),
        ("OBX|1|SN|x^y^L||<>^5||||||F", "SN comparator '<>'"),
        ("OBX|1|NM|x^y^L||98|mg/dL|||||S", "OBX-11 = 'S' has no target"),
        ("OBX|1|NM|x^y^L||98|mg/dL|||||", "OBX-11 = '' has no target"),
    ],
)
def test_map_oru_refuses_what_it_cannot_keep(obx, message):
    with pytest.raises(ValueError, match=message):
        R.ref_map_oru(Q._oru(obx))


def test_map_oru_units_without_a_coding_system_give_no_code():
    msg = "MSH|^~\\&|A|B|C|D|20240101||ORU^R01|1|P|2.5.1\rOBX|1|NM|2345-7^Glucose^LN||98|mg/dL|||||P"
    assert R.ref_map_oru(msg) == [
        {
            "resourceType": "Observation",
            "status": "preliminary",
            "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7", "display": "Glucose"}]},
            "valueQuantity": {"value": 98.0, "unit": "mg/dL"},
        }
    ]


def test_map_oru_refuses_a_non_numeric_nm_value():
    bad = "MSH|^~\\&|A|B|C|D|20240101||ORU^R01|1|P|2.5.1\rOBX|1|NM|2345-7^Glucose^LN||high|mg/dL|||||F"
    with pytest.raises(ValueError, match="OBX-1: NM value 'high' is not a number"):
        R.ref_map_oru(bad)


# -- the mapping of the generated feed agrees with the generated bundles ------------------------------------------


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _bundle(pid: str) -> dict[str, list[dict]]:
    path = next((dataset_dir("default") / "fhir").glob(f"*_{pid}.json"))
    out: dict[str, list[dict]] = {}
    for entry in json.loads(path.read_text(encoding="utf-8"))["entry"]:
        out.setdefault(entry["resource"]["resourceType"], []).append(entry["resource"])
    return out


@pytest.mark.slow
def test_feed_mapping_agrees_with_the_fhir_bundles():
    feed = lab05.feed_messages()
    checked = Counter()
    for pid in random.Random(28).sample(sorted(feed), 25):
        bundle = _bundle(pid)
        patient = bundle["Patient"][0]
        encounters = {e["id"]: e for e in bundle["Encounter"]}
        labs = {
            (o["code"]["coding"][0]["code"], o["effectiveDateTime"]): o for o in bundle.get("Observation", [])
        }
        mrn = next(
            i["value"]
            for i in patient["identifier"]
            if i.get("type", {}).get("coding", [{}])[0].get("code") == "MR"
        )
        official = next(n for n in patient["name"] if n["use"] == "official")
        for message in feed[pid]:
            if "|ORU^" in message:
                for obs in R.ref_map_oru(message):
                    ref = labs[
                        (obs["code"]["coding"][0]["code"], obs["effectiveDateTime"].replace("+00:00", "Z"))
                    ]
                    assert obs["valueQuantity"]["value"] == ref["valueQuantity"]["value"]
                    assert obs["valueQuantity"]["code"] == ref["valueQuantity"]["code"]
                    assert obs["status"] == ref["status"]
                    checked["Observation"] += 1
                continue
            got = R.ref_map_adt(message)
            p = got["Patient"]
            assert {i["type"]["coding"][0]["code"]: i["value"] for i in p["identifier"]} == {
                "MR": mrn,
                "PI": pid,
            }
            assert p["name"][0]["family"] == official["family"]
            assert p["name"][0]["given"] == official["given"]
            assert p["name"][0].get("prefix") == official.get("prefix")
            assert p["birthDate"] == patient["birthDate"] and p["gender"] == patient["gender"]
            checked["Patient"] += 1
            e = got["Encounter"]
            if "identifier" not in e:  # an A08 update belongs to no visit: PV1-2 = N, kept in v2-0004
                assert e == {"resourceType": "Encounter", "status": "in-progress",
                             "class": {"system": "http://terminology.hl7.org/CodeSystem/v2-0004", "code": "N"}}  # fmt: skip
                continue
            ref = encounters[e["identifier"][0]["value"]]
            expected_class = (
                "AMB" if ref["class"]["code"] == "VR" else ref["class"]["code"]
            )  # v2 has no virtual
            assert e["class"] == {"system": ACT, "code": expected_class}
            assert _instant(e["period"]["start"]) == _instant(ref["period"]["start"])
            if "end" in e["period"]:
                assert _instant(e["period"]["end"]) == _instant(ref["period"]["end"])
            checked["Encounter"] += 1
    assert checked["Patient"] > 100 and checked["Encounter"] > 100 and checked["Observation"] > 50


# -- ConceptMap $translate -------------------------------------------------------------------------------------


def test_translate_the_authored_maps():
    gender, klass = lab05.concept_map("v2-0001-to-gender"), lab05.concept_map("v2-0004-to-encounter-class")
    g = "http://hl7.org/fhir/administrative-gender"
    assert R.ref_translate("F", gender) == [{"system": g, "code": "female", "equivalence": "equivalent"}]
    assert R.ref_translate("N", gender) == [{"system": g, "code": "other", "equivalence": "equivalent"}]
    assert R.ref_translate("X", gender) == []
    assert R.ref_translate("P", klass) == [{"system": ACT, "code": "PRENC", "equivalence": "equivalent"}]
    v2 = "http://terminology.hl7.org/CodeSystem/v2-0004"
    assert [R.ref_translate(c, klass) for c in "RBCNU"] == [
        [{"system": v2, "code": c, "equivalence": "equivalent"}] for c in "RBCNU"
    ]


def test_translate_unmapped_modes_and_r5():
    klass = json.loads(json.dumps(lab05.concept_map("v2-0004-to-encounter-class")))
    klass["group"][0]["unmapped"] = {"mode": "fixed", "code": "AMB"}
    assert R.ref_translate("X", klass) == [{"system": ACT, "code": "AMB", "equivalence": "inexact"}]
    assert R.ref_translate("E", klass) == [{"system": ACT, "code": "EMER", "equivalence": "equivalent"}]
    # R has no element in the ActCode group (fallback) and one in the v2-0004 group
    assert R.ref_translate("R", klass) == [
        {"system": ACT, "code": "AMB", "equivalence": "inexact"},
        {"system": "http://terminology.hl7.org/CodeSystem/v2-0004", "code": "R", "equivalence": "equivalent"},
    ]
    klass["group"][0]["unmapped"] = {"mode": "other-map", "url": "x"}
    with pytest.raises(ValueError, match="unmapped mode 'other-map'"):
        R.ref_translate("U", klass)
    r5 = json.loads(json.dumps(lab05.concept_map("v2-0001-to-gender")))
    r5["group"][0]["element"][1]["target"][0] = {"code": "male", "relationship": "equivalent"}
    with pytest.raises(ValueError, match="without equivalence"):
        R.ref_translate("M", r5)
    with pytest.raises(ValueError, match="ConceptMap"):
        R.ref_translate("M", {"resourceType": "ValueSet"})


# -- code maps, value sets, RxNorm ---------------------------------------------------------------------------


def test_map_codes_statuses():
    got = R.ref_map_codes(
        ["i10", "E119", "I50.9", "J02.9", "E66.9", "Z00.00", "U07.1"], lab05.icd10_to_snomed()
    )
    assert [(r["code"], r["targets"], r["status"], r["lossy"]) for r in got] == [
        ("I10", ["59621000"], "exact", False),
        ("E11.9", ["44054006"], "wider", True),
        ("I50.9", ["84114007", "88805009"], "one-to-many", True),
        ("J02.9", ["195662009"], "narrower", True),
        ("E66.9", ["162864005"], "inexact", True),
        ("Z00.00", [], "unmatched", True),
        ("U07.1", [], "unmatched", True),
    ]
    with pytest.raises(ValueError, match="not an ICD-10-CM code: ''"):
        R.ref_map_codes(["I10", ""], lab05.icd10_to_snomed())


def test_the_map_covers_every_icd10_code_of_the_dataset():
    from hitlab.terminology import code as term

    sources = {r["source"] for r in lab05.icd10_to_snomed()}
    keys = [r["source"] for r in lab05.icd10_to_snomed()]
    assert len(keys) == 21
    assert term("icd.diabetes").code in sources and term("icd.mi").code in sources


def test_expand_over_the_authored_hierarchy():
    h = lab05.snomed_hierarchy()
    assert R.ref_expand("84114007", h) == {"84114007", "42343007", "48447003", "88805009"}
    assert R.ref_expand("56265001", h) == {
        "56265001", "84114007", "42343007", "48447003", "88805009", "414545008", "22298006"
    }  # fmt: skip
    assert R.ref_expand("88805009", h) == {"88805009"}
    assert R.ref_expand("3", (("1", "2"), ("2", "3"), ("3", "1"))) == {"1", "2", "3"}
    with pytest.raises(ValueError, match="404684003 is not in the hierarchy"):
        R.ref_expand("404684003", h)


def test_heart_disease_cohort_on_the_dataset():
    rows = lab05.q7.answer_key
    assert len(rows) == 71
    from hitlab.checks.sql import connection

    sql = _define(lab05.q7.solution_code, _define(lab05.q6.solution_code))["cohort_sql"]
    assert sorted(connection().cursor().execute(sql).fetchall()) == sorted(rows)


def test_ingredients():
    rx = lab05.rxnorm_table()
    assert R.ref_ingredients("860975", rx) == {"6809"}
    assert R.ref_ingredients("866414", rx) == {"6918"}  # SBD → SCD 866412 → metoprolol
    assert R.ref_ingredients("896209", rx) == {"41126", "36117"}
    assert R.ref_ingredients("435", rx) == {"435"}
    with pytest.raises(ValueError, match="RxCUI 106892 is not in the table"):
        R.ref_ingredients("106892", rx)
    assert len(rx["concepts"]) == 24 and len(rx["relations"]) == 13


def test_rxnorm_excerpt_matches_the_dataset_codes():
    from hitlab.terminology import code as term

    rx = lab05.rxnorm_table()["concepts"]
    assert rx["860975"]["name"] == term("med.metformin").display
    assert rx["896209"]["name"] == term("med.fluticasone_salmeterol").display


# -- linkage and reconciliation on the defects dataset --------------------------------------------------------


def test_planted_duplicates_and_the_solution_scores():
    assert len(R.planted_duplicates()) == 9
    rows = list(lab05.linkage_patients())
    assert len(rows) == 1009
    link = _define(lab05.q9.solution_code)["link_patients"]
    assert link(rows) == R.planted_duplicates()
    extra = rows + list(R.extra_duplicates()[0])
    found, truth = link(extra), R.truth(extra)
    assert (len(found), len(truth), len(found & truth)) == (39, 39, 39)


def test_linkage_compare_reports_precision_and_recall():
    case = Case("x")
    truth = {("a", "b"), ("c", "d")}
    with pytest.raises(Incorrect, match=r"precision 0\.50 and recall 0\.50"):
        lab05.compare_linkage({("b", "a"), ("a", "c")}, truth, case, "Q")
    lab05.compare_linkage([("d", "c"), ("a", "b")], truth, case, "Q")


def test_reconcile_finds_every_planted_problem():
    patients, encounters, messages, fhir = lab05.reconcile_inputs()
    assert (len(patients), len(encounters)) == (49, 700)
    found = R.ref_reconcile(patients, encounters, messages, fhir)
    assert Counter(d["kind"] for d in found) == {
        "encounter_not_in_feed": 21, "encounter_not_in_fhir": 20, "patient_not_in_feed": 9,
        "patient_not_in_fhir": 9, "birthdate_differs_fhir": 6, "birthdate_differs_feed": 5,
    }  # fmt: skip
    pairs = {(d["kind"], d["id"]) for d in found}
    planted = lab05.defects_manifest()["defects"]["planted"]
    for e in planted:
        if e["kind"] == "duplicate_patient" and e["table"] == "patients":
            assert {("patient_not_in_feed", e["patient"]), ("patient_not_in_fhir", e["patient"])} <= pairs
        if e["kind"] in ("duplicate_patient", "event_after_death") and e["table"] == "encounters":
            assert {
                ("encounter_not_in_feed", e["encounter"]),
                ("encounter_not_in_fhir", e["encounter"]),
            } <= pairs
        if e["kind"] == "future_birth":
            assert {
                ("birthdate_differs_feed", e["patient"]),
                ("birthdate_differs_fhir", e["patient"]),
            } <= pairs
    # 9 + 11 planted encounters in both; the check's own: one encounter gone from the feed, one birth date off
    assert sum(k == "encounter_not_in_feed" for k, _ in pairs) == 9 + 11 + 1


# -- the checks -----------------------------------------------------------------------------------------------


def test_an_exam_release_imports_without_reference_and_answers():
    code = (
        "import sys\n"
        "sys.modules['hitlab.checks.lab05.reference'] = None\n"
        "sys.modules['hitlab.checks.lab05.answers'] = None\n"
        "from hitlab.checks import lab05\n"
        "from hitlab.checks.core import NOT_RELEASED\n"
        "assert all(q.solution_code == NOT_RELEASED and not q.wrong for q in lab05.QUESTIONS)\n"
        "assert lab05.parse_v2(lab05.read_fixture(lab05.FIXTURE_SN_FN))[0].name == 'MSH'\n"
        "try:\n"
        "    lab05.q3.check(lambda code, concept_map: [])\n"
        "except RuntimeError as err:\n"
        "    assert 'no reference' in str(err)\n"
        "else:\n"
        "    raise SystemExit('checked without a reference')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_wrong_adt_answer_names_the_path():
    wrong = _define(lab05.q1.wrong[0])["map_adt"]
    with pytest.raises(Incorrect, match=r"PID-8 = A \(ambiguous\), result.Patient.gender is 'unknown'"):
        lab05.q1.check(wrong)


# -- every mapped resource is valid FHIR (R4B models; the elements used here are the same in R4) --------------


def _validate(resource: dict) -> None:
    from fhir.resources.R4B import get_fhir_model_class

    get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def _map_and_validate(message: str) -> Counter:
    kind = lab05.parse_v2(message)[0].get(9)
    mapped = Counter()
    if kind == "ADT":
        got = R.ref_map_adt(message)
        resources = [got["Patient"]] + ([got["Encounter"]] if got["Encounter"] else [])
    elif kind == "ORU":
        resources = R.ref_map_oru(message)
    else:
        raise AssertionError(f"no map for {kind}")
    for resource in resources:
        _validate(resource)
        mapped[resource["resourceType"]] += 1
    return mapped


def test_every_lab_file_maps_to_valid_resources_or_is_refused():
    files = sorted(p.name for p in lab05.DATA.glob("*.hl7"))
    assert set(files) == {*lab05.FIXTURES_ADT, *lab05.FIXTURES_ORU, lab05.FIXTURE_SN_FN}
    mapped = Counter()
    for name in files:
        if name == lab05.FIXTURE_SN_FN:  # an FN result: refused, never dropped
            with pytest.raises(ValueError, match="'FN' has no OBX-5 map"):
                _map_and_validate(lab05.read_fixture(name))
            sample = lab05.read_fixture(name)
            mapped += _map_and_validate(sample[: sample.index("\rOBX|2|FN")])
            continue
        mapped += _map_and_validate(lab05.read_fixture(name))
    assert mapped == {"Patient": 3, "Encounter": 3, "Observation": 3 + 28 + 1}


def test_every_obx_variant_the_check_uses_maps_to_a_valid_observation_or_is_refused():
    for _, obx in lab05.OBX_VARIANTS:
        try:
            observations = R.ref_map_oru(Q._oru(obx))
        except ValueError:
            continue
        for obs in observations:
            _validate(obs)


@pytest.mark.slow
def test_every_message_of_the_generated_feed_maps_to_valid_resources():
    from hitlab.synth.hl7v2_writer import read_messages

    manifest = json.loads((dataset_dir("default") / "manifest.json").read_text(encoding="utf-8"))
    folder = dataset_dir("default") / manifest["formats"]["hl7v2"]["dir"]
    files = sorted(folder.glob("*.hl7"))
    assert len(files) == len(lab05.feed_messages()) > 900
    mapped = Counter()
    for path in files:
        for message in read_messages(path):
            mapped += _map_and_validate(message)
    assert mapped["Patient"] > 10_000 and mapped["Encounter"] > 10_000 and mapped["Observation"] > 10_000


@pytest.mark.notebook
@pytest.mark.slow
def test_verify_proves_the_grading():
    """``hitlab course verify lab05``: solution full marks, released zero, each known-wrong answer loses exactly
    its points (real nbgrader runs)."""
    prove_grading("lab05")
