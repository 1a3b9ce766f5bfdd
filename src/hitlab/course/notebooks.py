"""Where the labs live and what their cells are, as the course pipeline sees them."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from hitlab.errors import HitlabError
from hitlab.labserver import repo_root

RUBRIC = re.compile(r"^\*\*Rubric\*\*", re.M)  # a written question's rubric: from here to the cell's end


def split_rubric(cell) -> tuple[str, str]:
    """A markdown cell's text before its rubric, and the rubric (from "**Rubric**" to the end; "" if none)."""
    match = RUBRIC.search(cell.source) if cell.cell_type == "markdown" else None
    if match is None:
        return cell.source, ""
    return cell.source[: match.start()].rstrip() + "\n", cell.source[match.start() :].strip()


LAB_NAME = re.compile(r"^lab\d\d_[a-z0-9_]+$")


class CourseError(HitlabError):
    """A lab or the course cannot be built, linted or verified."""


def course_root(root: str | Path | None = None) -> Path:
    return Path(root).resolve() if root is not None else repo_root()


def lab_names(root: Path, labs: list[str] | tuple[str, ...] | None = None) -> list[str]:
    """The labs in ``solutions/`` (all, or those named; ``lab01`` names ``lab01_ehr_data_modeling``)."""
    available = sorted(
        p.name for p in (root / "solutions").iterdir() if p.is_dir() and LAB_NAME.match(p.name)
    )
    if not labs:
        return available
    chosen = []
    for lab in labs:
        match = [a for a in available if a == lab or a.split("_", 1)[0] == lab]
        if not match:
            raise CourseError(
                f"no lab {lab!r} in {root / 'solutions'}; labs: {', '.join(available) or 'none'}"
            )
        chosen.extend(m for m in match if m not in chosen)
    return chosen


def source_notebook(root: Path, lab: str) -> Path:
    return root / "solutions" / lab / f"{lab}.ipynb"


def release_notebook(root: Path, lab: str) -> Path:
    return root / "labs" / lab / f"{lab}.ipynb"


def read(path: Path):
    try:
        return nbformat.read(path, as_version=4)
    except FileNotFoundError:
        raise CourseError(f"{path}: no such notebook") from None


def clear_outputs(cell) -> None:
    """Remove a code cell's outputs and execution count (other cells have none)."""
    if cell.cell_type == "code":
        cell.outputs = []
        cell.execution_count = None


def write(nb, path: Path) -> None:
    """Write deterministically: no outputs, no execution counts, nbformat's sorted, indented JSON."""
    for cell in nb.cells:
        clear_outputs(cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")


@dataclass(frozen=True)
class Cell:
    index: int
    grade_id: str
    kind: str  # "answer" (autograded answer), "test" (autograded tests), "manual" (written answer), "other"
    points: float
    locked: bool
    cell_type: str
    source: str


def graded_cells(nb) -> list[Cell]:
    out = []
    for i, cell in enumerate(nb.cells):
        meta = cell.metadata.get("nbgrader")
        if not meta or not meta.get("grade_id"):
            continue
        solution, grade = meta.get("solution", False), meta.get("grade", False)
        if solution and grade:
            kind = "manual"
        elif solution:
            kind = "answer"
        elif grade:
            kind = "test"
        else:
            kind = "other"
        out.append(
            Cell(
                i,
                meta["grade_id"],
                kind,
                float(meta.get("points", 0) or 0),
                bool(meta.get("locked")),
                cell.cell_type,
                cell.source,
            )
        )
    return out


SOLUTION_BLOCK = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION\n?", re.S)
HIDDEN_BLOCK = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS\n?", re.S)


def solution_code(source: str) -> str:
    """The answer-cell source a correct learner would have: the solution blocks without their markers."""
    return SOLUTION_BLOCK.sub(lambda m: m.group(1), source).strip() + "\n"


def answered(release_nb, answers: dict[str, str]):
    """A copy of the released notebook with the answer cells named in ``answers`` (grade id -> source) filled."""
    nb = copy.deepcopy(release_nb)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
    return nb
