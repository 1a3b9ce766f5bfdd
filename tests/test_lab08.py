"""Lab 08 (warehouse, OMOP and population health): the references against the data and against the solution
SQL, made-up edge cases with hand-worked results, the bulk export written from the dataset, an exam release
without reference and answers, every known-wrong answer losing its question, and the grading proof."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, datetime

import pytest

from course_proof import define, prove_grading
from hitlab.checks import lab08
from hitlab.checks.core import Incorrect
from hitlab.checks.lab08 import answers, materials, questions, reference
from hitlab.checks.sql import connection, table, toy_database
from hitlab.data import dataset_dir

# -- the checks ------------------------------------------------------------------------------------------------

WRONG = {
    "lab08_star_schema": answers.STAR_WRONG, "lab08_incremental_load": answers.BATCH_WRONG,
    "lab08_scd_types": answers.SCD_WRONG, "lab08_visit_occurrence": answers.VISITS_WRONG,
    "lab08_observation_period": answers.OBSERVATION_WRONG, "lab08_new_user_cohort": answers.COHORT_WRONG,
    "lab08_prevalence": answers.PREVALENCE_WRONG, "lab08_risk_tiers": answers.RISK_WRONG,
    "lab08_pmpm": answers.PMPM_WRONG, "lab08_trend_plot": answers.TREND_WRONG,
    "lab08_distribution_plot": answers.DISTRIBUTION_WRONG, "lab08_small_multiples": answers.SMALL_MULTIPLES_WRONG,
    "lab08_bulk_ingest": answers.BULK_WRONG,
}  # fmt: skip


@pytest.mark.parametrize("q", lab08.QUESTIONS, ids=lambda q: q.grade_id)
def test_every_known_wrong_answer_fails(q):
    """Verify grades the first wrong answer of each question (each run executes the notebook); the others here."""
    assert q.wrong == WRONG[q.grade_id][:1]
    for wrong in WRONG[q.grade_id]:
        with pytest.raises(Incorrect):
            q.check(define(wrong)[q.variable])


def test_grade_ids_points_and_the_table():
    ids = [q.grade_id for q in lab08.QUESTIONS]
    assert ids == list(WRONG)
    assert sum(q.points for q in lab08.QUESTIONS) == 34
    for q in lab08.QUESTIONS:
        assert q.grade_id in questions.__doc__
    assert "lab08_warehouse_design" in questions.__doc__


def test_an_exam_release_imports_without_reference_and_answers():
    code = (
        "import sys\n"
        "sys.modules['hitlab.checks.lab08.reference'] = None\n"
        "sys.modules['hitlab.checks.lab08.answers'] = None\n"
        "from hitlab.checks import lab08\n"
        "from hitlab.checks.core import NOT_RELEASED\n"
        "assert all(q.solution_code == NOT_RELEASED and not q.wrong for q in lab08.QUESTIONS)\n"
        "for q in (lab08.q3, lab08.q7):\n"
        "    try:\n"
        "        q.check({'address': 'B'} if q is lab08.q3 else 'select 1')\n"
        "    except RuntimeError as err:\n"
        "        assert 'no reference' in str(err)\n"
        "    else:\n"
        "        raise SystemExit('checked without a reference')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- the star schema and the batch ------------------------------------------------------------------------------


def test_the_reference_star_on_the_data_matches_the_solution_sql():
    frames = {name: table(name) for name in materials.STAR_SOURCES}
    con = materials.workspace(frames=frames)
    define(answers.STAR)["build_star"](con)
    got = questions.read_star(con, "test")
    expected = reference.Warehouse.build(frames).rows()
    for name in questions.STAR_COLUMNS:
        assert sorted(map(repr, got[name])) == sorted(map(repr, expected[name])), name
    n_enc = connection().execute("select count(*) from encounters").fetchone()[0]
    assert len(got["fact_encounter"]) == n_enc
    weights = {}
    for enc, _code, w in got["bridge_diagnosis"]:
        weights[enc] = weights.get(enc, 0) + w
    assert all(abs(total - 1) < 1e-9 for total in weights.values())  # costs split across diagnoses add up
    years = {d.year for d in (r[3] for r in got["fact_encounter"])}
    assert len(got["dim_date"]) == sum(366 if y % 4 == 0 else 365 for y in range(min(years), max(years) + 1))


def test_the_made_up_batches_keep_history_and_late_facts():
    base, batches = questions._batch_scenario()
    w = reference.Warehouse.build(base)
    for b, day in batches:
        w.load_batch(b, day)
    rows = w.rows()
    p1 = sorted((r for r in rows["dim_patient"] if r[0] == "p1"), key=lambda r: r[1])
    assert [(r[1], r[4], r[6], r[7]) for r in p1] == [
        (date(1900, 1, 1), "Boston", date(2020, 7, 1), False),
        (date(2020, 7, 1), "Cambridge", None, True),
    ]
    facts = {r[0]: r for r in rows["fact_encounter"]}
    assert facts["e5"][2] == date(1900, 1, 1)  # before the move (a late-arriving fact): the old version
    assert facts["e6"][2] == date(2020, 7, 1)
    assert facts["e2"][6] == 125.0  # the re-sent encounter replaced its row
    p2 = [r for r in rows["dim_patient"] if r[0] == "p2"]
    assert len(p2) == 1 and p2[0][3] == date(1980, 1, 2)  # a correction, in place
    p7 = [r for r in rows["dim_patient"] if r[0] == "p7"]
    assert len(p7) == 1 and p7[0][8] is False and p7[0][4] == "Lowell"  # the inferred member, filled in
    assert sorted(r[1] for r in rows["bridge_diagnosis"] if r[0] == "e2") == ["195662009"]


def test_the_batch_split_holds_late_patients_moves_and_replays():
    initial, batch, as_of = materials.batch_split()
    encounters = table("encounters")
    assert len(initial["encounters"]) + len(batch["encounters"]) == len(encounters) + materials.RESENT
    held = set(batch["patients"]["Id"]) - set(initial["patients"]["Id"])
    assert len(held) == materials.HELD_BACK
    before = table("patients").set_index("Id")
    moved = [r for r in batch["patients"].to_dict("records")
             if (r["CITY"], r["ZIP"]) != (before.at[r["Id"], "CITY"], before.at[r["Id"], "ZIP"])]  # fmt: skip
    assert len(moved) == materials.CHANGED
    assert batch["patients"]["Id"].is_unique
    assert initial["encounters"]["START"].max() < datetime.combine(as_of, datetime.min.time())


# -- OMOP -------------------------------------------------------------------------------------------------------


def _visits(scenario):
    _con, frames = toy_database(**scenario.frames())
    return sorted(reference.visits(frames["encounters"]))


def test_visit_rules_on_made_up_encounters():
    er_ip, stays, same_day = (_visits(s) for s in questions.VISIT_SCENARIOS)
    assert [(v[0], v[2], v[3], v[4]) for v in er_ip] == [
        ("e1", 262, datetime(2020, 1, 1, 10), datetime(2020, 1, 4, 10)),  # ER + stay + ER and office inside
        ("e5", 9202, datetime(2019, 12, 31, 9), datetime(2020, 1, 1, 15)),  # starts before the stay: its own
        ("e6", 9203, datetime(2020, 1, 1, 11), datetime(2020, 1, 1, 12)),  # another patient
    ]
    assert [(v[0], v[1], v[2]) for v in stays] == [("i1", "p1", 9201), ("i3", "p1", 9201), ("i4", "p2", 9201)]
    assert stays[0][4] == datetime(2020, 2, 6, 8)  # 20 hours apart: one stay
    assert [(v[0], v[2]) for v in same_day] == [("a1", 9202), ("r1", 9203), ("r3", 9203), ("w1", 9202)]


def test_visits_on_the_data_match_the_solution_and_the_er_to_inpatient_count():
    con = connection().cursor()
    got = con.execute(define(answers.VISITS)["visit_sql"]).fetchall()
    expected = reference.visits(table("encounters"))
    assert sorted(map(repr, got)) == sorted(map(repr, expected))
    er_then_ip = con.execute(
        "select count(distinct ip.Id) from encounters ip join encounters er on er.PATIENT = ip.PATIENT "
        "and er.ENCOUNTERCLASS in ('emergency', 'urgentcare') and er.START < ip.START and er.STOP >= ip.START "
        "where ip.ENCOUNTERCLASS = 'inpatient'"
    ).fetchone()[0]
    assert 0 < sum(v[2] == 262 for v in got) <= er_then_ip
    assert {v[2] for v in got} == {262, 9201, 9202, 9203}


def test_observation_periods_span_each_patients_encounters():
    rows = reference.observation_periods(table("encounters"))
    con = connection().cursor()
    assert len(rows) == con.execute("select count(distinct PATIENT) from encounters").fetchone()[0]
    assert all(start <= end and kind == 32882 for _p, start, end, kind in rows)


def test_the_new_user_cohort_on_made_up_rows():
    _con, typed = questions.cohort_database(questions.COHORT_SCENARIO.frames())
    rows = reference.new_users(typed["medications"], typed["patients"], typed["observation_period"])
    assert sorted(rows) == [("p1", date(2016, 1, 1)), ("p6", date(2020, 1, 1))]


# -- population health ------------------------------------------------------------------------------------------


def test_population_measures_on_made_up_rows():
    _con, f = toy_database(**questions.POP_SCENARIO.frames())
    prevalence = sorted(reference.prevalence(f["patients"], f["conditions"]))
    assert prevalence == [("0-17", "F", 1, 1, 1000.0), ("18-44", "F", 2, 0, 0.0), ("65+", "M", 2, 1, 500.0)]
    tiers = {r[0]: r[1:] for r in reference.risk_tiers(f["patients"], f["conditions"], f["encounters"])}
    assert tiers == {"a": (0, 1, 0, "rising"), "b": (1, 2, 0, "high"), "d": (1, 0, 0, "rising"),
                     "f": (0, 0, 1, "high"), "g": (3, 0, 0, "high")}  # fmt: skip


def test_pmpm_on_made_up_claims():
    """Worked by hand: member months 2019 b's December; 2020 a's Feb, Mar, Jun-Dec (coverage from 15 January,
    uninsured April-May) and b's Jan-Mar = 12. Paid 2019: c5 1000 + b's fill g1 100. Paid 2020: c2 40 + 30,
    c4 10 (31 December), f1, f3, f4 5 each, g2 100 (the fill of a prescription started in 2019); c1 (January,
    before a month's first day covered) and c3, f2 (uninsured) are left out, c6 paid nothing."""
    _con, f = toy_database(**questions.PMPM_SCENARIO.frames())
    rows = reference.pmpm(f["payer_transitions"], f["payers"], f["claims"], f["claims_transactions"])
    assert rows == [(2019, 1, 1100.0, 1100.0), (2020, 12, 195.0, 16.25)]
    # a member's paid amount in a year (Q11) counts every claim that year: a's 80 + 70 + 10 + 15, b's g2 100
    assert reference.annual_paid(f["claims"], f["claims_transactions"], 2020) == [175.0, 100.0]


def test_claims_payer_payments_agree_with_payer_coverage_and_pmpm_is_stable():
    """The payer's ECHECK payments are encounters' and medications' PAYER_COVERAGE (the dataset's rule), and
    booked by day of service PMPM has no drift from prescriptions booked on their first day."""
    con = connection().cursor()
    echeck = con.execute("select sum(PAYMENTS) from claims_transactions where TYPE = 'PAYMENT' "
                         "and METHOD = 'ECHECK'").fetchone()[0]  # fmt: skip
    coverage = con.execute("select (select sum(PAYER_COVERAGE) from encounters) "
                           "+ (select sum(PAYER_COVERAGE) from medications)").fetchone()[0]  # fmt: skip
    assert echeck == pytest.approx(coverage, abs=0.01)
    rows = questions._real_pmpm()
    first, last = rows[0][3], rows[-1][3]
    assert last > 0.8 * first  # booked by START, the last year read about 40% of the first


def test_solution_sql_matches_the_references_on_the_data():
    con = connection().cursor()
    for code, key, expected in (
        (answers.PREVALENCE, "prevalence_sql", reference.prevalence(table("patients"), table("conditions"))),
        (answers.PMPM, "pmpm_sql", reference.pmpm(table("payer_transitions"), table("payers"), table("claims"),
                                                  table("claims_transactions"))),
    ):  # fmt: skip
        got = con.execute(define(code)[key]).fetchall()
        assert len(got) == len(expected) and got
        questions.compare_rows(
            got, expected, columns=tuple(f"c{i}" for i in range(len(got[0]))), key_columns=2
        )
    total = sum(r[2] for r in reference.prevalence(table("patients"), table("conditions")))
    alive = con.execute(f"select count(*) from patients where BIRTHDATE <= DATE '{lab08.AS_OF}' and "
                        f"(DEATHDATE is null or DEATHDATE > DATE '{lab08.AS_OF}')").fetchone()[0]  # fmt: skip
    assert total == alive


# -- the plots --------------------------------------------------------------------------------------------------


def test_the_band_counts_follow_the_half_open_bands():
    assert reference.band_counts([0.0, 499.99, 500.0, 1999.0, 2000.0, 10000.0, 25000.0]) == [2, 2, 1, 2]


# -- the bulk export --------------------------------------------------------------------------------------------


def test_the_bulk_export_is_one_resource_a_line_with_a_complete_manifest(tmp_path):
    path = materials.write_bulk_export(tmp_path, patients=20)
    manifest = json.loads(path.read_text())
    assert set(manifest) == {"transactionTime", "request", "requiresAccessToken", "output", "error"}
    assert manifest["transactionTime"].endswith("Z") and manifest["error"] == []
    assert [o["type"] for o in manifest["output"]] == list(lab08.EXPORT_TYPES)
    bundles = sorted(p for p in (dataset_dir() / "fhir").glob("*.json") if "Information" not in p.name)[:20]
    for item in manifest["output"]:
        lines = (tmp_path / item["url"].rsplit("/", 1)[-1]).read_text().splitlines()
        assert len(lines) == item["count"]
        resources = [json.loads(line) for line in lines]
        assert all(r["resourceType"] == item["type"] for r in resources)
        expected = sum(
            e["resource"]["resourceType"] == item["type"]
            for b in bundles
            for e in json.loads(b.read_text())["entry"]
        )
        assert len(resources) == expected
        assert "urn:uuid:" not in "".join(lines)  # references as Type/id, as a server exports them


def test_helpers_refuse_bad_input_by_name(tmp_path):
    with pytest.raises(materials.Lab08Error, match="types should be FHIR resource type names"):
        materials.write_bulk_export(tmp_path, types=["patient"])
    with pytest.raises(materials.Lab08Error, match="patients should be a positive whole number"):
        materials.write_bulk_export(tmp_path, patients=0)
    with pytest.raises(materials.Lab08Error, match="no table 'claimz'"):
        materials.workspace(["claimz"])


def test_a_refused_export_names_the_file_and_line(tmp_path):
    exports = questions._made_up_exports(tmp_path)
    for name, needle in (("broken", "Encounter.ndjson line 3"), ("mixed", "Patient.ndjson line 2"),
                         ("bad_delete", "del.ndjson line 1"), ("no_output", "manifest.json")):  # fmt: skip
        state: dict = {}
        with pytest.raises(ValueError, match=needle):
            reference.ingest_bulk(state, exports[name])
        assert state == {}


def test_the_raw_layer_appends_replays_once_and_keeps_tombstones(tmp_path):
    """Worked by hand: first (January: p1, p2, e1), later (February: p1 again, p3), first again (nothing new),
    older (December before: p1, kept but not current), deletions (March: p4, tombstones for p2 and e1)."""
    exports = questions._made_up_exports(tmp_path)
    state: dict = {}
    assert reference.ingest_bulk(state, exports["first"]) == {"Patient": 2, "Encounter": 1}
    reference.ingest_bulk(state, exports["later"])
    assert reference.ingest_bulk(state, exports["first"]) == {"Patient": 2, "Encounter": 1}
    assert len(state) == 5  # the replay added nothing
    reference.ingest_bulk(state, exports["older"])
    assert reference.ingest_bulk(state, exports["deletions"]) == {"Patient": 1, "Encounter": 0}
    assert len(state) == 9
    assert sorted((r[0], r[1]) for r in state.values() if r[6]) == [("Encounter", "e1"), ("Patient", "p2")]
    now = {(t, i): (res["gender"], f, n, when) for t, i, res, f, n, when in reference.current(state)}
    assert now == {
        ("Patient", "p1"): ("other", "Patient_1.ndjson", 1, "2026-02-01T00:00:00Z"),  # not the older export's
        ("Patient", "p3"): ("male", "Patient_1.ndjson", 2, "2026-02-01T00:00:00Z"),
        ("Patient", "p4"): ("female", "Patient.ndjson", 1, "2026-03-01T00:00:00Z"),
    }


# -- the grading proof ------------------------------------------------------------------------------------------


@pytest.mark.notebook
@pytest.mark.slow
def test_verify_proves_the_grading():
    """``hitlab course verify lab08``: solution full marks, released zero, each known-wrong answer loses exactly
    its points."""
    prove_grading("lab08")
