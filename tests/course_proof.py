"""The grading proof of one lab (a helper for the tests, not a test): run where the lab's own tests run, so the
suite's workers share the labs' long ``hitlab course verify`` runs instead of one worker taking them all."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from hitlab.checks.core import Incorrect
from hitlab.course import verify

TESTS = Path(__file__).resolve().parent


def prove_grading(lab: str) -> None:
    """Solution: full marks; released: zero; each known-wrong answer: loses exactly its points."""
    (report,) = verify([lab])
    assert report.ok, report.summary()
    assert report.runs["solution"] and sum(report.runs["solution"].values()) == report.max_auto > 0
    assert sum(report.runs["released"].values()) == 0
    assert any(name.startswith("wrong-") for name in report.runs)


def proven_in_own_file(lab: str) -> bool:
    """Whether ``tests/test_labNN.py`` proves ``lab`` itself (with :func:`prove_grading`)."""
    own = TESTS / f"test_{lab[:5]}.py"
    return own.is_file() and f'prove_grading("{lab[:5]}")' in own.read_text()


def define(code: str, **names) -> dict:
    """Run an answer cell's source (its solution markers dropped) in a fresh namespace holding ``names``."""
    namespace = dict(names)
    exec(code.replace("### BEGIN SOLUTION\n", "").replace("\n### END SOLUTION", ""), namespace)
    return namespace


def prove_answers(q, capsys, define: Callable[[str], dict] = define) -> None:
    """Question ``q``'s worked answer and alternatives are correct; each known-wrong answer is Incorrect."""
    for code in (q.solution_code, *q.alternatives):
        q.check(define(code)[q.variable])
        assert capsys.readouterr().out.startswith("Correct:")
    assert q.wrong
    for wrong in q.wrong:
        with pytest.raises(Incorrect):
            q.check(define(wrong)[q.variable])


def run_release(release: Path, folder: Path) -> str:
    """Run a lab's untouched release top to bottom in a fresh kernel (in ``folder``): errors only in exercise
    cells (answers not written, their checks), as a learner who runs it first sees; the text it printed."""
    nb = nbformat.read(release, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(folder)}}).execute()  # fmt: skip
    failed = {
        c.id for c in nb.cells if c.cell_type == "code" and any(o.output_type == "error" for o in c.outputs)
    }
    exercises = {c.id for c in nb.cells if "nbgrader" in c.metadata}
    assert failed and failed <= exercises
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
