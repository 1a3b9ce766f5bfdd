"""A dataset per learner: the course secret, each learner's personal key, and the dataset seed a key gives.

The instructor makes one random course secret (:func:`new_secret`) and, from it, one personal key per student
(:func:`key_for`, HMAC-SHA256 of the student id under the secret), handed out as small key files
(:func:`write_keys`). A key is all a learner's environment needs to build its own variant of the datasets
(:func:`variant_seed`); the grader, holding the secret, derives the same key and seed from the student id
alone, never from anything in a submitted notebook. A key does not reveal the secret, so it cannot be turned
into a classmate's key.

Files::

    course_secret        64 hex digits (32 random bytes) and a newline; mode 0600
    <student>.key        TOML: student = "s001" and key = "xxxxxxxx-xxxxxxxx-xxxxxxxx-xxxxxxxx"

A key is 160 bits of the HMAC in lowercase base32, in four groups of eight; spaces, dashes and case do not
matter when it is read back.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import os
import re
import secrets
import tomllib
from collections.abc import Iterable
from pathlib import Path

from hitlab.errors import InputError

SECRET_BYTES = 32
KEY_BYTES = 20  # 160 bits of the HMAC: 32 base32 characters
KEY_ENV = "HITLAB_KEY"
KEY_FILE = "key"  # in hitlab_home()
SEED_LIMIT = 2**53
"""Variant seeds are 2 .. 2**53 - 1: never 1 (the named datasets' seed) and exact in JSON readers that use
doubles."""

_STUDENT = re.compile(r"[A-Za-z0-9_@+-][A-Za-z0-9._@+-]{0,127}")
_KEY = re.compile(r"[A-Z2-7]{32}")


def new_secret(out: str | Path) -> Path:
    """Write a new random course secret to ``out`` (mode 0600); an existing file is never overwritten."""
    path = Path(out)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InputError(
            "already exists: a course secret is never overwritten (every key depends on it); "
            "choose another path or delete the file yourself",
            path=path,
        ) from None
    except OSError as err:
        raise InputError(f"cannot create the secret file: {err.strerror}", path=path) from None
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(secrets.token_hex(SECRET_BYTES) + "\n")
    return path


def read_secret(path: str | Path) -> bytes:
    """The course secret in file ``path`` (as written by :func:`new_secret`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise InputError("no such course secret file", path=path) from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read the course secret: {err}", path=path) from None
    if not re.fullmatch(r"[0-9a-fA-F]{64}", text):
        raise InputError(
            f"not a course secret: expected {SECRET_BYTES * 2} hex digits (hitlab course secret writes one)",
            path=path,
        )
    return bytes.fromhex(text)


def check_student(student: str) -> str:
    """``student`` if it is a usable student id (letters, digits and ``. _ @ + -``, not starting with a dot,
    at most 128 characters: it names the key file), else :class:`InputError`."""
    if not isinstance(student, str) or not _STUDENT.fullmatch(student):
        raise InputError(
            f"student id {student!r}: expected letters, digits and . _ @ + - (not starting with a dot)"
        )
    return student


def key_for(secret: bytes, student: str) -> str:
    """Student ``student``'s personal key: HMAC-SHA256(secret, student id), its first 160 bits in base32."""
    if len(secret) < 16:
        raise InputError(f"course secret too short: {len(secret)} bytes, expected {SECRET_BYTES}")
    digest = hmac.new(secret, check_student(student).encode("utf-8"), hashlib.sha256).digest()
    text = base64.b32encode(digest[:KEY_BYTES]).decode("ascii").lower()
    return "-".join(text[i : i + 8] for i in range(0, len(text), 8))


def normalize_key(text: str) -> str | None:
    """The canonical form of a key (32 upper-case base32 characters), or None if ``text`` is not a key."""
    canonical = re.sub(r"[\s-]", "", text).upper()
    return canonical if _KEY.fullmatch(canonical) else None


def variant_seed(key: str) -> int:
    """The dataset seed of personal key ``key``: from the key alone, so the learner's environment and the
    grader (secret and student id -> key -> seed) agree. Always in 2 .. 2**53 - 1."""
    canonical = normalize_key(key)
    if canonical is None:
        raise InputError("not a hitlab personal key: expected 32 letters and digits 2-7 (dashes allowed)")
    digest = hashlib.sha256(b"hitlab-dataset-seed\0" + canonical.encode("ascii")).digest()
    return int.from_bytes(digest[:8], "big") % (SEED_LIMIT - 2) + 2


def seed_for(secret: bytes, student: str) -> int:
    """The dataset seed of ``student``: ``variant_seed(key_for(secret, student))``."""
    return variant_seed(key_for(secret, student))


def key_file_text(student: str, key: str) -> str:
    return (
        "# hitlab personal key: it picks the data your labs use. Keep it to yourself.\n"
        f'student = "{check_student(student)}"\n'
        f'key = "{key}"\n'
    )


def write_keys(secret: bytes, students: Iterable[str], out: str | Path) -> list[Path]:
    """Write ``out/<student>.key`` (mode 0600) for each student; return the files. Rewriting a student's file
    writes the same key again."""
    students = [check_student(s) for s in students]
    if not students:
        raise InputError("no students given")
    dupes = sorted({s for s in students if students.count(s) > 1})
    if dupes:
        raise InputError(f"student ids listed twice: {', '.join(dupes)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for student in students:
        path = out / f"{student}.key"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(key_file_text(student, key_for(secret, student)))
        written.append(path)
    return written


def read_roster(path: str | Path) -> list[str]:
    """The student ids of a roster CSV: its ``student`` column, else its ``id`` column (the roster of
    ``hitlab grade`` and nbgrader); blank rows are skipped."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            column = next((c for c in ("student", "id") if c in (reader.fieldnames or [])), None)
            if column is None:
                raise InputError(
                    f"no 'student' or 'id' column (columns: {', '.join(reader.fieldnames or [])})", path=path
                )
            return [check_student(row[column].strip()) for row in reader if (row.get(column) or "").strip()]
    except FileNotFoundError:
        raise InputError("no such roster file", path=path) from None
    except InputError as err:
        if err.path:
            raise
        raise InputError(err.detail, path=path) from None


def read_key_file(path: str | Path) -> str:
    """The key in key file ``path``: a file written by :func:`write_keys` (TOML with a ``key``), or the key alone."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read the hitlab key file: {err}", path=path) from None
    key = normalize_key(text)
    if key is None:
        try:
            value = tomllib.loads(text).get("key")
        except tomllib.TOMLDecodeError:
            value = None
        key = normalize_key(value) if isinstance(value, str) else None
    if key is None:
        raise InputError(
            'not a hitlab key file: expected a line key = "xxxxxxxx-xxxxxxxx-xxxxxxxx-xxxxxxxx" as in the '
            "file your instructor gave you",
            path=path,
        )
    return key


def personal_key() -> str | None:
    """The learner's key: ``$HITLAB_KEY`` (the key itself, or the path of a key file), else the file
    ``key`` in the learner's hitlab folder (``$HITLAB_HOME``, default ``~/.hitlab``); None without one."""
    from hitlab.progress import hitlab_home

    if env := os.environ.get(KEY_ENV, "").strip():
        if key := normalize_key(env):
            return key
        path = Path(env).expanduser()
        if not path.is_file():
            raise InputError(
                f"${KEY_ENV} is neither a hitlab key (32 letters and digits 2-7) nor the path of a key file"
            )
        return read_key_file(path)
    path = hitlab_home() / KEY_FILE
    return read_key_file(path) if path.is_file() else None
