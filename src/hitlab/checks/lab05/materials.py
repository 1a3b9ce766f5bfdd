"""What lab 05's exercises work on, for the learner and the checks alike: an HL7 v2 parser (:func:`parse_v2`,
:class:`Segment`), the v2 date/time to FHIR conversion (:func:`fhir_datetime`, :func:`sender_zone`), the real
messages of ``labdata/lab05`` (:func:`read_fixture`), the generated feed (:func:`feed_messages`), and the authored
tables: ConceptMaps, the ICD-10-CM → SNOMED CT map, the SNOMED CT is-a edges, the RxNorm excerpt; the patients a
matcher links and the inputs of the reconciliation. Nothing here knows an answer.
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
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hitlab.checks.sql import connection

DATA = Path(__file__).resolve().parents[2] / "labdata" / "lab05"
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


def _segment(segments: list[Segment], name: str) -> Segment | None:
    return next((s for s in segments if s.name == name), None)


@cache
def feed_messages(dataset: str = "default") -> dict[str, list[str]]:
    """Every message of the generated HL7 v2 feed, by patient ``Id`` (the file name)."""
    from hitlab.data import dataset_dir
    from hitlab.synth.hl7v2_writer import read_messages

    folder = dataset_dir(dataset) / "hl7v2"
    return {p.stem: read_messages(p) for p in sorted(folder.glob("*.hl7"))}


# -- the authored terminology tables -------------------------------------------------------------------------


@cache
def concept_map(name: str) -> dict:
    """An authored R4 ConceptMap from ``labdata/lab05`` (``v2-0001-to-gender`` or ``v2-0004-to-encounter-class``)."""
    return json.loads((DATA / f"conceptmap-{name}.json").read_text(encoding="utf-8"))


@cache
def icd10_to_snomed() -> tuple[dict, ...]:
    """The authored map rows: ``source`` (ICD-10-CM), ``target`` (SNOMED CT or ``""``), ``equivalence``."""
    with open(DATA / "icd10cm-to-snomed.csv", encoding="utf-8", newline="") as f:
        return tuple({k: r[k] for k in ("source", "target", "equivalence")} for r in csv.DictReader(f))


@cache
def snomed_hierarchy() -> tuple[tuple[str, str], ...]:
    """The authored is-a edges ``(child, parent)`` over SNOMED CT concepts the dataset uses."""
    with open(DATA / "snomed-isa.csv", encoding="utf-8", newline="") as f:
        return tuple((r["child"], r["parent"]) for r in csv.DictReader(f))


HEART_DISEASE = "56265001"


def hierarchy_sql() -> str:
    """The is-a edges as a SQL ``VALUES`` table ``snomed_isa(child, parent)`` for DuckDB."""
    rows = ", ".join(f"('{c}', '{p}')" for c, p in snomed_hierarchy())
    return f"(values {rows}) as snomed_isa(child, parent)"


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


# -- record linkage and reconciliation: the patients and the sources ----------------------------------------


LINKAGE_COLUMNS = ("Id", "FIRST", "LAST", "BIRTHDATE", "GENDER", "SSN", "ADDRESS", "ZIP")
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
