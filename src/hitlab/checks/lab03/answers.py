"""Lab 03's answer sources: each question's worked solution (the notebook's solution cell, with hl7apy where it
helps), other correct answers, and known-wrong answers that must lose exactly that question's points. Left out
of an exam release."""

from __future__ import annotations

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

WRONG_Q1 = (
    SOLUTION_Q1.replace(
        "unescape(cx.cx_4.hd_1.to_er7()),  # CX.4 is an HD: its first subcomponent", "cx.cx_4.to_er7(),"
    ),
)

ALTERNATIVES_Q1 = (
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
)

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

WRONG_Q2 = (
    SOLUTION_Q2.replace(
        'unescape(parse_segment(found["PV2"], version="2.5.1").pv2_12.to_er7())',
        'parse_segment(found["PV2"], version="2.5.1").pv2_12.to_er7()',
    ),
)

ALTERNATIVES_Q2 = (
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
)

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

WRONG_Q3 = (
    SOLUTION_Q3.replace('obx.obx_2 = "NM" if numeric else "ST"', 'obx.obx_2 = "NM"'),
    ALTERNATIVE_Q3.replace("|202501011200-0500||", "|||"),  # hl7apy fills MSH-7 itself: write by hand
    SOLUTION_Q3.replace("    order.obr.obr_4 = f\"{results[0]['code']}^^LN\"", "    pass"),
    SOLUTION_Q3.replace('            obx.obx_6.ce_3 = "UCUM"', "            pass"),
)

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

WRONG_Q4 = (
    SOLUTION_Q4.replace(
        'header = "|".join(["MSH", msh[2], msh[5], msh[6], msh[3], msh[4],',
        'header = "|".join(["MSH", msh[2], msh[3], msh[4], msh[5], msh[6],',
    ),
)

ALTERNATIVES_Q4 = (
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
)

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

WRONG_Q5 = (
    SOLUTION_Q5.replace(
        '        or msh[12].split("^")[0] not in {"2.3", "2.3.1", "2.4", "2.5", "2.5.1"}\n', ""
    ),
)

ALTERNATIVES_Q5 = (
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
)

SOLUTION_Q6 = r'''def mllp_encode(message: str) -> bytes:
    data = message.encode("utf-8")
    if b"\x0b" in data or b"\x1c" in data:
        raise ValueError("the message contains an MLLP framing byte")
    return b"\x0b" + data + b"\x1c\r"'''

WRONG_Q6 = (SOLUTION_Q6.replace('b"\\x1c\\r"', 'b"\\x1c"'),)

ALTERNATIVES_Q6 = (
    r"""def mllp_encode(message):
    if any(c in message for c in "\x0b\x1c"):
        raise ValueError("framing byte inside")
    return bytes([0x0B]) + bytes(message, "utf-8") + bytes([0x1C, 0x0D])""",
)

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

WRONG_Q7 = (SOLUTION_Q7.replace("return messages, buffer[start:]", 'return messages, b""'),)

ALTERNATIVES_Q7 = (
    r"""import re


def mllp_frames(buffer):
    found = [m.group(1) for m in re.finditer(rb"\x0b([^\x0b]*?)\x1c\r", buffer)]
    last_end = buffer.rfind(b"\x1c\r")
    start = buffer.find(b"\x0b", last_end + 2 if last_end >= 0 else 0)
    return found, (buffer[start:] if start >= 0 else b"")""",
)

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

WRONG_Q8 = (
    r"""import socket


def send_and_receive(host, port, message, timeout):
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(b"\x0b" + message.encode("utf-8") + b"\x1c\r")
        data = sock.recv(65536)  # one read is not always one message
        return data[1:-2].decode("utf-8")""",
)

ALTERNATIVES_Q8 = (
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
)

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

WRONG_Q9 = (SOLUTION_Q9.replace("        if key in seen:\n            continue\n", ""),)

ALTERNATIVES_Q9 = (
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
)

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

WRONG_Q10 = (SOLUTION_Q10.replace("survivor = (same or reps)[0][0]", "survivor = reps[0][0]"),)

ALTERNATIVES_Q10 = (
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
)

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

WRONG_Q11 = (
    SOLUTION_Q11.replace(
        'text = b"\\r".join(segs).decode(CHARSETS[charset])', 'text = b"\\r".join(segs).decode("utf-8")'
    ),
)

ALTERNATIVES_Q11 = (
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
)
