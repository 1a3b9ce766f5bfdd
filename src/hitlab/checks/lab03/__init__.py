"""Checks of lab 03, HL7 v2 messaging: parsing ADT (identifiers, visit, escapes), building ORU^R01, ACKs,
MLLP framing and a loopback socket exchange, routing and de-duplication, an A40 merge and robust intake.

Every exercise is a function the learner writes; the check calls it on messages of the workbook's own HL7 v2.5.1
feed (some altered on purpose) and on the real messages of other projects in ``hitlab/labdata/lab03`` (see its
``SOURCES.md``), and compares with the references, which read the text with :mod:`hitlab.hl7.er7`
(independently of hl7apy, which the solutions use).

The package reads as the lab does: ``questions`` (the question table), ``materials`` (what learners use), and,
left out of an exam release, ``reference`` and ``answers``. The reference functions (``lab03.ack_code``,
``lab03.intake``, ...) and the answer sources (``lab03.SOLUTION_Q1``, ...) are still read as attributes of this
package, loaded when first asked for: without ``reference`` such a name raises RuntimeError, and an answer
source reads ``NOT_RELEASED``.
"""

from hitlab.checks.core import AnswerKey, defined, reference_of
from hitlab.checks.lab03.materials import (
    BATCH,
    CHARSETS,
    FIXTURES,
    PROCESSING_IDS,
    SUPPORTED_EVENTS,
    SUPPORTED_VERSIONS,
    TABLE_0357,
    drop_segments,
    feed,
    fixture_bytes,
    fixture_message,
    fixture_messages,
    fixture_names,
    merge_message,
    pick,
    replace_field,
    results_rows,
)
from hitlab.checks.lab03.questions import (
    ESCAPED_TEXT,
    QUESTIONS,
    _hl7apy_trap_cases,  # noqa: F401 - the tests read it from the lab module
    ack_view,
    latin1,
    oru_view,
    q1,
    q2,
    q3,
    q4,
    q5,
    q6,
    q7,
    q8,
    q9,
    q10,
    q11,
)

_REFERENCE = frozenset({
    "_ack", "_commit_then_ack", "ack_code", "ack_reason", "admission_summary", "apply_merge", "intake",
    "listener_ack", "make_ack", "make_oru", "patient_identifiers", "route",
})  # fmt: skip
_ANSWERS = frozenset({*(f"SOLUTION_Q{n}" for n in range(1, 12)), "ALTERNATIVE_Q3"})


def __getattr__(name: str):
    """The reference functions and answer sources, loaded on first use (an exam release has neither)."""
    if name in _REFERENCE:
        return getattr(reference_of(__name__), name)
    if name in _ANSWERS:
        return AnswerKey(__name__).source(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BATCH", "CHARSETS", "ESCAPED_TEXT", "FIXTURES", "PROCESSING_IDS", "QUESTIONS", "SUPPORTED_EVENTS",
    "SUPPORTED_VERSIONS", "TABLE_0357", "ack_view", "defined", "drop_segments", "feed", "fixture_bytes",
    "fixture_message", "fixture_messages", "fixture_names", "latin1", "merge_message", "oru_view", "pick", "q1",
    "q2", "q3", "q4", "q5", "q6", "q7", "q8", "q9", "q10", "q11", "replace_field", "results_rows",
]  # fmt: skip
