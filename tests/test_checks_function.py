"""Function questions: the learner's named function is called on every case and compared with the reference;
inputs the reference refuses must be refused too; messages name the case."""

from __future__ import annotations

import pytest

from hitlab.checks import Incorrect
from hitlab.checks.function import Case, function_question


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
    import contextlib
    import time

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
