"""Cohort grading for instructors: collect a cohort's submissions, grade them in parallel in a sandbox with
nbgrader, and write the gradebook, exports, feedback and an item-analysis report (``hitlab grade``).

The names below are imported when first used, so that the processes that only need a small part of this
package (a grading sandbox's evaluator and judge) start without loading nbgrader."""

from __future__ import annotations

import importlib

# the function collect, not the module of that name (the module is hitlab.grading.collect in sys.modules)
from hitlab.grading.collect import (
    DEFAULT_LMS_PATTERN,
    Collection,
    Problem,
    Submission,
    collect,
    safe_student_id,
)

_WHERE = {
    "GradingRun": "runner", "grade": "runner", "read_roster": "runner", "Limits": "sandbox", "STATUSES": "worker",
    "Outcome": "worker",
}  # fmt: skip

__all__ = [
    "DEFAULT_LMS_PATTERN", "Collection", "Problem", "Submission", "collect", "safe_student_id", *_WHERE,
]  # fmt: skip


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'hitlab.grading' has no attribute {name!r}")
    return getattr(importlib.import_module(f"hitlab.grading.{_WHERE[name]}"), name)
