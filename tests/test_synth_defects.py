"""Defects mode plants exactly the problems its manifest lists, at the lines it gives, and nothing else."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from hitlab.synth.defects import misspell

KINDS = {
    "duplicate_patient",
    "orphan_row",
    "event_after_death",
    "missing_units",
    "unit_mixup",
    "future_birth",
}


@pytest.fixture(scope="module")
def pops(population) -> tuple[Path, Path]:
    return (
        population(1000, 8, formats=("csv",)),
        population(1000, 8, formats=("csv",), defects=True),
    )


def lines(folder: Path, table: str) -> list[str]:
    return (folder / "csv" / f"{table}.csv").read_text(encoding="utf-8").split("\n")[:-1]


def field(line: str, header: str, column: str) -> str:
    return next(csv.reader(io.StringIO(line)))[header.split(",").index(column)]


def test_every_kind_is_planted_and_located(pops):
    _clean, bad = pops
    manifest = json.loads((bad / "manifest.json").read_text())
    planted = manifest["defects"]["planted"]
    assert {e["kind"] for e in planted} == KINDS
    assert Counter(e["kind"] for e in planted) == Counter(manifest["defects"]["rows_per_kind"])
    tables = {t: lines(bad, t) for t in {e["table"] for e in planted}}
    for e in planted:
        table = tables[e["table"]]
        header, line = table[0], table[e["line"] - 1]
        kind = e["kind"]
        if kind == "duplicate_patient" and e["table"] == "patients":
            assert field(line, header, "Id") == e["patient"]
            assert field(line, header, e["column"]) == e["planted"] != e["original"]
        elif kind == "duplicate_patient":
            assert (
                field(line, header, "PATIENT") == e["patient"] and field(line, header, "Id") == e["encounter"]
            )
        elif kind == "orphan_row":
            assert field(line, header, e["column"]) == e["planted"]
        elif kind == "event_after_death":
            assert field(line, header, "PATIENT") == e["patient"]
            assert date.fromisoformat(e["date"][:10]) > date.fromisoformat(e["deathdate"])
        elif kind == "missing_units":
            assert field(line, header, "UNITS") == "" and field(line, header, "TYPE") == "numeric"
        elif kind == "unit_mixup":
            assert f"{field(line, header, 'VALUE')} {field(line, header, 'UNITS')}" == e["planted"]
            value = float(e["original"].split()[0]) / 18.016
            assert abs(float(field(line, header, "VALUE")) - value) < 0.05
        elif kind == "future_birth":
            assert field(line, header, "BIRTHDATE") == e["planted"] > manifest["as_of"]


def test_only_the_listed_rows_differ_from_the_clean_population(pops):
    """Apart from the planted rows, the defects dataset is the clean dataset with the same seed, line for line."""
    clean, bad = pops
    planted = json.loads((bad / "manifest.json").read_text())["defects"]["planted"]
    changed = {"missing_units", "unit_mixup", "future_birth"}
    for table in ("patients", "encounters", "observations", "conditions"):
        entries = [e for e in planted if e["table"] == table]
        bad_lines = lines(bad, table)
        planted_lines = {e["line"] for e in entries}
        kept = [line for n, line in enumerate(bad_lines, start=1) if n not in planted_lines]
        added = sum(1 for e in entries if e["kind"] not in changed)
        modified = len({e["line"] for e in entries if e["kind"] in changed})
        clean_lines = lines(clean, table)
        assert len(bad_lines) == len(clean_lines) + added, table
        remaining = Counter(clean_lines)
        remaining.subtract(kept)
        assert sum(v for v in remaining.values() if v > 0) == modified, table
        assert all(v >= 0 for v in remaining.values()), table


def test_orphans_point_nowhere(pops):
    _clean, bad = pops
    planted = json.loads((bad / "manifest.json").read_text())["defects"]["planted"]
    ids = {}
    for table in ("patients", "encounters"):
        header, *body = lines(bad, table)
        ids[table] = {field(line, header, "Id") for line in body}
    patients, encounters = ids["patients"], ids["encounters"]
    orphans = [e for e in planted if e["kind"] == "orphan_row"]
    assert orphans
    for e in orphans:
        assert e["planted"] not in (patients if e["column"] == "PATIENT" else encounters)


@pytest.mark.parametrize(
    ("name", "variants"), [("Maynard46", 3), ("Ana7", 2), ("O'Brien12", 3)]
)  # fmt: skip
def test_misspellings_are_small(name, variants):
    import random

    rng = random.Random(1)
    out = {misspell(rng, name) for _ in range(200)}
    assert name not in out
    digits = "".join(c for c in name if c.isdigit())
    for v in out:
        assert abs(len(v) - len(name)) <= 1 and v.endswith(digits)
    assert len(out) >= variants
