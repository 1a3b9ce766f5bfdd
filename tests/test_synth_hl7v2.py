"""HL7 v2.5.1 feed: every message parses with hl7apy, and the feed matches the encounters it reports."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest
from hl7apy.parser import parse_message

from hitlab.synth.hl7v2_writer import escape, read_messages
from hitlab.synth.simulate import END


@pytest.fixture(scope="module")
def pop(population) -> Path:
    return population(30, 31, formats=("csv", "hl7v2"))


@pytest.fixture(scope="module")
def parsed(pop):
    out = []
    for f in sorted((pop / "hl7v2").glob("*.hl7")):
        for text in read_messages(f):
            out.append((f, parse_message(text, find_groups=True)))
    return out


def read(path: Path):
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_every_message_parses_with_groups(parsed):
    """hl7apy recognises each message's structure (MSH-9.3) and version 2.5.1."""
    assert len(parsed) > 400
    for _f, msg in parsed:
        assert msg.name in ("ADT_A01", "ADT_A03", "ORU_R01")
        assert msg.msh.msh_12.to_er7() == "2.5.1"
        assert msg.msh.msh_1.to_er7() == "|" and msg.msh.msh_2.to_er7() == "^~\\&"


def test_control_ids_are_unique_and_files_hold_one_patient(parsed):
    ids = [msg.msh.msh_10.to_er7() for _f, msg in parsed]
    assert len(ids) == len(set(ids))
    for f, msg in parsed:
        pid = (
            msg.children.get("PID")
            if msg.name != "ORU_R01"
            else msg.oru_r01_patient_result.oru_r01_patient.pid
        )
        pid = pid[0] if isinstance(pid, list) else pid
        repetitions = pid.pid_3
        assert [r.cx_5.to_er7() for r in repetitions] == ["MR", "PI"]
        assert repetitions[1].cx_1.to_er7() == f.stem
        assert repetitions[0].cx_4.to_er7() == "HITLAB"


def test_events_match_the_encounters(pop, parsed):
    """A01 per admission, A04 per other visit, A03 per finished inpatient/emergency visit, ORU per lab visit."""
    encounters = read(pop / "csv/encounters.csv")
    events = Counter(msg.msh.msh_9.to_er7() for _f, msg in parsed)
    inpatient = sum(e["ENCOUNTERCLASS"] == "inpatient" for e in encounters)
    end = END.isoformat() + "Z"
    discharged = sum(
        e["ENCOUNTERCLASS"] in ("inpatient", "emergency") and e["STOP"] < end for e in encounters
    )
    assert events["ADT^A01^ADT_A01"] == inpatient > 0
    assert events["ADT^A04^ADT_A01"] == len(encounters) - inpatient
    assert events["ADT^A03^ADT_A03"] == discharged
    labs = [o for o in read(pop / "csv/observations.csv") if o["CATEGORY"] == "laboratory"]
    assert events["ORU^R01^ORU_R01"] == len({o["ENCOUNTER"] for o in labs})
    assert events["ADT^A08^ADT_A01"] > 0


def test_visit_numbers_and_results_match_the_csv(pop, parsed):
    """PV1-19 is the encounter Id; every OBX is a lab row of the CSV with the same value and units."""
    encounters = {e["Id"] for e in read(pop / "csv/encounters.csv")}
    labs = Counter(
        (o["ENCOUNTER"], o["CODE"], o["VALUE"], o["UNITS"])
        for o in read(pop / "csv/observations.csv")
        if o["CATEGORY"] == "laboratory"
    )
    seen = Counter()
    for _f, msg in parsed:
        if msg.name != "ORU_R01":
            continue
        result = msg.oru_r01_patient_result
        visit = result.oru_r01_patient.oru_r01_visit.pv1.pv1_19.cx_1.to_er7()
        assert visit in encounters
        for order in result.oru_r01_order_observation:
            for obs in order.oru_r01_observation:
                obx = obs.obx
                seen[(visit, obx.obx_3.ce_1.to_er7(), obx.obx_5.to_er7(), obx.obx_6.ce_1.to_er7())] += 1
    assert seen == labs


def test_escaping_survives_a_parse():
    """Delimiters inside a value are escaped and hl7apy reads the value back unchanged."""
    value = "Smith|Jones^Jr & Sons~\\"
    text = f"MSH|^~\\&|A|B|C|D|20250101000000||ADT^A08^ADT_A01|1|P|2.5.1\rEVN|A08|20250101000000\rPID|1||1^^^X^MR||{escape(value)}^Ann\rPV1|1|N\r"
    msg = parse_message(text, find_groups=True)
    family = msg.pid.pid_5.xpn_1
    assert escape(value) == "Smith\\F\\Jones\\S\\Jr \\T\\ Sons\\R\\\\E\\"
    assert family.to_er7() == escape(value)
