"""Every question of every lab: its solution and alternative answers pass, its known-wrong answers fail with
a message, and a placeholder counts as not attempted."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from hitlab.checks import Incorrect, NotAttempted, questions
from hitlab.checks.core import compare_rows

LABS = sorted(p.name for p in (Path(__file__).parents[1] / "solutions").iterdir() if p.is_dir())
QUESTIONS = [(lab, q) for lab in LABS for q in questions(lab)]
IDS = [q.grade_id for _lab, q in QUESTIONS]


def answer_of(q, code: str):
    namespace: dict = {}
    exec(code, namespace)
    return namespace[q.variable]


@pytest.mark.parametrize(("lab", "q"), QUESTIONS, ids=IDS)
def test_solution_and_alternatives_pass(lab, q, capsys):
    assert q.alternatives, "every question is tested with at least one alternative correct answer"
    for code in (q.solution_code, *q.alternatives):
        q.check(answer_of(q, code))
        assert capsys.readouterr().out.strip() == f"Correct: {q.title}"


@pytest.mark.parametrize(("lab", "q"), QUESTIONS, ids=IDS)
def test_known_wrong_answers_fail_with_a_message(lab, q):
    assert q.wrong, "every question declares at least one known-wrong answer"
    for code in q.wrong:
        with pytest.raises(Incorrect) as err:
            q.check(answer_of(q, code))
        assert str(err.value).startswith(q.title)


@pytest.mark.parametrize(("lab", "q"), QUESTIONS, ids=IDS)
def test_placeholder_is_not_attempted_and_help_prints(lab, q, capsys):
    with pytest.raises(NotAttempted, match="not attempted"):
        q.check(...)
    q.hint()
    q.hint(len(q.hints))
    q.solution()
    out = capsys.readouterr().out
    assert out.startswith("Hint 1/") and q.solution_code in out


def test_row_comparison_names_the_problem_without_the_answer():
    expected = [("F", 10), ("M", 12)]
    compare_rows([("M", 12), ("F", 10)], expected, columns=("GENDER", "n"))
    with pytest.raises(Incorrect, match=r"for GENDER = 'M', column n is 13, which is not right"):
        compare_rows([("F", 10), ("M", 13)], expected, columns=("GENDER", "n"))
    with pytest.raises(Incorrect, match=r"the row with GENDER = 'X' should not be there"):
        compare_rows([("F", 10), ("X", 12)], expected, columns=("GENDER", "n"))
    with pytest.raises(Incorrect, match=r"1 expected rows are missing\.$"):
        compare_rows([("F", 10)], expected, columns=("GENDER", "n"))
    with pytest.raises(Incorrect, match=r"expected 2 columns \(GENDER, n\), got 1"):
        compare_rows([("F",)], expected, columns=("GENDER", "n"))
    compare_rows([("F", 10.0000000001)], [("F", 10)], columns=("GENDER", "n"))
    compare_rows([("F", Decimal("10.50"))], [("F", 10.5)], columns=("GENDER", "n"))
    bridge = [("e1", "I10", 0.5), ("e1", "E11.9", 0.5)]
    with pytest.raises(Incorrect, match=r"for encounter = 'e1', code = 'E11.9', column weight is 1, which"):
        compare_rows(
            [("e1", "I10", 0.5), ("e1", "E11.9", 1.0)],
            bridge,
            columns=("encounter", "code", "weight"),
            key_columns=2,
        )
    with pytest.raises(Incorrect, match=r"column rate is 0.2, which is not right"):
        compare_rows([(10, 2, 0.2)], [(10, 2, 0.25)], columns=("index_stays", "readmissions", "rate"))
    with pytest.raises(Incorrect, match=r"row 1, column GENDER"):
        compare_rows([("M", 12), ("F", 10)], expected, columns=("GENDER", "n"), ordered=True)
