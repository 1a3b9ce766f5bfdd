"""``hitlab course lint``: the rules every lab source notebook follows, checked before anything is graded."""

from __future__ import annotations

import re
from pathlib import Path

from hitlab.checks import questions
from hitlab.course.notebooks import course_root, graded_cells, lab_names, read, source_notebook

DOCSTRING = re.compile(r'^(?:"""|\'\'\').+?(?:"""|\'\'\')\s*$')
BARE_NUMBER = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")


def lint_lab(root: Path, lab: str) -> list[str]:
    """Problems in one lab's source notebook and checks module, each naming the cell or question."""
    nb = read(source_notebook(root, lab))
    where = f"solutions/{lab}"
    problems = []
    number = lab[:5]
    cells = graded_cells(nb)
    seen: dict[str, int] = {}
    for c in cells:
        if c.grade_id in seen:
            problems.append(
                f"{where}: grade_id {c.grade_id!r} used by cells {seen[c.grade_id]} and {c.index}"
            )
        seen[c.grade_id] = c.index
        if not re.fullmatch(rf"{number}_[a-z0-9_]+", c.grade_id):
            problems.append(
                f"{where}: cell {c.index} grade_id {c.grade_id!r} is not of the form {number}_<what>"
            )
        if c.kind in ("test", "manual") and not c.points > 0:
            problems.append(f"{where}: graded cell {c.grade_id!r} has no points")
        if c.kind == "test":
            if not c.locked:
                problems.append(f"{where}: test cell {c.grade_id!r} is not locked")
            lines = [line for line in c.source.splitlines() if line.strip()]
            if not lines or not DOCSTRING.match(lines[0]):
                problems.append(f"{where}: test cell {c.grade_id!r} does not open with a one-line docstring")
            if lines and BARE_NUMBER.match(lines[-1].strip()):
                problems.append(
                    f"{where}: test cell {c.grade_id!r} ends with a bare number (nbgrader would read it as partial credit)"
                )
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count")):
            problems.append(f"{where}: cell {i} has outputs or an execution count")
    try:
        qs = questions(lab)
    except KeyError as err:
        return [*problems, f"{where}: {err.args[0]}"]
    by_id = {c.grade_id: c for c in cells}
    answer_ids = {c.grade_id for c in cells if c.kind == "answer"}
    for q in qs:
        if q.grade_id not in answer_ids:
            problems.append(f"hitlab.checks.{number}: {q.grade_id} has no answer cell in the notebook")
        test = by_id.get(f"{q.grade_id}_test")
        if test is None or test.kind != "test":
            problems.append(f"hitlab.checks.{number}: {q.grade_id} has no test cell {q.grade_id}_test")
        elif test.points != q.points:
            problems.append(
                f"{where}: {q.grade_id}_test has {test.points:g} points, the check says {q.points}"
            )
        if not q.hints:
            problems.append(f"hitlab.checks.{number}: {q.grade_id} has no hints")
        if not q.solution_code.strip():
            problems.append(f"hitlab.checks.{number}: {q.grade_id} has no solution")
        if not q.wrong:
            problems.append(f"hitlab.checks.{number}: {q.grade_id} declares no known-wrong answer")
    checked = {q.grade_id for q in qs}
    for gid in sorted(answer_ids - checked):
        problems.append(f"{where}: answer cell {gid!r} has no question in hitlab.checks.{number}")
    return problems


def lint(labs: list[str] | tuple[str, ...] | None = None, root: str | Path | None = None) -> list[str]:
    """Every problem in the named labs (all by default); an empty list means clean."""
    root = course_root(root)
    return [p for lab in lab_names(root, labs) for p in lint_lab(root, lab)]
