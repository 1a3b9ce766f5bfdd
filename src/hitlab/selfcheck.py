"""``hitlab check NOTEBOOK``: grade a learner's own notebook the way an instructor's autograde would.

The notebook is copied into a scratch nbgrader course built from the lab's source (so the test cells are the
instructor's) and autograded in a fresh kernel; the learner's file is only read. Deleted or edited test cells are
reported and graded as the instructor wrote them, as nbgrader does.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hitlab.checks import questions
from hitlab.course.autograde import autograde
from hitlab.course.build import generate, nbgrader_api, scratch_course
from hitlab.course.notebooks import course_root, graded_cells, lab_names, read, source_notebook
from hitlab.course.submission import failure_messages, read_submission, tampering
from hitlab.errors import HitlabError, InputError
from hitlab.progress import record


@dataclass
class ItemResult:
    grade_id: str
    title: str
    score: float
    points: float
    message: str = ""
    hint: str = ""


@dataclass
class CheckReport:
    lab: str
    notebook: Path
    items: list[ItemResult] = field(default_factory=list)
    tampered: list[str] = field(default_factory=list)  # notes about deleted or edited graded cells

    @property
    def score(self) -> float:
        return sum(i.score for i in self.items)

    @property
    def max_score(self) -> float:
        return sum(i.points for i in self.items)


def _which_lab(root: Path, nb, path: Path) -> str:
    ids = {c.metadata.get("nbgrader", {}).get("grade_id", "") for c in nb.cells}
    prefixes = {i.split("_", 1)[0] for i in ids if i.startswith("lab")}
    labs = lab_names(root)
    for lab in labs:
        if lab.split("_", 1)[0] in prefixes or path.stem == lab:
            return lab
    raise InputError(f"not a notebook of a known lab (labs: {', '.join(labs)})", path=path)


EXAM_CHECK = (
    "in this course your notebook is graded when you submit it: the full tests are with your instructor. "
    "Each exercise's test cell (qN.check()) checks your answer's form meanwhile."
)


def check_notebook(path: str | Path, root: str | Path | None = None, save: bool = True) -> CheckReport:
    """Grade the notebook at ``path`` with the lab's full tests; record the score for ``hitlab progress``."""
    from hitlab.checks.core import exam_release

    if exam_release():  # the full tests are the course's, with the instructor
        raise HitlabError(EXAM_CHECK)
    path = Path(path).resolve()
    root = course_root(root)
    learner = read_submission(path)
    mock = learner.metadata.get("hitlab", {}).get("mock")
    if mock:
        raise InputError(f"a mock interview's notebook: grade it with `hitlab mock score {mock}`", path=path)
    lab = _which_lab(root, learner, path)
    source = read(source_notebook(root, lab))
    report = CheckReport(lab, path, tampered=tampering(source, learner))
    by_test = {f"{q.grade_id}_test": q for q in questions(lab)}
    with tempfile.TemporaryDirectory(prefix="hitlab-check-") as tmp:
        course = scratch_course(root, [lab], Path(tmp))
        generate(course, [lab])
        submitted = course / "graders" / "work" / "submitted" / "learner" / lab / f"{lab}.ipynb"
        submitted.parent.mkdir(parents=True)
        shutil.copyfile(path, submitted)
        graded = autograde(nbgrader_api(course, course / "graders" / "work" / "gradebook.db"), lab, "learner")
        if not graded.success:
            raise InputError(
                f"could not be graded: {graded.error.strip().splitlines()[-1] if graded.error else 'unknown error'}",
                path=path,
            )
        messages = failure_messages(
            course / "graders" / "work" / "autograded" / "learner" / lab / f"{lab}.ipynb"
        )
    for cell in graded_cells(source):
        if cell.kind != "test":
            continue
        q = by_test.get(cell.grade_id)
        score = graded.scores.get(cell.grade_id, 0.0)
        item = ItemResult(
            cell.grade_id.removesuffix("_test"), q.title if q else cell.grade_id, score, cell.points
        )
        if score < cell.points:
            item.message = messages.get(cell.grade_id, "")
            item.hint = q.hints[0] if q and q.hints else ""
        report.items.append(item)
    if save:
        record(
            lab,
            str(path),
            report.score,
            report.max_score,
            {i.grade_id: [i.score, i.points] for i in report.items},
        )
    return report
