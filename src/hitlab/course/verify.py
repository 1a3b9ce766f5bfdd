"""``hitlab course verify``: prove a lab's grading with real nbgrader autograde runs in a scratch course.

For each lab: the solution notebook earns full marks; the released notebook, untouched, earns zero; each
known-wrong answer declared in the lab's checks module loses exactly its item's points and nothing else; no
solution code or hidden-test text appears in labs/; labs/ equals what solutions/ generates.

Known-wrong answers are autograded several to a submission: one per question, and never two of questions that
share a name (one's answer defines what the other's cells use), so each still shows that it costs its own
item's points and no other item's (every item not answered wrongly must keep full marks); a lab takes as many
autograde runs as its question with the most known-wrong answers has, not one per wrong answer.

By default the kernels read the named datasets; with ``seeds`` they read those learners' dataset variants
(``$HITLAB_DATASET_SEED``, see :mod:`hitlab.data`), so that a lab whose expected answers are tied to one
population shows up.
"""

from __future__ import annotations

import ast
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
        names = {}  # student -> the wrong answers it holds, for messages
        for n, pack in enumerate(wrong_packs(qs, cells) if full else (), start=1):
            expected = dict(tests)
            answers = dict(correct)
            for q, k in pack:
                expected[f"{q.grade_id}_test"] = 0.0
                answers[q.grade_id] = q.wrong[k - 1]
            student = f"wrong-{n}"
            names[student] = f"{student} ({', '.join(f'{q.grade_id} wrong answer {k}' for q, k in pack)})"
            plans[student] = (answered(release, answers), expected)
        api = nbgrader_api(course, course / "graders" / "work" / "gradebook.db")
        for student, (nb, _expected) in plans.items():
            write(nb, course / "graders" / "work" / "submitted" / student / lab / f"{lab}.ipynb")
        for student, (_nb, expected) in plans.items():
            graded = autograde(api, lab, student)
            who = names.get(student, student)
            if not graded.success:
                report.problems.append(f"{who}: nbgrader autograde failed: {graded.error[-500:]}")
                continue
            got = report.runs[student] = graded.scores
            for gid, points in expected.items():
                if abs(got.get(gid, -1.0) - points) > 1e-9:
                    report.problems.append(f"{who}: {gid} scored {got.get(gid)} instead of {points:g}")
    return report


def _names(code: str) -> tuple[set[str], set[str]] | None:
    """The names a cell's code defines at module level (imports aside: a module is the same module whoever
    imports it) and every name it reads; None when it is not plain Python."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    defined: set[str] = set()

    def define(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                defined.add(node.name)
                continue
            targets = list(getattr(node, "targets", ())) + [t for t in (getattr(node, "target", None),) if t]
            targets += [item.optional_vars for item in getattr(node, "items", ()) if item.optional_vars]
            for target in targets:
                defined.update(
                    n.id for n in ast.walk(target) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
                )
            for block in ("body", "orelse", "finalbody"):
                define(getattr(node, block, []))
            for handler in getattr(node, "handlers", ()):
                define(handler.body)

    define(tree.body)
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return defined, used


def wrong_packs(qs, cells) -> list[list[tuple[object, int]]]:
    """The known-wrong answers ``(question, k)`` (``q.wrong[k - 1]``) grouped into submissions: at most one
    per question, and no two of questions whose cells share a name (the names one's answers define and the
    other's answer or test cell reads). A question whose code is not plain Python goes alone."""
    spans: dict[str, tuple[set[str], set[str]] | None] = {}
    for q in qs:
        sources = [solution_code(cells[q.grade_id].source), *q.wrong]
        test = cells.get(f"{q.grade_id}_test")
        parsed = [_names(code) for code in (*sources, test.source if test else "")]
        if any(p is None for p in parsed):
            spans[q.grade_id] = None
            continue
        defined = set().union(*(p[0] for p in parsed[:-1]))
        spans[q.grade_id] = (defined, set().union(*(p[1] for p in parsed)))

    def clash(a, b) -> bool:
        x, y = spans[a.grade_id], spans[b.grade_id]
        return x is None or y is None or bool(x[0] & y[1]) or bool(y[0] & x[1])

    packs: list[list[tuple[object, int]]] = []
    for q in qs:
        for k in range(1, len(q.wrong) + 1):
            home = next(
                (p for p in packs if all(other is not q and not clash(q, other) for other, _ in p)), None
            )
            if home is None:
                packs.append(home := [])
            home.append((q, k))
    return packs


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
