"""The record of mock interviews: one JSON file per attempt in ``$HITLAB_HOME/mock/`` (default ``~/.hitlab``).

One file per attempt, each written whole to a temporary file and renamed into place, so that a crash, a full
disk or a damaged file costs at most that one attempt and never the others. A file that cannot be read is
reported by name and position and left exactly as it is: nothing here ever overwrites or deletes it.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from hitlab.errors import InputError
from hitlab.progress import hitlab_home

VERSION = 1
ATTEMPT_ID = re.compile(r"^\d{8}-\d{6}-[a-z-]+-[0-9a-f]{4}$")
ASSESSORS = ("self", "peer", "instructor")


@dataclass
class Drawn:
    """An item as drawn: enough to grade and report it even if the pool changes later."""

    id: str
    lab: str
    kind: str  # "auto" or "written"
    points: float
    topic: str
    minutes: int
    section: str


@dataclass
class Result:
    score: float
    points: float
    graded_by: str  # "checks" (the lab's autograded checks), or who assessed a written answer: self, peer, instructor
    message: str = ""


@dataclass
class Attempt:
    id: str
    track: str
    minutes: int
    seed: int
    started: str  # ISO 8601, UTC
    notebook: str  # the candidate's notebook, relative to the workbook's root
    items: list[Drawn]
    version: int = VERSION
    scored: str = ""  # when it was last scored
    elapsed_minutes: float | None = None  # from the start to the notebook's last save
    results: dict[str, Result] = field(default_factory=dict)

    @property
    def deadline(self) -> datetime:
        from datetime import timedelta

        return datetime.fromisoformat(self.started) + timedelta(minutes=self.minutes)

    @property
    def complete(self) -> bool:
        return all(i.id in self.results for i in self.items)

    def score(self) -> tuple[float, float]:
        """(points earned, points possible) over the items scored so far."""
        got = sum(r.score for r in self.results.values())
        return got, sum(r.points for r in self.results.values())


def mock_home() -> Path:
    return hitlab_home() / "mock"


def new_id(track: str, when: datetime, seed: int) -> str:
    return f"{when.astimezone(UTC):%Y%m%d-%H%M%S}-{track}-{seed & 0xFFFF:04x}"


def attempt_path(attempt_id: str) -> Path:
    if not ATTEMPT_ID.match(attempt_id):
        raise InputError(
            f"not an attempt id: {attempt_id!r} (they look like 20261201-091500-data-engineer-3f2a)"
        )
    return mock_home() / f"{attempt_id}.json"


def save(attempt: Attempt) -> Path:
    """Write ``attempt`` to its file (whole or not at all)."""
    path = attempt_path(attempt.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(asdict(attempt), indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def _parse(path: Path) -> Attempt:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise InputError(
            f"not UTF-8 text (byte {err.start}); the file was left as it is", path=path
        ) from None
    except json.JSONDecodeError as err:
        raise InputError(
            f"damaged JSON at line {err.lineno}, column {err.colno} ({err.msg}); the file was left as it is",
            path=path,
        ) from None
    try:
        if data.get("version") != VERSION:
            raise ValueError(f"version {data.get('version')!r}, expected {VERSION}")
        items = [Drawn(**d) for d in data.pop("items")]
        results = {k: Result(**r) for k, r in data.pop("results").items()}
        return Attempt(items=items, results=results, **data)
    except (AttributeError, KeyError, TypeError, ValueError) as err:
        raise InputError(
            f"not a mock-interview record ({err}); the file was left as it is", path=path
        ) from None


def load(attempt_id: str) -> Attempt:
    path = attempt_path(attempt_id)
    if not path.exists():
        raise InputError(f"no mock interview {attempt_id} (run `hitlab mock --list` for yours)", path=path)
    return _parse(path)


def load_all() -> tuple[list[Attempt], list[InputError]]:
    """Every recorded attempt, oldest first, and an error for each file that could not be read."""
    attempts, problems = [], []
    home = mock_home()
    for path in sorted(home.glob("*.json")) if home.is_dir() else []:
        try:
            attempts.append(_parse(path))
        except InputError as err:
            problems.append(err)
    attempts.sort(key=lambda a: a.started)
    return attempts, problems


def latest() -> Attempt:
    attempts, problems = load_all()
    if not attempts:
        extra = f" ({len(problems)} damaged record(s): {problems[0]})" if problems else ""
        raise InputError(f"no mock interview recorded yet: start one with `hitlab mock --track ...`{extra}")
    return attempts[-1]


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
