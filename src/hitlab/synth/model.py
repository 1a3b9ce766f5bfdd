"""The records of one simulated patient, shared by the CSV, FHIR and HL7 v2 writers.

All times are UTC (naive ``datetime``); date-only facts are ``date``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from hitlab.synth.reference import Organization, Payer, Provider, Town
from hitlab.terminology import Code


@dataclass(slots=True)
class Address:
    since: date
    line: str
    town: Town
    zip: str
    lat: float
    lon: float


@dataclass(slots=True)
class Coverage:
    start: datetime
    end: datetime
    payer: Payer
    member_id: str
    ownership: str  # Self, Guardian or "" for no insurance
    owner_name: str


@dataclass(slots=True)
class Encounter:
    id: str
    start: datetime
    stop: datetime
    encclass: str  # Synthea's ENCOUNTERCLASS: wellness, ambulatory, urgentcare, virtual, outpatient, emergency, inpatient
    code: Code
    reason: Code | None
    organization: Organization
    provider: Provider
    payer: Payer | None = None
    base_cost: float = 0.0
    total_cost: float = 0.0
    payer_coverage: float = 0.0
    disposition: str | None = None  # inpatient and emergency only: home, admitted, transfer, expired
    admit_source: str | None = None  # inpatient only: emergency, transfer


@dataclass(slots=True)
class Condition:
    start: date
    stop: date | None
    encounter: Encounter
    code: Code
    icd: Code
    category: str  # problem-list-item (chronic) or encounter-diagnosis (acute)


@dataclass(slots=True)
class Observation:
    time: datetime
    encounter: Encounter
    category: str  # vital-signs, laboratory, social-history, exam
    code: Code
    value: float | Code | str
    units: str
    decimals: int = 1
    panel: Code | None = None  # blood pressure panel, lab panel: one FHIR Observation / one HL7 OBR per panel
    reference_range: tuple[float | None, float | None] | None = None

    @property
    def is_numeric(self) -> bool:
        return isinstance(self.value, float)

    def value_text(self) -> str:
        if isinstance(self.value, float):
            return f"{self.value:.{self.decimals}f}"
        if isinstance(self.value, Code):
            return self.value.display
        return self.value

    def interpretation(self) -> str | None:
        """HL7 table 0078 / v3 ObservationInterpretation: ``L``, ``H`` or ``N``, for numbers with a range."""
        if not isinstance(self.value, float) or self.reference_range is None:
            return None
        low, high = self.reference_range
        if low is not None and self.value < low:
            return "L"
        if high is not None and self.value > high:
            return "H"
        return "N"


@dataclass(slots=True)
class Medication:
    start: datetime
    stop: datetime | None
    encounter: Encounter
    code: Code
    reason: Code | None
    base_cost: float
    dispenses: int = 1  # fills, each of ``supply`` days (the last may run past STOP)
    supply: int = 30
    payer: Payer | None = None
    payer_coverage: float = 0.0

    @property
    def total_cost(self) -> float:
        return round(self.base_cost * self.dispenses, 2)


@dataclass(slots=True)
class ClaimLine:
    """One billed item of a claim: the encounter itself, a procedure, a vaccine or a medication fill."""

    code: Code
    amount: float
    units: int
    payer_paid: float
    method: str  # how the patient paid their share: CASH, CHECK or CC ("" when they owed nothing)

    @property
    def patient_paid(self) -> float:
        return round(self.amount - self.payer_paid, 2)


@dataclass(slots=True)
class Claim:
    """A bill for one encounter or one medication fill, settled in full (Synthea's ``claims.csv`` row, whose
    line items and their payments and transfers are ``claims_transactions.csv``)."""

    id: str
    kind: str  # institutional (inpatient and emergency stays), professional, or pharmacy (one fill)
    encounter: Encounter
    start: datetime
    stop: datetime
    payer: Payer
    member_id: str  # payer_transitions MEMBERID of the coverage that paid ("" when uninsured)
    diagnoses: list[Code]
    lines: list[ClaimLine]

    @property
    def payer_paid(self) -> float:
        return round(sum(line.payer_paid for line in self.lines), 2)

    @property
    def patient_paid(self) -> float:
        return round(sum(line.patient_paid for line in self.lines), 2)


@dataclass(slots=True)
class Immunization:
    time: datetime
    encounter: Encounter
    code: Code
    base_cost: float = 140.52


@dataclass(slots=True)
class Procedure:
    start: datetime
    stop: datetime
    encounter: Encounter
    code: Code
    base_cost: float
    reason: Code | None = None


@dataclass(slots=True)
class Allergy:
    start: date
    encounter: Encounter
    code: Code
    category: str  # environment, food, medication
    reactions: list[tuple[Code, str]] = field(default_factory=list)  # (reaction, MILD/MODERATE/SEVERE)


@dataclass(slots=True)
class CarePlan:
    id: str
    start: date
    stop: date | None
    encounter: Encounter
    code: Code
    reason: Code


@dataclass(slots=True)
class PhiSpan:
    """A planted identifier in a note: ``text == note.text[start:end]`` (offsets in code points, end exclusive)."""

    start: int
    end: int
    category: str  # a key of hitlab.synth.notes.CATEGORIES (Safe Harbor identifier kinds)
    text: str


@dataclass(slots=True)
class Note:
    """A clinical note written at an encounter, with the identifiers planted in its text labelled."""

    id: str
    encounter: Encounter
    time: datetime
    type: Code  # a LOINC clinical note type
    text: str
    spans: list[PhiSpan] = field(default_factory=list)


@dataclass(slots=True)
class PatientRecord:
    index: int
    id: str
    mrn: str
    birthdate: date
    deathdate: date | None
    death_time: datetime | None
    ssn: str
    drivers: str
    passport: str
    prefix: str
    first: str
    middle: str
    last: str
    suffix: str
    maiden: str
    marital: str  # M, S, D, W or "" (children)
    race: str  # white, black, asian, native, hawaiian, other
    ethnicity: str  # hispanic, nonhispanic
    gender: str  # M or F
    birthplace: str
    phone: str
    addresses: list[Address]
    income: int
    coverage: list[Coverage] = field(default_factory=list)
    encounters: list[Encounter] = field(default_factory=list)
    conditions: list[Condition] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list)
    medications: list[Medication] = field(default_factory=list)
    immunizations: list[Immunization] = field(default_factory=list)
    procedures: list[Procedure] = field(default_factory=list)
    allergies: list[Allergy] = field(default_factory=list)
    careplans: list[CarePlan] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    cause_of_death: Code | None = None
    notes: list[Note] = field(default_factory=list)

    @property
    def address(self) -> Address:
        """The current (latest) address, the one Synthea's ``patients.csv`` holds."""
        return self.addresses[-1]

    def address_on(self, day: date) -> Address:
        """The address valid on ``day``."""
        current = self.addresses[0]
        for a in self.addresses:
            if a.since <= day:
                current = a
        return current

    @property
    def expenses(self) -> float:
        """What the patient paid out of pocket, for encounters and medication fills alike."""
        return round(sum(c.patient_paid for c in self.claims), 2)

    @property
    def covered(self) -> float:
        """What payers paid for the patient's care."""
        return round(sum(c.payer_paid for c in self.claims), 2)
