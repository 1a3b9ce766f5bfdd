"""An EHR access log for the population's care teams, with planted inappropriate accesses, for the audit exercises.

Three tables (hitlab's own CSV files, beside Synthea's) and a ground-truth file:

- ``staff.csv``: the EHR's users. Every provider of the world is a ``clinician`` user (``PROVIDER`` set); each
  organization also has a few ``billing`` and ``researcher`` users, some of whom are patients of the population
  as well (``PATIENT`` set), which is what makes a coworker's record a coworker's.
- ``vip_patients.csv``: a few patients flagged VIP (a public figure, ...).
- ``access_log.csv``: one row per access, shaped as a FHIR R4 ``AuditEvent`` (:func:`audit_event` builds one):
  who (``USER``), which patient, when, the resource type, the action (C/R/U/D/E), the purpose of use (HL7 v3
  ActReason), the outcome (0/4/8/12) and the encounter it belongs to, if any. It covers :data:`WINDOW_START` to
  :data:`WINDOW_END` (the last quarter of 2025).
- ``access_log_truth.json``: the rows of each category of :data:`CATEGORIES`, computed by :func:`classify` over
  the written tables with the definitions stated there (a SQL query of the same definitions returns the same
  rows; the tests check it).

Appropriate traffic: clinicians read and write their own patients' records during, shortly before and after the
encounters they hold; billing staff read claims and encounters of their organization's recent encounters;
researchers read patients for studies (``HRESCH``); emergency physicians break the glass (``ETREAT``). Planted
on top: clinicians opening records of patients they do not treat, VIP records and coworkers' records opened
without a reason, and after-hours bulk reads. Look-alikes are left unflagged: a clinician reading their own
patient at night, a break-the-glass access, a VIP read by their own physician, a coworker treated by a
colleague, a large research session in daytime and a small one late at night.

Everything draws from the population's ``access_log`` streams: the log changes no other fact of the dataset.
"""

from __future__ import annotations

import csv
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from hitlab.synth.model import PatientRecord
from hitlab.synth.reference import FIRST_NAMES, LAST_NAMES, World
from hitlab.synth.simulate import END
from hitlab.synth.streams import new_uuid, stream

WINDOW_START = datetime(2025, 10, 1)
WINDOW_END = END
"""The log covers ``WINDOW_START`` (inclusive) to ``WINDOW_END`` (exclusive), UTC: the last quarter of 2025."""
BEFORE = timedelta(days=7)
AFTER = timedelta(days=30)
BILLING = timedelta(days=90)
NIGHT_FROM, NIGHT_TO = 22, 6
BULK_PATIENTS = 20
LOCAL = ZoneInfo("America/New_York")
"""The facilities' time zone (Massachusetts), in which "after hours" is judged."""

STAFF_HEADER = ("Id", "NAME", "ROLE", "ORGANIZATION", "PROVIDER", "PATIENT")
VIP_HEADER = ("PATIENT", "REASON")
LOG_HEADER = (
    "Id",
    "TIMESTAMP",
    "USER",
    "PATIENT",
    "RESOURCE_TYPE",
    "ACTION",
    "PURPOSE",
    "OUTCOME",
    "ENCOUNTER",
)
TRUTH = "access_log_truth.json"

ROLES = ("clinician", "billing", "researcher")
ACTIONS = {"C": ("create", "Create"), "R": ("read", "Read/View/Print"), "U": ("update", "Update"),
           "D": ("delete", "Delete"), "E": ("search-type", "Execute")}  # fmt: skip
"""AuditEvent.action codes (http://hl7.org/fhir/audit-event-action) with the RESTful interaction each stands for
(AuditEvent.subtype, http://hl7.org/fhir/restful-interaction) and the code's display."""
PURPOSES = {
    "TREAT": "treatment",
    "ETREAT": "Emergency Treatment",
    "HPAYMT": "healthcare payment",
    "HOPERAT": "healthcare operations",
    "HRESCH": "healthcare research",
}
"""Purposes of use (AuditEvent.purposeOfEvent): HL7 v3 ActReason codes of the v3 PurposeOfUse value set."""
OUTCOMES = {"0": "Success", "4": "Minor failure", "8": "Serious failure", "12": "Major failure"}
"""AuditEvent.outcome codes (http://hl7.org/fhir/audit-event-outcome)."""

CATEGORIES = {
    "no_relationship": "a clinician's access, other than a break-the-glass one (PURPOSE ETREAT), to a patient "
    "they have no treatment relationship with at that time: no encounter of that patient whose PROVIDER is the "
    "clinician's staff.PROVIDER and whose period, widened to START - 7 days .. STOP + 30 days (bounds included), "
    "contains the access's TIMESTAMP",
    "vip": "an access to the record of a patient in vip_patients that no relationship justifies (see "
    "'justified')",
    "coworker": "an access to the record of a coworker, i.e. a patient who is the staff.PATIENT of another staff "
    "member (a different staff.Id) of the user's staff.ORGANIZATION, that no relationship justifies",
    "after_hours_bulk": "every after-hours access (local time in America/New_York at or after 22:00 or before "
    "06:00) of a user in a night in which that user's after-hours accesses reach at least 20 distinct patients; "
    "a night runs from 22:00 to 06:00 and is named by the local date on which it starts (the local date of "
    "TIMESTAMP minus 6 hours)",
}
JUSTIFIED = (
    "an access is justified when its PURPOSE is ETREAT (break the glass), or the user is a clinician with a "
    "treatment relationship (as in no_relationship), or the user is billing staff, PURPOSE is HPAYMT or HOPERAT, "
    "and the patient has an encounter at the user's ORGANIZATION that started at most 90 days before the access "
    "(START between TIMESTAMP - 90 days and TIMESTAMP, bounds included), or the user is a researcher and PURPOSE "
    "is HRESCH. Outcomes do not matter: a failed attempt counts as an access"
)

_VIP_REASONS = (
    "public figure", "elected official", "professional athlete", "local television anchor",
    "hospital board member", "celebrity", "state legislator", "author",
)  # fmt: skip
_CLINICAL_READS = ("Patient", "Encounter", "Condition", "Observation", "Observation", "MedicationRequest",
                   "AllergyIntolerance", "Immunization", "DiagnosticReport", "DocumentReference")  # fmt: skip
_CLINICAL_WRITES = (("C", "Observation"), ("C", "DocumentReference"), ("C", "MedicationRequest"),
                    ("U", "Encounter"), ("U", "Condition"), ("U", "MedicationRequest"))  # fmt: skip
_SNOOP_READS = ("Patient", "DocumentReference", "Condition", "Observation", "MedicationRequest", "Encounter")
_BILLING = (("R", "Claim"), ("E", "Claim"), ("R", "Encounter"), ("R", "Coverage"), ("R", "ExplanationOfBenefit"),
            ("R", "Procedure"))  # fmt: skip
_RESEARCH = (("E", "Observation"), ("R", "Observation"), ("R", "Condition"), ("E", "Condition"),
             ("R", "Patient"), ("R", "MedicationRequest"))  # fmt: skip


@dataclass(slots=True)
class Visit:
    """What the log needs of one encounter."""

    id: str
    patient: str
    start: datetime
    stop: datetime
    organization: str
    provider: str
    encclass: str


@dataclass(slots=True)
class Person:
    """What the log needs of one patient."""

    id: str
    name: str
    birth: datetime
    alive: bool  # alive at the end of the record
    organizations: set[str]
    visits: list[Visit]


@dataclass(slots=True)
class StaffMember:
    id: str
    name: str
    role: str
    organization: str
    provider: str = ""
    patient: str = ""


@dataclass(slots=True)
class Access:
    time: datetime
    user: str
    patient: str
    resource: str
    action: str
    purpose: str
    outcome: str = "0"
    encounter: str = ""
    planted: frozenset[str] = field(default_factory=frozenset)  # the categories the generator meant it for
    id: str = ""


def local_time(t: datetime) -> datetime:
    """A naive UTC time as naive local time in America/New_York."""
    return t.replace(tzinfo=UTC).astimezone(LOCAL).replace(tzinfo=None)


def _utc(local: datetime) -> datetime:
    """A naive America/New_York time as naive UTC (the first of two ambiguous times)."""
    return local.replace(tzinfo=LOCAL).astimezone(UTC).replace(tzinfo=None)


def after_hours(t: datetime) -> bool:
    hour = local_time(t).hour
    return hour >= NIGHT_FROM or hour < NIGHT_TO


def night_of(t: datetime) -> date:
    """The local date on which the night holding ``t`` began."""
    return (local_time(t) - timedelta(hours=NIGHT_TO)).date()


def ts(t: datetime) -> str:
    return t.isoformat(timespec="seconds") + "Z"


class Rules:
    """The definitions of :data:`CATEGORIES`, over the staff, the VIP list and the patients' encounters."""

    def __init__(
        self, staff: list[StaffMember], vips: dict[str, str], visits: dict[str, list[Visit]]
    ) -> None:
        self.staff = {s.id: s for s in staff}
        self.vips = vips
        self.visits = visits
        self.coworkers: dict[tuple[str, str], set[str]] = defaultdict(set)  # (org, patient) -> staff ids
        for s in staff:
            if s.patient:
                self.coworkers[(s.organization, s.patient)].add(s.id)

    def treats(self, user: StaffMember, patient: str, t: datetime) -> bool:
        return bool(user.provider) and any(
            v.provider == user.provider and v.start - BEFORE <= t <= v.stop + AFTER
            for v in self.visits.get(patient, ())
        )

    def bills(self, user: StaffMember, patient: str, t: datetime) -> bool:
        return any(
            v.organization == user.organization and t - BILLING <= v.start <= t
            for v in self.visits.get(patient, ())
        )

    def justified(self, a: Access) -> bool:
        u = self.staff[a.user]
        if a.purpose == "ETREAT":
            return True
        if u.role == "clinician":
            return self.treats(u, a.patient, a.time)
        if u.role == "billing":
            return a.purpose in ("HPAYMT", "HOPERAT") and self.bills(u, a.patient, a.time)
        return a.purpose == "HRESCH"

    def is_coworker(self, a: Access) -> bool:
        u = self.staff[a.user]
        return bool(self.coworkers.get((u.organization, a.patient), set()) - {u.id})

    def classify(self, rows: list[Access]) -> dict[str, list[Access]]:
        """The rows of each category (a row may fall in several)."""
        out: dict[str, list[Access]] = {c: [] for c in CATEGORIES}
        nights: dict[tuple[str, date], list[Access]] = defaultdict(list)
        for a in rows:
            ok = self.justified(a)
            if not ok and self.staff[a.user].role == "clinician":
                out["no_relationship"].append(a)
            if not ok and a.patient in self.vips:
                out["vip"].append(a)
            if not ok and self.is_coworker(a):
                out["coworker"].append(a)
            if after_hours(a.time):
                nights[(a.user, night_of(a.time))].append(a)
        for group in nights.values():
            if len({a.patient for a in group}) >= BULK_PATIENTS:
                out["after_hours_bulk"].extend(group)
        return out

    def look_alikes(self, rows: list[Access]) -> dict[str, list[Access]]:
        """Justified rows that resemble a category: in none of them."""
        out: dict[str, list[Access]] = {k: [] for k in LOOK_ALIKES}
        for a in rows:
            if not self.justified(a):
                continue
            clinician = self.staff[a.user].role == "clinician"
            if a.purpose == "ETREAT":
                out["break_the_glass"].append(a)
            elif clinician and after_hours(a.time):
                out["night_own_patient"].append(a)
            if clinician and a.purpose != "ETREAT" and a.patient in self.vips:
                out["vip_own_clinician"].append(a)
            if self.is_coworker(a):
                out["coworker_justified"].append(a)
        return out


LOOK_ALIKES = {
    "break_the_glass": "PURPOSE ETREAT: an emergency access without a prior relationship, justified",
    "night_own_patient": "a clinician reading or writing their own patient's record after hours",
    "vip_own_clinician": "a VIP's record opened by a clinician who treats them",
    "coworker_justified": "a coworker's record opened with a relationship (their clinician, or billing for a "
    "recent encounter at the organization)",
}


@dataclass
class AccessLog:
    staff: list[StaffMember]
    vips: dict[str, str]
    rows: list[Access]
    rules: Rules

    def truth(self, seed: int) -> dict:
        found = self.rules.classify(self.rows)
        nights: dict[tuple[str, date], set[str]] = defaultdict(set)
        for a in found["after_hours_bulk"]:
            nights[(a.user, night_of(a.time))].add(a.patient)
        return {
            "generator": "hitlab",
            "seed": seed,
            "description": "Inappropriate accesses planted in hitlab's synthetic EHR access log (csv/access_log.csv), "
            "listed by access Id per category, as the stated definitions select them from the tables staff, "
            "vip_patients, access_log and encounters. A row may belong to several categories. Look-alikes "
            "(break-the-glass accesses, a clinician reading their own patient at night, a VIP or coworker "
            "treated by their own clinicians, large daytime research sessions) are in no category.",
            "window": {"start": ts(WINDOW_START), "end": ts(WINDOW_END), "end_exclusive": True},
            "time_zone": "America/New_York",
            "parameters": {
                "days_before_encounter": BEFORE.days,
                "days_after_encounter": AFTER.days,
                "billing_days": BILLING.days,
                "after_hours": f"{NIGHT_FROM:02d}:00-{NIGHT_TO:02d}:00",
                "bulk_min_patients": BULK_PATIENTS,
            },
            "justified": JUSTIFIED,
            "definitions": CATEGORIES,
            "categories": {c: sorted(a.id for a in rows) for c, rows in found.items()},
            "look_alikes": {
                k: {"description": LOOK_ALIKES[k], "ids": sorted(a.id for a in rows)}
                for k, rows in self.rules.look_alikes(self.rows).items()
            },
            "bulk_nights": [
                {"user": user, "night": night.isoformat(), "patients": len(patients)}
                for (user, night), patients in sorted(nights.items())
            ],
        }

    def summary(self) -> dict:
        found = self.rules.classify(self.rows)
        return {
            "file": TRUTH,
            "window": {"start": ts(WINDOW_START), "end": ts(WINDOW_END)},
            "staff": len(self.staff),
            "vip_patients": len(self.vips),
            "accesses": len(self.rows),
            "by_category": {c: len(rows) for c, rows in found.items()},
        }

    def write_csv(self, out_dir: Path) -> dict[str, int]:
        out_dir.mkdir(parents=True, exist_ok=True)
        tables = {
            "staff": (
                STAFF_HEADER,
                [[s.id, s.name, s.role, s.organization, s.provider, s.patient] for s in self.staff],
            ),
            "vip_patients": (VIP_HEADER, [[p, r] for p, r in self.vips.items()]),
            "access_log": (
                LOG_HEADER,
                [
                    [
                        a.id,
                        ts(a.time),
                        a.user,
                        a.patient,
                        a.resource,
                        a.action,
                        a.purpose,
                        a.outcome,
                        a.encounter,
                    ]
                    for a in self.rows
                ],
            ),
        }
        for name, (header, rows) in tables.items():
            with open(out_dir / f"{name}.csv", "w", encoding="utf-8", newline="") as f:
                w = csv.writer(f, lineterminator="\n")
                w.writerow(header)
                w.writerows(rows)
        return {name: len(rows) for name, (_h, rows) in tables.items()}


class AccessLogBuilder:
    """Collects what the log needs of each patient (:meth:`add`), then writes the log (:meth:`build`)."""

    def __init__(self, world: World, seed: int) -> None:
        self.world = world
        self.seed = seed
        self.people: list[Person] = []

    def add(self, p: PatientRecord) -> None:
        cutoff = WINDOW_START - BILLING
        visits = [
            Visit(e.id, p.id, e.start, e.stop, e.organization.id, e.provider.id, e.encclass)
            for e in p.encounters
            if e.stop >= cutoff and e.start < WINDOW_END
        ]
        self.people.append(
            Person(
                p.id,
                f"{p.first} {p.last}",
                datetime.combine(p.birthdate, datetime.min.time()),
                p.deathdate is None,
                {e.organization.id for e in p.encounters},
                visits,
            )
        )

    # -- who ------------------------------------------------------------------------------------------------
    def _staff(self, rng: random.Random) -> list[StaffMember]:
        ids: set[str] = set()

        def user_id() -> str:
            while True:
                uid = f"u{rng.randrange(10**6):06d}"
                if uid not in ids:
                    ids.add(uid)
                    return uid

        staff = [
            StaffMember(user_id(), pr.name, "clinician", pr.organization.id, pr.id)
            for pr in self.world.providers
        ]
        adults = [
            p
            for p in self.people
            if p.alive and 22 <= (WINDOW_START - p.birth).days / 365.25 <= 68 and p.id not in self.vips
        ]
        taken: set[str] = set()
        for org in self.world.organizations:
            hospital = org.kind == "hospital"
            roles = ["billing"] * rng.randint(*((3, 4) if hospital else (1, 2)))
            roles += ["researcher"] * rng.randint(*((2, 3) if hospital else (0, 1)))
            for role in roles:
                member = StaffMember(user_id(), "", role, org.id)
                local = [p for p in adults if org.id in p.organizations and p.id not in taken]
                if local and rng.random() < 0.5:
                    person = rng.choice(local)
                    taken.add(person.id)
                    member.patient, member.name = person.id, person.name
                else:
                    gender = rng.choice("FM")
                    member.name = (
                        f"{rng.choice(FIRST_NAMES[gender])}{rng.randint(1, 999)} "
                        f"{rng.choice(LAST_NAMES)}{rng.randint(1, 999)}"
                    )
                staff.append(member)
        return staff

    def _vips(self, rng: random.Random) -> dict[str, str]:
        alive = [p for p in self.people if p.alive]
        if not alive:
            return {}
        count = min(len(alive), 8, max(3, len(alive) // 120))
        seen = [p for p in alive if any(v.start >= WINDOW_START for v in p.visits)]
        picked = rng.sample(seen, min(len(seen), count - count // 4))
        rest = [p for p in alive if p not in picked]
        picked += rng.sample(rest, min(len(rest), count - len(picked)))
        return {p.id: rng.choice(_VIP_REASONS) for p in sorted(picked, key=lambda p: p.id)}

    # -- the log ----------------------------------------------------------------------------------------------
    def build(self) -> AccessLog:
        rng = stream(self.seed, "access_log", "people")
        self.vips = self._vips(rng)
        staff = self._staff(stream(self.seed, "access_log", "staff"))
        visits = {p.id: p.visits for p in self.people}
        rules = Rules(staff, self.vips, visits)
        self.rules = rules
        self.by_id = {p.id: p for p in self.people}
        self.users = {role: [s for s in staff if s.role == role] for role in ROLES}
        self.by_provider = {s.provider: s for s in staff if s.provider}
        self.rows: list[Access] = []
        self._clinical(stream(self.seed, "access_log", "clinical"))
        self._billing(stream(self.seed, "access_log", "billing"))
        self._research(stream(self.seed, "access_log", "research"))
        self._break_the_glass(stream(self.seed, "access_log", "etreat"))
        planted = stream(self.seed, "access_log", "planted")
        self._no_relationship(planted)
        self._vip_snooping(planted)
        self._coworker_snooping(planted, staff)
        self._bulk(planted)
        rows = [a for a in self.rows if WINDOW_START <= a.time < WINDOW_END]
        rows.sort(key=lambda a: (a.time, a.user, a.patient, a.resource, a.action))
        ids = stream(self.seed, "access_log", "ids")
        for a in rows:
            a.id = new_uuid(ids)
        return AccessLog(staff, self.vips, rows, rules)

    def _add(self, t: datetime, user: StaffMember, patient: str, resource: str, action: str = "R",
             purpose: str = "TREAT", encounter: str = "", planted: frozenset[str] = frozenset(),
             outcome: str = "0") -> None:  # fmt: skip
        self.rows.append(
            Access(
                t.replace(microsecond=0),
                user.id,
                patient,
                resource,
                action,
                purpose,
                outcome,
                encounter,
                planted,
            )
        )

    def _outcome(self, rng: random.Random) -> str:
        x = rng.random()
        return "4" if x < 0.006 else "8" if x < 0.0075 else "12" if x < 0.008 else "0"

    def _clinical(self, rng: random.Random) -> None:
        """Clinicians at their own patients' encounters, before them (chart preparation) and after (results)."""
        for person in self.people:
            for v in person.visits:
                if v.stop < WINDOW_START - AFTER:
                    continue
                u = self.by_provider[v.provider]
                length = (v.stop - v.start).total_seconds()
                n = min(30, 6 + int(length // 43200)) if length > 86400 else rng.randint(6, 14)
                for i in range(n):
                    t = v.start + timedelta(seconds=rng.uniform(0, length))
                    if i < n - 2 or rng.random() < 0.6:
                        self._add(t, u, person.id, rng.choice(_CLINICAL_READS), "R", encounter=v.id,
                                  outcome=self._outcome(rng))  # fmt: skip
                    else:
                        action, resource = rng.choice(_CLINICAL_WRITES)
                        self._add(t, u, person.id, resource, action, encounter=v.id)
                if rng.random() < 0.01:
                    self._add(v.stop - timedelta(minutes=rng.randint(1, 20)), u, person.id, "Observation", "D",
                              encounter=v.id)  # fmt: skip
                before = v.start - timedelta(seconds=rng.uniform(3600, 6 * 86400))
                if rng.random() < 0.4 and before > person.birth:
                    self._add(before, u, person.id, rng.choice(("Patient", "Condition", "Observation")))
                for _ in range(rng.choice((0, 0, 1, 1, 2))):
                    later = v.stop + timedelta(seconds=rng.uniform(86400, 25 * 86400))
                    if (
                        rng.random() < 0.08
                    ):  # results read late in the evening: the look-alike of a night read
                        day = local_time(later).date()
                        later = _utc(datetime(day.year, day.month, day.day, 22, rng.randint(5, 59)))
                    self._add(later, u, person.id, rng.choice(("Observation", "DiagnosticReport")),
                              encounter=v.id if rng.random() < 0.5 else "")  # fmt: skip

    def _daytime(self, rng: random.Random, day: date) -> datetime:
        return _utc(
            datetime(day.year, day.month, day.day, rng.randint(8, 16), rng.randint(0, 59), rng.randint(0, 59))
        )

    def _billing(self, rng: random.Random) -> None:
        by_org = defaultdict(list)
        for s in self.users["billing"]:
            by_org[s.organization].append(s)
        for person in self.people:
            for v in person.visits:
                if (
                    v.start < WINDOW_START - timedelta(days=60)
                    or not by_org[v.organization]
                    or rng.random() < 0.5
                ):
                    continue
                u = rng.choice(by_org[v.organization])
                day = (v.stop + timedelta(days=rng.randint(1, 20))).date()
                t = self._daytime(rng, day)
                if not (t - BILLING <= v.start <= t):
                    continue
                purpose = "HPAYMT" if rng.random() < 0.8 else "HOPERAT"
                for k in range(rng.randint(1, 2)):
                    action, resource = rng.choice(_BILLING)
                    self._add(t + timedelta(minutes=3 * k), u, person.id, resource, action, purpose, v.id)

    def _pool(self) -> list[Person]:
        """Patients that planted and research accesses may pick: alive, not VIP, not staff."""
        staff_patients = {s.patient for s in self.rules.staff.values() if s.patient}
        return [p for p in self.people if p.alive and p.id not in self.vips and p.id not in staff_patients]

    def _window_day(self, rng: random.Random, weekday: bool = True) -> date:
        while True:
            d = WINDOW_START.date() + timedelta(days=rng.randrange((WINDOW_END - WINDOW_START).days))
            if not weekday or d.weekday() < 5:
                return d

    def _session(self, rng: random.Random, u: StaffMember, start: datetime, patients: list[Person],
                 steps: tuple[tuple[str, str], ...], purpose: str, minutes: float,
                 planted: frozenset[str] = frozenset()) -> None:  # fmt: skip
        t = start
        for p in patients:
            for _ in range(rng.randint(1, 2)):
                action, resource = rng.choice(steps)
                self._add(t, u, p.id, resource, action, purpose, planted=planted)
                t += timedelta(seconds=rng.uniform(20, minutes * 60))

    def _research(self, rng: random.Random) -> None:
        pool = self._pool()
        if not pool:
            return
        for u in self.users["researcher"]:
            for _ in range(rng.randint(2, 4)):
                start = self._daytime(rng, self._window_day(rng))
                cohort = rng.sample(pool, min(len(pool), rng.randint(5, 14)))
                self._session(rng, u, start, cohort, _RESEARCH, "HRESCH", 4)
        if self.users["researcher"]:
            u = rng.choice(self.users["researcher"])  # a large session in daytime: no after-hours bulk
            day = self._window_day(rng)
            start = _utc(datetime(day.year, day.month, day.day, 10, rng.randint(0, 30)))
            self._session(rng, u, start, rng.sample(pool, min(len(pool), 35)), _RESEARCH, "HRESCH", 1.5)
            u = rng.choice(self.users["researcher"])  # working late on a few patients: after hours, not bulk
            day = self._window_day(rng)
            start = _utc(datetime(day.year, day.month, day.day, 22, rng.randint(10, 40)))
            self._session(rng, u, start, rng.sample(pool, min(len(pool), 12)), _RESEARCH, "HRESCH", 3)

    def _clinicians_at(self, org: str, exclude: str = "") -> list[StaffMember]:
        return [s for s in self.users["clinician"] if s.organization == org and s.provider != exclude]

    def _break_the_glass(self, rng: random.Random) -> None:
        """Emergency physicians opening the record of a patient in the emergency department or just admitted
        who is not theirs, with PURPOSE ETREAT; one of them a VIP when a VIP came to the hospital."""
        acute = [
            v
            for p in self.people
            for v in p.visits
            if v.encclass in ("emergency", "inpatient") and WINDOW_START <= v.start < WINDOW_END
        ]
        vip_first = [v for v in acute if v.patient in self.vips][:1]
        for v in vip_first + rng.sample(acute, min(len(acute), 14)):
            others = [s for s in self._clinicians_at(v.organization, v.provider)
                      if not self.rules.treats(s, v.patient, v.start)]  # fmt: skip
            if not others:
                continue
            u = rng.choice(others)
            t = v.start + timedelta(minutes=rng.uniform(1, 30))
            for k in range(rng.randint(1, 3)):
                self._add(
                    t + timedelta(minutes=2 * k), u, v.patient, rng.choice(_SNOOP_READS), "R", "ETREAT", v.id
                )
        if self.vips and not any(v.patient in self.vips for v in vip_first):
            patient = sorted(self.vips)[0]
            u = rng.choice(self.users["clinician"])
            t = self._daytime(rng, self._window_day(rng, weekday=False))
            if not self.rules.treats(u, patient, t):
                self._add(t, u, patient, "AllergyIntolerance", "R", "ETREAT")

    # -- planted --------------------------------------------------------------------------------------------
    def _snoop(self, rng: random.Random, u: StaffMember, patient: Person, planted: set[str], purpose: str,
               night: bool = False) -> bool:  # fmt: skip
        """One to three reads of ``patient``'s record by ``u`` at a time without a relationship; False if none
        was found in a few tries."""
        for _ in range(20):
            day = self._window_day(rng, weekday=not night)
            if night:
                start = _utc(datetime(day.year, day.month, day.day, 23, rng.randint(0, 59)))
            else:
                start = self._daytime(rng, day)
            n = rng.randint(1, 3)
            times = [
                (start + timedelta(minutes=rng.uniform(0, 12) * k)).replace(microsecond=0) for k in range(n)
            ]
            probe = [Access(t, u.id, patient.id, "Patient", "R", purpose) for t in times]
            if any(self.rules.justified(a) for a in probe) or any(
                not WINDOW_START <= t < WINDOW_END for t in times
            ):
                continue
            others = [v.id for v in patient.visits if v.provider != u.provider]
            for i, t in enumerate(times):
                encounter = rng.choice(others) if others and i == 0 and rng.random() < 0.3 else ""
                outcome = "4" if rng.random() < 0.05 else "0"
                self._add(t, u, patient.id, rng.choice(_SNOOP_READS), "R", purpose, encounter,
                          frozenset(planted), outcome)  # fmt: skip
            return True
        return False

    def _no_relationship(self, rng: random.Random) -> None:
        pool = self._pool()
        clinicians = self.users["clinician"]
        if not pool:
            return
        for _ in range(max(2, len(self.people) // 35)):
            self._snoop(rng, rng.choice(clinicians), rng.choice(pool), {"no_relationship"}, "TREAT",
                        night=rng.random() < 0.2)  # fmt: skip
        # former patients read well after the margin: the clinician's own patient, 35 to 60 days after the visit
        recent = [
            v for p in pool for v in p.visits if WINDOW_START - timedelta(days=20) <= v.stop < WINDOW_END
        ]
        for v in rng.sample(recent, min(len(recent), 6)):
            u = self.by_provider[v.provider]
            t = self._daytime(rng, (v.stop + timedelta(days=rng.randint(35, 60))).date())
            a = Access(t, u.id, v.patient, "Observation", "R", "TREAT")
            if WINDOW_START <= t < WINDOW_END and not self.rules.justified(a):
                self._add(t, u, v.patient, rng.choice(_SNOOP_READS), planted=frozenset({"no_relationship"}))

    def _vip_snooping(self, rng: random.Random) -> None:
        billing = self.users["billing"]
        for vip in sorted(self.vips):
            person = self.by_id[vip]
            for _ in range(rng.randint(1, 3)):
                if billing and rng.random() < 0.4:
                    u = rng.choice(billing)
                    self._snoop(rng, u, person, {"vip"}, "HPAYMT")
                else:
                    u = rng.choice(self.users["clinician"])
                    self._snoop(
                        rng, u, person, {"vip", "no_relationship"}, "TREAT", night=rng.random() < 0.25
                    )

    def _coworker_snooping(self, rng: random.Random, staff: list[StaffMember]) -> None:
        linked = [s for s in staff if s.patient]
        for s in rng.sample(linked, min(len(linked), 12)):
            colleagues = [
                c
                for c in staff
                if c.organization == s.organization and c.id != s.id and c.role != "researcher"
            ]
            if not colleagues:
                continue
            u = rng.choice(colleagues)
            person = self.by_id[s.patient]
            if u.role == "clinician":
                self._snoop(rng, u, person, {"coworker", "no_relationship"}, "TREAT")
            else:
                self._snoop(rng, u, person, {"coworker"}, "HPAYMT")

    def _bulk(self, rng: random.Random) -> None:
        """After-hours bulk reads: a billing user before and after midnight, a researcher in the night the clocks
        go back (2025-11-02), a clinician reading patients who are not theirs."""
        pool = self._pool()
        if len(pool) < BULK_PATIENTS:
            return
        billing = [s for s in self.users["billing"] if s.organization in {o.id for o in self.world.hospitals}]
        if billing:
            u = rng.choice(billing)
            day = self._window_day(rng)
            start = _utc(datetime(day.year, day.month, day.day, 23, rng.randint(20, 40)))
            ours = [
                p for p in pool if any(self.rules.bills(u, p.id, start + timedelta(hours=h)) for h in (0, 3))
            ]
            patients = (ours + [p for p in rng.sample(pool, len(pool)) if p not in ours])[
                : rng.randint(26, 32)
            ]
            self._session(rng, u, start, patients, _BILLING, "HPAYMT", 6, frozenset({"after_hours_bulk"}))
        if self.users["researcher"]:
            u = rng.choice(self.users["researcher"])
            start = datetime(2025, 11, 2, 5, rng.randint(0, 20))  # 01:00 EDT; the clocks go back at 06:00 UTC
            patients = rng.sample(pool, min(len(pool), 42))
            self._session(rng, u, start, patients, _RESEARCH, "HRESCH", 4.5, frozenset({"after_hours_bulk"}))
        for _ in range(5):
            u = rng.choice(self.users["clinician"])
            day = self._window_day(rng)
            start = _utc(datetime(day.year, day.month, day.day, 22, rng.randint(30, 50)))
            strangers = [p for p in pool if not any(self.rules.treats(u, p.id, start + timedelta(hours=h))
                                                    for h in (0, 1, 2, 3))]  # fmt: skip
            if len(strangers) >= BULK_PATIENTS:
                patients = rng.sample(strangers, min(len(strangers), 25))
                self._session(rng, u, start, patients, tuple(("R", r) for r in _SNOOP_READS), "TREAT", 4,
                              frozenset({"after_hours_bulk", "no_relationship"}))  # fmt: skip
                return


def _reference(system: str, code: str, display: str) -> dict:
    return {"system": system, "code": code, "display": display}


USER_SYSTEM = "https://hitlab.example.org/fhir/sid/user"


def audit_event(row: dict[str, str], staff: dict[str, str] | None = None) -> dict:
    """The FHIR R4 ``AuditEvent`` of one ``access_log`` row (a dict keyed by the CSV header), with the user's
    ``staff`` row (keyed likewise) for the agent's name, role and Practitioner when given."""
    action = row["ACTION"]
    interaction, _display = ACTIONS[action]
    who: dict = {"identifier": {"system": USER_SYSTEM, "value": row["USER"]}}
    agent: dict = {
        "type": {
            "coding": [
                _reference(
                    "http://terminology.hl7.org/CodeSystem/extra-security-role-type",
                    "humanuser",
                    "human user",
                )
            ]
        },
        "who": who,
        "requestor": True,
    }
    if staff:
        who["display"] = staff["NAME"]
        if staff.get("PROVIDER"):
            who["reference"] = f"Practitioner/{staff['PROVIDER']}"
        agent["role"] = [{"text": staff["ROLE"]}]
    entity = [
        {
            "what": {"reference": f"Patient/{row['PATIENT']}"},
            "type": _reference("http://terminology.hl7.org/CodeSystem/audit-entity-type", "1", "Person"),
            "role": _reference("http://terminology.hl7.org/CodeSystem/object-role", "1", "Patient"),
        }
    ]
    if row["RESOURCE_TYPE"] != "Patient":
        entity.append(
            {
                "type": {"system": "http://hl7.org/fhir/resource-types", "code": row["RESOURCE_TYPE"]},
                "role": _reference(
                    "http://terminology.hl7.org/CodeSystem/object-role", "4", "Domain Resource"
                ),
            }
        )
    if row.get("ENCOUNTER"):
        entity.append(
            {
                "what": {"reference": f"Encounter/{row['ENCOUNTER']}"},
                "type": {"system": "http://hl7.org/fhir/resource-types", "code": "Encounter"},
            }
        )
    return {
        "resourceType": "AuditEvent",
        "id": row["Id"],
        "type": _reference(
            "http://terminology.hl7.org/CodeSystem/audit-event-type", "rest", "RESTful Operation"
        ),
        "subtype": [_reference("http://hl7.org/fhir/restful-interaction", interaction, interaction)],
        "action": action,
        "recorded": row["TIMESTAMP"],
        "outcome": row["OUTCOME"],
        "purposeOfEvent": [
            {
                "coding": [
                    _reference(
                        "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                        row["PURPOSE"],
                        PURPOSES[row["PURPOSE"]],
                    )
                ]
            }
        ],
        "agent": [agent],
        "source": {"site": "hitlab EHR", "observer": {"display": "hitlab EHR"}},
        "entity": entity,
    }
