"""Self-study grading: `hitlab check` grades a learner's notebook with the full tests and never changes it;
`hitlab progress` shows the latest score per lab; bad files get clear messages."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from hitlab.cli import main
from hitlab.course.notebooks import read, solution_code, write
from hitlab.errors import InputError
from hitlab.selfcheck import check_notebook

ROOT = Path(__file__).parents[1]
LAB = "lab00_orientation"
RELEASED = ROOT / "labs" / LAB / f"{LAB}.ipynb"
SOURCE = ROOT / "solutions" / LAB / f"{LAB}.ipynb"

pytestmark = pytest.mark.notebook


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HITLAB_HOME", str(tmp_path / "home"))


def learner_copy(tmp_path: Path, solved: set[str] | None = None, drop_test: str | None = None) -> Path:
    """The released notebook with the answers of ``solved`` grade ids filled in (all if None)."""
    nb = read(RELEASED)
    source = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in read(SOURCE).cells}
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if (
            cell.cell_type == "code"
            and cell.metadata.get("nbgrader", {}).get("solution")
            and (solved is None or gid in solved)
        ):
            cell.source = solution_code(source[gid])
    if drop_test:
        nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != drop_test]
    path = tmp_path / "mine.ipynb"
    write(nb, path)
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_blank_partly_and_fully_solved(tmp_path):
    blank = tmp_path / "blank.ipynb"
    blank.write_bytes(RELEASED.read_bytes())
    before = digest(blank)
    report = check_notebook(blank)
    assert (report.score, report.max_score) == (0, 10)
    assert digest(blank) == before
    assert all(i.message.startswith("not attempted yet") and i.hint for i in report.items)

    partly = learner_copy(tmp_path, solved={"lab00_standards_body", "lab00_patients_by_gender"})
    report = check_notebook(partly)
    assert report.score == 3
    assert {i.grade_id for i in report.items if i.score == i.points} == {
        "lab00_standards_body",
        "lab00_patients_by_gender",
    }

    full = learner_copy(tmp_path)
    before = digest(full)
    report = check_notebook(full)
    assert report.score == report.max_score == 10 and not report.tampered
    assert digest(full) == before

    result = CliRunner().invoke(main, ["progress"])
    assert result.exit_code == 0 and "10 / 10" in result.output and LAB in result.output
    stored = json.loads((tmp_path / "home" / "progress.json").read_text())
    assert stored[LAB]["score"] == 10


def test_deleted_and_edited_test_cells_are_reported_and_restored(tmp_path):
    path = learner_copy(tmp_path, drop_test="lab00_hie_test")
    nb = read(path)
    test = next(
        c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "lab00_standards_body_test"
    )
    test.source = '"""Checks nothing."""\npass'
    answer = next(
        c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "lab00_standards_body"
    )
    answer.source = 'standards_body = "A"'
    write(nb, path)
    report = check_notebook(path)
    assert report.tampered == [
        "test cell lab00_standards_body_test was edited; graded as the instructor wrote it",
        "test cell lab00_hie_test was deleted; it was put back for grading",
    ]
    assert report.score == 9  # the edited test still ran as written: the wrong answer lost its point


def test_bad_files_get_clear_messages(tmp_path):
    text = tmp_path / "notes.ipynb"
    text.write_text("these are my notes, not a notebook")
    with pytest.raises(InputError, match=r"notes.ipynb, line 1: not a notebook: invalid JSON"):
        check_notebook(text)
    other = tmp_path / "other.ipynb"
    other.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    with pytest.raises(InputError, match=r"other.ipynb: not a notebook of a known lab"):
        check_notebook(other)
    binary = tmp_path / "binary.ipynb"
    binary.write_bytes(b"\xff\xfe\x00junk")
    result = CliRunner().invoke(main, ["check", str(binary)])
    assert result.exit_code == 2 and "not UTF-8" in result.output
    result = CliRunner().invoke(main, ["check", str(tmp_path / "missing.ipynb")])
    assert result.exit_code == 2 and "no such file" in result.output
