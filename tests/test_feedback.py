"""What a learner sees when a check runs: in a real kernel (the notebook's outputs, which nbgrader's feedback
shows as they are) and from Python. Wrong answers show the check's message alone; errors in the learner's
own code keep their frames; undefined answers say why; a hanging answer is stopped; "Correct" includes the
edge cases, whose messages never name made-up ids."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from hitlab.checks import Incorrect, NotAttempted, lab00, lab02

ANSI = re.compile(r"\x1b\[[0-9;]*m")

CELLS = {
    "setup": "from hitlab.checks import lab00, lab03\nfrom hitlab.data import connect\n"
    "q4, q5, q8 = lab00.q4, lab00.q5, lab03.q8\ncon = connect()",
    "wrong": "patients_by_gender_sql = \"select GENDER, count(*) as patients from patients where GENDER = 'F' "
    'group by GENDER"\nq4.check()',
    "order": 'patients_by_gender_sql = "select count(*) as patients, GENDER from patients group by GENDER"\n'
    "q4.check()",
    "renamed": 'patients_by_gender_sql = "select GENDER, count(*) as n from patients group by GENDER"\nq4.check()',
    "frame": 'patients_by_gender_sql = con.sql("select GENDER, count(*) as patients from patients group by 1").df()\n'
    "q4.check()",
    "undefined": "q5.check()",
    "released_answer": "# YOUR CODE HERE\nraise NotImplementedError()",
    "released_test": "q5.check()",
    "syntax_answer": 'encounters_2024_sql = "select ENCOUNTERCLASS" +',
    "syntax_test": "q5.check()",
    "zero_answer": "encounters_2024_sql = 1 / 0",
    "zero_test": "q5.check()",
    "right": 'patients_by_gender_sql = "select GENDER, count(*) as patients from patients group by GENDER"\n'
    "q4.check()",
    "own_error": "def send_and_receive(host, port, message, timeout):\n    return helper(message)\n\n"
    "def helper(message):\n    return len(message) / 0\n\nq8.check()",
    "hangs": "# the reference without its timeout: a silent listener keeps it waiting forever\n"
    'exec(lab03.q8.solution_code.replace(", timeout=timeout", ""))\nq8.check()',
}


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """Run the cells above in a fresh kernel, as a learner would; each cell's outputs by name."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in CELLS.values()]
    path = tmp_path_factory.mktemp("feedback")
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(path)}}).execute()  # fmt: skip
    return {name: cell.outputs for name, cell in zip(CELLS, nb.cells, strict=True)}


def shown(outputs) -> str:
    """What the learner reads: the error's rendered lines (no colours) or the text printed."""
    parts = []
    for out in outputs:
        if out.output_type == "error":
            parts.append("\n".join(out.traceback))
        elif out.output_type == "stream":
            parts.append(out.text)
        elif "text/plain" in out.get("data", {}):
            parts.append(out.data["text/plain"])
    return ANSI.sub("", "\n".join(parts))


def error(outputs):
    return next(o for o in outputs if o.output_type == "error")


@pytest.mark.notebook
def test_a_wrong_answer_shows_the_message_alone(outputs):
    err = error(outputs["wrong"])
    assert err.ename == "Incorrect"
    assert shown(outputs["wrong"]) == ("Incorrect  Q4 patients by gender: 1 expected rows are missing.")
    assert "core.py" not in "".join(err.traceback) and "Traceback" not in "".join(err.traceback)


@pytest.mark.notebook
def test_wrong_shapes_get_a_sentence(outputs):
    assert shown(outputs["order"]) == (
        "Incorrect  Q4 patients by gender: your columns are (patients, GENDER); the exercise asks for "
        "(GENDER, patients), in that order."
    )
    assert shown(outputs["renamed"]) == (
        "Incorrect  Q4 patients by gender: your columns are (GENDER, n); the exercise asks for (GENDER, patients): "
        "`n` should be named `patients` (`... as patients`)."
    )
    assert shown(outputs["frame"]).startswith(
        "Incorrect  Q4 patients by gender: the query should be the SQL text (a string), but you gave a pandas "
        "DataFrame: the query's result, not the query."
    )


@pytest.mark.notebook
def test_an_undefined_answer_is_not_attempted_or_the_learners_own_error(outputs):
    assert error(outputs["undefined"]).ename == "NotAttempted"
    assert shown(outputs["undefined"]) == (
        "Not attempted  Q5 encounters by class in 2024: `encounters_2024_sql` is not defined: run the cell that "
        "sets it (Shift-Enter), then this one."
    )
    assert shown(outputs["released_test"]) == (
        "Not attempted  Q5 encounters by class in 2024: not attempted yet: replace `raise NotImplementedError()` "
        "in the answer cell with your answer (it sets `encounters_2024_sql`), run it, then this one."
    )
    assert error(outputs["syntax_answer"]).ename == "SyntaxError"
    assert shown(outputs["syntax_test"]) == (
        "Not attempted  Q5 encounters by class in 2024: `encounters_2024_sql` is not defined: the cell that sets "
        "it stopped with SyntaxError (line 1): invalid syntax. Fix it and run it again."
    )
    assert shown(outputs["zero_test"]) == (
        "Not attempted  Q5 encounters by class in 2024: `encounters_2024_sql` is not defined: the cell that sets "
        "it stopped with ZeroDivisionError (line 1): division by zero. Fix it and run it again."
    )
    for name in ("undefined", "released_test", "syntax_test", "zero_test"):
        assert "NameError" not in shown(outputs[name])


@pytest.mark.notebook
def test_a_right_answer_is_confirmed_in_green(outputs):
    (out,) = outputs["right"]
    assert out.output_type == "display_data"
    assert out.data["text/plain"] == "Correct: Q4 patients by gender"
    assert "Correct" in out.data["text/html"] and "#1a7f37" in out.data["text/html"]


@pytest.mark.notebook
def test_an_error_in_the_learners_code_keeps_only_their_frames(outputs):
    text = shown(outputs["own_error"])
    assert text.startswith("Incorrect  Q8 MLLP over a socket: on ")
    assert "your function raised ZeroDivisionError: division by zero" in text
    assert "Traceback (your code):" in text
    assert "in send_and_receive" in text and "in helper" in text and "return len(message) / 0" in text
    assert "hitlab" not in text.split("Traceback (your code):")[1]


@pytest.mark.notebook
def test_a_hanging_answer_is_stopped_and_said_so(outputs):
    text = shown(outputs["hangs"])
    assert text == (
        "Incorrect  Q8 MLLP over a socket: on a listener that never answers (timeout 0.3 s), your function did not "
        "finish within 10 s; the check stopped it (is it waiting for something that never comes, or looping?)."
    )


# -- from Python: edge cases and their messages -------------------------------------------------------------

MADE_UP_IDS = re.compile(r"'(?:[pmdb]\d?|e\d+)'")


@pytest.mark.parametrize(
    ("question", "answer", "case"),
    [
        (  # a stay still open ends at its START instead of the end of the as-of day
            lab02.q5,
            lab02.q5.solution_code.split('"""')[1].replace(
                "coalesce(STOP, timestamp '2026-01-01 00:00:00')", "coalesce(STOP, START)"
            ),
            "a stay with no STOP",
        ),
        (  # islands found by the previous stay's end only, not the latest end so far
            lab02.q5,
            lab02.q5.solution_code.split('"""')[1].replace(
                "max(stop) over (partition by PATIENT, ENCOUNTERCLASS order by START, stop\n"
                "                                              rows between unbounded preceding and 1 preceding)",
                "lag(stop) over (partition by PATIENT, ENCOUNTERCLASS order by START, stop)",
            ),
            "a short stay nested in a long one",
        ),
        (  # a drug stopped at the instant still counted as active
            lab02.q9,
            lab02.q9.solution_code.split('"""')[1].replace("STOP > ", "STOP >= "),
            "a drug stopped at 2025-07-01 00:00 exactly",
        ),
        (  # duplicates of a patient diagnosed twice
            lab02.q6,
            lab02.q6.solution_code.split('"""')[1].replace("select distinct c.PATIENT", "select c.PATIENT"),
            "a diabetic whose diagnosis is recorded twice",
        ),
    ],
    ids=["q5-open-stay", "q5-nested", "q9-stop-instant", "q6-duplicates"],
)
def test_correct_includes_the_edge_cases_described_by_what_they_are(question, answer, case, capsys):
    assert answer != question.solution_code.split('"""')[1], "the wrong variant differs from the solution"
    question.compare(question.prepare(answer), question.answer_key)  # right on the real data ...
    with pytest.raises(Incorrect) as err:  # ... and still not Correct
        question.check(answer)
    message = str(err.value)
    assert message.startswith(f"{question.title}, on made-up data with {case}")
    assert not MADE_UP_IDS.search(message), message
    assert "Correct" not in capsys.readouterr().out


def test_check_reads_the_answer_variable_from_the_callers_namespace(capsys):
    patients_by_gender_sql = "select GENDER, count(*) as patients from patients group by GENDER"  # noqa: F841
    with pytest.raises(NotAttempted, match="`patients_by_gender_sql` is not defined"):
        lab00.q4.check()  # a function's locals are not the notebook's namespace
    globals()["patients_by_gender_sql"] = "select GENDER, count(*) as patients from patients group by GENDER"
    try:
        lab00.q4.check()
    finally:
        del globals()["patients_by_gender_sql"]
    assert capsys.readouterr().out == "Correct: Q4 patients by gender\n"


@pytest.mark.notebook
def test_hitlab_check_shows_the_messages_and_no_kernel_noise(tmp_path):
    from hitlab.course.notebooks import answered, course_root, read, release_notebook, write

    lab = "lab00_orientation"
    nb = answered(
        read(release_notebook(course_root(), lab)),
        {
            "lab00_patients_by_gender": 'patients_by_gender_sql = "select GENDER, count(*) as n from patients '
            'group by GENDER"',
            "lab00_encounters_2024": 'encounters_2024_sql = "select ENCOUNTERCLASS" +',
        },
    )
    write(nb, tmp_path / f"{lab}.ipynb")
    env = {**os.environ, "HITLAB_HOME": str(tmp_path / "home"), "COLUMNS": "200"}
    run = subprocess.run(
        [str(Path(sys.executable).parent / "hitlab"), "check", str(tmp_path / f"{lab}.ipynb")],
        capture_output=True, text=True, env=env, timeout=300, check=True,
    )  # fmt: skip
    out = " ".join(run.stdout.split())  # the table wraps long messages
    assert "`n` should be named `patients`" in out
    assert "your answer cell lab00_encounters_2024 failed with SyntaxError" in out
    for noise in ("Traceback", "NameError", "without encryption", "WARNING"):
        assert noise not in run.stdout + run.stderr, noise
