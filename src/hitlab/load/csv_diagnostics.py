"""The slow pass that explains why DuckDB rejected a CSV file: file, line, column, value and what was expected.

It runs only after the fast path failed, so it may read the whole file in Python. Line numbers are 1-based
physical lines of the file, the header being line 1.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from hitlab.errors import InputError


class _Column(Protocol):
    name: str
    kind: str


_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_TIMESTAMP = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})T(\d{1,2}):(\d{1,2}):(\d{1,2})Z")
_DOUBLE = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*|\s*[+-]?(?:nan|inf|infinity)\s*", re.I)
_BIGINT = re.compile(r"\s*[+-]?\d+(?:\.0*)?\s*")
_YEAR = re.compile(r"\d{1,4}")


def _is_date(value: str) -> bool:
    m = _DATE.fullmatch(value)
    if not m:
        return False
    try:
        dt.date(*map(int, m.groups()))
    except ValueError:
        return False
    return True


def _is_timestamp(value: str) -> bool:
    m = _TIMESTAMP.fullmatch(value)
    if not m:
        return False
    try:
        dt.datetime(*map(int, m.groups()))
    except ValueError:
        return False
    return True


def _is_bigint(value: str) -> bool:
    return bool(_BIGINT.fullmatch(value)) and abs(int(float(value))) < 2**63


#: kind -> (check, what an error message says was expected)
CHECKS: dict[str, tuple[Callable[[str], bool], str]] = {
    "DATE": (_is_date, "a date yyyy-MM-dd"),
    "TIMESTAMP": (_is_timestamp, "a UTC timestamp yyyy-MM-ddTHH:mm:ssZ"),
    "DOUBLE": (lambda v: bool(_DOUBLE.fullmatch(v)), "a number"),
    "BIGINT": (_is_bigint, "a whole number"),
    "YEAR": (lambda v: bool(_YEAR.fullmatch(v)), "a year yyyy"),
    "YEAR_OR_TIMESTAMP": (
        lambda v: bool(_YEAR.fullmatch(v)) or _is_timestamp(v),
        "a year yyyy or a UTC timestamp yyyy-MM-ddTHH:mm:ssZ",
    ),
}


def _encoding_problem(path: Path, display: str) -> InputError | None:
    offset = 0
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as err:
                at = offset + err.start
                return InputError(
                    f"not UTF-8: byte 0x{raw[err.start]:02X} at byte offset {at} of the file cannot be decoded "
                    "(expected UTF-8, as Synthea writes; re-save the file as UTF-8)",
                    path=display,
                    line=lineno,
                )
            offset += len(raw)
    return None


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(0, 2)
        if f.tell() == 0:
            return False
        f.seek(-1, 2)
        return f.read(1) == b"\n"


def _structure_or_value_problem(path: Path, display: str, columns: Sequence[_Column]) -> InputError | None:
    checks = [CHECKS.get(c.kind) for c in columns]
    width = len(columns)
    complete_last_line = _ends_with_newline(path)
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, strict=True)
        rows_end = 1
        try:
            next(reader)
            rows_end = reader.line_num
            for row in reader:
                line, rows_end = rows_end + 1, reader.line_num
                if not row:
                    continue
                if len(row) != width:
                    return _width_problem(display, line, row, columns, complete_last_line, f)
                for value, check, column in zip(row, checks, columns, strict=True):
                    if value and check is not None and not check[0](value):
                        return InputError(
                            f"expected {check[1]}, got {value!r}", path=display, line=line, column=column.name
                        )
        except csv.Error as err:
            return InputError(
                f"the row starting here is malformed or cut short ({err}); the file may be truncated",
                path=display,
                line=rows_end + 1,
            )
    return None


def _width_problem(display, line, row, columns, complete_last_line, f) -> InputError:
    width = len(columns)
    if len(row) < width:
        at_end = not complete_last_line and not f.read(1)
        cut = (
            "the file ends in the middle of this row, so it was probably cut short"
            if at_end
            else "the row is cut short (a truncated line)"
        )
        missing = columns[len(row)].name
        return InputError(
            f"the row has {len(row)} of {width} fields: {cut}; the first missing field is {missing}",
            path=display,
            line=line,
            column=missing,
        )
    return InputError(
        f"the row has {len(row)} fields, but the header has {width}; expected one field per header column "
        "(quote values that contain commas)",
        path=display,
        line=line,
    )


def diagnose(path: Path, display: str, columns: Sequence[_Column], error: Exception) -> InputError:
    """Find the first problem in ``path`` that explains ``error`` (DuckDB's), as an :class:`InputError`."""
    problem = _encoding_problem(path, display) or _structure_or_value_problem(path, display, columns)
    if problem is not None:
        return problem
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return InputError(f"DuckDB could not load the file: {first}", path=display)
