"""Small curated code tables (SNOMED CT, LOINC, RxNorm, CVX, ICD-10-CM) used by the generator and the labs.

The table is ``codes.csv`` beside this file: one row per concept, keyed by a short name such as
``cond.diabetes``. Displays are the code systems' own (SNOMED CT fully specified names, LOINC long common
names as Synthea shows them, RxNorm and CVX names).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

SYSTEM_URIS = {
    "SNOMED": "http://snomed.info/sct",
    "LOINC": "http://loinc.org",
    "RXNORM": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "CVX": "http://hl7.org/fhir/sid/cvx",
    "ICD10CM": "http://hl7.org/fhir/sid/icd-10-cm",
}
"""FHIR canonical URIs of the code systems in the table."""

HL7V2_SYSTEMS = {"SNOMED": "SCT", "LOINC": "LN", "RXNORM": "RXNORM", "CVX": "CVX", "ICD10CM": "I10C"}
"""HL7 v2 coding-system names (table 0396) of the code systems in the table."""

RACE = {
    "white": ("2106-3", "White"),
    "black": ("2054-5", "Black or African American"),
    "asian": ("2028-9", "Asian"),
    "native": ("1002-5", "American Indian or Alaska Native"),
    "hawaiian": ("2076-8", "Native Hawaiian or Other Pacific Islander"),
    "other": ("2131-1", "Other Race"),
}
"""Synthea's ``RACE`` values as CDC Race & Ethnicity codes (OID 2.16.840.1.113883.6.238, HL7 v2 ``CDCREC``)."""

OMB_RACE_CATEGORIES = frozenset(("2106-3", "2054-5", "2028-9", "1002-5", "2076-8"))
"""The five OMB race categories (US Core's ``ombCategory``); "Other Race" is not one of them."""

ETHNICITY = {
    "hispanic": ("2135-2", "Hispanic or Latino"),
    "nonhispanic": ("2186-5", "Not Hispanic or Latino"),
}
"""Synthea's ``ETHNICITY`` values as CDC Race & Ethnicity codes (both are OMB ethnicity categories)."""

SYNTHEA_SYSTEMS = {
    "SNOMED": "SNOMED-CT",
    "LOINC": "LOINC",
    "RXNORM": "RxNorm",
    "CVX": "CVX",
    "ICD10CM": "ICD10",
}
"""How Synthea's CSV files spell the code systems (e.g. allergies ``SYSTEM``)."""


@dataclass(frozen=True, slots=True)
class Code:
    """One concept: its code system (a key of :data:`SYSTEM_URIS`), code and display."""

    key: str
    system: str
    code: str
    display: str

    @property
    def system_uri(self) -> str:
        return SYSTEM_URIS[self.system]

    def coding(self) -> dict:
        """The FHIR ``Coding`` of this concept."""
        return {"system": self.system_uri, "code": self.code, "display": self.display}

    def concept(self) -> dict:
        """A FHIR ``CodeableConcept`` holding this concept alone."""
        return {"coding": [self.coding()], "text": self.display}


@cache
def table() -> dict[str, Code]:
    """Every concept of ``codes.csv``, by key."""
    text = resources.files(__package__).joinpath("codes.csv").read_text(encoding="utf-8")
    return {row["key"]: Code(**row) for row in csv.DictReader(text.splitlines())}


def code(key: str) -> Code:
    """The concept with this key, e.g. ``code("obs.hba1c").code == "4548-4"``."""
    try:
        return table()[key]
    except KeyError:
        raise KeyError(f"no concept {key!r} in the terminology table") from None


def codes(prefix: str) -> list[Code]:
    """Every concept whose key starts with ``prefix`` (e.g. ``"vax."``), in table order."""
    return [c for k, c in table().items() if k.startswith(prefix)]
