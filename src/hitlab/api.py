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
    "generate",
    "grade",
    "lint_labs",
    "load",
    "prepare_work",
    "progress_rows",
    "run_lab",
    "update_work",
    "verify_labs",
]


def progress_rows() -> list[tuple[str, str, str]]:
    """(lab, latest score, when) for every released lab."""
    from hitlab.course.notebooks import course_root

    labs_dir = course_root() / "labs"
    labs = sorted(p.name for p in labs_dir.iterdir() if p.is_dir()) if labs_dir.is_dir() else []
    return _progress_rows(labs)
