"""The learner's working copy: ``work/<lab>/<lab>.ipynb``, seeded from ``labs/`` and never overwritten.

``labs/`` holds the released notebooks, tracked by git; a learner's answers must not land there. The first
``hitlab lab`` copies each lab's folder into ``work/`` (git-ignored) and records, per lab, the SHA-256 of the
released notebook it was seeded from (``work/.hitlab-seed.json``) with a copy of that release
(``work/.hitlab-seed/<lab>.ipynb``), the common ancestor a later update merges against.

When ``labs/`` gets a newer release of a lab, :func:`update` builds a new working copy from it and carries over
the learner's work: answer cells (nbgrader ``solution`` cells, matched by ``grade_id``), cells the learner added
(placed after the cell they followed), and edits to other cells the new release left unchanged. The old copy is
kept next to the new one as ``<lab>.backup-<time>.ipynb``; whatever could not be placed is appended at the end
of the new copy under a heading, and listed in the report.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import nbformat
from nbformat.corpus.words import generate_corpus_id

from hitlab.course.notebooks import clear_outputs
from hitlab.errors import HitlabError
from hitlab.labserver import labs_dir, repo_root

WORK = "work"
SEED_RECORD = ".hitlab-seed.json"
SEED_COPIES = ".hitlab-seed"
UNPLACED_HEADING = (
    "## From your previous copy\n\n"
    "The new release of this lab has no place for these cells of your previous copy "
    "(they are also in its backup, {backup})."
)


class WorkError(HitlabError):
    """The working copy cannot be seeded or updated."""


@dataclass
class Workspace:
    """What :func:`prepare` found and did."""

    folder: Path
    seeded: list[str] = field(default_factory=list)  # labs whose working copy was created now
    outdated: list[str] = field(default_factory=list)  # labs with a newer release in labs/
    moved: list[str] = field(default_factory=list)  # seeded with the answers the learner had put in labs/

    def notices(self) -> list[str]:
        """One line each for what the learner should know before working."""
        lines = []
        if self.seeded:
            lines.append(
                f"hitlab: your notebooks are in {self.folder} (new copies of {', '.join(self.seeded)}); "
                "labs/ stays as released"
            )
        if self.moved:
            lines.append(
                f"hitlab: your answers in labs/ ({', '.join(self.moved)}) were copied into {self.folder}; "
                "`git checkout -- labs` puts the released notebooks back in labs/"
            )
        if self.outdated:
            lines.append(
                f"hitlab: labs/ has a newer release of {', '.join(self.outdated)}: "
                f"`hitlab update` takes it and keeps your answers"
            )
        return lines


@dataclass
class Merge:
    """What :func:`merge` carried from the old working copy into the new release."""

    carried: list[str] = field(default_factory=list)  # grade ids of answers carried over
    kept: list[str] = field(default_factory=list)  # learner cells and edits placed in the new copy
    unplaced: list[str] = field(default_factory=list)  # appended at the end: the new release has no place


@dataclass
class UpdateReport:
    lab: str
    status: str  # "updated", "up to date", "seeded"
    notebook: Path
    backup: Path | None = None
    merge: Merge = field(default_factory=Merge)

    def summary(self) -> str:
        if self.status != "updated":
            return f"{self.lab}: {self.status} ({self.notebook})"
        lines = [
            f"{self.lab}: updated {self.notebook} from the new release; your previous copy is {self.backup}"
        ]
        m = self.merge
        lines.append(
            f"  answers carried over: {', '.join(m.carried)}" if m.carried else "  answers carried over: none"
        )
        lines += [f"  kept: {item}" for item in m.kept]
        if m.unplaced:
            lines.append("  the new release has no place for these; they are at the end of the new copy:")
            lines += [f"    {item}" for item in m.unplaced]
        lines.append("  reload the notebook in JupyterLab if it is open (File > Reload Notebook from Disk)")
        return "\n".join(lines)


def work_dir(root: str | Path | None = None) -> Path:
    """``work/`` under *root* (default: the workbook's root)."""
    base = Path(root).expanduser().resolve() if root is not None else repo_root()
    return base / WORK


def working_notebook(lab: str, root: str | Path | None = None) -> Path:
    return work_dir(root) / lab / f"{lab}.ipynb"


def released_labs(root: str | Path | None = None) -> list[str]:
    """The labs in ``labs/`` (folders ``labNN_slug`` holding ``labNN_slug.ipynb``), in order."""
    labs = labs_dir(root)
    return sorted(
        p.name for p in labs.iterdir() if p.name.startswith("lab") and (p / f"{p.name}.ipynb").is_file()
    )


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[dict]:
    """The seed record of *folder*, under a lock; written back (atomically) when the block ends."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock = open(folder / f"{SEED_RECORD}.lock", "a")  # noqa: SIM115 - closed below
    except OSError as err:
        raise WorkError(f"cannot create the working copy in {folder}: {err.strerror}") from None
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = folder / SEED_RECORD
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            record = {}
        except ValueError:
            raise WorkError(
                f"{path} is damaged (not JSON): fix or delete it; your notebooks are not affected"
            ) from None
        record.setdefault("format", 1)
        labs = record.setdefault("labs", {})
        before = json.dumps(record, sort_keys=True)
        yield labs
        if json.dumps(record, sort_keys=True) != before:
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")
            tmp.replace(path)


def _copy_missing(src: Path, dst: Path) -> None:
    """Copy every file under *src* that has no counterpart under *dst*; never overwrite."""
    for item in sorted(src.rglob("*")):
        if item.is_dir() or ".ipynb_checkpoints" in item.parts:
            continue
        target = dst / item.relative_to(src)
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(item, "rb") as fin, open(target, "xb") as fout:
            shutil.copyfileobj(fin, fout)


class _Releases:
    """The released notebooks of ``labs/``, as git committed them where the learner changed them.

    Before ``work/`` existed, learners answered in ``labs/`` itself. Where git shows such changes, the release
    is the committed notebook: it is what the working copy is recorded as following (the learner's answers,
    copied into ``work/`` with the rest of the file, then count as the learner's, and are carried over by an
    update), and the changed file in ``labs/`` is not mistaken for a newer release.
    """

    def __init__(self, root: str | Path | None) -> None:
        self.folder = labs_dir(root)
        self.names = released_labs(root)
        self.changed = _changed_in_git(self.folder.parent)
        self._bytes: dict[str, bytes] = {}

    def path(self, lab: str) -> Path:
        return self.folder / lab / f"{lab}.ipynb"

    def bytes(self, lab: str) -> bytes:
        if lab not in self._bytes:
            committed = _committed(self.folder.parent, lab) if lab in self.changed else None
            self._bytes[lab] = committed if committed is not None else self.path(lab).read_bytes()
        return self._bytes[lab]

    def sha256(self, lab: str) -> str:
        return hashlib.sha256(self.bytes(lab)).hexdigest()

    def notebook(self, lab: str):
        return nbformat.reads(self.bytes(lab).decode("utf-8"), as_version=4)


def _git(root: Path, *args: str) -> subprocess.CompletedProcess | None:
    try:
        result = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, timeout=30, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result if result.returncode == 0 else None


def _changed_in_git(root: Path) -> set[str]:
    """Labs whose notebook in ``labs/`` differs from git's HEAD (none outside a git checkout)."""
    result = _git(root, "diff", "--name-only", "--relative", "HEAD", "--", "labs")
    if result is None:
        return set()
    names = set()
    for line in result.stdout.decode("utf-8", "replace").splitlines():
        parts = Path(line).parts
        if len(parts) == 3 and parts[0] == "labs" and parts[2] == f"{parts[1]}.ipynb":
            names.add(parts[1])
    return names


def _committed(root: Path, lab: str) -> bytes | None:
    result = _git(root, "show", f"HEAD:./labs/{lab}/{lab}.ipynb")
    return result.stdout if result is not None else None


def _remember(folder: Path, labs: dict, lab: str, releases: _Releases) -> None:
    """Record that *lab*'s working copy now follows its current release (its hash and a copy of it)."""
    seeds = folder / SEED_COPIES
    seeds.mkdir(exist_ok=True)
    (seeds / f"{lab}.ipynb").write_bytes(releases.bytes(lab))
    labs[lab] = {"sha256": releases.sha256(lab), "since": _now().isoformat(timespec="seconds")}


def _outdated(folder: Path, labs: dict, releases: _Releases) -> list[str]:
    return [
        lab
        for lab in releases.names
        if (folder / lab / f"{lab}.ipynb").is_file()
        and labs.get(lab, {}).get("sha256") != releases.sha256(lab)
    ]


def prepare(root: str | Path | None = None) -> Workspace:
    """Seed ``work/`` with every released lab that has no working copy yet; say which labs are outdated.

    A working copy that exists is never touched. One without a seed record (copied by hand, or the record
    was deleted) counts as outdated unless it is byte for byte the current release. A lab the learner had
    answered in ``labs/`` itself (git shows changes) is copied with those answers.
    """
    releases = _Releases(root)
    folder = work_dir(root)
    space = Workspace(folder)
    with _locked(folder) as labs:
        for lab in releases.names:
            notebook = folder / lab / f"{lab}.ipynb"
            if not notebook.exists():
                _copy_missing(releases.folder / lab, folder / lab)
                _remember(folder, labs, lab, releases)
                space.seeded.append(lab)
                if lab in releases.changed:
                    space.moved.append(lab)
            elif lab not in labs and sha256(notebook) == releases.sha256(lab):
                _remember(folder, labs, lab, releases)
        space.outdated = _outdated(folder, labs, releases)
    return space


def outdated(root: str | Path | None = None) -> list[str]:
    """Labs whose working copy was seeded from an older release than the one in ``labs/``."""
    folder = work_dir(root)
    if not (folder / SEED_RECORD).exists():
        return []
    with _locked(folder) as labs:
        return _outdated(folder, labs, _Releases(root))


def _choose(names: Sequence[str], wanted: Sequence[str]) -> list[str]:
    if not wanted:
        return list(names)
    chosen = []
    for want in wanted:
        want = Path(want).name  # `hitlab update work/lab01_...` works too
        match = [n for n in names if n == want or n.split("_", 1)[0] == want]
        if not match:
            raise WorkError(f"no lab {want!r} in labs/; labs: {', '.join(names) or 'none'}")
        chosen += [m for m in match if m not in chosen]
    return chosen


def _backup_path(notebook: Path, when: datetime) -> Path:
    stamp = when.astimezone().strftime("%Y%m%d-%H%M%S")
    candidate = notebook.with_name(f"{notebook.stem}.backup-{stamp}.ipynb")
    n = 1
    while candidate.exists():
        n += 1
        candidate = notebook.with_name(f"{notebook.stem}.backup-{stamp}-{n}.ipynb")
    return candidate


def update(
    labs: Sequence[str] = (), root: str | Path | None = None, now: datetime | None = None
) -> list[UpdateReport]:
    """Take the newer release of *labs* (default: all) from ``labs/`` into ``work/``, keeping the learner's work.

    An outdated working copy is moved to ``<lab>.backup-<time>.ipynb`` next to it, and a new copy is built from
    the release with :func:`merge`. Labs that are up to date are left alone; labs without a working copy are
    seeded.
    """
    from hitlab.course.submission import read_submission

    releases = _Releases(root)
    names = _choose(releases.names, labs)
    folder = work_dir(root)
    reports = []
    with _locked(folder) as record:
        for lab in names:
            notebook = folder / lab / f"{lab}.ipynb"
            if not notebook.exists():
                _copy_missing(releases.folder / lab, folder / lab)
                _remember(folder, record, lab, releases)
                reports.append(UpdateReport(lab, "seeded", notebook))
                continue
            if record.get(lab, {}).get("sha256") == releases.sha256(lab):
                reports.append(UpdateReport(lab, "up to date", notebook))
                continue
            old = read_submission(notebook)
            base_copy = folder / SEED_COPIES / f"{lab}.ipynb"
            base = nbformat.read(base_copy, as_version=4) if lab in record and base_copy.is_file() else None
            backup = _backup_path(notebook, now or _now())
            new, merged = merge(old, releases.notebook(lab), base, backup.name)
            os.replace(notebook, backup)
            try:
                with open(notebook, "x", encoding="utf-8") as out:
                    out.write(nbformat.writes(new) + "\n")
            except BaseException:
                os.replace(backup, notebook)
                raise
            _copy_missing(releases.folder / lab, folder / lab)
            _remember(folder, record, lab, releases)
            reports.append(UpdateReport(lab, "updated", notebook, backup, merged))
    return reports


# --- merging ----------------------------------------------------------------------------------------------


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def _key(cell) -> str | None:
    """What identifies a released cell across releases: its grade id, else its cell id."""
    grade_id = _nbgrader(cell).get("grade_id")
    if grade_id:
        return f"grade:{grade_id}"
    return f"id:{cell['id']}" if cell.get("id") else None


def _is_answer(cell) -> bool:
    meta = _nbgrader(cell)
    return bool(meta.get("solution")) and bool(meta.get("grade_id"))


def _describe(cell) -> str:
    first = next((line.strip() for line in cell.source.splitlines() if line.strip()), "")
    if len(first) > 60:
        first = first[:57] + "..."
    return f"{cell.cell_type} cell {first!r}" if first else f"empty {cell.cell_type} cell"


def _plain(cell):
    """A copy of *cell* with no nbgrader metadata and no outputs (for cells placed outside the lab's grading)."""
    cell = copy.deepcopy(cell)
    cell.metadata.pop("nbgrader", None)
    clear_outputs(cell)
    return cell


def merge(old, new, base=None, backup_name: str = "") -> tuple[object, Merge]:
    """A new working copy: release *new* with the learner's work from *old* (seeded from release *base*).

    - An answer cell (nbgrader ``solution``) takes the old copy's source for the same ``grade_id``, unless the
      learner never changed it (it equals *base*'s), so a reworded stub in the new release shows.
    - Other released cells are recognized by grade id or cell id. One the learner edited keeps the edit if
      the new release left that cell as *base* had it; otherwise the new release's text is used and the
      learner's version is appended at the end.
    - Cells the learner added go after the released cell they followed (or the nearest earlier one the new
      release still has).
    - Whatever has no place (an answer whose grade id the new release dropped, a conflicting edit) is appended
      at the end under a heading, without nbgrader metadata, and listed in :attr:`Merge.unplaced`.

    Without *base* (no seed record), a released cell is one whose id the new release also has, and every
    answer that differs from the new release's stub counts as the learner's.
    """
    result = copy.deepcopy(new)
    for cell in result.cells:
        clear_outputs(cell)
    report = Merge()
    new_by_key = {k: c for c in result.cells if (k := _key(c))}
    base_by_key = {k: c for c in (base.cells if base is not None else []) if (k := _key(c))}
    known = set(base_by_key) if base is not None else set(new_by_key)

    def released(key: str | None) -> bool:
        return key is not None and (key in known or key.startswith("grade:"))

    unplaced = []
    # Answers and edits of released cells, in place.
    for cell in old.cells:
        key = _key(cell)
        if not released(key):
            continue
        before = base_by_key.get(key)
        target = new_by_key.get(key)
        if _is_answer(cell):
            grade_id = _nbgrader(cell)["grade_id"]
            untouched = before is not None and cell.source == before.source
            if untouched or (target is not None and cell.source == target.source):
                continue
            fits = target is not None and _is_answer(target) and target.cell_type == cell.cell_type
            if fits and grade_id not in report.carried:
                target.source = cell.source
                report.carried.append(grade_id)
            else:
                unplaced.append(cell)
                report.unplaced.append(f"your answer {grade_id} ({_describe(cell)})")
            continue
        if before is None or cell.source == before.source:
            continue  # not edited (or, without the seed copy, no way to tell)
        if target is not None and target.source == before.source and target.cell_type == cell.cell_type:
            target.source = cell.source
            report.kept.append(f"your edit of {_describe(before)}")
        else:
            unplaced.append(cell)
            report.unplaced.append(
                f"your edit of {_describe(before)} (the new release changed or removed it)"
            )

    # Cells the learner added, after the released cell they followed.
    after: dict[str | None, list] = {}
    anchors: list[str] = []  # released cells of the old copy seen so far, nearest last
    for cell in old.cells:
        key = _key(cell)
        if released(key):
            anchors.append(key)
            continue
        anchor = next((k for k in reversed(anchors) if k in new_by_key), None)
        after.setdefault(anchor, []).append(_plain(cell))
        where = f"after {_describe(new_by_key[anchor])}" if anchor else "at the top"
        report.kept.append(f"your {_describe(cell)}, {where}")

    cells = list(after.get(None, []))
    for cell in result.cells:
        cells.append(cell)
        cells += after.get(_key(cell), [])
    if unplaced:
        heading = nbformat.v4.new_markdown_cell(UNPLACED_HEADING.format(backup=backup_name or "the backup"))
        moved = [_plain(c) for c in unplaced]
        for c in moved:
            c["id"] = generate_corpus_id()  # the new release may hold a cell with the old id
        cells += [heading, *moved]
    result.cells = cells
    return result, report
