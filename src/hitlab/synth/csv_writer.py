"""Write a population as a Synthea CSV set: the header lines of Synthea 3.4.0, byte for byte, and its value
formats (``yyyy-MM-dd`` for date-only columns, UTC ``yyyy-MM-ddTHH:mm:ssZ`` for the other times, never quoted,
empty for null, commas in text replaced by spaces as Synthea does).
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from datetime import date, datetime
from functools import cache
from importlib import resources
from pathlib import Path

from hitlab.synth.model import PatientRecord
from hitlab.synth.reference import World
from hitlab.terminology import SYNTHEA_SYSTEMS

SYNTHEA_VERSION = "3.4.0"
CLAIM_TABLES = ("claims", "claims_transactions")
"""Written unless a dataset leaves them out: about 125 MB per 1,000 patients, where the rest is about 30 MB."""
TABLES = (
    "patients", "encounters", "conditions", "medications", "observations", "procedures", "immunizations",
    "allergies", "careplans", "organizations", "providers", "payers", "payer_transitions", *CLAIM_TABLES,
)  # fmt: skip
_CLAIM_TYPE = {"institutional": "2", "professional": "1", "pharmacy": "1"}  # HEALTHCARECLAIMTYPEID1


NOTES_TABLE = "notes"
NOTES_HEADER = "Id,PATIENT,ENCOUNTER,DATE,TYPE_CODE,TYPE_DESCRIPTION,TEXT"
"""hitlab's own notes table (Synthea's CSV exporter writes no notes): one row per clinical note, ``TEXT`` quoted
as RFC 4180 says (it holds commas, quotes and line feeds), so that spans index it exactly."""


@cache
def synthea_headers(version: str = SYNTHEA_VERSION) -> dict[str, str]:
    """Header line of each CSV file Synthea ``version`` exports, keyed by table name (``patients``, ...)."""
    text = resources.files("hitlab.load").joinpath("synthea_headers.json").read_text(encoding="utf-8")
    return {name.removesuffix(".csv"): line for name, line in json.loads(text)[version].items()}


def ts(value: datetime | None) -> str:
    return "" if value is None else value.isoformat(timespec="seconds") + "Z"


def day(value: date | None) -> str:
    return "" if value is None else value.isoformat()


def money(value: float) -> str:
    return f"{value:.2f}"


def text(value: str) -> str:
    return value.replace(",", " ").replace("\n", " ")


class CsvWriter:
    """Streams patients into the per-table CSV files under ``out_dir``; ``close()`` writes reference tables."""

    def __init__(self, out_dir: Path, world: World, defects=None, claims: bool = True) -> None:
        self.out_dir = out_dir
        self.world = world
        self.defects = defects
        self.tables = TABLES if claims else tuple(t for t in TABLES if t not in CLAIM_TABLES)
        out_dir.mkdir(parents=True, exist_ok=True)
        headers = synthea_headers()
        self.files = {}
        self.lines = dict.fromkeys(self.tables, 1)  # lines written so far, header included
        for table in self.tables:
            f = open(out_dir / f"{table}.csv", "w", encoding="utf-8", newline="")  # noqa: SIM115
            f.write(headers[table] + "\n")
            self.files[table] = f
        self.notes_file = open(out_dir / f"{NOTES_TABLE}.csv", "w", encoding="utf-8", newline="")  # noqa: SIM115
        self.notes_file.write(NOTES_HEADER + "\n")
        self.notes = csv.writer(self.notes_file, lineterminator="\n")
        self.note_rows = 0
        self.org_stats: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])  # revenue, encounters
        self.provider_stats: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # encounters, procedures
        self.payer_stats: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))

    # -- one patient --------------------------------------------------------------------------------------
    def rows(self, p: PatientRecord) -> dict[str, list[list[str]]]:
        """The CSV rows of one patient, per table, as lists of fields."""
        pid = p.id
        a = p.address
        rows: dict[str, list[list[str]]] = {t: [] for t in TABLES[:9]}
        rows["patients"].append([
            pid, day(p.birthdate), day(p.deathdate), p.ssn, p.drivers, p.passport, p.prefix, p.first, p.middle,
            p.last, p.suffix, p.maiden, p.marital, p.race, p.ethnicity, p.gender, text(p.birthplace),
            text(a.line), a.town.name, "Massachusetts", a.town.county, a.town.fips, a.zip, f"{a.lat:.6f}",
            f"{a.lon:.6f}", money(p.expenses), money(p.covered), str(p.income),
        ])  # fmt: skip
        for e in p.encounters:
            reason = e.reason
            rows["encounters"].append([
                e.id, ts(e.start), ts(e.stop), pid, e.organization.id, e.provider.id, e.payer.id, e.encclass,
                e.code.code, text(e.code.display), money(e.base_cost), money(e.total_cost), money(e.payer_coverage),
                reason.code if reason else "", text(reason.display) if reason else "",
            ])  # fmt: skip
        for c in sorted(p.conditions, key=lambda c: (c.start, c.code.code)):
            rows["conditions"].append([
                day(c.start), day(c.stop), pid, c.encounter.id, SYNTHEA_SYSTEMS[c.code.system], c.code.code,
                text(c.code.display),
            ])  # fmt: skip
        for m in sorted(p.medications, key=lambda m: (m.start, m.code.code)):
            rows["medications"].append([
                ts(m.start), ts(m.stop), pid, m.payer.id, m.encounter.id, m.code.code, text(m.code.display),
                money(m.base_cost), money(m.payer_coverage), str(m.dispenses), money(m.total_cost),
                m.reason.code if m.reason else "", text(m.reason.display) if m.reason else "",
            ])  # fmt: skip
        for o in sorted(p.observations, key=lambda o: o.time):
            rows["observations"].append([
                ts(o.time), pid, o.encounter.id, o.category, o.code.code, text(o.code.display),
                text(o.value_text()), o.units, "numeric" if o.is_numeric else "text",
            ])  # fmt: skip
        for pr in sorted(p.procedures, key=lambda pr: pr.start):
            rows["procedures"].append([
                ts(pr.start), ts(pr.stop), pid, pr.encounter.id, SYNTHEA_SYSTEMS[pr.code.system], pr.code.code,
                text(pr.code.display), money(pr.base_cost), pr.reason.code if pr.reason else "",
                text(pr.reason.display) if pr.reason else "",
            ])  # fmt: skip
        for i in sorted(p.immunizations, key=lambda i: (i.time, i.code.code)):
            rows["immunizations"].append(
                [ts(i.time), pid, i.encounter.id, i.code.code, text(i.code.display), money(i.base_cost)]
            )
        for al in p.allergies:
            reactions = [f for r, sev in al.reactions[:2] for f in (r.code, text(r.display), sev)]
            reactions += [""] * (6 - len(reactions))
            rows["allergies"].append([
                day(al.start), "", pid, al.encounter.id, al.code.code, SYNTHEA_SYSTEMS[al.code.system],
                text(al.code.display), "allergy", al.category, *reactions,
            ])  # fmt: skip
        for cp in p.careplans:
            rows["careplans"].append([
                cp.id, day(cp.start), day(cp.stop), pid, cp.encounter.id, cp.code.code, text(cp.code.display),
                cp.reason.code, text(cp.reason.display),
            ])  # fmt: skip
        rows["payer_transitions"] = [
            [pid, c.member_id, ts(c.start), ts(c.end), c.payer.id, "", c.ownership, text(c.owner_name)]
            for c in p.coverage
        ]
        if "claims" in self.tables:
            rows["claims"], rows["claims_transactions"] = self.claim_rows(p)
        return rows

    @staticmethod
    def claim_rows(p: PatientRecord) -> tuple[list[list[str]], list[list[str]]]:
        """Synthea's claims and their transactions: per line a CHARGE; the payer's PAYMENT; and for the
        patient's share a TRANSFEROUT from the payer, a TRANSFERIN to the patient and the patient's PAYMENT.
        ``CHARGEID`` counts the patient's transactions; transaction ids are the claim's id with that count."""
        claims, transactions = [], []
        n = 0
        for c in p.claims:
            e = c.encounter
            codes = [d.code for d in c.diagnoses] + [""] * (8 - len(c.diagnoses))
            start, stop = ts(c.start), ts(c.stop)
            claims.append([
                c.id, p.id, e.provider.id, c.payer.id, "0", "", "", *codes, "", e.id, start, start, e.provider.id,
                "CLOSED", "", "CLOSED", "0", "", "0", stop, "", stop, _CLAIM_TYPE[c.kind], "0",
            ])  # fmt: skip
            ref = "1" if c.diagnoses else ""
            for line in c.lines:
                item = [start, stop, e.organization.id, line.code.code, "", "", ref, "", "", "", str(line.units), "",
                        text(line.code.display)]  # fmt: skip
                tail = [e.id, "", c.member_id, "1", e.provider.id, e.provider.id]
                payer, patient = line.payer_paid, line.patient_paid
                # TYPE, AMOUNT, METHOD, UNITAMOUNT, TRANSFEROUTID, TRANSFERTYPE, PAYMENTS, TRANSFERS, OUTSTANDING
                steps = [
                    ("CHARGE", money(line.amount), "", money(line.amount / line.units), "", "1", "", "", "")
                ]
                if payer > 0:
                    steps.append(("PAYMENT", "", "ECHECK", "", "", "", money(payer), "", money(patient)))
                if patient > 0:
                    out, owed = str(n + len(steps)), money(patient)
                    steps.append(("TRANSFEROUT", "", "", "", "", "", "", owed, owed))
                    steps.append(("TRANSFERIN", owed, "", "", out, "p", "", owed, owed))
                    steps.append(("PAYMENT", "", line.method, "", "", "", owed, "", "0.00"))
                for kind, amount, method, unit, out_id, transfer, payments, transfers, outstanding in steps:
                    transactions.append([
                        f"{c.id[:24]}{n:012d}", c.id, str(n), p.id, kind, amount, method, *item, unit, out_id,
                        transfer, payments, "", transfers, outstanding, *tail,
                    ])  # fmt: skip
                    n += 1
        return claims, transactions

    def write(self, p: PatientRecord) -> None:
        rows = self.rows(p)
        if self.defects is not None:
            self.defects.plant(p, rows)
        for table, table_rows in rows.items():
            if not table_rows:
                continue
            if self.defects is not None:
                self.defects.locate(table, table_rows, self.lines[table])
            self.files[table].write("".join(",".join(r) + "\n" for r in table_rows))
            self.lines[table] += len(table_rows)
        for n in p.notes:
            self.notes.writerow([n.id, p.id, n.encounter.id, ts(n.time), n.type.code, n.type.display, n.text])
        self.note_rows += len(p.notes)
        self._tally(p)

    def _tally(self, p: PatientRecord) -> None:
        for e in p.encounters:
            org = self.org_stats[e.organization.id]
            org[0] += e.total_cost
            org[1] += 1
            self.provider_stats[e.provider.id][0] += 1
            stats = self.payer_stats[e.payer.id]
            stats["covered_encounters" if e.payer_coverage > 0 else "uncovered_encounters"] += 1
        for c in p.claims:  # the payer's amounts: encounters and medication fills
            stats = self.payer_stats[c.payer.id]
            stats["covered"] += c.payer_paid
            stats["uncovered"] += c.patient_paid
        for pr in p.procedures:
            self.provider_stats[pr.encounter.provider.id][1] += 1
            paid = pr.encounter.payer_coverage > 0
            self.payer_stats[pr.encounter.payer.id][
                "covered_procedures" if paid else "uncovered_procedures"
            ] += 1
        for m in p.medications:
            paid = m.payer_coverage > 0
            self.payer_stats[m.payer.id]["covered_medications" if paid else "uncovered_medications"] += 1
        for i in p.immunizations:
            paid = i.encounter.payer_coverage > 0
            self.payer_stats[i.encounter.payer.id][
                "covered_immunizations" if paid else "uncovered_immunizations"
            ] += 1
        for payer_id in {c.payer.id for c in p.coverage}:
            self.payer_stats[payer_id]["customers"] += 1
        for c in p.coverage:
            months = (c.end.year - c.start.year) * 12 + c.end.month - c.start.month
            self.payer_stats[c.payer.id]["member_months"] += max(months, 0)

    # -- reference tables ---------------------------------------------------------------------------------
    def close(self) -> None:
        w = self.world
        out = []
        for o in w.organizations:
            revenue, count = self.org_stats.get(o.id, (0.0, 0))
            out.append([
                o.id, text(o.name), text(o.address), o.town.name, "MA", o.town.zip, f"{o.town.lat:.6f}",
                f"{o.town.lon:.6f}", o.phone, money(revenue), str(count),
            ])  # fmt: skip
        self._write_reference("organizations", out)
        out = []
        for pr in w.providers:
            o = pr.organization
            encounters, procedures = self.provider_stats.get(pr.id, (0, 0))
            out.append([
                pr.id, o.id, text(pr.name), pr.gender, pr.speciality, text(o.address), o.town.name, "MA",
                o.town.zip, f"{o.town.lat:.6f}", f"{o.town.lon:.6f}", str(encounters), str(procedures),
            ])  # fmt: skip
        self._write_reference("providers", out)
        out = []
        for py in w.payers:
            s = self.payer_stats.get(py.id, {})

            def n(key: str, s=s) -> str:
                return str(int(s.get(key, 0)))

            out.append([
                py.id, py.name, py.ownership, py.address, py.city, py.state, py.zip, py.phone,
                money(s.get("covered", 0.0)), money(s.get("uncovered", 0.0)), money(0.0),
                n("covered_encounters"), n("uncovered_encounters"), n("covered_medications"),
                n("uncovered_medications"), n("covered_procedures"), n("uncovered_procedures"),
                n("covered_immunizations"), n("uncovered_immunizations"), n("customers"), "", n("member_months"),
            ])  # fmt: skip
        self._write_reference("payers", out)
        for f in self.files.values():
            f.close()
        self.notes_file.close()

    def _write_reference(self, table: str, rows: list[list[str]]) -> None:
        self.files[table].write("".join(",".join(r) + "\n" for r in rows))
        self.lines[table] += len(rows)

    def counts(self) -> dict[str, int]:
        """Data rows written per table (header excluded)."""
        return {**{t: n - 1 for t, n in self.lines.items()}, NOTES_TABLE: self.note_rows}
