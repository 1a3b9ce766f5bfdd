"""Self-study progress: the latest ``hitlab check`` score of each lab, kept in the learner's home folder."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path


def hitlab_home() -> Path:
    """The learner's own hitlab folder: ``$HITLAB_HOME``, default ``~/.hitlab``."""
    return Path(os.environ.get("HITLAB_HOME", Path.home() / ".hitlab")).expanduser()


def progress_file() -> Path:
    """``$HITLAB_HOME/progress.json`` (default ``~/.hitlab``)."""
    return hitlab_home() / "progress.json"


def load_progress() -> dict[str, dict]:
    """The recorded scores; a damaged file is moved aside whole (``progress.json.damaged-<time>``, kept for
    the learner to repair) rather than overwritten by the next check, which starts a new file."""
    path = progress_file()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return data
    except FileNotFoundError:
        return {}
    except ValueError:
        aside = path.with_name(f"{path.name}.damaged-{datetime.now(UTC):%Y%m%d-%H%M%S}")
        path.replace(aside)
        return {}


def record(lab: str, notebook: str, score: float, max_score: float, items: dict[str, list[float]]) -> None:
    """Store the latest result of ``lab`` (written atomically)."""
    data = load_progress()
    data[lab] = {
        "score": score,
        "max_score": max_score,
        "notebook": notebook,
        "checked": datetime.now(UTC).isoformat(timespec="seconds"),
        "items": items,
    }
    path = progress_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)


def progress_rows(labs: list[str]) -> list[tuple[str, str, str]]:
    """(lab, score, when) for every lab, in order; labs never checked say so."""
    data = load_progress()
    rows = []
    for lab in labs:
        entry = data.get(lab)
        if entry is None:
            rows.append((lab, "not checked yet", ""))
        else:
            rows.append(
                (lab, f"{entry['score']:g} / {entry['max_score']:g}", entry["checked"].replace("T", " "))
            )
    return rows
