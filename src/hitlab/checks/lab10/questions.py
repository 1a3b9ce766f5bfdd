"""Lab 10's questions, as data: what each asks, its points, hints, how it is compared, and the cases a right answer
must also get right. The expected values come from ``reference.py`` and the worked answers from ``answers.py``,
both imported only when needed, so that an exam release can leave them out.

| Q  | grade id                        | pts | asks for                                                                  |
|----|---------------------------------|-----|---------------------------------------------------------------------------|
| 1  | lab10_hie_peak_rate             | 2   | `peak_messages_per_second(assumptions)`: a regional HIE's peak rate       |
| 2  | lab10_observation_storage       | 3   | `observation_storage(assumptions)`: rows, table, indexes, replicas, total |
| 3  | lab10_consumer_duplicates       | 3   | `AdtConsumer`: census and notifications under duplicate deliveries        |
| 4  | lab10_consumer_ordering         | 3   | `OrderedConsumer`: the same under out-of-order delivery within an hour    |
| 5  | lab10_consumer_crash            | 3   | `CrashSafeConsumer`: the same across crashes before the acknowledgement   |
| 6  | lab10_consumer_updates_merges   | 3   | `MergingConsumer`: A08 updates and A40 merges                             |
| 7  | lab10_exchange_standards        | 2   | `exchange_standards`: which standard carries each hospital-payer exchange |
| 8  | lab10_minimum_necessary         | 3   | `minimum_necessary(request, policy)`: what the rule lets the hospital send |

Written, graded by hand (rubrics in the notebook): Q9 `lab10_payer_exchange_design` (4 points), Q10
`lab10_star_incident` (3), Q11 `lab10_explain_decision` (2).

**The consumer (Q3-Q6): one answer cell per item.** Q3's cell defines the learner's consumer class
``AdtConsumer``; Q4, Q5 and Q6 each define a class of their own (``OrderedConsumer``, ``CrashSafeConsumer``,
``MergingConsumer``), usually a subclass of the previous one that adds what that item asks (or the same class
again, ``OrderedConsumer = AdtConsumer``, if it already does). Each check replays generated feeds with one kind
of fault against its own class, so each item is graded on its own: a consumer wrong under duplicates loses Q3
only. The worked answers of Q4-Q6 are self-contained (they repeat the earlier cells: ``answers.chain``); the
notebook's cells hold only each item's own part.

Each consumer check replays :func:`~hitlab.checks.lab10.materials.adt_feed` (HL7 v2 ADT built with the
project's writer, patients from the default dataset) delivered once and in order, then with the item's faults
(:func:`~hitlab.checks.lab10.materials.delivery_plan`), and compares the final census and the notifications the
sink holds with the reference consumer's on the feed delivered once. The hidden tests replay another feed seed and
another fault seed (``HIDDEN``).
"""

from __future__ import annotations

import inspect
import math
from typing import Any

from hitlab.checks.choice import picks_question
from hitlab.checks.core import AnswerKey, Incorrect, Question, describe, learner_error, reference_of
from hitlab.checks.function import Case, function_question
from hitlab.checks.lab10 import materials as m

_answers = AnswerKey("hitlab.checks.lab10")  # left out of an exam release
_key, _keys = _answers.source, _answers.sources


def _ref():
    """The reference implementations (absent from an exam release: the grader's install has them)."""
    return reference_of("hitlab.checks.lab10")


# -- Q1 peak messages per second -----------------------------------------------------------------------------------


def _hie(**changes: Any) -> dict:
    return {**m.HIE_ASSUMPTIONS, **changes}


def _rate_cases() -> list[Case]:
    return [
        Case("the stated regional HIE", (_hie(),)),
        Case("a rural HIE of 6 small hospitals",
             (_hie(hospitals=6, admissions_per_hospital_per_day=9, ed_visits_per_hospital_per_day=40,
                   results_per_hospital_per_day=300, peak_hour_share=0.15, redelivery_rate=0.05),)),
        Case("an HIE that takes no results (ADT only)", (_hie(results_per_hospital_per_day=0),)),
        Case("a day whose whole traffic comes in one hour", (_hie(peak_hour_share=1.0),)),
        Case("an HIE with no hospitals yet", (_hie(hospitals=0),)),
        Case("a peak-hour share above 1 (more than the whole day)", (_hie(peak_hour_share=1.2),)),
        Case("a negative number of hospitals", (_hie(hospitals=-3),)),
    ]  # fmt: skip


def _compare_number(got: Any, expected: float, case: Case, title: str) -> None:
    if isinstance(got, bool) or not isinstance(got, int | float):
        raise Incorrect(f"{title}: on {case.label}, return a number (float), got {describe(got)}.")
    if not math.isclose(float(got), expected, rel_tol=1e-3, abs_tol=1e-9):
        raise Incorrect(f"{title}: on {case.label}, {float(got):.4g} messages per second is not right.")


q1 = function_question(
    grade_id="lab10_hie_peak_rate",
    title="Q1 peak messages per second",
    points=2,
    name="peak_messages_per_second",
    parameters=("assumptions",),
    reference=lambda a: _ref().peak_messages_per_second(a),
    cases=_rate_cases,
    compare=_compare_number,
    hints=(
        "Messages per hospital and day: admissions x ADT per admission + ED visits x ADT per visit + results. "
        "Times the hospitals: the region's day.",
        "The busiest hour carries `peak_hour_share` of the day: divide that hour's messages by 3,600 seconds, "
        "then add the redeliveries (x (1 + redelivery_rate)). Raise ValueError for a negative number or a share "
        "above 1.",
    ),
    solution_code=_key("PEAK"),
    wrong=_keys("PEAK_WRONG"),
    alternatives=_keys("PEAK_ALTERNATIVE"),
)

# -- Q2 storage for ten years of observations -------------------------------------------------------------------

STORAGE_KEYS = ("rows", "table_bytes", "index_bytes", "replicated_bytes", "total_bytes")


def _store(**changes: Any) -> dict:
    return {**m.STORAGE_ASSUMPTIONS, **changes}


def _storage_cases() -> list[Case]:
    return [
        Case("the stated ten years", (_store(),)),
        Case("a population that does not grow", (_store(patient_growth_per_year=0),)),
        Case("one year, no indexes, no replicas, no headroom",
             (_store(years=1, index_entry_bytes=[], replicas=0, headroom=0),)),
        Case("a fast-growing population over 5 years with one replica",
             (_store(patients=50_000, patient_growth_per_year=0.25, years=5, replicas=1),)),
        Case("zero years", (_store(years=0),)),
        Case("a headroom of 1 (disks kept entirely free)", (_store(headroom=1),)),
        Case("a negative number of patients", (_store(patients=-1),)),
    ]  # fmt: skip


def _compare_storage(got: Any, expected: dict, case: Case, title: str) -> None:
    if not isinstance(got, dict):
        raise Incorrect(
            f"{title}: return a dict with the keys {', '.join(STORAGE_KEYS)}, got {describe(got)}."
        )
    for key in STORAGE_KEYS:
        if key not in got:
            raise Incorrect(f"{title}: the dict has no {key!r}.")
        value = got[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise Incorrect(f"{title}: on {case.label}, {key} should be a number, got {describe(value)}.")
        if not math.isclose(float(value), expected[key], rel_tol=1e-3, abs_tol=1e-6):
            raise Incorrect(f"{title}: on {case.label}, {key} = {float(value):.6g} is not right.")


q2 = function_question(
    grade_id="lab10_observation_storage",
    title="Q2 storage for ten years of observations",
    points=3,
    name="observation_storage",
    parameters=("assumptions",),
    reference=lambda a: _ref().observation_storage(a),
    cases=_storage_cases,
    compare=_compare_storage,
    hints=(
        "Rows: year 1 has `patients` patients, year 2 `patients x (1 + growth)`, and so on; each has "
        "`observations_per_patient_per_year` observations. Sum the years (a geometric series).",
        "Table bytes = rows x row_bytes; index bytes = rows x the sum of the index entry sizes; replicated = "
        "(table + indexes) x (1 + replicas): replicas are copies besides the primary.",
        "Headroom is the share of each disk kept free, so the data fills (1 - headroom) of it: total = replicated "
        "/ (1 - headroom), not x (1 + headroom). Raise ValueError for negative values or a headroom of 1 or more.",
    ),
    solution_code=_key("STORAGE"),
    wrong=_keys("STORAGE_WRONG"),
    alternatives=_keys("STORAGE_ALTERNATIVE"),
)

# -- Q3-Q6 the ADT census consumer ------------------------------------------------------------------------------

FEED_SEED, FAULT_SEED = 1, 3
"""The feed and fault seeds of the checks; the hidden tests use the reference's ``HIDDEN_SEEDS``."""
_FAULT_WORDS = {
    "none": "delivered once, in order",
    "duplicates": "with duplicate deliveries",
    "reorder": f"delivered out of order (within {m.BOUND_MINUTES} minutes)",
    "crash": "with crashes between processing and acknowledgement",
}


def _replay(cls: Any, feed: list[str], fault: str, seed: int, title: str):
    try:
        return m.replay(cls, feed, fault, seed)
    except Incorrect:
        raise
    except Exception as err:
        raise learner_error(err, f"{title}: on the feed {_FAULT_WORDS[fault]}, your consumer") from None


def _check_census_shape(census: Any, title: str) -> None:
    if not isinstance(census, dict) or not all(isinstance(v, dict) for v in census.values()):
        raise Incorrect(
            f"{title}: census() should return a dict {{MRN: {{'name': ..., 'location': ...}}}}, got "
            f"{describe(census)}."
        )


def _consumer_form(title: str, variable: str):
    """The form of a consumer (the lab's contract): a class made as ``cls(db_path, sink)`` with the methods
    ``handle(message)`` and ``census()``."""

    def form(cls: Any) -> None:
        if not inspect.isclass(cls):
            raise Incorrect(f"{title}: `{variable}` should be a class (the consumer), got {describe(cls)}.")
        for method, parameters in (("handle", "self, message"), ("census", "self")):
            if not callable(getattr(cls, method, None)):
                raise Incorrect(f"{title}: `{variable}` should have a method `{method}({parameters})`.")
        try:
            made = inspect.signature(cls)
        except (TypeError, ValueError):  # a signature Python cannot read passes
            return
        try:
            made.bind("consumer.db", object())
        except TypeError:
            raise Incorrect(
                f"{title}: `{variable}(db_path, sink)` should make a consumer; yours takes {made}."
            ) from None

    return form


def _consumer_question(
    grade_id: str, title: str, variable: str, fault: str, feed: dict, hints: tuple[str, ...], name: str,
    feed_seed: int = FEED_SEED, fault_seed: int = FAULT_SEED,
) -> Question:  # fmt: skip
    faults = ("none",) if fault == "none" else ("none", fault)

    def expected():
        return _ref().expected_replay(feed_seed, **feed)

    form = _consumer_form(title, variable)

    def compare(cls: Any, key) -> None:
        form(cls)
        messages = m.adt_feed(feed_seed, **feed)
        for kind in faults:
            got = _replay(cls, messages, kind, fault_seed, title)
            _check_census_shape(got.census, title)
            problems = m.differences(got, key, messages)
            if problems:
                where = _FAULT_WORDS[kind]
                if kind != "none":
                    where += " (delivered once and in order it was right)"
                raise Incorrect(f"{title}: on the feed {where}, {problems[0]}.")

    return Question(
        grade_id=grade_id, title=title, points=3, variable=variable, expected=expected, compare=compare,
        hints=hints, solution_code=_key(name), wrong=_keys(f"{name}_WRONG"),
        alternatives=_keys(f"{name}_ALTERNATIVE"), form=(form,),
    )  # fmt: skip


def _q3(**seeds: int) -> Question:
    return _consumer_question(
        "lab10_consumer_duplicates", "Q3 ADT consumer under duplicate deliveries", "AdtConsumer",
        "duplicates", {}, (
            "A redelivered message carries the same MSH-10. Record the control ids you have processed in the "
            "database, in the same transaction as the census change, and skip one you have seen (MSH-10 is "
            "unique per sender: with several senders, the key is MSH-3, MSH-4 and MSH-10 together).",
            "Derive the notification id from the message (e.g. 'adt-' + MSH-10), never from a counter or a "
            "uuid: then sending it twice is harmless, because the sink ignores an id it already holds.",
            "A duplicate can arrive long after the original, after the discharge that followed it: remembering "
            "only the last message you processed is not enough.",
        ), "CONSUMER", **seeds,
    )  # fmt: skip


def _q4(**seeds: int) -> Question:
    return _consumer_question(
        "lab10_consumer_ordering", "Q4 ADT consumer under out-of-order delivery", "OrderedConsumer",
        "reorder", {}, (
            "Order by EVN-2 (when the event was recorded), per patient, not by arrival: keep the EVN-2 of the "
            "message each census row comes from, discharged patients included. Not MSH-7 (a resubmitted message "
            "gets a new one) nor EVN-6 (optional, often empty): `parse_adt(...).recorded` is EVN-2.",
            "A message older than the row's EVN-2 is stale: it must not change the census (a late A01 must not "
            "re-admit a patient already discharged), but an admission or discharge still happened: notify it.",
        ), "ORDERED", **seeds,
    )  # fmt: skip


def _q5(**seeds: int) -> Question:
    return _consumer_question(
        "lab10_consumer_crash", "Q5 ADT consumer across crashes", "CrashSafeConsumer", "crash", {}, (
            "After a crash the broker starts a new instance on the same database file and delivers the "
            "unacknowledged message again: everything you need must be in the database, committed with the "
            "census change.",
            "A crash can come while a notification is being sent, after the census change committed. Either send "
            "before you commit (the message comes again and the sink ignores the repeated id), or keep an outbox "
            "table written in the same transaction and, when an instance starts, send whatever it still holds.",
        ), "CRASH", **seeds,
    )  # fmt: skip


def _q6(**seeds: int) -> Question:
    return _consumer_question(
        "lab10_consumer_updates_merges", "Q6 ADT consumer with A08 updates and A40 merges", "MergingConsumer",
        "none", {"updates": True, "merges": True}, (
            "A08 carries the patient's current name (PID-5) and bed (PV1-3): update the census row, notify no "
            "one. A40: PID-3 is the surviving MRN, MRG-1 the retired one.",
            "On A40, move the retired MRN's census row to the survivor, with the survivor's name from the A40's "
            "PID-5, and remember the alias (in the database): later messages for the retired MRN are about the "
            "survivor, in the census and in the notification's patient.",
        ), "MERGES", **seeds,
    )  # fmt: skip


q3, q4, q5, q6 = _q3(), _q4(), _q5(), _q6()

# -- Q7 which standard carries each exchange -----------------------------------------------------------------

_WHY_NOT = {
    "A": "The 270/271 asks about and answers with coverage and benefits; it carries no bill or authorization.",
    "B": "The 837I is an institutional claim or encounter, sent by a provider to a plan.",
    "C": "The 278 asks for and answers a referral certification or an authorization.",
    "D": "The 276/277 asks about and answers with the status of a claim already sent.",
    "E": "The 835 (with its EFT) is how a plan pays a provider and explains the payment.",
    "F": "NCPDP Telecommunication D.0 is the standard for retail pharmacy drug claims (and eligibility).",
    "G": "The 277 (006020X313) is the plan's request for documents that support a claim; the 275 (006020X314) "
    "carries them, as C-CDA documents (CMS-0053-F, claims attachments only).",
    "H": "CMS-0057-F's FHIR APIs cover Medicare Advantage, Medicaid, CHIP and exchange plans, for patient, "
    "provider, payer-to-payer and prior-authorization access.",
    "I": "The 834 goes from a plan sponsor (an employer) to the plan: who is enrolled.",
    "J": "HL7 v2 ADT carries admissions, transfers and discharges between clinical systems; it is no HIPAA "
    "transaction between a hospital and a plan.",
}

q7 = picks_question(
    grade_id="lab10_exchange_standards",
    title="Q7 which standard carries each exchange",
    points=2,
    variable="exchange_standards",
    situations={key: m.STANDARDS for key in m.EXCHANGES},
    correct=lambda: _ref().EXCHANGE_STANDARDS,
    why_not={key: _WHY_NOT for key in m.EXCHANGES},
    hints=(
        "45 CFR Part 162 names one standard per HIPAA transaction: eligibility, claims, authorization, claim "
        "status, payment and remittance, enrollment, attachments.",
        "Look at who sends to whom: an employer enrolling its staff is a plan sponsor, not a provider; a retail "
        "pharmacy claim has its own standard; CMS-0057-F's APIs are FHIR.",
    ),
    solution_code=_key("STANDARDS"),
    wrong=_keys("STANDARDS_WRONG"),
    alternatives=_keys("STANDARDS_ALTERNATIVE"),
)

# -- Q8 minimum necessary ------------------------------------------------------------------------------------------


def _label(request: dict) -> str:
    routine = "routine" if request["routine"] else "non-routine"
    auth = ", with the patient's authorization" if request.get("authorization") else ""
    return f"a {routine} {request['purpose']} request from a {request['requester']}{auth}"


def _mn_cases(policy: dict | None = None, requests: tuple = m.REQUESTS) -> list[Case]:
    chosen = m.POLICY if policy is None else policy
    return [Case(_label(r), (dict(r), dict(chosen))) for r in requests]


def _compare_mn(got: Any, expected: Any, case: Case, title: str) -> None:
    if isinstance(expected, str):
        if got != expected:
            shown = got if isinstance(got, str) else describe(got)
            raise Incorrect(f"{title}: for {case.label}, {shown!r} is not right.")
        return
    if isinstance(got, str) or not isinstance(got, list | tuple | set | frozenset):
        raise Incorrect(f"{title}: for {case.label}, {got!r} is not right.")
    extra = sorted(set(got) - set(expected))
    if extra:
        raise Incorrect(f"{title}: for {case.label}, {extra[0]!r} should not be sent.")
    if set(got) != set(expected) or len(got) != len(set(got)):
        raise Incorrect(
            f"{title}: for {case.label}, an element the protocol allows is missing (or repeated)."
        )


def _mn_question(policy: dict | None = None, requests: tuple = m.REQUESTS) -> Question:
    return function_question(
        grade_id="lab10_minimum_necessary",
        title="Q8 minimum necessary",
        points=3,
        name="minimum_necessary",
        parameters=("request", "policy"),
        reference=lambda r, p: _ref().minimum_necessary(r, p),
        cases=lambda: _mn_cases(policy, requests),
        compare=_compare_mn,
        hints=(
            "First the exemptions of 45 CFR 164.502(b)(2): treatment requested by or disclosed to a provider, "
            "the patient, an authorization, HHS's compliance review, what the law requires, and the required "
            "fields of a standard transaction. Payment and operations are not exempt.",
            "Then: a routine request with a protocol in `policy` for its (purpose, requester) gets the requested "
            "elements the protocol allows (sorted); anything else is reviewed individually.",
        ),
        solution_code=_key("MINIMUM"),
        wrong=_keys("MINIMUM_WRONG"),
        alternatives=_keys("MINIMUM_ALTERNATIVE"),
    )


q8 = _mn_question()

QUESTIONS = (q1, q2, q3, q4, q5, q6, q7, q8)


def _hidden() -> dict[str, Question]:
    """The hidden tests' questions: the consumer checks on another feed and fault seed; minimum necessary under
    another hospital's protocols, with more requests. Those cases are the reference's: an exam release, which
    leaves it out, checks the hidden tests' answers as it does the visible ones (their form only)."""
    try:
        r = _ref()
    except RuntimeError:  # an exam release
        return {q.grade_id: q for q in (q3, q4, q5, q6, q8)}
    seeds = {"feed_seed": r.HIDDEN_SEEDS[0], "fault_seed": r.HIDDEN_SEEDS[1]}
    return {
        "lab10_consumer_duplicates": _q3(**seeds),
        "lab10_consumer_ordering": _q4(**seeds),
        "lab10_consumer_crash": _q5(**seeds),
        "lab10_consumer_updates_merges": _q6(**seeds),
        "lab10_minimum_necessary": _mn_question(r.OTHER_POLICY, m.REQUESTS + r.HIDDEN_REQUESTS),
    }


HIDDEN = _hidden()
"""The hidden tests' questions, by grade id (see :func:`_hidden`)."""
