"""Find the cohort's submissions: ``<student>/<lab>/<notebook>.ipynb`` (an nbgrader ``submitted/`` tree), or
LMS downloads (a folder or a zip) whose file names carry the student and the file, matched by nbgrader's own
``FileNameCollectorPlugin`` with a configurable pattern (its ``zip_collect`` conventions). Files that cannot
be placed are listed with the reason, never guessed.

A student id becomes a folder name and a gradebook key, so one that is unsafe (see ``safe_student_id``) is
never used: its files become a ``Problem`` under a stand-in id. Several uploads of one lab by one student are
told apart only by a ``timestamp`` or ``attempt`` group of the pattern (the newest is graded); without one,
none is graded and a ``Problem`` names them all.

Canvas names each file of a download ``<name>[_LATE]_<user id>_<attachment id>_<file name>`` (``name`` is the
student's sortable name, lowercased and stripped to word characters; ``anon_<id>`` replaces it when grading
is anonymous), and adds ``-1``, ``-2`` before the extension when two names in the zip collide (canvas-lms,
``lib/content_zipper.rb`` and ``Attachment.make_unique_filename``). Neither number is documented to order
uploads (the attachment id is a database key, and the download holds the files of each student's latest
submission only), so ``DEFAULT_LMS_PATTERN`` has no ``timestamp`` or ``attempt`` group: two notebooks for one
lab by one student there are always a problem for the instructor, never a pick.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from hitlab.errors import InputError

DEFAULT_LMS_PATTERN = r"(?P<student_id>[A-Za-z0-9]+)(?:_LATE)?_\d+_\d+_(?P<file_id>.+)"
"""Canvas-style download names: ``smithjane_12345_67890_lab01_ehr_data_modeling.ipynb`` (``_LATE`` allowed)."""

MAX_STUDENT_ID = 128  # nbgrader's gradebook: student.id is a String(128)
_CONTROL = {"Cc", "Cf", "Zl", "Zp"}  # control and format characters, and U+2028/U+2029 (they end lines too)
_ORDER_GROUPS = ("timestamp", "attempt")  # pattern groups that tell a student's uploads apart, in this order
_NBGRADER_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d)-(\d\d)-(\d\d)-(\d\d)$")  # 2016-01-30-15-00-00


_Upload = tuple[str, Path, dict]  # an LMS file: (its name, its path, the pattern's groups)


@dataclass(frozen=True)
class Submission:
    student: str
    lab: str
    path: Path


@dataclass(frozen=True)
class Problem:
    """Files of a student's lab that were found but not graded, and what the instructor should do.

    ``status`` is ``invalid_submission`` (the student id is unsafe: ``student`` is then a safe stand-in that
    names it, ``invalid-...``) or ``ambiguous`` (several uploads and nothing says which is the newest).
    """

    student: str
    lab: str
    status: str
    detail: str
    files: tuple[str, ...]


@dataclass
class Collection:
    submissions: list[Submission] = field(default_factory=list)
    unmatched: list[tuple[str, str]] = field(default_factory=list)  # (file, why it was not placed)
    problems: list[Problem] = field(default_factory=list)
    other_labs: list[str] = field(default_factory=list)  # files of the course's other labs, not asked for


def _raw(name: str) -> bytes:
    """The bytes a name stands for: Python reads undecodable bytes of a file name as surrogate escapes."""
    try:
        return name.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that is no escape (not from a file name): kept as such
        return name.encode("utf-8", "surrogatepass")


def safe_student_id(name: str) -> str | None:
    """Why ``name`` cannot be a student id (a folder name and a gradebook key), or None when it can.

    The reason reads after the name: "the folder name 'x' <reason>".
    """
    if not name:
        return "is empty"
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        return "is not UTF-8 text"
    if name in (".", ".."):
        return f"is {name!r}"
    # a hidden folder (ls, Jupyter and glob skip it), like "." and "..": not a student's
    if name.startswith("."):
        return "starts with '.'"
    for bad in ("/", "\\"):
        if bad in name:
            return f"contains {bad!r}"
    control = next((ch for ch in name if unicodedata.category(ch) in _CONTROL), None)  # break logs and CSV
    if control is not None:
        return f"contains the control character U+{ord(control):04X}"
    if len(name) > MAX_STUDENT_ID:
        return f"is longer than {MAX_STUDENT_ID} characters ({len(name)})"
    if len(encoded) > 255:  # the limit of a folder name on common file systems
        return f"is longer than 255 bytes in UTF-8 ({len(encoded)})"
    return None


def _quoted(name: str) -> str:
    """``name`` quoted for a message: its bytes when they are not UTF-8 text, control characters escaped."""
    return repr(_raw(name) if any("\ud800" <= ch <= "\udfff" for ch in name) else name)


def _shown(name: str) -> str:
    """A file name made printable for lists and logs (undecodable bytes as ``\\xe9``, controls as ``\\x07``);
    names without either are unchanged."""
    text = _raw(name).decode("utf-8", "backslashreplace")
    return "".join(
        ch.encode("unicode_escape").decode("ascii") if unicodedata.category(ch) in _CONTROL else ch
        for ch in text
    )


def _stand_in(name: str) -> str:
    """A safe id naming a refused one: ``invalid-`` and the name with each character that is unsafe in an id
    (and ``%``) written as ``%XX`` per byte, so distinct names get distinct stand-ins. Too long: cut, and
    made distinct again by a digest of the name."""
    kept = (
        ch if ch.isprintable() and ch not in "/\\%" else "".join(f"%{b:02X}" for b in _raw(ch)) for ch in name
    )
    stand = "invalid-" + "".join(kept)
    if safe_student_id(stand) is not None:
        stand = f"{stand[:48]}~{hashlib.sha256(_raw(name)).hexdigest()[:12]}"
    return stand


def _invalid(out: Collection, student: str, lab: str, detail: str, file: str) -> None:
    """Record a file whose student id is refused, with any others of that id and lab."""
    stand = _stand_in(student)
    for i, p in enumerate(out.problems):
        if (p.student, p.lab, p.status) == (stand, lab, "invalid_submission"):
            out.problems[i] = replace(p, files=(*p.files, file))
            return
    out.problems.append(Problem(stand, lab, "invalid_submission", detail, (file,)))


def _lab_of(file_id: str, labs: list[str]) -> str | None:
    stem = PurePosixPath(file_id).name.removesuffix(".ipynb")
    stem = re.sub(r"(-\d+|\s*\(\d+\))$", "", stem)  # LMS re-upload suffixes: lab01_x-1, lab01_x (2)
    return next((lab for lab in labs if stem == lab), None)


def _is_submitted_tree(root: Path) -> bool:
    return any(p.parent.parent.parent == root for p in root.glob("*/*/*.ipynb"))


def _from_tree(root: Path, labs: list[str], out: Collection, others: Sequence[str]) -> None:
    for path in sorted(p for p in root.rglob("*") if p.is_file() and ".ipynb_checkpoints" not in p.parts):
        rel = path.relative_to(root)
        shown = _shown(rel.as_posix())
        if len(rel.parts) != 3 or path.suffix != ".ipynb":
            out.unmatched.append((shown, "not <student>/<lab>/<notebook>.ipynb"))
            continue
        student, lab, name = rel.parts
        if lab in others:
            out.other_labs.append(shown)
        elif lab not in labs:
            out.unmatched.append((shown, f"unknown lab {lab!r}"))
        elif why := safe_student_id(student):
            detail = f"the folder name {_quoted(student)} {why}: rename it and grade again"
            _invalid(out, student, lab, detail, shown)
        elif name != f"{lab}.ipynb":
            out.unmatched.append((shown, f"not the lab's notebook (expected {lab}.ipynb)"))
        else:
            out.submissions.append(Submission(student, lab, path))


def _order_value(group: str, value: str | None) -> datetime | int | None:
    """A ``timestamp`` read as ISO 8601 by dateutil (in UTC when it has a zone; nbgrader's example form
    ``2016-01-30-15-00-00`` too), or an ``attempt`` read as an integer; None when missing or unreadable.

    Not ``dateutil.parser.parse``: it guesses, e.g. reads ``2016-01-30-15-30-00`` as 15:00 and ``03-04-2025``
    as March 4th, which would order uploads wrongly without a word.
    """
    from dateutil.parser import isoparse

    if value is None:
        return None
    try:
        if group == "attempt":
            return int(value)
        stamp = isoparse(_NBGRADER_STAMP.sub(r"\1T\2:\3:\4", value))
    except (ValueError, OverflowError):
        return None
    return stamp.astimezone(UTC).replace(tzinfo=None) if stamp.tzinfo else stamp


def _unordered(uploads: list[_Upload], keys: list[tuple], order_by: list[str]) -> str | None:
    """Why a student's uploads of a lab cannot be ordered by ``keys`` (their ``order_by`` values), or None."""
    if not order_by:
        return "the file-name pattern has no timestamp or attempt group to tell which is newer"
    for (name, _path, groups), key in zip(uploads, keys, strict=True):
        for group, value in zip(order_by, key, strict=True):
            if value is None:
                return f"the {group} of {name} cannot be read ({groups.get(group)!r})"
    tied = sorted(name for (name, _path, _groups), key in zip(uploads, keys, strict=True) if key == max(keys))
    return f"{' and '.join(tied)} have the same {' and '.join(order_by)}" if len(tied) > 1 else None


def _pick(student: str, lab: str, uploads: list[_Upload], order_by: list[str], out: Collection) -> None:
    """Grade the newest of a student's uploads of a lab by the pattern's ``timestamp``/``attempt`` groups and
    list the others; when nothing orders them (no such group, an unreadable or a tied value), grade none."""
    keys = [tuple(_order_value(g, groups.get(g)) for g in order_by) for _name, _path, groups in uploads]
    why = _unordered(uploads, keys, order_by)
    if why:
        names = tuple(sorted(name for name, _path, _groups in uploads))
        detail = (
            f"{len(names)} uploads of {lab} by {student} ({', '.join(names)}): {why}; keep only the one to"
            " grade and grade again"
        )
        out.problems.append(Problem(student, lab, "ambiguous", detail, names))
        return
    newest = keys.index(max(keys))
    kept, path, _groups = uploads[newest]
    out.submissions.append(Submission(student, lab, path))
    by = " and ".join(order_by)
    for i, (name, _path, _groups) in enumerate(uploads):
        if i != newest:
            out.unmatched.append(
                (name, f"an earlier upload of {lab} by {student} (graded: {kept}, newer by its {by})")
            )


def _from_lms(
    files: list[tuple[str, Path]], labs: list[str], pattern: str, out: Collection, others: Sequence[str]
) -> None:
    from nbgrader.plugins import FileNameCollectorPlugin

    plugin = FileNameCollectorPlugin(named_regexp=pattern)
    order_by = [g for g in _ORDER_GROUPS if g in re.compile(pattern).groupindex]
    uploads: dict[tuple[str, str], list[_Upload]] = {}  # by (student, lab)
    for name, path in files:
        shown = _shown(name)
        base = PurePosixPath(name).name
        if not base.endswith(".ipynb"):
            out.unmatched.append((shown, "not a notebook (.ipynb)"))
            continue
        groups = plugin.collect(base)
        if not groups or groups.get("student_id") is None or not groups.get("file_id"):
            out.unmatched.append((shown, "the file name does not match the pattern"))
            continue
        lab = _lab_of(groups["file_id"], labs)
        if lab is None and _lab_of(groups["file_id"], list(others)):
            out.other_labs.append(shown)
        elif lab is None:
            out.unmatched.append((shown, f"no lab is named {groups['file_id']!r}"))
        elif why := safe_student_id(student := groups["student_id"]):
            detail = (
                f"the student id {_quoted(student)} in the file name {why}: rename the file and grade again"
            )
            _invalid(out, student, lab, detail, shown)
        else:
            uploads.setdefault((student, lab), []).append((shown, path, groups))
    for (student, lab), found in uploads.items():
        if len(found) == 1:
            out.submissions.append(Submission(student, lab, found[0][1]))
        else:
            _pick(student, lab, found, order_by, out)


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
                out.unmatched.append((_shown(name), "unsafe path in the archive: not extracted"))
                continue
            target = into / Path(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(zf.read(info))
            files.append((name, target))
    return files


def collect(source: str | Path, labs: list[str], *, pattern: str = DEFAULT_LMS_PATTERN,
            work_dir: str | Path | None = None, other_labs: Sequence[str] = ()) -> Collection:  # fmt: skip
    """The submissions in ``source`` for the given ``labs``, every file that could not be placed, and the
    problems: files of a known lab not graded because the student id is unsafe or the upload is ambiguous.

    ``source`` is an nbgrader ``submitted/`` tree, a folder of LMS downloads, or a zip of them (extracted into
    ``work_dir``, which a zip requires). ``pattern`` is a regular expression with ``student_id`` and
    ``file_id`` groups, applied to each download's file name as nbgrader's ``zip_collect`` does; a
    ``timestamp`` (ISO 8601) or ``attempt`` (integer) group picks the newest of a student's uploads of a lab.
    Files of ``other_labs`` (the course's labs not asked for) are listed in ``other_labs``, not as unmatched.
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
        _from_lms(files, labs, pattern, out, other_labs)
    elif _is_submitted_tree(source):
        _from_tree(source, labs, out, other_labs)
    else:
        files = [(p.relative_to(source).as_posix(), p) for p in sorted(source.rglob("*")) if p.is_file()]
        _from_lms(files, labs, pattern, out, other_labs)
    out.submissions.sort(key=lambda s: (s.lab, s.student))
    out.problems.sort(key=lambda p: (p.lab, p.student))
    return out
