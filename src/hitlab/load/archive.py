"""Safe extraction of the CSV files of a ``.zip`` (a downloaded Synthea CSV set)."""

from __future__ import annotations

import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from hitlab.errors import InputError

_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class Member:
    """A file extracted from an archive: where it is now, and how messages name it (``archive.zip:member``)."""

    path: Path
    display: str


def _is_unsafe(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return name.startswith(("/", "\\")) or bool(_DRIVE.match(name)) or ".." in parts


def _is_junk(name: str) -> bool:
    """macOS resource forks and hidden files that zip tools add next to the real ones."""
    path = PurePosixPath(name)
    return "__MACOSX" in path.parts or path.name.startswith(".")


def extract_csv(archive: Path, into: Path, skipped: dict[str, str] | None = None) -> list[Member]:
    """Extract the ``*.csv`` members of ``archive`` into the directory ``into``, flat.

    The CSV files may sit in a subfolder of the archive, but all in the same one. Members with an absolute path
    or a ``..`` component are refused (the whole archive is), and nothing is ever written outside ``into``.
    The other files (not hidden, not macOS resource forks) are added to ``skipped`` as ``archive:member``.
    """
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as err:
        raise InputError(f"not a readable zip archive ({err})", path=archive) from err
    with zf:
        infos = [info for info in zf.infolist() if not info.is_dir()]
        for info in infos:
            if _is_unsafe(info.filename):
                raise InputError(
                    f"refusing to extract {info.filename!r}: absolute path or '..' in a member name",
                    path=f"{archive}:{info.filename}",
                )
        members = [i for i in infos if i.filename.lower().endswith(".csv") and not _is_junk(i.filename)]
        if skipped is not None:
            for info in infos:
                if info not in members and not _is_junk(info.filename):
                    skipped[f"{archive}:{info.filename}"] = (
                        "not a CSV file; only the archive's *.csv are read"
                    )
        if not members:
            raise InputError("no .csv files in the archive; expected Synthea's CSV files", path=archive)
        folders = sorted({str(PurePosixPath(i.filename).parent) for i in members})
        if len(folders) > 1:
            raise InputError(
                f"CSV files in more than one folder of the archive ({', '.join(folders)}); "
                "expected one Synthea CSV set in one folder",
                path=archive,
            )
        extracted = []
        for info in members:
            name = PurePosixPath(info.filename).name
            target = into / name
            with zf.open(info) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            extracted.append(Member(target, f"{archive}:{info.filename}"))
        return extracted
