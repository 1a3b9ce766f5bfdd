"""Find the cohort's submissions: ``<student>/<lab>/<notebook>.ipynb`` (an nbgrader ``submitted/`` tree), or
LMS downloads (a folder or a zip) whose file names carry the student and the file, matched by nbgrader's own
``FileNameCollectorPlugin`` with a configurable pattern (its ``zip_collect`` conventions). Files that cannot
be placed are listed with the reason, never guessed.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from hitlab.errors import InputError

DEFAULT_LMS_PATTERN = r"(?P<student_id>[A-Za-z0-9]+)(?:_LATE)?_\d+_\d+_(?P<file_id>.+)"
"""Canvas-style download names: ``smithjane_12345_67890_lab01_ehr_data_modeling.ipynb`` (``_LATE`` allowed)."""


@dataclass(frozen=True)
class Submission:
    student: str
    lab: str
    path: Path


@dataclass
class Collection:
    submissions: list[Submission] = field(default_factory=list)
    unmatched: list[tuple[str, str]] = field(default_factory=list)  # (file, why it was not placed)


def _lab_of(file_id: str, labs: list[str]) -> str | None:
    stem = PurePosixPath(file_id).name.removesuffix(".ipynb")
    stem = re.sub(r"(-\d+|\s*\(\d+\))$", "", stem)  # LMS re-upload suffixes: lab01_x-1, lab01_x (2)
    return next((lab for lab in labs if stem == lab), None)


def _is_submitted_tree(root: Path) -> bool:
    return any(p.parent.parent.parent == root for p in root.glob("*/*/*.ipynb"))


def _from_tree(root: Path, labs: list[str], out: Collection) -> None:
    for path in sorted(p for p in root.rglob("*") if p.is_file() and ".ipynb_checkpoints" not in p.parts):
        rel = path.relative_to(root)
        if len(rel.parts) != 3 or path.suffix != ".ipynb":
            out.unmatched.append((rel.as_posix(), "not <student>/<lab>/<notebook>.ipynb"))
            continue
        student, lab, name = rel.parts
        if lab not in labs:
            out.unmatched.append((rel.as_posix(), f"unknown lab {lab!r}"))
        elif name != f"{lab}.ipynb":
            out.unmatched.append((rel.as_posix(), f"not the lab's notebook (expected {lab}.ipynb)"))
        else:
            out.submissions.append(Submission(student, lab, path))


def _from_lms(files: list[tuple[str, Path]], labs: list[str], pattern: str, out: Collection) -> None:
    from nbgrader.plugins import FileNameCollectorPlugin

    plugin = FileNameCollectorPlugin(named_regexp=pattern)
    seen: dict[tuple[str, str], str] = {}
    for name, path in files:
        base = PurePosixPath(name).name
        if not base.endswith(".ipynb"):
            out.unmatched.append((name, "not a notebook (.ipynb)"))
            continue
        groups = plugin.collect(base)
        if not groups or not groups.get("student_id") or not groups.get("file_id"):
            out.unmatched.append((name, "the file name does not match the pattern"))
            continue
        lab = _lab_of(groups["file_id"], labs)
        if lab is None:
            out.unmatched.append((name, f"no lab is named {groups['file_id']!r}"))
            continue
        key = (groups["student_id"], lab)
        if key in seen:
            out.unmatched.append((name, f"a second submission of {lab} by {key[0]} (kept {seen[key]})"))
            continue
        seen[key] = name
        out.submissions.append(Submission(key[0], lab, path))


def _extract(archive: Path, into: Path, out: Collection) -> list[tuple[str, Path]]:
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile:
        raise InputError("not a readable zip archive", path=archive) from None
    files = []
    with zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            name = info.filename
            parts = PurePosixPath(name).parts
            if name.startswith("/") or ".." in parts or ":" in parts[0]:
                out.unmatched.append((name, "unsafe path in the archive: not extracted"))
                continue
            target = into / Path(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(zf.read(info))
            files.append((name, target))
    return files


def collect(source: str | Path, labs: list[str], *, pattern: str = DEFAULT_LMS_PATTERN,
            work_dir: str | Path | None = None) -> Collection:  # fmt: skip
    """The submissions in ``source`` for the given ``labs``, and every file that could not be placed.

    ``source`` is an nbgrader ``submitted/`` tree, a folder of LMS downloads, or a zip of them (extracted into
    ``work_dir``, which a zip requires). ``pattern`` is a regular expression with ``student_id`` and
    ``file_id`` groups, applied to each download's file name as nbgrader's ``zip_collect`` does.
    """
    source = Path(source)
    out = Collection()
    if not source.exists():
        raise InputError("no such file or folder", path=source)
    try:
        re.compile(pattern)
    except re.error as err:
        raise InputError(f"the file-name pattern is not a valid regular expression: {err}") from None
    if not {"student_id", "file_id"} <= set(re.compile(pattern).groupindex):
        raise InputError("the file-name pattern needs the groups (?P<student_id>...) and (?P<file_id>...)")
    if source.is_file():
        if work_dir is None:
            raise InputError("a zip of submissions needs a work folder to extract into", path=source)
        files = _extract(source, Path(work_dir), out)
        _from_lms(files, labs, pattern, out)
    elif _is_submitted_tree(source):
        _from_tree(source, labs, out)
    else:
        files = [(p.relative_to(source).as_posix(), p) for p in sorted(source.rglob("*")) if p.is_file()]
        _from_lms(files, labs, pattern, out)
    out.submissions.sort(key=lambda s: (s.lab, s.student))
    return out
