"""Synthetic cohorts for trying and measuring the grading pipeline: an nbgrader ``submitted/`` tree of
correct, partly wrong and blank submissions made from the released notebooks, the solutions and each
question's known-wrong answers, with the autograded score each one must get."""

from __future__ import annotations

import random
from pathlib import Path

from hitlab.checks import questions
from hitlab.course.notebooks import (
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


def make_cohort(
    out: str | Path,
    labs: list[str] | None = None,
    per_lab: int = 20,
    seed: int = 1,
    root: str | Path | None = None,
) -> dict[tuple[str, str], dict[str, float]]:
    """Write ``per_lab`` submissions of each lab to ``out/<student>/<lab>/<lab>.ipynb``: the first correct, the
    second blank, the rest with each question answered wrongly (its first known-wrong answer) with
    probability 0.3. Returns the expected autograded score of every test cell: ``(student, lab) -> scores``."""
    root = course_root(root)
    rng = random.Random(seed)
    expected: dict[tuple[str, str], dict[str, float]] = {}
    for lab in lab_names(root, labs):
        cells = graded_cells(read(source_notebook(root, lab)))
        tests = {c.grade_id: c.points for c in cells if c.kind == "test"}
        correct = {c.grade_id: solution_code(c.source) for c in cells if c.kind == "answer"}
        release = read(release_notebook(root, lab))
        wrongable = [q for q in questions(lab) if q.wrong]
        for n in range(per_lab):
            student = f"s{n + 1:03d}"
            if n == 1:
                nb, scores = release, dict.fromkeys(tests, 0.0)
            else:
                wrong = [] if n == 0 else [q for q in wrongable if rng.random() < 0.3]
                answers = {**correct, **{q.grade_id: q.wrong[0] for q in wrong}}
                nb = answered(release, answers)
                scores = {**tests, **{f"{q.grade_id}_test": 0.0 for q in wrong}}
            write(nb, Path(out) / student / lab / f"{lab}.ipynb")
            expected[(student, lab)] = scores
    return expected
