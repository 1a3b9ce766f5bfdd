"""Lab 03's reference implementations: they read the text with :mod:`hitlab.hl7.er7` (independently of
hl7apy, which the worked solutions use) and give each check its expected results. Left out of an exam release.
"""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime

from hitlab.checks.lab03.materials import (
    CHARSETS,
    PROCESSING_IDS,
    SUPPORTED_EVENTS,
    SUPPORTED_VERSIONS,
    TABLE_0357,
    _msh,
    _type,
)
from hitlab.hl7.er7 import component, escape, field, first, segments, unescape


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


def listener_ack(message: str) -> str:
    """The loopback listeners' answer: a deterministic AA (MSH-7 copied from the message)."""
    return _ack(message, "AA", None, field(_msh(message), 7))


def _commit_then_ack(message: str) -> list[str]:
    commit = listener_ack(message).replace("MSA|AA|", "MSA|CA|")
    return [commit, listener_ack(message)]


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
