"""Lab 09 (a 30-day readmission model): the references against the data, exact results on made-up rows at
every rule's bound (age, death in hospital, transfer, follow-up, the 30-day window, elective admissions,
feature windows, LACE points), the leakage probe catching leaky features, an exam release without reference
and answers, and the grading proof."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from course_proof import define, prove_answers, prove_grading, run_release
from hitlab.checks import lab09
from hitlab.checks.core import Incorrect
from hitlab.checks.lab09 import answers, questions, reference
from hitlab.checks.sql import connection

RELEASE = Path(__file__).resolve().parents[1] / "labs" / "lab09_ml_readmission" / "lab09_ml_readmission.ipynb"


# -- the checks -------------------------------------------------------------------------------------------------

# tests/test_checks.py proves the notebook's questions; these are the hidden tests' holdout versions
HOLDOUT = list(lab09.HIDDEN.values())


@pytest.mark.parametrize("q", HOLDOUT, ids=lambda q: q.grade_id + "_holdout")
def test_solution_passes_and_wrong_answers_fail(q, capsys):
    prove_answers(q, capsys)


MORE = [(q, code) for q in lab09.QUESTIONS for name in dir(answers) if name.endswith("_WRONG_MORE")
        if getattr(answers, name[: -len("_MORE")]) == tuple(q.wrong) for code in getattr(answers, name)]  # fmt: skip


@pytest.mark.parametrize(("q", "code"), MORE, ids=[f"{q.grade_id}-{i}" for i, (q, _) in enumerate(MORE)])
def test_more_known_wrong_answers_fail(q, code):
    """Known-wrong answers beyond the one ``course verify`` grades (kept out of it to keep verify short)."""
    with pytest.raises(Incorrect):
        q.check(define(code)[q.variable])


def test_grade_ids_points_and_the_table():
    ids = [q.grade_id for q in lab09.QUESTIONS]
    assert ids == ["lab09_index_stays", "lab09_readmission_label", "lab09_features", "lab09_lace",
                   "lab09_temporal_split", "lab09_logistic_model", "lab09_auroc_ci", "lab09_calibration",
                   "lab09_subgroups", "lab09_budget_threshold", "lab09_explain"]  # fmt: skip
    assert sum(q.points for q in lab09.QUESTIONS) == 24
    for q in lab09.QUESTIONS:
        assert q.grade_id in questions.__doc__


def test_an_exam_release_imports_without_reference_and_answers():
    code = (
        "import sys\n"
        "sys.modules['hitlab.checks.lab09.reference'] = None\n"
        "sys.modules['hitlab.checks.lab09.answers'] = None\n"
        "from hitlab.checks import lab09\n"
        "from hitlab.checks.core import NOT_RELEASED\n"
        "assert all(q.solution_code == NOT_RELEASED and not q.wrong for q in lab09.QUESTIONS)\n"
        "try:\n"
        "    lab09.q4.check(lambda features: features)\n"
        "except RuntimeError as err:\n"
        "    assert 'no reference' in str(err)\n"
        "else:\n"
        "    raise SystemExit('checked without a reference')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- the references on the data ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dataset", [lab09.DATASET, lab09.HOLDOUT])
def test_references_on_the_data_follow_the_definitions(dataset):
    con = connection(dataset).cursor()
    stays = reference.index_stays(con)
    assert len(stays) > 100 and stays["Id"].is_unique
    enc = con.execute("select Id, ENCOUNTERCLASS from encounters").df().set_index("Id")["ENCOUNTERCLASS"]
    assert (stays["Id"].map(enc) == "inpatient").all()
    as_of = lab09.as_of(dataset)
    assert (stays["STOP"].dt.normalize() + pd.Timedelta(days=30) <= as_of).all()
    frame = reference.cohort(con)
    assert len(frame) == len(stays) and set(frame["readmitted"]) <= {0, 1}
    assert (frame["age"] >= 18).all() and frame["LACE"].between(0, 19).all()
    assert (frame["LACE"] == frame[["L", "A", "C", "E"]].sum(axis=1)).all()
    lace = reference.lace(con)
    assert list(lace.columns) == ["Id", "L", "A", "C", "E", "LACE"] and len(lace) == len(stays)
    model = reference.reference_model(dataset)
    for auc, low, high in (model["auroc_lace"], model["auroc_model"]):
        assert 0 <= low <= auc <= high <= 1
    assert len(model["train"]) > len(model["test"]) > 0
    assert model["train"]["STOP"].max() + pd.Timedelta(days=30) <= lab09.split_date(dataset)
    assert model["test"]["START"].min() >= lab09.split_date(dataset)


def test_pandas_solutions_equal_the_sql_references_on_the_data():
    tables, con = lab09.tables(), connection(lab09.DATASET).cursor()
    stays = define(answers.INDEX_STAYS)["index_stays"](tables, lab09.as_of())
    assert sorted(stays["Id"]) == sorted(reference.index_stays(con)["Id"])
    got = define(answers.FEATURES)["features"](tables, stays)
    expected = reference.features(con).set_index("Id")
    pd.testing.assert_frame_equal(
        got.sort_index(), expected.sort_index()[list(lab09.FEATURES)], check_names=False
    )


# -- made-up rows -----------------------------------------------------------------------------------------------


def _toy():
    tables = questions.toy_tables()
    return tables, reference.tables_connection(tables)


def test_index_stays_on_made_up_rows():
    _, con = _toy()
    got = set(reference.index_stays(con, questions.TOY_AS_OF)["Id"])
    excluded = {
        "s-17",
        "s-leap",
        "s-died",
        "s-transfer-out",
        "s-follow-short",
        "s-ed-only",
        "s-chain-1",
        "s-chain-2",
    }
    included = {"s-adult", "s-18", "s-died-later", "s-transfer-in", "s-gap", "s-after-gap", "s-follow-ok",
                "s-r30", "s-r31", "s-elective", "s-elective-next", "s-feat", "s-prior-12m", "s-prior-old",
                "s-same-org", "s-same-org-next", "s-chain-3", "s-r30-late", "s-same-day"}  # fmt: skip
    assert included <= got and not (excluded & got)


def test_labels_on_made_up_rows():
    tables, con = _toy()
    stays = tables["encounters"][tables["encounters"]["ENCOUNTERCLASS"] == "inpatient"]
    got = reference.labels(con, stays).set_index("Id")["readmitted"]
    assert got["s-r30"] == 1  # exactly 30 days later
    assert got["s-r30-late"] == 1  # on the 30th day after the discharge date, 30 days and 13 hours later
    assert got["s-r31"] == 0  # on the 31st day, though less than 31 x 24 hours later
    assert got["s-same-day"] == 1  # admitted again later on the day of discharge
    assert got["s-elective"] == 0  # only an elective admission follows
    assert got["s-gap"] == 1  # the stay 24 h 01 min later is a readmission, not a transfer
    assert got["s-same-org"] == 1  # the same hospital 2 hours later: a readmission, not a transfer
    assert got["s-chain-3"] == 0
    assert got["s-transfer-out"] == 1  # (not an index stay, but the next stay starts within 30 days)
    assert got["s-prior-old"] == 0  # an overlapping stay starting before STOP is no readmission


def test_features_on_made_up_rows():
    tables, con = _toy()
    stays = questions._toy_stays()
    got = reference.features(con, stays).set_index("Id").loc["s-feat"].to_dict()
    assert got == {"age": 74, "female": 1, "los_days": 2, "emergent": 1,
                   "charlson": 4,  # COPD and asthma once (1), CKD 3 (2), MI on the admission date (1); CHF a day later no
                   "ed_visits_6m": 2,  # exactly 6 months back, and one ending 61 minutes before; not the lead-in visit
                   "admissions_12m": 1,  # exactly 12 months back; a minute earlier no
                   "active_medications": 3}  # fmt: skip
    solution = define(answers.FEATURES)["features"](tables, stays)
    pd.testing.assert_frame_equal(
        solution.sort_index(), reference.features(con, stays).set_index("Id").sort_index(), check_names=False
    )
    elective = reference.features(con, stays).set_index("Id").loc["s-elective-feat"]
    assert elective["emergent"] == 0 and elective["los_days"] == 19


def test_a_stay_reached_by_transfer_is_one_episode():
    """Windows from the first leg's START, LOS over the whole episode, acuity from the first leg, and the
    episode's own legs not counted as prior admissions (nor the ED visit that led to the first leg)."""
    tables, con = _toy()
    stays = questions._toy_stays()
    got = reference.features(con, stays).set_index("Id")
    assert got.loc["s-chain-3"].to_dict() == {
        "age": 70, "female": 1,
        "los_days": 13,  # 1 March (first leg) to 14 March, not the last leg's 2 days
        "emergent": 0,  # the first leg was elective, though the receiving stays are coded emergency
        "charlson": 1,  # COPD; heart failure diagnosed during the episode does not count
        "ed_visits_6m": 1,  # the September visit, six months before the first leg; not the lead-in visit
        "admissions_12m": 1,  # the stay in May 2022; not the episode's first two legs
        "active_medications": 1,  # active at the first leg's admission; not the one started during the episode
    }  # fmt: skip
    assert got.loc["s-transfer-in", "los_days"] == 9 and got.loc["s-transfer-in", "admissions_12m"] == 0
    episodes = reference.episodes(con, stays).set_index("Id")["first_id"]
    assert episodes["s-chain-3"] == "s-chain-1" and episodes["s-after-gap"] == "s-after-gap"
    assert episodes["s-same-org-next"] == "s-same-org-next"
    taken_alone = define(answers.FEATURES_WRONG_MORE[2])["features"](tables, stays)
    assert (
        taken_alone.loc["s-chain-3", "admissions_12m"] == 3 and taken_alone.loc["s-chain-3", "emergent"] == 1
    )


def test_stays_reached_by_transfer_on_the_data():
    """On the lab's dataset every transfer is to another organization and about 100 index stays continue one;
    their features differ from those of the last leg taken alone."""
    con = connection(lab09.DATASET).cursor()
    stays = reference.index_stays(con)
    episodes = reference.episodes(con, stays)
    reached = episodes[episodes["first_id"] != episodes["Id"]]
    assert 50 <= len(reached) <= 200
    alone = define(answers.FEATURES_WRONG_MORE[2])["features"](lab09.tables(), stays)
    episode = reference.features(con, stays).set_index("Id")
    assert (alone.loc[reached["Id"], "los_days"] < episode.loc[reached["Id"], "los_days"]).all()


@pytest.mark.parametrize(
    ("los", "points"), [(0, 0), (1, 1), (2, 2), (3, 3), (4, 4), (6, 4), (7, 5), (13, 5), (14, 7), (40, 7)]
)
def test_lace_length_points(los, points):
    row = pd.DataFrame({"los_days": [los], "emergent": [0], "charlson": [0], "ed_visits_6m": [0]})
    assert reference.lace_points(row)["L"].item() == points


def test_lace_comorbidity_emergency_and_acuity_points():
    rows = pd.DataFrame(
        {"los_days": 0, "emergent": [1, 0, 1, 0], "charlson": [3, 4, 6, 0], "ed_visits_6m": [3, 4, 9, 0]}
    )
    got = reference.lace_points(rows)
    assert (
        got["C"].tolist() == [3, 5, 5, 0]
        and got["E"].tolist() == [3, 4, 4, 0]
        and got["A"].tolist() == [3, 0, 3, 0]
    )
    assert got["LACE"].tolist() == [9, 9, 12, 0]


def test_delong_budget_and_explanation_on_small_cases():
    y, s = np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])
    auc, low, high = reference.auroc_ci(y, s)
    assert auc == pytest.approx(0.75) and 0 <= low < auc < high <= 1
    auc, low, high = reference.auroc_ci([0, 1, 0], [0.1, 0.5, 0.7])  # one positive: no variance, no interval
    assert auc == pytest.approx(0.5) and np.isnan(low) and np.isnan(high)
    with pytest.raises(ValueError, match="both classes"):
        reference.auroc_ci([1, 1], [0.2, 0.3])
    ties = reference.budget_threshold(np.array([1, 0, 1, 0]), np.array([0.9, 0.5, 0.5, 0.1]), 2)
    assert ties["flagged"] == 1 and ties["threshold"] == 0.9 and ties["ppv"] == 1.0
    ref = reference.reference_model(lab09.DATASET)
    row = ref["test"].iloc[0]
    contributions = reference.explain(ref["model"], row)
    logit_mean = ref["model"][-1].intercept_[0]  # the standardized mean stay has log-odds = intercept
    assert contributions.sum() + logit_mean == pytest.approx(
        ref["model"].decision_function(row[list(lab09.FEATURES)].to_frame().T)[0]
    )


# -- leakage ------------------------------------------------------------------------------------------------------


def test_perturbing_the_future_leaves_honest_features_alone_and_catches_leaky_ones():
    tables = lab09.tables()
    stays = reference.index_stays(connection(lab09.DATASET).cursor())
    some = stays[stays["PATIENT"].isin(sorted(stays["PATIENT"].unique())[:200])]
    cutoff = some.groupby("PATIENT")["STOP"].min()
    changed = lab09.perturb_after(tables, cutoff)
    known = some.loc[some["STOP"] <= some["PATIENT"].map(cutoff), "Id"]
    honest = define(answers.FEATURES)["features"]
    pd.testing.assert_frame_equal(honest(tables, some).loc[known], honest(changed, some).loc[known])
    for leaky in (*answers.FEATURES_WRONG, answers.FEATURES_WRONG_MORE[0]):
        with pytest.raises(Incorrect, match="leakage"):
            lab09.q3.check(define(leaky)["features"])


def test_bad_input_gets_a_clear_error():
    with pytest.raises(ValueError, match="dict of DataFrames"):
        lab09.check_tables([])
    tables = questions.toy_tables()
    tables["encounters"] = tables["encounters"].drop(columns=["STOP"])
    with pytest.raises(ValueError, match=r"tables\['encounters'\] has no column STOP"):
        lab09.check_tables(tables)
    with pytest.raises(ValueError, match="capacity"):
        reference.budget_threshold([0, 1], [0.1, 0.2], 0)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        reference.calibration([0, 1], [0.0, 0.5])


@pytest.mark.notebook
def test_the_release_runs_top_to_bottom_failing_only_in_exercise_cells(tmp_path):
    """The untouched release shows errors only where an answer or its check is missing; the demonstration
    cells say what to define first."""
    printed = run_release(RELEASE, tmp_path)
    assert printed.count("above first, then run this cell again.") >= 8


@pytest.mark.notebook
@pytest.mark.slow
def test_verify_proves_the_grading():
    """``hitlab course verify lab09``: solution full marks, released zero, each known-wrong answer loses exactly
    its points (real nbgrader runs)."""
    prove_grading("lab09")
