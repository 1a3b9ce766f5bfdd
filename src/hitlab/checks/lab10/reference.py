"""Lab 10's reference implementations, independent of the notebook's worked answers: the capacity estimates, the
census consumer (state and notifications in one sqlite transaction, notifications sent before it commits), the
exchange-to-standard table and the minimum-necessary decision. Left out of an exam release."""

from __future__ import annotations

import json
import math
import sqlite3
from functools import cache

from hitlab.checks.lab10 import materials as m

# -- Q1 peak message rate ---------------------------------------------------------------------------------------


def _number(assumptions: dict, key: str, *, share: bool = False) -> float:
    if not isinstance(assumptions, dict):
        raise ValueError("assumptions should be a dict")
    value = assumptions[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{key} should be a number >= 0, got {value!r}")
    if share and value > 1:
        raise ValueError(f"{key} is a share of the day, between 0 and 1, got {value!r}")
    return float(value)


def peak_messages_per_second(assumptions: dict) -> float:
    hospitals = _number(assumptions, "hospitals")
    per_hospital = (
        _number(assumptions, "admissions_per_hospital_per_day") * _number(assumptions, "adt_per_admission")
        + _number(assumptions, "ed_visits_per_hospital_per_day") * _number(assumptions, "adt_per_ed_visit")
        + _number(assumptions, "results_per_hospital_per_day")
    )
    peak_hour = hospitals * per_hospital * _number(assumptions, "peak_hour_share", share=True)
    return peak_hour / 3600 * (1 + _number(assumptions, "redelivery_rate"))


# -- Q2 storage ------------------------------------------------------------------------------------------------------


def observation_storage(assumptions: dict) -> dict:
    patients = _number(assumptions, "patients")
    per_year = _number(assumptions, "observations_per_patient_per_year")
    growth = _number(assumptions, "patient_growth_per_year")
    years = assumptions["years"]
    if isinstance(years, bool) or not isinstance(years, int) or years < 0:
        raise ValueError(f"years should be a whole number >= 0, got {years!r}")
    indexes = assumptions["index_entry_bytes"]
    if not isinstance(indexes, list | tuple) or any(
        isinstance(b, bool) or not isinstance(b, int | float) or b < 0 for b in indexes
    ):
        raise ValueError("index_entry_bytes should be a list of numbers >= 0")
    replicas = assumptions["replicas"]
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
        raise ValueError(f"replicas should be a whole number >= 0, got {replicas!r}")
    headroom = _number(assumptions, "headroom", share=True)
    if headroom >= 1:
        raise ValueError("headroom should be below 1 (the share of each disk kept free)")
    # year y (0-based) has patients * (1 + growth)^y patients: a geometric series
    rows = round(sum(patients * (1 + growth) ** y * per_year for y in range(years)))
    table = rows * _number(assumptions, "row_bytes")
    index = rows * float(sum(indexes))
    replicated = (table + index) * (1 + replicas)
    return {"rows": rows, "table_bytes": table, "index_bytes": index, "replicated_bytes": replicated,
            "total_bytes": replicated / (1 - headroom)}  # fmt: skip


# -- Q3-Q6 the census consumer -----------------------------------------------------------------------------------

_SCHEMA = """
create table if not exists seen (control_id text primary key);
create table if not exists alias (retired text primary key, survivor text not null);
create table if not exists patient (
    mrn text primary key, present integer not null, name text, location text, recorded text not null
);
"""


class ReferenceConsumer:
    """Everything a message changes (seen control id, patient row, alias) commits in one transaction, and its
    notification is sent inside that transaction, before the commit: a crash before the commit undoes the
    state and the message comes again (the sink drops the repeated id); a crash after it finds the id seen."""

    def __init__(self, db_path: str, sink) -> None:
        self.sink = sink
        self.db = sqlite3.connect(db_path, isolation_level=None)
        self.db.executescript(_SCHEMA)

    def _resolve(self, mrn: str) -> str:
        row = self.db.execute("select survivor from alias where retired = ?", (mrn,)).fetchone()
        return row[0] if row else mrn

    def handle(self, message: str) -> None:
        e = m.parse_adt(message)
        db = self.db
        db.execute("begin immediate")
        try:
            if db.execute("select 1 from seen where control_id = ?", (e.control_id,)).fetchone():
                db.execute("rollback")
                return
            db.execute("insert into seen values (?)", (e.control_id,))
            if e.event == "A40":
                self._merge(e)
            else:
                mrn = self._resolve(e.patient)
                row = db.execute("select recorded from patient where mrn = ?", (mrn,)).fetchone()
                if row is None or e.recorded.isoformat() >= row[0]:  # older than what we hold: stale
                    db.execute(
                        "insert or replace into patient values (?, ?, ?, ?, ?)",
                        (mrn, int(e.event != "A03"), e.name, e.location, e.recorded.isoformat()),
                    )
                if e.event in m.NOTIFIED:
                    payload = {"control_id": e.control_id, "event": m.NOTIFIED[e.event], "patient": mrn,
                               "location": e.location}  # fmt: skip
                    self.sink.send(f"adt-{e.control_id}", payload)
            db.execute("commit")
        except BaseException:
            if db.in_transaction:
                db.execute("rollback")
            raise

    def _merge(self, e: m.AdtEvent) -> None:
        db = self.db
        survivor, retired = self._resolve(e.patient), e.prior_patient
        db.execute("update alias set survivor = ? where survivor = ?", (survivor, retired))
        db.execute("insert or replace into alias values (?, ?)", (retired, survivor))
        moved = db.execute(
            "select present, location, recorded from patient where mrn = ?", (retired,)
        ).fetchone()
        if moved is None:
            return
        db.execute("delete from patient where mrn = ?", (retired,))
        held = db.execute("select recorded from patient where mrn = ?", (survivor,)).fetchone()
        if held is None or moved[2] >= held[0]:
            db.execute(
                "insert or replace into patient values (?, ?, ?, ?, ?)",
                (survivor, moved[0], e.name, moved[1], moved[2]),
            )

    def census(self) -> dict[str, dict]:
        rows = self.db.execute("select mrn, name, location from patient where present = 1").fetchall()
        return {mrn: {"name": name, "location": location} for mrn, name, location in rows}


FEEDS = {
    "lab10_consumer_duplicates": ("duplicates", {}),
    "lab10_consumer_ordering": ("reorder", {}),
    "lab10_consumer_crash": ("crash", {}),
    "lab10_consumer_updates_merges": ("none", {"updates": True, "merges": True}),
}
"""Each consumer question's fault and feed options."""


@cache
def expected_replay(feed_seed: int, updates: bool = False, merges: bool = False) -> m.Replay:
    """The reference consumer on the feed delivered once, in order: the census and notifications a consumer
    must end with whatever the faults."""
    feed = m.adt_feed(feed_seed, updates=updates, merges=merges)
    return m.replay(ReferenceConsumer, feed, "none")


def as_json(replay: m.Replay) -> str:
    """A replay's census and notifications, for tests."""
    return json.dumps({"census": replay.census, "sent": replay.sent}, sort_keys=True)


# -- Q7 and Q8 ----------------------------------------------------------------------------------------------------

EXCHANGE_STANDARDS = {
    "eligibility": "A",  # 45 CFR 162.1202
    "inpatient_claim": "B",  # 162.1102
    "prior_auth": "C",  # 162.1302: the 278 is still the HIPAA standard
    "claim_status": "D",  # 162.1402
    "remittance": "E",  # 162.1602: one transaction, two standards (835 and the EFT)
    "pharmacy_claim": "F",  # 162.1102, retail pharmacy drug claims
    "attachment": "G",  # 162.2002 (CMS-0053-F): X12 277 request, 275 response, 006020, with C-CDA
    "provider_access": "H",  # CMS-0057-F
    "enrollment": "I",  # 162.1502: sponsor to plan
}


def _exempt(request: dict) -> bool:
    """45 CFR 164.502(b)(2): where the minimum-necessary standard does not apply."""
    purpose, requester = request["purpose"], request["requester"]
    return (
        (purpose == "treatment" and requester == "provider")  # (i) to or by a provider, for treatment
        or requester == "individual"  # (ii) to the individual
        or bool(request.get("authorization"))  # (iii) under an authorization
        or (requester == "hhs" and purpose == "compliance_review")  # (iv) to the Secretary
        or purpose == "required_by_law"  # (v)
        or purpose == "standard_transaction"  # (vi) required by the transaction standards (OCR FAQ 212)
    )


def minimum_necessary(request: dict, policy: dict):
    if _exempt(request):  # not limited by this rule; other rules (164.508(a)(2), Part 2, ...) still apply
        return m.RULE_DOES_NOT_APPLY
    protocol = policy.get((request["purpose"], request["requester"]))
    if request["routine"] and protocol is not None:  # 164.514(d)(3)(i): the standard protocol
        return sorted(set(request["elements"]) & set(protocol))
    return m.INDIVIDUAL_REVIEW  # 164.514(d)(3)(ii): criteria, each request reviewed


# -- the hidden tests' cases (left out of an exam release) ---------------------------------------------------

HIDDEN_SEEDS = (11, 17)
"""The feed and fault seeds of the hidden tests of Q3-Q6."""

OTHER_POLICY = {
    ("payment", "health_plan"): ("demographics", "member_id", "encounter_dates", "procedures", "charges"),
    ("payment", "provider"): ("demographics", "member_id", "charges"),
    ("quality_operations", "health_plan"): ("encounter_dates", "diagnoses"),
}
"""Another hospital's protocols (the hidden tests' policy)."""

HIDDEN_REQUESTS = (
    {"purpose": "payment", "requester": "health_plan", "routine": True, "authorization": False,
     "elements": ["diagnoses", "procedures", "charges", "discharge_summary"]},
    {"purpose": "payment", "requester": "provider", "routine": True, "authorization": False,
     "elements": ["demographics", "diagnoses", "charges"]},
    {"purpose": "payment", "requester": "health_plan", "routine": False, "authorization": False,
     "elements": ["charges"]},
    {"purpose": "quality_operations", "requester": "health_plan", "routine": True, "authorization": False,
     "elements": ["clinical_notes"]},
    {"purpose": "treatment", "requester": "provider", "routine": True, "authorization": False,
     "elements": ["clinical_notes", "discharge_summary"]},
    {"purpose": "marketing", "requester": "health_plan", "routine": True, "authorization": True,
     "elements": ["demographics"]},
)  # fmt: skip
