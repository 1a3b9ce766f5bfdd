"""What lab 03's exercises work on, for the learner and the checks alike: the receiving interface's tables
(versions, events, processing ids, MSH-18 character sets, HL7 table 0357), the real messages in
``hitlab/labdata/lab03`` (see its ``SOURCES.md``), the workbook's own HL7 v2.5.1 feed, the dataset's result
tables, and helpers that alter a message (set a field, drop segments) or build one (an A40 merge, an MLLP
stream). Nothing here knows an answer.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from hitlab.hl7.er7 import component, field, first, segments, unescape

FIXTURES = Path(__file__).resolve().parents[2] / "labdata" / "lab03"
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


_WRAPPERS = (b"FHS", b"BHS", b"BTS", b"FTS")


def fixture_message(name: str) -> str:
    """The message of a fixture file as text, decoded by its MSH-18 (the batch's one message; no byte-order
    mark; segments ending in CR). The one file whose MSH lacks a required field (MSH-10) is plain ASCII, read
    as it is."""
    raw = fixture_bytes(name)
    lines = [s for s in re.split(rb"\r\n|\n|\r", raw.removeprefix(b"\xef\xbb\xbf")) if s.strip()]
    lines = [s for s in lines if s[:3] not in _WRAPPERS]
    starts = [i for i, s in enumerate(lines) if s[:3] == b"MSH"]
    if starts and starts[0] == 0 and lines[0].startswith(b"MSH|^~\\&"):
        head = segments(lines[0].decode("latin-1"))[0]
        charset = field(head, 18).split("~")[0]
        required = component(field(head, 9), 1) and field(head, 10) and component(field(head, 12), 1)
        if charset in CHARSETS and required:
            end = starts[1] if len(starts) > 1 else len(lines)
            try:
                return (b"\r".join(lines[:end]) + b"\r").decode(CHARSETS[charset])
            except UnicodeDecodeError:
                pass
    return raw.decode("utf-8-sig")


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
