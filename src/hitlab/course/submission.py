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
    if not isinstance(data, dict) or ("cells" not in data and "worksheets" not in data):
        raise InputError("not a Jupyter notebook (no cells)", path=path)
    if not isinstance(data.get("nbformat"), int) or data["nbformat"] < 3:
        raise InputError(
            f"nbformat {data.get('nbformat')!r} is not supported (3 and 4 are): open and save it in Jupyter",
            path=path,
        )
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
    """Test grade id -> why the test failed, read from nbgrader's autograded copy (outputs kept).

    A test cell's answer cells are those (nbgrader ``solution``) between the previous test cell and it. When
    one of them failed, its own error is what the learner must fix (the check ran without what the cell should
    have defined); a blank one (as released, raising NotImplementedError, or only comments) is "not attempted
    yet"; otherwise the message is the check's."""

    def said(output) -> str:
        ename, evalue = output.get("ename", ""), output.get("evalue", "")
        if ename in ("Incorrect", "NotAttempted") and evalue:
            return evalue  # the check's own message says it all
        return f"{ename}: {evalue}" if evalue else ename

    def explain(test_error, answers: list) -> str:
        for gid, _cell, error in answers:
            if error is not None and error.get("ename") != "NotImplementedError":
                message = f"your answer cell {gid} failed with {said(error)}"
                ran = test_error.get("ename") not in ("NameError", "NotAttempted")
                if ran:  # the check ran on what the cell had defined
                    message += f"; then the check said {said(test_error)}"
                return message
        for gid, cell, error in answers:
            if error is not None:  # NotImplementedError: the cell as released
                return f"not attempted yet (answer cell {gid} still raises NotImplementedError)"
            if not any(ln.strip() and not ln.strip().startswith("#") for ln in cell.source.splitlines()):
                return f"not attempted yet (answer cell {gid} is empty)"
        return said(test_error)

    out: dict[str, str] = {}
    if not autograded.exists():
        return out
    nb = nbformat.read(autograded, as_version=4)
    answers: list = []  # (grade id, cell, its error output or None) since the previous test cell
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("grade_id"):
            continue
        error = next((o for o in cell.get("outputs", []) if o.get("output_type") == "error"), None)
        if meta.get("solution"):  # an answer cell (a written answer, markdown, raises nothing)
            if cell.cell_type == "code":
                answers.append((meta["grade_id"], cell, error))
        elif meta.get("grade"):  # a test cell
            if error is not None:
                out[meta["grade_id"]] = explain(error, answers)
            answers = []
    return out
