"""Defects mode: plant known data-quality problems in the CSV output and record each one.

Every planted problem is listed in ``manifest.json`` under ``defects.planted`` with its kind, table, the line
in the CSV file (header is line 1) and the values involved, so data-quality exercises can be graded against
the ground truth. The defects draw from their own random stream: the rest of the population is byte-identical
to the clean dataset with the same seed, apart from the rows listed.

Kinds:
- ``duplicate_patient``: a second ``patients`` row for the same person (new ``Id``, a small spelling change in
  ``FIRST`` or ``LAST``, SSN sometimes missing), with one encounter of its own.
- ``orphan_row``: an ``observations`` or ``conditions`` row whose ``PATIENT`` or ``ENCOUNTER`` exists nowhere.
- ``event_after_death``: an encounter (and its heart-rate observation) dated after the patient's ``DEATHDATE``.
- ``missing_units``: a numeric observation with an empty ``UNITS``.
- ``unit_mixup``: a blood glucose recorded in mmol/L instead of mg/dL (value divided by 18.016).
- ``future_birth``: a ``BIRTHDATE`` typed a century late, so it lies in the future.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from hitlab.synth.csv_writer import synthea_headers, ts
from hitlab.synth.model import PatientRecord
from hitlab.synth.simulate import AS_OF, END
from hitlab.synth.streams import new_uuid, stream

RATES = {
    "duplicate_patient": 0.012,
    "orphan_row": 0.02,
    "event_after_death": 0.3,  # of deceased patients
    "missing_units": 0.004,  # of numeric observations
    "unit_mixup": 0.04,  # of glucose results
    "future_birth": 0.003,
}
GLUCOSE_MG_PER_MMOL = 18.016


def _columns(table: str) -> dict[str, int]:
    return {name: i for i, name in enumerate(synthea_headers()[table].split(","))}


def misspell(rng: random.Random, name: str) -> str:
    """A small, realistic spelling change: a dropped, doubled or swapped letter (digits kept)."""
    letters = [i for i, c in enumerate(name) if c.isalpha()]
    if len(letters) < 3:
        return name + name[-1]
    i = rng.choice(letters[1:-1])
    kind = rng.choice(("drop", "double", "swap"))
    if kind == "drop":
        return name[:i] + name[i + 1 :]
    if kind == "double":
        return name[:i] + name[i] + name[i:]
    j = i + 1 if name[i + 1].isalpha() else i - 1
    a, b = sorted((i, j))
    return name[:a] + name[b] + name[a] + name[b + 1 :]


class DefectPlanter:
    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.planted: list[dict] = []
        self._pending: dict[int, list[dict]] = {}  # id(row) -> entries waiting for their line number
        self.col = {t: _columns(t) for t in ("patients", "encounters", "observations", "conditions")}

    def _record(self, row: list[str], entry: dict) -> None:
        self.planted.append(entry)
        self._pending.setdefault(id(row), []).append(entry)

    def locate(self, table: str, rows: list[list[str]], lines_so_far: int) -> None:
        """Called by the writer just before it writes ``rows``: fixes the file line of planted rows."""
        for offset, row in enumerate(rows, start=1):
            for entry in self._pending.pop(id(row), ()):
                entry["line"] = lines_so_far + offset

    def plant(self, p: PatientRecord, rows: dict[str, list[list[str]]]) -> None:
        rng = stream(self.seed, "defects", p.index)
        if rng.random() < RATES["duplicate_patient"]:
            self._duplicate(rng, p, rows)
        if rng.random() < RATES["orphan_row"]:
            self._orphan(rng, p, rows)
        if p.deathdate is not None and rng.random() < RATES["event_after_death"]:
            self._after_death(rng, p, rows)
        self._observation_defects(rng, p, rows)
        if rng.random() < RATES["future_birth"]:
            row = rows["patients"][0]
            c = self.col["patients"]["BIRTHDATE"]
            born = date.fromisoformat(row[c])
            if date(born.year + 100, 1, 1) > AS_OF and born.year + 100 <= 9999:
                planted = born.replace(year=born.year + 100, day=min(born.day, 28)).isoformat()
                self._record(row, {"kind": "future_birth", "table": "patients", "patient": p.id,
                                   "column": "BIRTHDATE", "original": row[c], "planted": planted})  # fmt: skip
                row[c] = planted

    def _duplicate(self, rng: random.Random, p: PatientRecord, rows) -> None:
        c = self.col["patients"]
        dup = list(rows["patients"][0])
        dup_id = new_uuid(rng)
        dup[c["Id"]] = dup_id
        field = rng.choice(("FIRST", "LAST"))
        original = dup[c[field]]
        dup[c[field]] = misspell(rng, original)
        if rng.random() < 0.5:
            dup[c["SSN"]] = ""
        rows["patients"].append(dup)
        self._record(dup, {"kind": "duplicate_patient", "table": "patients", "patient": dup_id,
                           "duplicate_of": p.id, "column": field, "original": original,
                           "planted": dup[c[field]]})  # fmt: skip
        if rows["encounters"]:
            ec = self.col["encounters"]
            enc = list(rng.choice(rows["encounters"]))
            enc[ec["Id"]] = new_uuid(rng)
            enc[ec["PATIENT"]] = dup_id
            rows["encounters"].append(enc)
            self._record(enc, {"kind": "duplicate_patient", "table": "encounters", "patient": dup_id,
                               "duplicate_of": p.id, "encounter": enc[ec["Id"]]})  # fmt: skip

    def _orphan(self, rng: random.Random, p: PatientRecord, rows) -> None:
        table = rng.choice(("observations", "conditions"))
        if not rows[table]:
            return
        column = rng.choice(("PATIENT", "ENCOUNTER"))
        row = list(rng.choice(rows[table]))
        value = new_uuid(rng)
        row[self.col[table][column]] = value
        rows[table].append(row)
        self._record(row, {"kind": "orphan_row", "table": table, "column": column, "planted": value,
                           "copied_from_patient": p.id})  # fmt: skip

    def _after_death(self, rng: random.Random, p: PatientRecord, rows) -> None:
        if not rows["encounters"]:
            return
        when = datetime.combine(p.deathdate, datetime.min.time()) + timedelta(
            days=rng.randint(3, 200), hours=14
        )
        if when >= END:
            return
        ec, oc = self.col["encounters"], self.col["observations"]
        template = next(
            (r for r in rows["encounters"] if r[ec["ENCOUNTERCLASS"]] == "ambulatory"), rows["encounters"][0]
        )
        enc = list(template)
        enc[ec["Id"]] = new_uuid(rng)
        enc[ec["START"]] = ts(when)
        enc[ec["STOP"]] = ts(when + timedelta(minutes=15))
        enc[ec["ENCOUNTERCLASS"]] = "ambulatory"
        rows["encounters"].append(enc)
        self._record(enc, {"kind": "event_after_death", "table": "encounters", "patient": p.id,
                           "encounter": enc[ec["Id"]], "date": ts(when), "deathdate": p.deathdate.isoformat()})  # fmt: skip
        obs = [""] * len(oc)
        obs[oc["DATE"]], obs[oc["PATIENT"]], obs[oc["ENCOUNTER"]] = ts(when), p.id, enc[ec["Id"]]
        obs[oc["CATEGORY"]], obs[oc["CODE"]], obs[oc["DESCRIPTION"]] = "vital-signs", "8867-4", "Heart rate"
        obs[oc["VALUE"]], obs[oc["UNITS"]], obs[oc["TYPE"]] = f"{rng.randint(60, 95)}.0", "/min", "numeric"
        rows["observations"].append(obs)
        self._record(obs, {"kind": "event_after_death", "table": "observations", "patient": p.id,
                           "encounter": enc[ec["Id"]], "date": ts(when), "deathdate": p.deathdate.isoformat()})  # fmt: skip

    def _observation_defects(self, rng: random.Random, p: PatientRecord, rows) -> None:
        oc = self.col["observations"]
        for row in rows["observations"]:
            if row[oc["TYPE"]] != "numeric" or row[oc["UNITS"]] == "":
                continue
            if row[oc["CODE"]] == "2345-7" and rng.random() < RATES["unit_mixup"]:
                original = row[oc["VALUE"]]
                row[oc["VALUE"]] = f"{float(original) / GLUCOSE_MG_PER_MMOL:.1f}"
                row[oc["UNITS"]] = "mmol/L"
                self._record(row, {"kind": "unit_mixup", "table": "observations", "patient": p.id,
                                   "code": "2345-7", "original": f"{original} mg/dL",
                                   "planted": f"{row[oc['VALUE']]} mmol/L"})  # fmt: skip
            elif rng.random() < RATES["missing_units"]:
                self._record(row, {"kind": "missing_units", "table": "observations", "patient": p.id,
                                   "code": row[oc["CODE"]], "original": row[oc["UNITS"]]})  # fmt: skip
                row[oc["UNITS"]] = ""

    def summary(self) -> dict:
        """Rates, planted rows per kind, and every planted row (``kind``, ``table``, ``line``, values)."""
        rows: dict[str, int] = {}
        for e in self.planted:
            rows[e["kind"]] = rows.get(e["kind"], 0) + 1
        return {"rates": RATES, "rows_per_kind": dict(sorted(rows.items())), "planted": self.planted}
