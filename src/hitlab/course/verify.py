"""``hitlab course verify``: prove a lab's grading with real nbgrader autograde runs in a scratch course.

For each lab: the solution notebook earns full marks; the released notebook, untouched, earns zero; each
known-wrong answer declared in the lab's checks module loses exactly its item's points and nothing else; no
solution code or hidden-test text appears in labs/; labs/ equals what solutions/ generates.

By default the kernels read the named datasets; with ``seeds`` they read those learners' dataset variants
(``$HITLAB_DATASET_SEED``, see :mod:`hitlab.data`), so that a lab whose expected answers are tied to one
population shows up.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from hitlab.checks import questions
from hitlab.course.autograde import autograde
from hitlab.course.build import generate, nbgrader_api, scratch_course
from hitlab.course.notebooks import (
    HIDDEN_BLOCK,
    SOLUTION_BLOCK,
    answered,
    course_root,
    graded_cells,
    lab_names,
    read,
    release_notebook,
    solution_code,
    source_notebook,
    write,
)
from hitlab.data import SEED_ENV, build_variant, datasets_for


@dataclass
class LabVerification:
    lab: str
    max_auto: float = 0.0
    runs: dict[str, dict[str, float]] = field(default_factory=dict)  # student -> test grade_id -> score
    problems: list[str] = field(default_factory=list)
    seed: int | None = None  # the dataset variant the kernels read; None: the named datasets

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        on = f", dataset variant {self.seed}" if self.seed is not None else ""
        head = f"{self.lab}: {'ok' if self.ok else 'FAILED'} ({len(self.runs)} autograded submissions, {self.max_auto:g} points{on})"
        return "\n".join([head, *(f"  - {p}" for p in self.problems)])


def _leaks(source_nb, release_nb) -> list[str]:
    """Solution or hidden-test lines of the source that appear in the released notebook."""
    released = "\n".join(c.source for c in release_nb.cells)
    problems = [
        f"marker {m!r} left in labs/"
        for m in ("BEGIN SOLUTION", "HIDDEN TESTS", "MARK SCHEME")
        if m in released
    ]
    released_lines = {line.strip() for line in released.splitlines()}
    problems += [
        f"solution or hidden-test text in labs/: {line[:60]!r}"
        for line in sorted(secret_lines(source_nb) & released_lines)
    ]
    return problems


def secret_lines(source_nb) -> set[str]:
    """The distinctive lines (stripped, 12 characters or more, not comments) of a source notebook's solution and
    hidden-test blocks: none of them may appear in anything released."""
    found = set()
    for cell in source_nb.cells:
        for block in (*SOLUTION_BLOCK.findall(cell.source + "\n"), *HIDDEN_BLOCK.findall(cell.source + "\n")):
            for line in block.splitlines():
                line = line.strip()
                if len(line) >= 12 and not line.startswith("#"):
                    found.add(line)
    return found


@contextmanager
def datasets_of(seed: int | None):
    """Kernels started inside read variant ``seed``'s datasets (None: the named ones, even with a key)."""
    before = os.environ.get(SEED_ENV)
    os.environ[SEED_ENV] = "named" if seed is None else str(seed)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(SEED_ENV, None)
        else:
            os.environ[SEED_ENV] = before


def verify_lab(root: Path, lab: str, seed: int | None = None, full: bool = True) -> LabVerification:
    """Verify ``lab`` on dataset variant ``seed`` (None: the named datasets); ``full=False`` autogrades the
    solution alone (the released notebook and the known-wrong answers are left out)."""
    if seed is not None:
        build_variant(seed, datasets_for([lab]))  # before any kernel, whose cells have time limits
    with datasets_of(seed):
        return _verify_lab(root, lab, LabVerification(lab, seed=seed), full)


def _verify_lab(root: Path, lab: str, report: LabVerification, full: bool) -> LabVerification:
    source = read(source_notebook(root, lab))
    cells = {c.grade_id: c for c in graded_cells(source)}
    tests = {gid: c.points for gid, c in cells.items() if c.kind == "test"}
    report.max_auto = sum(tests.values())
    qs = questions(lab)
    with tempfile.TemporaryDirectory(prefix=f"hitlab-verify-{lab}-") as tmp:
        course = scratch_course(root, [lab], Path(tmp))
        generate(course, [lab])
        built = release_notebook(course, lab)
        committed = release_notebook(root, lab)
        if not committed.exists():
            report.problems.append(f"{committed.relative_to(root)} is missing: run `make labs`")
        elif built.read_bytes() != committed.read_bytes():
            report.problems.append(
                f"{committed.relative_to(root)} differs from what solutions/ generates: run `make labs`"
            )
        release = read(built)
        report.problems += _leaks(source, read(committed) if committed.exists() else release)

        correct = {gid: solution_code(c.source) for gid, c in cells.items() if c.kind == "answer"}
        plans: dict[str, tuple[object, dict[str, float]]] = {"solution": (source, dict(tests))}
        if full:
            plans["released"] = (release, dict.fromkeys(tests, 0.0))
        for q in qs if full else ():
            test_id = f"{q.grade_id}_test"
            for k, wrong in enumerate(q.wrong, start=1):
                expected = dict(tests)
                expected[test_id] = 0.0
                plans[f"wrong-{q.grade_id}-{k}"] = (
                    answered(release, {**correct, q.grade_id: wrong}),
                    expected,
                )
        api = nbgrader_api(course, course / "graders" / "work" / "gradebook.db")
        for student, (nb, _expected) in plans.items():
            write(nb, course / "graders" / "work" / "submitted" / student / lab / f"{lab}.ipynb")
        for student, (_nb, expected) in plans.items():
            graded = autograde(api, lab, student)
            if not graded.success:
                report.problems.append(f"{student}: nbgrader autograde failed: {graded.error[-500:]}")
                continue
            got = report.runs[student] = graded.scores
            for gid, points in expected.items():
                if abs(got.get(gid, -1.0) - points) > 1e-9:
                    report.problems.append(f"{student}: {gid} scored {got.get(gid)} instead of {points:g}")
    return report


def verify(
    labs: list[str] | tuple[str, ...] | None = None,
    root: str | Path | None = None,
    seeds: Iterable[int | None] = (None,),
    full: bool = True,
) -> list[LabVerification]:
    """Verify each lab (all by default) on each dataset variant of ``seeds`` (None: the named datasets); see
    the module docstring for what is proven, and :func:`verify_lab` for ``full``."""
    root = course_root(root)
    names = lab_names(root, labs)
    return [verify_lab(root, lab, seed, full) for seed in seeds for lab in names]
