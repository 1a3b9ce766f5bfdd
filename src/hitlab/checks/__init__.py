"""Learner feedback for the labs: one package per lab (``lab00`` ...), questions as data.

Each lab's package reads as the lab does: ``questions`` (the question table first, then the questions),
``materials`` (what learners use), and the two parts an exam release leaves out, ``reference`` (the reference
implementations that compute expected values) and ``answers`` (worked, alternative and known-wrong answer
sources). ``questions("lab02_sql_patient_data")`` (or ``"lab02"``) lists a lab's
:class:`~hitlab.checks.core.Question` objects; the course pipeline uses them to lint and verify the notebooks.
"""

from __future__ import annotations

import importlib

from hitlab.checks.core import Incorrect, NotAttempted, Question

__all__ = ["Incorrect", "NotAttempted", "Question", "questions"]


def questions(lab: str) -> tuple[Question, ...]:
    """The graded questions of ``lab`` (a lab folder name such as ``lab01_ehr_data_modeling``, or ``lab01``)."""
    prefix = lab.split("_", 1)[0]
    try:
        module = importlib.import_module(f"hitlab.checks.{prefix}")
    except ModuleNotFoundError:
        raise KeyError(f"no checks module hitlab.checks.{prefix} for {lab}") from None
    return tuple(module.QUESTIONS)
