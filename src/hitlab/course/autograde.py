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


def read_grades(db_url: str, course_id: str, lab: str, student: str) -> dict[str, dict]:
    """What nbgrader's autograde recorded for ``student``'s notebook of ``lab``: grade cell name -> its
    ``auto_score``, ``needs_manual_grade``, ``max_score``, ``cell_type`` and ``auto_comment`` (if any)."""
    from nbgrader.api import Gradebook

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nbgrader's own SQLAlchemy session warnings
        with Gradebook(db_url, course_id) as gb:
            sub = gb.find_submission_notebook(lab, lab, student)
            grades = {
                g.name: {
                    "auto_score": g.auto_score,
                    "needs_manual_grade": bool(g.needs_manual_grade),
                    "max_score": float(g.max_score),
                    "cell_type": g.cell_type,
                }
                for g in sub.grades
            }
            for comment in sub.comments:
                if comment.auto_comment and comment.name in grades:
                    grades[comment.name]["auto_comment"] = comment.auto_comment
    return grades


def autograde(api, lab: str, student: str) -> Graded:
    """Autograde ``student``'s submission of ``lab`` (one notebook named after the lab)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nbgrader's own SQLAlchemy session warnings
        result = api.autograde(lab, student, force=True, create=True)
    if not result["success"]:
        return Graded(student, False, error=(result.get("error") or result.get("log") or "")[-2000:])
    grades = read_grades(api.coursedir.db_url, api.coursedir.course_id, lab, student)
    scores = {name: float(g["auto_score"] or 0.0) for name, g in grades.items() if g["cell_type"] == "code"}
    return Graded(student, True, scores)
