"""Checks of lab 10, system design and interview practice: capacity estimates for a regional HIE, an ADT census
consumer for a real-time notification service that stays right under at-least-once delivery (duplicates,
bounded reordering, crashes before the acknowledgement, A08 updates and A40 merges), the standards of a
hospital-payer exchange and the minimum-necessary rule; the design, STAR and explanation items are written.

Sources: HL7 v2.5.1 chapters 2 and 3 (ADT events A01, A02, A03, A08, A40; MSH-3/4, MSH-7, MSH-10, MSH-13,
EVN-2, EVN-6, PID-3, PV1-3, PV1-45, MRG-1); 45 CFR Part 162 (HIPAA transaction standards, incl. claims attachments
from CMS-0053-F, 91 FR 14350: X12 277/275 006020 with HL7 C-CDA); CMS-0057-F (89 FR 8758); HTI-4 (45 CFR
170.315(g)(31)-(33)); CMS-0062-P (proposed); 45 CFR 164.502(b) and 164.514(d) (minimum necessary); 164.506,
164.508, 164.522, 164.524, 164.528; 42 CFR Part 2 (89 FR 12472); 42 CFR 482.24(d).

The package reads as the lab does: ``questions`` (the question table), ``materials`` (what learners use), and,
left out of an exam release, ``reference`` and ``answers``.
"""

from hitlab.checks.lab10.materials import (
    BOUND_MINUTES,
    ELEMENTS,
    EXCHANGES,
    FAULTS,
    HIE_ASSUMPTIONS,
    INDIVIDUAL_REVIEW,
    NOTIFIED,
    POLICY,
    REQUESTS,
    RULE_DOES_NOT_APPLY,
    STANDARDS,
    STORAGE_ASSUMPTIONS,
    AdtEvent,
    Crash,
    NotificationSink,
    Replay,
    adt_feed,
    defined,
    delivery_plan,
    differences,
    parse_adt,
    replay,
)
from hitlab.checks.lab10.questions import HIDDEN, QUESTIONS, q1, q2, q3, q4, q5, q6, q7, q8

__all__ = [
    "BOUND_MINUTES", "ELEMENTS", "EXCHANGES", "FAULTS", "HIDDEN", "HIE_ASSUMPTIONS", "INDIVIDUAL_REVIEW",
    "NOTIFIED", "POLICY", "QUESTIONS", "REQUESTS", "RULE_DOES_NOT_APPLY", "STANDARDS", "STORAGE_ASSUMPTIONS",
    "AdtEvent", "Crash", "NotificationSink", "Replay", "adt_feed", "defined", "delivery_plan", "differences",
    "parse_adt", "q1", "q2", "q3", "q4", "q5", "q6", "q7", "q8", "replay",
]  # fmt: skip
