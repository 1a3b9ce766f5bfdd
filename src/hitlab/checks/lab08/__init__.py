"""Checks of lab 08, warehouse and population health: a star schema built by an idempotent ETL in DuckDB with
an incremental batch (slowly changing dimensions, late-arriving facts), OMOP CDM 5.4 visit_occurrence and
observation_period by ETL-Synthea's rules, a new-user drug cohort, prevalence, risk tiers, PMPM, plots checked
by their data (PMPM from the claims files, by day of service), and a FHIR Bulk Data export appended to an
append-only raw layer (deletions as tombstones, a current view).

Standards and sources followed: OMOP CDM 5.4; OHDSI ETL-Synthea (its CDM 5.4 SQL: ``AllVisitTable.sql``,
``AAVITable.sql``, ``final_visit_ids.sql``, ``insert_observation_period.sql``) and the OHDSI convention of visit
concept 262 for an ER visit that leads to an admission, adapted from ETL-LambdaBuilder; FHIR Bulk Data Access
IG 2.0.0 (``$export`` manifest: ``output``, ``error``, ``deleted``, ``extension``).

The package reads as the lab does: ``questions`` (the question table), ``materials`` (what learners use) and,
left out of an exam release, ``reference`` and ``answers``.
"""

from hitlab.checks.lab08.materials import (
    AGE_BANDS,
    AS_OF,
    CHRONIC,
    COST_BANDS,
    ER_CLASSES,
    EXPORT_TYPES,
    HYPERTENSION,
    METFORMIN,
    OBSERVATION_PERIOD_TYPE,
    OP_CLASSES,
    VISIT_CONCEPTS,
    batch_split,
    workspace,
    write_bulk_export,
)
from hitlab.checks.lab08.questions import QUESTIONS, q1, q2, q3, q4, q5, q6, q7, q8, q9, q10, q11, q12, q13

__all__ = [
    "AGE_BANDS", "AS_OF", "CHRONIC", "COST_BANDS", "ER_CLASSES", "EXPORT_TYPES", "HYPERTENSION", "METFORMIN",
    "OBSERVATION_PERIOD_TYPE", "OP_CLASSES", "QUESTIONS", "VISIT_CONCEPTS", "batch_split", "q1", "q2", "q3", "q4",
    "q5", "q6", "q7", "q8", "q9", "q10", "q11", "q12", "q13", "workspace", "write_bulk_export",
]  # fmt: skip
