"""Scoring a mock interview: the coding and SQL items by the labs' own checks, written items by a person.

The candidate's notebook is graded as ``hitlab check`` grades a lab: copied into a scratch nbgrader course
whose source is the grader's copy of the same draw (solutions and hidden tests, rebuilt from the record), then
autograded in a fresh kernel; the candidate's file is only read. Written answers are never scored by the
machine: their points come from the candidate (``self``), a peer or an instructor, and the record says which.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import nbformat

from hitlab.errors import InputError
from hitlab.mock.attempts import ASSESSORS, Attempt, Result, save
from hitlab.mock.interview import notebook
from hitlab.mock.pool import Item, Pool

MOCK_ASSIGNMENT = "mock"


def written_answer(nb, item_id: str) -> str:
    """The candidate's text in the written cell ``item_id`` ("" if it still holds the placeholder)."""
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == item_id:
            text = cell.source.replace("YOUR ANSWER HERE", "").strip()
            return text
    return ""


def _autograde(pool: Pool, root: Path, attempt: Attempt, path: Path) -> dict[str, tuple[float, str]]:
    """Test grade id -> (points earned, why it failed) for the attempt's auto items."""
    from hitlab.course.autograde import autograde
    from hitlab.course.build import generate, nbgrader_api, scratch_course
    from hitlab.course.submission import failure_messages
    from hitlab.data import build_dataset, datasets_for

    for dataset in datasets_for({d.lab for d in attempt.items}):
        build_dataset(dataset)
    with tempfile.TemporaryDirectory(prefix="hitlab-mock-") as tmp:
        course = scratch_course(root, [], Path(tmp))
        source = course / "solutions" / MOCK_ASSIGNMENT / f"{MOCK_ASSIGNMENT}.ipynb"
        source.parent.mkdir(parents=True)
        nbformat.write(notebook(pool, attempt, solved=True), source)
        generate(course, [MOCK_ASSIGNMENT])
        submitted = course / "graders" / "work" / "submitted" / "candidate" / MOCK_ASSIGNMENT / source.name
        submitted.parent.mkdir(parents=True)
        shutil.copyfile(path, submitted)
        graded = autograde(
            nbgrader_api(course, course / "graders" / "work" / "gradebook.db"), MOCK_ASSIGNMENT, "candidate"
        )
        if not graded.success:
            last = graded.error.strip().splitlines()[-1] if graded.error.strip() else "unknown error"
            raise InputError(f"could not be graded: {last}", path=path)
        messages = failure_messages(
            course / "graders" / "work" / "autograded" / "candidate" / MOCK_ASSIGNMENT / source.name
        )
    return {gid: (score, messages.get(gid, "")) for gid, score in graded.scores.items()}


def score(
    pool: Pool,
    root: Path,
    attempt: Attempt,
    assessments: dict[str, float] | None = None,
    assessor: str = "self",
    ask: Callable[[Item, str], float | None] | None = None,
    regrade: bool = True,
) -> Attempt:
    """Grade ``attempt``'s auto items (unless ``regrade`` is off and they are graded already), record the
    written items' points from ``assessments`` (item id -> points) or from ``ask(item, answer)``, and save."""
    from hitlab.course.submission import read_submission

    if assessor not in ASSESSORS:
        raise InputError(f"the assessor is one of {', '.join(ASSESSORS)}, not {assessor!r}")
    drawn = {d.id: d for d in attempt.items}
    missing = [d.id for d in attempt.items if d.id not in pool.items]
    if missing:
        raise InputError(f"attempt {attempt.id}: the pool no longer has {', '.join(missing)}")
    assessments = dict(assessments or {})
    for item_id, points in assessments.items():
        d = drawn.get(item_id)
        if d is None or d.kind != "written":
            written = [x.id for x in attempt.items if x.kind == "written"]
            raise InputError(
                f"{item_id!r} is not a written question of attempt {attempt.id} "
                f"(its written questions: {', '.join(written) or 'none'})"
            )
        if not 0 <= points <= d.points:
            raise InputError(f"{item_id}: points are between 0 and {d.points:g}, not {points:g}")
    path = root / attempt.notebook
    nb = read_submission(path)
    if nb.metadata.get("hitlab", {}).get("mock") != attempt.id:
        raise InputError(f"not the notebook of mock interview {attempt.id}", path=path)
    auto = [d for d in attempt.items if d.kind == "auto"]
    if auto and (regrade or any(d.id not in attempt.results for d in auto)):
        graded = _autograde(pool, root, attempt, path)
        for d in auto:
            earned, message = graded.get(f"{d.id}_test", (0.0, "not graded"))
            attempt.results[d.id] = Result(earned, d.points, "checks", message)
    for d in attempt.items:
        if d.kind != "written":
            continue
        points = assessments.get(d.id)
        if points is None and ask is not None:
            points = ask(pool.items[d.id], written_answer(nb, d.id))
        if points is not None:
            attempt.results[d.id] = Result(float(points), d.points, assessor)
    saved = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    attempt.elapsed_minutes = round((saved - datetime.fromisoformat(attempt.started)).total_seconds() / 60, 1)
    attempt.scored = datetime.now(UTC).replace(microsecond=0).isoformat()
    save(attempt)
    return attempt
