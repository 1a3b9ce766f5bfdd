"""Lab 10 (system design and interview practice): the capacity references worked by hand, the feed and the
harness (determinism, the reordering bound, every crash kind), the reference consumer the same under every fault,
a naive consumer right on the clean feed and wrong under each fault on its own, the minimum-necessary outcomes
request by request, every known-wrong answer, an exam release without reference and answers, and the grading
proof."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from course_proof import define, prove_answers, prove_grading, run_release
from hitlab.checks import lab10
from hitlab.checks.core import Incorrect
from hitlab.checks.lab10 import answers, materials, questions, reference

RELEASE = (
    Path(__file__).resolve().parents[1]
    / "labs"
    / "lab10_system_design_interview"
    / "lab10_system_design_interview.ipynb"
)


# -- the checks -------------------------------------------------------------------------------------------------

# tests/test_checks.py proves the notebook's questions; these are the hidden tests' versions
HIDDEN = list(lab10.HIDDEN.values())


@pytest.mark.parametrize("q", HIDDEN, ids=lambda q: q.grade_id + "_hidden")
def test_solution_passes_and_wrong_answers_fail(q, capsys):
    prove_answers(q, capsys)


MORE = [(q, code) for q in lab10.QUESTIONS for name in dir(answers) if name.endswith("_WRONG_MORE")
        if getattr(answers, name[: -len("_MORE")]) == tuple(q.wrong) for code in getattr(answers, name)]  # fmt: skip


@pytest.mark.parametrize(("q", "code"), MORE, ids=[f"{q.grade_id}-{i}" for i, (q, _) in enumerate(MORE)])
def test_more_known_wrong_answers_fail(q, code):
    """Known-wrong answers beyond the one ``course verify`` grades (kept out of it to keep verify short)."""
    with pytest.raises(Incorrect):
        q.check(define(code)[q.variable])


def test_every_question_has_more_known_wrong_answers():
    covered = {q.grade_id for q, _ in MORE}
    assert covered == {q.grade_id for q in lab10.QUESTIONS} - {"lab10_exchange_standards"}


def test_grade_ids_points_and_the_table():
    ids = [q.grade_id for q in lab10.QUESTIONS]
    assert ids == ["lab10_hie_peak_rate", "lab10_observation_storage", "lab10_consumer_duplicates",
                   "lab10_consumer_ordering", "lab10_consumer_crash", "lab10_consumer_updates_merges",
                   "lab10_exchange_standards", "lab10_minimum_necessary"]  # fmt: skip
    assert [q.points for q in lab10.QUESTIONS] == [2, 3, 3, 3, 3, 3, 2, 3]
    for q in lab10.QUESTIONS:
        assert q.grade_id in questions.__doc__
    for written in ("lab10_payer_exchange_design", "lab10_star_incident", "lab10_explain_decision"):
        assert written in questions.__doc__


def test_an_exam_release_imports_without_reference_and_answers():
    code = (
        "import sys\n"
        "sys.modules['hitlab.checks.lab10.reference'] = None\n"
        "sys.modules['hitlab.checks.lab10.answers'] = None\n"
        "from hitlab.checks import lab10\n"
        "from hitlab.checks.core import NOT_RELEASED\n"
        "assert all(q.solution_code == NOT_RELEASED and not q.wrong for q in lab10.QUESTIONS)\n"
        "feed = lab10.adt_feed(1)\n"  # the learner's materials work without the reference
        "assert lab10.parse_adt(feed[0]).event == 'A01'\n"
        "try:\n"
        "    lab10.q1.check(lambda assumptions: 1.0)\n"
        "except RuntimeError as err:\n"
        "    assert 'no reference' in str(err)\n"
        "else:\n"
        "    raise SystemExit('checked without a reference')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- capacity, worked by hand -------------------------------------------------------------------------------------


def test_peak_rate_by_hand():
    # per hospital and day 60 x 8 + 150 x 4 + 2,500 = 3,580; x 40 = 143,200; 12% in the busiest hour = 17,184
    # an hour = 4.7733 a second; 2% redelivered: 4.8688
    assert reference.peak_messages_per_second(lab10.HIE_ASSUMPTIONS) == pytest.approx(
        143_200 * 0.12 / 3600 * 1.02
    )
    assert reference.peak_messages_per_second({**lab10.HIE_ASSUMPTIONS, "hospitals": 0}) == 0
    for bad in ({"peak_hour_share": 1.01}, {"hospitals": -1}, {"redelivery_rate": float("nan")}):
        with pytest.raises(ValueError):
            reference.peak_messages_per_second({**lab10.HIE_ASSUMPTIONS, **bad})


def test_storage_by_hand():
    got = reference.observation_storage(lab10.STORAGE_ASSUMPTIONS)
    patient_years = 1_200_000 * (1.03**10 - 1) / 0.03  # the geometric series of ten years
    rows = round(patient_years * 40)
    assert got["rows"] == rows == 550_266_207
    assert got["table_bytes"] == rows * 220 and got["index_bytes"] == rows * 144
    assert got["replicated_bytes"] == pytest.approx(rows * 364 * 3)
    assert got["total_bytes"] == pytest.approx(rows * 364 * 3 / 0.7)
    assert reference.observation_storage({**lab10.STORAGE_ASSUMPTIONS, "years": 0})["total_bytes"] == 0
    flat = reference.observation_storage({**lab10.STORAGE_ASSUMPTIONS, "patient_growth_per_year": 0})
    assert flat["rows"] == 1_200_000 * 40 * 10
    for bad in ({"headroom": 1}, {"patients": -1}, {"replicas": 1.5}, {"index_entry_bytes": [-1]}):
        with pytest.raises(ValueError):
            reference.observation_storage({**lab10.STORAGE_ASSUMPTIONS, **bad})


# -- the feed and the harness ------------------------------------------------------------------------------------


def test_the_feed_is_deterministic_and_well_formed():
    feed = lab10.adt_feed(1, updates=True, merges=True)
    assert feed == lab10.adt_feed(1, updates=True, merges=True) and feed != lab10.adt_feed(2)
    events = [lab10.parse_adt(m) for m in feed]
    assert len({e.control_id for e in events}) == len(events)
    assert [e.recorded for e in events] == sorted(e.recorded for e in events)  # sent in EVN-2 order
    assert {e.event for e in events} == {"A01", "A02", "A03", "A08", "A40"}
    merges = [e for e in events if e.event == "A40"]
    assert len(merges) == 5 and all(e.prior_patient.startswith("T") and e.location == "" for e in merges)
    a40 = next(m for m in feed if "ADT^A40" in m)
    assert "ADT^A40^ADT_A39" in a40 and "\rMRG|" in a40  # A40 uses the ADT_A39 structure
    # MSH-10 identifies and does not order: control ids are not increasing in sending order
    assert [e.control_id for e in events] != sorted(e.control_id for e in events)
    with pytest.raises(ValueError, match="not an ADT"):
        lab10.parse_adt(feed[0].replace("ADT^A01^ADT_A01", "ORU^R01^ORU_R01"))
    with pytest.raises(ValueError, match="MSH"):
        lab10.parse_adt("PID|1")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("20250303060000+0000", datetime(2025, 3, 3, 6, 0, tzinfo=UTC)),
        ("20250303060000.1234+0000", datetime(2025, 3, 3, 6, 0, 0, 123400, tzinfo=UTC)),  # offset after .SSSS
        ("20250303060000.5", datetime(2025, 3, 3, 6, 0, 0, 500000, tzinfo=UTC)),
        ("202503030600+0100", datetime(2025, 3, 3, 5, 0, tzinfo=UTC)),  # minute precision with an offset
        ("202503030600-0530", datetime(2025, 3, 3, 11, 30, tzinfo=UTC)),
        ("2025030306", datetime(2025, 3, 3, 6, 0, tzinfo=UTC)),
        ("20250303", datetime(2025, 3, 3, tzinfo=UTC)),
        ("202503", datetime(2025, 3, 1, tzinfo=UTC)),
        ("20250303060000", datetime(2025, 3, 3, 6, 0, tzinfo=UTC)),  # no offset: read as UTC (documented)
    ],
)
def test_dtm_parsing(value, expected):
    assert materials._parse_dtm(value) == expected


@pytest.mark.parametrize("value", ["", "2025030", "202503030600.12", "20250303+01", "20250303+2500", "x"])
def test_dtm_parsing_rejects_what_is_not_a_dtm(value):
    with pytest.raises(ValueError):
        materials._parse_dtm(value)


def test_msh7_and_evn6_are_not_evn2():
    """MSH-7 differs from EVN-2 (resubmissions), EVN-6 is sometimes empty and otherwise never after EVN-2."""
    feed = lab10.adt_feed(1)
    late = empty = 0
    for message in feed:
        segs = {line[:3]: line.split("|") for line in message.split("\r") if line}
        recorded = materials._parse_dtm(segs["EVN"][2])
        created = materials._parse_dtm(segs["MSH"][6])
        assert recorded <= created < recorded + materials.timedelta(hours=1)
        late += created - recorded > materials.timedelta(minutes=1)
        if len(segs["EVN"]) > 6 and segs["EVN"][6]:
            assert materials._parse_dtm(segs["EVN"][6]) <= recorded
        else:
            empty += 1
    assert late >= 5 and empty >= 5


def _ordered_by(field: str):
    """The worked Q4 answer, ordering by MSH-7 or EVN-6 instead of EVN-2."""
    base = define(answers.ORDERED)["OrderedConsumer"]

    class ByOther(base):
        def handle(self, message):
            segs = {line[:3]: line.split("|") for line in message.split("\r") if line}
            self.when = materials._parse_dtm(segs["MSH"][6] if field == "MSH-7" else segs["EVN"][6])
            super().handle(message)

        def apply(self, event):
            return super().apply(dataclasses.replace(event, recorded=self.when))

    return ByOther


@pytest.mark.parametrize(
    ("field", "message"), [("MSH-7", "census entry|in the census|missing"), ("EVN-6", "raised")]
)
def test_ordering_by_msh7_or_evn6_fails_q4(field, message):
    for q in (lab10.q4, lab10.HIDDEN["lab10_consumer_ordering"]):
        with pytest.raises(Incorrect, match=message):
            q.check(_ordered_by(field))


def test_delivery_plans_keep_their_promises():
    feed = lab10.adt_feed(4)
    times = [lab10.parse_adt(m).recorded for m in feed]
    dup = lab10.delivery_plan(feed, "duplicates", 1)
    assert {d.index for d in dup} == set(range(len(feed))) and len(dup) > len(feed) * 1.2
    order = [d.index for d in lab10.delivery_plan(feed, "reorder", 1)]
    assert sorted(order) == list(range(len(feed))) and order != sorted(order)
    for pos, i in enumerate(order):  # never after a message recorded an hour or more later
        assert all((times[j] - times[i]).total_seconds() < lab10.BOUND_MINUTES * 60 for j in order[:pos])
    kinds = {d.crash for d in lab10.delivery_plan(feed, "crash", 1)}
    assert {"ack", "before", "after"} <= kinds
    with pytest.raises(ValueError, match="fault"):
        lab10.delivery_plan(feed, "network-partition")


def test_the_sink_is_idempotent_by_id_and_notes_conflicts():
    sink = lab10.NotificationSink()
    sink.send("a", {"control_id": "1"})
    sink.send("a", {"control_id": "1"})
    assert sink.sent == {"a": {"control_id": "1"}} and not sink.conflicts
    sink.send("a", {"control_id": "2"})
    assert sink.conflicts and sink.sent["a"] == {"control_id": "1"}
    sink.armed = "before"
    with pytest.raises(lab10.Crash):
        sink.send("b", {"control_id": "3"})
    assert "b" not in sink.sent
    sink.armed = "after"
    with pytest.raises(lab10.Crash):
        sink.send("c", {"control_id": "4"})
    assert "c" in sink.sent
    with pytest.raises(TypeError):
        sink.send("", {})


@pytest.mark.parametrize("seed", [1, 5, 11])
@pytest.mark.parametrize("fault", lab10.FAULTS)
def test_the_reference_and_the_other_designs_end_the_same_under_every_fault(seed, fault):
    feed = lab10.adt_feed(seed, updates=True, merges=True) if fault == "none" else lab10.adt_feed(seed)
    clean = lab10.replay(reference.ReferenceConsumer, feed)
    assert clean.census and clean.sent and not clean.late
    for consumer in (reference.ReferenceConsumer, define(answers.MERGES)["MergingConsumer"],
                     define(answers.ALL_IN_ONE)["Census"]):  # fmt: skip
        run = lab10.replay(consumer, feed, fault, seed=seed + 1)
        assert lab10.differences(run, clean, feed) == []
        assert fault != "crash" or run.crashes > 5


def test_expected_census_by_hand_on_a_merge():
    """A patient registered as DOE under a temporary MRN, identified, merged while in the hospital and not moved
    since: in the census under the real MRN, with the real name, in the bed of the temporary registration."""
    feed = lab10.adt_feed(1, updates=True, merges=True)
    events = [lab10.parse_adt(m) for m in feed]
    still = next(e for e in events if e.event == "A40" and e.prior_patient.endswith("0002"))
    temp_admit = next(e for e in events if e.patient == still.prior_patient and e.event == "A01")
    assert temp_admit.name.startswith("DOE^")
    census = reference.expected_replay(1, updates=True, merges=True).census
    assert census[still.patient] == {"name": still.name, "location": temp_admit.location}
    assert still.prior_patient not in census


# -- a naive consumer: right on the clean feed, wrong under each fault ----------------------------------------


class NaiveConsumer:
    """In memory, in arrival order, a notification with a fresh id for every A01 and A03 delivered."""

    def __init__(self, db_path, sink):
        self.sink, self.state = sink, {}

    def handle(self, message):
        e = lab10.parse_adt(message)
        if e.event == "A03":
            self.state.pop(e.patient, None)
        elif e.event != "A40":
            self.state[e.patient] = {"name": e.name, "location": e.location}
        if e.event in lab10.NOTIFIED:
            payload = {"control_id": e.control_id, "event": lab10.NOTIFIED[e.event], "patient": e.patient,
                       "location": e.location}  # fmt: skip
            self.sink.send(str(uuid.uuid4()), payload)

    def census(self):
        return dict(self.state)


def test_the_naive_consumer_is_right_on_the_clean_feed():
    feed = lab10.adt_feed(questions.FEED_SEED)
    assert (
        lab10.differences(
            lab10.replay(NaiveConsumer, feed), reference.expected_replay(questions.FEED_SEED), feed
        )
        == []
    )


@pytest.mark.parametrize(
    ("q", "message"),
    [
        (lab10.q3, "a duplicate"),  # re-notified under a new id
        (lab10.q4, "census"),  # a stale transfer or admission applied
        (lab10.q5, "duplicate|census"),  # re-notified under a new id; the new instance starts with no census
        (
            lab10.q6,
            "patient",
        ),  # merges ignored: a notification names the retired MRN, the survivor is missing
    ],
    ids=["duplicates", "reorder", "crash", "updates_merges"],
)
def test_the_naive_consumer_fails_each_fault_item_on_its_own(q, message):
    with pytest.raises(Incorrect, match=message) as err:
        q.check(NaiveConsumer)
    if q is not lab10.q6:
        assert "delivered once and in order it was right" in str(err.value)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda p: {**p, "mrn": p["patient"]}, "extra key(s) 'mrn'"),
        (lambda p: {k: v for k, v in p.items() if k != "location"}, "missing key(s) 'location'"),
        (lambda p: {**p, "event": "admitted"}, "has event = 'admitted', which is not right"),
    ],
    ids=["extra", "missing", "wrong"],
)
def test_a_payload_with_other_keys_is_named_as_such(change, words):
    class Reshaped:
        def __init__(self, db_path, sink):
            self.inner = reference.ReferenceConsumer(db_path, self)
            self.sink = sink

        def send(self, notification_id, payload):
            self.sink.send(notification_id, change(payload))

        def handle(self, message):
            self.inner.handle(message)

        def census(self):
            return self.inner.census()

    with pytest.raises(Incorrect, match=words.replace("(", r"\(").replace(")", r"\)")) as err:
        lab10.q3.check(Reshaped)
    if "key" in words:
        assert "exactly the keys control_id, event, patient, location" in str(err.value)


def test_a_consumer_that_crashes_on_its_own_gets_its_traceback():
    class Broken(NaiveConsumer):
        def handle(self, message):
            raise KeyError("PV1")

    with pytest.raises(Incorrect, match="your consumer raised KeyError"):
        lab10.q3.check(Broken)
    with pytest.raises(Incorrect, match="should be a class"):
        lab10.q3.check(lambda db, sink: None)


# -- Q7 and Q8 ----------------------------------------------------------------------------------------------------


def test_exchange_standards_cover_every_exchange_from_the_menu():
    assert set(reference.EXCHANGE_STANDARDS) == set(lab10.EXCHANGES)
    assert set(reference.EXCHANGE_STANDARDS.values()) <= set(lab10.STANDARDS)


def test_minimum_necessary_request_by_request():
    all_, review = lab10.RULE_DOES_NOT_APPLY, lab10.INDIVIDUAL_REVIEW
    assert (
        all_ == "rule does not apply"
    )  # not "send everything": other rules still limit an exempt disclosure
    expected = [
        ["charges", "demographics", "diagnoses", "member_id"],  # payment: not exempt; clinical notes filtered
        all_,  # a provider's treatment request
        review,  # a plan asking "for treatment" is no provider: not exempt, no protocol
        [
            "discharge_summary",
            "lab_results",
        ],  # medical review is payment: psychotherapy notes never in a protocol
        all_,  # the patient's own request (for what the right of access covers: no psychotherapy notes)
        all_,  # under an authorization
        review,  # quality operations, but not routine
        all_,  # the required fields of a standard transaction
        all_,  # required by law
        all_,  # HHS compliance review
        [],  # the business associate's protocol allows neither notes nor results
        review,  # another provider's payment: not exempt, no protocol
    ]
    assert [reference.minimum_necessary(r, lab10.POLICY) for r in lab10.REQUESTS] == expected


def test_no_exempt_case_asks_for_psychotherapy_notes():
    """Exempt from minimum necessary is not permitted: psychotherapy notes need an authorization for them
    (164.508(a)(2)), even for another provider's treatment, and the right of access leaves them out
    (164.524(a)(1)(i)). No case whose outcome is "rule does not apply" asks for them."""
    for policy, requests in (
        (lab10.POLICY, lab10.REQUESTS),
        (reference.OTHER_POLICY, reference.HIDDEN_REQUESTS),
    ):
        for r in requests:
            if reference.minimum_necessary(r, policy) == lab10.RULE_DOES_NOT_APPLY:
                assert "psychotherapy_notes" not in r["elements"], r


# -- the notebook -----------------------------------------------------------------------------------------------


@pytest.mark.notebook
def test_the_release_runs_top_to_bottom_failing_only_in_exercise_cells(tmp_path):
    printed = run_release(RELEASE, tmp_path)
    assert printed.count("above first, then run this cell again.") >= 3


@pytest.mark.notebook
@pytest.mark.slow
def test_verify_proves_the_grading():
    """``hitlab course verify lab10``: solution full marks, released zero, each known-wrong answer loses exactly
    its points (real nbgrader runs)."""
    prove_grading("lab10")
