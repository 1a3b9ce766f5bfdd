"""Lab 03 (HL7 v2 messaging): the references and their helpers on the real fixture messages, with exact
results; MLLP framing edge cases; a real socket exchange on 127.0.0.1; intake accept/reject per file, with
MSH-18 character sets; ACKs that are never answered; every worked solution run on every input; each worked and
alternative answer passes its check and each known-wrong one fails it; and the checks package imports without
its reference and answers, as an exam release ships it."""

from __future__ import annotations

import socket
import subprocess
import sys
import warnings

import pytest

from course_proof import prove_grading
from hitlab.checks import lab03
from hitlab.hl7 import mllp
from hitlab.hl7.er7 import component, escape, field, segments, unescape

NAMES = lab03.fixture_names()


def msg(name: str) -> str:
    return lab03.fixture_message(name)


# -- the package: answers proven, and an exam release without reference and answers ---------------------------


def test_an_exam_release_imports_without_reference_and_answers():
    code = (
        "import sys\n"
        "sys.modules['hitlab.checks.lab03.reference'] = None\n"
        "sys.modules['hitlab.checks.lab03.answers'] = None\n"
        "from hitlab.checks import lab03\n"
        "from hitlab.checks.core import NOT_RELEASED\n"
        "assert all(q.solution_code == NOT_RELEASED and not q.wrong for q in lab03.QUESTIONS)\n"
        "assert lab03.SOLUTION_Q1 == NOT_RELEASED and lab03.fixture_names()\n"
        "for attempt in (lambda: lab03.q8.check(lambda host, port, message, timeout: ''), lambda: lab03.intake):\n"
        "    try:\n"
        "        attempt()\n"
        "    except RuntimeError as err:\n"
        "        assert 'no reference' in str(err)\n"
        "    else:\n"
        "        raise SystemExit('checked without a reference')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- the fixtures and their provenance -----------------------------------------------------------------------


def test_every_fixture_is_listed_in_sources():
    sources = (lab03.FIXTURES / "SOURCES.md").read_text(encoding="utf-8")
    assert len(NAMES) == 19
    for prefix in ("v2tofhir_", "ms_", "pyhl7_", "l4h_", "hl7apy_"):
        assert f"`{prefix}*.hl7`" in sources
        assert any(n.startswith(prefix) for n in NAMES)
    for licence in ("Apache-2.0", "MIT", "BSD-3-Clause"):
        assert licence in sources
    assert f"`{LATIN1}`" in sources and "8859/1" in sources  # the constructed file, with its construction


LATIN1 = "constructed_ADT_A01_v2.3_latin1_MSH18_8859-1.hl7"


def test_the_latin1_file_is_its_source_plus_the_documented_changes():
    raw = lab03.fixture_bytes(LATIN1)
    assert [hex(b) for b in raw if b > 127] == ["0xc8", "0xc9"]  # È and É in ISO 8859-1
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    source = lab03.fixture_bytes("pyhl7_ADT_A01_v2.3_quoted_nulls.hl7").decode("ascii")
    rebuilt = raw.decode("latin-1")
    rebuilt = rebuilt.replace("-L1|P|2.3||||||8859/1\r", "|P|2.3\r", 1)
    rebuilt = rebuilt.replace("LEFÈVRE^MÉLODIE^^^^^CURRENT", "RUFUSS^MELLODIAL^^^^^CURRENT", 1)
    assert rebuilt == source


def test_two_fixtures_start_with_a_byte_order_mark():
    assert [n for n in NAMES if lab03.fixture_bytes(n).startswith(b"\xef\xbb\xbf")] == [
        "ms_ORM_O01.hl7",
        "ms_ORU_R01_NIST_LRI_CBC.hl7",
    ]


# -- ER7 helpers ----------------------------------------------------------------------------------------------


def test_unescape_is_one_pass_and_escape_round_trips():
    assert unescape(r"a\F\b\S\c\T\d\R\e\E\f") == "a|b^c&d~e\\f"
    assert unescape(r"\E\T\E\ ") == r"\T\ "  # the escape of a backslash is not read again
    text = "C:\\x | y ^ z & w ~ v"
    assert escape(text) == r"C:\E\x \F\ y \S\ z \T\ w \R\ v"
    assert unescape(escape(text)) == text


def test_fields_count_msh_1_as_the_field_separator():
    msh = segments(msg("pyhl7_ACK_A01_AA.hl7"))[0]
    assert field(msh, 1) == "|" and field(msh, 2) == "^~\\&"  # four encoding characters before v2.7
    assert field(msh, 9) == "ACK^A01^ACK" and field(msh, 10) == "HL7ACK00001" and field(msh, 12) == "2.3"
    assert component("PATID1234^5^M11^test1&2.16.1&HCD^MR", 4, 2) == "2.16.1"
    assert component("a~b^c", 2, rep=2) == "c" and component("a", 3) == "" and field(None, 3) == ""


# -- Q1 / Q2 parsing ------------------------------------------------------------------------------------------

IDENTIFIERS = {
    "hl7apy_OML_O33_v2.5_italian.hl7": [("1010110909194822", "GATEWAY_IL", "PK")],
    "l4h_ADT_A01_v2.3_escapes_T_R_in_PV2.hl7": [("0a8a1752-e336-43e1-bf7f-0c8f6f437ca3", "MRN", "")],
    "ms_ADT_A03_discharge_v2.8.hl7": [("PATID1234", "test1", "MR"), ("123456789", "USSSA", "SS")],
    "ms_ADT_A40_merge_v2.8.hl7": [("12345", "BCBS", "MR")],
    "ms_ORM_O01.hl7": [("PATID1234", "test1", "MR"), ("123456789", "USSSA", "SS")],
    "ms_ORU_R01_NIST_LRI_CBC.hl7": [("PATID1234", "NIST MPI", "MR")],
    "pyhl7_ADT_A01_v2.3_quoted_nulls.hl7": [("2148790", "MSH_MRN", "MR"), ("162840", "MSH_EMPI", "CM")],
    LATIN1: [("2148790", "MSH_MRN", "MR"), ("162840", "MSH_EMPI", "CM")],
    "pyhl7_batch_BHS_BTS_1msg.hl7": [("0000112234", "100", "A")],
    "v2tofhir_ADT_A01_v2.8_base_standard_example.hl7": [("PATID1234", "ADT1", "MR"), ("123456789", "USSSA", "SS")],
    "v2tofhir_ADT_A04_allergies_v2.3.1.hl7": [("84168156", "VHIS", "")],
    "v2tofhir_ADT_A08_update_v2.3.hl7": [("151", "", "")],
    "v2tofhir_ADT_A34_merge_v2.3.hl7": [("5027440", "", "")],
    "v2tofhir_MDM_T02_text_with_linebreaks_v2.3.1.hl7": [("117513", "West", "MR")],
    "v2tofhir_ORU_R01_LRI_basic_v2.5.1.hl7": [("PATID5421", "NIST MPI", "MR")],
    "v2tofhir_SIU_S12_new_appointment_v2.3.hl7": [("150", "", "")],
    "v2tofhir_VXU_V04_new_admin_v2.5.1.hl7": [("3123", "NIST-MPI-1", "MR")],
}  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_patient_identifiers_of_every_fixture(name):
    if name in ("hl7apy_MSH_only_missing_MSH10_MSH12.hl7", "pyhl7_ACK_A01_AA.hl7"):
        with pytest.raises(ValueError, match="no PID segment"):
            lab03.patient_identifiers(msg(name))
        return
    got = lab03.patient_identifiers(msg(name))
    assert [(d["id"], d["authority"], d["type"]) for d in got] == IDENTIFIERS[name]


def test_the_hl7apy_solution_agrees_on_every_fixture():
    ns: dict = {}
    exec(lab03.SOLUTION_Q1, ns)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in IDENTIFIERS:
            assert ns["patient_identifiers"](msg(name)) == lab03.patient_identifiers(msg(name)), name


def test_admission_summary_reads_escapes_and_the_attending_doctor():
    assert lab03.admission_summary(msg("l4h_ADT_A01_v2.3_escapes_T_R_in_PV2.hl7")) == {
        "patient_class": "I",
        "attending_id": "2905",
        "attending_family": "Doctor",
        "attending_given": "Attending",
        "admitted": "20210407191342",
        "visit_description": '<This field> should be found "Encounter.text" & formatted as xhtml with correct '
        "escaped characters.~HL7 newline should be processed as well",
    }
    assert lab03.admission_summary(msg("pyhl7_ADT_A01_v2.3_quoted_nulls.hl7")) == {
        "patient_class": "I", "attending_id": "03525", "attending_family": "FARP", "attending_given": "YONAN",
        "admitted": "20140210225300", "visit_description": "",
    }  # fmt: skip
    ms = lab03.admission_summary(msg("ms_ADT_A03_discharge_v2.8.hl7"))
    assert (ms["patient_class"], ms["attending_family"], ms["admitted"], ms["visit_description"]) == (
        "P", "Alaz", "20150208113419+0110", "Health Checkup",
    )  # fmt: skip
    v28 = lab03.admission_summary(msg("v2tofhir_ADT_A01_v2.8_base_standard_example.hl7"))
    assert (v28["attending_id"], v28["attending_family"], v28["attending_given"], v28["admitted"]) == (
        "004777", "ATTEND", "AARON", "",
    )  # fmt: skip
    # PV1-7 is empty in this A04 (1001^SMITH is PV1-8, the referring doctor)
    assert lab03.admission_summary(msg("v2tofhir_ADT_A04_allergies_v2.3.1.hl7"))["attending_id"] == ""


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("ms_ADT_A40_merge_v2.8.hl7", "no PV1 segment"),
        ("v2tofhir_ORU_R01_LRI_basic_v2.5.1.hl7", r"not an ADT message: MSH-9 is 'ORU\^R01\^ORU_R01'"),
        ("pyhl7_ACK_A01_AA.hl7", "not an ADT message"),
    ],
)
def test_admission_summary_refuses(name, reason):
    with pytest.raises(ValueError, match=reason):
        lab03.admission_summary(msg(name))


# -- Q3 ORU ---------------------------------------------------------------------------------------------------

ROWS = [
    {"code": "2345-7", "display": "Glucose [Mass/volume] in Serum or Plasma", "value": "96.9", "units": "mg/dL", "type": "numeric"},
    {"code": "72166-2", "display": "Tobacco smoking status", "value": "Never smoked & never will ^", "units": None, "type": "text"},
]  # fmt: skip


def test_make_oru_parses_back_with_hl7apy_and_the_view():
    from hl7apy.parser import parse_message

    text = lab03.make_oru(ROWS, "p-1", "C-9")
    assert text.split("\r")[3:5] == [
        "OBX|1|NM|2345-7^Glucose [Mass/volume] in Serum or Plasma^LN||96.9|mg/dL^^UCUM|||||F",
        "OBX|2|ST|72166-2^Tobacco smoking status^LN||Never smoked \\T\\ never will \\S\\||||||F",
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = parse_message(text, find_groups=False)
    assert parsed.msh.msh_9.to_er7() == "ORU^R01^ORU_R01" and parsed.msh.msh_12.to_er7() == "2.5.1"
    view = lab03.oru_view(text)
    assert view["OBX 2: OBX-5"] == "Never smoked & never will ^" and view["OBX 2: OBX-6.1"] == ""
    assert view["the number of OBR segments"] == 1 and view["the OBR comes before the OBX segments"]


def test_make_oru_refuses_empty_tables_and_non_numbers():
    with pytest.raises(ValueError, match="at least one OBX"):
        lab03.make_oru([], "p", "c")
    with pytest.raises(ValueError, match=r"result 1: 'high' is not a number \(OBX-2 NM\)"):
        lab03.make_oru([{**ROWS[0], "value": "high"}], "p", "c")


# -- Q4 / Q5 acknowledgments ----------------------------------------------------------------------------------


def test_fixture_ack_parses_as_an_ack():
    from hl7apy.parser import parse_message

    text = msg("pyhl7_ACK_A01_AA.hl7")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ack = parse_message(text, find_groups=False)
    assert [s.name for s in ack.children] == ["MSH", "MSA"]
    assert (ack.msh.msh_9.to_er7(), ack.msa.msa_1.to_er7(), ack.msa.msa_2.to_er7()) == (
        "ACK^A01^ACK", "AA", "HL7MSG00001",
    )  # fmt: skip
    assert lab03.ack_view(text)["MSA-2"] == "HL7MSG00001"


def test_exact_ack_segments_for_a_fixture():
    original = msg("ms_ADT_A03_discharge_v2.8.hl7")
    ack = lab03._ack(original, "AE", "101", "20250101000000+0000")
    assert ack.split("\r") == [
        "MSH|^~\\&|EHRApp^1.Edu^ISO|GHHRFacility^2.16.840.1.1122848.1.32^ISO|ADTApp|"
        "GHHSFacility^2.16.840.1.122848.1.30^ISO|20250101000000+0000||ACK^A03^ACK|ACKMSG00001|P|2.8",
        "MSA|AE|MSG00001",
        "ERR|||101^Required field missing^HL70357|E",
        "",
    ]
    aa = lab03.make_ack(msg("pyhl7_ADT_A01_v2.3_quoted_nulls.hl7"), "AA")
    view = lab03.ack_view(aa)
    assert (view["MSH-3"], view["MSH-5"], view["MSH-9"], view["MSA-2"], view["the ERR segment (present)"]) == (
        "AIG", "HNAM_PM", "ACK^A01^ACK", "Q150084616T145947960", False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("code", "error", "reason"),
    [("CA", None, "AA, AE or AR"), ("AE", None, "table 0357"), ("AR", "999", "table 0357"), ("AA", "101", "no error")],
)  # fmt: skip
def test_make_ack_refuses(code, error, reason):
    with pytest.raises(ValueError, match=reason):
        lab03.make_ack(msg("pyhl7_ACK_A01_AA.hl7"), code, error)


@pytest.mark.parametrize(("code", "error"), [("AA", None), ("AE", "101"), ("AR", "200")])
def test_make_ack_never_acknowledges_an_ack(code, error):
    real = msg("pyhl7_ACK_A01_AA.hl7")  # python-hl7's real ACK^A01
    with pytest.raises(ValueError, match="never acknowledged"):
        lab03.make_ack(real, code, error)
    ns: dict = {}
    exec(lab03.SOLUTION_Q4, ns)
    with pytest.raises(ValueError, match="never acknowledged"):
        ns["make_ack"](real, code, error)


ACK_REASONS = {
    "hl7apy_MSH_only_missing_MSH10_MSH12.hl7": ("AR", "101"),
    "hl7apy_OML_O33_v2.5_italian.hl7": ("AR", "200"),
    "l4h_ADT_A01_v2.3_escapes_T_R_in_PV2.hl7": ("AA", None),
    "ms_ADT_A03_discharge_v2.8.hl7": ("AR", "203"),
    "ms_ADT_A40_merge_v2.8.hl7": ("AR", "203"),
    "ms_ORM_O01.hl7": ("AR", "203"),
    "ms_ORU_R01_NIST_LRI_CBC.hl7": ("AA", None),
    "pyhl7_ACK_A01_AA.hl7": (None, None),  # an ACK is never answered
    LATIN1: ("AA", None),
    "pyhl7_ADT_A01_v2.3_quoted_nulls.hl7": ("AA", None),
    "pyhl7_batch_BHS_BTS_1msg.hl7": ("AA", None),
    "v2tofhir_ADT_A01_v2.8_base_standard_example.hl7": ("AR", "203"),
    "v2tofhir_ADT_A04_allergies_v2.3.1.hl7": ("AA", None),
    "v2tofhir_ADT_A08_update_v2.3.hl7": ("AA", None),
    "v2tofhir_ADT_A34_merge_v2.3.hl7": ("AR", "201"),
    "v2tofhir_MDM_T02_text_with_linebreaks_v2.3.1.hl7": ("AR", "200"),
    "v2tofhir_ORU_R01_LRI_basic_v2.5.1.hl7": ("AA", None),
    "v2tofhir_SIU_S12_new_appointment_v2.3.hl7": ("AR", "200"),
    "v2tofhir_VXU_V04_new_admin_v2.5.1.hl7": ("AR", "200"),
}


@pytest.mark.parametrize("name", NAMES)
def test_ack_code_of_every_fixture(name):
    code, error, _why = lab03.ack_reason(msg(name))
    assert (code, error) == ACK_REASONS[name]
    assert lab03.ack_code(msg(name)) == code


def test_ack_reasons_of_altered_messages():
    a01 = msg("pyhl7_ADT_A01_v2.3_quoted_nulls.hl7")
    assert lab03.ack_reason(lab03.replace_field(a01, "MSH", 11, "p")) == (
        "AR", "202", "MSH-11 processing ID 'p' is not P, T or D",
    )  # fmt: skip
    assert lab03.ack_reason(lab03.replace_field(a01, "PID", 3, '""'))[:2] == ("AE", "101")
    assert lab03.ack_reason(lab03.drop_segments(a01, "PV1"))[:2] == ("AE", "100")
    assert lab03.ack_reason("")[:2] == ("AR", "207")
    # an ACK gets no answer, even one that would otherwise be an AR (unsupported version, no MSH-10)
    ack = lab03.listener_ack(a01)
    assert lab03.ack_reason(ack) == (
        None,
        None,
        "an acknowledgment is consumed, never answered (an ACK of an ACK would loop)",
    )
    assert (
        lab03.ack_code(lab03.replace_field(lab03.replace_field(ack, "MSH", 12, "2.9"), "MSH", 10, "")) is None
    )


# -- Q6 / Q7 MLLP framing -------------------------------------------------------------------------------------


def test_encode_frames_utf8_and_refuses_framing_bytes():
    assert mllp.encode("MSH|é\r") == b"\x0bMSH|\xc3\xa9\r\x1c\r"
    for bad in ("a\x0bb", "a\x1cb"):
        with pytest.raises(ValueError, match="framing byte"):
            mllp.encode(bad)


def test_frames_edge_cases():
    a, b, c = mllp.encode("MSH|A\r"), mllp.encode("MSH|B\r"), mllp.encode("MSH|C\r")
    data = a + b + c
    assert mllp.frames(data) == ([b"MSH|A\r", b"MSH|B\r", b"MSH|C\r"], b"")
    assert mllp.frames(b"") == ([], b"")
    assert mllp.frames(b"\x0b") == ([], b"\x0b")
    assert mllp.frames(b"junk\r\n" + a) == ([b"MSH|A\r"], b"")
    assert mllp.frames(a + b"\x00junk" + b) == ([b"MSH|A\r", b"MSH|B\r"], b"")
    assert mllp.frames(b"no start block") == ([], b"")
    assert mllp.frames(a + b[:-1]) == ([b"MSH|A\r"], b[:-1])  # cut between 0x1C and 0x0D
    assert mllp.frames(a + b[:1]) == ([b"MSH|A\r"], b"\x0b")
    # fed one byte at a time, keeping the remainder, the stream yields the same three messages
    got, pending = [], b""
    for i in range(len(data)):
        done, pending = mllp.frames(pending + data[i : i + 1])
        got += done
    assert got == [b"MSH|A\r", b"MSH|B\r", b"MSH|C\r"] and pending == b""


# -- Q8 a real socket exchange --------------------------------------------------------------------------------


def test_send_and_receive_with_real_listeners():
    message = msg("ms_ORU_R01_NIST_LRI_CBC.hl7")  # 10 kB: the listener reads it in several pieces
    with mllp.Listener(lambda m: [lab03.listener_ack(m)], chunk=5, pause=0.001) as listener:
        reply = mllp.send_and_receive("127.0.0.1", listener.port, message, 5.0)
        assert listener.received == [message]
    assert reply.split("\r") == [
        "MSH|^~\\&||NIST EHR Facility|NIST Test Lab APP|NIST Lab Facility|20110531140551-0500||ACK^R01^ACK|"
        "ACKNIST-LRI-NG-002.00|T|2.5.1",
        "MSA|AA|NIST-LRI-NG-002.00",
        "",
    ]
    with mllp.Listener(lab03._commit_then_ack) as listener:
        first = mllp.send_and_receive("127.0.0.1", listener.port, message, 5.0)
    assert "\rMSA|CA|NIST-LRI-NG-002.00\r" in first


def test_a_silent_listener_times_out():
    with mllp.Listener(lambda m: []) as listener, pytest.raises(socket.timeout):
        mllp.send_and_receive("127.0.0.1", listener.port, msg("pyhl7_ACK_A01_AA.hl7"), 0.2)


def test_a_listener_that_hangs_up_is_a_connection_error():
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    import threading

    def hang_up():
        conn, _ = server.accept()
        conn.recv(100)
        conn.close()

    threading.Thread(target=hang_up, daemon=True).start()
    with pytest.raises(ConnectionError, match="closed the connection"):
        mllp.send_and_receive("127.0.0.1", port, "MSH|^~\\&|A\r", 5.0)
    server.close()


# -- Q9 / Q10 routing and merges ------------------------------------------------------------------------------


def test_route_on_the_fixtures():
    assert lab03.route(list(lab03.fixture_messages().values())) == {
        "ADT^A03": ["MSG00001"],
        "ADT^A40": ["8919-40"],  # the A34 from the same sender reuses 8919-40: dropped as a duplicate
        "ORM^O01": ["MSG00018"],
        "ACK^A01": ["HL7ACK00001"],
        # MSG00001 again, but from another MSH-3; the Latin-1 file (first by name) has its own control ID
        "ADT^A01": ["Q150084616T145947960-L1", "Q150084616T145947960", "MSG00001"],
        "ADT^A04": ["12334456778890"],
        "ADT^A08": ["8899-39"],
        "MDM^T02": ["42"],
        "SIU^S12": ["8907-45"],
        "VXU^V04": ["NIST-IZ-AD-1.1_Send_V04_Z22"],
    }
    with pytest.raises(ValueError, match="MSH"):
        lab03.route(["PID|1"])


def test_apply_merge_on_the_fixtures():
    table = {
        "56789": {"name": "T", "encounters": ["V1", "V2"]},
        "12345": {"name": "U", "encounters": ["V3", "V1"]},
    }
    before = {k: {**v, "encounters": list(v["encounters"])} for k, v in table.items()}
    assert lab03.apply_merge(table, msg("ms_ADT_A40_merge_v2.8.hl7")) == {
        "12345": {"name": "U", "encounters": ["V3", "V1", "V2"]}
    }
    assert table == before  # the caller's table is untouched
    a34 = msg("v2tofhir_ADT_A34_merge_v2.3.hl7")
    assert lab03.apply_merge({"5027450": {"name": "B", "encounters": ["E1"]}}, a34) == {
        "5027440": {"name": "B", "encounters": ["E1"]}
    }
    with pytest.raises(ValueError, match="MRG-1 names '5027450', which is not in the patient table"):
        lab03.apply_merge({}, a34)
    with pytest.raises(ValueError, match="not a merge message: MSH-9 is ADT\\^A01"):
        lab03.apply_merge(table, msg("pyhl7_ADT_A01_v2.3_quoted_nulls.hl7"))


def test_merge_matches_the_survivor_by_authority_and_type():
    text = lab03.merge_message([("M1", "uuid-1", "M2")], "X1", pi_first=True)
    assert "PID|1||uuid-1^^^HITLAB^PI~M1^^^HITLAB^MR\rMRG|M2^^^HITLAB^MR\r" in text
    table = {"M2": {"name": "A", "encounters": ["e"]}}
    assert lab03.apply_merge(table, text) == {"M1": {"name": "A", "encounters": ["e"]}}


# -- Q11 intake -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_intake_of_every_fixture_file(name):
    raw = lab03.fixture_bytes(name)
    if name == "hl7apy_MSH_only_missing_MSH10_MSH12.hl7":
        with pytest.raises(ValueError, match=r"message 1: MSH-10 \(message control ID\) is empty"):
            lab03.intake(raw)
        return
    [message] = lab03.intake(raw)
    assert message.startswith("MSH|^~\\&|") and message.endswith("\r") and "\n" not in message
    if name == BATCH:
        assert message == raw.decode()[raw.index(b"MSH") : raw.index(b"BTS")]
    elif name == LATIN1:
        assert message == raw.decode("latin-1") and "|LEFÈVRE^MÉLODIE^" in message  # MSH-18 8859/1
    else:
        assert message == raw.decode("utf-8-sig")  # CR files come out byte for byte


BATCH = "pyhl7_batch_BHS_BTS_1msg.hl7"


def test_intake_normalizes_line_ends_and_keeps_explicit_nulls():
    raw = lab03.fixture_bytes("pyhl7_ADT_A01_v2.3_quoted_nulls.hl7")
    expected = lab03.intake(raw)
    assert lab03.intake(raw.replace(b"\r", b"\r\n")) == expected
    assert lab03.intake(b"\xef\xbb\xbf" + raw.replace(b"\r", b"\n") + b"\n\n") == expected
    assert expected[0].count('""') == raw.count(b'""') == 44


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "no HL7 v2 message"),
        (b"\xef\xbb\xbf\r\n", "no HL7 v2 message"),
        (b"PID|1||x\rMSH|^~\\&|A\r", "segment 1 is 'PID'"),
        (b"MSH|^~\\&|A|B|C|D|2025||ADT^A01|1|P|2.5.1\r\xff", r"byte 0xFF at 41 is not ASCII, HL7's default"),
        (b"MSH|^~\\&|A|B|C|D|2025||ADT^A01|1|P|2.5.1||||||UNICODE UTF-8\rPID|1||M\xfcller", "not MSH-18 'UNICODE UTF-8'"),
        (b"MSH|^~\\&|A|B|C|D|2025||ADT^A01|1|P|2.5.1||||||ISO IR87\r", "MSH-18 character set 'ISO IR87' is not supported"),
        (b"MSH|^~\\&|A|B|C|D|2025||ADT^A01|1|P|\r", r"MSH-12 \(version ID\) is empty"),
        (b"MSH|^~\\&|A|B|C|D|2025|||1|P|2.5\r", r"MSH-9 \(message type\) is empty"),
        (b"MSH|^~#&|A|B|C|D|2025||ADT^A01|1|P|2.5\r", "standard delimiters"),
        (b"BHS|^~\\&\rMSH|^~\\&|A|B|C|D|2025||ADT^A01|1|P|2.5\rBTS|2\r", "BTS-1 says 2 messages but the batch holds 1"),
    ],
)  # fmt: skip
def test_intake_rejects_with_a_reason(raw, reason):
    with pytest.raises(ValueError, match=reason):
        lab03.intake(raw)


# -- the questions' cases -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_every_reference_runs_on_every_case_and_refuses_where_expected():
    refused = {}
    for q in lab03.QUESTIONS:
        key = q.answer_key
        assert len(key) >= 5, q.grade_id
        refused[q.grade_id] = sum(r for _c, _v, r in key)
    assert refused == {
        "lab03_patient_identifiers": 2, "lab03_admission_summary": 15, "lab03_make_oru": 2, "lab03_make_ack": 8,
        "lab03_ack_code": 0, "lab03_mllp_encode": 2, "lab03_mllp_frames": 0, "lab03_send_and_receive": 1,
        "lab03_route": 1, "lab03_apply_merge": 2, "lab03_intake": 11,
    }  # fmt: skip
    assert sum(q.points for q in lab03.QUESTIONS) == 27


# -- MSH-2 encoding characters (four; a fifth, the truncation character, from v2.7) ---------------------------


def test_msh2_holds_four_encoding_characters_and_v27_adds_a_truncation_character():
    real = msg("v2tofhir_ADT_A01_v2.8_base_standard_example.hl7")  # a real v2.8 message, sent with four
    assert field(segments(real)[0], 2) == "^~\\&"
    with_truncation = real.replace("MSH|^~\\&|", "MSH|^~\\&#|", 1)
    msh = segments(with_truncation)[0]
    assert field(msh, 2) == "^~\\&#" and field(msh, 9) == field(segments(real)[0], 9)
    assert lab03.intake(with_truncation.encode()) == [with_truncation]
    cell = lab03_notebook_cell("## 1. Reading a message")
    assert "four" in cell and "truncation" in cell and "2.7" in cell


def lab03_notebook_cell(start: str) -> str:
    import json

    path = lab03.FIXTURES.parents[3] / "solutions" / "lab03_hl7v2_messaging" / "lab03_hl7v2_messaging.ipynb"
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return next("".join(c["source"]) for c in cells if "".join(c["source"]).startswith(start))


# -- Q3: MSH-7, OBR-4 and the OBX-3/OBX-6 coding systems ------------------------------------------------------


@pytest.mark.parametrize("name", ["ms_ORU_R01_NIST_LRI_CBC.hl7", "v2tofhir_ORU_R01_LRI_basic_v2.5.1.hl7"])
def test_real_orus_fill_msh7_and_obr4_and_name_their_coding_systems(name):
    view = lab03.oru_view(msg(name))
    assert view["MSH-7 (date/time of the message, a valid TS)"]
    assert view["OBR-4 (universal service identifier: a code and its coding system)"]
    assert view["OBX 1: OBX-3.3"] == "LN"
    units = [v for k, v in view.items() if k.endswith("OBX-6.3") and v]
    assert units and set(units) == {"UCUM"}


def test_the_oru_check_needs_msh7_obr4_and_both_coding_systems():
    text = lab03.make_oru(ROWS, "p-1", "C-9")
    assert text.split("\r")[3].split("|")[6] == "mg/dL^^UCUM"
    good = lab03.oru_view(text)
    assert good["MSH-7 (date/time of the message, a valid TS)"] is True
    for altered, key in (
        (lab03.replace_field(text, "MSH", 7, ""), "MSH-7 (date/time of the message, a valid TS)"),
        (lab03.replace_field(text, "MSH", 7, "2025-03-01T12:05"), "MSH-7 (date/time of the message, a valid TS)"),
        (lab03.replace_field(text, "OBR", 4, ""), "OBR-4 (universal service identifier: a code and its coding system)"),
        (lab03.replace_field(text, "OBR", 4, "2345-7^Glucose"), "OBR-4 (universal service identifier: a code and its coding system)"),
        (lab03.replace_field(text, "OBX", 6, "mg/dL"), "OBX 1: OBX-6.3"),
        (lab03.replace_field(text, "OBX", 3, "2345-7^Glucose [Mass/volume] in Serum or Plasma^SCT"), "OBX 1: OBX-3.3"),
    ):  # fmt: skip
        assert lab03.oru_view(altered)[key] != good[key], key
    # a different, correct message still passes: another time format, a panel in OBR-4, a unit display text
    other = lab03.replace_field(
        lab03.replace_field(text, "MSH", 7, "202503011205"), "OBR", 4, "24323-8^CMP^LN"
    )
    other = lab03.replace_field(other, "OBX", 6, "mg/dL^milligram per deciliter^UCUM")
    assert lab03.oru_view(other) == good


# -- Q11: MSH-18 character sets -------------------------------------------------------------------------------


def test_intake_decodes_each_message_by_its_msh18():
    real = lab03.fixture_bytes("pyhl7_ADT_A01_v2.3_quoted_nulls.hl7")
    as_latin1 = real.replace(b"|P|2.3\r", b"|P|2.3||||||8859/1\r", 1).replace(
        b"RUFUSS", "RÜFÜSS".encode("latin-1")
    )
    as_utf8 = real.replace(b"|P|2.3\r", b"|P|2.3||||||UNICODE UTF-8\r", 1).replace(
        b"RUFUSS", "RÜFÜSS".encode()
    )
    [a] = lab03.intake(as_latin1)
    [b] = lab03.intake(as_utf8)
    assert "|RÜFÜSS^MELLODIAL^" in a and "|RÜFÜSS^MELLODIAL^" in b
    assert lab03.intake(as_latin1 + as_utf8) == [a, b]  # one stream, two character sets
    with pytest.raises(ValueError, match=r"byte 0xC3 .* is not ASCII, HL7's default when MSH-18 is empty"):
        lab03.intake(real.replace(b"RUFUSS", "RÜFÜSS".encode()))
    with pytest.raises(ValueError, match=r"is not MSH-18 'UNICODE UTF-8'"):
        lab03.intake(as_utf8.replace("Ü".encode(), "Ü".encode("latin-1")))
    [c] = lab03.intake(lab03.fixture_bytes(LATIN1))
    assert lab03.patient_identifiers(c)[0]["id"] == "2148790" and lab03.ack_code(c) == "AA"


# -- every worked solution, run as a learner would copy it, on every input its check hands out ----------------


@pytest.mark.slow
@pytest.mark.parametrize("q", lab03.QUESTIONS, ids=[q.grade_id for q in lab03.QUESTIONS])
def test_the_shown_solution_matches_the_reference_on_every_input(q):
    """``qN.solution()`` prints ``solution_code``: exec it as a learner would paste it, then compare it with the
    reference case by case (each case through the question's own comparison), collecting every mismatch."""
    ns: dict = {}
    exec(q.solution_code, ns)
    fn = ns[q.variable]
    problems = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for entry in q.answer_key:  # (case, the reference's result, whether the reference refused it)
            try:
                q.compare(fn, [entry])
            except AssertionError as mismatch:
                problems.append(str(mismatch))
    assert not problems, problems


def test_the_hl7apy_solutions_read_what_parse_message_refuses():
    from hl7apy.exceptions import HL7apyException
    from hl7apy.parser import parse_message

    labels = [label for label, _args in lab03._hl7apy_trap_cases()]
    assert len(labels) == 3
    ns: dict = {}
    exec(lab03.SOLUTION_Q1, ns)
    exec(lab03.SOLUTION_Q2, ns)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for label, (message,) in lab03._hl7apy_trap_cases():
            with pytest.raises(HL7apyException):  # the trap is real
                parse_message(message, find_groups=False)
            assert ns["patient_identifiers"](message) == lab03.patient_identifiers(message), label
            assert ns["admission_summary"](message) == lab03.admission_summary(message), label


@pytest.mark.notebook
@pytest.mark.slow
def test_verify_proves_the_grading():
    """``hitlab course verify lab03``: solution full marks, released zero, each known-wrong answer loses exactly
    its points (real nbgrader runs)."""
    prove_grading("lab03")
