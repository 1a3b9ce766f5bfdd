"""Run nbgrader's autograde on one submission of a scratch course and read back its grades."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field


@dataclass
class Graded:
    student: str
    success: bool
    scores: dict[str, float] = field(default_factory=dict)  # test cell grade_id -> points earned
    error: str = ""


def autograde(api, lab: str, student: str) -> Graded:
    """Autograde ``student``'s submission of ``lab`` (one notebook named after the lab)."""
    from nbgrader.api import Gradebook

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nbgrader's own SQLAlchemy session warnings
        result = api.autograde(lab, student, force=True, create=True)
        if not result["success"]:
            return Graded(student, False, error=(result.get("error") or result.get("log") or "")[-2000:])
        with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
            sub = gb.find_submission_notebook(lab, lab, student)
            scores = {g.name: float(g.auto_score or 0.0) for g in sub.grades if g.cell_type == "code"}
    return Graded(student, True, scores)
