"""The EHR access log: staff, VIP patients and AuditEvent-shaped accesses, with planted inappropriate accesses whose
ground truth (access_log_truth.json) is what SQL of the stated definitions returns."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import duckdb
import pytest
from fhir.resources.R4B.auditevent import AuditEvent

from hitlab.errors import InputError
from hitlab.load import load
from hitlab.synth import generate
from hitlab.synth.access_log import (
    ACTIONS,
    CATEGORIES,
    OUTCOMES,
    PURPOSES,
    AccessLogBuilder,
    audit_event,
)
from hitlab.synth.reference import world
from hitlab.synth.simulate import simulate_patient

# The reference queries of the four categories, written from the definitions in data/README.md.
JUSTIFIED_SQL = """
WITH a AS (
    SELECT l.Id, l."TIMESTAMP" AS ts, l."USER", l.PATIENT, l.PURPOSE, s.ROLE, s.ORGANIZATION, s.PROVIDER
    FROM access_log l JOIN staff s ON s.Id = l."USER"
),
treated AS (
    SELECT DISTINCT a.Id FROM a JOIN encounters e
      ON e.PATIENT = a.PATIENT AND e.PROVIDER = a.PROVIDER
     AND a.ts BETWEEN e.START - INTERVAL 7 DAY AND e.STOP + INTERVAL 30 DAY
    WHERE a.ROLE = 'clinician'
),
billed AS (
    SELECT DISTINCT a.Id FROM a JOIN encounters e
      ON e.PATIENT = a.PATIENT AND e.ORGANIZATION = a.ORGANIZATION
     AND e.START BETWEEN a.ts - INTERVAL 90 DAY AND a.ts
    WHERE a.ROLE = 'billing' AND a.PURPOSE IN ('HPAYMT', 'HOPERAT')
),
flags AS (
    SELECT a.*, (a.PURPOSE = 'ETREAT' OR a.Id IN (SELECT Id FROM treated) OR a.Id IN (SELECT Id FROM billed)
                 OR (a.ROLE = 'researcher' AND a.PURPOSE = 'HRESCH')) AS justified
    FROM a
)
"""
REFERENCE_SQL = {
    "no_relationship": JUSTIFIED_SQL + "SELECT Id FROM flags WHERE ROLE = 'clinician' AND NOT justified",
    "vip": JUSTIFIED_SQL
    + "SELECT Id FROM flags WHERE NOT justified AND PATIENT IN (SELECT PATIENT FROM vip_patients)",
    "coworker": JUSTIFIED_SQL
    + """SELECT f.Id FROM flags f WHERE NOT f.justified AND EXISTS (
        SELECT 1 FROM staff c WHERE c.PATIENT = f.PATIENT AND c.ORGANIZATION = f.ORGANIZATION AND c.Id <> f."USER")""",
    "after_hours_bulk": """
WITH night AS (
    SELECT Id, "USER", PATIENT, timezone('America/New_York', timezone('UTC', "TIMESTAMP")) AS local_ts
    FROM access_log
),
late AS (
    SELECT *, CAST(local_ts - INTERVAL 6 HOUR AS DATE) AS night_of FROM night
    WHERE hour(local_ts) >= 22 OR hour(local_ts) < 6
),
bulk AS (
    SELECT "USER", night_of FROM late GROUP BY ALL HAVING count(DISTINCT PATIENT) >= 20
)
SELECT Id FROM late JOIN bulk USING ("USER", night_of)""",
}


@pytest.fixture(scope="module")
def pop(population) -> Path:
    return population(250, 11, formats=("csv",), db=True)


def truth(root: Path) -> dict:
    return json.loads((root / "access_log_truth.json").read_text(encoding="utf-8"))


def query_ids(db: Path, sql: str) -> list[str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        con.execute("SET TimeZone = 'Asia/Tokyo'")  # the answer must not depend on the session's time zone
        return sorted(r[0] for r in con.execute(sql).fetchall())
    finally:
        con.close()


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("category", list(CATEGORIES))
def test_truth_file_equals_the_reference_sql(pop, category):
    expected = truth(pop)["categories"][category]
    assert query_ids(pop / "hitlab.duckdb", REFERENCE_SQL[category]) == expected
    assert len(expected) >= 5, category


def test_planted_rows_are_exactly_the_rows_the_definitions_select():
    """What the generator meant for each category is what the definitions find: no legitimate row is caught,
    no planted row slips through."""
    b = AccessLogBuilder(world(), 4)
    for i in range(220):
        b.add(simulate_patient(world(), 4, i))
    log = b.build()
    found = log.rules.classify(log.rows)
    for category in CATEGORIES:
        assert {a.id for a in found[category]} == {a.id for a in log.rows if category in a.planted}, category
        assert found[category], category


def test_look_alikes_exist_and_are_in_no_category(pop):
    t = truth(pop)
    flagged = set().union(*map(set, t["categories"].values()))
    for name, entry in t["look_alikes"].items():
        assert entry["ids"], name
        assert not flagged & set(entry["ids"]), name
    nights = t["bulk_nights"]
    assert len(nights) == 3 and all(n["patients"] >= 20 for n in nights)
    assert "2025-11-01" in {n["night"] for n in nights}  # the night the clocks go back


def test_manifest_points_to_the_truth_file(pop):
    manifest = json.loads((pop / "manifest.json").read_text())
    info = manifest["access_log"]
    t = truth(pop)
    assert info["file"] == "access_log_truth.json" and "access_log_truth.json" in manifest["files"]
    assert info["by_category"] == {c: len(ids) for c, ids in t["categories"].items()}
    assert info["accesses"] == manifest["counts"]["access_log"] == len(rows(pop / "csv/access_log.csv"))
    assert t["seed"] == 11 and t["definitions"] == CATEGORIES


def test_tables_are_typed_and_join(pop):
    con = duckdb.connect(str(pop / "hitlab.duckdb"), read_only=True)
    try:
        types = {r[0]: r[1] for r in con.execute("DESCRIBE access_log").fetchall()}
        assert types["TIMESTAMP"] == "TIMESTAMP" and types["USER"] == "VARCHAR"
        one = con.execute
        assert one('SELECT count(*) FROM access_log l ANTI JOIN staff s ON s.Id = l."USER"').fetchone() == (
            0,
        )
        assert one(
            "SELECT count(*) FROM access_log l ANTI JOIN patients p ON p.Id = l.PATIENT"
        ).fetchone() == (0,)
        assert one(
            "SELECT count(*) FROM access_log l ANTI JOIN encounters e ON e.Id = l.ENCOUNTER AND e.PATIENT = l.PATIENT "
            "WHERE l.ENCOUNTER IS NOT NULL"
        ).fetchone() == (0,)
        assert one("SELECT count(*) FROM providers p ANTI JOIN staff s ON s.PROVIDER = p.Id").fetchone() == (
            0,
        )
        assert one(
            "SELECT count(*) FROM staff WHERE (PROVIDER IS NULL) = (ROLE = 'clinician')"
        ).fetchone() == (0,)
        assert one("SELECT count(*) FROM staff s ANTI JOIN patients p ON p.Id = s.PATIENT WHERE s.PATIENT IS NOT NULL"
                   ).fetchone() == (0,)  # fmt: skip
        assert one(
            "SELECT count(*) FROM vip_patients v ANTI JOIN patients p ON p.Id = v.PATIENT"
        ).fetchone() == (0,)
        roles = dict(one("SELECT ROLE, count(*) FROM staff GROUP BY ROLE").fetchall())
        assert set(roles) == {"clinician", "billing", "researcher"}
        first, last = one('SELECT min("TIMESTAMP"), max("TIMESTAMP") FROM access_log').fetchone()
        assert first.isoformat() >= "2025-10-01" and last.isoformat() < "2026-01-01"
        codes = {
            c: {r[0] for r in one(f"SELECT DISTINCT {c} FROM access_log").fetchall()}
            for c in ("ACTION", "PURPOSE", "OUTCOME")
        }
        assert codes["ACTION"] <= set(ACTIONS) and {"C", "R", "U", "E"} <= codes["ACTION"]
        assert codes["PURPOSE"] == set(PURPOSES)
        assert codes["OUTCOME"] <= set(OUTCOMES) and "0" in codes["OUTCOME"]
    finally:
        con.close()


def test_rows_become_valid_r4_audit_events(pop):
    staff = {s["Id"]: s for s in rows(pop / "csv/staff.csv")}
    log = rows(pop / "csv/access_log.csv")
    sample = (
        log[::97]
        + [r for r in log if r["PURPOSE"] == "ETREAT"][:3]
        + [r for r in log if r["ACTION"] == "D"][:2]
    )
    for row in sample:
        event = audit_event(row, staff[row["USER"]])
        AuditEvent.model_validate(event)
        assert event["action"] == row["ACTION"] and event["recorded"] == row["TIMESTAMP"]
        assert event["agent"][0]["who"]["identifier"]["value"] == row["USER"]
        assert event["entity"][0]["what"]["reference"] == f"Patient/{row['PATIENT']}"
        assert event["purposeOfEvent"][0]["coding"][0]["code"] == row["PURPOSE"]
    AuditEvent.model_validate(audit_event(log[0]))  # without the staff row too


def test_same_seed_same_log_and_another_seed_another(tmp_path):
    a = generate(patients=30, seed=3, out=tmp_path / "a", formats=["csv"])
    b = generate(patients=30, seed=3, out=tmp_path / "b", formats=["csv", "hl7v2"])
    for name in ("csv/staff.csv", "csv/vip_patients.csv", "csv/access_log.csv", "access_log_truth.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert a["access_log"] == b["access_log"]
    generate(patients=30, seed=4, out=tmp_path / "c", formats=["csv"])
    assert (tmp_path / "c/csv/access_log.csv").read_bytes() != (
        tmp_path / "a/csv/access_log.csv"
    ).read_bytes()
    fhir_only = generate(patients=5, seed=3, out=tmp_path / "d", formats=["fhir"])
    assert fhir_only["access_log"] is None and not (tmp_path / "d/access_log_truth.json").exists()


def test_defects_mode_keeps_the_truth(population):
    root = population(120, 11, formats=("csv",), defects=True, db=True)
    for category, sql in REFERENCE_SQL.items():
        assert query_ids(root / "hitlab.duckdb", sql) == truth(root)["categories"][category], category


def _copy(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for f in src.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    return dst


def test_broken_access_log_row_names_file_line_and_column(tmp_path, pop):
    src = _copy(pop / "csv", tmp_path / "csv")
    lines = (src / "access_log.csv").read_text(encoding="utf-8").split("\n")
    fields = lines[4].split(",")
    fields[1] = "2025-13-01T10:00:00Z"
    lines[4] = ",".join(fields)
    (src / "access_log.csv").write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(InputError) as info:
        load(src, tmp_path / "db.duckdb")
    err = info.value
    assert (err.path, err.line, err.column) == (str(src / "access_log.csv"), 5, "TIMESTAMP")
    assert "expected a UTC timestamp yyyy-MM-ddTHH:mm:ssZ" in err.detail


def test_broken_staff_row_names_file_and_line(tmp_path, pop):
    src = _copy(pop / "csv", tmp_path / "csv")
    lines = (src / "staff.csv").read_text(encoding="utf-8").split("\n")
    lines[3] += ",extra"
    (src / "staff.csv").write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(InputError) as info:
        load(src, tmp_path / "db.duckdb")
    assert (info.value.path, info.value.line) == (str(src / "staff.csv"), 4)


def test_wrong_access_log_header_is_named(tmp_path, pop):
    src = _copy(pop / "csv", tmp_path / "csv")
    text = (src / "access_log.csv").read_text(encoding="utf-8")
    (src / "access_log.csv").write_text(text.replace("PURPOSE", "REASON", 1), encoding="utf-8")
    with pytest.raises(InputError) as info:
        load(src, tmp_path / "db.duckdb")
    assert (info.value.path, info.value.line, info.value.column) == (str(src / "access_log.csv"), 1, "REASON")
