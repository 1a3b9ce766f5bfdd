"""The curated public Python API of hitlab; the ``hitlab`` command line mirrors it one to one."""

from __future__ import annotations

from hitlab.course import build as build_labs
from hitlab.course import lint as lint_labs
from hitlab.course import verify as verify_labs
from hitlab.data import build_dataset, connect, dataset_dir
from hitlab.grading import GradingRun, collect, grade
from hitlab.labserver import run_lab
from hitlab.load import LoadReport, load
from hitlab.progress import progress_rows as _progress_rows
from hitlab.selfcheck import CheckReport, check_notebook
from hitlab.synth import generate
from hitlab.work import prepare as prepare_work
from hitlab.work import update as update_work

__all__ = [
    "CheckReport",
    "GradingRun",
    "LoadReport",
    "build_dataset",
    "build_labs",
    "check_notebook",
    "collect",
    "connect",
    "dataset_dir",
    "find_mock",
    "generate",
    "grade",
    "interviewer_sheet",
    "lint_labs",
    "load",
    "mock_pool",
    "mock_progress",
    "prepare_work",
    "progress_rows",
    "run_lab",
    "score_mock",
    "start_mock",
    "update_work",
    "verify_labs",
]


def progress_rows() -> list[tuple[str, str, str]]:
    """(lab, latest score, when) for every released lab."""
    from hitlab.course.notebooks import course_root

    labs_dir = course_root() / "labs"
    labs = sorted(p.name for p in labs_dir.iterdir() if p.is_dir()) if labs_dir.is_dir() else []
    return _progress_rows(labs)


# -- mock interviews ---------------------------------------------------------------------------------------------


def mock_pool():
    """The mock interview's question pool of this workbook (:class:`hitlab.mock.pool.Pool`)."""
    from hitlab.course.notebooks import course_root
    from hitlab.mock.pool import load_pool

    return load_pool(course_root())


def start_mock(track: str, minutes: int, seed: int | None = None):
    """Draw a mock interview for ``track`` lasting ``minutes``; write its notebook under ``work/mock/`` and
    record the attempt. Returns (attempt, notebook path)."""
    from hitlab.course.notebooks import course_root
    from hitlab.mock import attempts
    from hitlab.mock.interview import start

    history, _damaged = attempts.load_all()
    return start(mock_pool(), course_root(), track, minutes, history, seed)


def find_mock(attempt_id: str | None = None):
    """The recorded attempt ``attempt_id`` (default: the latest)."""
    from hitlab.mock import attempts

    return attempts.load(attempt_id) if attempt_id else attempts.latest()


def score_mock(
    attempt_id: str | None = None, points=None, assessor: str = "self", ask=None, regrade: bool = True
):
    """Grade a mock interview's coding items with the labs' checks and record the assessed written items
    (``points``: item id -> points, or ``ask(item, answer)`` for each); returns the attempt."""
    from hitlab.course.notebooks import course_root
    from hitlab.mock.scoring import score

    return score(mock_pool(), course_root(), find_mock(attempt_id), points, assessor, ask, regrade)


def interviewer_sheet(attempt_id: str | None = None, as_html: bool = False) -> str:
    """The interviewer's sheet of a drawn attempt (default: the latest), as Markdown or HTML."""
    from hitlab.mock.sheet import html_sheet, markdown_sheet

    attempt = find_mock(attempt_id)
    return (html_sheet if as_html else markdown_sheet)(mock_pool(), attempt)


def mock_progress():
    """(topic progress oldest first, the weakest topics, the attempts, the damaged records)."""
    from hitlab.mock import attempts
    from hitlab.mock.topics import topic_progress, weakest

    done, damaged = attempts.load_all()
    scored = [a for a in done if a.results]
    progress = topic_progress(scored)
    return progress, weakest(progress), done, damaged
