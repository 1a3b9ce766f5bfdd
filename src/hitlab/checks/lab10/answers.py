"""Lab 10's answer sources: each question's worked solution (the notebook's solution cell), other correct answers,
and known-wrong answers that must lose exactly that question's points. Left out of an exam release.

The consumer's cells build on each other in the notebook (Q4's class subclasses Q3's, and so on); the notebook
holds each cell alone (``*_CELL``), and each question's solution is the chain of cells up to its own
(:func:`chain`), so that it runs on its own too. A known-wrong answer of Q4 replaces Q4's cell: it repeats the
correct earlier cells and gets its own part wrong."""

from __future__ import annotations


def chain(*cells: str) -> str:
    """Cells one after another, as one self-contained answer (only the first keeps its solution markers)."""
    body = [c.replace("### BEGIN SOLUTION\n", "").replace("\n### END SOLUTION", "") for c in cells]
    return "### BEGIN SOLUTION\n" + "\n\n\n".join(body) + "\n### END SOLUTION"


# -- Q1 ----------------------------------------------------------------------------------------------------------

PEAK = """### BEGIN SOLUTION
def peak_messages_per_second(assumptions: dict) -> float:
    a = assumptions
    for key, value in a.items():
        if isinstance(value, int | float) and value < 0:
            raise ValueError(f"{key} should not be negative: {value}")
    if a["peak_hour_share"] > 1:
        raise ValueError("peak_hour_share is a share of the day: at most 1")
    per_hospital_day = (
        a["admissions_per_hospital_per_day"] * a["adt_per_admission"]
        + a["ed_visits_per_hospital_per_day"] * a["adt_per_ed_visit"]
        + a["results_per_hospital_per_day"]
    )
    busiest_hour = a["hospitals"] * per_hospital_day * a["peak_hour_share"]
    # at-least-once delivery: the retries are traffic too
    return busiest_hour / 3600 * (1 + a["redelivery_rate"])
### END SOLUTION"""

PEAK_ALTERNATIVE = """def peak_messages_per_second(assumptions):
    from math import isfinite

    values = {k: float(v) for k, v in assumptions.items()}
    if any(v < 0 or not isfinite(v) for v in values.values()) or values["peak_hour_share"] > 1:
        raise ValueError("assumptions out of range")
    adt = values["admissions_per_hospital_per_day"] * values["adt_per_admission"]
    adt += values["ed_visits_per_hospital_per_day"] * values["adt_per_ed_visit"]
    daily = values["hospitals"] * (adt + values["results_per_hospital_per_day"])
    per_second_average = daily / 86_400
    peak_factor = values["peak_hour_share"] * 24  # the busiest hour against an average hour
    return per_second_average * peak_factor * (1 + values["redelivery_rate"])"""

PEAK_WRONG = (  # the day's average: the peak hour ignored
    PEAK.replace('busiest_hour / 3600 * (1 + a["redelivery_rate"])', 'busiest_hour / a["peak_hour_share"] / 86400 * (1 + a["redelivery_rate"])'),
)  # fmt: skip

PEAK_WRONG_MORE = (  # tested in tests/test_lab10.py, not by course verify
    PEAK.replace(' * (1 + a["redelivery_rate"])', ""),  # the retries forgotten
    PEAK.replace('    if a["peak_hour_share"] > 1:\n        raise ValueError("peak_hour_share is a share of the day: at most 1")\n', ""),
)  # fmt: skip

# -- Q2 ----------------------------------------------------------------------------------------------------------

STORAGE = """### BEGIN SOLUTION
def observation_storage(assumptions: dict) -> dict:
    a = assumptions
    numbers = [a["patients"], a["observations_per_patient_per_year"], a["patient_growth_per_year"], a["years"],
               a["row_bytes"], a["replicas"], a["headroom"], *a["index_entry_bytes"]]
    if any(n < 0 for n in numbers):
        raise ValueError("the assumptions should not be negative")
    if a["headroom"] >= 1:
        raise ValueError("headroom is the share of each disk kept free: below 1")
    # year y has patients * (1 + growth)^y patients: sum the years
    rows = round(sum(a["patients"] * (1 + a["patient_growth_per_year"]) ** y
                     for y in range(a["years"])) * a["observations_per_patient_per_year"])
    table = rows * a["row_bytes"]
    index = rows * sum(a["index_entry_bytes"])
    replicated = (table + index) * (1 + a["replicas"])  # the primary and its replicas
    total = replicated / (1 - a["headroom"])  # the data fills (1 - headroom) of every disk
    return {"rows": rows, "table_bytes": table, "index_bytes": index,
            "replicated_bytes": replicated, "total_bytes": total}
### END SOLUTION"""

STORAGE_ALTERNATIVE = """def observation_storage(assumptions):
    p, g, n = assumptions["patients"], assumptions["patient_growth_per_year"], assumptions["years"]
    if min(p, g, n, assumptions["replicas"], assumptions["row_bytes"]) < 0 or not 0 <= assumptions["headroom"] < 1:
        raise ValueError("assumptions out of range")
    patient_years = p * n if g == 0 else p * ((1 + g) ** n - 1) / g  # geometric series in closed form
    rows = round(patient_years * assumptions["observations_per_patient_per_year"])
    per_row = assumptions["row_bytes"] + sum(assumptions["index_entry_bytes"])
    copies = 1 + assumptions["replicas"]
    replicated = rows * per_row * copies
    return {
        "rows": rows,
        "table_bytes": rows * assumptions["row_bytes"],
        "index_bytes": rows * sum(assumptions["index_entry_bytes"]),
        "replicated_bytes": replicated,
        "total_bytes": replicated / (1 - assumptions["headroom"]),
    }"""

STORAGE_WRONG = (  # headroom added on top (x 1.3) instead of the data filling 70% of the disks (/ 0.7)
    STORAGE.replace('replicated / (1 - a["headroom"])', 'replicated * (1 + a["headroom"])'),
)

STORAGE_WRONG_MORE = (  # tested in tests/test_lab10.py, not by course verify
    STORAGE.replace('(1 + a["replicas"])', 'a["replicas"]'),  # replicas taken as all the copies
    STORAGE.replace('(1 + a["patient_growth_per_year"]) ** y', '(1 + a["patient_growth_per_year"] * y)'),  # simple growth
)  # fmt: skip

# -- Q3-Q6 the consumer ------------------------------------------------------------------------------------------

CONSUMER_CELL = '''### BEGIN SOLUTION
import json
import sqlite3

from hitlab.checks import lab10


class AdtConsumer:
    """The census and its notifications, kept in sqlite: a message is processed entirely or not at all."""

    def __init__(self, db_path: str, sink) -> None:
        self.sink = sink
        self.db = sqlite3.connect(db_path)
        self.db.executescript("""
            create table if not exists processed (control_id text primary key);
            create table if not exists census (
                mrn text primary key, present integer, name text, location text, recorded text);
            create table if not exists outbox (id text primary key, payload text, sent integer default 0);
        """)

    def handle(self, message: str) -> None:
        event = lab10.parse_adt(message)
        with self.db:  # one transaction: commit at the end, roll back on any error or crash
            seen = self.db.execute("select 1 from processed where control_id = ?", (event.control_id,))
            if seen.fetchone():
                return  # a redelivery: this message is done already
            self.db.execute("insert into processed values (?)", (event.control_id,))
            patient = self.apply(event)
            if event.event in lab10.NOTIFIED:
                payload = {"control_id": event.control_id, "event": lab10.NOTIFIED[event.event],
                           "patient": patient, "location": event.location}
                # the id comes from the message, so a repeat is recognised by the sink
                self.db.execute("insert into outbox (id, payload) values (?, ?)",
                                (f"adt-{event.control_id}", json.dumps(payload)))
        self.flush()

    def resolve(self, mrn: str) -> str:
        return mrn  # no merges yet (Q6)

    def apply(self, event) -> str:
        """Change the census row of the event's patient; return that patient's MRN."""
        patient = self.resolve(event.patient)
        present = 0 if event.event == "A03" else 1  # a discharged patient keeps a row (present = 0)
        self.db.execute("insert or replace into census values (?, ?, ?, ?, ?)",
                        (patient, present, event.name, event.location, event.recorded.isoformat()))
        return patient

    def flush(self) -> None:
        """Send what the outbox holds, oldest first, marking each one sent."""
        pending = self.db.execute("select id, payload from outbox where sent = 0 order by rowid").fetchall()
        for notification_id, payload in pending:
            self.sink.send(notification_id, json.loads(payload))
            with self.db:
                self.db.execute("update outbox set sent = 1 where id = ?", (notification_id,))

    def census(self) -> dict:
        rows = self.db.execute("select mrn, name, location from census where present = 1").fetchall()
        return {mrn: {"name": name, "location": location} for mrn, name, location in rows}
### END SOLUTION'''

ORDERED_CELL = '''### BEGIN SOLUTION
class OrderedConsumer(AdtConsumer):
    """Per patient, the latest event by EVN-2 wins, whatever order the messages arrive in."""

    def apply(self, event) -> str:
        patient = self.resolve(event.patient)
        held = self.db.execute("select recorded from census where mrn = ?", (patient,)).fetchone()
        if held and event.recorded.isoformat() < held[0]:
            return patient  # stale: leave the census alone (an admission or discharge is still notified)
        return super().apply(event)
### END SOLUTION'''

CRASH_CELL = '''### BEGIN SOLUTION
class CrashSafeConsumer(OrderedConsumer):
    """Recovery: a crash may come after a message's transaction committed and before its notification went out;
    the outbox still holds it, so a new instance sends it first (the sink ignores an id sent twice)."""

    def __init__(self, db_path: str, sink) -> None:
        super().__init__(db_path, sink)
        self.flush()
### END SOLUTION'''

MERGES_CELL = '''### BEGIN SOLUTION
class MergingConsumer(CrashSafeConsumer):
    """A40 merges a retired MRN (MRG-1) into a surviving one (PID-3); A08 updates need nothing new: like A02,
    they change the row's name and location and notify no one."""

    def __init__(self, db_path: str, sink) -> None:
        with sqlite3.connect(db_path) as db:  # the alias table exists before the outbox is flushed
            db.execute("create table if not exists alias (retired text primary key, survivor text)")
        db.close()
        super().__init__(db_path, sink)

    def resolve(self, mrn: str) -> str:
        row = self.db.execute("select survivor from alias where retired = ?", (mrn,)).fetchone()
        return row[0] if row else mrn

    def apply(self, event) -> str:
        if event.event != "A40":
            return super().apply(event)
        survivor, retired = self.resolve(event.patient), event.prior_patient
        self.db.execute("update alias set survivor = ? where survivor = ?", (survivor, retired))
        self.db.execute("insert or replace into alias values (?, ?)", (retired, survivor))
        moved = self.db.execute(
            "select present, location, recorded from census where mrn = ?", (retired,)).fetchone()
        if moved:
            self.db.execute("delete from census where mrn = ?", (retired,))
            held = self.db.execute("select recorded from census where mrn = ?", (survivor,)).fetchone()
            if held is None or moved[2] >= held[0]:  # the newer row wins; the survivor's name
                self.db.execute("insert or replace into census values (?, ?, ?, ?, ?)",
                                (survivor, moved[0], event.name, moved[1], moved[2]))
        return survivor
### END SOLUTION'''

CONSUMER = CONSUMER_CELL
ORDERED = chain(CONSUMER_CELL, ORDERED_CELL)
CRASH = chain(CONSUMER_CELL, ORDERED_CELL, CRASH_CELL)
MERGES = chain(CONSUMER_CELL, ORDERED_CELL, CRASH_CELL, MERGES_CELL)

# One class that does everything another way: the whole state as one JSON document in one sqlite row, the
# notification sent inside the transaction (before the commit) instead of through an outbox.
ALL_IN_ONE = """import json
import sqlite3

from hitlab.checks import lab10


class Census:
    def __init__(self, db_path, sink):
        self.sink = sink
        self.db = sqlite3.connect(db_path, isolation_level=None)
        self.db.execute("create table if not exists state (k integer primary key, doc text)")

    def _load(self):
        row = self.db.execute("select doc from state where k = 1").fetchone()
        return json.loads(row[0]) if row else {"seen": [], "alias": {}, "patients": {}}

    def handle(self, message):
        e = lab10.parse_adt(message)
        self.db.execute("begin immediate")
        try:
            state = self._load()
            if e.control_id in state["seen"]:
                self.db.execute("rollback")
                return
            state["seen"].append(e.control_id)
            alias, patients = state["alias"], state["patients"]
            who, when = alias.get(e.patient, e.patient), e.recorded.isoformat()
            if e.event == "A40":
                for retired, survivor in alias.items():
                    if survivor == e.prior_patient:
                        alias[retired] = who
                alias[e.prior_patient] = who
                moved = patients.pop(e.prior_patient, None)
                if moved and (who not in patients or moved["at"] >= patients[who]["at"]):
                    patients[who] = {**moved, "name": e.name}
            else:
                held = patients.get(who)
                if held is None or when >= held["at"]:
                    patients[who] = {"in": e.event != "A03", "name": e.name, "location": e.location, "at": when}
                if e.event in lab10.NOTIFIED:
                    self.sink.send("n" + e.control_id, {"control_id": e.control_id, "event": lab10.NOTIFIED[e.event],
                                                        "patient": who, "location": e.location})
            self.db.execute("insert or replace into state values (1, ?)", (json.dumps(state),))
            self.db.execute("commit")
        except BaseException:
            self.db.execute("rollback")
            raise

    def census(self):
        patients = self._load()["patients"]
        return {mrn: {"name": p["name"], "location": p["location"]} for mrn, p in patients.items() if p["in"]}
"""

CONSUMER_ALTERNATIVE = (ALL_IN_ONE + "\n\nAdtConsumer = Census\n",)
ORDERED_ALTERNATIVE = (ALL_IN_ONE + "\n\nOrderedConsumer = Census\n",)
CRASH_ALTERNATIVE = (ALL_IN_ONE + "\n\nCrashSafeConsumer = Census\n",)
MERGES_ALTERNATIVE = (ALL_IN_ONE + "\n\nMergingConsumer = Census\n",)

# Q3 known-wrong: remembers only the last message it processed (durably), so a duplicate delivered later, after
# the patient's discharge, is processed again: the patient is re-admitted and notified twice under new ids.
_LAST_ONLY = CONSUMER_CELL.replace(
    """            seen = self.db.execute("select 1 from processed where control_id = ?", (event.control_id,))
            if seen.fetchone():
                return  # a redelivery: this message is done already
            self.db.execute("insert into processed values (?)", (event.control_id,))""",
    """            last = self.db.execute("select control_id from processed").fetchone()
            if last and last[0] == event.control_id:
                return
            self.db.execute("delete from processed")
            self.db.execute("insert into processed values (?)", (event.control_id,))""",
).replace('(f"adt-{event.control_id}", json.dumps(payload))', '(f"adt-{uuid.uuid4()}", json.dumps(payload))').replace(
    "import json\n", "import json\nimport uuid\n"
)  # fmt: skip

CONSUMER_WRONG = (_LAST_ONLY,)
CONSUMER_WRONG_MORE = (  # tested in tests/test_lab10.py, not by course verify
    # no record of processed messages at all; notification ids from a uuid
    CONSUMER_CELL.replace(
        """            if seen.fetchone():
                return  # a redelivery: this message is done already
            self.db.execute("insert into processed values (?)", (event.control_id,))""",
        "",
    ).replace('(f"adt-{event.control_id}", json.dumps(payload))', '(f"adt-{uuid.uuid4()}", json.dumps(payload))')
    .replace("import json\n", "import json\nimport uuid\n"),
)  # fmt: skip

ORDERED_WRONG = (  # applies messages in arrival order: a late transfer overwrites a newer bed, a late A01 re-admits
    chain(CONSUMER_CELL, "class OrderedConsumer(AdtConsumer):\n    pass"),
)
_DROP_STALE = """class OrderedConsumer(AdtConsumer):
    def handle(self, message):
        event = lab10.parse_adt(message)
        held = self.db.execute("select recorded from census where mrn = ?", (event.patient,)).fetchone()
        if held and event.recorded.isoformat() < held[0]:
            return  # stale: dropped, and its admission or discharge never notified
        super().handle(message)"""
ORDERED_WRONG_MORE = (chain(CONSUMER_CELL, _DROP_STALE),)  # tested in tests/test_lab10.py

CRASH_WRONG = (  # no recovery: a notification whose send crashed after the commit is never sent
    chain(CONSUMER_CELL, ORDERED_CELL, "class CrashSafeConsumer(OrderedConsumer):\n    pass"),
)
_IN_MEMORY = """class CrashSafeConsumer(OrderedConsumer):
    def __init__(self, db_path, sink):
        super().__init__(":memory:", sink)  # the state dies with the process
        self.flush()"""
CRASH_WRONG_MORE = (chain(CONSUMER_CELL, ORDERED_CELL, _IN_MEMORY),)  # tested in tests/test_lab10.py

_NO_ALIAS = MERGES_CELL.replace(
    """        row = self.db.execute("select survivor from alias where retired = ?", (mrn,)).fetchone()
        return row[0] if row else mrn""",
    "        return mrn  # the merge moves the row, but later messages for the retired MRN are not resolved",
)
MERGES_WRONG = (chain(CONSUMER_CELL, ORDERED_CELL, CRASH_CELL, _NO_ALIAS),)
_DROP_ROW = MERGES_CELL.replace(
    """            if held is None or moved[2] >= held[0]:  # the newer row wins; the survivor's name
                self.db.execute("insert or replace into census values (?, ?, ?, ?, ?)",
                                (survivor, moved[0], event.name, moved[1], moved[2]))""",
    "            pass  # the retired row is dropped, not moved: the patient vanishes from the census",
)
MERGES_WRONG_MORE = (
    chain(CONSUMER_CELL, ORDERED_CELL, CRASH_CELL, _DROP_ROW),
)  # tested in tests/test_lab10.py

# -- Q7 ----------------------------------------------------------------------------------------------------------

STANDARDS = """### BEGIN SOLUTION
exchange_standards = {
    "eligibility": "A",  # X12 270/271 (45 CFR 162.1202)
    "inpatient_claim": "B",  # X12 837I (162.1102)
    "prior_auth": "C",  # X12 278 (162.1302): still the HIPAA standard for a commercial plan
    "claim_status": "D",  # X12 276/277 (162.1402)
    "remittance": "E",  # X12 835 and the EFT (162.1602)
    "pharmacy_claim": "F",  # NCPDP Telecommunication D.0 (162.1102)
    "attachment": "G",  # X12 277 request / 275 response (006020) with C-CDA (162.2002, CMS-0053-F)
    "provider_access": "H",  # FHIR R4 API (CMS-0057-F)
    "enrollment": "I",  # X12 834, sponsor to plan (162.1502)
}
### END SOLUTION"""

STANDARDS_ALTERNATIVE = (
    'exchange_standards = dict(eligibility="a", inpatient_claim=" b", prior_auth="C", claim_status="d", '
    'remittance="E", pharmacy_claim="f", attachment="G", provider_access="h", enrollment="I")',
)
STANDARDS_WRONG = (  # prior authorization by FHIR for a commercial plan, and a pharmacy claim as an 837
    STANDARDS.replace('"prior_auth": "C"', '"prior_auth": "H"').replace('"pharmacy_claim": "F"', '"pharmacy_claim": "B"'),
)  # fmt: skip

# -- Q8 ----------------------------------------------------------------------------------------------------------

MINIMUM = """### BEGIN SOLUTION
from hitlab.checks import lab10


def exempt(request: dict) -> bool:
    # 45 CFR 164.502(b)(2): the minimum-necessary standard does not apply to these
    purpose, requester = request["purpose"], request["requester"]
    return (
        (purpose == "treatment" and requester == "provider")
        or requester == "individual"
        or request["authorization"]
        or (purpose == "compliance_review" and requester == "hhs")
        or purpose in ("required_by_law", "standard_transaction")
    )


def minimum_necessary(request: dict, policy: dict):
    if exempt(request):
        return lab10.RULE_DOES_NOT_APPLY
    protocol = policy.get((request["purpose"], request["requester"]))
    if request["routine"] and protocol is not None:
        return sorted(set(request["elements"]) & set(protocol))  # 164.514(d)(3)(i)
    return lab10.INDIVIDUAL_REVIEW  # 164.514(d)(3)(ii)
### END SOLUTION"""

MINIMUM_ALTERNATIVE = (
    """EXEMPT_PURPOSES = {"required_by_law", "standard_transaction"}


def minimum_necessary(request, policy):
    who, why = request["requester"], request["purpose"]
    if request.get("authorization") or who == "individual" or why in EXEMPT_PURPOSES:
        return "rule does not apply"
    if (why, who) in {("treatment", "provider"), ("compliance_review", "hhs")}:
        return "rule does not apply"
    if not request["routine"] or (why, who) not in policy:
        return "individual review"
    return [e for e in sorted(request["elements"]) if e in policy[(why, who)]]""",
)

MINIMUM_WRONG = (  # treatment, payment and operations all taken as exempt (only treatment is)
    MINIMUM.replace(
        'or purpose in ("required_by_law", "standard_transaction")',
        'or purpose in ("required_by_law", "standard_transaction", "payment", "payment_review", "quality_operations")',
    ),
)
MINIMUM_WRONG_MORE = (  # tested in tests/test_lab10.py, not by course verify
    # treatment exempt whoever asks (a health plan's care management is not a provider's treatment request)
    MINIMUM.replace('(purpose == "treatment" and requester == "provider")', 'purpose == "treatment"'),
    # a protocol used for a non-routine request too
    MINIMUM.replace('if request["routine"] and protocol is not None', "if protocol is not None"),
)
