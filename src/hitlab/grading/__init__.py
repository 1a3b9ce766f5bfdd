"""Cohort grading for instructors: collect a cohort's submissions, grade them in parallel in a sandbox with
nbgrader, and write the gradebook, exports, feedback and an item-analysis report (``hitlab grade``)."""

from hitlab.grading.collect import (
    DEFAULT_LMS_PATTERN,
    Collection,
    Problem,
    Submission,
    collect,
    safe_student_id,
)
from hitlab.grading.runner import GradingRun, grade, read_roster
from hitlab.grading.sandbox import Limits
from hitlab.grading.worker import STATUSES, Outcome

__all__ = [
    "DEFAULT_LMS_PATTERN",
    "STATUSES",
    "Collection",
    "GradingRun",
    "Limits",
    "Outcome",
    "Problem",
    "Submission",
    "collect",
    "grade",
    "read_roster",
    "safe_student_id",
]
