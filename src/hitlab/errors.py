"""The one exception root of hitlab, and its few specific kinds.

Every error raised on purpose by hitlab derives from :class:`HitlabError`, so callers (the CLI, notebooks,
the grader) can tell a problem with the input from a bug. Messages name the file and the place (line, column,
field) and say what was expected.
"""

from __future__ import annotations

from pathlib import Path


class HitlabError(Exception):
    """Root of every error hitlab raises on purpose."""


class InputError(HitlabError):
    """Input that hitlab cannot accept, located as precisely as possible.

    ``str(err)`` reads ``file, line 12, column BIRTHDATE: expected a date yyyy-MM-dd, got '1999/01/02'``.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        column: str | None = None,
    ) -> None:
        self.path = str(path) if path is not None else None
        self.line = line
        self.column = column
        self.detail = message
        where = [
            p
            for p in (self.path, f"line {line}" if line else None, f"column {column}" if column else None)
            if p
        ]
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class DatasetError(HitlabError):
    """A dataset could not be generated, found or opened."""
