"""Checks of lab 05, interoperability: HL7 v2 to FHIR mapping, ConceptMap translation, code-system maps,
value-set expansion, RxNorm normalization, record linkage and reconciliation across the three outputs.

Standards followed: HL7 v2.5.1 (the generated feed; the fixtures are v2.3 to v2.8), FHIR R4 4.0.1 and the
HL7 Version 2 to FHIR IG as its current build publishes it (the HL7/v2-to-fhir repository, pinned in
``SOURCES.md``): segment maps PID → Patient, PV1 → Encounter, OBX → Observation and the vocabulary maps of
tables 0001, 0004 (class and status) and 0085. Reference tables authored for the lab live in
``hitlab/labdata/lab05`` with their sources in its ``SOURCES.md``.
"""

from __future__ import annotations

import calendar
import csv
import json
import random
import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hitlab.checks.core import Incorrect
from hitlab.checks.function import Case, function_question
from hitlab.checks.sql import connection, sql_question

DATA = Path(__file__).resolve().parent.parent / "labdata" / "lab05"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
V2_0004 = "http://terminology.hl7.org/CodeSystem/v2-0004"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
DATA_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
GENDER = {"F": "female", "M": "male", "O": "other", "U": "unknown", "A": "other", "N": "other"}  # table 0001
# table 0004 → Encounter.class (IG ConceptMap table-hl70004-to-v3-actcode): two groups, every code has a target
PATIENT_CLASS = {"E": (ACT_CODE, "EMER"), "I": (ACT_CODE, "IMP"), "O": (ACT_CODE, "AMB"), "P": (ACT_CODE, "PRENC"),
                 **{c: (V2_0004, c) for c in "RBCNU"}}  # fmt: skip
# table 0004 → Encounter.status when PV1-45 is empty (IG map PatientClass[EncounterStatus]); PV1-45 → finished
ENCOUNTER_STATUS = {"P": "planned", "U": "unknown", **{c: "in-progress" for c in "EIORBCN"}}
# table 0085 → Observation.status (IG ConceptMap table-hl70085-to-observation-status); B I N O R S U V: no target
RESULT_STATUS = {"A": "amended", "C": "corrected", "D": "entered-in-error", "F": "final", "P": "preliminary",
                 "W": "entered-in-error", "X": "cancelled"}  # fmt: skip
CODING_SYSTEMS = {"LN": "http://loinc.org", "SCT": "http://snomed.info/sct", "UCUM": "http://unitsofmeasure.org",
                  "I10C": "http://hl7.org/fhir/sid/icd-10-cm", "RXNORM": "http://www.nlm.nih.gov/research/umls/rxnorm"}  # fmt: skip
# The zone a sender's zone-less times are in, by MSH-4.1 (sending facility): an assumption agreed per interface
# (see SOURCES.md). Used only when neither the value nor MSH-7 carries an offset.
SENDING_FACILITY_ZONES = {"VHIS": "Europe/Amsterdam"}
FIXTURES_ADT = (
    "v2tofhir_ADT_A01_v2.8_base_standard_example.hl7",
    "v2tofhir_ADT_A04_allergies_v2.3.1.hl7",
    "v2tofhir_ADT_A08_update_v2.3.hl7",
)
FIXTURES_ORU = ("v2tofhir_ORU_R01_LRI_basic_v2.5.1.hl7", "ms_ORU_R01_NIST_LRI_CBC.hl7")
FIXTURE_SN_FN = "pyhl7_ORU_R01_v2.4_SN_FN_standard_sample.hl7"  # SN and FN results, PID-7 = 196203520

# -- HL7 v2 helpers the learner uses too ---------------------------------------------------------------------

_ESCAPES = {"F": "|", "S": "^", "T": "&", "R": "~", "E": "\\"}


def unescape(value: str) -> str:
    """Undo HL7 escape sequences (``\\F\\`` ``\\S\\`` ``\\T\\`` ``\\R\\`` ``\\E\\``) in one component."""
    return re.sub(r"\\([FSTRE])\\", lambda m: _ESCAPES[m.group(1)], value)


@dataclass
class Segment:
    """One segment: ``name`` and ``fields`` (``fields[3]`` is ``PID-3``; in ``MSH``, ``fields[9]`` is MSH-9)."""

    name: str
    fields: list[str]

    def repetitions(self, n: int) -> list[str]:
        """The repetitions of field ``n`` (``~`` separated), raw; ``[]`` if the field is empty or absent."""
        value = self.fields[n] if n < len(self.fields) else ""
        return [r for r in value.split("~") if r] if value else []

    def get(self, n: int, component: int = 1, repetition: int = 1) -> str:
        """Field ``n``, component ``component`` (1-based, as in ``PID-5.2``) of repetition ``repetition``,
        unescaped; ``""`` when absent. Sub-components (``&``) are left as they are."""
        reps = self.repetitions(n)
        if len(reps) < repetition:
            return ""
        parts = reps[repetition - 1].split("^")
        return unescape(parts[component - 1]) if component <= len(parts) else ""


def parse_v2(message: str) -> list[Segment]:
    """Split a message (segments separated by CR, LF or CRLF; a leading byte-order mark is dropped) into
    :class:`Segment` objects. Raises ``ValueError`` if it does not start with ``MSH``."""
    if not isinstance(message, str):
        raise ValueError(f"expected the message as a string, got {type(message).__name__}")
    text = message.lstrip("\ufeff")
    if not text.startswith("MSH"):
        raise ValueError(f"a message starts with MSH, this one with {text[:3]!r}")
    sep = text[3]
    out = []
    for line in re.split(r"\r\n|\r|\n", text):
        if not line.strip():
            continue
        parts = line.split(sep)
        if parts[0] == "MSH":
            parts = ["MSH", sep, *parts[1:]]  # MSH-1 is the separator itself
        out.append(Segment(parts[0], parts))
    return out


_DTM = re.compile(
    r"(\d{4})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(\.\d{1,4})?)?)?)?)?)?([+-]\d{4})?"
)


def _offset(zone: str, moment: tuple[int, ...]) -> str:
    """``+HH:MM`` for a fixed offset (``+0100``, ``-05:00``, ``Z``) or an IANA zone at that local moment."""
    fixed = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", zone)
    if fixed:
        sign, hh, mm = fixed.groups()
        if int(hh) > 14 or int(mm) > 59:
            raise ValueError(f"not a time-zone offset: {zone!r}")
        return f"{sign}{hh}:{mm}"
    if zone == "Z":
        return "+00:00"
    try:
        offset = datetime(*moment, tzinfo=ZoneInfo(zone)).utcoffset()
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"not a time zone: {zone!r} (give +HHMM or an IANA name)") from None
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def fhir_datetime(dtm: str, zone: str | None = None) -> str:
    """An HL7 v2 DTM (``YYYY[MM[DD[HH[MM[SS[.S+]]]]]][+/-ZZZZ]``) as a FHIR ``date``/``dateTime`` string, keeping
    its precision: ``19610615`` → ``1961-06-15``; ``20240101120000+0000`` → ``2024-01-01T12:00:00+00:00``;
    hours without minutes get ``:00``. FHIR requires a zone on any time of day: the value's own offset wins,
    else ``zone`` (``+HHMM`` or an IANA name such as ``Europe/Amsterdam``, whose offset on that date is used).
    Raises ``ValueError`` on anything else: an impossible date or time (month 13, day 52, hour 25) or a time
    with no zone from either place."""
    m = _DTM.fullmatch(dtm.strip()) if isinstance(dtm, str) else None
    if not m:
        raise ValueError(f"not an HL7 v2 date/time: {dtm!r}")
    year, month, day, hour, minute, second, fraction, tz = m.groups()
    y, mo, d = int(year), int(month or 1), int(day or 1)
    h, mi, s = int(hour or 0), int(minute or 0), int(second or 0)
    if not 1 <= mo <= 12 or not 1 <= d <= calendar.monthrange(y, mo)[1]:
        raise ValueError(f"not a real date: {dtm!r}")
    if h > 23 or mi > 59 or s > 59:
        raise ValueError(f"not a real time of day: {dtm!r}")
    text = "-".join(p for p in (year, month, day) if p)
    if hour:
        text += f"T{hour}:{minute or '00'}:{second or '00'}{fraction or ''}"
        if tz is None and zone is None:
            raise ValueError(f"{dtm!r} has a time of day but no time zone, and FHIR requires one: pass zone=")
        text += _offset(tz or zone, (y, mo, d, h, mi, s))
    return text


def sender_zone(segments: list[Segment]) -> str | None:
    """The zone for a message's zone-less times: MSH-7's offset if it has one, else the documented zone of the
    sending facility (``SENDING_FACILITY_ZONES``, by MSH-4.1), else ``None``."""
    msh = _segment(segments, "MSH")
    if msh is None:
        return None
    m = _DTM.fullmatch(msh.get(7).strip())
    if m and m.group(8):
        return m.group(8)
    return SENDING_FACILITY_ZONES.get(msh.get(4))


def read_fixture(name: str) -> str:
    """A real message from ``labdata/lab05`` as text (a byte-order mark, if any, kept)."""
    return (DATA / name).read_bytes().decode("utf-8")


# -- references: v2 to FHIR ---------------------------------------------------------------------------------


def _segment(segments: list[Segment], name: str) -> Segment | None:
    return next((s for s in segments if s.name == name), None)


def _coding(seg: Segment, n: int, first: int = 1, rep: int = 1) -> dict:
    coding = {}
    system = CODING_SYSTEMS.get(seg.get(n, first + 2, rep))
    if system:
        coding["system"] = system
    if seg.get(n, first, rep):
        coding["code"] = seg.get(n, first, rep)
    if seg.get(n, first + 1, rep):
        coding["display"] = seg.get(n, first + 1, rep)
    return coding


def _codeable(seg: Segment, n: int, rep: int = 1) -> dict:
    """CWE → CodeableConcept: the first triplet, the alternate triplet (CWE.4-6), original text (CWE.9)."""
    codings = [c for c in (_coding(seg, n, 1, rep), _coding(seg, n, 4, rep)) if "code" in c]
    out: dict[str, Any] = {"coding": codings}
    if seg.get(n, 9, rep):
        out["text"] = seg.get(n, 9, rep)
    return out


def ref_map_adt(message: str) -> dict:
    segments = parse_v2(message)
    zone = sender_zone(segments)
    pid = _segment(segments, "PID")
    if pid is None:
        raise ValueError("the message has no PID segment")
    patient: dict[str, Any] = {"resourceType": "Patient"}
    identifiers = []
    for i in range(1, len(pid.repetitions(3)) + 1):
        ident: dict[str, Any] = {"value": pid.get(3, 1, i)}
        if pid.get(3, 5, i):
            ident["type"] = {"coding": [{"system": V2_0203, "code": pid.get(3, 5, i)}]}
        identifiers.append(ident)
    if identifiers:
        patient["identifier"] = identifiers
    names = []
    for i in range(1, len(pid.repetitions(5)) + 1):
        name: dict[str, Any] = {}
        if pid.get(5, 1, i):
            name["family"] = pid.get(5, 1, i).split("&")[0]
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
        patient["birthDate"] = fhir_datetime(pid.get(7)[:8])  # a date: the time of birth is not needed
    if pid.get(8) in GENDER:
        patient["gender"] = GENDER[pid.get(8)]
    pv1 = _segment(segments, "PV1")
    encounter = None
    if pv1 is not None:
        klass = pv1.get(2)
        if klass not in PATIENT_CLASS:
            raise ValueError(f"PV1-2 = {klass!r} is not a table 0004 code, and Encounter.class is required")
        encounter = {
            "resourceType": "Encounter",
            "status": "finished" if pv1.get(45) else ENCOUNTER_STATUS[klass],
        }
        if pv1.get(19):
            encounter["identifier"] = [
                {"value": pv1.get(19), "type": {"coding": [{"system": V2_0203, "code": "VN"}]}}
            ]
        system, code = PATIENT_CLASS[klass]
        encounter["class"] = {"system": system, "code": code}
        period = {}
        if pv1.get(44):
            period["start"] = fhir_datetime(pv1.get(44), zone)
        if pv1.get(45):
            period["end"] = fhir_datetime(pv1.get(45), zone)
        if period:
            encounter["period"] = period
    return {"Patient": patient, "Encounter": encounter}


SN_COMPARATORS = {"<": "<", ">": ">", "<=": "<=", ">=": ">=", "": None, "=": None}


def _number(text: str, where: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{where} {text!r} is not a number") from None


def _units(unit: str, text: str, system: str) -> dict:
    """A CWE of units (OBX-6, or CQ.2's sub-components) as Quantity elements."""
    out: dict[str, Any] = {}
    if text or unit:
        out["unit"] = text or unit
    if unit and system:  # CWE[Quantity]: code and system need both
        out["code"] = unit
        if system in CODING_SYSTEMS:
            out["system"] = CODING_SYSTEMS[system]
    return out


def _obx_value(seg: Segment, zone: str | None) -> dict:
    """OBX-5 read as OBX-2 says, as ``{"value[x]": ...}`` (``{}`` when empty); refuses what it cannot keep."""
    where = f"OBX-{seg.get(1) or '?'}"
    kind, reps = seg.get(2), seg.repetitions(5)
    if not reps:
        return {}
    if kind in ("ST", "TX", "FT"):  # text repetitions are lines: keep every one
        return {"valueString": "\n".join(seg.get(5, 1, i) for i in range(1, len(reps) + 1))}
    if len(reps) > 1:
        raise ValueError(f"{where}: OBX-5 repeats ({len(reps)} values) and value[x] holds one; refused")
    c = [seg.get(5, i) for i in range(1, 5)]
    units = _units(seg.get(6, 1), seg.get(6, 2), seg.get(6, 3))
    if kind == "NM":
        return {"valueQuantity": {"value": _number(c[0], f"{where}: NM value"), **units}}
    if kind in ("CWE", "CE", "CNE", "CF"):
        return {"valueCodeableConcept": _codeable(seg, 5)}
    if kind == "IS":
        return {"valueCodeableConcept": {"coding": [{"code": c[0]}]}}
    if kind in ("DTM", "DT", "TS"):
        return {"valueDateTime": fhir_datetime(c[0], zone)}
    if kind == "TM":
        m = re.fullmatch(r"(\d{2})(\d{2})?(\d{2}(?:\.\d{1,4})?)?", c[0])
        if not m or int(m.group(1)) > 23 or int(m.group(2) or 0) > 59 or float(m.group(3) or 0) >= 60:
            raise ValueError(f"{where}: TM value {c[0]!r} is not a time of day without a zone")
        return {"valueTime": f"{m.group(1)}:{m.group(2) or '00'}:{m.group(3) or '00'}"}
    if kind == "SN":
        comparator, low, sep, high = c
        if comparator not in SN_COMPARATORS:
            raise ValueError(f"{where}: SN comparator {comparator!r} has no FHIR Quantity.comparator")
        if sep == "+":  # a categorical "2+": the IG writes the components as text
            return {"valueString": " ".join(p for p in c if p)}
        if sep in (":", "/", "-") and comparator not in ("", "="):
            raise ValueError(f"{where}: SN comparator {comparator!r} with separator {sep!r} has no FHIR form")
        if sep in (":", "/"):
            return {"valueRatio": {"numerator": {"value": _number(low, f"{where}: SN value"), **units},
                                   "denominator": {"value": _number(high, f"{where}: SN value"), **units}}}  # fmt: skip
        if sep == "-":
            return {"valueRange": {"low": {"value": _number(low, f"{where}: SN value"), **units},
                                   "high": {"value": _number(high, f"{where}: SN value"), **units}}}  # fmt: skip
        if sep or high:
            raise ValueError(f"{where}: SN separator {sep!r} is not one of - + / :")
        quantity = {"value": _number(low, f"{where}: SN value"), **units}
        if SN_COMPARATORS[comparator]:
            quantity["comparator"] = SN_COMPARATORS[comparator]
        return {"valueQuantity": quantity}
    if kind == "NR":
        bounds = (("low", c[0]), ("high", c[1]))
        return {"valueRange": {k: {"value": _number(v, f"{where}: NR value")} for k, v in bounds if v}}
    if kind == "DR":
        return {"valuePeriod": {k: fhir_datetime(v, zone) for k, v in (("start", c[0]), ("end", c[1])) if v}}
    if kind == "VR":  # the IG writes the range as text: OBX-5.1 + "-" + OBX-5.2
        return {"valueString": f"{c[0]}-{c[1]}"}
    if kind == "CQ":
        unit, text, system = ([*c[1].split("&"), "", ""])[:3]
        return {"valueQuantity": {"value": _number(c[0], f"{where}: CQ value"), **_units(unit, text, system)}}
    if kind in ("ED", "RP"):
        raise ValueError(f"{where}: {kind} needs value[x] Attachment, which R4 Observation lacks; refused")
    if kind == "NA":
        raise ValueError(
            f"{where}: NA needs SampledData origin, period and dimensions, which v2 lacks; refused"
        )
    raise ValueError(f"{where}: value type {kind!r} has no OBX-5 map in the IG; refused rather than dropped")


def ref_map_oru(message: str) -> list[dict]:
    segments = parse_v2(message)
    zone = sender_zone(segments)
    out = []
    for seg in segments:
        if seg.name != "OBX":
            continue
        if seg.get(11) not in RESULT_STATUS:
            raise ValueError(
                f"OBX-{seg.get(1)}: OBX-11 = {seg.get(11)!r} has no target in table 0085's map, "
                "and Observation.status is required"
            )
        obs: dict[str, Any] = {"resourceType": "Observation", "status": RESULT_STATUS[seg.get(11)]}
        obs["code"] = _codeable(seg, 3)
        obs.update(_obx_value(seg, zone))
        if seg.get(11) == "X" and not any(k.startswith("value") for k in obs):
            obs["dataAbsentReason"] = {"coding": [{"system": DATA_ABSENT, "code": "cannot-be-obtained"}]}
        if seg.get(14):
            obs["effectiveDateTime"] = fhir_datetime(seg.get(14), zone)
        out.append(obs)
    return out


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


@cache
def feed_messages(dataset: str = "default") -> dict[str, list[str]]:
    """Every message of the generated HL7 v2 feed, by patient ``Id`` (the file name)."""
    from hitlab.data import dataset_dir
    from hitlab.synth.hl7v2_writer import read_messages

    folder = dataset_dir(dataset) / "hl7v2"
    return {p.stem: read_messages(p) for p in sorted(folder.glob("*.hl7"))}


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


def _adt_class_r(map_adt: Any) -> None:
    """The IG's A08 example with PV1-2 = R (recurring patient) keeps its v2 code."""
    got = map_adt(read_fixture("v2tofhir_ADT_A08_update_v2.3.hl7"))
    want = {"system": "http://terminology.hl7.org/CodeSystem/v2-0004", "code": "R"}
    if not isinstance(got, dict) or got.get("Encounter", {}).get("class") != want:
        raise Incorrect(
            f"{q1.title}: on the IG's A08 update example (PV1-2 = R, a recurring patient), Encounter.class should "
            "be code R in the v2-0004 code system, as the IG maps it."
        )


q1 = function_question(
    grade_id="lab05_map_adt",
    title="Q1 map an ADT message to Patient and Encounter",
    points=3,
    name="map_adt",
    parameters=("message",),
    reference=ref_map_adt,
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
    solution_code=ADT_SOLUTION,
    alternatives=(ADT_ALTERNATIVE,),
    wrong=(
        ADT_SOLUTION.replace('"A": "other", "N": "other"', '"A": "unknown", "N": "unknown"'),
        ADT_SOLUTION.replace('"R": (V2_0004, "R"), ', ""),
        ADT_SOLUTION.replace(
            "lab05.fhir_datetime(pv1.get(n), zone)", "lab05.fhir_datetime(pv1.get(n), '+00:00')"
        ),
        ADT_SOLUTION.replace(
            "lab05.fhir_datetime(pid.get(7)[:8])", "f'{pid.get(7)[:4]}-{pid.get(7)[4:6]}-{pid.get(7)[6:8]}'"
        ),
    ),
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
    reference=ref_map_oru,
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
    solution_code=ORU_SOLUTION,
    alternatives=(ORU_SOLUTION.replace("return float(text)", "return float(text.strip())"),),
    wrong=(
        ORU_SOLUTION.replace('quantity["unit"] = text or code', 'quantity["unit"] = code'),
        ORU_SOLUTION.replace("for first in (1, 4):", "for first in (1,):"),
        ORU_SOLUTION.replace('"X": "cancelled"}', '"X": "cancelled", "S": "preliminary"}'),
        ORU_SOLUTION.replace(
            'raise ValueError(f"{where}: no R4 value[x] for OBX-2 = {kind!r} (ED, RP, NA and unmapped types are refused)")',
            "return {}",
        ),
        ORU_SOLUTION.replace('quantity["comparator"] = COMPARATORS[c1]', "pass"),
    ),
)


# -- ConceptMap $translate --------------------------------------------------------------------------------------

MATCHING = {"relatedto", "equivalent", "equal", "wider", "subsumes", "narrower", "specializes", "inexact"}


@cache
def concept_map(name: str) -> dict:
    """An authored R4 ConceptMap from ``labdata/lab05`` (``v2-0001-to-gender`` or ``v2-0004-to-encounter-class``)."""
    return json.loads((DATA / f"conceptmap-{name}.json").read_text(encoding="utf-8"))


def ref_translate(code: str, concept_map: dict) -> list[dict]:
    if not isinstance(concept_map, dict) or concept_map.get("resourceType") != "ConceptMap":
        raise ValueError("expected a ConceptMap resource (resourceType 'ConceptMap')")
    out = []
    for g, group in enumerate(concept_map.get("group", [])):
        matched = False
        for element in group.get("element", []):
            if element.get("code") != code:
                continue
            matched = True
            for target in element.get("target", []):
                if "equivalence" not in target:
                    raise ValueError(
                        f"group[{g}] element {code!r}: a target without equivalence (an R5 map?)"
                    )
                if target["equivalence"] in MATCHING and "code" in target:
                    out.append({"system": group.get("target"), "code": target["code"],
                                "equivalence": target["equivalence"]})  # fmt: skip
        unmapped = group.get("unmapped")
        if not matched and unmapped:
            if unmapped.get("mode") == "provided":
                out.append({"system": group.get("source"), "code": code, "equivalence": "equal"})
            elif unmapped.get("mode") == "fixed":
                out.append(
                    {"system": group.get("target"), "code": unmapped["code"], "equivalence": "inexact"}
                )
            else:
                raise ValueError(f"group[{g}]: unmapped mode {unmapped.get('mode')!r} is not supported here")
    return out


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


def _translate_r(translate: Any) -> None:
    """R (recurring patient) maps to itself in v2-0004 through the IG's ConceptMap."""
    got = translate("R", concept_map("v2-0004-to-encounter-class"))
    want = [
        {"system": "http://terminology.hl7.org/CodeSystem/v2-0004", "code": "R", "equivalence": "equivalent"}
    ]
    if got != want:
        raise Incorrect(
            f"{q3.title}: translating R (a recurring patient) through v2-0004-to-encounter-class, your function "
            f"returned {got!r}; the IG's map gives one equivalent match, code R in v2-0004."
        )


q3 = function_question(
    grade_id="lab05_translate",
    title="Q3 $translate through a ConceptMap",
    points=2,
    name="translate",
    parameters=("code", "concept_map"),
    reference=ref_translate,
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
    solution_code=TRANSLATE_SOLUTION,
    alternatives=(
        TRANSLATE_SOLUTION.replace(
            'if target["equivalence"] in MATCHING and "code" in target:',
            'if target["equivalence"] not in ("unmatched", "disjoint") and target.get("code"):',
        ),
    ),
    wrong=(
        TRANSLATE_SOLUTION.replace(
            'if target["equivalence"] in MATCHING and "code" in target:', 'if "code" in target:'
        ),
        TRANSLATE_SOLUTION.replace("if not elements and unmapped:", "if False:"),
    ),
)

# -- ICD-10-CM → SNOMED CT, lossy maps ---------------------------------------------------------------------------


@cache
def icd10_to_snomed() -> tuple[dict, ...]:
    """The authored map rows: ``source`` (ICD-10-CM), ``target`` (SNOMED CT or ``""``), ``equivalence``."""
    with open(DATA / "icd10cm-to-snomed.csv", encoding="utf-8", newline="") as f:
        return tuple({k: r[k] for k in ("source", "target", "equivalence")} for r in csv.DictReader(f))


def normalize_icd10(code: str) -> str:
    """``"e119 "`` → ``"E11.9"``: trimmed, upper case, the dot after the third character."""
    if not isinstance(code, str) or not code.strip():
        raise ValueError(f"not an ICD-10-CM code: {code!r}")
    c = code.strip().upper().replace(".", "")
    return c[:3] + "." + c[3:] if len(c) > 3 else c


def ref_map_codes(codes: list[str], mapping) -> list[dict]:
    out = []
    for raw in codes:
        code = normalize_icd10(raw)
        rows = [r for r in mapping if r["source"] == code and r["target"]]
        targets = sorted({r["target"] for r in rows})
        if not targets:
            status = "unmatched"
        elif len(targets) > 1:
            status = "one-to-many"
        else:
            eq = rows[0]["equivalence"]
            status = "exact" if eq in ("equal", "equivalent") else eq
        out.append({"code": code, "targets": targets, "status": status, "lossy": status != "exact"})
    return out


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

q4 = function_question(
    grade_id="lab05_map_codes",
    title="Q4 ICD-10-CM to SNOMED CT, flagging lossy maps",
    points=2,
    name="map_codes",
    parameters=("codes", "mapping"),
    reference=ref_map_codes,
    cases=_map_codes_cases,
    hints=(
        "Normalize first: trim, upper-case, and put the dot after the third character (`E119` is `E11.9`).",
        "Collect the distinct targets of a code: none → unmatched, several → one-to-many, one → the row's "
        "equivalence decides (equal/equivalent is exact, anything else is lossy).",
    ),
    solution_code=MAP_CODES_SOLUTION,
    alternatives=(MAP_CODES_ALTERNATIVE,),
    wrong=(
        MAP_CODES_SOLUTION.replace('"lossy": status != "exact"', '"lossy": status == "unmatched"'),
        MAP_CODES_SOLUTION.replace('code = raw.strip().upper().replace(".", "")', "code = raw").replace(
            '        if len(code) > 3:\n            code = code[:3] + "." + code[3:]\n', ""
        ),
    ),
)

# -- SNOMED CT value set expansion --------------------------------------------------------------------------


@cache
def snomed_hierarchy() -> tuple[tuple[str, str], ...]:
    """The authored is-a edges ``(child, parent)`` over SNOMED CT concepts the dataset uses."""
    with open(DATA / "snomed-isa.csv", encoding="utf-8", newline="") as f:
        return tuple((r["child"], r["parent"]) for r in csv.DictReader(f))


def ref_expand(root: str, hierarchy) -> set[str]:
    children: dict[str, set[str]] = {}
    known = set()
    for child, parent in hierarchy:
        children.setdefault(parent, set()).add(child)
        known |= {child, parent}
    if root not in known:
        raise ValueError(f"concept {root} is not in the hierarchy")
    out, todo = {root}, [root]
    while todo:
        for c in children.get(todo.pop(), ()):
            if c not in out:
                out.add(c)
                todo.append(c)
    return out


HEART_DISEASE = "56265001"


def _expand_cases() -> list[Case]:
    h = snomed_hierarchy()
    roots = sorted({p for _, p in h} | {c for c, _ in h})
    cases = [Case(f"root {r}", (r, h)) for r in roots]
    cases.append(Case("a root that is not in the table", ("404684003", h)))
    cycle = (("1", "2"), ("2", "3"), ("3", "1"), ("4", "3"))
    cases.append(Case("a table with a cycle (bad data must not hang you)", ("3", cycle)))
    return cases


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

q6 = function_question(
    grade_id="lab05_expand",
    title="Q6 expand a descendant-or-self value set",
    points=2,
    name="expand",
    parameters=("root", "hierarchy"),
    reference=ref_expand,
    cases=_expand_cases,
    hints=(
        "Index the edges by parent, then walk down from the root (breadth- or depth-first), collecting codes.",
        "`is-a` in a ValueSet compose means descendant-or-self: the root belongs to the expansion. SNOMED CT is "
        "a polyhierarchy, so remember what you have visited.",
    ),
    solution_code=EXPAND_SOLUTION,
    alternatives=(EXPAND_ALTERNATIVE,),
    wrong=(EXPAND_SOLUTION.replace("found, queue = {root}, [root]", "found, queue = set(), [root]"),),
)


def hierarchy_sql() -> str:
    """The is-a edges as a SQL ``VALUES`` table ``snomed_isa(child, parent)`` for DuckDB."""
    rows = ", ".join(f"('{c}', '{p}')" for c, p in snomed_hierarchy())
    return f"(values {rows}) as snomed_isa(child, parent)"


def _heart_disease_cohort() -> list[tuple]:
    from hitlab.checks.sql import table

    codes = ref_expand(HEART_DISEASE, snomed_hierarchy())
    cond = table("conditions")
    cond = cond[cond["CODE"].astype(str).isin(codes)]
    first = cond.groupby("PATIENT")["START"].min()
    return [(p, d.date() if hasattr(d, "date") else d) for p, d in first.items()]


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

q7 = sql_question(
    grade_id="lab05_cohort",
    title="Q7 heart-disease cohort from the expanded value set",
    points=2,
    variable="cohort_sql",
    columns=("PATIENT", "first_onset"),
    reference=_heart_disease_cohort,
    hints=(
        "Expand 56265001 with your `expand`, then keep the `conditions` rows whose CODE is in the expansion.",
        "One row per patient: group by PATIENT and take min(START).",
    ),
    solution=COHORT_SOLUTION,
    alternatives=(COHORT_ALTERNATIVE,),
    wrong=(
        "cohort_sql = \"select PATIENT, min(START) as first_onset from conditions where CODE = '56265001' group by PATIENT\"",
    ),
)

# -- RxNorm normalization -------------------------------------------------------------------------------------


@cache
def rxnorm_table() -> dict:
    """The authored RxNorm excerpt: ``concepts`` {rxcui: {"tty", "name"}} and ``relations`` [(rxcui1, rela,
    rxcui2)] read "rxcui1 rela rxcui2" (``866414 tradename_of 866412``)."""
    concepts, relations = {}, []
    with open(DATA / "rxnorm.csv", encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            if r["rela"] == "":
                concepts[r["rxcui"]] = {"tty": r["tty"], "name": r["name"]}
            else:
                relations.append((r["rxcui"], r["rela"], r["target"]))
    return {"concepts": concepts, "relations": relations}


def ref_ingredients(rxcui: str, rxnorm: dict) -> set[str]:
    concepts = rxnorm["concepts"]
    if rxcui not in concepts:
        raise ValueError(f"RxCUI {rxcui} is not in the table")

    def related(cui: str, rela: str) -> list[str]:
        return [t for s, r, t in rxnorm["relations"] if s == cui and r == rela]

    tty = concepts[rxcui]["tty"]
    if tty == "IN":
        return {rxcui}
    if tty == "PIN":
        return set(related(rxcui, "form_of"))
    if tty == "SBD":
        scd = related(rxcui, "tradename_of")
        if not scd:
            raise ValueError(f"SBD {rxcui} has no tradename_of link to its SCD")
        return set().union(*(ref_ingredients(s, rxnorm) for s in scd))
    if tty == "SCD":
        found = {t for t in related(rxcui, "has_ingredient") if concepts.get(t, {}).get("tty") == "IN"}
        if not found:
            raise ValueError(f"SCD {rxcui} has no ingredient in the table")
        return found
    raise ValueError(f"RxCUI {rxcui} has term type {tty}, not IN, PIN, SCD or SBD")


def _ingredient_cases() -> list[Case]:
    rx = rxnorm_table()
    cases = [Case(f"RxCUI {c} ({v['tty']}, {v['name']})", (c, rx)) for c, v in sorted(rx["concepts"].items())]
    cases.append(Case("RxCUI 106892, a branded insulin not in the table", ("106892", rx)))
    return cases


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

q8 = function_question(
    grade_id="lab05_rxnorm_ingredients",
    title="Q8 normalize drugs to RxNorm ingredients",
    points=2,
    name="ingredients",
    parameters=("rxcui", "rxnorm"),
    reference=ref_ingredients,
    cases=_ingredient_cases,
    hints=(
        "Dispatch on the term type: IN is already an ingredient; SCD has ingredients; SBD is a brand of an SCD.",
        "For an SBD follow `tradename_of` to its SCD: the branded drug is tied to a brand name (BN), which is "
        "not an ingredient.",
        "A combination drug (fluticasone/salmeterol) has two ingredients: return both.",
    ),
    solution_code=INGREDIENTS_SOLUTION,
    alternatives=(INGREDIENTS_ALTERNATIVE,),
    wrong=(
        INGREDIENTS_SOLUTION.replace('and concepts.get(t, {}).get("tty") == "IN"}', "}")
        .replace('r == "tradename_of"]', 'r == "has_ingredient"]')
        .replace("set().union(*(ingredients(g, rxnorm) for g in generics))", "set(generics)"),
    ),
)

# -- record linkage ------------------------------------------------------------------------------------------

LINKAGE_COLUMNS = ("Id", "FIRST", "LAST", "BIRTHDATE", "GENDER", "SSN", "ADDRESS", "ZIP")
MIN_PRECISION, MIN_RECALL = 0.9, 0.85
EXTRA_DUPLICATES = 30


@cache
def linkage_patients() -> tuple[dict, ...]:
    """The defects dataset's ``patients`` rows (the columns a matcher needs), as plain dicts of strings."""
    con = connection("defects").cursor()
    cols = ", ".join(f"coalesce(cast({c} as varchar), '') as {c}" for c in LINKAGE_COLUMNS)
    rows = con.execute(f"select {cols} from patients order by Id").fetchall()
    return tuple(dict(zip(LINKAGE_COLUMNS, r, strict=True)) for r in rows)


@cache
def defects_manifest() -> dict:
    from hitlab.data import connect, dataset_dir

    connect("defects").close()  # builds it if missing
    return json.loads((dataset_dir("defects") / "manifest.json").read_text(encoding="utf-8"))


def planted_duplicates() -> set[tuple[str, str]]:
    """The duplicate pairs the generator planted, each as a sorted ``(Id, Id)``."""
    planted = defects_manifest()["defects"]["planted"]
    return {
        tuple(sorted((e["patient"], e["duplicate_of"])))
        for e in planted
        if e["kind"] == "duplicate_patient" and e["table"] == "patients"
    }


@cache
def extra_duplicates() -> tuple[tuple[dict, ...], frozenset]:
    """Duplicates the check plants itself in a copy, as the generator does (a typo in FIRST or LAST, the SSN
    dropped half the time, a new Id): the new rows and the pairs they form with their originals."""
    from hitlab.synth.defects import misspell

    rng = random.Random(8)
    rows, pairs = [], set()
    planted = {i for pair in planted_duplicates() for i in pair}  # one duplicate per person: pairs stay exact
    for original in rng.sample([p for p in linkage_patients() if p["Id"] not in planted], EXTRA_DUPLICATES):
        dup = dict(original)
        dup["Id"] = f"dup-{rng.getrandbits(64):016x}"
        field = rng.choice(("FIRST", "LAST"))
        dup[field] = misspell(rng, dup[field])
        if rng.random() < 0.5:
            dup["SSN"] = ""
        rows.append(dup)
        pairs.add(tuple(sorted((original["Id"], dup["Id"]))))
    return tuple(rows), frozenset(pairs)


def _linkage_cases() -> list[Case]:
    rows = list(linkage_patients())
    extra, _ = extra_duplicates()
    return [
        Case("the defects dataset's patients", (rows,)),
        Case(f"the same with {EXTRA_DUPLICATES} more duplicates planted by the check", (rows + list(extra),)),
    ]


def _truth(patients: list[dict]) -> set[tuple[str, str]]:
    ids = {p["Id"] for p in patients}
    return {pair for pair in planted_duplicates() | extra_duplicates()[1] if set(pair) <= ids}


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

q9 = function_question(
    grade_id="lab05_record_linkage",
    title="Q9 EMPI-style record linkage",
    points=3,
    name="link_patients",
    parameters=("patients",),
    reference=_truth,
    cases=_linkage_cases,
    compare=compare_linkage,
    hints=(
        "Comparing every pair of 1,000 people is half a million comparisons; block first (same birth date and "
        "sex) and compare only within a block.",
        "Duplicates differ by a typo in a name and sometimes a missing SSN: score agreement field by field "
        "(a fuzzy name similarity, SSN when both have one, address) and pick a threshold.",
    ),
    solution_code=LINK_SOLUTION,
    alternatives=(LINK_ALTERNATIVE,),
    wrong=(
        """def link_patients(patients: list[dict]) -> set[tuple[str, str]]:
    seen, pairs = {}, set()
    for p in patients:
        key = (p["FIRST"], p["LAST"], p["BIRTHDATE"])
        if key in seen:
            pairs.add(tuple(sorted((seen[key], p["Id"]))))
        seen[key] = p["Id"]
    return pairs""",
    ),
)

# -- reconciliation ------------------------------------------------------------------------------------------

RECONCILE_SAMPLE = 40


@cache
def reconcile_inputs() -> tuple[list[dict], list[dict], list[str], list[dict]]:
    """``(csv_patients, csv_encounters, messages, fhir_resources)`` for a sample of the defects population:
    every patient with a planted defect plus others at random, with two more problems planted here in copies
    (one encounter's messages dropped from the feed; one FHIR birth date changed)."""
    from hitlab.data import dataset_dir

    folder = dataset_dir("defects")
    con = connection("defects").cursor()
    planted = defects_manifest()["defects"]["planted"]
    flagged = {e.get("duplicate_of") or e.get("patient") for e in planted
               if e["kind"] in ("duplicate_patient", "event_after_death", "future_birth")}  # fmt: skip
    everyone = [r[0] for r in con.execute("select Id from patients order by Id").fetchall()]
    originals = sorted(p for p in flagged if p)
    rng = random.Random(32)
    others = rng.sample([p for p in everyone if p not in flagged and (folder / "hl7v2" / f"{p}.hl7").exists()],
                        RECONCILE_SAMPLE - len(originals))  # fmt: skip
    chosen = sorted(set(originals) | set(others))
    dup_ids = {
        e["patient"] for e in planted if e["kind"] == "duplicate_patient" and e["duplicate_of"] in chosen
    }
    ids = sorted(set(chosen) | dup_ids)
    id_list = ", ".join(f"'{i}'" for i in ids)
    patients = [
        {"Id": i, "BIRTHDATE": str(b)}
        for i, b in con.execute(
            f"select Id, BIRTHDATE from patients where Id in ({id_list}) order by Id"
        ).fetchall()
    ]
    encounters = [
        {"Id": e, "PATIENT": p}
        for e, p in con.execute(
            f"select Id, PATIENT from encounters where PATIENT in ({id_list}) order by Id"
        ).fetchall()
    ]
    messages: list[str] = []
    fhir: list[dict] = []
    for pid in chosen:
        messages += feed_messages("defects").get(pid, [])
        for path in (folder / "fhir").glob(f"*_{pid}.json"):
            bundle = json.loads(path.read_text(encoding="utf-8"))
            fhir += [e["resource"] for e in bundle["entry"]
                     if e["resource"]["resourceType"] in ("Patient", "Encounter")]  # fmt: skip
    # planted here: one encounter of a clean patient vanishes from the ADT feed, one FHIR birth date is off
    victim = others[0]
    gone = next(e["Id"] for e in encounters if e["PATIENT"] == victim)
    messages = [m for m in messages if f"|{gone}^" not in m]
    shifted = next(r for r in fhir if r["resourceType"] == "Patient" and r["id"] == others[1])
    shifted["birthDate"] = shifted["birthDate"][:8] + ("02" if shifted["birthDate"][8:] == "01" else "01")
    return patients, encounters, messages, fhir


def ref_reconcile(csv_patients, csv_encounters, messages, fhir_resources) -> list[dict]:
    feed_birth: dict[str, str] = {}
    feed_encounters: set[str] = set()
    for message in messages:
        segments = parse_v2(message)
        pid = _segment(segments, "PID")
        pv1 = _segment(segments, "PV1")
        if pid is not None:
            for i in range(1, len(pid.repetitions(3)) + 1):
                if pid.get(3, 5, i) == "PI":
                    feed_birth[pid.get(3, 1, i)] = fhir_datetime(pid.get(7))[:10] if pid.get(7) else ""
        if pv1 is not None and pv1.get(19):
            feed_encounters.add(pv1.get(19))
    fhir_birth = {r["id"]: r.get("birthDate", "") for r in fhir_resources if r["resourceType"] == "Patient"}
    fhir_encounters = {r["id"] for r in fhir_resources if r["resourceType"] == "Encounter"}
    out = []
    for p in csv_patients:
        for source, births in (("feed", feed_birth), ("fhir", fhir_birth)):
            if p["Id"] not in births:
                out.append({"kind": f"patient_not_in_{source}", "id": p["Id"]})
            elif births[p["Id"]] != p["BIRTHDATE"]:
                out.append({"kind": f"birthdate_differs_{source}", "id": p["Id"]})
    for e in csv_encounters:
        for source, known in (("feed", feed_encounters), ("fhir", fhir_encounters)):
            if e["Id"] not in known:
                out.append({"kind": f"encounter_not_in_{source}", "id": e["Id"]})
    return sorted(out, key=lambda d: (d["kind"], d["id"]))


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


def _every_planted_duplicate(reconcile: Any) -> None:
    """Each of the nine planted duplicate patients is reported as missing from the feed."""
    found = {(d["kind"], d["id"]) for d in reconcile(*reconcile_inputs())}
    if sum(kind == "patient_not_in_feed" for kind, _id in found) != 9:
        raise Incorrect(
            f"{q10.title}: every planted duplicate patient of the CSV export is missing from the ADT feed; "
            "report each one as patient_not_in_feed."
        )


q10 = function_question(
    grade_id="lab05_reconcile",
    title="Q10 reconcile the CSV export, the ADT feed and the FHIR bundles",
    points=3,
    name="reconcile",
    parameters=("csv_patients", "csv_encounters", "messages", "fhir_resources"),
    reference=ref_reconcile,
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
    solution_code=RECONCILE_SOLUTION,
    alternatives=(RECONCILE_ALTERNATIVE,),
    wrong=(
        RECONCILE_SOLUTION.replace(
            "feed_birth[seg.get(3, 1, i)] = lab05.fhir_datetime(seg.get(7))[:10]",
            "feed_birth[seg.get(3, 1, i)] = seg.get(7)",
        ),
    ),
)

QUESTIONS = (q1, q2, q3, q4, q6, q7, q8, q9, q10)

__all__ = [
    "QUESTIONS", "Segment", "concept_map", "feed_messages", "fhir_datetime", "hierarchy_sql", "icd10_to_snomed",
    "linkage_patients", "parse_v2", "read_fixture", "reconcile_inputs", "rxnorm_table", "sender_zone",
    "snomed_hierarchy", "unescape",
]  # fmt: skip
