"""What lab 10's exercises work on, for the learner and the checks alike: the capacity assumptions, a generated
HL7 v2 ADT feed for one hospital (built with the project's HL7 v2 writer, patients taken from the default
dataset's feed), a parser for the fields the consumer needs, and the harness that tests a consumer: a broker that
delivers at least once and injects faults, and an idempotent notification sink. Nothing here knows an answer.

The consumer contract (the notebook states it in full):

* ``Consumer(db_path, sink)`` makes an instance; ``db_path`` is a database file that survives a crash (sqlite3
  or DuckDB); ``sink.send(notification_id, payload)`` delivers one notification and is idempotent by id.
* ``consumer.handle(message)`` processes one delivered message (a ``str``, segments ended by ``\\r``); returning
  acknowledges it; raising (or the process dying) leaves it unacknowledged, and the broker delivers it again.
* ``consumer.census()`` returns ``{patient MRN: {"name": "Family^Given", "location": PV1-3}}``.
* A notification's payload has exactly the keys of :data:`NOTIFICATION_KEYS` (``control_id``, ``event``,
  ``patient``, ``location``); an extra or a missing key is reported as such.
"""

from __future__ import annotations

import contextlib
import gc
import random
import re
import sqlite3
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from hitlab.checks.core import defined  # noqa: F401 - the notebooks call it from the lab module
from hitlab.synth.hl7v2_writer import (
    AUTHORITY,
    CHARSET,
    RECEIVING_APPLICATION,
    SENDING_APPLICATION,
    VERSION,
    dtm,
    read_messages,
    segment,
)

# -- Q1 and Q2: the assumptions -----------------------------------------------------------------------------------

HIE_ASSUMPTIONS = {
    "hospitals": 40,
    "admissions_per_hospital_per_day": 60,
    "adt_per_admission": 8,
    "ed_visits_per_hospital_per_day": 150,
    "adt_per_ed_visit": 4,
    "results_per_hospital_per_day": 2500,
    "peak_hour_share": 0.12,
    "redelivery_rate": 0.02,
}
"""A regional HIE (Q1): 40 hospitals; per hospital and day 60 inpatient admissions with 8 ADT messages each
(A01, transfers, updates, A03), 150 ED visits with 4 each, 2,500 result messages (ORU); the busiest hour
carries 12% of a day's messages; 2% of messages are delivered twice (at-least-once retries)."""

STORAGE_ASSUMPTIONS = {
    "patients": 1_200_000,
    "observations_per_patient_per_year": 40,
    "patient_growth_per_year": 0.03,
    "years": 10,
    "row_bytes": 220,
    "index_entry_bytes": [40, 48, 56],
    "replicas": 2,
    "headroom": 0.3,
}
"""Ten years of observations (Q2) in one health system's clinical data store (not the 40-hospital HIE of Q1,
whose region would hold several times as many patients): 1.2 million patients in year one, 3% more each year,
40 observations per patient and year, 220 bytes per stored row, three secondary indexes (40, 48 and 56 bytes per
row), two replicas besides the primary, and 30% free space kept on every copy."""

# -- the ADT feed ---------------------------------------------------------------------------------------------------

BOUND_MINUTES = 60
"""Out-of-order delivery is bounded: a message may be delivered after messages recorded (EVN-2) up to 60 minutes
after it, never after one recorded 60 minutes or more after it."""
NOTIFIED = {"A01": "admit", "A03": "discharge"}
"""The events that notify the care team (an admission, a discharge); A02, A08 and A40 notify no one."""
NOTIFICATION_KEYS = ("control_id", "event", "patient", "location")
"""A notification's payload has exactly these keys (no more, no fewer)."""
START = datetime(2025, 3, 3, 6, 0, tzinfo=UTC)
"""The feed's first day; its messages span four days."""
_STRUCTURE = {"A01": "ADT_A01", "A02": "ADT_A02", "A03": "ADT_A03", "A08": "ADT_A01", "A40": "ADT_A39"}
_UNITS = ("MED", "CAR", "PUL", "SUR")


@dataclass(frozen=True)
class AdtEvent:
    """The fields of one ADT message a census consumer needs."""

    control_id: str  # MSH-10, unique per message of one sender (MSH-3/MSH-4): a redelivery repeats it
    event: str  # MSH-9.2: A01 admit, A02 transfer, A03 discharge, A08 update, A40 merge
    recorded: datetime  # EVN-2, when the event was recorded (UTC; see _parse_dtm)
    patient: str  # PID-3, the identifier of type MR (the MRN)
    name: str  # PID-5, "Family^Given"
    location: str  # PV1-3, "unit^room^bed^facility" ("" for an A40)
    visit: str  # PV1-19, the visit number ("" for an A40)
    prior_patient: str | None  # MRG-1 (A40 only): the retired MRN merged into PID-3's


_DTM = re.compile(r"(\d{4}(?:\d{2}){0,5})(?:\.(\d{1,4}))?([+-]\d{4})?")


def _parse_dtm(value: str) -> datetime:
    """An HL7 v2 DTM (``YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]``) as a UTC datetime: the digits first,
    then fractional seconds (only after the seconds), then the offset, so that ``...00.1234+0000`` and
    ``202503030600+0100`` both read right; a missing month or day is the first, a missing time is 00:00.

    Without an offset HL7 means the sender's local time; this lab has no sender time zone to apply, so it reads
    such a value as UTC (this feed always sends ``+0000``). A real interface takes the zone from the interface
    agreement (or MSH-7's offset) instead of assuming one."""
    match = _DTM.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{value!r} is not an HL7 v2 date/time (YYYY[MM[DD[HH[MM[SS[.SSSS]]]]]][+/-ZZZZ])")
    digits, fraction, offset = match.groups()
    if fraction is not None and len(digits) != 14:
        raise ValueError(f"{value!r}: fractional seconds need the seconds before them")
    parts = [int(digits[i : i + 2]) for i in range(4, len(digits), 2)]
    month, day, hour, minute, second = (parts + [1, 1, 0, 0, 0][len(parts) :])[:5]
    micro = int(fraction.ljust(6, "0")) if fraction else 0
    when = datetime(int(digits[:4]), month, day, hour, minute, second, micro)
    if offset:
        sign = -1 if offset[0] == "-" else 1
        hours, minutes = int(offset[1:3]), int(offset[3:5])
        if hours > 23 or minutes > 59:
            raise ValueError(f"{value!r}: the offset {offset} is not a time zone offset")
        when -= sign * timedelta(hours=hours, minutes=minutes)
    return when.replace(tzinfo=UTC)


def _mr(cx_list: str) -> str:
    """The identifier of type MR in a CX list (``id^^^authority^MR~...``)."""
    for rep in cx_list.split("~"):
        parts = rep.split("^")
        if len(parts) > 4 and parts[4] == "MR":
            return parts[0]
    raise ValueError(f"no identifier of type MR in {cx_list!r}")


def parse_adt(message: str) -> AdtEvent:
    """The fields of an ADT message (``ValueError`` naming what is missing if it is not one)."""
    if not isinstance(message, str) or not message.startswith("MSH|"):
        raise ValueError("an HL7 v2 message is a str starting with MSH|")
    segments: dict[str, list[str]] = {}
    for line in message.replace("\n", "\r").split("\r"):
        if line:
            segments.setdefault(line[:3], line.split("|"))
    msh = segments["MSH"]
    kind = msh[8].split("^")
    if kind[0] != "ADT" or len(kind) < 2:
        raise ValueError(f"MSH-9 is {msh[8]!r}, not an ADT message")
    for name in ("EVN", "PID"):
        if name not in segments:
            raise ValueError(f"ADT^{kind[1]} {msh[9]} has no {name} segment")
    pid, pv1 = segments["PID"], segments.get("PV1", [])
    name = pid[5].split("~")[0].split("^") if len(pid) > 5 else [""]
    mrg = segments.get("MRG")
    return AdtEvent(
        control_id=msh[9],
        event=kind[1],
        recorded=_parse_dtm(segments["EVN"][2]),
        patient=_mr(pid[3]),
        name=f"{name[0]}^{name[1] if len(name) > 1 else ''}",
        location=pv1[3] if len(pv1) > 3 else "",
        visit=pv1[19].split("^")[0] if len(pv1) > 19 else "",
        prior_patient=_mr(mrg[1]) if mrg else None,
    )


@cache
def _identities() -> tuple[tuple[str, str], ...]:
    """(MRN, PID segment) of living patients of the default dataset's HL7 v2 feed, as last sent."""
    from hitlab.data import build_dataset

    folder = build_dataset("default") / "hl7v2"
    out = []
    for path in sorted(folder.glob("*.hl7"))[:400]:
        pid = next(s for s in read_messages(path)[-1].split("\r") if s.startswith("PID|"))
        fields = pid.split("|")
        if len(fields) > 30 and fields[30] == "Y":
            continue  # died
        out.append((_mr(fields[3]), pid))
    return tuple(out)


def _with(pid: str, **changes: str) -> str:
    fields = pid.split("|")
    if "mrn" in changes:
        fields[3] = f"{changes['mrn']}^^^{AUTHORITY}^MR"
    if "name" in changes:
        fields[5] = changes["name"]
    return "|".join(fields)


@dataclass
class _Draft:
    when: datetime
    event: str
    pid: str
    location: str = ""
    visit: str = ""
    prior: str | None = None


def _adt(d: _Draft, control_id: str, facility: str, created: datetime, occurred: datetime | None) -> str:
    msh = "|".join([
        "MSH", "^~\\&", SENDING_APPLICATION, facility, RECEIVING_APPLICATION, AUTHORITY, dtm(created), "",
        f"ADT^{d.event}^{_STRUCTURE[d.event]}", control_id, "P", VERSION, "", "", "", "", "", CHARSET,
    ])  # fmt: skip
    evn = {2: dtm(d.when)} | ({6: dtm(occurred)} if occurred else {})
    segs = [msh, segment("EVN", evn), d.pid]
    if d.event == "A40":
        segs.append(segment("MRG", {1: f"{d.prior}^^^{AUTHORITY}^MR"}))
    else:
        fields = {1: "1", 2: "I", 3: d.location, 19: f"{d.visit}^^^{AUTHORITY}^VN", 39: facility}
        segs.append(segment("PV1", fields))
    return "\r".join(segs) + "\r"


def _stamps(drafts: list[_Draft], order: list[int], seed: int) -> list[tuple[datetime, datetime | None]]:
    """(MSH-7, EVN-6) of each message, in sending order, drawn apart from the events so that the feed's events
    stay what they were. EVN-2 (recorded, required) orders the feed; the other two do not:

    * MSH-7 (when the message was created) is a second or two after EVN-2, but some messages sat in the sender's
      error queue and were resubmitted with a new MSH-7, within the hour after EVN-2: half of the messages that
      the patient's next message follows within 55 minutes (resubmitted after that one, so that the checks meet
      the case), and about one in ten of the others;
    * EVN-6 (when the event occurred) is optional: empty in about one message in four, otherwise up to 10
      minutes before EVN-2 (entered after the fact), never before the patient's previous EVN-2.
    """
    rng = random.Random(f"stamps-{seed}")
    key = [drafts[i].pid.split("|")[3] for i in order]
    following: dict[int, datetime] = {}  # sending position -> EVN-2 of the patient's next message
    last: dict[str, int] = {}
    for n, i in enumerate(order):
        if key[n] in last:
            following[last[key[n]]] = drafts[i].when
        last[key[n]] = n
    previous: dict[str, datetime] = {}
    out = []
    for n, i in enumerate(order):
        d = drafts[i]
        gap = (following[n] - d.when).total_seconds() / 60 if n in following else None
        if (
            gap is not None and gap < 55 and rng.random() < 0.5
        ):  # resubmitted after the patient's next message
            created = d.when + timedelta(minutes=rng.randint(int(gap) + 2, 59), seconds=rng.randint(0, 59))
        elif rng.random() < 0.1:
            created = d.when + timedelta(minutes=rng.randint(15, 55), seconds=rng.randint(0, 59))
        else:
            created = d.when + timedelta(seconds=rng.randint(0, 2))
        key_n = key[n]
        if rng.random() < 0.25:
            occurred = None
        else:
            earliest = max(
                previous.get(key_n, d.when - timedelta(minutes=10)), d.when - timedelta(minutes=10)
            )
            occurred = d.when - timedelta(seconds=rng.randint(0, int((d.when - earliest).total_seconds())))
        previous[key_n] = d.when
        out.append((created, occurred))
    return out


def adt_feed(seed: int = 1, *, patients: int = 28, updates: bool = False, merges: bool = False) -> list[str]:
    """One hospital's ADT feed over four days, in the order it was sent (by EVN-2). MSH-7 and EVN-6 are not
    EVN-2 (see :func:`_stamps`): a consumer ordering by either of them gets some patients wrong.

    Each patient is admitted (A01), often moved within the hour and later again (A02), mostly discharged
    (A03); some come back within the hour (a second stay). ``updates`` adds A08 updates during stays (a name
    corrected, a bed corrected: HL7 meant A08 for changes no other trigger event covers, so a bed change is an
    A02 by the standard, but many senders carry location corrections in A08 and a consumer must take them). ``merges`` adds patients registered under a temporary MRN and later merged
    into their real one (A08 with the real name, then A40 with MRG-1 = the temporary MRN), some messages still
    sent under the temporary MRN after the merge, and a merge of a registration that is not in the hospital.
    Same seed, same feed.
    """
    rng = random.Random(seed)
    pool = list(_identities())
    rng.shuffle(pool)
    facility = "HITLAB_GENERAL"
    drafts: list[_Draft] = []
    visits = iter(range(10_000_000))

    def minutes(lo: int, hi: int) -> timedelta:
        return timedelta(minutes=rng.randint(lo, hi))

    def bed() -> str:
        return f"{rng.choice(_UNITS)}^{rng.randint(100, 499)}^{rng.choice('AB')}^{facility}"

    def stay(pid: str, t: datetime, *, first: str = "A01", rename: bool = False) -> datetime:
        visit = f"V{seed:03d}{next(visits):06d}"
        where = bed()
        drafts.append(_Draft(t, first, pid, where, visit))
        if rng.random() < 0.7:
            t += minutes(10, 50)  # moved to a ward bed within the hour
            where = bed()
            drafts.append(_Draft(t, "A02", pid, where, visit))
        if updates and rng.random() < 0.5:
            t += minutes(30, 600)
            if rename or rng.random() < 0.5:
                fields = pid.split("|")
                family, _, rest = fields[5].partition("^")
                pid = _with(pid, name=f"{family}-{rng.choice(('Lee', 'Diaz', 'Okafor', 'Smith'))}^{rest}")
            else:
                where = where.replace("^A^", "^B^") if "^A^" in where else where.replace("^B^", "^A^")
            drafts.append(_Draft(t, "A08", pid, where, visit))
        if rng.random() < 0.4:
            t += minutes(120, 1200)
            where = bed()
            drafts.append(_Draft(t, "A02", pid, where, visit))
            if rng.random() < 0.5:  # and moved again within the hour
                t += minutes(5, 40)
                where = bed()
                drafts.append(_Draft(t, "A02", pid, where, visit))
        return t

    for mrn, pid in pool[:patients]:
        t = START + minutes(0, 60 * 60)
        t = stay(pid, t)
        if rng.random() < 0.75:
            t += minutes(360, 2400)
            drafts.append(_Draft(t, "A03", pid, drafts[-1].location, drafts[-1].visit))
            if rng.random() < 0.4:  # back within the hour: a new stay
                t += minutes(15, 55)
                t = stay(pid, t)
                if rng.random() < 0.5:
                    t += minutes(300, 1500)
                    drafts.append(_Draft(t, "A03", pid, drafts[-1].location, drafts[-1].visit))
        del mrn
    if merges:
        for k, (_mrn, pid) in enumerate(pool[patients : patients + 5]):
            temp = f"T{seed:03d}{k:04d}"
            sex = pid.split("|")[8] if len(pid.split("|")) > 8 else "U"
            alias = _with(pid, mrn=temp, name=f"DOE^{'JANE' if sex == 'F' else 'JOHN'}")
            identified = _with(pid, mrn=temp)  # the temporary registration, its real name entered
            t = START + minutes(0, 40 * 60)
            visit = f"V{seed:03d}{next(visits):06d}"
            where = bed()
            drafts.append(_Draft(t, "A01", alias, where, visit))
            if k == 3:  # a registration that left before the merge: the merge only links the MRNs
                t += minutes(60, 300)
                drafts.append(_Draft(t, "A03", alias, where, visit))
                t += minutes(60, 600)
                drafts.append(_Draft(t, "A40", pid, prior=temp))
                t += minutes(600, 1500)
                drafts.append(_Draft(t, "A01", identified, bed(), f"V{seed:03d}{next(visits):06d}"))
                continue
            t += minutes(30, 90)
            drafts.append(_Draft(t, "A08", identified, where, visit))
            t += minutes(60, 180)
            drafts.append(_Draft(t, "A40", pid, prior=temp))
            if k == 2:  # still in the hospital, nothing sent since the merge
                continue
            t += minutes(120, 300)
            where = bed()
            drafts.append(
                _Draft(t, "A02", pid if k == 1 else identified, where, visit)
            )  # k 0, 4: a late system
            if k in (0, 1):
                t += minutes(600, 1800)
                drafts.append(_Draft(t, "A03", identified if k == 0 else pid, where, visit))
    order = sorted(range(len(drafts)), key=lambda i: (drafts[i].when, i))
    ids = rng.sample(
        range(10**9, 10**10), len(order)
    )  # opaque: MSH-10 identifies a message, it does not order
    stamps = _stamps(drafts, order, seed)
    return [_adt(drafts[i], str(ids[n]), facility, *stamps[n]) for n, i in enumerate(order)]


# -- the harness ----------------------------------------------------------------------------------------------------


class Crash(BaseException):
    """The consumer's process dies here. A ``BaseException``, so ``except Exception`` does not catch it (a
    real crash cannot be caught at all)."""


@dataclass
class NotificationSink:
    """Where notifications go: ``send(notification_id, payload)``, idempotent by id (a second send with an id
    it already holds is accepted and ignored). ``sent`` maps each id to its payload, in order of arrival.

    The harness may arm a crash: ``"before"`` the next send is recorded, or ``"after"`` it is recorded (the
    notification went out, then the process died)."""

    sent: dict[str, dict] = field(default_factory=dict)
    control_ids: set[str] = field(default_factory=set)
    conflicts: list[tuple[str, dict, dict]] = field(default_factory=list)
    armed: str | None = None
    fired: bool = False

    def send(self, notification_id: str, payload: dict) -> None:
        if not isinstance(notification_id, str) or not notification_id:
            raise TypeError("notification_id should be a non-empty str")
        if not isinstance(payload, dict):
            raise TypeError("payload should be a dict")
        if self.armed == "before":
            self.armed, self.fired = None, True
            raise Crash("crashed while sending a notification (it did not go out)")
        if notification_id in self.sent:
            if self.sent[notification_id] != payload:
                self.conflicts.append((notification_id, self.sent[notification_id], dict(payload)))
        else:
            self.sent[notification_id] = dict(payload)
            self.control_ids.add(str(payload.get("control_id")))
        if self.armed == "after":
            self.armed, self.fired = None, True
            raise Crash("crashed just after a notification went out")


FAULTS = ("none", "duplicates", "reorder", "crash")


@dataclass(frozen=True)
class Delivery:
    """One delivery of the broker: the message's position in the feed, and the crash to inject (``None``;
    ``"ack"``: after ``handle`` returns, before the acknowledgement; ``"before"``/``"after"``: in the next
    notification sent while handling it)."""

    index: int
    crash: str | None = None


def delivery_plan(feed: Sequence[str], fault: str, seed: int = 0) -> list[Delivery]:
    """The order in which the broker delivers ``feed`` under ``fault``:

    * ``"none"``: each message once, in order;
    * ``"duplicates"``: in order, and about one message in four delivered again later (1 to 40 deliveries
      later; a few twice more);
    * ``"reorder"``: each message once, delayed by less than :data:`BOUND_MINUTES` after its EVN-2, so a
      message may arrive after others recorded less than an hour after it (the checks delay most messages that
      have a later message of the same patient within the hour as long as the bound allows);
    * ``"crash"``: in order, with a crash at about one message in six: after handling and before the
      acknowledgement, or while sending a notification (before or after it goes out). The broker then starts a
      new consumer on the same database and delivers the unacknowledged message again.
    """
    rng = random.Random(f"{fault}-{seed}")
    n = len(feed)
    if fault == "none":
        return [Delivery(i) for i in range(n)]
    if fault == "duplicates":
        slots: list[tuple[float, int]] = [(float(i), i) for i in range(n)]
        for i in range(n):
            if rng.random() < 0.25:
                for _ in range(1 if rng.random() < 0.8 else 3):
                    slots.append((i + rng.randint(1, 40) + rng.random() * 0.5, i))
        return [Delivery(i) for _, i in sorted(slots)]
    if fault == "reorder":
        events = [parse_adt(m) for m in feed]
        bound = timedelta(minutes=BOUND_MINUTES) - timedelta(seconds=1)
        last: dict[str, int] = {}
        follows: set[int] = set()  # messages whose patient has another message within the bound after them
        for i, e in enumerate(events):
            j = last.get(e.patient)
            if j is not None and e.recorded - events[j].recorded < bound:
                follows.add(j)
            last[e.patient] = i
        due = []
        for i, e in enumerate(events):
            late = bound if i in follows and rng.random() < 0.7 else bound * rng.random() * 0.5
            due.append((e.recorded + late, i))
        return [Delivery(i) for _, i in sorted(due)]
    if fault == "crash":
        kinds = ("ack", "before", "after")
        plan = []
        for i in range(n):
            crash = kinds[rng.randrange(3)] if i == 0 or rng.random() < 0.17 else None
            plan.append(Delivery(i, crash))
        return plan
    raise ValueError(f"fault should be one of {', '.join(FAULTS)}, got {fault!r}")


@dataclass
class Replay:
    """What a consumer did with a feed: its final census, the notifications the sink holds, and the log."""

    census: dict[str, dict]
    sent: dict[str, dict]
    conflicts: list[tuple[str, dict, dict]]
    deliveries: int
    crashes: int
    late: list[str] = field(default_factory=list)  # notified messages acknowledged before their notification


def _kill(consumer: Any) -> None:
    """Simulate the death of a consumer's process: close its database connections without committing.

    Only connections held directly as attributes of the consumer object are found. A connection kept elsewhere
    (a module-level cache, a dict or list attribute, a helper object) stays open; if it holds an open
    transaction, the new instance's first write waits on its lock and fails with "database is locked". Keep the
    connection on the consumer itself (``self.db``)."""
    import duckdb

    for value in list(vars(consumer).values()) if hasattr(consumer, "__dict__") else []:
        if isinstance(value, sqlite3.Connection | duckdb.DuckDBPyConnection):
            with contextlib.suppress(Exception):  # a dead process closes whatever it held
                value.close()


def replay(
    consumer_class: Callable[..., Any], feed: Sequence[str], fault: str = "none", seed: int = 0,
    db_path: str | Path | None = None,
) -> Replay:  # fmt: skip
    """Deliver ``feed`` to a consumer made by ``consumer_class(db_path, sink)`` under ``fault`` (see
    :func:`delivery_plan`) and return what it ended with. A crash ends the consumer instance (its database
    connections closed, nothing committed); a new one is made on the same ``db_path`` and the unacknowledged
    message delivered again. When ``handle`` returns (the acknowledgement), the notification of an admission or
    discharge must have gone out: one that had not is listed in ``late``. Errors of the consumer's own
    propagate."""
    plan = delivery_plan(feed, fault, seed)
    sink = NotificationSink()
    events = [parse_adt(message) for message in feed]
    late: list[str] = []
    with tempfile.TemporaryDirectory(prefix="hitlab-lab10-") as tmp:
        path = str(db_path or Path(tmp) / "consumer.db")
        consumer = consumer_class(path, sink)
        crashes = deliveries = 0
        for step in plan:
            message = feed[step.index]
            crash = step.crash
            while True:
                deliveries += 1
                sink.armed, sink.fired = (crash if crash in ("before", "after") else None), False
                try:
                    consumer.handle(message)
                    died = sink.fired or crash == "ack"
                except Crash:
                    died = True
                sink.armed = None
                if not died:
                    e = events[step.index]
                    if (
                        e.event in NOTIFIED
                        and e.control_id not in sink.control_ids
                        and e.control_id not in late
                    ):
                        late.append(e.control_id)
                    break
                crashes += 1
                _kill(consumer)
                consumer = None
                gc.collect()
                consumer = consumer_class(path, sink)  # a new process on the same database
                crash = None  # the redelivery goes through
        census = consumer.census()
        _kill(consumer)
    return Replay(census, dict(sink.sent), list(sink.conflicts), deliveries, crashes, late)


def differences(got: Replay, expected: Replay, feed: Sequence[str], limit: int = 1) -> list[str]:
    """How ``got`` differs from ``expected`` (another run on the same feed), in words that name the patient and
    the event: notifications lost, duplicated (two ids for one message) or different; census entries missing,
    extra or different. At most ``limit`` of each kind."""
    events = {e.control_id: e for e in map(parse_adt, feed)}

    def about(control_id: str) -> str:
        e = events.get(control_id)
        if e is None:
            return f"a notification naming control id {control_id!r}, which is in no message of the feed"
        return f"ADT^{e.event} {control_id} for patient {e.patient} (recorded {e.recorded:%Y-%m-%d %H:%M})"

    out: list[str] = []
    if got.conflicts:
        nid = got.conflicts[0][0]
        out.append(f"notification id {nid!r} was sent twice with different payloads")
    by_message: dict[str, list[str]] = {}
    for nid, payload in got.sent.items():
        by_message.setdefault(str(payload.get("control_id")), []).append(nid)
    wanted = {p["control_id"]: p for p in expected.sent.values()}
    lost = [c for c in wanted if c not in by_message]
    extra = [c for c in by_message if c not in wanted]
    twice = [c for c, ids in by_message.items() if c in wanted and len(ids) > 1]
    wrong = [
        c for c, ids in by_message.items() if c in wanted and len(ids) == 1 and got.sent[ids[0]] != wanted[c]
    ]
    out += [f"no notification for {about(c)}: it was lost" for c in lost[:limit]]
    out += [
        f"{len(by_message[c])} notifications (different ids) for {about(c)}: a duplicate"
        for c in twice[:limit]
    ]
    out += [f"a notification for {about(c)}, which should notify no one" for c in extra[:limit]]
    out += [
        f"the notification for {about(c)} had not gone out when its message was acknowledged"
        for c in got.late[:limit]
        if c in wanted
    ]
    for c in wrong[:limit]:
        payload, ref = got.sent[by_message[c][0]], wanted[c]
        extra_keys = sorted(set(payload) - set(ref), key=str)
        missing_keys = [k for k in ref if k not in payload]
        if extra_keys or missing_keys:
            what = "; ".join(
                part for part in (
                    f"extra key(s) {', '.join(repr(k) for k in extra_keys)}" if extra_keys else "",
                    f"missing key(s) {', '.join(repr(k) for k in missing_keys)}" if missing_keys else "",
                ) if part
            )  # fmt: skip
            out.append(
                f"the notification for {about(c)} has {what}: a payload has exactly the keys "
                f"{', '.join(NOTIFICATION_KEYS)}"
            )
            continue
        key = next((k for k in ref if payload.get(k) != ref[k]), "?")
        out.append(f"the notification for {about(c)} has {key} = {payload.get(key)!r}, which is not right")
    census = got.census if isinstance(got.census, dict) else {}
    missing = [p for p in expected.census if p not in census]
    more = [p for p in census if p not in expected.census]
    changed = [p for p in expected.census if p in census and census[p] != expected.census[p]]
    out += [f"patient {p} is missing from the census" for p in missing[:limit]]
    out += [f"patient {p} is in the census but should not be" for p in more[:limit]]
    for p in changed[:limit]:
        entry, ref = census[p], expected.census[p]
        key = next((k for k in ref if not isinstance(entry, dict) or entry.get(k) != ref[k]), "?")
        value = entry.get(key) if isinstance(entry, dict) else entry
        out.append(f"the census entry of patient {p} has {key} = {value!r}, which is not right")
    return out


# -- Q7 which standard carries each exchange --------------------------------------------------------------------

STANDARDS = {
    "A": "X12 270/271 (eligibility inquiry and response)",
    "B": "X12 837I (institutional claim)",
    "C": "X12 278 (referral certification and authorization)",
    "D": "X12 276/277 (claim status inquiry and response)",
    "E": "X12 835 remittance advice, with the payment as a NACHA CCD+ EFT",
    "F": "NCPDP Telecommunication D.0",
    "G": "X12 277 request / X12 275 response (006020) carrying an HL7 C-CDA document",
    "H": "HL7 FHIR R4 API (US Core, SMART, Bulk Data) under CMS-0057-F",
    "I": "X12 834 (benefit enrollment and maintenance)",
    "J": "HL7 v2 ADT",
}
"""The menu for Q7: one standard (or pair) per letter."""

EXCHANGES = {
    "eligibility": "Before a scheduled admission, registration asks the patient's health plan whether the "
    "coverage is active and what it pays for.",
    "inpatient_claim": "After discharge, the hospital bills the plan for the inpatient stay.",
    "prior_auth": "The hospital asks an employer-sponsored commercial plan (not a payer that CMS-0057-F "
    "covers) to authorize an elective admission.",
    "claim_status": "Billing asks the plan where a claim submitted five weeks ago stands.",
    "remittance": "The plan pays the claim and explains each adjustment to the hospital.",
    "pharmacy_claim": "The hospital's outpatient retail pharmacy bills the plan for a prescription it fills.",
    "attachment": "The plan asks for the discharge summary to support a claim, under the standard HHS adopted "
    "for claims attachments in 2026 (compliance from 26 May 2028).",
    "provider_access": "A Medicare Advantage plan lets the hospital's clinicians retrieve a patient's claims and "
    "encounter data from the plan (the Provider Access API, from 1 January 2027).",
    "enrollment": "The hospital, as an employer, enrolls its new employees in the health plan it sponsors.",
}
"""The hospital-payer exchanges of Q7 (key -> what happens)."""

# -- Q8 minimum necessary ------------------------------------------------------------------------------------------

RULE_DOES_NOT_APPLY = "rule does not apply"
"""Q8's outcome for an exempt request: the minimum-necessary standard does not limit it. It does not mean
"send everything": other rules still do (psychotherapy notes need their own authorization, 164.508(a)(2); the
right of access leaves them out, 164.524(a)(1)(i); a disclosure under an authorization is limited to what the
authorization describes; Part 2 records need Part 2's consent; state law)."""
INDIVIDUAL_REVIEW = "individual review"
ELEMENTS = (
    "demographics", "member_id", "encounter_dates", "diagnoses", "procedures", "charges", "medications",
    "lab_results", "discharge_summary", "clinical_notes", "psychotherapy_notes",
)  # fmt: skip
"""The data elements a request may ask for."""

POLICY = {
    ("payment", "health_plan"): (
        "demographics", "member_id", "encounter_dates", "diagnoses", "procedures", "charges",
    ),
    ("payment_review", "health_plan"): (
        "demographics", "member_id", "encounter_dates", "diagnoses", "procedures", "medications",
        "lab_results", "discharge_summary",
    ),
    ("quality_operations", "health_plan"): ("demographics", "encounter_dates", "diagnoses", "procedures"),
    ("billing_audit", "business_associate"): (
        "demographics", "member_id", "encounter_dates", "procedures", "charges",
    ),
}  # fmt: skip
"""The hospital's standard protocols for its routine, recurring disclosures: (purpose, requester) -> the
elements the protocol allows. ``payment_review`` is a plan's medical-necessity or utilization review of a
claim (part of payment in 45 CFR 164.501)."""

REQUESTS = (
    {"purpose": "payment", "requester": "health_plan", "routine": True, "authorization": False,
     "elements": ["demographics", "member_id", "diagnoses", "charges", "clinical_notes"]},
    {"purpose": "treatment", "requester": "provider", "routine": False, "authorization": False,
     "elements": ["diagnoses", "medications", "clinical_notes", "lab_results"]},
    {"purpose": "treatment", "requester": "health_plan", "routine": False, "authorization": False,
     "elements": ["diagnoses", "medications"]},
    {"purpose": "payment_review", "requester": "health_plan", "routine": True, "authorization": False,
     "elements": ["discharge_summary", "lab_results", "psychotherapy_notes"]},
    {"purpose": "access", "requester": "individual", "routine": False, "authorization": False,
     "elements": [e for e in ELEMENTS if e != "psychotherapy_notes"]},
    {"purpose": "research", "requester": "researcher", "routine": False, "authorization": True,
     "elements": ["diagnoses", "lab_results"]},
    {"purpose": "quality_operations", "requester": "health_plan", "routine": False, "authorization": False,
     "elements": ["diagnoses", "procedures"]},
    {"purpose": "standard_transaction", "requester": "health_plan", "routine": True, "authorization": False,
     "elements": ["demographics", "member_id", "diagnoses", "procedures", "charges"]},
    {"purpose": "required_by_law", "requester": "public_official", "routine": False, "authorization": False,
     "elements": ["demographics", "diagnoses"]},
    {"purpose": "compliance_review", "requester": "hhs", "routine": False, "authorization": False,
     "elements": ["demographics", "encounter_dates", "clinical_notes"]},
    {"purpose": "billing_audit", "requester": "business_associate", "routine": True, "authorization": False,
     "elements": ["clinical_notes", "lab_results"]},
    {"purpose": "payment", "requester": "provider", "routine": True, "authorization": False,
     "elements": ["demographics", "charges"]},
)  # fmt: skip
"""Q8's requests: who asks (``requester``), for what (``purpose``), whether it is a routine, recurring
disclosure (``routine``), whether the patient signed an authorization for it (``authorization``), and which
``elements`` it asks for. Purposes: ``treatment``, ``payment``, ``payment_review``, ``quality_operations``,
``billing_audit``, ``access`` (the patient's own request, for what the right of access covers: psychotherapy notes
are not part of it), ``research``, ``standard_transaction`` (the required and situational fields of a HIPAA
standard transaction), ``required_by_law``, ``compliance_review`` (HHS investigating compliance)."""
