"""The mock interview's question pool: every graded item of the labs, with what the interview needs to know.

An item is read from the lab's source notebook (``solutions/``) and its release (``labs/``): the question's
text (the section's opening and the markdown since the previous graded cell), the answer cell as released and
as solved, its test cell as released and with the hidden tests, or, for a written item, the question without
its rubric, the rubric and the mark scheme. ``pool.toml`` adds what the notebooks do not hold: the role
tracks an item belongs to, the minutes it takes in an interview, its topic where it differs from the lab's,
and the follow-up probes an interviewer asks.

Only items that run on their own can be drawn: the answer cell (and the code a written question shows) may use
what the lab's set-up cells define, but nothing an earlier exercise of the lab produced.
"""

from __future__ import annotations

import ast
import builtins
import copy
import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from hitlab.course.notebooks import (
    course_root,
    graded_cells,
    lab_names,
    read,
    release_notebook,
    source_notebook,
    split_rubric,
)
from hitlab.errors import HitlabError

POOL_FILE = Path(__file__).with_name("pool.toml")
SECTION = re.compile(r"^## (?![\s\S]*^## )", re.M)  # the last "## " heading of a cell
MARK_SCHEME = re.compile(r"=== BEGIN MARK SCHEME ===\n(.*?)=== END MARK SCHEME ===", re.S)
TEST_DOC = re.compile(r'^"""(.*?)"""', re.S)


class PoolError(HitlabError):
    """The pool file or a lab's notebooks do not describe a usable question."""


@dataclass(frozen=True)
class Track:
    name: str
    title: str
    about: str


@dataclass
class Item:
    """One question of the pool. ``kind`` is "auto" (graded by the lab's checks) or "written" (a rubric)."""

    id: str  # the grade id of the answer cell (auto) or of the written cell
    lab: str  # the lab folder, e.g. lab03_hl7v2_messaging
    kind: str
    points: float
    topic: str
    tracks: tuple[str, ...]
    minutes: int
    probes: tuple[str, ...]
    section: str  # the lab section to revisit, e.g. "lab03 §2 Acknowledgements"
    title: str  # the question's heading, e.g. "Q5 (3 points) — ack(message)"
    context: list = field(default_factory=list)  # released cells that set the question (markdown, code)
    cells: list = field(default_factory=list)  # released answer and test cells, or the written cell
    source_cells: list = field(default_factory=list)  # the same with solutions and hidden tests
    rubric: str = ""  # written items: the rubric (the text after "**Rubric**") and the mark scheme
    checks: str = ""  # auto items: what the test cell checks (its docstring)
    standalone: bool = True  # runs with the lab's set-up cells and the items it requires
    needs: tuple[str, ...] = ()  # names its worked answer uses from earlier exercises of the lab
    requires: tuple[str, ...] = ()  # the earlier items that define them (drawn with it, asked before it)

    @property
    def short_lab(self) -> str:
        return self.lab.split("_", 1)[0]


@dataclass
class Pool:
    tracks: dict[str, Track]
    items: dict[str, Item]
    setup: dict[str, list]  # lab -> its set-up cells (released; they hold no solutions)

    def track(self, name: str) -> Track:
        if name not in self.tracks:
            raise PoolError(f"no track {name!r}; tracks: {', '.join(self.tracks)}")
        return self.tracks[name]

    def drawable(self, track: str) -> list[Item]:
        """The items of ``track`` that can be drawn, in lab and notebook order."""
        self.track(track)
        return [i for i in self.items.values() if track in i.tracks and i.standalone]


# -- names a cell uses and defines ------------------------------------------------------------------------------


def _names(source: str) -> tuple[set[str], set[str]]:
    """(names the code defines anywhere, names it reads). IPython magics and shell lines are ignored."""
    code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set(), set()
    defined: set[str] = set()
    used: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (used if isinstance(node.ctx, ast.Load) else defined).add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defined.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            defined.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.arg):
            defined.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            defined.add(node.name)
    return defined, used


def free_names(source: str, known: set[str]) -> set[str]:
    """Names ``source`` reads that it does not define and that are neither builtins nor in ``known``."""
    defined, used = _names(source)
    return used - defined - known - set(dir(builtins))


# -- reading the labs --------------------------------------------------------------------------------------------


def _heading(markdown: str) -> str:
    first = markdown.strip().splitlines()[0] if markdown.strip() else ""
    return first.lstrip("#").strip()


def _question_heading(cells: list, default: str) -> str:
    """The last "### " heading of the question's markdown (its "Q5 (3 points) — ..." line)."""
    found = [
        line.lstrip("#").strip()
        for cell in cells
        if cell.cell_type == "markdown"
        for line in cell.source.splitlines()
        if line.startswith("### ")
    ]
    return found[-1] if found else default


def _section_title(lab: str, heading: str) -> str:
    number = re.match(r"(\d+)\.\s*(.*)", heading)
    short = lab.split("_", 1)[0]
    return f"{short} §{number.group(1)} {number.group(2)}" if number else f"{short} {heading}"


def _lab_items(root: Path, lab: str) -> tuple[list, list[dict]]:
    """The set-up cells of ``lab`` (released) and a description of each graded item, in notebook order."""
    source, release = read(source_notebook(root, lab)), read(release_notebook(root, lab))
    released = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in release.cells}
    cells = graded_cells(source)
    if not cells:
        return [], []
    setup = [c for c in release.cells[: released_index(release, cells[0].grade_id)] if c.cell_type == "code"]
    known: set[str] = set()
    for cell in setup:
        known |= _names(cell.source)[0]
    # the question text of the first item starts after the set-up cells (the lab's introduction is left out)
    previous = max(
        (i for i, c in enumerate(source.cells[: cells[0].index]) if c.cell_type == "code"), default=-1
    )
    found, answer, last_answer, section = [], None, None, ""
    for position, cell in enumerate(source.cells):
        opening = SECTION.search(cell.source) if cell.cell_type == "markdown" else None
        if opening:  # a section starts here (a cell may end the previous one first)
            section = cell.source[opening.start() :]
        meta = cell.metadata.get("nbgrader", {})
        gid = meta.get("grade_id")
        if not gid:
            continue
        if meta.get("solution") and not meta.get("grade"):  # an answer cell
            answer = last_answer = (position, gid)
            continue
        # the cells that set the question: since the previous graded cell, up to its answer cell (a test cell
        # sharing the answer cell of the test before it is set by the cells since that test)
        between = source.cells[previous + 1 : (answer[0] if answer else position)]
        previous = position
        if meta.get("grade") and not meta.get("solution"):  # a test cell
            item_id = gid.removesuffix("_test")
            if answer is None and last_answer is None:
                raise PoolError(f"{source_notebook(root, lab)}: test cell {gid} has no answer cell before it")
            answer = answer or last_answer
            found.append(
                {
                    "id": item_id,
                    "kind": "auto",
                    "points": float(meta.get("points", 0) or 0),
                    "section": section,
                    "between": between,
                    "answer_id": answer[1],
                    "answer": source.cells[answer[0]],
                    "test": cell,
                    "released": released,
                    "known": known,
                }
            )
            answer = None
        elif meta.get("grade") and meta.get("solution"):  # a written answer
            found.append(
                {
                    "id": gid,
                    "kind": "written",
                    "points": float(meta.get("points", 0) or 0),
                    "section": section,
                    "between": between,
                    "answer": cell,
                    "released": released,
                    "known": known,
                }
            )
            answer = last_answer = None
    return setup, found


def released_index(release, grade_id: str) -> int:
    for i, cell in enumerate(release.cells):
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return i
    raise PoolError(f"the released notebook has no cell {grade_id}: rebuild it with `hitlab course build`")


def _context(found: dict) -> list:
    """The cells that set the question: the section's opening (unless it is already there) and the cells since
    the previous graded cell. Code cells there explore earlier answers and are left out, except, for a written
    question, those that run on the set-up alone (a message the question shows, for example)."""
    between = [
        c
        for c in found["between"]
        if c.cell_type == "markdown"
        or (found["kind"] == "written" and c.cell_type == "code" and not free_names(c.source, found["known"]))
    ]
    openings = [n for n, c in enumerate(between) if c.cell_type == "markdown" and SECTION.search(c.source)]
    if openings:  # what comes before the section's opening closes the previous section
        first = copy.deepcopy(between[openings[-1]])
        first.source = first.source[SECTION.search(first.source).start() :]
        between = [first, *between[openings[-1] + 1 :]]
    section = found["section"]
    if section and not any(c.source == section for c in between):
        import nbformat

        between = [nbformat.v4.new_markdown_cell(section), *between]
    return between


def _split_written(context: list) -> tuple[list, str]:
    """The question cells without the rubric, and the rubric text (from "**Rubric**" to the end)."""
    question, rubric = [], ""
    for cell in context:
        before, found = split_rubric(cell)
        if found:
            kept = copy.deepcopy(cell)
            kept.source = before
            rubric = found
            question.append(kept)
        else:
            question.append(cell)
    return question, rubric


def _item(lab: str, found: dict, meta: dict, lab_meta: dict) -> Item:
    from hitlab.course.notebooks import solution_code

    context = _context(found)
    released = found["released"]
    where = f"{lab}: {found['id']}"
    try:
        minutes = int(meta["minutes"])
        tracks = tuple(meta.get("tracks", lab_meta.get("tracks", ())))
        topic = meta.get("topic", lab_meta.get("topic", ""))
    except (KeyError, TypeError, ValueError) as err:
        raise PoolError(f"{POOL_FILE.name}, [items.{found['id']}]: {err!r} missing or not a number") from None
    if not tracks or not topic:
        raise PoolError(
            f"{POOL_FILE.name}, [items.{found['id']}]: no tracks or no topic (nor in [labs.{lab[:5]}])"
        )
    common = dict(
        id=found["id"],
        lab=lab,
        points=found["points"],
        topic=topic,
        tracks=tracks,
        minutes=minutes,
        probes=tuple(meta.get("probes", ())),
        section=_section_title(lab, _heading(found["section"])) if found["section"] else lab.split("_", 1)[0],
    )
    if found["kind"] == "auto":
        answer_id = found["answer_id"]
        if answer_id not in released or f"{found['id']}_test" not in released:
            raise PoolError(
                f"{where}: the released notebook lacks its cells; rebuild it with `hitlab course build`"
            )
        needs = sorted(free_names(solution_code(found["answer"].source), found["known"]))
        doc = TEST_DOC.match(found["test"].source.strip())
        return Item(
            kind="auto",
            title=_question_heading(context, found["id"]),
            context=context,
            cells=[released[answer_id], released[f"{found['id']}_test"]],
            source_cells=[found["answer"], found["test"]],
            checks=" ".join(doc.group(1).split()) if doc else "",
            standalone=not needs,
            needs=tuple(needs),
            **common,
        )
    question, rubric = _split_written(context)
    scheme = MARK_SCHEME.search(found["answer"].source)
    if found["id"] not in released:
        raise PoolError(
            f"{where}: the released notebook lacks its cell; rebuild it with `hitlab course build`"
        )
    return Item(
        kind="written",
        title=_question_heading(question, found["id"]),
        context=question,
        cells=[released[found["id"]]],
        source_cells=[found["answer"]],
        rubric="\n\n".join(
            x for x in (rubric, f"Mark scheme: {' '.join(scheme.group(1).split())}" if scheme else "") if x
        ),
        **common,
    )


def _link_requirements(lab_items: list[Item]) -> None:
    """An exercise that builds on an earlier one (a subclass of the class Q3 wrote, say) requires it: the
    names its worked answer needs must be defined by earlier auto items of the same lab, which then come
    with it in a draw. An item with a need nothing earlier meets cannot be drawn."""
    from hitlab.course.notebooks import solution_code

    defined_by: dict[str, str] = {}
    for item in lab_items:
        if item.kind != "auto":
            continue
        if item.needs:
            missing = [n for n in item.needs if n not in defined_by]
            direct = {defined_by[n] for n in item.needs if n in defined_by}
            closure = set(direct)
            for required in direct:
                closure |= set(next(i for i in lab_items if i.id == required).requires)
            item.requires = tuple(i.id for i in lab_items if i.id in closure)
            item.standalone = not missing and all(
                next(i for i in lab_items if i.id == r).standalone for r in item.requires
            )
        for name in _names(solution_code(item.source_cells[0].source))[0]:
            defined_by.setdefault(name, item.id)


def _read_pool_file(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PoolError(f"{path}: the mock interview's pool file is missing") from None
    except tomllib.TOMLDecodeError as err:
        raise PoolError(f"{path}: {err}") from None


@cache
def _load(root: Path, pool_file: Path) -> Pool:
    data = _read_pool_file(pool_file)
    tracks = {
        name: Track(name, spec.get("title", name), spec.get("about", ""))
        for name, spec in data.get("tracks", {}).items()
    }
    if not tracks:
        raise PoolError(f"{pool_file}: no [tracks.*] tables")
    metas, labs_meta = data.get("items", {}), data.get("labs", {})
    items: dict[str, Item] = {}
    setup: dict[str, list] = {}
    for lab in lab_names(root):
        short = lab.split("_", 1)[0]
        lab_setup, found = _lab_items(root, lab)
        for entry in found:
            meta = metas.get(entry["id"])
            if meta is None:
                continue  # not in the pool (lab00's orientation questions, for example)
            item = _item(lab, entry, meta, labs_meta.get(short, {}))
            unknown = sorted(set(item.tracks) - set(tracks))
            if unknown:
                raise PoolError(f"{pool_file}, [items.{item.id}]: unknown tracks {', '.join(unknown)}")
            items[item.id] = item
        _link_requirements([items[e["id"]] for e in found if e["id"] in items])
        setup[lab] = lab_setup
    missing = sorted(set(metas) - set(items))
    if missing:
        raise PoolError(f"{pool_file}: [items.*] name no graded item of the labs: {', '.join(missing)}")
    return Pool(tracks, items, setup)


def load_pool(root: str | Path | None = None, pool_file: str | Path | None = None) -> Pool:
    """The pool of the workbook at ``root`` (default: this checkout), described by ``pool_file``."""
    return _load(course_root(root), Path(pool_file or POOL_FILE).resolve())
