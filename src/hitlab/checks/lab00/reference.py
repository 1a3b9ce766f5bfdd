"""Lab 00's reference answers: the right pick of each choice, the key of each mapping, and the two counts
computed from the tables with pandas (independently of the solution SQL). Left out of an exam release."""

from __future__ import annotations

from hitlab.checks.sql import table

STANDARDS_BODY = "B"
"""Q1: HL7 International publishes HL7 v2 and FHIR."""
STANDARDS_BODY_WHY_NOT = {
    "A": "ONC runs the EHR certification program and adopts standards for US regulation (USCDI, the Cures Act "
    "rules); it does not write HL7 v2 or FHIR.",
    "C": "IHE writes integration profiles that combine existing standards; it publishes neither HL7 v2 nor FHIR.",
    "D": "Regenstrief maintains LOINC, the code system for lab tests and clinical observations.",
}
"""Q1: why each wrong option is wrong (left out of an exam release: the one missing is the answer)."""

HIPAA_ROLES = {
    "a community hospital that bills insurers electronically": "covered entity",
    "a health plan (an insurer)": "covered entity",
    "a health care clearinghouse, acting in its own right": "covered entity",
    "a cloud company hosting the hospital's EHR under contract": "business associate",
    "a billing company that submits claims for a clinic": "business associate",
    "a step-counting app a consumer installs on their own": "neither",
}

CODE_SYSTEMS = {
    "an HbA1c lab test": "LOINC",
    "a diagnosis on a US claim": "ICD-10-CM",
    "a clinical finding on the problem list": "SNOMED CT",
    "a metformin 500 mg tablet": "RxNorm",
    "a seasonal flu vaccine that was given": "CVX",
}

HIE = "B"
"""Q6: an HIE lets organizations in a region share patients' records."""
HIE_WHY_NOT = {
    "A": "That is the HHS Office for Civil Rights (OCR).",
    "C": "That is a health care clearinghouse.",
    "D": "That is the EHR's own data store; an exchange works between organizations.",
}
"""Q6: why each wrong option is wrong."""


def patients_by_gender() -> list[tuple]:
    patients = table("patients")
    return [(g, int(n)) for g, n in patients["GENDER"].value_counts().items()]


def encounters_2024(enc=None) -> list[tuple]:
    """Encounters started in 2024 per class, on the data or on made-up ``enc`` rows (Q5's scenario)."""
    enc = table("encounters") if enc is None else enc
    started = enc[enc["START"].dt.year == 2024]
    return [(c, int(n)) for c, n in started["ENCOUNTERCLASS"].value_counts().items()]
