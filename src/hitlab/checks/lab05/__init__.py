"""Checks of lab 05, interoperability: HL7 v2 to FHIR mapping, ConceptMap translation, code-system maps,
value-set expansion, RxNorm normalization, record linkage and reconciliation across the three outputs.

Standards followed: HL7 v2.5.1 (the generated feed; the fixtures are v2.3 to v2.8), FHIR R4 4.0.1 and the
HL7 Version 2 to FHIR IG as its current build publishes it (the HL7/v2-to-fhir repository, pinned in
``SOURCES.md``): segment maps PID → Patient, PV1 → Encounter, OBX → Observation and the vocabulary maps of
tables 0001, 0004 (class and status) and 0085. Reference tables authored for the lab live in
``hitlab/labdata/lab05`` with their sources in its ``SOURCES.md``.

The package reads as the lab does: ``questions`` (the question table), ``materials`` (what learners use), and,
left out of an exam release, ``reference`` and ``answers``.
"""

from hitlab.checks.lab05.materials import (
    DATA,
    EXTRA_DUPLICATES,
    FIXTURE_SN_FN,
    FIXTURES_ADT,
    FIXTURES_ORU,
    HEART_DISEASE,
    LINKAGE_COLUMNS,
    RECONCILE_SAMPLE,
    SENDING_FACILITY_ZONES,
    Segment,
    concept_map,
    defects_manifest,
    feed_messages,
    fhir_datetime,
    hierarchy_sql,
    icd10_to_snomed,
    linkage_patients,
    parse_v2,
    read_fixture,
    reconcile_inputs,
    rxnorm_table,
    sender_zone,
    snomed_hierarchy,
    unescape,
)
from hitlab.checks.lab05.questions import (
    MIN_PRECISION,
    MIN_RECALL,
    OBX_VARIANTS,
    QUESTIONS,
    compare_discrepancies,
    compare_fhir,
    compare_linkage,
    first_difference,
    q1,
    q2,
    q3,
    q4,
    q6,
    q7,
    q8,
    q9,
    q10,
)

__all__ = [
    "DATA", "EXTRA_DUPLICATES", "FIXTURES_ADT", "FIXTURES_ORU", "FIXTURE_SN_FN", "HEART_DISEASE", "LINKAGE_COLUMNS",
    "MIN_PRECISION", "MIN_RECALL", "OBX_VARIANTS", "QUESTIONS", "RECONCILE_SAMPLE", "SENDING_FACILITY_ZONES",
    "Segment", "compare_discrepancies", "compare_fhir", "compare_linkage", "concept_map", "defects_manifest",
    "feed_messages", "fhir_datetime", "first_difference", "hierarchy_sql", "icd10_to_snomed", "linkage_patients",
    "parse_v2", "q1", "q2", "q3", "q4", "q6", "q7", "q8", "q9", "q10", "read_fixture", "reconcile_inputs",
    "rxnorm_table", "sender_zone", "snomed_hierarchy", "unescape",
]  # fmt: skip
