"""Checks of lab 00, orientation: how the workbook works and the health-IT landscape.

The package reads as the lab does: ``questions`` (the question table) and, left out of an exam release,
``reference`` and ``answers`` (the lab has no materials of its own: its exercises read the workbook's tables).
``HIPAA_ROLES`` and ``CODE_SYSTEMS``, the keys of Q2 and Q3, are the reference's, read when asked for.
"""

from hitlab.checks.lab00.questions import QUESTIONS, q1, q2, q3, q4, q5, q6

_FROM_REFERENCE = ("CODE_SYSTEMS", "HIPAA_ROLES")


def __getattr__(name: str):
    if name in _FROM_REFERENCE:
        from hitlab.checks.core import reference_of

        try:
            return getattr(reference_of(__name__), name)
        except RuntimeError:  # an exam release
            raise AttributeError(f"{name} is not part of this release") from None
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["QUESTIONS", "q1", "q2", "q3", "q4", "q5", "q6"]
