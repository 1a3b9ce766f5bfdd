"""Write a population's encounters as an HL7 v2.5.1 feed, one file per patient.

Layout: ``hl7v2/<patient Id>.hl7`` holds that patient's messages in time order. Segments end with a carriage
return (0x0D) as the standard requires; messages follow one another with nothing between them, each starting
with its ``MSH`` segment (read the file in binary or with ``newline=""`` so the CRs survive).

Messages: ``ADT^A04`` registers every outpatient, emergency and virtual visit, ``ADT^A01`` admits, ``ADT^A03``
discharges (inpatient and emergency visits), ``ADT^A08`` updates the patient (a new address, a death outside
hospital) and ``ORU^R01`` carries lab results (one ``OBR`` per panel, one ``OBX`` per result).
Identifiers: ``PID-3`` repeats the MRN (type ``MR``) and the patient ``Id`` of the CSV and FHIR outputs (type
``PI``), both assigned by ``HITLAB``; ``PV1-19`` is the encounter ``Id`` (type ``VN``).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from hitlab.synth.model import Encounter, Observation, PatientRecord
from hitlab.synth.simulate import END
from hitlab.terminology import ETHNICITY, HL7V2_SYSTEMS, RACE, code

VERSION = "2.5.1"
CHARSET = "UNICODE UTF-8"  # MSH-18, the feed is written in UTF-8
SENDING_APPLICATION = "HITLAB_EHR"
RECEIVING_APPLICATION = "HITLAB_HIE"
AUTHORITY = "HITLAB"

_STRUCTURE = {"A01": "ADT_A01", "A03": "ADT_A03", "A04": "ADT_A01", "A08": "ADT_A01", "R01": "ORU_R01"}
_PATIENT_CLASS = {"inpatient": "I", "emergency": "E"}  # table 0004; every other class is outpatient (O)
_ADMISSION_TYPE = {"emergency": "E", "inpatient": "E", "urgentcare": "U"}  # table 0007; others routine (R)
_ADMIT_SOURCE = {"emergency": "7", "transfer": "4", "referral": "1"}  # table 0023
_DISPOSITION = {"home": "01", "transfer": "02", "expired": "20", "admitted": "09"}  # table 0112
_ALLERGEN_TYPE = {"environment": "EA", "food": "FA", "medication": "DA"}  # table 0127
_SEVERITY = {"MILD": "MI", "MODERATE": "MO", "SEVERE": "SV"}  # table 0128
_MARITAL = {"M": "Married", "S": "Single", "D": "Divorced", "W": "Widowed"}  # table 0002
_SERVICE = {"chest_pain": "CAR", "mi": "CAR", "chf": "CAR", "pneumonia": "PUL", "copd_exacerbation": "PUL",
            "asthma": "PUL", "knee_oa": "SUR"}  # table 0069; others MED  # fmt: skip


def escape(value: str) -> str:
    """Escape HL7 delimiters in a text value (``\\F\\``, ``\\S\\``, ``\\T\\``, ``\\R\\``, ``\\E\\``)."""
    if not any(c in value for c in "|^~\\&"):
        return value
    return (
        value.replace("\\", "\\E\\")
        .replace("|", "\\F\\")
        .replace("^", "\\S\\")
        .replace("&", "\\T\\")
        .replace("~", "\\R\\")
    )


def dtm(value: datetime | date) -> str:
    """HL7 v2 DTM in UTC: ``YYYYMMDDHHMMSS+0000`` (a date alone as ``YYYYMMDD``)."""
    if isinstance(value, datetime):
        v = value
        return f"{v.year:04d}{v.month:02d}{v.day:02d}{v.hour:02d}{v.minute:02d}{v.second:02d}+0000"
    return f"{value.year:04d}{value.month:02d}{value.day:02d}"


def segment(name: str, fields: dict[int, str]) -> str:
    """A segment from its non-empty fields, by position (``PID-5`` is ``fields[5]``)."""
    values = [""] * (max(fields) + 1 if fields else 1)
    values[0] = name
    for position, value in fields.items():
        values[position] = value
    return "|".join(values)


def message(event: str, when: datetime, control_id: str, facility: str, segments: list[str]) -> str:
    kind = "ORU" if event == "R01" else "ADT"
    # MSH-18 declares the feed's character set (HL7 table 0211): empty would mean ASCII, and names such as
    # Zoë or addresses in Québec are not
    msh = "|".join([
        "MSH", "^~\\&", SENDING_APPLICATION, facility, RECEIVING_APPLICATION, AUTHORITY, dtm(when), "",
        f"{kind}^{event}^{_STRUCTURE[event]}", control_id, "P", VERSION, "", "", "", "", "", CHARSET,
    ])  # fmt: skip
    return "\r".join([msh, *segments]) + "\r"


class PatientFeed:
    """The HL7 v2 messages of one patient, in time order."""

    def __init__(self, p: PatientRecord) -> None:
        self.p = p
        self.seq = 0
        self._pid: dict[tuple, str] = {}
        self._pv1: dict[tuple, str] = {}

    def control_id(self) -> str:
        self.seq += 1
        return f"{self.p.mrn}{self.seq:05d}"

    def pid(self, when: datetime) -> str:
        """PID as known at ``when`` (address then current; death fields once dead), built once per state."""
        p = self.p
        a = p.address_on(when.date())
        dead = p.death_time is not None and p.death_time <= when
        key = (id(a), dead)
        if key not in self._pid:
            self._pid[key] = self._build_pid(a, dead)
        return self._pid[key]

    def _build_pid(self, a, dead: bool) -> str:
        p = self.p
        names = f"{escape(p.last)}^{escape(p.first)}^{escape(p.middle)}^{p.suffix}^{p.prefix}^^L"
        if p.maiden:
            names += f"~{escape(p.maiden)}^{escape(p.first)}^^^^^M"
        race, eth = RACE[p.race], ETHNICITY[p.ethnicity]
        fields = {
            1: "1",
            3: f"{p.mrn}^^^{AUTHORITY}^MR~{p.id}^^^{AUTHORITY}^PI",
            5: names,
            7: dtm(p.birthdate),
            8: p.gender,
            10: f"{race[0]}^{race[1]}^CDCREC",
            11: f"{escape(a.line)}^^{escape(a.town.name)}^MA^{a.zip}^USA^H^^{a.town.fips}",
            13: f"{p.phone}^PRN^PH",
            16: f"{p.marital}^{_MARITAL[p.marital]}^HL70002" if p.marital else "",
            19: p.ssn,
            20: f"{p.drivers}^MA" if p.drivers else "",
            22: f"{eth[0]}^{eth[1]}^CDCREC",
            23: escape(p.birthplace),
            29: dtm(p.death_time) if dead else "",
            30: "Y" if dead else "N",
        }
        return segment("PID", fields)

    def pv1(self, e: Encounter | None, discharge: bool = False) -> str:
        key = (e.id if e else None, discharge)
        if key not in self._pv1:
            self._pv1[key] = self._build_pv1(e, discharge)
        return self._pv1[key]

    @staticmethod
    def _build_pv1(e: Encounter | None, discharge: bool) -> str:
        if e is None:  # an update that belongs to no visit
            return segment("PV1", {1: "1", 2: "N"})
        pr = e.provider
        fac = e.organization.short_name
        reason = e.reason.key.removeprefix("cond.") if e.reason else ""
        if e.encclass == "inpatient":
            location = f"{_SERVICE.get(reason, 'MED')}^{100 + int(e.id[:4], 16) % 400}^{'AB'[int(e.id[4], 16) % 2]}^{fac}"
        elif e.encclass == "emergency":
            location = f"ED^^^{fac}"
        else:
            location = f"CLINIC^^^{fac}"
        fields = {
            1: "1",
            2: _PATIENT_CLASS.get(e.encclass, "O"),
            3: location,
            4: "C" if e.code.key == "enc.elective_admission" else _ADMISSION_TYPE.get(e.encclass, "R"),
            7: f"{pr.npi}^{escape(pr.last)}^{escape(pr.first)}^^^{pr.prefix}^^^NPI^L^^^NPI",
            10: _SERVICE.get(reason, "MED"),
            19: f"{e.id}^^^{AUTHORITY}^VN",
            39: fac,
            44: dtm(e.start),
        }
        if e.admit_source:
            fields[14] = _ADMIT_SOURCE[e.admit_source]
        if discharge:
            if e.disposition:
                fields[36] = _DISPOSITION[e.disposition]
            fields[45] = dtm(e.stop)
        return segment("PV1", fields)

    def dg1(self, e: Encounter, kind: str) -> list[str]:
        if e.reason is None:
            return []
        icd = code(e.reason.key.replace("cond.", "icd.", 1))
        return [
            segment("DG1", {1: "1", 3: f"{icd.code}^{escape(icd.display)}^I10C", 5: dtm(e.start), 6: kind})
        ]

    def al1(self, when: datetime) -> list[str]:
        out = []
        for al in (a for a in self.p.allergies if a.start <= when.date()):
            system = HL7V2_SYSTEMS[al.code.system]
            severity = max((_SEVERITY[s] for _, s in al.reactions), key=("MI", "MO", "SV").index, default="U")
            out.append(segment("AL1", {
                1: str(len(out) + 1), 2: _ALLERGEN_TYPE[al.category],
                3: f"{al.code.code}^{escape(al.code.display)}^{system}", 4: severity,
                5: "~".join(escape(r.display) for r, _ in al.reactions),
            }))  # fmt: skip
        return out

    def adt(self, event: str, when: datetime, e: Encounter | None, extra: list[str], facility: str) -> tuple:
        segments = [segment("EVN", {1: event, 2: dtm(when), 6: dtm(when)}), self.pid(when)]
        segments.append(self.pv1(e, discharge=event == "A03"))
        segments.extend(extra)
        return when, event, facility, segments

    def oru(self, e: Encounter, number: int, results: list[Observation]) -> tuple:
        when = max(o.time for o in results)
        segments = [self.pid(when), self.pv1(e)]
        panels: dict[str, list[Observation]] = {}
        for o in results:
            panels.setdefault((o.panel or o.code).code, []).append(o)
        pr = e.provider
        doctor = f"{pr.npi}^{escape(pr.last)}^{escape(pr.first)}^^^{pr.prefix}^^^NPI^L^^^NPI"
        for n, obs in enumerate(panels.values(), start=1):
            concept = obs[0].panel or obs[0].code
            order = f"{self.p.mrn}-{number:04d}-{n}"
            segments.append(
                segment(
                    "ORC",
                    {
                        1: "RE",
                        2: f"{order}^{SENDING_APPLICATION}",
                        3: f"{order}^HITLAB_LAB",
                        5: "CM",
                        12: doctor,
                    },
                )
            )
            segments.append(segment("OBR", {
                1: str(n), 2: f"{order}^{SENDING_APPLICATION}", 3: f"{order}^HITLAB_LAB",
                4: f"{concept.code}^{escape(concept.display)}^LN", 7: dtm(obs[0].time), 16: doctor,
                22: dtm(when), 25: "F",
            }))  # fmt: skip
            for i, o in enumerate(obs, start=1):
                low, high = o.reference_range or (None, None)
                rng = (
                    f"{low}-{high}"
                    if low is not None and high is not None
                    else (f">{low}" if low is not None else (f"<{high}" if high is not None else ""))
                )
                segments.append(segment("OBX", {
                    1: str(i), 2: "NM", 3: f"{o.code.code}^{escape(o.code.display)}^LN", 5: o.value_text(),
                    6: f"{escape(o.units)}^{escape(o.units)}^UCUM", 7: rng, 8: o.interpretation() or "", 11: "F",
                    14: dtm(o.time),
                }))  # fmt: skip
        return when, "R01", e.organization.short_name, segments

    def messages(self) -> list[str]:
        p = self.p
        # (time, order within the same instant, event, facility, segments): at one instant a discharge goes
        # first (an ED visit ends as the admission begins), then registrations, results, updates.
        events: list[tuple] = []

        def add(item: tuple, order: int) -> None:
            when, event, facility, segments = item
            events.append((when, order, event, facility, segments))

        labs: dict[str, list[Observation]] = {}
        for o in p.observations:
            if o.category == "laboratory":
                labs.setdefault(o.encounter.id, []).append(o)
        for number, e in enumerate(p.encounters, start=1):
            fac = e.organization.short_name
            if e.encclass == "inpatient":
                add(self.adt("A01", e.start, e, self.al1(e.start) + self.dg1(e, "A"), fac), 1)
            else:
                add(self.adt("A04", e.start, e, self.al1(e.start) + self.dg1(e, "A"), fac), 1)
            if e.encclass in ("inpatient", "emergency") and e.stop < END:
                add(self.adt("A03", e.stop, e, self.dg1(e, "F"), fac), 0)
            if e.id in labs:
                add(self.oru(e, number, labs[e.id]), 2)
        clinic = p.encounters[0].organization.short_name if p.encounters else AUTHORITY
        for a in p.addresses[1:]:
            when = datetime(a.since.year, a.since.month, a.since.day, 15, 0, 0)
            add(self.adt("A08", when, None, [], clinic), 3)
        if p.death_time is not None and not any(e.disposition == "expired" for e in p.encounters):
            add(self.adt("A08", p.death_time, None, [], clinic), 3)
        events.sort(key=lambda ev: (ev[0], ev[1]))
        return [message(event, when, self.control_id(), fac, segs) for when, _o, event, fac, segs in events]


def patient_messages(p: PatientRecord) -> list[str]:
    """Every HL7 v2 message of one patient, in the order they are sent."""
    return PatientFeed(p).messages()


def read_messages(path: str | Path) -> list[str]:
    """Split a feed file written by :class:`Hl7v2Writer` into messages (segments joined by CR)."""
    data = Path(path).read_bytes().decode("utf-8")
    out: list[str] = []
    for seg in data.split("\r"):
        if not seg:
            continue
        if seg.startswith("MSH|") or not out:
            out.append(seg + "\r")
        else:
            out[-1] += seg + "\r"
    return out


class Hl7v2Writer:
    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.count = 0
        out_dir.mkdir(parents=True, exist_ok=True)

    def write(self, p: PatientRecord) -> None:
        msgs = patient_messages(p)
        with open(self.out_dir / f"{p.id}.hl7", "w", encoding="utf-8", newline="") as f:
            f.write("".join(msgs))
        self.count += len(msgs)

    def close(self) -> None:
        pass

    def counts(self) -> dict[str, int]:
        return {"hl7v2_messages": self.count}
