"""Clinical notes with planted, labelled identifiers (PHI), for the de-identification exercises.

A patient gets a History and physical note at the last wellness visit, a Discharge summary for each of the last
two finished hospital stays, and sometimes a Progress note at an ambulatory follow-up. The prose is filled-in
templates (history, assessment, plan) built from the patient's own record; the identifiers in it are the
patient's synthetic ones (name, MRN, birth date, phone, address, SSN, health plan member ID), a synthetic
relative's name and phone, the clinician's name and the clinic's phone, written in several formats. Each is
labelled as a :class:`~hitlab.synth.model.PhiSpan`. Look-alikes that are not identifiers (doses, lab values,
blood pressures, LOINC and ICD-10-CM codes, years alone, ages under 90, intervals such as "3 months") are left
unlabelled, so a scrubber's precision can be measured as well as its recall.

Notes draw from their own random stream: adding them changed no other fact of a patient.
"""

from __future__ import annotations

import unicodedata
from datetime import date, datetime

from hitlab.synth.model import Encounter, Note, PatientRecord, PhiSpan
from hitlab.synth.reference import FIRST_NAMES
from hitlab.synth.streams import new_uuid, stream
from hitlab.terminology import code

CATEGORIES = {
    "NAME": "(A) names of the individual or of relatives (and, as in common annotation practice, clinicians)",
    "ADDRESS": "(B) geographic subdivisions smaller than a state: street address, city, ZIP code",
    "DATE": "(C) elements of dates (except year) directly related to the individual",
    "AGE_OVER_89": "(C) ages over 89",
    "PHONE": "(D) telephone numbers",
    "EMAIL": "(F) electronic mail addresses",
    "SSN": "(G) social security numbers",
    "MRN": "(H) medical record numbers",
    "HEALTH_PLAN": "(I) health plan beneficiary numbers",
}
"""Span categories, named after the identifiers of 45 CFR 164.514(b)(2)(i) (Safe Harbor), with its letters."""

_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
    "November", "December",
)  # fmt: skip
_CLASSES_FOR_PROGRESS = ("ambulatory",)
_NO_NOTE = ("308646001",)  # death certification


def format_date(d: date, style: str) -> str:
    """``d`` as ``iso`` 2024-03-05, ``us`` 03/05/2024, ``long`` March 5, 2024 or ``short`` 5 Mar 2024."""
    if style == "iso":
        return d.isoformat()
    if style == "us":
        return f"{d.month:02d}/{d.day:02d}/{d.year}"
    if style == "long":
        return f"{_MONTHS[d.month - 1]} {d.day}, {d.year}"
    return f"{d.day} {_MONTHS[d.month - 1][:3]} {d.year}"


def format_phone(digits: str, style: str) -> str:
    """Ten digits as ``paren`` (555) 123-4567 or ``dash`` 555-123-4567."""
    d = "".join(c for c in digits if c.isdigit())
    return f"({d[:3]}) {d[3:6]}-{d[6:]}" if style == "paren" else f"{d[:3]}-{d[3:6]}-{d[6:]}"


def _ascii(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(c for c in folded.lower() if c.isalnum())


def _age(birth: date, when: date) -> int:
    return when.year - birth.year - ((when.month, when.day) < (birth.month, birth.day))


def _plain(display: str) -> str:
    """A concept's display without its SNOMED CT semantic tag: "Essential hypertension"."""
    text = display.rsplit(" (", 1)[0] if display.endswith(")") else display
    return text[0].lower() + text[1:] if text[:2] != text[:2].upper() else text


class _Text:
    """Accumulates a note's text and the spans of what is planted in it."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pos = 0
        self.spans: list[PhiSpan] = []

    def add(self, *pieces: str | tuple[str, str]) -> _Text:
        """Append pieces: plain strings, or ``(value, category)`` pairs that are labelled."""
        for piece in pieces:
            if isinstance(piece, tuple):
                value, category = piece
                self.spans.append(PhiSpan(self.pos, self.pos + len(value), category, value))
            else:
                value = piece
            self.parts.append(value)
            self.pos += len(value)
        return self

    def line(self, *pieces: str | tuple[str, str]) -> _Text:
        return self.add(*pieces, "\n")

    @property
    def text(self) -> str:
        return "".join(self.parts)


class _NoteWriter:
    def __init__(self, p: PatientRecord, seed: int) -> None:
        self.p = p
        self.rng = stream(seed, "notes", p.index)
        rng = self.rng
        self.email = (
            f"{_ascii(p.first)}.{_ascii(p.last)}@{rng.choice(('example.com', 'example.org', 'example.net'))}"
        )
        adult_child = rng.random() < 0.5
        if p.marital == "M" and rng.random() < 0.6:
            relation = "wife" if p.gender == "M" else "husband"
            gender = "F" if p.gender == "M" else "M"
        elif _age(p.birthdate, date(2025, 1, 1)) < 18:
            relation, gender = ("mother", "F") if adult_child else ("father", "M")
        else:
            relation, gender = ("daughter", "F") if adult_child else ("son", "M")
        self.relation = relation
        self.relative = f"{rng.choice(FIRST_NAMES[gender])}{rng.randint(1, 999)} {p.last}"
        self.relative_phone = f"555{rng.randint(100, 999)}{rng.randint(1000, 9999)}"

    # -- pieces ---------------------------------------------------------------------------------------------
    def date_style(self) -> str:
        return self.rng.choice(("iso", "us", "long", "short"))

    def phone_style(self) -> str:
        return self.rng.choice(("paren", "dash"))

    def patient_name(self) -> str:
        p = self.p
        return (
            " ".join(x for x in (p.first, p.middle, p.last) if x)
            if self.rng.random() < 0.5
            else f"{p.first} {p.last}"
        )

    def age_pieces(self, when: date) -> list[str | tuple[str, str]]:
        age = _age(self.p.birthdate, when)
        word = "man" if self.p.gender == "M" else "woman"
        if age < 18:
            word = "boy" if self.p.gender == "M" else "girl"
        if age >= 90:
            return ["a ", (str(age), "AGE_OVER_89"), f"-year-old {word}"]
        article = "an" if str(age)[0] == "8" or age in (11, 18) else "a"
        return [f"{article} {age}-year-old {word}"]

    def header(self, t: _Text, e: Encounter, title: str, when: date) -> None:
        p = self.p
        t.line(title.upper())
        t.line("Patient: ", (self.patient_name(), "NAME"), "    MRN: ", (p.mrn, "MRN"))
        t.line("DOB: ", (format_date(p.birthdate, self.date_style()), "DATE"), "    Date of service: ",
               (format_date(when, self.date_style()), "DATE"))  # fmt: skip
        pr = e.provider
        t.line("Clinician: ", f"{pr.prefix} ", (pr.name, "NAME"), f", {pr.speciality.title()}")
        t.line()

    def findings(self, t: _Text, e: Encounter) -> None:
        obs = {o.code.key: o for o in self.p.observations if o.encounter is e}
        vitals = []
        if "obs.systolic" in obs and "obs.diastolic" in obs:
            vitals.append(f"BP {obs['obs.systolic'].value_text()}/{obs['obs.diastolic'].value_text()} mmHg")
        if "obs.heart_rate" in obs:
            vitals.append(f"HR {obs['obs.heart_rate'].value_text()}/min")
        if "obs.bmi" in obs:
            vitals.append(f"BMI {obs['obs.bmi'].value_text()} kg/m2")
        if "obs.weight" in obs:
            vitals.append(f"weight {obs['obs.weight'].value_text()} kg")
        if vitals:
            t.line("Vitals: ", ", ".join(vitals), ".")
        labs = [o for k, o in obs.items() if o.category == "laboratory" and o.is_numeric]
        if labs:
            shown = ", ".join(f"{o.code.display.split(' [')[0].split('/')[0]} {o.value_text()} {o.units} "
                              f"(LOINC {o.code.code})" for o in labs[:3])  # fmt: skip
            t.line("Results: ", shown, ".")

    def problems(self, when: date) -> list:
        return [c for c in self.p.conditions if c.category == "problem-list-item" and c.start <= when
                and (c.stop is None or c.stop > when)]  # fmt: skip

    def medications(self, when: datetime) -> list[str]:
        seen = {}
        for m in self.p.medications:
            if m.start <= when and (m.stop is None or m.stop > when):
                seen.setdefault(m.code.code, m.code.display)
        return list(seen.values())

    def contact(self, t: _Text) -> None:
        rng = self.rng
        if rng.random() < 0.5:
            t.line(f"Emergency contact: {self.relation} ", (self.relative, "NAME"), ", ",
                   (format_phone(self.relative_phone, self.phone_style()), "PHONE"), ".")  # fmt: skip
        else:
            t.line(f"Accompanied today by {self.relation} ", (self.relative, "NAME"), ", who can be reached at ",
                   (format_phone(self.relative_phone, self.phone_style()), "PHONE"), ".")  # fmt: skip

    def social(self, t: _Text, when: date) -> None:
        p, rng = self.p, self.rng
        a = p.address_on(when)
        t.line("Lives at ", (a.line, "ADDRESS"), ", ", (a.town.name, "ADDRESS"), ", MA ", (a.zip, "ADDRESS"),
               ". Home phone ", (format_phone(p.phone, self.phone_style()), "PHONE"), ".")  # fmt: skip
        if rng.random() < 0.6:
            t.line("Prefers to be contacted by email at ", (self.email, "EMAIL"), ".")
        if 50 <= _age(p.birthdate, when) < 75 and rng.random() < 0.3:
            parent = f"{rng.choice(FIRST_NAMES['F'])}{rng.randint(1, 999)} {p.maiden or p.last}"
            pronoun = "his" if p.gender == "M" else "her"
            t.line(f"Helps care for {pronoun} mother, ", (parent, "NAME"), ", who is ", (str(rng.randint(90, 101)),
                   "AGE_OVER_89"), " and lives nearby.")  # fmt: skip

    def assessment(self, t: _Text, when: datetime, reason: str | None) -> None:
        rng = self.rng
        problems = self.problems(when.date())
        t.line()
        t.line("ASSESSMENT")
        if reason:
            t.line(f"- {reason[0].upper()}{reason[1:]}.")
        for c in problems:
            t.line(
                f"- {_plain(c.code.display)} (ICD-10-CM {c.icd.code}), on the problem list since {c.start.year}."
            )
        if not problems and not reason:
            t.line("- Healthy; no active problems.")
        t.line()
        t.line("PLAN")
        meds = self.medications(when)
        for m in meds[:4]:
            t.line(f"- Continue {m}.")
        if any(c.code.code == "44054006" for c in problems):
            t.line("- Repeat hemoglobin A1c in 3 months; goal below 7.0 %.")
        months = rng.choice((3, 6, 12))
        t.line(f"- Follow up in {months} months.")
        if rng.random() < 0.5:
            nxt = when.date().toordinal() + months * 30 + rng.randint(-5, 5)
            t.line(
                "- Next appointment ", (format_date(date.fromordinal(nxt), self.date_style()), "DATE"), "."
            )
        t.line()

    def sign(self, t: _Text, e: Encounter) -> None:
        t.line("Electronically signed by ", f"{e.provider.prefix} ", (e.provider.name, "NAME"), ". Questions: call ",
               (format_phone(e.organization.phone, self.phone_style()), "PHONE"), ".")  # fmt: skip

    # -- note types -----------------------------------------------------------------------------------------
    def history_physical(self, e: Encounter) -> Note:
        p, rng = self.p, self.rng
        t = _Text()
        when = e.start.date()
        kind = code("note.history_physical")
        self.header(t, e, kind.display, when)
        t.line("HISTORY OF PRESENT ILLNESS")
        who = f"{p.prefix} {p.last}" if p.prefix and rng.random() < 0.5 else self.patient_name()
        visit = "a well-child visit" if _age(p.birthdate, when) < 18 else "an annual physical examination"
        t.line((who, "NAME"), " is ", *self.age_pieces(when), " seen on ",
               (format_date(when, self.date_style()), "DATE"), f" for {visit}.")  # fmt: skip
        problems = self.problems(when)
        if problems:
            t.line("Known ", ", ".join(_plain(c.code.display) for c in problems), ". No new complaints.")
        else:
            t.line("No complaints. No chronic conditions on record.")
        t.line()
        t.line("SOCIAL HISTORY")
        self.social(t, when)
        self.contact(t)
        t.line()
        t.line("EXAM AND RESULTS")
        self.findings(t, e)
        self.assessment(t, e.start, None)
        self.sign(t, e)
        return self.note(e, e.start, kind, t)

    def progress(self, e: Encounter) -> Note:
        p, rng = self.p, self.rng
        t = _Text()
        when = e.start.date()
        kind = code("note.progress")
        self.header(t, e, kind.display, when)
        reason = _plain(e.reason.display) if e.reason else "follow-up of chronic conditions"
        t.line("SUBJECTIVE")
        t.line((self.patient_name(), "NAME"), " is ", *self.age_pieces(when), f" returning for {reason}. ",
               "Reports taking medications as prescribed.")  # fmt: skip
        if rng.random() < 0.5:
            t.line("Reached by phone at ", (format_phone(p.phone, self.phone_style()), "PHONE"),
                   " on ", (format_date(date.fromordinal(when.toordinal() - rng.randint(2, 10)),
                                        self.date_style()), "DATE"), " to confirm the visit.")  # fmt: skip
        t.line()
        t.line("OBJECTIVE")
        self.findings(t, e)
        self.assessment(t, e.start, reason)
        self.sign(t, e)
        return self.note(e, e.start, kind, t)

    def discharge(self, e: Encounter) -> Note:
        p, rng = self.p, self.rng
        t = _Text()
        admitted, discharged = e.start.date(), e.stop.date()
        kind = code("note.discharge")
        self.header(t, e, kind.display, discharged)
        style = self.date_style()
        t.line("Admission date: ", (format_date(admitted, style), "DATE"), "    Discharge date: ",
               (format_date(discharged, style), "DATE"))  # fmt: skip
        reason = _plain(e.reason.display) if e.reason else "acute illness"
        t.line()
        t.line("HOSPITAL COURSE")
        via = {
            "emergency": "through the emergency department",
            "referral": "electively for a planned procedure",
        }.get(e.admit_source, "on transfer from another hospital")
        t.line((self.patient_name(), "NAME"), " is ", *self.age_pieces(admitted), f" admitted {via} on ",
               (format_date(admitted, self.date_style()), "DATE"), f" with {reason}. ",
               f"Length of stay {max(1, (discharged - admitted).days)} days.")  # fmt: skip
        disposition = {"home": "home", "transfer": "to another acute-care hospital", "expired": None}.get(
            e.disposition or "home", "home"
        )
        if disposition:
            t.line(f"Condition improved; discharged {disposition}.")
        else:
            t.line("The patient died during this admission.")
        self.contact(t)
        t.line("Discharge address: ", (p.address_on(discharged).line, "ADDRESS"), ", ",
               (p.address_on(discharged).town.name, "ADDRESS"), ", MA ", (p.address_on(discharged).zip, "ADDRESS"),
               ".")  # fmt: skip
        covered = [c for c in p.coverage if c.member_id and c.start <= e.start < c.end]
        if covered and rng.random() < 0.4:
            c = covered[-1]
            t.line("Financial counseling verified SSN ", (p.ssn, "SSN"), f" and {c.payer.name} member ID ",
                   (c.member_id, "HEALTH_PLAN"), ".")  # fmt: skip
        t.line()
        t.line("RESULTS")
        self.findings(t, e)
        self.assessment(t, e.stop, reason)
        self.sign(t, e)
        return self.note(e, e.stop, kind, t)

    def note(self, e: Encounter, when: datetime, kind, t: _Text) -> Note:
        return Note(new_uuid(self.rng), e, when, kind, t.text, t.spans)


def clinical_notes(p: PatientRecord, seed: int, end: datetime) -> list[Note]:
    """The notes of patient ``p`` (finished encounters before ``end`` only), oldest first."""
    finished = [e for e in p.encounters if e.stop < end and e.code.code not in _NO_NOTE]
    if not finished:
        return []
    w = _NoteWriter(p, seed)
    chosen: list[tuple[Encounter, str]] = []
    wellness = [e for e in finished if e.encclass == "wellness"]
    if wellness:
        chosen.append((wellness[-1], "history_physical"))
    for e in [e for e in finished if e.encclass == "inpatient"][-2:]:
        chosen.append((e, "discharge"))
    ambulatory = [e for e in finished if e.encclass in _CLASSES_FOR_PROGRESS]
    if ambulatory and w.rng.random() < 0.4:
        chosen.append((w.rng.choice(ambulatory), "progress"))
    chosen.sort(key=lambda pair: (pair[0].start, pair[0].id))
    return [getattr(w, kind)(e) for e, kind in chosen]
