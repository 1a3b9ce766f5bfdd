"""Simulate one patient's life in the record: demographics, chronic disease, visits, results, prescriptions,
immunizations, hospital stays, coverage and death.

Routine care (wellness visits, follow-ups, acute and emergency visits) is recorded for the ten years of the
window ``START``–``END``; a chronic condition that began before the window is recorded at the patient's first
visit in it, with its real onset date as ``START``. Each concern draws from its own random stream
(:mod:`hitlab.synth.streams`).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from hitlab.synth import clinical as cl
from hitlab.synth.model import (
    Address,
    Allergy,
    CarePlan,
    Claim,
    ClaimLine,
    Condition,
    Coverage,
    Encounter,
    Immunization,
    Medication,
    Observation,
    PatientRecord,
    Procedure,
)
from hitlab.synth.notes import clinical_notes
from hitlab.synth.reference import (
    FIRST_NAMES,
    LAST_NAMES,
    PAYER_BY_NAME,
    PRIVATE_PAYERS,
    STREET_KINDS,
    STREET_NAMES,
    TOWNS,
    Organization,
    Payer,
    World,
)
from hitlab.synth.streams import new_uuid, stream
from hitlab.terminology import Code, code

START = datetime(2016, 1, 1)
END = datetime(2026, 1, 1)
"""The recorded window: ten years of history, ``END`` exclusive. Ages and "today" are taken at ``END``."""

AS_OF = (END - timedelta(days=1)).date()

_AGE_BANDS = ((0, 18, 0.22), (18, 35, 0.22), (35, 50, 0.19), (50, 65, 0.19), (65, 80, 0.13), (80, 96, 0.05))
_RACES = (
    ("white", 0.72),
    ("black", 0.09),
    ("asian", 0.07),
    ("native", 0.004),
    ("hawaiian", 0.002),
    ("other", 0.114),
)
_DAY = timedelta(days=1)


def _weighted(rng: random.Random, pairs):
    x = rng.random() * sum(w for _, w in pairs)
    for item, w in pairs:
        x -= w
        if x < 0:
            return item
    return pairs[-1][0]


def _years(days: float) -> timedelta:
    return timedelta(days=days * 365.25)


def age_at(birth: date, when: date | datetime) -> int:
    if isinstance(when, datetime):
        when = when.date()
    return when.year - birth.year - ((when.month, when.day) < (birth.month, birth.day))


def _daytime(rng: random.Random, day: date) -> datetime:
    """A clinic time on ``day``: 13:00–22:00 UTC is 8 am–5 pm on the US East Coast."""
    return datetime(day.year, day.month, day.day, rng.randint(13, 21), rng.randint(0, 59), rng.randint(0, 59))


def _weekday(day: date) -> date:
    """``day``, or the Monday after it if it falls on a weekend."""
    return day + timedelta(days=(7 - day.weekday()) % 7 if day.weekday() >= 5 else 0)


def _random_day(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randint(0, max(0, (last - first).days)))


@dataclass(slots=True)
class _Care:
    clinic: Organization
    hospital: Organization


class PatientSimulator:
    """Builds the :class:`PatientRecord` of patient ``index`` of the population with seed ``seed``."""

    def __init__(self, world: World, seed: int, index: int) -> None:
        self.world = world
        self.seed = seed
        self.index = index

    def rng(self, concern: str) -> random.Random:
        return stream(self.seed, concern, self.index)

    # -- who the patient is ------------------------------------------------------------------------------
    def run(self) -> PatientRecord:
        p = self._demographics()
        self.p = p
        self._risk = self._risk_factors()
        self.onsets = self._onsets()
        natural_death = self._natural_death()
        self.care = self._care_sites()
        self.alive_until = natural_death or END
        self._hospital_course()  # may move death earlier (death in hospital)
        self._coverage()
        if self.alive_until < END:
            p.death_time = self.alive_until
            p.deathdate = self.alive_until.date()
            p.addresses = [a for a in p.addresses if a.since <= p.deathdate]  # nobody moves after death
        self._routine_care()
        self._record_conditions()
        self._reconcile_medications()
        self._allergies()
        self._death_certificate()
        p.encounters.sort(key=lambda e: (e.start, e.id))
        self._costs()
        return p

    def _demographics(self) -> PatientRecord:
        rng = self.rng("demographics")
        gender = rng.choice("MF")
        low, high = _weighted(rng, [((lo, hi), w) for lo, hi, w in _AGE_BANDS])
        age_days = rng.uniform(low, high) * 365.25
        birthdate = (END - timedelta(days=age_days)).date()
        race = _weighted(rng, _RACES)
        ethnicity = "hispanic" if rng.random() < (0.35 if race == "other" else 0.08) else "nonhispanic"
        age = age_at(birthdate, END)
        marital = ""
        if age >= 18:
            marital = _weighted(
                rng, (("M", 0.5), ("S", 0.33), ("D", 0.11), ("W", 0.06 if age > 60 else 0.01))
            )
        income = int(min(max(rng.lognormvariate(11.0, 0.7), 8000), 900000))
        ids = self.rng("identifiers")
        patient_id = new_uuid(ids)
        mrn = f"{(self.index * 7_919_113 + self.seed * 104_729) % 10**8:08d}"  # a bijection of index: unique
        ssn = f"999-{ids.randint(10, 99)}-{ids.randint(1000, 9999)}"
        drivers = f"S999{ids.randint(10000, 99999)}" if age >= 16 else ""
        passport = f"X{ids.randint(10000000, 99999999)}X" if age >= 18 and ids.random() < 0.7 else ""
        phone = f"555-{ids.randint(100, 999)}-{ids.randint(1000, 9999)}"

        names = self.rng("names")
        first = f"{names.choice(FIRST_NAMES[gender])}{names.randint(1, 999)}"
        middle = f"{names.choice(FIRST_NAMES[gender])}{names.randint(1, 999)}" if names.random() < 0.6 else ""
        last = f"{names.choice(LAST_NAMES)}{names.randint(1, 999)}"
        maiden = ""
        if gender == "F" and marital in ("M", "W", "D") and names.random() < 0.7:
            maiden, last = last, f"{names.choice(LAST_NAMES)}{names.randint(1, 999)}"
        prefix = "" if age < 18 else ("Mr." if gender == "M" else ("Mrs." if marital == "M" else "Ms."))
        suffix = names.choice(("MD", "PhD", "JD", "DDS")) if age >= 30 and names.random() < 0.01 else ""

        where = self.rng("address")
        birth_town = _weighted(where, [(t, t.weight) for t in TOWNS])
        addresses = [self._address(where, birthdate)]
        first_move, last_move = max(START.date(), birthdate) + _DAY * 30, AS_OF - _DAY * 30
        if where.random() < 0.18 and first_move < last_move:  # moved in the window: history for SCD type 2
            addresses.append(self._address(where, _random_day(where, first_move, last_move)))
        return PatientRecord(
            index=self.index, id=patient_id, mrn=mrn, birthdate=birthdate, deathdate=None, death_time=None,
            ssn=ssn, drivers=drivers, passport=passport, prefix=prefix, first=first, middle=middle, last=last,
            suffix=suffix, maiden=maiden, marital=marital, race=race, ethnicity=ethnicity, gender=gender,
            birthplace=f"{birth_town.name}, Massachusetts, US", phone=phone, addresses=addresses, income=income,
        )  # fmt: skip

    @staticmethod
    def _address(rng: random.Random, since: date) -> Address:
        town = _weighted(rng, [(t, t.weight) for t in TOWNS])
        line = f"{rng.randint(1, 999)} {rng.choice(STREET_NAMES)} {rng.choice(STREET_KINDS)}"
        if rng.random() < 0.3:
            line += f" Unit {rng.randint(1, 60)}"
        lat = town.lat + rng.uniform(-0.03, 0.03)
        lon = town.lon + rng.uniform(-0.03, 0.03)
        return Address(since, line, town, rng.choice(town.zips), round(lat, 6), round(lon, 6))

    def _risk_factors(self) -> dict:
        rng = self.rng("risk")
        bmi = cl.clip(rng.gauss(28.3, 5.5), 17.5, 52)
        smoking = _weighted(rng, (("never", 0.62), ("former", 0.24), ("current", 0.14)))
        return {
            "bmi": bmi,
            "obese": bmi >= 30,
            "smoking": smoking,
            "adult_height": rng.gauss(176, 7) if self.p.gender == "M" else rng.gauss(163, 6.5),
            "control": cl.clip(rng.gauss(7.3, 0.9), 6.2, 10.5),  # diabetic glycaemic control (mean HbA1c)
            "bp_controlled": rng.random() < 0.6,
            "treated": {c: rng.random() < share for c, share in sorted(cl.PRESCRIBED_SHARE.items())},
        }

    def _onsets(self) -> dict[str, datetime]:
        """Onset date of each chronic condition the patient develops before ``END``."""
        rng = self.rng("conditions")
        risk = self._risk
        onsets: dict[str, datetime] = {}
        birth = datetime.combine(self.p.birthdate, datetime.min.time())
        for c in cl.CHRONIC:
            rr = 1.0
            if risk["obese"]:
                rr *= cl.RISK.get((c, "obese"), 1.0)
            rr *= cl.RISK.get((c, "smoker" if risk["smoking"] != "never" else "never"), 1.0)
            for dep in ("diabetes", "hypertension"):
                if dep in onsets:
                    rr *= cl.RISK.get((c, dep), 1.0)
            age = cl.onset_age(c, rng, rr)
            when = birth + _years(age) if age is not None else None
            if when is not None and when < END and not (c == "prediabetes" and "diabetes" in onsets):
                onsets[c] = _daytime(rng, when.date())
        return onsets

    def _serious(self, when: datetime) -> int:
        return sum(1 for c in cl.SERIOUS if c in self.onsets and self.onsets[c] <= when)

    def _natural_death(self) -> datetime | None:
        rng = self.rng("death")
        birth = self.p.birthdate
        year = max(START.year, birth.year)
        while year < END.year:
            jan1 = datetime(year, 1, 1)
            diabetic = "diabetes" in self.onsets and self.onsets["diabetes"] <= jan1
            q = cl.annual_mortality(age_at(birth, jan1.date()), self._serious(jan1), diabetic)
            if rng.random() < q:
                first = max(date(year, 1, 1), birth + _DAY)
                day = _random_day(rng, first, date(year, 12, 31))
                return datetime(day.year, day.month, day.day, rng.randint(0, 23), rng.randint(0, 59))
            year += 1
        return None

    def _care_sites(self) -> _Care:
        rng = self.rng("care")
        return _Care(clinic=rng.choice(self.world.clinics), hospital=rng.choice(self.world.hospitals))

    # -- coverage ---------------------------------------------------------------------------------------
    def _coverage(self) -> None:
        rng = self.rng("coverage")
        p = self.p
        first_year = max(START.year, p.birthdate.year)
        last_year = min(self.alive_until.year, END.year - 1)
        private = rng.choice(PRIVATE_PAYERS)
        poor = p.income < 26000
        guardian = f"{rng.choice(FIRST_NAMES[rng.choice('MF')])}{rng.randint(1, 999)} {p.last}"
        spans: list[list] = []  # [payer, first_year, last_year]
        for year in range(first_year, last_year + 1):
            age = age_at(p.birthdate, date(year, 7, 1))
            if age >= 65:
                payer = PAYER_BY_NAME["Dual Eligible" if poor and rng.random() < 0.5 else "Medicare"]
            elif poor:
                payer = PAYER_BY_NAME["Medicaid" if rng.random() < 0.85 else "NO_INSURANCE"]
            else:
                if rng.random() < 0.08:
                    private = rng.choice(PRIVATE_PAYERS)
                payer = PAYER_BY_NAME["NO_INSURANCE"] if rng.random() < 0.05 else private
            if spans and spans[-1][0] is payer:
                spans[-1][2] = year
            else:
                spans.append([payer, year, year])
        birth = datetime.combine(p.birthdate, datetime.min.time())
        for payer, y0, y1 in spans:
            start = max(datetime(y0, 1, 1), birth)
            end = min(datetime(y1 + 1, 1, 1), self.alive_until)
            minor = age_at(p.birthdate, start) < 18
            if payer.name == "NO_INSURANCE":
                ownership, owner = "", ""
            else:
                ownership = "Guardian" if minor else "Self"
                owner = guardian if minor else f"{p.first} {p.last}"
            p.coverage.append(Coverage(start, end, payer, new_uuid(rng), ownership, owner))

    def coverage_on(self, when: datetime) -> Coverage | None:
        """The coverage in force at ``when``; at the moment of death, the one that ended with it."""
        for cov in self.p.coverage:
            if cov.start <= when < cov.end or when == cov.end == self.alive_until:
                return cov
        return None

    def payer_on(self, when: datetime) -> Payer:
        cov = self.coverage_on(when)
        return cov.payer if cov else PAYER_BY_NAME["NO_INSURANCE"]

    # -- encounters -----------------------------------------------------------------------------------------
    def _encounter(
        self,
        rng: random.Random,
        start: datetime,
        minutes: float,
        encclass: str,
        key: str,
        reason: Code | None,
        org: Organization,
        speciality: tuple[str, ...] = (),
    ) -> Encounter:
        providers = [
            pr for pr in self.world.providers_of(org) if not speciality or pr.speciality in speciality
        ]
        enc = Encounter(
            id=new_uuid(rng),
            start=start,
            stop=start + timedelta(minutes=minutes),
            encclass=encclass,
            code=code(key),
            reason=reason,
            organization=org,
            provider=rng.choice(providers or self.world.providers_of(org)),
        )
        self.p.encounters.append(enc)
        return enc

    def _alive(self, when: datetime) -> bool:
        return when < self.alive_until and when.date() >= self.p.birthdate

    def _virtual(self, rng: random.Random, when: datetime) -> bool:
        return rng.random() < cl.TELEHEALTH_SHARE.get(when.year, cl.TELEHEALTH_LATER)

    def _hospital_course(self) -> None:
        """Emergency visits, emergency and elective admissions, transfers, readmissions and deaths in hospital, in
        time order (the model is described in :mod:`hitlab.synth.clinical`)."""
        rng = self.rng("hospital")
        p = self.p
        self.frailty = max(
            0.05, self.rng("frailty").gammavariate(cl.ED_FRAILTY_SHAPE, 1 / cl.ED_FRAILTY_SHAPE)
        )
        electives = self._elective_dates()
        t = max(START, datetime.combine(p.birthdate, datetime.min.time()))
        while True:
            age = age_at(p.birthdate, t)
            has = self._has(t)
            rate = 0.07 + 0.004 * max(0, age - 50) + 0.3 * ("chf" in has) + 0.22 * ("copd" in has)
            rate += 0.06 * ("asthma" in has)
            later = (t + _years(min(rng.expovariate(rate * self.frailty), 100))).replace(microsecond=0)
            while electives and electives[0] < t:  # fell during a stay: rescheduled never
                electives.pop(0)
            if electives and electives[0] <= later:
                when = electives.pop(0)
                if not self._alive(when) or when >= END:
                    return
                knee = code("cond.knee_oa")
                t = self._stay(rng, when, knee, "knee_oa", elective=True)
                if t is None:
                    return
                continue
            t = later
            if not self._alive(t) or t >= END:
                return
            weights = []
            for reason, (w, _admit, _proc) in cl.EMERGENCY.items():
                if reason == "copd_exacerbation":
                    w = 0.5 if "copd" in has else 0.0
                elif reason in ("chf", "asthma"):
                    w = (0.5 if reason == "chf" else 0.3) if reason in has else 0.0
                weights.append((reason, w))
            reason = _weighted(rng, weights)
            ed = self._emergency_visit(rng, t, reason)
            if rng.random() >= cl.EMERGENCY[reason][1]:
                ed.disposition = "home"
                t = ed.stop
                continue
            t = self._admit_from(rng, ed, reason)
            if t is None:
                return

    def _elective_dates(self) -> list[datetime]:
        """When the patient's knees are replaced: at most twice, from 50 with knee osteoarthritis."""
        rng = self.rng("elective")
        onset = self.onsets.get("knee_oa")
        if onset is None:
            return []
        fifty = datetime.combine(self.p.birthdate, datetime.min.time()) + _years(50)
        t, dates = max(onset, fifty, START), []
        while len(dates) < 2:
            t = t + _years(rng.expovariate(cl.ELECTIVE_PER_YEAR))
            if t >= END:
                break
            dates.append(datetime.combine(_weekday(t.date()), datetime.min.time()) + timedelta(hours=7))
            t = dates[-1] + timedelta(days=180)  # the other knee, if ever, at least six months later
        return dates

    def _emergency_visit(self, rng: random.Random, t: datetime, reason: str) -> Encounter:
        _w, _admit_p, proc = cl.EMERGENCY[reason]
        reason_code = code(f"cond.{reason}")
        ed = self._encounter(
            rng, t, rng.uniform(90, 360), "emergency", "enc.emergency", reason_code, self.care.hospital,
            ("EMERGENCY MEDICINE",),
        )  # fmt: skip
        if reason not in ("chf", "copd_exacerbation", "asthma"):
            self._acute_condition(ed, reason, rng.randint(5, 30))
        elif reason == "copd_exacerbation":
            self._acute_condition(ed, reason, rng.randint(7, 21))
        if proc:
            self._procedure(rng, ed, proc, reason_code)
        self._vitals(ed, full=False)
        if reason in ("chest_pain",) and rng.random() < 0.5:
            self._labs(ed, ("obs.glucose", "obs.creatinine"), cl_panel="panel.bmp")
        return ed

    def _admit_from(self, rng: random.Random, ed: Encounter, reason: str) -> datetime | None:
        """Admission from the emergency department; returns when the patient left, or None if they died."""
        ed.disposition = "admitted"
        if reason == "chest_pain" and rng.random() < 0.4:
            self._acute_condition(ed, "mi", None)
            reason = "mi"
        return self._stay(rng, ed.stop, code(f"cond.{reason}"), reason, elective=False)

    def _conditions_at(self, when: datetime) -> set[str]:
        """Chronic conditions begun by ``when``, and a myocardial infarction if one is on record by then."""
        had_mi = any(c.code.key == "cond.mi" and c.start <= when.date() for c in self.p.conditions)
        return self._has(when) | ({"mi"} if had_mi else set())

    def _stay(
        self,
        rng: random.Random,
        start: datetime,
        reason: Code,
        key: str,
        elective: bool,
        hospital: Organization | None = None,
        transferred: bool = False,
    ) -> datetime | None:
        """An inpatient stay; returns when the patient left, or None if they died in hospital."""
        p = self.p
        hospital = hospital or self.care.hospital
        age = age_at(p.birthdate, start)
        score = cl.charlson(self._conditions_at(start))
        days = cl.stay_days(rng, age, score, key, self.frailty, elective)
        specialities = ("ORTHOPEDIC SURGERY",) if elective else (
            "INTERNAL MEDICINE", "CARDIOLOGY", "PULMONARY DISEASE", "NEPHROLOGY"
        )  # fmt: skip
        stay = self._encounter(
            rng, start, days * 1440 + rng.randint(-300, 300), "inpatient",
            "enc.elective_admission" if elective else "enc.emergency_admission", reason, hospital, specialities,
        )  # fmt: skip
        stay.admit_source = "transfer" if transferred else "referral" if elective else "emergency"
        self._vitals(stay, full=False)
        self._labs(stay, ("obs.glucose", "obs.creatinine"), cl_panel="panel.bmp")
        if elective:
            self._procedure(rng, stay, "proc.knee_replacement", reason)
        if stay.stop >= self.alive_until:  # natural death falls during the stay: dies in hospital
            stay.stop = max(self.alive_until, stay.start + timedelta(hours=2))
        death = 0.002 if elective else 0.025 + 0.03 * (age >= 80)
        if stay.stop >= self.alive_until or rng.random() < death:
            stay.disposition = "expired"
            self.alive_until = stay.stop
            p.cause_of_death = reason
            return None
        if stay.stop >= END:
            stay.disposition = None  # still in hospital at the end of the window
            return stay.stop
        if not transferred and not elective and rng.random() < 0.04:  # to another acute-care hospital
            stay.disposition = "transfer"
            other = rng.choice([h for h in self.world.hospitals if h.id != hospital.id])
            back = stay.stop + timedelta(minutes=rng.randint(45, 240))
            return self._stay(rng, back, reason, key, False, other, transferred=True)
        stay.disposition = "home"
        return self._after_discharge(rng, stay, key, elective, age, score)

    def _after_discharge(
        self, rng: random.Random, stay: Encounter, key: str, elective: bool, age: int, score: int
    ) -> datetime | None:
        """An unplanned readmission within 30 days, or none; returns when the patient left hospital."""
        admitted = stay.start
        if stay.admit_source == "transfer":  # the episode began at the first hospital
            admitted = max(e.start for e in self.p.encounters if e.encclass == "inpatient" and e is not stay
                           and e.stop <= stay.start)  # fmt: skip
        ed_visits = sum(
            1 for e in self.p.encounters
            if e.encclass == "emergency" and admitted - timedelta(days=182) <= e.start
            and e.stop < admitted - timedelta(hours=1)
        )  # fmt: skip
        prior = sum(
            1 for e in self.p.encounters
            if e.encclass == "inpatient" and admitted - timedelta(days=365) <= e.start < admitted
            and e.admit_source != "transfer"
        )  # fmt: skip
        days = max(1, (stay.stop.date() - admitted.date()).days)
        risk = cl.readmission_risk(
            days, not elective, score, ed_visits, age, prior, self.p.income < 26000, self.frailty
        )
        if rng.random() >= risk:
            return stay.stop
        back = (stay.stop + timedelta(days=1 + 29 * rng.random() ** 1.6)).replace(microsecond=0)
        if not self._alive(back) or back >= END:
            return stay.stop
        reason = {
            "chf": "chf",
            "mi": "chest_pain",
            "copd_exacerbation": "copd_exacerbation",
            "asthma": "asthma",
        }.get(key, "pneumonia")  # a complication of the same illness, or a new infection
        ed = self._emergency_visit(rng, back, reason)
        return self._admit_from(rng, ed, reason)

    def _acute_condition(self, enc: Encounter, key: str, days: int | None) -> None:
        stop = enc.start.date() + timedelta(days=days) if days else None
        if stop is not None and (stop >= END.date() or stop > self.alive_until.date()):
            stop = None
        self.p.conditions.append(
            Condition(
                enc.start.date(), stop, enc, code(f"cond.{key}"), code(f"icd.{key}"), "encounter-diagnosis"
            )
        )

    def _routine_care(self) -> None:
        p = self.p
        rng = self.rng("visits")
        first = max(START.date(), p.birthdate)
        for year in range(first.year, END.year):
            day = _random_day(rng, max(date(year, 1, 1), first), date(year, 12, 31))
            when = _daytime(rng, day)
            age = age_at(p.birthdate, day)
            if self._alive(when) and rng.random() < (0.92 if age < 18 else 0.78):
                self._wellness(when, age)
        self._first_visit_if_none(rng)
        self._follow_ups()
        self._acute_visits()
        self._screenings()

    def _first_visit_if_none(self, rng: random.Random) -> None:
        """Everyone alive in the window is seen at least once."""
        if any(e.encclass == "wellness" for e in self.p.encounters):
            return
        first = max(START.date(), self.p.birthdate)
        last = min(AS_OF, (self.alive_until - _DAY).date())
        if last < first:
            return
        when = _daytime(rng, _random_day(rng, first, last))
        if self._alive(when):
            self._wellness(when, age_at(self.p.birthdate, when))

    def _wellness(self, when: datetime, age: int) -> None:
        rng = self.rng(f"wellness/{when.year}")
        key = "enc.well_child" if age < 18 else "enc.checkup"
        enc = self._encounter(rng, when, rng.choice((15, 20, 30)), "wellness", key, None, self.care.clinic)
        self._vitals(enc, full=True)
        has = self._has(when)
        if age >= 18:
            self.p.observations.append(
                Observation(when, enc, "social-history", code("obs.smoking"), self._smoking_code(), "", 0)
            )
        labs: list[str] = []
        if (
            ("diabetes" in has and rng.random() < 0.88)
            or ("prediabetes" in has and rng.random() < 0.7)
            or (age >= 45 and rng.random() < 0.12)
        ):
            labs.append("obs.hba1c")
        if labs:
            self._labs(enc, labs)
        if "diabetes" in has or "ckd3" in has or (age >= 40 and rng.random() < 0.3):
            keys = ["obs.glucose", "obs.creatinine"] + (["obs.egfr"] if "ckd3" in has or age >= 60 else [])
            self._labs(enc, keys, cl_panel="panel.bmp")
        if "hyperlipidemia" in has or (age >= 40 and rng.random() < 0.2):
            self._labs(
                enc, ("obs.cholesterol", "obs.triglycerides", "obs.ldl", "obs.hdl"), cl_panel="panel.lipid"
            )
        self._immunize(rng, enc, age)
        if age >= 18 and rng.random() < 0.5:
            self._procedure(rng, enc, "proc.depression_screening", None)

    def _has(self, when: datetime) -> set[str]:
        return {c for c, t in self.onsets.items() if t <= when}

    def _smoking_code(self) -> Code:
        return code({"never": "smoking.never", "former": "smoking.former", "current": "smoking.current"}[
            self._risk["smoking"]
        ])  # fmt: skip

    def _vitals(self, enc: Encounter, full: bool) -> None:
        rng = self.rng(f"vitals/{enc.id}")
        p, risk = self.p, self._risk
        t = enc.start
        age_days = (t.date() - p.birthdate).days
        age = age_days / 365.25
        obs = p.observations
        add = obs.append
        units = cl.VITAL_UNITS
        if full and age >= 0:
            height = cl.height_cm(age, risk["adult_height"]) + rng.gauss(0, 0.4)
            bmi_base = risk["bmi"] + 0.08 * max(0.0, age - 40) if age >= 18 else 15.5 + 0.25 * min(age, 16)
            bmi = cl.clip(bmi_base + rng.gauss(0, 0.6), 12.0, 60.0)
            weight = bmi * (height / 100) ** 2
            for key, value in (
                ("obs.height", height),
                ("obs.weight", weight),
                ("obs.bmi", weight / (height / 100) ** 2),
            ):
                if key == "obs.bmi" and age < 2:
                    continue
                u, d = units[key]
                add(Observation(t, enc, "vital-signs", code(key), round(value, d), u, d))
        has = self._has(t)
        if age >= 3:
            sbp = 104 + 0.45 * max(0.0, age - 18) + rng.gauss(0, 8)
            dbp = 66 + 0.18 * max(0.0, age - 18) + rng.gauss(0, 6)
            if "hypertension" in has:
                lift = 10 if risk["bp_controlled"] else 24
                sbp += lift
                dbp += lift * 0.45
            sbp, dbp = cl.clip(sbp, 80, 210), cl.clip(dbp, 45, 125)
            panel = code("obs.bp_panel")
            add(
                Observation(
                    t, enc, "vital-signs", code("obs.systolic"), float(round(sbp)), "mm[Hg]", 0, panel
                )
            )
            add(
                Observation(
                    t, enc, "vital-signs", code("obs.diastolic"), float(round(dbp)), "mm[Hg]", 0, panel
                )
            )
        hr = cl.clip(rng.gauss(120 - 5 * min(age, 10), 10) if age < 12 else rng.gauss(73, 9), 45, 170)
        rr = cl.clip(rng.gauss(30 - 1.2 * min(age, 12), 3) if age < 12 else rng.gauss(15, 2), 10, 50)
        add(Observation(t, enc, "vital-signs", code("obs.heart_rate"), float(round(hr)), "/min", 0))
        add(Observation(t, enc, "vital-signs", code("obs.resp_rate"), float(round(rr)), "/min", 0))

    def _labs(self, enc: Encounter, keys, cl_panel: str | None = None) -> None:
        rng = self.rng(f"labs/{enc.id}/{cl_panel}")
        p, risk = self.p, self._risk
        t = enc.start + timedelta(minutes=rng.randint(20, 90))
        if t >= self.alive_until:
            t = enc.start
        has = self._has(enc.start)
        diabetic, pre = "diabetes" in has, "prediabetes" in has
        ckd = "ckd3" in has
        hyperlipid = "hyperlipidemia" in has
        treated_lipids = hyperlipid and risk["treated"]["hyperlipidemia"]
        panel = code(cl_panel) if cl_panel else None
        male = p.gender == "M"
        for key in keys:
            if key == "obs.hba1c":
                v = cl.hba1c(rng, diabetic, pre, risk["control"])
            elif key == "obs.glucose":
                v = cl.glucose(rng, diabetic, pre, risk["control"])
            elif key == "obs.creatinine":
                v = cl.clip(
                    rng.gauss(1.85, 0.3) if ckd else rng.gauss(0.95 if male else 0.78, 0.13), 0.4, 4.0
                )
            elif key == "obs.egfr":
                v = rng.uniform(31, 59) if ckd else cl.clip(rng.gauss(92, 14), 61, 130)
            elif key == "obs.cholesterol":
                v = cl.clip(rng.gauss(205 if treated_lipids else (245 if hyperlipid else 182), 22), 110, 360)
            elif key == "obs.triglycerides":
                v = cl.clip(rng.gauss(175 if hyperlipid else 125, 40), 40, 600)
            elif key == "obs.ldl":
                v = cl.clip(rng.gauss(118 if treated_lipids else (160 if hyperlipid else 104), 20), 40, 260)
            else:  # obs.hdl
                v = cl.clip(rng.gauss(48 if male else 58, 11), 20, 110)
            u, low, high, d = cl.LAB_UNITS[key]
            p.observations.append(
                Observation(t, enc, "laboratory", code(key), round(v, d), u, d, panel, (low, high))
            )

    def _immunize(self, rng: random.Random, enc: Encounter, age: int) -> None:
        given: list[str] = []
        year = enc.start.year
        schedule = {0: ("vax.hepb_ped", "vax.dtap", "vax.ipv"), 1: ("vax.mmr", "vax.varicella"),
                    4: ("vax.dtap", "vax.ipv", "vax.mmr", "vax.varicella"), 11: ("vax.tdap", "vax.hpv"),
                    12: ("vax.hpv",)}  # fmt: skip
        given.extend(schedule.get(age, ()))
        if age >= 19 and age % 10 == 0:
            given.append("vax.td")
        if age in (50, 51):
            given.append("vax.zoster")
        if age == 65:
            given.append("vax.pcv13")
        if age == 66:
            given.append("vax.ppsv23")
        if age >= 12 and year in (2021, 2022) and rng.random() < 0.7:
            given.append("vax.covid")
        if age >= 1 and rng.random() < (0.72 if age >= 65 else 0.5):
            given.append("vax.influenza")
        for key in given:
            self.p.immunizations.append(Immunization(enc.start, enc, code(key)))

    def _procedure(self, rng: random.Random, enc: Encounter, key: str, reason: Code | None) -> None:
        start = enc.start + timedelta(minutes=rng.randint(0, 10))
        stop = min(start + timedelta(minutes=rng.randint(10, 40)), max(enc.stop, start))
        self.p.procedures.append(Procedure(start, stop, enc, code(key), cl.PROCEDURE_COST[key], reason))

    def _follow_ups(self) -> None:
        """Chronic-disease follow-ups: twice a year for diabetes, once a year for other serious conditions."""
        rng = self.rng("follow-ups")
        for year in range(START.year, END.year):
            mid = datetime(year, 7, 1)
            has = self._has(mid)
            visits = 2 if "diabetes" in has else (1 if has & {"hypertension", "chf", "copd", "ckd3"} else 0)
            for half in range(visits):
                first = date(year, 1, 1) if visits == 1 else date(year, 1 + 6 * half, 1)
                last = date(year, 12, 31) if visits == 1 else date(year, 6 + 6 * half, 28)
                when = _daytime(rng, _random_day(rng, first, last))
                if not self._alive(when) or when >= END:
                    continue
                has = self._has(when)
                main = next(
                    (c for c in ("diabetes", "chf", "copd", "ckd3", "hypertension") if c in has), None
                )
                reason = code(f"cond.{main}") if main else None
                if self._virtual(rng, when):
                    self._encounter(rng, when, 20, "virtual", "enc.telehealth", reason, self.care.clinic)
                    continue
                enc = self._encounter(rng, when, 20, "ambulatory", "enc.follow_up", reason, self.care.clinic)
                self._vitals(enc, full=False)
                if "diabetes" in has and rng.random() < 0.8:
                    self._labs(enc, ("obs.hba1c",))
                if "ckd3" in has:
                    self._labs(enc, ("obs.creatinine", "obs.egfr"), cl_panel="panel.bmp")

    def _acute_visits(self) -> None:
        rng = self.rng("acute")
        p = self.p
        t = max(START, datetime.combine(p.birthdate, datetime.min.time()))
        while True:
            t += _years(rng.expovariate(0.32))
            day = t.date()
            if t >= END or not self._alive(t):
                return
            when = _daytime(rng, day)
            if not self._alive(when):
                return
            pairs = [(a, a[1] * (0.3 if a[0] == "uti" and p.gender == "M" else 1.0)) for a in cl.ACUTE]
            key, _w, med, proc, days = _weighted(rng, pairs)
            reason = code(f"cond.{key}")
            if self._virtual(rng, when):
                enc = self._encounter(rng, when, 15, "virtual", "enc.telehealth", reason, self.care.clinic)
            else:
                encclass = "urgentcare" if rng.random() < 0.3 else "ambulatory"
                enc = self._encounter(
                    rng, when, rng.choice((15, 20, 30)), encclass, "enc.symptom", reason, self.care.clinic
                )
                self._vitals(enc, full=False)
                if proc:
                    self._procedure(rng, enc, proc, reason)
            self._acute_condition(enc, key, rng.randint(days // 2, days * 2))
            if med:
                self._prescribe(enc, med, reason, days=days)

    def _screenings(self) -> None:
        """Colonoscopy (50–75, every ten years) and mammography (women 50–74, every two years): outpatient."""
        rng = self.rng("screenings")
        p = self.p
        plans = []
        for year in range(START.year, END.year):
            age = age_at(p.birthdate, date(year, 7, 1))
            if 50 <= age <= 75 and (age - 50) % 10 == rng.randint(0, 9) and rng.random() < 0.6:
                plans.append((year, "proc.colonoscopy", rng.randint(45, 90)))
            if p.gender == "F" and 50 <= age <= 74 and year % 2 == p.index % 2 and rng.random() < 0.75:
                plans.append((year, "proc.mammography", rng.randint(20, 40)))
        for year, key, minutes in plans:
            when = _daytime(rng, _random_day(rng, date(year, 1, 1), date(year, 12, 31)))
            if self._alive(when) and when < END:
                enc = self._encounter(
                    rng, when, minutes, "outpatient", "enc.outpatient", None, self.care.hospital
                )
                self._procedure(rng, enc, key, None)

    def _record_conditions(self) -> None:
        """Chronic conditions: recorded at the visit of onset, or at the first visit of the window."""
        p = self.p
        rng = self.rng("diagnosis")
        p.encounters.sort(key=lambda e: (e.start, e.id))
        for c, onset in sorted(self.onsets.items(), key=lambda kv: kv[1]):
            if onset >= self.alive_until:
                continue
            if onset >= START:
                # a visit for the problem when it starts
                when = onset
                if not self._alive(when):
                    continue
                enc = self._encounter(
                    rng, when, 20, "ambulatory", "enc.problem", code(f"cond.{c}"), self.care.clinic
                )
                self._vitals(enc, full=False)
                if c == "diabetes":
                    self._labs(enc, ("obs.hba1c",))
            else:
                enc = next((e for e in p.encounters if e.encclass == "wellness"), None) or (
                    p.encounters[0] if p.encounters else None
                )
                if enc is None:
                    continue
            p.conditions.append(
                Condition(onset.date(), None, enc, code(f"cond.{c}"), code(f"icd.{c}"), "problem-list-item")
            )
            self._treat(rng, c, enc)
        if self._risk["obese"] and age_at(p.birthdate, AS_OF) >= 18:
            bmi_obs = next(
                (
                    o
                    for o in sorted(p.observations, key=lambda o: o.time)
                    if o.code.key == "obs.bmi" and o.value >= 30
                ),
                None,
            )
            if bmi_obs is not None:
                enc = bmi_obs.encounter
                p.conditions.append(
                    Condition(
                        enc.start.date(),
                        None,
                        enc,
                        code("cond.obesity"),
                        code("icd.obesity"),
                        "problem-list-item",
                    )
                )

    def _treat(self, rng: random.Random, c: str, enc: Encounter) -> None:
        if c in cl.CAREPLANS:
            stop = self.p.deathdate
            self.p.careplans.append(
                CarePlan(new_uuid(rng), enc.start.date(), stop, enc, code(cl.CAREPLANS[c]), code(f"cond.{c}"))
            )
        if c not in cl.PRESCRIPTIONS or not self._risk["treated"].get(c, True):
            return
        meds = _weighted(rng, [(keys, w) for w, keys in cl.PRESCRIPTIONS[c]])
        for key in meds:
            days = rng.randint(180, 720) if c == "depression" else None
            self._prescribe(enc, key, code(f"cond.{c}"), days=days)
        if c == "diabetes" and self._risk["control"] > 8.0:
            later = enc.start + timedelta(days=rng.randint(365, 1100))
            if self._alive(later) and later < END:
                self._prescribe(enc, "med.insulin", code("cond.diabetes"), start=later)

    def _prescribe(
        self,
        enc: Encounter,
        key: str,
        reason: Code | None,
        days: int | None = None,
        start: datetime | None = None,
    ) -> None:
        start = start or enc.start
        stop = start + timedelta(days=days) if days else None
        if stop is None and self.alive_until < END:
            stop = self.alive_until
        if stop is not None and stop >= END:
            stop = None
        last = stop or END
        supply = cl.FILL_DAYS if days is None or days > cl.FILL_DAYS else 30  # long-term: 90-day fills
        dispenses = max(1, math.ceil((last - start).days / supply)) if days is None or days > 30 else 1
        cost = round(cl.MED_COST[key] * supply / 30, 2)
        self.p.medications.append(Medication(start, stop, enc, code(key), reason, cost, dispenses, supply))

    def _reconcile_medications(self) -> None:
        """Medication reconciliation at each wellness visit of a patient with an active prescription."""
        rng = self.rng("reconciliation")
        meds = self.p.medications
        for enc in [e for e in self.p.encounters if e.encclass == "wellness"]:
            t = enc.start
            if any(m.start <= t and (m.stop is None or m.stop > t) for m in meds):
                self._procedure(rng, enc, "proc.med_reconciliation", None)

    def _allergies(self) -> None:
        rng = self.rng("allergies")
        p = self.p
        if rng.random() >= 0.2 or not p.encounters:
            return
        enc = next((e for e in p.encounters if e.encclass == "wellness"), p.encounters[0])
        options = (
            ("allergen.latex", "environment"), ("allergen.mold", "environment"),
            ("allergen.grass_pollen", "environment"), ("allergen.dander", "environment"),
            ("allergen.dust_mite", "environment"), ("allergen.peanut", "food"),
            ("allergen.penicillin", "medication"),
        )  # fmt: skip
        for key, category in rng.sample(options, rng.choice((1, 1, 2))):
            reactions = []
            for r in rng.sample(
                ("reaction.itching", "reaction.rash", "reaction.sneezing", "reaction.wheal"),
                rng.randint(1, 2),
            ):
                reactions.append((code(r), rng.choice(("MILD", "MILD", "MODERATE"))))
            if category in ("food", "medication") and rng.random() < 0.15:
                reactions = [(code("reaction.anaphylaxis"), "SEVERE")]
            p.allergies.append(Allergy(enc.start.date(), enc, code(key), category, reactions))

    def _death_certificate(self) -> None:
        p = self.p
        if p.death_time is None:
            return
        if p.cause_of_death is not None:  # died in hospital: the cause is recorded at the last stay
            enc = max((e for e in p.encounters if e.encclass == "inpatient"), key=lambda e: e.start)
            p.observations.append(
                Observation(p.death_time, enc, "exam", code("obs.cause_of_death"), p.cause_of_death, "", 0)
            )
        else:
            has = self._has(p.death_time)
            serious = [c for c in ("chf", "copd", "ckd3", "diabetes", "hypertension") if c in has]
            p.cause_of_death = code(f"cond.{serious[0]}") if serious else code("cond.mi")
            rng = self.rng("death-certificate")
            enc = self._encounter(
                rng, p.death_time, 15, "ambulatory", "enc.death_certification", None, self.care.clinic
            )
            p.observations.append(
                Observation(p.death_time, enc, "exam", code("obs.cause_of_death"), p.cause_of_death, "", 0)
            )

    # -- money ------------------------------------------------------------------------------------------------
    def _costs(self) -> None:
        """A claim for every encounter (its own cost, its procedures and vaccines) and for every medication fill,
        paid by the coverage in force on the day of service; the CSV cost columns are the claims' sums."""
        p = self.p
        rng = self.rng("claims")
        items: dict[str, list[tuple[Code, float]]] = {}
        for proc in p.procedures:
            items.setdefault(proc.encounter.id, []).append((proc.code, proc.base_cost))
        for imm in p.immunizations:
            items.setdefault(imm.encounter.id, []).append((imm.code, imm.base_cost))
        diagnoses: dict[str, list[Code]] = {}
        for c in p.conditions:
            diagnoses.setdefault(c.encounter.id, []).append(c.code)
        for enc in p.encounters:
            base = cl.ENCOUNTER_COST[enc.encclass]
            days = 1
            if enc.encclass == "inpatient":
                days = max(1, round((enc.stop - enc.start).total_seconds() / 86400))
            enc.base_cost = round(base * days, 2)
            codes = [enc.reason] if enc.reason else []
            codes += [c for c in diagnoses.get(enc.id, []) if c not in codes]
            kind = "institutional" if enc.encclass in ("inpatient", "emergency") else "professional"
            lines = [(enc.code, enc.base_cost, days), *((c, cost, 1) for c, cost in items.get(enc.id, []))]
            claim = self._claim(rng, kind, enc, enc.start, enc.stop, codes[:8], lines)
            enc.payer = claim.payer
            enc.total_cost = round(sum(line.amount for line in claim.lines), 2)
            enc.payer_coverage = claim.payer_paid
        for med in p.medications:
            med.payer = self.payer_on(med.start)
            paid = 0.0
            reason = [med.reason] if med.reason else []
            for fill in range(med.dispenses):
                when = med.start + timedelta(days=med.supply * fill)
                claim = self._claim(
                    rng, "pharmacy", med.encounter, when, when, reason, [(med.code, med.base_cost, 1)]
                )
                paid += claim.payer_paid
            med.payer_coverage = round(paid, 2)
        p.claims.sort(key=lambda c: (c.start, c.kind, c.id))

    def _claim(
        self, rng: random.Random, kind: str, enc: Encounter, start: datetime, stop: datetime, diagnoses: list[Code],
        lines: list[tuple[Code, float, int]],
    ) -> Claim:  # fmt: skip
        cov = self.coverage_on(start)
        payer = cov.payer if cov else PAYER_BY_NAME["NO_INSURANCE"]
        billed = []
        for item, amount, units in lines:
            amount = round(amount, 2)
            payer_paid = round(amount * payer.coverage, 2)
            method = rng.choice(("CASH", "CHECK", "CC")) if payer_paid < amount else ""
            billed.append(ClaimLine(item, amount, units, payer_paid, method))
        claim = Claim(
            new_uuid(rng), kind, enc, start, stop, payer, cov.member_id if cov else "", diagnoses, billed
        )
        self.p.claims.append(claim)
        return claim


def simulate_patient(world: World, seed: int, index: int) -> PatientRecord:
    """The full record of patient ``index`` of the population generated with ``seed``."""
    p = PatientSimulator(world, seed, index).run()
    p.notes = clinical_notes(p, seed, END)
    return p
