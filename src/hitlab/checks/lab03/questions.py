"""Lab 03's questions, as data: what each asks, its points, hints, the cases its check runs and how it compares.
The expected results come from ``reference.py`` and the worked answers from ``answers.py``, both imported only
when needed, so that an exam release can leave them out.

| Q  | grade id                  | pts | asks for                                                                   |
|----|---------------------------|-----|----------------------------------------------------------------------------|
| 1  | lab03_patient_identifiers | 2   | `patient_identifiers(message)`: every PID-3 repetition, unescaped          |
| 2  | lab03_admission_summary   | 3   | `admission_summary(message)`: PV1 class, attending, admit time, PV2-12     |
| 3  | lab03_make_oru            | 3   | `make_oru(results, patient_id, control_id)`: an ORU^R01 v2.5.1             |
| 4  | lab03_make_ack            | 3   | `make_ack(message, code, error)`: an original-mode ACK with MSA and ERR    |
| 5  | lab03_ack_code            | 3   | `ack_code(message)`: AA, AE or AR (None for an ACK) by the receiver's rules |
| 6  | lab03_mllp_encode         | 1   | `mllp_encode(message)`: the MLLP frame of a message                        |
| 7  | lab03_mllp_frames         | 2   | `mllp_frames(buffer)`: complete frames and the remainder of a byte stream  |
| 8  | lab03_send_and_receive    | 3   | `send_and_receive(host, port, message, timeout)`: MLLP over a socket       |
| 9  | lab03_route               | 2   | `route(messages)`: production messages by type^event, duplicates dropped   |
| 10 | lab03_apply_merge         | 2   | `apply_merge(patients, message)`: each PID/MRG pair of an A40 (or A34)     |
| 11 | lab03_intake              | 3   | `intake(raw)`: the messages in bytes, by MSH-18, or ValueError             |

Q12 (written, 3 points, `lab03_diagnose_ar`) is graded by hand; its rubric is in the notebook.

Every exercise is a function the learner writes; the check calls it on messages of the workbook's own HL7 v2.5.1
feed (some altered on purpose) and on the real messages of other projects in ``hitlab/labdata/lab03``, and
compares with the reference's results on the same cases.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any

from hitlab.checks.core import AnswerKey, Incorrect, reference_of
from hitlab.checks.function import Case, function_question
from hitlab.checks.lab03.materials import (
    _feed_patients,
    _join,
    drop_segments,
    feed,
    fixture_bytes,
    fixture_message,
    fixture_messages,
    fixture_names,
    merge_message,
    pick,
    replace_field,
    results_rows,
)
from hitlab.hl7.er7 import component, field, first, segments, unescape

_answers = AnswerKey("hitlab.checks.lab03")  # left out of an exam release
_key, _keys = _answers.source, _answers.sources


def _ref():
    """The reference implementations (absent from an exam release: the grader's install has them)."""
    return reference_of("hitlab.checks.lab03")


def _mllp():
    """The workbook's MLLP module, Q6-Q8's reference (absent from an exam release, like ``_ref``)."""
    from hitlab.hl7 import mllp

    return mllp


def _cases(items: list[tuple[str, tuple]]) -> list[Case]:
    return [Case(label, args) for label, args in items]


# -- Q1 patient identifiers -------------------------------------------------------------------------------------


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


q1 = function_question(
    grade_id="lab03_patient_identifiers",
    title="Q1 patient identifiers (PID-3)",
    points=2,
    name="patient_identifiers",
    parameters=("message",),
    reference=lambda *args: _ref().patient_identifiers(*args),
    cases=_identifier_cases,
    hints=(
        "PID-3 repeats (separated by ~); each repetition is a CX: CX.1 the identifier, CX.4 the assigning "
        "authority, CX.5 the identifier type code (MR, PI, SS, ...).",
        "CX.4 is itself a composite (HD), so its parts are subcomponents separated by &: the authority's name is "
        "the first one (GATEWAY_IL in GATEWAY_IL&1.3.6.1...&ISO).",
        "hl7apy returns text still escaped: unescape \\T\\ \\S\\ \\F\\ \\R\\ \\E\\ yourself, in one pass.",
    ),
    solution_code=_key("SOLUTION_Q1"),
    wrong=_keys("WRONG_Q1"),
    alternatives=_keys("ALTERNATIVES_Q1"),
)


# -- Q2 admission summary ---------------------------------------------------------------------------------------


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


q2 = function_question(
    grade_id="lab03_admission_summary",
    title="Q2 admission summary (PV1, PV2)",
    points=3,
    name="admission_summary",
    parameters=("message",),
    reference=lambda *args: _ref().admission_summary(*args),
    cases=_admission_cases,
    hints=(
        "PV1-2 is the patient class, PV1-7 the attending doctor (an XCN: ID, family name, given name, ...), "
        "PV1-44 the admit date/time, PV2-12 the visit description.",
        "XCN.2 is a composite too (FN): the surname is its first subcomponent, before any &.",
        "Refuse what is not ADT (MSH-9.1) or has no PV1 with ValueError; a missing PV2 gives an empty "
        "description. Unescape every text value.",
    ),
    solution_code=_key("SOLUTION_Q2"),
    wrong=_keys("WRONG_Q2"),
    alternatives=_keys("ALTERNATIVES_Q2"),
)


# -- Q3 build an ORU^R01 ----------------------------------------------------------------------------------------


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


q3 = function_question(
    grade_id="lab03_make_oru",
    title="Q3 build an ORU^R01",
    points=3,
    name="make_oru",
    parameters=("results", "patient_id", "control_id"),
    reference=lambda *args: _ref().make_oru(*args),
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
    solution_code=_key("SOLUTION_Q3"),
    wrong=_keys("WRONG_Q3"),
    alternatives=_keys("ALTERNATIVE_Q3"),
)


# -- Q4 ACK messages --------------------------------------------------------------------------------------------


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
        ("an AA acknowledgment of a feed A01 (never acknowledged)", (_ref().listener_ack(m), "AA", None)),
        (
            "an AR acknowledgment of a feed A01, asked for AR 200",
            (_ref()._ack(m, "AR", "203", "20250301120000"), "AR", "200"),
        ),
        ("code CA (an enhanced-mode code)", (m, "CA", None)),
        ("code AE without an error code", (m, "AE", None)),
        ("code AE with an error code not in table 0357", (m, "AE", "999")),
        ("a text that is not an HL7 message", ("hello", "AA", None)),
    ]
    return _cases(items)


q4 = function_question(
    grade_id="lab03_make_ack",
    title="Q4 ACK messages",
    points=3,
    name="make_ack",
    parameters=("message", "code", "error"),
    reference=lambda *args: _ref().make_ack(*args),
    cases=_ack_cases,
    compare=_compare_views(ack_view),
    hints=(
        "An ACK goes back to the sender: its MSH-3/4 are the original MSH-5/6 and its MSH-5/6 the original "
        "MSH-3/4. MSH-9 is ACK^<the original trigger event>^ACK; MSH-11 and MSH-12 copy the original's.",
        "MSA-1 is the code, MSA-2 the original MSH-10: that is how the sender matches the ACK to its message.",
        "With AE or AR add ERR|||<code>^<text>^HL70357|E (ERR-3 the table 0357 code, ERR-4 the severity). "
        "An ACK (MSH-9.1 ACK) is never acknowledged: raise ValueError.",
    ),
    solution_code=_key("SOLUTION_Q4"),
    wrong=_keys("WRONG_Q4"),
    alternatives=_keys("ALTERNATIVES_Q4"),
)


# -- Q5 which acknowledgment code -------------------------------------------------------------------------------


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
        ("an AA acknowledgment of a feed A01", (_ref().listener_ack(a01),)),
        (
            "an AE acknowledgment of a feed ORU^R01, version 2.6",
            (replace_field(_ref()._ack(oru, "AE", "101", "2025"), "MSH", 12, "2.6"),),
        ),
    ]
    return _cases(items)


q5 = function_question(
    grade_id="lab03_ack_code",
    title="Q5 AA, AE or AR",
    points=3,
    name="ack_code",
    parameters=("message",),
    reference=lambda *args: _ref().ack_code(*args),
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
    solution_code=_key("SOLUTION_Q5"),
    wrong=_keys("WRONG_Q5"),
    alternatives=_keys("ALTERNATIVES_Q5"),
)


# -- Q6 and Q7 MLLP framing -------------------------------------------------------------------------------------


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


q6 = function_question(
    grade_id="lab03_mllp_encode",
    title="Q6 MLLP encode",
    points=1,
    name="mllp_encode",
    parameters=("message",),
    reference=lambda message: _mllp().encode(message),
    cases=_encode_cases,
    hints=(
        "Start block 0x0B, the message as UTF-8 bytes, end block 0x1C then 0x0D.",
        "A message that contains 0x0B or 0x1C cannot be framed unambiguously: raise ValueError.",
    ),
    solution_code=_key("SOLUTION_Q6"),
    wrong=_keys("WRONG_Q6"),
    alternatives=_keys("ALTERNATIVES_Q6"),
)


def _frames_cases() -> list[Case]:
    msgs = [pick("ADT^A01", 1)[0], pick("ORU^R01", 1)[0], fixture_message("pyhl7_ACK_A01_AA.hl7")]
    mllp = _mllp()
    data = b"".join(mllp.encode(m) for m in msgs)
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


q7 = function_question(
    grade_id="lab03_mllp_frames",
    title="Q7 MLLP frames from a byte stream",
    points=2,
    name="mllp_frames",
    parameters=("buffer",),
    reference=lambda buffer: _mllp().frames(buffer),
    cases=_frames_cases,
    compare=_compare_frames,
    hints=(
        "Loop: find the next 0x0B, then the next 0x1C 0x0D after it; the bytes between are one message.",
        "No end block yet: the frame is unfinished; return it from its 0x0B on as the remainder. No start "
        "block at all: the remainder is empty (those bytes are garbage).",
        "A buffer that ends in 0x1C has not ended its frame yet: search for the two bytes 0x1C 0x0D together.",
    ),
    solution_code=_key("SOLUTION_Q7"),
    wrong=_keys("WRONG_Q7"),
    alternatives=_keys("ALTERNATIVES_Q7"),
)


# -- Q8 send and receive over a real socket ---------------------------------------------------------------------


@cache
def _listeners() -> dict:
    """The practice listeners, one of each kind (they answer with the reference's ACK)."""
    from hitlab.practice import service

    return {kind: service.mllp_listener(kind) for kind in service.MLLP_KINDS}


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


q8 = function_question(
    grade_id="lab03_send_and_receive",
    title="Q8 MLLP over a socket",
    points=3,
    name="send_and_receive",
    parameters=("host", "port", "message", "timeout"),
    reference=lambda *args: _mllp().send_and_receive(*args),
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
    solution_code=_key("SOLUTION_Q8"),
    wrong=_keys("WRONG_Q8"),
    alternatives=_keys("ALTERNATIVES_Q8"),
)


# -- Q9 routing, filtering and de-duplication -------------------------------------------------------------------


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


q9 = function_question(
    grade_id="lab03_route",
    title="Q9 route, filter and de-duplicate",
    points=2,
    name="route",
    parameters=("messages",),
    reference=lambda *args: _ref().route(*args),
    cases=_route_cases,
    hints=(
        "Only MSH-11 = P (its first component) is routed; T and D messages are dropped before anything else.",
        "A sender that resends keeps MSH-10: remember (MSH-3, MSH-10) pairs you have routed and skip repeats.",
        "The key is MSH-9.1 and MSH-9.2 joined by ^ (ADT^A01), without the structure; values are MSH-10s.",
    ),
    solution_code=_key("SOLUTION_Q9"),
    wrong=_keys("WRONG_Q9"),
    alternatives=_keys("ALTERNATIVES_Q9"),
)


# -- Q10 apply an A40 merge -------------------------------------------------------------------------------------


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


q10 = function_question(
    grade_id="lab03_apply_merge",
    title="Q10 apply an A40 merge",
    points=2,
    name="apply_merge",
    parameters=("patients", "message"),
    reference=lambda *args: _ref().apply_merge(*args),
    cases=_merge_cases,
    hints=(
        "MRG-1 is the prior (losing) identifier; PID-3 holds the surviving one. Each PID is followed by its MRG.",
        "PID-3 can repeat: the survivor is the repetition with the same assigning authority (CX.4) and type "
        "(CX.5) as MRG-1, else the first one.",
        "Move the prior record under the survivor; if the survivor exists, keep its fields and append the prior "
        "encounters it does not have. Work on a copy (copy.deepcopy).",
    ),
    solution_code=_key("SOLUTION_Q10"),
    wrong=_keys("WRONG_Q10"),
    alternatives=_keys("ALTERNATIVES_Q10"),
)


# -- Q11 robust intake ------------------------------------------------------------------------------------------


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


q11 = function_question(
    grade_id="lab03_intake",
    title="Q11 robust intake",
    points=3,
    name="intake",
    parameters=("raw",),
    reference=lambda *args: _ref().intake(*args),
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
    solution_code=_key("SOLUTION_Q11"),
    wrong=_keys("WRONG_Q11"),
    alternatives=_keys("ALTERNATIVES_Q11"),
)


QUESTIONS = (q1, q2, q3, q4, q5, q6, q7, q8, q9, q10, q11)
