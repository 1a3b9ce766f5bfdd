"""What a learner handed in: reading it safely, noticing tampering with graded cells, and reading the
failures back from nbgrader's autograded copy."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat

from hitlab.course.notebooks import HIDDEN_BLOCK, graded_cells
from hitlab.errors import InputError


def read_submission(path: Path):
    """A learner's notebook, or an :class:`InputError` naming the file and what is wrong with it."""
    if not path.is_file():
        raise InputError("no such file", path=path)
    try:
        raw = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(f"not a notebook: not UTF-8 text (byte {err.start})", path=path) from None
    if not raw.strip():
        raise InputError("not a notebook: the file is empty", path=path)
    try:
        data = json.loads(raw)
    except ValueError as err:
        raise InputError(
            f"not a notebook: invalid JSON ({err.msg})", path=path, line=getattr(err, "lineno", None)
        ) from None
    if not isinstance(data, dict) or "cells" not in data:
        raise InputError("not a Jupyter notebook (no cells)", path=path)
    try:
        return nbformat.reads(raw, as_version=4)
    except Exception as err:  # nbformat's own validation errors vary by version
        raise InputError(f"not a valid notebook: {err}", path=path) from None


def tampering(source, learner) -> list[str]:
    """Notes on graded cells the learner deleted, duplicated or changed the type of, and on test cells they
    edited. nbgrader grades all of these as the instructor wrote them (deleted cells are put back)."""
    theirs: dict[str, object] = {}
    notes = []
    for cell in graded_cells(learner):
        if cell.grade_id in theirs:
            notes.append(f"cell {cell.grade_id} appears more than once; the first copy was graded")
        else:
            theirs[cell.grade_id] = cell
    for cell in graded_cells(source):
        mine = theirs.get(cell.grade_id)
        what = "test cell" if cell.kind == "test" else "answer cell"
        if mine is None:
            notes.append(f"{what} {cell.grade_id} was deleted; it was put back for grading")
        elif mine.cell_type != cell.cell_type:
            notes.append(f"{what} {cell.grade_id} was changed to {mine.cell_type}; graded as the original")
        elif cell.kind == "test" and mine.source.strip() != HIDDEN_BLOCK.sub("", cell.source + "\n").strip():
            notes.append(f"test cell {cell.grade_id} was edited; graded as the instructor wrote it")
    return notes


def failure_messages(autograded: Path) -> dict[str, str]:
    out = {}
    if not autograded.exists():
        return out
    nb = nbformat.read(autograded, as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        for output in cell.get("outputs", []):
            if gid and output.get("output_type") == "error":
                if output.get("ename") == "NameError":  # the answer cell still raises NotImplementedError
                    out[gid] = f"not attempted yet ({output.get('evalue')})"
                else:
                    out[gid] = f"{output.get('ename')}: {output.get('evalue')}".strip()
    return out
