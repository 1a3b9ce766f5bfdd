"""Checks of lab 03, HL7 v2 messaging: parsing ADT (identifiers, visit, escapes), building ORU^R01, ACKs,
MLLP framing and a loopback socket exchange, routing and de-duplication, an A40 merge and robust intake.

Every exercise is a function the learner writes; the check calls it on messages of the workbook's own HL7 v2.5.1
feed (some altered on purpose) and on the real messages of other projects in ``hitlab/labdata/lab03`` (see its
``SOURCES.md``), and compares with the references here, which read the text with :mod:`hitlab.hl7.er7`
(independently of hl7apy, which the solutions use).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from hitlab.checks.core import Incorrect
from hitlab.checks.function import Case, function_question
from hitlab.hl7 import mllp
from hitlab.hl7.er7 import component, escape, field, first, segments, unescape

FIXTURES = Path(__file__).resolve().parents[1] / "labdata" / "lab03"
BATCH = "pyhl7_batch_BHS_BTS_1msg.hl7"

# The receiving interface of this lab (an HIE's inbound ADT/lab feed): what ack_code accepts.
SUPPORTED_VERSIONS = ("2.3", "2.3.1", "2.4", "2.5", "2.5.1")
SUPPORTED_EVENTS = {"ADT": ("A01", "A03", "A04", "A08", "A40"), "ORU": ("R01",)}
PROCESSING_IDS = ("P", "T", "D")  # table 0103: production, training, debugging

# MSH-18 (character set, HL7 table 0211) -> Python codec. An empty MSH-18 means HL7's default, 7-bit ASCII;
# "UNICODE UTF-8" is the only Unicode encoding v2.8 allows (and the one to use in earlier versions too).
CHARSETS = {
    "": "ascii", "ASCII": "ascii", "UNICODE UTF-8": "utf-8",
    **{f"8859/{n}": f"iso8859_{n}" for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 15)},
}  # fmt: skip

# HL7 table 0357, message error condition codes (the ones an ACK of this lab may carry).
TABLE_0357 = {
    "100": "Segment sequence error",
    "101": "Required field missing",
    "102": "Data type error",
    "103": "Table value not found",
    "200": "Unsupported message type",
    "201": "Unsupported event code",
    "202": "Unsupported processing id",
    "203": "Unsupported version id",
    "204": "Unknown key identifier",
    "205": "Duplicate key identifier",
    "206": "Application record locked",
    "207": "Application internal error",
}


# -- data: fixtures and the workbook's feed -------------------------------------------------------------------


def fixture_names() -> list[str]:
    return sorted(p.name for p in FIXTURES.glob("*.hl7"))


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_message(name: str) -> str:
    """The message of a fixture file as text, decoded by its MSH-18 (the batch's one message; no byte-order
    mark). The one file that intake refuses (no MSH-10) is plain ASCII."""
    try:
        return intake(fixture_bytes(name))[0]
    except ValueError:
        return fixture_bytes(name).decode("utf-8-sig")


def fixture_messages() -> dict[str, str]:
    """Every fixture holding one message (the batch unwrapped), by file name."""
    return {name: fixture_message(name) for name in fixture_names()}


@cache
def feed() -> tuple[str, ...]:
    """Messages of the first 30 patients' files of the default dataset's HL7 v2 feed (built if missing)."""
    from hitlab.data import connect, dataset_dir
    from hitlab.synth.hl7v2_writer import read_messages

    connect().close()  # builds the dataset on first use, as every lab does; read-only afterwards
    files = sorted((dataset_dir() / "hl7v2").glob("*.hl7"))[:30]
    return tuple(m for f in files for m in read_messages(f))


def pick(kind: str, n: int) -> list[str]:
    """``n`` feed messages whose MSH-9 starts with ``kind`` (e.g. ``ADT^A01``), spread over the feed."""
    found = [m for m in feed() if field(segments(m)[0], 9).startswith(kind)]
    step = max(1, len(found) // n)
    return found[::step][:n]


def replace_field(message: str, seg_name: str, n: int, value: str) -> str:
    """``message`` with field ``n`` of its first ``seg_name`` segment set to ``value`` (raw text)."""
    out, done = [], False
    for seg in segments(message):
        if seg[0] == seg_name and not done:
            seg = seg + [""] * (n + 1 - len(seg))
            seg[n] = value
            done = True
        out.append(_join(seg))
    return "\r".join(out) + "\r"


def _join(seg: list[str]) -> str:
    return "|".join([seg[0], *seg[2:]]) if seg[0] == "MSH" else "|".join(seg)


def drop_segments(message: str, name: str) -> str:
    return "\r".join(_join(s) for s in segments(message) if s[0] != name) + "\r"


def _msh(message: str) -> list[str]:
    segs = segments(message)
    if not segs or segs[0][0] != "MSH":
        raise ValueError("the message does not start with an MSH segment")
    return segs[0]


def _type(msh: list[str]) -> tuple[str, str]:
    return component(field(msh, 9), 1), component(field(msh, 9), 2)


def _cases(items: list[tuple[str, tuple]]) -> list[Case]:
    return [Case(label, args) for label, args in items]


# -- Q1 patient identifiers ---------------------------------------------------------------------------------


def patient_identifiers(message: str) -> list[dict]:
    """Every PID-3 repetition: ``{"id": CX.1, "authority": CX.4.1, "type": CX.5}``, unescaped."""
    pid = first(segments(message), "PID")
    if pid is None:
        raise ValueError("the message has no PID segment")
    out = []
    for rep in field(pid, 3).split("~"):
        if rep:
            out.append({
                "id": unescape(component(rep, 1)), "authority": unescape(component(rep, 4, 1)),
                "type": unescape(component(rep, 5)),
            })  # fmt: skip
    return out


def _hl7apy_trap_cases() -> list[tuple[str, tuple]]:
    """Messages hl7apy's parse_message refuses although they are readable: a version it has no definitions
    for, and a segment (PRT, new in v2.7) that the declared version does not define."""
    m = pick("ADT^A01", 3)[2]
    prt = "PRT|1|AD||AT^Attending Provider^HL70912|9999999999^Grey^Meredith^^^Dr.^^^NPI^L^^^NPI"
    with_prt = "\r".join(_join(s) + ("\r" + prt if s[0] == "PV1" else "") for s in segments(m)) + "\r"
    return [
        (
            "a feed A01 labelled MSH-12 2.1 (a version hl7apy does not define)",
            (replace_field(m, "MSH", 12, "2.1"),),
        ),
        ("a feed A01 labelled MSH-12 2.9", (replace_field(m, "MSH", 12, "2.9"),)),
        ("a feed A01 (v2.5.1) carrying a PRT segment, which v2.5.1 does not define", (with_prt,)),
    ]


def _identifier_cases() -> list[Case]:
    items = [(f"fixture {n}", (m,)) for n, m in fixture_messages().items()]
    for kind in ("ADT^A01", "ADT^A04", "ADT^A08", "ORU^R01"):
        items += [(f"a {kind} message of the workbook's feed", (m,)) for m in pick(kind, 3)]
    m = pick("ADT^A01", 1)[0]
    items += _hl7apy_trap_cases()
    pid3 = "X-1\\T\\2^^^ST\\S\\JOHN&2.16.840.1.113883.3.1&ISO^MR~~999-12-3456^^^SSA^SS"
    items.append(("a PID-3 with escaped text, an HD with subcomponents and an empty repetition", (replace_field(m, "PID", 3, pid3),)))  # fmt: skip
    return _cases(items)


SOLUTION_Q1 = r"""import re

from hl7apy.parser import parse_segment

ESCAPES = {"F": "|", "S": "^", "T": "&", "R": "~", "E": "\\"}


def unescape(text: str) -> str:
    return re.sub(r"\\([FSTRE])\\", lambda m: ESCAPES[m.group(1)], text)


def patient_identifiers(message: str) -> list[dict]:
    pids = [s for s in message.split("\r") if s.startswith("PID|")]
    if not pids:
        raise ValueError("the message has no PID segment")
    # parse only the PID, with a version hl7apy knows: parse_message fails on the whole message when MSH-12
    # names a version it has no definitions for (2.1, 2.9) or a segment its version lacks (PRT before 2.7)
    pid = parse_segment(pids[0], version="2.5.1")
    out = []
    for cx in pid.pid_3:  # one element per repetition
        if not cx.value:
            continue  # an empty repetition
        # to_er7() gives the text; .value of a leaf can be a datatype object (IS, ST), not a str
        out.append({
            "id": unescape(cx.cx_1.to_er7()),
            "authority": unescape(cx.cx_4.hd_1.to_er7()),  # CX.4 is an HD: its first subcomponent
            "type": unescape(cx.cx_5.to_er7()),
        })
    return out"""

q1 = function_question(
    grade_id="lab03_patient_identifiers",
    title="Q1 patient identifiers (PID-3)",
    points=2,
    name="patient_identifiers",
    parameters=("message",),
    reference=patient_identifiers,
    cases=_identifier_cases,
    hints=(
        "PID-3 repeats (separated by ~); each repetition is a CX: CX.1 the identifier, CX.4 the assigning "
        "authority, CX.5 the identifier type code (MR, PI, SS, ...).",
        "CX.4 is itself a composite (HD), so its parts are subcomponents separated by &: the authority's name is "
        "the first one (GATEWAY_IL in GATEWAY_IL&1.3.6.1...&ISO).",
        "hl7apy returns text still escaped: unescape \\T\\ \\S\\ \\F\\ \\R\\ \\E\\ yourself, in one pass.",
    ),
    solution_code=SOLUTION_Q1,
    wrong=(
        SOLUTION_Q1.replace(
            "unescape(cx.cx_4.hd_1.to_er7()),  # CX.4 is an HD: its first subcomponent", "cx.cx_4.to_er7(),"
        ),
    ),
    alternatives=(
        r"""def patient_identifiers(message):
    import re
    esc = {"F": "|", "S": "^", "T": "&", "R": "~", "E": "\\"}
    un = lambda t: re.sub(r"\\([FSTRE])\\", lambda m: esc[m.group(1)], t)
    pid = next((s for s in message.split("\r") if s.startswith("PID|")), None)
    if pid is None:
        raise ValueError("no PID")
    fields = pid.split("|") + [""] * 4
    out = []
    for rep in filter(None, fields[3].split("~")):
        c = rep.split("^") + [""] * 5
        out.append({"id": un(c[0]), "authority": un(c[3].split("&")[0]), "type": un(c[4])})
    return out""",
    ),
)


# -- Q2 admission summary ------------------------------------------------------------------------------------


def admission_summary(message: str) -> dict:
    """Patient class, attending doctor, admit time and visit description of an ADT message."""
    segs = segments(message)
    msh = _msh(message)
    if _type(msh)[0] != "ADT":
        raise ValueError(f"not an ADT message: MSH-9 is {field(msh, 9)!r}")
    pv1 = first(segs, "PV1")
    if pv1 is None:
        raise ValueError("the message has no PV1 segment")
    doctor = field(pv1, 7).split("~")[0]
    return {
        "patient_class": unescape(field(pv1, 2)),
        "attending_id": unescape(component(doctor, 1)),
        "attending_family": unescape(component(doctor, 2, 1)),
        "attending_given": unescape(component(doctor, 3)),
        "admitted": component(field(pv1, 44), 1),
        "visit_description": unescape(field(first(segs, "PV2"), 12)),
    }


ESCAPED_TEXT = "Fall at home \\T\\ hip pain\\R\\seen in ED \\F\\ triage \\S\\ 2 (see C:\\E\\notes)"


def _admission_cases() -> list[Case]:
    items = [(f"fixture {n}", (m,)) for n, m in fixture_messages().items()]
    for kind in ("ADT^A01", "ADT^A03", "ADT^A04", "ADT^A08", "ORU^R01"):
        items += [(f"a {kind} message of the workbook's feed", (m,)) for m in pick(kind, 3)]
    m = pick("ADT^A01", 2)[1]
    with_pv2 = (
        "\r".join(
            _join(s) + ("\rPV2|||||||||||" + ESCAPED_TEXT if s[0] == "PV1" else "") for s in segments(m)
        )
        + "\r"
    )
    items.append(("a feed A01 with a PV2-12 holding every escape sequence", (with_pv2,)))
    doctor = "9999999999^O\\T\\Neill-Smith&Van^Ann\\S\\Marie^^^Dr.^^^NPI^L^^^NPI"
    items.append(("an attending doctor with escapes and a family-name subcomponent", (replace_field(m, "PV1", 7, doctor),)))  # fmt: skip
    items.append(("a feed A01 without PV1", (drop_segments(m, "PV1"),)))
    items += _hl7apy_trap_cases()
    return _cases(items)


SOLUTION_Q2 = r"""import re

from hl7apy.parser import parse_segment

ESCAPES = {"F": "|", "S": "^", "T": "&", "R": "~", "E": "\\"}


def unescape(text: str) -> str:
    return re.sub(r"\\([FSTRE])\\", lambda m: ESCAPES[m.group(1)], text)


def admission_summary(message: str) -> dict:
    texts = [s for s in message.split("\r") if s]
    if not texts or not texts[0].startswith("MSH|") or (texts[0].split("|") + [""] * 9)[8].split("^")[0] != "ADT":
        raise ValueError("not an ADT message (MSH-9.1)")
    # the first PV1 and PV2 as text; parse just those, with a version hl7apy knows (parse_message refuses
    # the whole message for an MSH-12 it has no definitions for, or a segment unknown in that version)
    found = {}
    for text in texts:
        found.setdefault(text[:3], text)
    if "PV1" not in found:
        raise ValueError("the message has no PV1 segment")
    pv1 = parse_segment(found["PV1"], version="2.5.1")
    doctor = pv1.pv1_7[0] if pv1.pv1_7 else None
    return {
        "patient_class": unescape(pv1.pv1_2.to_er7()),
        "attending_id": unescape(doctor.xcn_1.to_er7()) if doctor else "",
        "attending_family": unescape(doctor.xcn_2.to_er7().split("&")[0]) if doctor else "",
        "attending_given": unescape(doctor.xcn_3.to_er7()) if doctor else "",
        "admitted": pv1.pv1_44.to_er7().split("^")[0],
        "visit_description": unescape(parse_segment(found["PV2"], version="2.5.1").pv2_12.to_er7())
        if "PV2" in found
        else "",
    }"""

q2 = function_question(
    grade_id="lab03_admission_summary",
    title="Q2 admission summary (PV1, PV2)",
    points=3,
    name="admission_summary",
    parameters=("message",),
    reference=admission_summary,
    cases=_admission_cases,
    hints=(
        "PV1-2 is the patient class, PV1-7 the attending doctor (an XCN: ID, family name, given name, ...), "
        "PV1-44 the admit date/time, PV2-12 the visit description.",
        "XCN.2 is a composite too (FN): the surname is its first subcomponent, before any &.",
        "Refuse what is not ADT (MSH-9.1) or has no PV1 with ValueError; a missing PV2 gives an empty "
        "description. Unescape every text value.",
    ),
    solution_code=SOLUTION_Q2,
    wrong=(
        SOLUTION_Q2.replace(
            'unescape(parse_segment(found["PV2"], version="2.5.1").pv2_12.to_er7())',
            'parse_segment(found["PV2"], version="2.5.1").pv2_12.to_er7()',
        ),
    ),
    alternatives=(
        r"""def admission_summary(message):
    import re
    esc = {"F": "|", "S": "^", "T": "&", "R": "~", "E": "\\"}
    un = lambda t: re.sub(r"\\([FSTRE])\\", lambda m: esc[m.group(1)], t)
    segs = {}
    for s in message.split("\r"):
        if s:
            segs.setdefault(s[:3], s.split("|") + [""] * 50)
    if segs["MSH"][8].split("^")[0] != "ADT":
        raise ValueError("not ADT")
    if "PV1" not in segs:
        raise ValueError("no PV1")
    pv1 = segs["PV1"]
    doc = pv1[7].split("~")[0].split("^") + [""] * 3
    return {"patient_class": un(pv1[2]), "attending_id": un(doc[0]), "attending_family": un(doc[1].split("&")[0]),
            "attending_given": un(doc[2]), "admitted": pv1[44].split("^")[0],
            "visit_description": un(segs["PV2"][12]) if "PV2" in segs else ""}""",
    ),
)


# -- Q3 build an ORU^R01 ------------------------------------------------------------------------------------


def make_oru(results: list[dict], patient_id: str, control_id: str) -> str:
    """An ORU^R01 (v2.5.1) with one OBR and one OBX per result row."""
    if not results:
        raise ValueError("no results: an ORU^R01 needs at least one OBX")
    now = datetime.now(UTC).strftime("%Y%m%d%H%M%S+0000")
    first_code = results[0]
    segs = [
        f"MSH|^~\\&|HITLAB_LAB|HITLAB|HITLAB_EHR|HITLAB|{now}||ORU^R01^ORU_R01|{escape(control_id)}|P|2.5.1",
        f"PID|1||{escape(patient_id)}^^^HITLAB^PI",
        f"OBR|1|||{escape(first_code['code'])}^{escape(first_code['display'])}^LN",
    ]
    for i, r in enumerate(results, start=1):
        if r["type"] == "numeric":
            try:
                float(r["value"])
            except (TypeError, ValueError):
                raise ValueError(f"result {i}: {r['value']!r} is not a number (OBX-2 NM)") from None
            value_type = "NM"
        else:
            value_type = "ST"
        units = f"{escape(r['units'])}^^UCUM" if r.get("units") else ""  # UCUM: HL7 table 0396
        segs.append(
            f"OBX|{i}|{value_type}|{escape(r['code'])}^{escape(r['display'])}^LN||{escape(str(r['value']))}"
            f"|{units}|||||F"
        )
    return "\r".join(segs) + "\r"


# The TS time of v2.5.1: YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ] (precision shown by the digits given).
_MSH7 = re.compile(r"\d{4}(\d{2}(\d{2}(\d{2}(\d{2}(\d{2}(\.\d{1,4})?)?)?)?)?)?([+-]\d{4})?")


def oru_view(message: str) -> dict:
    """What the ORU check compares: the fields that matter, unescaped. MSH-7 and OBR-4 are required in v2.5.1
    (any valid value passes: a TS date/time; a code with its coding system)."""
    segs = segments(message)
    if not segs or segs[0][0] != "MSH":
        raise Incorrect("it does not start with an MSH segment (segments end with \\r)")
    msh, pid, obr = segs[0], first(segs, "PID"), first(segs, "OBR")
    names = [s[0] for s in segs]
    view: dict[str, Any] = {
        "MSH-7 (date/time of the message, a valid TS)": bool(_MSH7.fullmatch(component(field(msh, 7)))),
        "MSH-9": field(msh, 9), "MSH-10": field(msh, 10), "MSH-11": field(msh, 11), "MSH-12": field(msh, 12),
        "PID-3.1": unescape(component(field(pid, 3), 1)),
        "OBR-4 (universal service identifier: a code and its coding system)": bool(
            component(field(obr, 4), 1) and component(field(obr, 4), 3)
        ),
        "the number of OBR segments": names.count("OBR"),
        "the OBR comes before the OBX segments": "OBR" in names and "OBX" in names and names.index("OBR") < names.index("OBX"),
    }  # fmt: skip
    for k, obx in enumerate((s for s in segs if s[0] == "OBX"), start=1):
        for label, value in (
            ("OBX-1", field(obx, 1)), ("OBX-2", field(obx, 2)), ("OBX-3.1", component(field(obx, 3), 1)),
            ("OBX-3.2", component(field(obx, 3), 2)), ("OBX-3.3", component(field(obx, 3), 3)),
            ("OBX-5", field(obx, 5)), ("OBX-6.1", component(field(obx, 6), 1)),
            ("OBX-6.3", component(field(obx, 6), 3)), ("OBX-11", field(obx, 11)),
        ):  # fmt: skip
            view[f"OBX {k}: {label}"] = unescape(value)
    return view


def _compare_views(view: Callable[[str], dict]) -> Callable[[Any, Any, Case, str], None]:
    def compare(got: Any, expected: Any, case: Case, title: str) -> None:
        if not isinstance(got, str):
            raise Incorrect(
                f"{title}: for {case.label}, return the message as a str, not {type(got).__name__}."
            )
        mine, ref = view(got), view(expected)
        n_got = sum(1 for k in mine if k.endswith(": OBX-1"))
        n_ref = sum(1 for k in ref if k.endswith(": OBX-1"))
        if n_got != n_ref:
            raise Incorrect(f"{title}: for {case.label}, your message has {n_got} OBX segments, not {n_ref}.")
        for key, value in ref.items():
            if mine.get(key) != value:
                raise Incorrect(f"{title}: for {case.label}, {key} is {mine.get(key)!r}, which is not right.")

    return compare


def results_rows(limit_encounters: int = 6) -> list[list[dict]]:
    """Result tables from the dataset's observations: the labs of a few encounters, and smoking statuses."""
    from hitlab.data import connect

    con = connect()
    sql = """
        select ENCOUNTER, CODE, DESCRIPTION, VALUE, UNITS, TYPE from observations
        where ENCOUNTER in (select ENCOUNTER from observations where CATEGORY = 'laboratory'
                            group by ENCOUNTER having count(*) >= 3 order by ENCOUNTER limit ?)
          and CATEGORY = 'laboratory'
        order by ENCOUNTER, CODE
    """
    tables: dict[str, list[dict]] = {}
    for enc, code, display, value, units, kind in con.execute(sql, [limit_encounters]).fetchall():
        tables.setdefault(enc, []).append({"code": code, "display": display, "value": value, "units": units, "type": kind})  # fmt: skip
    text = con.execute(
        "select CODE, DESCRIPTION, VALUE, UNITS, TYPE from observations where TYPE = 'text' order by DATE, PATIENT limit 2"
    ).fetchall()
    con.close()
    out = list(tables.values())
    out.append([{"code": c, "display": d, "value": v, "units": u, "type": t} for c, d, v, u, t in text])
    return out


def _oru_cases() -> list[Case]:
    items = []
    for i, rows in enumerate(results_rows()):
        kinds = "text" if rows[0]["type"] == "text" else "lab"
        items.append((f"{kinds} results table {i + 1} from the dataset's observations", (rows, f"PAT{i:04d}", f"CTRL{i:04d}")))  # fmt: skip
    tricky = [
        {"code": "8302-2", "display": "Body height", "value": "172.4", "units": "cm", "type": "numeric"},
        {"code": "72166-2", "display": "Tobacco smoking status", "value": "Former smoker | quit 2019 & vapes ^ daily~", "units": None, "type": "text"},
    ]  # fmt: skip
    items.append(("results whose text holds | ^ & ~ (they must be escaped)", (tricky, "a|b", "C-1")))
    bad = [{"code": "2345-7", "display": "Glucose", "value": "high", "units": "mg/dL", "type": "numeric"}]
    items.append(("a numeric result whose value is not a number", (bad, "P1", "C2")))
    items.append(("an empty results table", ([], "P1", "C3")))
    return _cases(items)


SOLUTION_Q3 = r'''from datetime import UTC, datetime

from hl7apy.core import Message


def make_oru(results: list[dict], patient_id: str, control_id: str) -> str:
    if not results:
        raise ValueError("an ORU^R01 needs at least one result")
    msg = Message("ORU_R01", version="2.5.1")
    msg.msh.msh_3 = "HITLAB_LAB"
    msg.msh.msh_5 = "HITLAB_EHR"
    msg.msh.msh_7 = datetime.now(UTC).strftime("%Y%m%d%H%M%S+0000")
    msg.msh.msh_9 = "ORU^R01^ORU_R01"
    msg.msh.msh_10 = control_id
    msg.msh.msh_11 = "P"
    group = msg.oru_r01_patient_result.oru_r01_patient
    group.pid.pid_1 = "1"
    group.pid.pid_3.cx_1 = patient_id
    group.pid.pid_3.cx_4 = "HITLAB"
    group.pid.pid_3.cx_5 = "PI"
    order = msg.oru_r01_patient_result.oru_r01_order_observation
    order.obr.obr_1 = "1"
    order.obr.obr_4 = f"{results[0]['code']}^^LN"  # OBR-4 is required: what was ordered, here the first test
    for i, r in enumerate(results, start=1):
        numeric = r["type"] == "numeric"
        if numeric:
            float(r["value"])  # NM must be a number: float() raises ValueError otherwise
        obs = order.add_group("ORU_R01_OBSERVATION")
        obx = obs.obx
        obx.obx_1 = str(i)
        obx.obx_2 = "NM" if numeric else "ST"
        obx.obx_3.ce_1 = r["code"]
        obx.obx_3.ce_2 = r["display"]
        obx.obx_3.ce_3 = "LN"
        obx.obx_5 = str(r["value"])
        if r.get("units"):
            obx.obx_6.ce_1 = r["units"]
            obx.obx_6.ce_3 = "UCUM"  # the units' coding system (HL7 table 0396)
        obx.obx_11 = "F"
    # hl7apy escapes | ^ & ~ \ in values assigned to leaf components when it writes the message
    return msg.to_er7() + "\r"'''

ALTERNATIVE_Q3 = r"""def make_oru(results, patient_id, control_id):
    def esc(t):
        t = str(t).replace("\\", "\\E\\")
        for c, e in (("|", "F"), ("^", "S"), ("&", "T"), ("~", "R")):
            t = t.replace(c, f"\\{e}\\")
        return t
    if not results:
        raise ValueError("empty")
    segs = [f"MSH|^~\\&|LAB|HOSP|EHR|HOSP|202501011200-0500||ORU^R01^ORU_R01|{esc(control_id)}|P|2.5.1",
            f"PID|1||{esc(patient_id)}^^^HITLAB^PI", "OBR|1|||24323-8^Comprehensive metabolic panel^LN|||20250101120000"]
    for i, r in enumerate(results, 1):
        if r["type"] == "numeric":
            float(r["value"])
        vt = "NM" if r["type"] == "numeric" else "ST"
        units = f"{esc(r['units'])}^{esc(r['units'])}^UCUM" if r["units"] else ""
        segs.append(f"OBX|{i}|{vt}|{esc(r['code'])}^{esc(r['display'])}^LN||{esc(r['value'])}|{units}|||||F")
    return "\r".join(segs)"""

q3 = function_question(
    grade_id="lab03_make_oru",
    title="Q3 build an ORU^R01",
    points=3,
    name="make_oru",
    parameters=("results", "patient_id", "control_id"),
    reference=make_oru,
    cases=_oru_cases,
    compare=_compare_views(oru_view),
    hints=(
        "Segments MSH, PID, OBR, then one OBX per row; join them with \\r. MSH-9 is ORU^R01^ORU_R01.",
        "OBX-2 says how to read OBX-5: NM for a number (TYPE numeric), ST for a short string. OBX-3 is "
        "code^display^LN (LN = LOINC), OBX-6 unit^^UCUM (the unit, then its coding system in the third "
        "component), OBX-11 the result status (F = final).",
        "v2.5.1 requires MSH-7 (when the message was created, e.g. 20250301120500+0000) and OBR-4 (what was "
        "ordered, code^text^coding system): leave either out and a strict receiver answers AE.",
        "Escape | ^ & ~ \\ in text (\\F\\ \\S\\ \\T\\ \\R\\ \\E\\, the backslash first); a numeric value that is "
        "not a number, or an empty table, is a ValueError.",
    ),
    solution_code=SOLUTION_Q3,
    wrong=(
        SOLUTION_Q3.replace('obx.obx_2 = "NM" if numeric else "ST"', 'obx.obx_2 = "NM"'),
        ALTERNATIVE_Q3.replace("|202501011200-0500||", "|||"),  # hl7apy fills MSH-7 itself: write by hand
        SOLUTION_Q3.replace("    order.obr.obr_4 = f\"{results[0]['code']}^^LN\"", "    pass"),
        SOLUTION_Q3.replace('            obx.obx_6.ce_3 = "UCUM"', "            pass"),
    ),
    alternatives=(ALTERNATIVE_Q3,),
)


# -- Q4 ACK messages ----------------------------------------------------------------------------------------


def _ack(message: str, code: str, error: str | None, when: str) -> str:
    if code not in ("AA", "AE", "AR"):
        raise ValueError(f"MSA-1 must be AA, AE or AR in original mode, not {code!r}")
    if code == "AA" and error is not None:
        raise ValueError("an AA carries no error")
    if code != "AA" and error not in TABLE_0357:
        raise ValueError(f"an {code} needs an error code of table 0357, got {error!r}")
    msh = _msh(message)
    if _type(msh)[0] == "ACK":
        raise ValueError("the message is itself an ACK: an acknowledgment is consumed, never acknowledged")
    event = component(field(msh, 9), 2)
    control = field(msh, 10)
    head = ["MSH", "^~\\&", field(msh, 5), field(msh, 6), field(msh, 3), field(msh, 4), when, "",
            f"ACK^{event}^ACK", f"ACK{control}", field(msh, 11), field(msh, 12)]  # fmt: skip
    segs = ["|".join(head), f"MSA|{code}|{control}"]
    if error is not None:
        segs.append(f"ERR|||{error}^{TABLE_0357[error]}^HL70357|E")
    return "\r".join(segs) + "\r"


def make_ack(message: str, code: str, error: str | None = None) -> str:
    """An original-mode ACK of ``message``: MSA-1 ``code``, MSA-2 its MSH-10, an ERR when AE/AR."""
    return _ack(message, code, error, datetime.now(UTC).strftime("%Y%m%d%H%M%S+0000"))


def ack_view(message: str) -> dict:
    segs = segments(message)
    if not segs or segs[0][0] != "MSH":
        raise Incorrect("it does not start with an MSH segment (segments end with \\r)")
    msh, msa, err = segs[0], first(segs, "MSA"), first(segs, "ERR")
    return {
        **{f"MSH-{n}": field(msh, n) for n in (3, 4, 5, 6, 9, 11, 12)},
        "MSH-10 (filled in)": bool(field(msh, 10)),
        "the MSA segment (present)": msa is not None, "MSA-1": field(msa, 1), "MSA-2": field(msa, 2),
        "the ERR segment (present)": err is not None, "ERR-3.1": component(field(err, 3), 1),
        "ERR-3.3": component(field(err, 3), 3), "ERR-4": field(err, 4),
    }  # fmt: skip


def _ack_cases() -> list[Case]:
    items = []
    for kind in ("ADT^A01", "ADT^A03", "ADT^A04", "ADT^A08", "ORU^R01"):
        m = pick(kind, 1)[0]
        items += [(f"a feed {kind}, code {c} {e or ''}".strip(), (m, c, e)) for c, e in (("AA", None), ("AE", "101"), ("AR", "203"))]  # fmt: skip
    for name, m in fixture_messages().items():
        if field(segments(m)[0], 10):
            items.append((f"fixture {name}, code AA", (m, "AA", None)))
            items.append((f"fixture {name}, code AR 200", (m, "AR", "200")))
    m = pick("ADT^A01", 1)[0]
    items += [
        ("an AA acknowledgment of a feed A01 (never acknowledged)", (listener_ack(m), "AA", None)),
        (
            "an AR acknowledgment of a feed A01, asked for AR 200",
            (_ack(m, "AR", "203", "20250301120000"), "AR", "200"),
        ),
        ("code CA (an enhanced-mode code)", (m, "CA", None)),
        ("code AE without an error code", (m, "AE", None)),
        ("code AE with an error code not in table 0357", (m, "AE", "999")),
        ("a text that is not an HL7 message", ("hello", "AA", None)),
    ]
    return _cases(items)


SOLUTION_Q4 = r'''from datetime import UTC, datetime

ERRORS = {"100": "Segment sequence error", "101": "Required field missing", "102": "Data type error",
          "103": "Table value not found", "200": "Unsupported message type", "201": "Unsupported event code",
          "202": "Unsupported processing id", "203": "Unsupported version id", "204": "Unknown key identifier",
          "205": "Duplicate key identifier", "206": "Application record locked", "207": "Application internal error"}


def make_ack(message: str, code: str, error: str | None = None) -> str:
    if code not in ("AA", "AE", "AR"):
        raise ValueError(f"unknown acknowledgment code {code!r}")
    if (code == "AA") != (error is None) or (error is not None and error not in ERRORS):
        raise ValueError("AA takes no error; AE and AR need a code of table 0357")
    if not message.startswith("MSH|"):
        raise ValueError("not an HL7 v2 message")
    msh = message.split("\r")[0].split("|")
    msh = ["MSH", "|", *msh[1:]] + [""] * 12  # so that msh[n] is MSH-n
    if msh[9].split("^")[0] == "ACK":
        raise ValueError("an ACK is never acknowledged (that would loop forever)")
    event = msh[9].split("^")[1] if "^" in msh[9] else ""
    now = datetime.now(UTC).strftime("%Y%m%d%H%M%S+0000")
    header = "|".join(["MSH", msh[2], msh[5], msh[6], msh[3], msh[4], now, "", f"ACK^{event}^ACK",
                       "ACK" + msh[10], msh[11], msh[12]])
    segments = [header, f"MSA|{code}|{msh[10]}"]
    if error is not None:
        segments.append(f"ERR|||{error}^{ERRORS[error]}^HL70357|E")
    return "\r".join(segments) + "\r"'''

q4 = function_question(
    grade_id="lab03_make_ack",
    title="Q4 ACK messages",
    points=3,
    name="make_ack",
    parameters=("message", "code", "error"),
    reference=make_ack,
    cases=_ack_cases,
    compare=_compare_views(ack_view),
    hints=(
        "An ACK goes back to the sender: its MSH-3/4 are the original MSH-5/6 and its MSH-5/6 the original "
        "MSH-3/4. MSH-9 is ACK^<the original trigger event>^ACK; MSH-11 and MSH-12 copy the original's.",
        "MSA-1 is the code, MSA-2 the original MSH-10: that is how the sender matches the ACK to its message.",
        "With AE or AR add ERR|||<code>^<text>^HL70357|E (ERR-3 the table 0357 code, ERR-4 the severity). "
        "An ACK (MSH-9.1 ACK) is never acknowledged: raise ValueError.",
    ),
    solution_code=SOLUTION_Q4,
    wrong=(
        SOLUTION_Q4.replace(
            'header = "|".join(["MSH", msh[2], msh[5], msh[6], msh[3], msh[4],',
            'header = "|".join(["MSH", msh[2], msh[3], msh[4], msh[5], msh[6],',
        ),
    ),
    alternatives=(
        r"""from hitlab.hl7.er7 import segments as _segs


def make_ack(message, code, error=None):
    table = {"100", "101", "102", "103", "200", "201", "202", "203", "204", "205", "206", "207"}
    if code not in {"AA", "AE", "AR"} or (code == "AA" and error) or (code != "AA" and error not in table):
        raise ValueError("bad code or error")
    segs = _segs(message)
    if not segs or segs[0][0] != "MSH":
        raise ValueError("no MSH")
    f = segs[0] + [""] * 13
    if f[9].startswith("ACK"):
        raise ValueError("no ACK of an ACK")
    out = [f"MSH|^~\\&|{f[5]}|{f[6]}|{f[3]}|{f[4]}|20250101||ACK^{f[9].split('^')[1]}^ACK|A1|{f[11]}|{f[12]}",
           f"MSA|{code}|{f[10]}"]
    if code != "AA":
        out.append(f"ERR|||{error}^^HL70357|E")
    return "\r".join(out)""",
    ),
)


# -- Q5 which acknowledgment code ---------------------------------------------------------------------------


def ack_reason(message: str) -> tuple[str | None, str | None, str]:
    """``(code, table 0357 error, why)`` this lab's receiver answers ``message`` with; code None: no answer."""
    segs = segments(message)
    if not segs or segs[0][0] != "MSH" or not message.startswith("MSH|^~\\&|"):
        return "AR", "207", "the message does not start with a standard MSH segment"
    msh = segs[0]
    kind, event = _type(msh)
    if kind == "ACK":
        return None, None, "an acknowledgment is consumed, never answered (an ACK of an ACK would loop)"
    if not field(msh, 10):
        return "AR", "101", "MSH-10 (message control ID) is empty"
    processing = component(field(msh, 11), 1)
    if processing not in PROCESSING_IDS:
        return "AR", "202", f"MSH-11 processing ID {processing!r} is not P, T or D"
    version = component(field(msh, 12), 1)
    if version not in SUPPORTED_VERSIONS:
        return "AR", "203", f"version {version!r} (MSH-12) is not supported"
    if kind not in SUPPORTED_EVENTS:
        return "AR", "200", f"message type {kind!r} is not supported"
    if event not in SUPPORTED_EVENTS[kind]:
        return "AR", "201", f"event {kind}^{event} is not supported"
    pid = first(segs, "PID")
    if pid is None or not any(component(rep, 1) not in ("", '""') for rep in field(pid, 3).split("~")):
        return "AE", "101", "PID-3 (patient identifier list) is missing"
    if kind == "ORU" and first(segs, "OBX") is None:
        return "AE", "100", "an ORU^R01 without any OBX"
    if kind == "ADT" and event == "A40" and first(segs, "MRG") is None:
        return "AE", "100", "an A40 without its MRG segment"
    if kind == "ADT" and event != "A40" and first(segs, "PV1") is None:
        return "AE", "100", f"an {event} without its PV1 segment"
    return "AA", None, "accepted"


def ack_code(message: str) -> str | None:
    """AA, AE or AR for ``message``, or None for an acknowledgment, which gets no answer (see :func:`ack_reason`)."""
    return ack_reason(message)[0]


def _ack_code_cases() -> list[Case]:
    items = [(f"fixture {n}", (m,)) for n, m in fixture_messages().items()]
    for kind in ("ADT^A01", "ADT^A03", "ADT^A04", "ADT^A08", "ORU^R01"):
        items += [(f"a feed {kind}", (m,)) for m in pick(kind, 2)]
    a01, oru = pick("ADT^A01", 1)[0], pick("ORU^R01", 1)[0]
    items += [
        ("a feed A01 whose PID-3 is empty", (replace_field(a01, "PID", 3, ""),)),
        ("a feed A01 whose PID-3 is an explicit null", (replace_field(a01, "PID", 3, '""'),)),
        ("a feed A01 without PID", (drop_segments(a01, "PID"),)),
        ("a feed A01 without PV1", (drop_segments(a01, "PV1"),)),
        ("a feed ORU^R01 without OBX", (drop_segments(oru, "OBX"),)),
        ("a feed A01 with MSH-12 2.6", (replace_field(a01, "MSH", 12, "2.6"),)),
        ("a feed A01 with MSH-12 2.3", (replace_field(a01, "MSH", 12, "2.3"),)),
        ("a feed A01 with no MSH-12", (replace_field(a01, "MSH", 12, ""),)),
        ("a feed A01 with MSH-11 X", (replace_field(a01, "MSH", 11, "X"),)),
        ("a feed A01 with MSH-11 T", (replace_field(a01, "MSH", 11, "T"),)),
        ("a feed A01 with no MSH-10", (replace_field(a01, "MSH", 10, ""),)),
        ("a feed A01 sent as ADT^A02", (replace_field(a01, "MSH", 9, "ADT^A02^ADT_A02"),)),
        ("a feed A01 sent as ADT^A40 (no MRG)", (replace_field(a01, "MSH", 9, "ADT^A40^ADT_A39"),)),
        ("a feed A01 sent as SIU^S12", (replace_field(a01, "MSH", 9, "SIU^S12^SIU_S12"),)),
        ("a message that starts with EVN", (a01[a01.index("\rEVN") + 1 :],)),
        ("an empty string", ("",)),
        ("an AA acknowledgment of a feed A01", (listener_ack(a01),)),
        (
            "an AE acknowledgment of a feed ORU^R01, version 2.6",
            (replace_field(_ack(oru, "AE", "101", "2025"), "MSH", 12, "2.6"),),
        ),
    ]
    return _cases(items)


SOLUTION_Q5 = r'''def ack_code(message: str) -> str | None:
    segments = [s.split("|") for s in message.split("\r") if s]
    if not segments or segments[0][0] != "MSH" or not message.startswith("MSH|^~\\&|"):
        return "AR"
    msh = ["MSH", "|", *segments[0][1:]] + [""] * 12  # msh[n] is MSH-n
    kind, _, rest = msh[9].partition("^")
    event = rest.split("^")[0]
    if kind == "ACK":
        return None  # an acknowledgment is consumed: answering it would start an endless exchange
    supported = {"ADT": {"A01", "A03", "A04", "A08", "A40"}, "ORU": {"R01"}}
    if (
        not msh[10]
        or msh[11].split("^")[0] not in {"P", "T", "D"}
        or msh[12].split("^")[0] not in {"2.3", "2.3.1", "2.4", "2.5", "2.5.1"}
        or event not in supported.get(kind, ())
    ):
        return "AR"  # the header: the receiver cannot or will not take this kind of message
    names = [s[0] for s in segments]
    pid = next((s for s in segments if s[0] == "PID"), None)
    ids = (pid + [""] * 4)[3].split("~") if pid else []
    if not any(rep.split("^")[0] not in ("", '""') for rep in ids):
        return "AE"  # required PID-3 missing
    needed = {"ORU": "OBX"}.get(kind) or ("MRG" if event == "A40" else "PV1")
    if needed not in names:
        return "AE"
    return "AA"'''

q5 = function_question(
    grade_id="lab03_ack_code",
    title="Q5 AA, AE or AR",
    points=3,
    name="ack_code",
    parameters=("message",),
    reference=ack_code,
    cases=_ack_code_cases,
    hints=(
        "AR is about the envelope: MSH itself, MSH-9 (type and event), MSH-10, MSH-11, MSH-12. AE is about the "
        "content once the envelope is acceptable. Check in the order of the rules in the prompt.",
        'Compare only the first component of MSH-11 and MSH-12 (both are composites); an explicit null "" '
        "in PID-3 counts as missing.",
        "The required segment after PID depends on the message: OBX for ORU^R01, MRG for A40, PV1 for other ADT.",
        "An ACK (MSH-9.1 ACK) is never answered, whatever else is wrong with it: return None for it, right after "
        "the MSH check.",
    ),
    solution_code=SOLUTION_Q5,
    wrong=(
        SOLUTION_Q5.replace(
            '        or msh[12].split("^")[0] not in {"2.3", "2.3.1", "2.4", "2.5", "2.5.1"}\n', ""
        ),
    ),
    alternatives=(
        r'''from hitlab.checks.lab03 import SUPPORTED_VERSIONS as _V


def ack_code(message):
    from hitlab.hl7.er7 import component, field, first, segments
    segs = segments(message)
    if not message.startswith("MSH|^~\\&|"):
        return "AR"
    msh = segs[0]
    kind, event = component(field(msh, 9), 1), component(field(msh, 9), 2)
    if kind == "ACK":
        return None
    ok_event = event in {"ADT": ("A01", "A03", "A04", "A08", "A40"), "ORU": ("R01",)}.get(kind, ())
    if not (field(msh, 10) and component(field(msh, 11)) in "PTD" and component(field(msh, 11)) and
            component(field(msh, 12)) in _V and ok_event):
        return "AR"
    pid = first(segs, "PID")
    if pid is None or all(component(r) in ("", '""') for r in field(pid, 3).split("~")):
        return "AE"
    need = "OBX" if kind == "ORU" else "MRG" if event == "A40" else "PV1"
    return "AA" if first(segs, need) else "AE"''',
    ),
)


# -- Q6 and Q7 MLLP framing ---------------------------------------------------------------------------------


def _encode_cases() -> list[Case]:
    # MLLP carries the message's bytes in its MSH-18 character set; this lab frames UTF-8 (and so ASCII), so the
    # fixtures declaring another set (the Latin-1 one) are left out here
    utf8 = {
        n: m
        for n, m in fixture_messages().items()
        if field(segments(m)[0], 18) in ("", "ASCII", "UNICODE UTF-8")
    }
    items = [(f"fixture {n}", (m,)) for n, m in list(utf8.items())[:6]]
    items += [("a feed ORU^R01", (pick("ORU^R01", 1)[0],)), ("a feed ADT^A01", (pick("ADT^A01", 1)[0],))]
    a01 = pick("ADT^A01", 1)[0]
    items.append(("a message with non-ASCII text (UTF-8)", (replace_field(a01, "PID", 5, "Müller^Zoë"),)))
    items.append(("a message holding a 0x0B byte", ("MSH|^~\\&|A|B\x0b|C\r",)))
    items.append(("a message holding a 0x1C byte", ("MSH|^~\\&|A|B\x1c|C\r",)))
    return _cases(items)


SOLUTION_Q6 = r'''def mllp_encode(message: str) -> bytes:
    data = message.encode("utf-8")
    if b"\x0b" in data or b"\x1c" in data:
        raise ValueError("the message contains an MLLP framing byte")
    return b"\x0b" + data + b"\x1c\r"'''

q6 = function_question(
    grade_id="lab03_mllp_encode",
    title="Q6 MLLP encode",
    points=1,
    name="mllp_encode",
    parameters=("message",),
    reference=mllp.encode,
    cases=_encode_cases,
    hints=(
        "Start block 0x0B, the message as UTF-8 bytes, end block 0x1C then 0x0D.",
        "A message that contains 0x0B or 0x1C cannot be framed unambiguously: raise ValueError.",
    ),
    solution_code=SOLUTION_Q6,
    wrong=(SOLUTION_Q6.replace('b"\\x1c\\r"', 'b"\\x1c"'),),
    alternatives=(
        r"""def mllp_encode(message):
    if any(c in message for c in "\x0b\x1c"):
        raise ValueError("framing byte inside")
    return bytes([0x0B]) + bytes(message, "utf-8") + bytes([0x1C, 0x0D])""",
    ),
)


def stream(messages: list[str]) -> bytes:
    return b"".join(mllp.encode(m) for m in messages)


def _frames_cases() -> list[Case]:
    msgs = [pick("ADT^A01", 1)[0], pick("ORU^R01", 1)[0], fixture_message("pyhl7_ACK_A01_AA.hl7")]
    data = stream(msgs)
    first_end = data.index(mllp.END_BLOCK) + 2
    items = [
        ("one framed message", (mllp.encode(msgs[0]),)),
        ("three messages in one buffer", (data,)),
        ("an empty buffer", (b"",)),
        ("a lone start block", (b"\x0b",)),
        ("garbage before the first start block", (b"HELLO\r\n" + data,)),
        ("garbage between two frames", (mllp.encode(msgs[0]) + b"\r\n\x00junk" + mllp.encode(msgs[1]),)),
        ("only garbage, no start block", (b"MSH|^~\\&|no framing\r",)),
        ("a buffer cut between 0x1C and 0x0D", (data[: first_end - 1],)),
        ("a buffer cut just after the first message", (data[:first_end],)),
        ("a buffer cut one byte into the second message", (data[: first_end + 1],)),
    ]
    for cut in range(1, len(data), 397):
        items.append((f"the three-message stream cut after {cut} bytes", (data[:cut],)))
    return _cases(items)


def _compare_frames(got: Any, expected: Any, case: Case, title: str) -> None:
    if not (isinstance(got, tuple | list) and len(got) == 2):
        raise Incorrect(f"{title}: for {case.label}, return a tuple (messages, remainder).")
    messages, rest = got
    if not isinstance(messages, list | tuple) or not all(isinstance(m, bytes | bytearray) for m in messages):
        raise Incorrect(f"{title}: for {case.label}, the messages should be a list of bytes.")
    if len(messages) != len(expected[0]):
        raise Incorrect(f"{title}: for {case.label}, you found {len(messages)} complete messages, not {len(expected[0])}.")  # fmt: skip
    for i, (m, e) in enumerate(zip(messages, expected[0], strict=True), start=1):
        if bytes(m) != e:
            raise Incorrect(f"{title}: for {case.label}, message {i} is not right (framing bytes included or cut?).")  # fmt: skip
    if bytes(rest) != expected[1]:
        raise Incorrect(f"{title}: for {case.label}, the remainder {bytes(rest)[:40]!r}... is not right.")


SOLUTION_Q7 = r"""def mllp_frames(buffer: bytes) -> tuple[list[bytes], bytes]:
    messages = []
    pos = 0
    while True:
        start = buffer.find(b"\x0b", pos)
        if start < 0:
            return messages, b""  # no frame begun: whatever is left is garbage
        end = buffer.find(b"\x1c\r", start + 1)
        if end < 0:
            return messages, buffer[start:]  # an unfinished frame: keep it for the next read
        messages.append(buffer[start + 1 : end])
        pos = end + 2"""

q7 = function_question(
    grade_id="lab03_mllp_frames",
    title="Q7 MLLP frames from a byte stream",
    points=2,
    name="mllp_frames",
    parameters=("buffer",),
    reference=mllp.frames,
    cases=_frames_cases,
    compare=_compare_frames,
    hints=(
        "Loop: find the next 0x0B, then the next 0x1C 0x0D after it; the bytes between are one message.",
        "No end block yet: the frame is unfinished; return it from its 0x0B on as the remainder. No start "
        "block at all: the remainder is empty (those bytes are garbage).",
        "A buffer that ends in 0x1C has not ended its frame yet: search for the two bytes 0x1C 0x0D together.",
    ),
    solution_code=SOLUTION_Q7,
    wrong=(SOLUTION_Q7.replace("return messages, buffer[start:]", 'return messages, b""'),),
    alternatives=(
        r"""import re


def mllp_frames(buffer):
    found = [m.group(1) for m in re.finditer(rb"\x0b([^\x0b]*?)\x1c\r", buffer)]
    last_end = buffer.rfind(b"\x1c\r")
    start = buffer.find(b"\x0b", last_end + 2 if last_end >= 0 else 0)
    return found, (buffer[start:] if start >= 0 else b"")""",
    ),
)


# -- Q8 send and receive over a real socket ------------------------------------------------------------------


def listener_ack(message: str) -> str:
    """The loopback listeners' answer: a deterministic AA (MSH-7 copied from the message)."""
    return _ack(message, "AA", None, field(_msh(message), 7))


def _commit_then_ack(message: str) -> list[str]:
    commit = listener_ack(message).replace("MSA|AA|", "MSA|CA|")
    return [commit, listener_ack(message)]


@cache
def _listeners() -> dict[str, mllp.Listener]:
    return {
        "at once": mllp.Listener(lambda m: [listener_ack(m)]),
        "in pieces": mllp.Listener(lambda m: [listener_ack(m)], chunk=7, pause=0.02),
        "two at once": mllp.Listener(_commit_then_ack),
        "silent": mllp.Listener(lambda m: []),
    }


def _socket_cases() -> list[Case]:
    ls = _listeners()
    a01, oru = pick("ADT^A01", 1)[0], pick("ORU^R01", 1)[0]
    big = fixture_message("ms_ORU_R01_NIST_LRI_CBC.hl7")

    def case(label: str, which: str, message: str, timeout: float) -> Case:
        return Case(label, ("127.0.0.1", ls[which].port, message, timeout))

    return [
        case("a listener that answers at once", "at once", a01, 5.0),
        case("a 10 kB message (the NIST CBC ORU) to a listener that answers at once", "at once", big, 5.0),
        case("a listener that answers 7 bytes at a time (the ACK split across reads)", "in pieces", oru, 5.0),
        case("a listener that sends a commit ACK and the ACK in one write", "two at once", a01, 5.0),
        case("a listener that never answers (timeout 0.3 s)", "silent", a01, 0.3),
    ]


SOLUTION_Q8 = r"""from socket import create_connection


def send_and_receive(host: str, port: int, message: str, timeout: float) -> str:
    with create_connection((host, port), timeout=timeout) as sock:  # the timeout applies to every recv
        sock.sendall(b"\x0b" + message.encode("utf-8") + b"\x1c\r")
        buffer = b""
        while True:
            data = sock.recv(4096)  # raises TimeoutError (socket.timeout) after `timeout` seconds of silence
            if not data:
                raise ConnectionError("the listener closed the connection before answering")
            buffer += data
            start = buffer.find(b"\x0b")
            end = buffer.find(b"\x1c\r", start + 1) if start >= 0 else -1
            if end >= 0:
                return buffer[start + 1 : end].decode("utf-8")"""

q8 = function_question(
    grade_id="lab03_send_and_receive",
    title="Q8 MLLP over a socket",
    points=3,
    name="send_and_receive",
    parameters=("host", "port", "message", "timeout"),
    reference=mllp.send_and_receive,
    cases=_socket_cases,
    refuses=TimeoutError,
    call_limit=10,  # a silent listener is one of the cases: a read without timeout must not hang
    hints=(
        "socket.create_connection((host, port), timeout=timeout) gives a socket whose every recv waits at most "
        "`timeout` seconds and then raises TimeoutError (socket.timeout is the same class since Python 3.10).",
        "Send the framed message with sendall, then keep calling recv and appending to a buffer until it holds "
        "a whole frame: one recv can return a piece of the ACK, or more than one message.",
        "Return the first complete message, decoded from UTF-8, without its framing bytes.",
    ),
    solution_code=SOLUTION_Q8,
    wrong=(
        r"""import socket


def send_and_receive(host, port, message, timeout):
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(b"\x0b" + message.encode("utf-8") + b"\x1c\r")
        data = sock.recv(65536)  # one read is not always one message
        return data[1:-2].decode("utf-8")""",
    ),
    alternatives=(
        r"""def send_and_receive(host, port, message, timeout):
    from hitlab.hl7 import mllp
    import socket
    s = socket.socket()
    s.settimeout(timeout)
    try:
        s.connect((host, port))
        s.sendall(mllp.encode(message))
        pending = b""
        while True:
            chunk = s.recv(1)
            if not chunk:
                raise ConnectionError("closed")
            got, pending = mllp.frames(pending + chunk)
            if got:
                return got[0].decode()
    finally:
        s.close()""",
    ),
)


# -- Q9 routing, filtering and de-duplication ---------------------------------------------------------------


def route(messages: list[str]) -> dict[str, list[str]]:
    """Production messages by ``type^event``, as lists of MSH-10 in arrival order, each (MSH-3, MSH-10) once."""
    out: dict[str, list[str]] = {}
    seen: set[tuple[str, str]] = set()
    for message in messages:
        msh = _msh(message)
        if component(field(msh, 11), 1) != "P":
            continue
        key = (component(field(msh, 3), 1), field(msh, 10))
        if key in seen:
            continue
        seen.add(key)
        kind, event = _type(msh)
        out.setdefault(f"{kind}^{event}", []).append(field(msh, 10))
    return out


def _route_cases() -> list[Case]:
    msgs = list(feed()[:60])
    mixed = []
    for i, m in enumerate(msgs):
        if i % 7 == 3:
            m = replace_field(m, "MSH", 11, "T")
        elif i % 11 == 5:
            m = replace_field(m, "MSH", 11, "D^A")
        mixed.append(m)
        if i % 5 == 0:
            mixed.append(m)  # resent (no ACK arrived in time)
    other = replace_field(msgs[2], "MSH", 3, "OTHER_EHR")  # the same control ID from another sender
    fixtures = list(fixture_messages().values())
    items = [
        ("60 production messages of the feed", (msgs,)),
        ("the feed with test (T) and debug (D) messages and resent duplicates", (mixed,)),
        ("a control ID reused by another sending application", ([msgs[2], other, msgs[2]],)),
        (
            "a test message whose control ID a production one reuses",
            ([replace_field(msgs[0], "MSH", 11, "T"), msgs[0]],),
        ),
        ("every fixture message, in file-name order", (fixtures,)),
        ("every fixture message, twice, in reverse order", (fixtures[::-1] * 2,)),
        ("no messages", ([],)),
        ("a list holding a text that is not an HL7 message", ([msgs[0], "hello"],)),
    ]
    return _cases(items)


SOLUTION_Q9 = r"""def route(messages: list[str]) -> dict[str, list[str]]:
    routed: dict[str, list[str]] = {}
    seen = set()
    for message in messages:
        if not message.startswith("MSH"):
            raise ValueError("not an HL7 v2 message")
        msh = ["MSH", "|", *message.split("\r")[0].split("|")[1:]] + [""] * 12  # msh[n] is MSH-n
        if msh[11].split("^")[0] != "P":
            continue  # training and debugging messages go nowhere
        key = (msh[3].split("^")[0], msh[10])  # MSH-10 is unique per sending application
        if key in seen:
            continue
        seen.add(key)
        kind, event = (msh[9].split("^") + [""])[:2]
        routed.setdefault(f"{kind}^{event}", []).append(msh[10])
    return routed"""

q9 = function_question(
    grade_id="lab03_route",
    title="Q9 route, filter and de-duplicate",
    points=2,
    name="route",
    parameters=("messages",),
    reference=route,
    cases=_route_cases,
    hints=(
        "Only MSH-11 = P (its first component) is routed; T and D messages are dropped before anything else.",
        "A sender that resends keeps MSH-10: remember (MSH-3, MSH-10) pairs you have routed and skip repeats.",
        "The key is MSH-9.1 and MSH-9.2 joined by ^ (ADT^A01), without the structure; values are MSH-10s.",
    ),
    solution_code=SOLUTION_Q9,
    wrong=(SOLUTION_Q9.replace("        if key in seen:\n            continue\n", ""),),
    alternatives=(
        r"""def route(messages):
    from hitlab.hl7.er7 import component, field, segments
    out, seen = {}, set()
    for m in messages:
        segs = segments(m)
        if not segs or segs[0][0] != "MSH":
            raise ValueError("bad message")
        h = segs[0]
        if component(field(h, 11)) == "P" and (component(field(h, 3)), field(h, 10)) not in seen:
            seen.add((component(field(h, 3)), field(h, 10)))
            out.setdefault(component(field(h, 9), 1) + "^" + component(field(h, 9), 2), []).append(field(h, 10))
    return out""",
    ),
)


# -- Q10 apply an A40 merge ---------------------------------------------------------------------------------


def apply_merge(patients: dict[str, dict], message: str) -> dict[str, dict]:
    """A copy of ``patients`` (keyed by identifier) with each PID/MRG pair of an A40 (or A34) merged."""
    segs = segments(message)
    kind, event = _type(_msh(message))
    if kind != "ADT" or event not in ("A40", "A34"):
        raise ValueError(f"not a merge message: MSH-9 is {kind}^{event}")
    pairs, pid = [], None
    for seg in segs:
        if seg[0] == "PID":
            pid = seg
        elif seg[0] == "MRG" and pid is not None:
            pairs.append((pid, seg))
            pid = None
    if not pairs:
        raise ValueError("no PID followed by an MRG segment")
    table = copy.deepcopy(patients)
    for pid, mrg in pairs:
        prior_field = field(mrg, 1).split("~")[0]
        prior = unescape(component(prior_field, 1))
        match = (component(prior_field, 4, 1), component(prior_field, 5))
        reps = [r for r in field(pid, 3).split("~") if r]
        chosen = next(
            (r for r in reps if (component(r, 4, 1), component(r, 5)) == match), reps[0] if reps else ""
        )
        survivor = unescape(component(chosen, 1))
        if prior not in table:
            raise ValueError(f"MRG-1 names {prior!r}, which is not in the patient table")
        if not survivor or survivor == prior:
            continue
        record = table.pop(prior)
        if survivor in table:
            kept = table[survivor]
            extra = [e for e in record["encounters"] if e not in kept["encounters"]]
            table[survivor] = {**kept, "encounters": kept["encounters"] + extra}
        else:
            table[survivor] = record
    return table


def _feed_patients(n: int) -> list[tuple[str, str, str, list[str]]]:
    """(MRN, patient Id, name, encounter Ids) of the first ``n`` patients of the feed."""
    people: dict[str, tuple[str, str, list[str]]] = {}
    for m in feed():
        segs = segments(m)
        pid, pv1 = first(segs, "PID"), first(segs, "PV1")
        mrn, pat = component(field(pid, 3), 1), component(field(pid, 3), 1, rep=2)
        name = f"{unescape(component(field(pid, 5), 2))} {unescape(component(field(pid, 5), 1))}"
        entry = people.setdefault(mrn, (pat, name, []))
        visit = component(field(pv1, 19), 1)
        if visit and visit not in entry[2] and len(entry[2]) < 3:
            entry[2].append(visit)
    return [(mrn, pat, name, encs) for mrn, (pat, name, encs) in list(people.items())[:n]]


def merge_message(pairs: list[tuple[str, str, str]], control_id: str, pi_first: bool = False) -> str:
    """An ADT^A40 (v2.5.1) merging, for each (surviving MRN, its patient Id, prior MRN), prior into survivor."""
    segs = [f"MSH|^~\\&|HITLAB_EHR|CCFH|HITLAB_HIE|HITLAB|20250301120000+0000||ADT^A40^ADT_A39|{control_id}|P|2.5.1",
            "EVN|A40|20250301120000+0000"]  # fmt: skip
    for survivor, pat, prior in pairs:
        mr, pi = f"{survivor}^^^HITLAB^MR", f"{pat}^^^HITLAB^PI"
        segs += [f"PID|1||{pi + '~' + mr if pi_first else mr + '~' + pi}", f"MRG|{prior}^^^HITLAB^MR"]
    return "\r".join(segs) + "\r"


def _merge_cases() -> list[Case]:
    people = _feed_patients(6)
    table = {mrn: {"name": name, "encounters": encs} for mrn, _pat, name, encs in people}
    (m1, p1, *_), (m2, p2, *_), (m3, p3, *_), (m4, *_), (m5, *_), _ = people
    items = [
        ("a feed patient merged into another", (table, merge_message([(m1, p1, m2)], "M1"))),
        (
            "a merge into an identifier not yet in the table",
            (table, merge_message([("NEW00001", "new-id", m3)], "M2")),
        ),
        ("PID-3 with the PI repetition first", (table, merge_message([(m3, p3, m4)], "M3", pi_first=True))),
        ("two PID/MRG pairs in one A40", (table, merge_message([(m1, p1, m4), (m2, p2, m5)], "M4"))),
        ("a prior identifier that is not in the table", (table, merge_message([(m1, p1, "00000000")], "M5"))),
        ("an ADT^A01, which merges nothing", (table, pick("ADT^A01", 1)[0])),
    ]
    ms = {"56789": {"name": "Test Test", "encounters": ["V1", "V2"]}, "12345": {"name": "Test Test", "encounters": ["V3", "V1"]}}  # fmt: skip
    items.append(("fixture ms_ADT_A40_merge_v2.8.hl7", (ms, fixture_message("ms_ADT_A40_merge_v2.8.hl7"))))
    a34 = {"5027450": {"name": "BabyGirl Tester", "encounters": ["E1"]}, "151": {"name": "Tiny Bond", "encounters": []}}  # fmt: skip
    items.append(("fixture v2tofhir_ADT_A34_merge_v2.3.hl7", (a34, fixture_message("v2tofhir_ADT_A34_merge_v2.3.hl7"))))  # fmt: skip
    return _cases(items)


SOLUTION_Q10 = r"""import copy


def apply_merge(patients: dict[str, dict], message: str) -> dict:
    segments = [s.split("|") for s in message.split("\r") if s]
    header = segments[0] if segments and segments[0][0] == "MSH" else None
    if header is None or (header + [""] * 9)[8].split("^")[:2] not in (["ADT", "A40"], ["ADT", "A34"]):
        raise ValueError("not an ADT^A40 or ADT^A34 message")
    table = copy.deepcopy(patients)  # never change the caller's table
    pid = None
    merged = 0
    for seg in segments:
        if seg[0] == "PID":
            pid = seg
        elif seg[0] == "MRG" and pid is not None:
            prior = (seg[1].split("~")[0].split("^") + [""] * 5)[:5]
            reps = [(r.split("^") + [""] * 5)[:5] for r in (pid + [""] * 4)[3].split("~") if r]
            # the surviving identifier: same assigning authority and type as the prior one
            same = [r for r in reps if (r[3].split("&")[0], r[4]) == (prior[3].split("&")[0], prior[4])]
            survivor = (same or reps)[0][0]
            if prior[0] not in table:
                raise ValueError(f"unknown prior patient {prior[0]}")
            if survivor != prior[0]:
                record = table.pop(prior[0])
                if survivor in table:
                    kept = table[survivor]
                    more = [e for e in record["encounters"] if e not in kept["encounters"]]
                    table[survivor] = {**kept, "encounters": kept["encounters"] + more}
                else:
                    table[survivor] = record
            merged += 1
            pid = None
    if not merged:
        raise ValueError("no PID/MRG pair to merge")
    return table"""

q10 = function_question(
    grade_id="lab03_apply_merge",
    title="Q10 apply an A40 merge",
    points=2,
    name="apply_merge",
    parameters=("patients", "message"),
    reference=apply_merge,
    cases=_merge_cases,
    hints=(
        "MRG-1 is the prior (losing) identifier; PID-3 holds the surviving one. Each PID is followed by its MRG.",
        "PID-3 can repeat: the survivor is the repetition with the same assigning authority (CX.4) and type "
        "(CX.5) as MRG-1, else the first one.",
        "Move the prior record under the survivor; if the survivor exists, keep its fields and append the prior "
        "encounters it does not have. Work on a copy (copy.deepcopy).",
    ),
    solution_code=SOLUTION_Q10,
    wrong=(SOLUTION_Q10.replace("survivor = (same or reps)[0][0]", "survivor = reps[0][0]"),),
    alternatives=(
        r"""def apply_merge(patients, message):
    from hitlab.hl7.er7 import component, field, segments
    segs = segments(message)
    if not segs or segs[0][0] != "MSH" or field(segs[0], 9).split("^")[:2] not in (["ADT", "A40"], ["ADT", "A34"]):
        raise ValueError("not a merge")
    out = {k: {**v, "encounters": list(v["encounters"])} for k, v in patients.items()}
    done = 0
    for i, s in enumerate(segs):
        if s[0] != "MRG" or segs[i - 1][0] != "PID":
            continue
        m = field(s, 1).split("~")[0]
        reps = [r for r in field(segs[i - 1], 3).split("~") if r]
        key = lambda r: (component(r, 4, 1), component(r, 5))
        surv = component(next((r for r in reps if key(r) == key(m)), reps[0]), 1)
        prior = component(m, 1)
        if prior not in out:
            raise ValueError("unknown prior")
        done += 1
        if surv == prior:
            continue
        rec = out.pop(prior)
        if surv in out:
            out[surv]["encounters"] += [e for e in rec["encounters"] if e not in out[surv]["encounters"]]
        else:
            out[surv] = rec
    if not done:
        raise ValueError("nothing to merge")
    return out""",
    ),
)


# -- Q11 robust intake --------------------------------------------------------------------------------------

_WRAPPERS = ("FHS", "BHS", "BTS", "FTS")


def intake(raw: bytes) -> list[str]:
    """The messages in ``raw`` (one, several, or a batch), each decoded by its own MSH-18 and normalized to
    CR-terminated text; or ValueError naming the problem."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]  # a UTF-8 byte-order mark: a file artifact, not part of any message
    # CR, LF, the delimiters and the MSH fields up to MSH-18 are the same bytes in ASCII, ISO 8859 and UTF-8:
    # split first, then decode each message with the character set its own MSH-18 declares
    lines = [s for s in re.split(rb"\r\n|\n|\r", raw) if s.strip()]
    if not lines:
        raise ValueError("no HL7 v2 message in the input")
    messages: list[list[bytes]] = []
    in_batch, batch_count = False, 0
    for n, line in enumerate(lines, start=1):
        name = line[:3].decode("latin-1")
        if name == "BHS":
            in_batch, batch_count = True, 0
        elif name == "BTS":
            declared = line.split(b"|")[1].decode("latin-1") if b"|" in line else ""
            if declared and declared.isdigit() and int(declared) != batch_count:
                raise ValueError(f"BTS-1 says {declared} messages but the batch holds {batch_count}")
            in_batch = False
        elif name in _WRAPPERS:
            continue
        elif name == "MSH":
            messages.append([line])
            batch_count += in_batch
        elif not messages:
            raise ValueError(f"segment {n} is {name!r}: a message must start with MSH")
        else:
            messages[-1].append(line)
    out = []
    for i, segs in enumerate(messages, start=1):
        head = segs[0].decode("latin-1")
        if not head.startswith("MSH|^~\\&"):
            raise ValueError(f"message {i}: MSH-1/MSH-2 are not the standard delimiters |^~\\&")
        charset = field(segments(head)[0], 18).split("~")[0]  # the first repetition: the message's default
        if charset not in CHARSETS:
            raise ValueError(f"message {i}: MSH-18 character set {charset!r} is not supported")
        data = b"\r".join(segs) + b"\r"
        try:
            text = data.decode(CHARSETS[charset])
        except UnicodeDecodeError as err:
            what = f"MSH-18 {charset!r}" if charset else "ASCII, HL7's default when MSH-18 is empty"
            raise ValueError(
                f"message {i}: byte 0x{data[err.start]:02X} at {err.start} is not {what}"
            ) from None
        msh = segments(text)[0]
        if not component(field(msh, 9), 1):
            raise ValueError(f"message {i}: MSH-9 (message type) is empty")
        if not field(msh, 10):
            raise ValueError(f"message {i}: MSH-10 (message control ID) is empty")
        if not component(field(msh, 12), 1):
            raise ValueError(f"message {i}: MSH-12 (version ID) is empty")
        out.append(text)
    return out


def latin1(message: str, charset: str) -> bytes:
    """``message`` with PID-5 holding accented letters and MSH-18 ``charset``, written as ISO 8859-1 bytes."""
    return replace_field(replace_field(message, "PID", 5, "Lefèvre^Mélodie"), "MSH", 18, charset).encode(
        "latin-1"
    )


def _intake_cases() -> list[Case]:
    items = [(f"fixture file {n}", (fixture_bytes(n),)) for n in fixture_names()]
    msgs = list(feed()[:5])
    joined = "".join(msgs)
    nih = fixture_bytes("ms_ORU_R01_NIST_LRI_CBC.hl7")
    batch = "FHS|^~\\&|HITLAB_EHR\rBHS|^~\\&|HITLAB_EHR\r" + joined + "BTS|5\rFTS|1\r"
    utf8 = replace_field(replace_field(msgs[2], "PID", 5, "Müller^Zoë"), "MSH", 18, "UNICODE UTF-8")
    items += [
        ("five feed messages, CR as the standard says", (joined.encode(),)),
        ("five feed messages with CRLF terminators", (joined.replace("\r", "\r\n").encode(),)),
        (
            "five feed messages with LF terminators and a final blank line",
            ((joined.replace("\r", "\n") + "\n\n").encode(),),
        ),
        ("the NIST ORU (byte-order mark) with LF terminators", (nih.replace(b"\r", b"\n"),)),
        (
            "the quoted-nulls ADT with CRLF",
            (fixture_bytes("pyhl7_ADT_A01_v2.3_quoted_nulls.hl7").replace(b"\r", b"\r\n"),),
        ),
        ("a FHS/BHS/BTS/FTS batch of five feed messages", (batch.encode(),)),
        ("a batch whose BTS-1 count is wrong", (batch.replace("BTS|5", "BTS|4").encode(),)),
        ("a feed message without MSH-12", (replace_field(msgs[0], "MSH", 12, "").encode(),)),
        ("a feed message without MSH-9", (replace_field(msgs[0], "MSH", 9, "").encode(),)),
        ("empty input", (b"",)),
        ("only a byte-order mark and blank lines", (b"\xef\xbb\xbf\r\n\r\n",)),
        ("text that starts with PID", (msgs[0][msgs[0].index("PID|") :].encode(),)),
        ("Latin-1 bytes with an empty MSH-18 (HL7's default is ASCII)", (latin1(msgs[0], ""),)),
        ("Latin-1 bytes declared by MSH-18 8859/1", (latin1(msgs[0], "8859/1"),)),
        ("Latin-1 bytes under MSH-18 UNICODE UTF-8 (a lie)", (latin1(msgs[0], "UNICODE UTF-8"),)),
        ("UTF-8 text declared by MSH-18 UNICODE UTF-8", (utf8.encode("utf-8"),)),
        ("UTF-8 text with an empty MSH-18", (replace_field(utf8, "MSH", 18, "").encode("utf-8"),)),
        (
            "MSH-18 ISO IR87 (Japanese, not supported here)",
            (replace_field(msgs[0], "MSH", 18, "ISO IR87").encode(),),
        ),
        (
            "two messages, ISO 8859-1 then UTF-8, each per its MSH-18",
            (latin1(msgs[1], "8859/1") + utf8.encode(),),
        ),
    ]
    return _cases(items)


SOLUTION_Q11 = r"""import re

# MSH-18 (HL7 table 0211) -> Python codec; empty means HL7's default, 7-bit ASCII
CHARSETS = {"": "ascii", "ASCII": "ascii", "UNICODE UTF-8": "utf-8",
            **{f"8859/{n}": f"iso8859_{n}" for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 15)}}


def intake(raw: bytes) -> list[str]:
    raw = raw.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte-order mark belongs to the file, not the message
    # split the bytes first: CR, LF, | and the MSH fields are the same bytes in ASCII, 8859 and UTF-8
    lines = [s for s in re.split(rb"\r\n|\n|\r", raw) if s.strip()]
    messages, count = [], None
    for line in lines:
        name = line[:3]
        if name == b"BHS":
            count = 0
        elif name == b"BTS":
            declared = (line.split(b"|") + [b""])[1]
            if declared.isdigit() and int(declared) != count:
                raise ValueError(f"BTS-1 says {int(declared)} messages, the batch has {count}")
            count = None
        elif name in (b"FHS", b"FTS"):
            continue
        elif name == b"MSH":
            messages.append([line])
            if count is not None:
                count += 1
        elif messages:
            messages[-1].append(line)
        else:
            raise ValueError(f"the input starts with {name!r}, not MSH")
    if not messages:
        raise ValueError("no HL7 v2 message in the input")
    out = []
    for i, segs in enumerate(messages, 1):
        if not segs[0].startswith(b"MSH|^~\\&"):
            raise ValueError(f"message {i}: not the standard delimiters")
        header = ["MSH", "|", *segs[0].decode("latin-1").split("|")[1:]] + [""] * 19  # header[n] is MSH-n
        charset = header[18].split("~")[0]
        if charset not in CHARSETS:
            raise ValueError(f"message {i}: MSH-18 {charset!r} is not a character set this receiver reads")
        try:
            text = b"\r".join(segs).decode(CHARSETS[charset]) + "\r"
        except UnicodeDecodeError as err:
            raise ValueError(f"message {i}: not {charset or 'ASCII (MSH-18 is empty)'}: {err}") from None
        msh = ["MSH", "|", *text.split("\r")[0].split("|")[1:]] + [""] * 12
        for n, what in ((9, "message type"), (10, "message control ID"), (12, "version ID")):
            if not msh[n].split("^")[0]:
                raise ValueError(f"message {i}: MSH-{n} ({what}) is empty")
        out.append(text)  # "" (explicit null) is data: leave it alone
    return out"""

q11 = function_question(
    grade_id="lab03_intake",
    title="Q11 robust intake",
    points=3,
    name="intake",
    parameters=("raw",),
    reference=intake,
    cases=_intake_cases,
    hints=(
        "Work on bytes until you know the character set: drop a UTF-8 byte-order mark, split segments on "
        "\\r\\n, \\n or \\r (the same bytes in every character set here) and drop blank ones.",
        "Drop FHS, BHS, BTS and FTS; a new MSH starts a new message. Check BTS-1 (the batch's message count) "
        "when it is given. Then decode each message by its own MSH-18: empty or ASCII -> 'ascii', 8859/1 -> "
        "'latin-1', UNICODE UTF-8 -> 'utf-8'.",
        "Reject with ValueError, naming the field: no message at all, text before the first MSH, non-standard "
        "delimiters, an MSH-18 you cannot read or bytes it does not allow, empty MSH-9, MSH-10 or MSH-12. Keep "
        "\"\" as it is: it means 'delete this value'.",
    ),
    solution_code=SOLUTION_Q11,
    wrong=(
        SOLUTION_Q11.replace(
            'text = b"\\r".join(segs).decode(CHARSETS[charset])', 'text = b"\\r".join(segs).decode("utf-8")'
        ),
    ),
    alternatives=(
        r"""def intake(raw):
    from hitlab.hl7.er7 import component, field, segments
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    segs = [s for s in raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n") if s.strip()]
    msgs, in_batch = [], None
    for s in segs:
        tag = s[:3]
        if tag in (b"FHS", b"FTS"):
            continue
        if tag == b"BHS":
            in_batch = 0
        elif tag == b"BTS":
            n = s.split(b"|")[1] if b"|" in s else b""
            if n.isdigit() and int(n) != in_batch:
                raise ValueError("BTS-1 count mismatch")
            in_batch = None
        elif tag == b"MSH":
            msgs.append([s])
            in_batch = None if in_batch is None else in_batch + 1
        elif not msgs:
            raise ValueError("does not start with MSH")
        else:
            msgs[-1].append(s)
    if not msgs:
        raise ValueError("empty")
    codecs = {"": "ascii", "ASCII": "ascii", "8859/1": "latin-1", "UNICODE UTF-8": "utf-8"}
    out = []
    for m in msgs:
        cs = field(segments(m[0].decode("latin-1"))[0], 18)
        if cs not in codecs:
            raise ValueError(f"MSH-18 {cs} unsupported")
        try:
            text = "\r".join(s.decode(codecs[cs]) for s in m) + "\r"
        except UnicodeDecodeError:
            raise ValueError("bytes outside MSH-18's character set") from None
        h = segments(text)[0]
        if not text.startswith("MSH|^~\\&") or not all(component(field(h, n)) for n in (9, 10, 12)):
            raise ValueError("MSH-9, MSH-10 or MSH-12 missing, or odd delimiters")
        out.append(text)
    return out""",
    ),
)

QUESTIONS = (q1, q2, q3, q4, q5, q6, q7, q8, q9, q10, q11)
