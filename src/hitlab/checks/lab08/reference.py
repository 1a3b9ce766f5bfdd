"""Lab 08's reference implementations, in Python over pandas DataFrames (independent of the SQL the solutions
use): the star schema and its incremental load, ETL-Synthea's visit rules, observation periods, the new-user
cohort, prevalence, risk tiers, PMPM, what each plot must show, and the bulk-export ingest. Left out of an exam
release."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from hitlab.checks.lab08 import materials as m

FOREVER_FROM = date(1900, 1, 1)
SCD_KEY = {"address": "B", "birthdate_typo": "A", "payer_plan": "B", "preferred_name": "A"}
"""Q3: moves and plan changes are history (type 2); corrections and a preferred name are not (type 1)."""
SCD_WHY_NOT = {
    "address": {
        "A": "overwriting moves every past visit to the new town: last year's report changes.",
        "C": "the warehouse would never learn the new town.",
        "D": "one previous value keeps one move; facts still cannot find the town valid on their day.",
    },
    "birthdate_typo": {
        "B": "a typo is not history: a second version would keep the wrong birth date "
        "valid for old facts (and wrong ages).",
        "C": "keeping the typo forever keeps every age computed from it wrong.",
        "D": "nobody needs to report by the mistyped birth date.",
    },
    "payer_plan": {
        "A": "past member months would move to the new plan: PMPM by plan and month needs the "
        "plan valid in each month. (In practice the plan usually lives in a coverage or eligibility "
        "table, one row per member, plan and period, rather than on the patient dimension.)",
        "C": "the new plan would never count.",
        "D": "members switch more than once; one previous column loses the rest.",
    },
    "preferred_name": {
        "B": "no report groups by first name: versions add rows and joins for nothing.",
        "C": "the patient asked for the new name.",
        "D": "no analysis needs the previous name beside the current.",
    },
}
"""Q3: why each wrong type is wrong (left out of an exam release: the option a table leaves out is the answer)."""


def _none(v: Any) -> Any:
    if v is None:
        return None
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    return v


def _day(v: Any) -> date | None:
    v = _none(v)
    if v is None:
        return None
    if isinstance(v, datetime | pd.Timestamp):
        return pd.Timestamp(v).date()
    if isinstance(v, date):
        return v
    return pd.Timestamp(v).date()


def _ts(v: Any) -> datetime | None:
    v = _none(v)
    return None if v is None else pd.Timestamp(v).to_pydatetime()


def _num(v: Any) -> float | None:
    v = _none(v)
    return None if v is None else float(v)


# == star schema ==============================================================================================


class Warehouse:
    """The star schema's content, kept as Python objects: patient versions, providers, facts, diagnoses."""

    def __init__(self) -> None:
        self.versions: list[dict] = []
        self.providers: dict[str, tuple] = {}
        self.facts: dict[str, dict] = {}
        self.bridge: dict[str, list[str]] = {}

    @classmethod
    def build(cls, frames: dict[str, pd.DataFrame]) -> Warehouse:
        w = cls()
        for r in frames["providers"].to_dict("records"):
            w.providers[r["Id"]] = (_none(r["NAME"]), _none(r["SPECIALITY"]), _none(r["ORGANIZATION"]))
        for r in frames["patients"].to_dict("records"):
            w.versions.append(w._version(r, FOREVER_FROM))
        w._facts(frames["encounters"], frames["conditions"])
        return w

    @staticmethod
    def _version(r: dict, valid_from: date, inferred: bool = False) -> dict:
        return {
            "patient_id": r["Id"], "gender": None if inferred else _none(r["GENDER"]),
            "birthdate": None if inferred else _day(r["BIRTHDATE"]), "city": None if inferred else _none(r["CITY"]),
            "zip": None if inferred else _none(r["ZIP"]), "valid_from": valid_from, "valid_to": None,
            "is_current": True, "is_inferred": inferred,
        }  # fmt: skip

    def _current(self, patient: str, index: dict | None = None) -> dict | None:
        pool = self.versions if index is None else index.get(patient, [])
        return next((v for v in pool if v["patient_id"] == patient and v["is_current"]), None)

    def _facts(self, encounters: pd.DataFrame, conditions: pd.DataFrame) -> None:
        known = {v["patient_id"] for v in self.versions}
        for r in encounters.to_dict("records"):
            if r["PATIENT"] not in known:  # a fact before its patient: an inferred member
                self.versions.append(self._version({"Id": r["PATIENT"]}, FOREVER_FROM, inferred=True))
                known.add(r["PATIENT"])
            self.facts[r["Id"]] = {
                "patient": r["PATIENT"], "start": _ts(r["START"]), "provider": r["PROVIDER"],
                "class": r["ENCOUNTERCLASS"], "cost": _num(r["TOTAL_CLAIM_COST"]),
                "coverage": _num(r["PAYER_COVERAGE"]),
            }  # fmt: skip
        codes: dict[str, list[str]] = defaultdict(list)
        for r in conditions.to_dict("records"):
            if r["ENCOUNTER"] in self.facts and r["CODE"] not in codes[r["ENCOUNTER"]]:
                codes[r["ENCOUNTER"]].append(r["CODE"])
        self.bridge.update(codes)

    def load_batch(self, batch: dict[str, pd.DataFrame], as_of: date) -> None:
        empty = pd.DataFrame()
        index = self._index()
        for r in batch.get("patients", empty).to_dict("records"):
            current = self._current(r["Id"], index)
            if current is None:
                version = self._version(r, FOREVER_FROM)
                self.versions.append(version)
                index[r["Id"]].append(version)
                continue
            if current["is_inferred"]:  # the late patient fills its placeholder in place
                current.update({k: v for k, v in self._version(r, FOREVER_FROM).items()
                                if k not in ("valid_from", "valid_to", "is_current")})  # fmt: skip
                continue
            for v in index[r["Id"]]:  # type 1: corrections apply to every version
                v["gender"], v["birthdate"] = _none(r["GENDER"]), _day(r["BIRTHDATE"])
            if (current["city"], current["zip"]) != (_none(r["CITY"]), _none(r["ZIP"])):  # type 2
                current["valid_to"], current["is_current"] = as_of, False
                version = self._version(r, as_of)
                self.versions.append(version)
                index[r["Id"]].append(version)
        self._facts(batch.get("encounters", empty.assign(Id=[], PATIENT=[])),
                    batch.get("conditions", empty.assign(ENCOUNTER=[], CODE=[])))  # fmt: skip

    # -- what the tables must hold, key-free ---------------------------------------------------------------

    def version_at(self, patient: str, day: date, index: dict | None = None) -> dict | None:
        for v in self.versions if index is None else index.get(patient, []):
            if (
                v["patient_id"] == patient
                and v["valid_from"] <= day
                and (v["valid_to"] is None or day < v["valid_to"])
            ):
                return v
        return None

    def _index(self) -> dict[str, list[dict]]:
        index: dict[str, list[dict]] = defaultdict(list)
        for v in self.versions:
            index[v["patient_id"]].append(v)
        return index

    def rows(self) -> dict[str, list[tuple]]:
        dim_patient = [
            (v["patient_id"], v["valid_from"], v["gender"], v["birthdate"], v["city"], v["zip"], v["valid_to"],
             v["is_current"], v["is_inferred"])
            for v in self.versions
        ]  # fmt: skip
        dim_provider = [(k, *v) for k, v in self.providers.items()]
        fact = []
        index = self._index()
        for enc, f in self.facts.items():
            v = self.version_at(f["patient"], f["start"].date(), index)
            fact.append((enc, f["patient"], v and v["valid_from"], f["start"].date(),
                         f["provider"] if f["provider"] in self.providers else None, f["class"], f["cost"],
                         f["coverage"]))  # fmt: skip
        bridge = [
            (enc, code, 1.0 / len(codes))
            for enc, codes in self.bridge.items()
            if enc in self.facts
            for code in codes
        ]
        dim_date = []
        if self.facts:
            years = [f["start"].year for f in self.facts.values()]
            day, last = date(min(years), 1, 1), date(max(years), 12, 31)
            while day <= last:
                dim_date.append((day.year * 10000 + day.month * 100 + day.day, day, day.year,
                                 (day.month - 1) // 3 + 1, day.month, day.isoweekday()))  # fmt: skip
                day += timedelta(days=1)
        return {"dim_patient": dim_patient, "dim_provider": dim_provider, "dim_date": dim_date,
                "fact_encounter": fact, "bridge_diagnosis": bridge}  # fmt: skip

    def materialize(self, con) -> None:
        """Write the tables, with surrogate keys, into ``con`` (the state a batch is loaded onto)."""
        rows = self.rows()
        key = {}
        patients = []
        for i, v in enumerate(self.versions, start=1):
            key[(v["patient_id"], v["valid_from"])] = i
            patients.append(
                (
                    i,
                    v["patient_id"],
                    v["gender"],
                    v["birthdate"],
                    v["city"],
                    v["zip"],
                    v["valid_from"],
                    v["valid_to"],
                    v["is_current"],
                    v["is_inferred"],
                )
            )
        pkey = {pid: i for i, pid in enumerate(self.providers, start=1)}
        facts = [
            (enc, key[(pid, vf)], pkey.get(prov), d.year * 10000 + d.month * 100 + d.day, cls, cost, cov)
            for enc, pid, vf, d, prov, cls, cost, cov in rows["fact_encounter"]
        ]
        tables = {
            "dim_patient": (patients, "patient_key integer, patient_id varchar, gender varchar, birthdate date, "
                            "city varchar, zip varchar, valid_from date, valid_to date, is_current boolean, "
                            "is_inferred boolean"),
            "dim_provider": ([(pkey[r[0]], *r) for r in rows["dim_provider"]],
                             "provider_key integer, provider_id varchar, name varchar, speciality varchar, "
                             "organization varchar"),
            "dim_date": (rows["dim_date"], "date_key integer, full_date date, year integer, quarter integer, "
                         "month integer, day_of_week integer"),
            "fact_encounter": (facts, "encounter_id varchar, patient_key integer, provider_key integer, "
                               "date_key integer, encounter_class varchar, total_claim_cost double, "
                               "payer_coverage double"),
            "bridge_diagnosis": (rows["bridge_diagnosis"], "encounter_id varchar, code varchar, weight double"),
        }  # fmt: skip
        for name, (data, columns) in tables.items():
            names = [c.strip().split(" ")[0] for c in columns.split(",")]
            con.execute(f"create or replace table {name} ({columns})")
            con.register("_rows", pd.DataFrame(data, columns=names, dtype=object))
            con.execute(f"insert into {name} select * from _rows")
            con.unregister("_rows")


# == OMOP =====================================================================================================


def visits(encounters: pd.DataFrame) -> list[tuple]:
    """visit_occurrence rows (visit_source_value, person_id, visit_concept_id, start, end) by the lab's rules."""
    out = []
    by_patient: dict[str, list[dict]] = defaultdict(list)
    starts = [_ts(v) for v in encounters["START"]]
    stops = [_ts(v) for v in encounters["STOP"]]
    for i, p, a, b, c in zip(encounters["Id"], encounters["PATIENT"], starts, stops, encounters["ENCOUNTERCLASS"],
                             strict=True):  # fmt: skip
        by_patient[p].append({"id": i, "start": a, "stop": b, "cls": c})
    for patient, encs in by_patient.items():
        encs.sort(key=lambda e: (e["start"], e["stop"], e["id"]))
        stays: list[dict] = []
        for e in (e for e in encs if e["cls"] == "inpatient"):
            if stays and e["start"] <= stays[-1]["end"] + timedelta(days=1):
                stays[-1]["end"] = max(stays[-1]["end"], e["stop"])
                stays[-1]["ids"].append(e["id"])
            else:
                stays.append(
                    {
                        "start": e["start"],
                        "end": e["stop"],
                        "ids": [e["id"]],
                        "erip": False,
                        "first": e["start"],
                    }
                )
        left = []
        for e in encs:
            if e["cls"] == "inpatient":
                continue
            home = None
            for s in stays:
                if e["cls"] in m.ER_CLASSES and e["start"] < s["start"] <= e["stop"]:
                    home, s["erip"] = s, True
                    s["first"] = min(s["first"], e["start"])
                elif (e["cls"] in m.ER_CLASSES and s["start"] < e["start"] <= s["end"]) or (
                    e["cls"] in m.OP_CLASSES and s["start"] <= e["start"] <= s["end"]
                ):
                    home = s
                if home is not None:
                    break
            if home is not None:
                home["ids"].append(e["id"])
            elif e["cls"] in m.ER_CLASSES + m.OP_CLASSES:
                left.append(e)
        for s in stays:
            out.append((min(s["ids"]), patient, 262 if s["erip"] else 9201, s["first"], s["end"]))
        groups: dict[tuple, list[dict]] = defaultdict(list)
        for e in left:
            if e["cls"] in m.ER_CLASSES:
                groups[(e["cls"], e["start"].date())].append(e)
            else:
                groups[(e["cls"], e["start"])].append(e)
        for (cls, _when), members in groups.items():
            out.append((min(e["id"] for e in members), patient, 9203 if cls in m.ER_CLASSES else 9202,
                        min(e["start"] for e in members), max(e["stop"] for e in members)))  # fmt: skip
    return out


def observation_periods(encounters: pd.DataFrame) -> list[tuple]:
    rows = []
    for patient, g in encounters.groupby("PATIENT"):
        rows.append((patient, _day(g["START"].min()), _day(g["STOP"].max()), m.OBSERVATION_PERIOD_TYPE))
    return rows


def new_users(medications: pd.DataFrame, patients: pd.DataFrame, periods: pd.DataFrame) -> list[tuple]:
    births = {r["Id"]: _day(r["BIRTHDATE"]) for r in patients.to_dict("records")}
    spans = defaultdict(list)
    for r in periods.to_dict("records"):
        spans[r["person_id"]].append(
            (_day(r["observation_period_start_date"]), _day(r["observation_period_end_date"]))
        )
    rows = []
    for patient, g in medications[medications["CODE"] == m.METFORMIN].groupby("PATIENT"):
        index = _day(g["START"].min())
        born = births.get(patient)
        if born is None:
            continue
        age = index.year - born.year - ((index.month, index.day) < (born.month, born.day))
        if age < 18:
            continue
        if any(s <= index <= e and s <= index - timedelta(days=365) for s, e in spans[patient]):
            rows.append((patient, index))
    return rows


# == population health =========================================================================================


def _age(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def _alive(patients: pd.DataFrame, day: date) -> list[dict]:
    out = []
    for r in patients.to_dict("records"):
        born, died = _day(r["BIRTHDATE"]), _day(r["DEATHDATE"])
        if born is not None and born <= day and (died is None or died > day):
            out.append({**r, "age": _age(born, day)})
    return out


def _band(age: int) -> str:
    return next(label for label, lo, hi in m.AGE_BANDS if lo <= age <= hi)


def _active(conditions: pd.DataFrame, day: date) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for r in conditions.to_dict("records"):
        start, stop = _day(r["START"]), _day(r["STOP"])
        if start is not None and start <= day and (stop is None or stop > day):
            out[r["PATIENT"]].add(r["CODE"])
    return out


def prevalence(patients: pd.DataFrame, conditions: pd.DataFrame, day: date = m.AS_OF) -> list[tuple]:
    active = _active(conditions, day)
    cells: dict[tuple, list[int]] = {}
    for r in _alive(patients, day):
        cell = cells.setdefault((_band(r["age"]), r["GENDER"]), [0, 0])
        cell[0] += 1
        cell[1] += m.HYPERTENSION in active.get(r["Id"], set())
    return [(b, g, n, c, 1000.0 * c / n) for (b, g), (n, c) in cells.items()]


def risk_tiers(patients: pd.DataFrame, conditions: pd.DataFrame, encounters: pd.DataFrame,
               day: date = m.AS_OF) -> list[tuple]:  # fmt: skip
    active = _active(conditions, day)
    lo, hi = (
        datetime.combine(day - timedelta(days=365), datetime.min.time()),
        datetime.combine(day, datetime.min.time()),
    )
    ed, ip = defaultdict(int), defaultdict(int)
    for r in encounters.to_dict("records"):
        start = _ts(r["START"])
        if lo <= start < hi:
            if r["ENCOUNTERCLASS"] == "emergency":
                ed[r["PATIENT"]] += 1
            elif r["ENCOUNTERCLASS"] == "inpatient":
                ip[r["PATIENT"]] += 1
    rows = []
    for r in _alive(patients, day):
        p = r["Id"]
        chronic = len(active.get(p, set()) & set(m.CHRONIC))
        if chronic >= 3 or ip[p] >= 1 or ed[p] >= 2:
            tier = "high"
        elif chronic >= 1 or ed[p] == 1:
            tier = "rising"
        else:
            tier = "low"
        rows.append((p, chronic, ed[p], ip[p], tier))
    return rows


def _month(ts: Any) -> date:
    t = pd.Timestamp(ts)
    return date(t.year, t.month, 1)


def _next_month(d: date) -> date:
    return date(d.year + d.month // 12, d.month % 12 + 1, 1)


def member_months(transitions: pd.DataFrame, payers: pd.DataFrame) -> set[tuple[str, date]]:
    uninsured = set(payers.loc[payers["NAME"] == "NO_INSURANCE", "Id"])
    months = set()
    for r in transitions.to_dict("records"):
        if r["PAYER"] in uninsured or _none(r["START_DATE"]) is None:
            continue
        start, end = _ts(r["START_DATE"]), _ts(r["END_DATE"])
        first = date(start.year, start.month, 1)
        if datetime.combine(first, datetime.min.time()) < start:
            first = _next_month(first)
        while datetime.combine(first, datetime.min.time()) < end:
            months.add((r["PATIENT"], first))
            first = _next_month(first)
    return months


def payer_paid(claims: pd.DataFrame, transactions: pd.DataFrame) -> list[tuple[str, datetime, float]]:
    """What the payer paid on each claim: (patient, day of service, amount), the sum of the claim's payer
    ``PAYMENT`` rows (``METHOD`` ``ECHECK``; the patient's payments are CASH, CHECK or CC)."""
    payer = transactions[(transactions["TYPE"] == "PAYMENT") & (transactions["METHOD"] == "ECHECK")]
    paid = payer.groupby("CLAIMID")["PAYMENTS"].sum().to_dict()  # NULL amounts count as nothing
    days = pd.to_datetime(claims["SERVICEDATE"]).dt.to_pydatetime()
    return [
        (patient, day, float(paid.get(claim, 0.0)))
        for claim, patient, day in zip(claims["Id"], claims["PATIENTID"], days, strict=True)
    ]


def pmpm(transitions: pd.DataFrame, payers: pd.DataFrame, claims: pd.DataFrame,
         transactions: pd.DataFrame) -> list[tuple]:  # fmt: skip
    """(year, member months, paid, PMPM): payer payments booked in the month of the claim's day of service,
    counted when that month is one of the patient's member months."""
    months = member_months(transitions, payers)
    count = defaultdict(int)
    for _p, first in months:
        count[first.year] += 1
    paid = defaultdict(float)
    for patient, day, amount in payer_paid(claims, transactions):
        first = date(day.year, day.month, 1)
        if (patient, first) in months:
            paid[first.year] += amount
    return [(y, n, paid[y], paid[y] / n) for y, n in sorted(count.items())]


def annual_paid(claims: pd.DataFrame, transactions: pd.DataFrame, year: int) -> list[float]:
    """What the payer paid per patient for services in ``year`` (claims by day of service; patients with a
    claim that year), for the distribution plot."""
    totals: dict[str, float] = defaultdict(float)
    for patient, day, amount in payer_paid(claims, transactions):
        if day.year == year:
            totals[patient] += amount
    return [totals[p] for p in sorted(totals)]


def band_counts(costs: list[float]) -> list[int]:
    counts = [0] * len(m.COST_BANDS)
    for c in costs:
        if c is None or (isinstance(c, float) and math.isnan(c)):
            continue
        for i, (_label, lo, hi) in enumerate(m.COST_BANDS):
            if lo <= c and (hi is None or c < hi):
                counts[i] += 1
                break
    return counts


# == bulk ingest ==============================================================================================


def _read_lines(folder: Path, item: Any, where: str):
    if not isinstance(item, dict) or not isinstance(item.get("url"), str):
        raise ValueError(f"manifest.json: each {where} entry needs a url")
    name = item["url"].rsplit("/", 1)[-1]
    try:
        text = (folder / name).read_text(encoding="utf-8")
    except OSError as err:
        raise ValueError(f"{name}: cannot read it ({err})") from None
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield name, n, line, json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{name} line {n}: not JSON ({err})") from None


def ingest_bulk(state: dict, folder: str | Path) -> dict[str, int]:
    """Append an export to ``state``, the raw layer: (transaction time, file, line, type, id) -> row
    ``(type, id, resource, file, line, transaction time, deleted)``. A resource of the manifest's ``output`` is a
    row; each entry of a ``deleted`` Bundle (request DELETE ``Type/id``) a tombstone (``deleted`` true, the
    Bundle line as its resource). Rows already there (the same export loaded again) are not added twice.
    Returns the resources per ``output`` type; ValueError naming the file and line on bad input, state untouched.
    """
    folder = Path(folder)
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"manifest.json: cannot read it ({err})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("transactionTime"), str) \
            or not isinstance(manifest.get("output"), list) \
            or not isinstance(manifest.get("deleted", []), list):  # fmt: skip
        raise ValueError("manifest.json: a completed export needs transactionTime and output")
    when = manifest["transactionTime"]
    staged, counts = {}, {}
    for item in manifest["output"]:
        counts.setdefault(item["type"], 0)
        for name, n, _line, resource in _read_lines(folder, item, "output"):
            if (
                not isinstance(resource, dict)
                or resource.get("resourceType") != item["type"]
                or not resource.get("id")
            ):
                raise ValueError(f"{name} line {n}: expected a {item['type']} with an id")
            staged[(when, name, n, item["type"], resource["id"])] = (item["type"], resource["id"], resource, name,
                                                                     n, when, False)  # fmt: skip
            counts[item["type"]] += 1
    for item in manifest.get("deleted", []):
        for name, n, _line, bundle in _read_lines(folder, item, "deleted"):
            entries = bundle.get("entry") if isinstance(bundle, dict) else None
            if (
                entries is None
                or bundle.get("resourceType") != "Bundle"
                or not isinstance(entries, list)
                or not entries
            ):
                raise ValueError(f"{name} line {n}: expected a Bundle of deletions")
            for entry in entries:
                request = entry.get("request") if isinstance(entry, dict) else None
                url = request.get("url") if isinstance(request, dict) else None
                parts = url.split("/") if isinstance(url, str) else []
                if len(parts) != 2 or not all(parts) or request.get("method") != "DELETE":
                    raise ValueError(f"{name} line {n}: each entry should be a DELETE of Type/id")
                staged[(when, name, n, parts[0], parts[1])] = (
                    parts[0],
                    parts[1],
                    bundle,
                    name,
                    n,
                    when,
                    True,
                )
    for key, row in staged.items():
        state.setdefault(key, row)
    return counts


def current(state: dict) -> list[tuple]:
    """The current view: per (type, id) the row of the latest transaction time (then file name, then line),
    left out when that row is a tombstone; as ``(type, id, resource, file, line, transaction time)``."""
    latest: dict[tuple, tuple] = {}
    for (when, name, n, kind, rid), row in state.items():
        if (kind, rid) not in latest or (when, name, n) > latest[(kind, rid)][0]:
            latest[(kind, rid)] = ((when, name, n), row)
    return [row[:6] for _order, row in latest.values() if not row[6]]
