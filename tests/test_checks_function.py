"""Function questions: the learner's named function is called on every case and compared with the reference;
inputs the reference refuses must be refused too; messages name the case. The same judgement serves calls
with fresh arguments (`calls_question`) and calls against servers the check starts (`live_question`)."""

from __future__ import annotations

import contextlib
import time

import pytest

from hitlab.checks import Incorrect
from hitlab.checks.function import Call, Case, calls_question, function_question
from hitlab.checks.live import LiveCall, live_question


def _segments(message: str) -> list[str]:
    if not message.startswith("MSH|"):
        raise ValueError("a message starts with MSH")
    return [s.split("|", 1)[0] for s in message.strip("\r").split("\r")]


Q = function_question(
    grade_id="labxx_segments", title="QX segment names", points=1, name="segments", parameters=("message",),
    reference=_segments,
    cases=lambda: [
        Case("an ADT", ("MSH|^~\\&|A\rPID|1\rPV1|1\r",)),
        Case("a bare MSH", ("MSH|^~\\&|A",)),
        Case("a message without MSH", ("PID|1\r",)),
    ],
    hints=("Split on carriage returns.",), solution_code="def segments(message): ...",
)  # fmt: skip


def test_a_correct_function_passes(capsys):
    def segments(message):
        if not message.startswith("MSH|"):
            raise ValueError("no MSH")
        return [line[:3] for line in message.split("\r") if line]

    Q.check(segments)
    assert capsys.readouterr().out == "Correct: QX segment names\n"


def test_a_wrong_result_names_the_case():
    def segments(message):
        if not message.startswith("MSH|"):
            raise ValueError
        return [line[:3] for line in message.split("\r")]  # keeps the empty last "segment"

    with pytest.raises(Incorrect, match=r"for an ADT, your function returned \['MSH', 'PID', 'PV1', ''\]"):
        Q.check(segments)


def test_refusals_must_be_of_the_right_kind():
    with pytest.raises(Incorrect, match="a message without MSH should be refused with ValueError, but your"):
        Q.check(lambda message: _segments(message) if message.startswith("MSH") else [])
    with pytest.raises(Incorrect, match="should be refused with ValueError; your function raised KeyError"):
        Q.check(lambda message: _segments(message) if message.startswith("MSH") else {}["MSH"])


def test_errors_on_good_input_and_bad_signatures_are_explained():
    with pytest.raises(Incorrect, match="on an ADT, your function raised ZeroDivisionError"):
        Q.check(lambda message: 1 / 0)
    with pytest.raises(Incorrect, match=r"define `segments\(message\)`; yours takes \(msg, strict\)"):
        Q.check(lambda msg, strict: [])
    with pytest.raises(Incorrect, match="`segments` should be a function, got str"):
        Q.check("MSH")


def test_a_result_of_another_kind_gets_a_sentence():
    import pandas as pd

    def encode(message: str) -> bytes:
        return b"\x0b" + message.encode() + b"\x1c\r"

    frame = function_question(
        grade_id="labxx_frame", title="QX frame", points=1, name="frame", parameters=("message",),
        reference=encode, cases=lambda: [Case("an ADT", ("MSH|^~\\&|A\r",))],
        hints=("Add the MLLP bytes.",), solution_code="def frame(message): ...",
    )  # fmt: skip
    with pytest.raises(
        Incorrect, match=r"^QX frame: on an ADT, your function returned a str; it should return bytes\.$"
    ):
        frame.check(lambda message: "\x0b" + message + "\x1c\r")
    with pytest.raises(Incorrect, match=r"returned a pandas DataFrame; it should return a list\.$"):
        Q.check(lambda message: pd.DataFrame({"segment": _segments(message)}))
    with pytest.raises(Incorrect, match=r"returned None; it should return a list\.$"):
        Q.check(lambda message: None if message.startswith("MSH") else _segments(message))


def test_a_function_that_never_returns_is_stopped_and_named():
    slow = function_question(
        grade_id="labxx_slow", title="QX slow", points=1, name="segments", parameters=("message",),
        reference=_segments, cases=lambda: [Case("an ADT", ("MSH|^~\\&|A\rPID|1\r",))],
        hints=("Return quickly.",), solution_code="def segments(message): ...", call_limit=0.5,
    )  # fmt: skip

    def segments(message):
        while True:
            with contextlib.suppress(Exception):  # swallowing errors does not outlast the limit
                time.sleep(0.05)

    started = time.monotonic()
    with pytest.raises(
        Incorrect, match=r"on an ADT, your function did not finish within 0\.5 s; the check stopped"
    ):
        slow.check(segments)
    assert time.monotonic() - started < 5


# Calls with fresh arguments (`calls_question`): what the function writes into them is compared too ==========


def _open(user: str, audit: list) -> str:
    """A toy break-the-glass: refuses nobody (PermissionError), a bad user name (ValueError); logs each open."""
    if not user:
        raise PermissionError("no user")
    if not user.isalpha():
        raise ValueError("bad user")
    audit.append({"user": user, "action": "open"})
    return f"record for {user}"


def _compare_open(got, expected, args, ref_args, label, title):
    if got != expected:
        raise Incorrect(f"{title}: on {label}, your function returned {got!r}.")
    if args[1] != ref_args[1]:
        raise Incorrect(
            f"{title}: on {label}, the audit list holds {args[1]!r}; it should hold {ref_args[1]!r}."
        )


OPEN = calls_question(
    grade_id="labxx_open", title="QX open", points=1, name="open_record", parameters=("user", "audit"),
    reference=_open,
    calls=lambda: [
        Call("alice, with an earlier entry", lambda: ("alice", [{"user": "bob", "action": "open"}])),
        Call("nobody", lambda: ("", [])),
        Call("a user name with digits", lambda: ("al1ce", [])),
    ],
    compare=_compare_open, refusals={PermissionError: PermissionError, ValueError: LookupError},
    hints=("Append to the audit list.",), solution_code="def open_record(user, audit): ...", call_limit=0.5,
)  # fmt: skip


def _open_right(user, audit):
    if not user:
        raise PermissionError("nobody")
    if not user.isalpha():
        raise KeyError(user)  # a LookupError, as the mapping asks
    audit.append({"user": user, "action": "open"})
    return f"record for {user}"


def test_a_fresh_argument_call_compares_what_was_written_into_it(capsys):
    OPEN.check(_open_right)
    assert capsys.readouterr().out == "Correct: QX open\n"

    def forgets_the_audit(user, audit):
        if not user:
            raise PermissionError
        if not user.isalpha():
            raise KeyError(user)
        return f"record for {user}"

    with pytest.raises(
        Incorrect, match=r"on alice, with an earlier entry, the audit list holds \[\{'user': 'bob'"
    ):
        OPEN.check(forgets_the_audit)

    def replaces_the_audit(user, audit):  # fresh arguments: the earlier entry is there for every call
        _open_right(user, audit)
        audit[:] = audit[-1:]
        return f"record for {user}"

    with pytest.raises(Incorrect, match="the audit list holds"):
        OPEN.check(replaces_the_audit)


def test_a_fresh_argument_call_maps_each_refusal_to_its_own_exception():
    with pytest.raises(
        Incorrect,
        match=r"^QX open: nobody should be refused with PermissionError, but your function returned ''\.$",
    ):
        OPEN.check(lambda user, audit: _open_right(user, audit) if user else "")
    with pytest.raises(
        Incorrect,
        match="a user name with digits should be refused with LookupError; your function raised ValueError",
    ):
        OPEN.check(lambda user, audit: _open(user, audit))  # the reference's ValueError is not what is asked
    with pytest.raises(
        Incorrect,
        match=r"^QX open: on nobody, your function did not finish within 0\.5 s; the check stopped it\.$",
    ):
        OPEN.check(lambda user, audit: _open_right(user, audit) if user else time.sleep(5))
    with pytest.raises(Incorrect, match=r"define `open_record\(user, audit\)`; yours takes \(user\)"):
        OPEN.check(lambda user: "")


# Calls against servers started per check (`live_question`): the servers always stop =========================


class _Server:
    """A stand-in for a loopback server: it records whether it was stopped."""

    def __init__(self) -> None:
        self.running = True

    def stop(self) -> None:
        self.running = False


def _same(got, expected, label, title):
    if got != expected:
        raise Incorrect(f"{title}: on {label}, got {got!r}.")


def _live(servers: list[_Server]):
    @contextlib.contextmanager
    def session():
        server = _Server()
        servers.append(server)
        try:
            yield [
                LiveCall("a good request", (server, "ok")),
                LiveCall(
                    "a forbidden request", (server, "no"), why=lambda: ("The server answered 403.", "403")
                ),
            ]
        finally:
            server.stop()

    def reference(server, what):
        if what == "no":
            raise PermissionError("403 forbidden")
        return "done"

    return live_question(
        grade_id="labxx_live", title="QX live", points=1, name="fetch", parameters=("server", "what"),
        reference=reference, session=session, refusals={PermissionError: PermissionError}, compare=_same,
        hints=("Raise PermissionError on 403.",), solution_code="def fetch(server, what): ...", call_limit=0.5,
    )  # fmt: skip


def test_a_live_call_stops_its_servers_even_when_the_function_raises(capsys):
    servers: list[_Server] = []
    question = _live(servers)

    def right(server, what):
        if what == "no":
            raise PermissionError("forbidden")
        return "done"

    question.check(right)
    assert capsys.readouterr().out == "Correct: QX live\n"

    def crashes(server, what):
        raise ZeroDivisionError("oops")

    with pytest.raises(
        Incorrect, match=r"^QX live: on a good request, your function raised ZeroDivisionError"
    ):
        question.check(crashes)
    assert len(servers) == 2 and not servers[-1].running

    def wrong_refusal(server, what):
        if what == "no":
            raise RuntimeError("it said no")
        return "done"

    with pytest.raises(
        Incorrect,
        match=r"should be refused with PermissionError; your function raised .* The server answered 403\.$",
    ):
        question.check(wrong_refusal)

    def quotes_the_server(server, what):
        if what == "no":
            raise RuntimeError("got 403")
        return "done"

    with pytest.raises(Incorrect) as caught:
        question.check(quotes_the_server)
    assert "The server answered 403." not in str(caught.value)  # the learner's own message already says it

    with pytest.raises(
        Incorrect,
        match=r"did not finish within 0\.5 s; the check stopped it \(set a timeout on every connection\)\.$",
    ):
        question.check(lambda server, what: time.sleep(5))
    assert len(servers) == 5
    assert not any(s.running for s in servers)
