"""Lab 09's questions, as data: what each asks, its points, hints, how it is compared, and the edge cases a
right answer must also get right. The expected values come from ``reference.py`` (DuckDB SQL) and the worked
answers from ``answers.py`` (pandas), both imported only when needed, so that an exam release can leave them out.

| Q  | grade id                  | pts | asks for                                                                  |
|----|---------------------------|-----|---------------------------------------------------------------------------|
| 1  | lab09_index_stays         | 2   | `index_stays(tables, as_of)`: adult, alive, not transferred, followed up   |
| 2  | lab09_readmission_label   | 2   | `readmitted(tables, stays)`: unplanned inpatient stay within 30 days       |
| 3  | lab09_features            | 3   | `features(tables, stays)`: eight features from data known at discharge     |
| 4  | lab09_lace                | 2   | `lace(features)`: L, A, C, E points and the LACE index                    |
| 5  | lab09_temporal_split      | 2   | `temporal_split(frame, split)`: train before, test after, labels known    |
| 6  | lab09_logistic_model      | 3   | `fit_model(train)`: a fitted scikit-learn logistic regression             |
| 7  | lab09_auroc_ci            | 2   | `auroc_ci(y_true, y_score, alpha)`: AUROC with DeLong's interval          |
| 8  | lab09_calibration         | 2   | `calibration(y_true, y_prob)`: Brier, slope, intercept, reliability curve |
| 9  | lab09_subgroups           | 2   | `subgroup_metrics(frame, prob)`: by sex and age band                      |
| 10 | lab09_budget_threshold    | 2   | `budget_threshold(y_true, prob, capacity)`: top-k flag, sensitivity, PPV  |
| 11 | lab09_explain             | 2   | `explain(model, row)`: per-feature contributions to the log-odds          |

Q12 (written, 3 points, `lab09_ship_decision`) is graded by hand; its rubric is in the notebook.

Leakage is caught by behaviour: Q3's check changes everything dated after each stay's discharge
(:func:`~hitlab.checks.lab09.materials.perturb_after`) and requires the features to stay the same. Q1-Q3 also
run, in the notebook's hidden tests, on ``analytics-holdout`` (another seed): ``HOLDOUT``. Metrics of models
(Q6) are compared within tolerances of the reference's on the same split; everything else exactly.
"""

from __future__ import annotations

import math
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from hitlab.checks.core import AnswerKey, Incorrect, Question, describe, reference_of
from hitlab.checks.function import Case, check_signature, function_question, judge_call, signature
from hitlab.checks.lab09 import materials as m

_answers = AnswerKey("hitlab.checks.lab09")  # left out of an exam release
_key, _keys = _answers.source, _answers.sources


def _ref():
    """The reference implementations (absent from an exam release: the grader's install has them)."""
    return reference_of("hitlab.checks.lab09")


# -- made-up rows for the cases the data lacks ------------------------------------------------------------------

TOY_AS_OF = pd.Timestamp("2025-12-31")
_T = pd.Timestamp


def _toy_tables() -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """Made-up tables and, for each made-up stay, what it is (messages name stays by what they are)."""
    pats, encs, conds, meds, what = [], [], [], [], {}

    def person(pid, born, died=None, sex="F"):
        pats.append(
            {"Id": pid, "BIRTHDATE": _T(born), "DEATHDATE": _T(died) if died else pd.NaT, "GENDER": sex}
        )

    def stay(eid, pid, start, stop, about=None, cls="inpatient", code=m.EMERGENCY_ADMISSION, org="org-a"):
        encs.append(
            {
                "Id": eid,
                "PATIENT": pid,
                "START": _T(start),
                "STOP": _T(stop),
                "ORGANIZATION": org,
                "ENCOUNTERCLASS": cls,
                "CODE": code,
            }
        )
        if about:
            what[eid] = about

    person("p-adult", "1960-06-15", sex="M")
    stay("s-adult", "p-adult", "2019-04-02 09:00", "2019-04-05 11:00", "an ordinary adult stay")
    person("p-18", "2000-03-10")
    stay("s-18", "p-18", "2018-03-10 08:00", "2018-03-12 08:00", "a stay admitted on the 18th birthday")
    person("p-17", "2000-03-11")
    stay(
        "s-17",
        "p-17",
        "2018-03-10 08:00",
        "2018-03-12 08:00",
        "a stay admitted the day before the 18th birthday",
    )
    person("p-leap", "2004-02-29")
    stay(
        "s-leap",
        "p-leap",
        "2022-02-28 10:00",
        "2022-03-02 10:00",
        "a stay of someone born on 29 February, admitted on 28 February of their 18th year",
    )
    person("p-died", "1950-01-01", died="2021-07-09")
    stay(
        "s-died",
        "p-died",
        "2021-07-01 10:00",
        "2021-07-09 08:00",
        "a patient who died on the day of discharge",
    )
    person("p-died-later", "1950-01-01", died="2021-07-10")
    stay(
        "s-died-later",
        "p-died-later",
        "2021-07-01 10:00",
        "2021-07-09 08:00",
        "a patient who died the day after discharge",
    )
    person("p-transfer", "1970-01-01")
    stay(
        "s-transfer-out",
        "p-transfer",
        "2020-01-01 10:00",
        "2020-01-05 10:00",
        "a stay followed exactly 24 hours later by a stay at another hospital (a transfer)",
    )
    stay(
        "s-transfer-in",
        "p-transfer",
        "2020-01-06 10:00",
        "2020-01-10 10:00",
        "the stay a transfer continued into",
        org="org-b",
    )
    stay(
        "s-gap",
        "p-transfer",
        "2021-05-01 08:00",
        "2021-05-01 12:00",
        "a stay followed 24 hours and a minute later by a stay at another hospital",
    )
    stay(
        "s-after-gap",
        "p-transfer",
        "2021-05-02 12:01",
        "2021-05-04 12:00",
        "a stay starting 24 hours and a minute after one at another hospital",
        org="org-b",
    )
    stay(
        "s-same-org",
        "p-transfer",
        "2021-09-01 08:00",
        "2021-09-03 12:00",
        "a stay followed 2 hours later by another at the same hospital (a readmission, not a transfer)",
    )
    stay(
        "s-same-org-next",
        "p-transfer",
        "2021-09-03 14:00",
        "2021-09-06 12:00",
        "a stay starting 2 hours after a discharge from the same hospital",
    )
    # a transfer chain of three hospitals: an elective first leg, then two transfers; one episode
    person("p-chain", "1952-04-04")
    stay("ed-chain-old", "p-chain", "2022-09-05 10:00", "2022-09-05 14:00", cls="emergency", code="50849002")
    stay(
        "s-chain-prior",
        "p-chain",
        "2022-05-01 10:00",
        "2022-05-03 10:00",
        "a stay ten months before an episode",
    )
    stay(
        "ed-chain-lead-in",
        "p-chain",
        "2023-03-01 06:30",
        "2023-03-01 07:30",
        cls="emergency",
        code="50849002",
    )
    stay(
        "s-chain-1",
        "p-chain",
        "2023-03-01 08:00",
        "2023-03-10 10:00",
        "the elective first leg of a three-hospital transfer chain",
        code=m.ELECTIVE_ADMISSION,
    )
    stay(
        "s-chain-2",
        "p-chain",
        "2023-03-10 12:00",
        "2023-03-12 09:00",
        "the middle leg of a three-hospital transfer chain",
        org="org-b",
    )
    stay(
        "s-chain-3",
        "p-chain",
        "2023-03-12 10:00",
        "2023-03-14 10:00",
        "the last leg of a three-hospital transfer chain (its episode began with an elective stay 13 days before)",
        org="org-c",
    )
    person("p-follow", "1980-01-01")
    stay(
        "s-follow-ok",
        "p-follow",
        "2025-11-28 09:00",
        "2025-12-01 23:00",
        "a discharge exactly 30 days before the as-of date",
    )
    stay(
        "s-follow-short",
        "p-follow",
        "2025-12-01 09:00",
        "2025-12-02 00:30",
        "a discharge 29 days before the as-of date",
    )
    stay("s-ed-only", "p-follow", "2024-01-01 09:00", "2024-01-01 11:00", cls="emergency", code="50849002")
    person("p-readmit", "1955-05-05", sex="M")
    stay(
        "s-r30",
        "p-readmit",
        "2022-02-20 10:00",
        "2022-03-01 10:00",
        "a stay with an emergency admission exactly 30 days after discharge",
    )
    stay("s-r30-next", "p-readmit", "2022-03-31 10:00", "2022-04-03 10:00")
    stay(
        "s-r30-late",
        "p-readmit",
        "2022-10-05 07:00",
        "2022-10-10 09:00",
        "a stay with an admission on the 30th day after the discharge date, later in the day than the discharge",
    )
    stay("s-r30-late-next", "p-readmit", "2022-11-09 22:00", "2022-11-12 10:00")
    stay(
        "s-r31",
        "p-readmit",
        "2022-05-25 10:00",
        "2022-06-01 10:00",
        "a stay with the next admission on the 31st day after the discharge date (less than 31 x 24 hours later)",
    )
    stay("s-r31-next", "p-readmit", "2022-07-02 00:30", "2022-07-03 10:00")
    stay(
        "s-same-day",
        "p-readmit",
        "2023-02-01 08:00",
        "2023-02-04 09:00",
        "a stay with an admission at the same hospital later on the day of discharge",
    )
    stay("s-same-day-next", "p-readmit", "2023-02-04 20:00", "2023-02-06 10:00")
    stay(
        "s-elective",
        "p-readmit",
        "2022-08-25 10:00",
        "2022-09-01 10:00",
        "a stay followed by an elective admission 9 days later",
    )
    stay("s-elective-next", "p-readmit", "2022-09-10 10:00", "2022-09-12 10:00", code=m.ELECTIVE_ADMISSION)
    # features: boundaries of every window, on one stay
    person("p-feat", "1948-12-31")
    stay(
        "s-feat",
        "p-feat",
        "2023-07-15 23:00",
        "2023-07-17 01:00",
        "a stay with every feature window at its bounds",
    )
    stay("ed-6m", "p-feat", "2023-01-15 23:00", "2023-01-16 02:00", cls="emergency", code="50849002")
    stay("ed-6m-minus", "p-feat", "2023-01-15 22:59", "2023-01-16 01:00", cls="emergency", code="50849002")
    stay("ed-61min", "p-feat", "2023-07-15 20:00", "2023-07-15 21:59", cls="emergency", code="50849002")
    stay("ed-lead-in", "p-feat", "2023-07-15 22:00", "2023-07-15 23:00", cls="emergency", code="50849002")
    stay("ed-during", "p-feat", "2023-07-16 05:00", "2023-07-16 06:00", cls="emergency", code="50849002")
    stay("s-prior-12m", "p-feat", "2022-07-15 23:00", "2022-07-18 10:00")
    stay("s-prior-old", "p-feat", "2022-07-15 22:59", "2022-07-15 23:30")
    stay(
        "s-elective-feat",
        "p-feat",
        "2024-03-01 08:00",
        "2024-03-20 08:00",
        "an elective stay of 19 days",
        code=m.ELECTIVE_ADMISSION,
    )
    for code, start in (("13645005", "2010-01-01"), ("195967001", "2015-01-01"), ("433144002", "2020-02-02"),
                        ("22298006", "2023-07-15"), ("88805009", "2023-07-16"), ("59621000", "2019-01-01")):  # fmt: skip
        conds.append({"PATIENT": "p-feat", "START": _T(start), "CODE": code})
    for code, start in (("13645005", "2020-01-01"), ("88805009", "2023-03-05")):  # CHF during the episode
        conds.append({"PATIENT": "p-chain", "START": _T(start), "CODE": code})
    for start, stop in (
        ("2022-01-01", "2023-03-05"),
        ("2023-03-11 08:00", None),
    ):  # active at E; started after E
        meds.append(
            {"PATIENT": "p-chain", "START": _T(start), "STOP": _T(stop) if stop else pd.NaT, "CODE": "310798"}
        )
    for start, stop in (("2023-07-15 23:00", None), ("2023-01-01 00:00", "2023-07-15 23:00"),
                        ("2023-01-01 00:00", "2023-07-15 23:01"), ("2023-07-16 08:00", None), ("2020-01-01", None)):  # fmt: skip
        meds.append(
            {"PATIENT": "p-feat", "START": _T(start), "STOP": _T(stop) if stop else pd.NaT, "CODE": "310798"}
        )
    tables = {
        "patients": pd.DataFrame(pats),
        "encounters": pd.DataFrame(encs),
        "conditions": pd.DataFrame(conds),
        "medications": pd.DataFrame(meds),
    }
    return tables, what


@cache
def _toy() -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    return _toy_tables()


def toy_tables() -> dict[str, pd.DataFrame]:
    """The made-up tables (fresh copies)."""
    return {k: v.copy() for k, v in _toy()[0].items()}


def _toy_stays() -> pd.DataFrame:
    """Every made-up inpatient stay that is described (the label and feature cases use them all)."""
    enc, what = _toy()[0]["encounters"], _toy()[1]
    return (
        enc[enc["Id"].isin(what)][["Id", "PATIENT", "START", "STOP"]].sort_values("Id").reset_index(drop=True)
    )


@cache
def _stays(dataset: str) -> pd.DataFrame:
    return _ref().index_stays(_con(dataset), m.as_of(dataset))


def _con(dataset: str):
    from hitlab.checks.sql import connection

    return connection(dataset).cursor()


def _name(stay: Any, label: str) -> str:
    described = _toy()[1].get(stay)
    return described if described and "made-up" in label else f"stay {stay}"


# -- Q1 index stays -------------------------------------------------------------------------------------------


def _stay_cases(datasets: tuple[str, ...]) -> list[Case]:
    cases = [Case(f"the {d} dataset", (m.tables(d), m.as_of(d))) for d in datasets]
    return [
        *cases,
        Case("made-up stays at each rule's bound", (toy_tables(), TOY_AS_OF)),
        Case("a list instead of the tables", ([], TOY_AS_OF)),
    ]


def _compare_stays(got: Any, expected: pd.DataFrame, case: Case, title: str) -> None:
    if not isinstance(got, pd.DataFrame) or "Id" not in getattr(got, "columns", ()):
        raise Incorrect(
            f"{title}: on {case.label}, return a DataFrame with an Id column, got {describe(got)}."
        )
    ids = list(got["Id"])
    if len(ids) != len(set(ids)):
        raise Incorrect(f"{title}: on {case.label}, a stay appears more than once.")
    extra = sorted(set(ids) - set(expected["Id"]))
    if extra:
        raise Incorrect(
            f"{title}: on {case.label}, {len(extra)} stays should not be index stays, e.g. {_name(extra[0], case.label)}."
        )
    missing = sorted(set(expected["Id"]) - set(ids))
    if missing:
        raise Incorrect(
            f"{title}: on {case.label}, {len(missing)} index stays are missing, e.g. {_name(missing[0], case.label)}."
        )


def _index_question(datasets: tuple[str, ...]) -> Question:
    return function_question(
        grade_id="lab09_index_stays",
        title="Q1 index stays",
        points=2,
        name="index_stays",
        parameters=("tables", "as_of"),
        reference=lambda tables, as_of: _ref().index_stays(
            _ref().tables_connection(m.check_tables(tables)), as_of
        ),
        cases=lambda: _stay_cases(datasets),
        compare=_compare_stays,
        hints=(
            "Start from encounters with ENCOUNTERCLASS 'inpatient', joined to patients; apply the four rules one "
            "by one and count what each removes.",
            "Age in whole years at START: the birthday must have come (compare month*100 + day). Alive at "
            "discharge: no DEATHDATE, or one after the STOP date. Follow-up: STOP's date + 30 days <= as_of.",
            "A transfer: another inpatient stay of the same patient at another ORGANIZATION starting at or after "
            "STOP and at most 24 hours later (24 hours exactly is a transfer; the same hospital is a readmission). "
            "Pair each stay with the patient's other stays (a merge on PATIENT) to find them.",
        ),
        solution_code=_key("INDEX_STAYS"),
        wrong=_keys("INDEX_STAYS_WRONG"),
        alternatives=_keys("INDEX_STAYS_ALTERNATIVE"),
    )


q1 = _index_question((m.DATASET,))

# -- Q2 label ---------------------------------------------------------------------------------------------------


def _label_cases(datasets: tuple[str, ...]) -> list[Case]:
    cases = [Case(f"the {d} dataset's index stays", (m.tables(d), _stays(d))) for d in datasets]
    return [
        *cases,
        Case("made-up stays at the 30-day bound and with elective admissions", (toy_tables(), _toy_stays())),
    ]


def _label_reference(tables, stays) -> pd.Series:
    frame = _ref().labels(_ref().tables_connection(tables), stays)
    return pd.Series(frame["readmitted"].to_numpy(), index=frame["Id"])


def _compare_labels(got: Any, expected: pd.Series, case: Case, title: str) -> None:
    if isinstance(got, pd.DataFrame) and got.shape[1] == 1:
        got = got.iloc[:, 0]
    if not isinstance(got, pd.Series):
        raise Incorrect(
            f"{title}: on {case.label}, return a pandas Series indexed by stay Id, got {describe(got)}."
        )
    if set(got.index) != set(expected.index) or len(got) != len(expected):
        raise Incorrect(
            f"{title}: on {case.label}, the Series should have one entry per stay of `stays`, indexed by its Id."
        )
    values = pd.to_numeric(got, errors="coerce")
    if not values.isin((0, 1)).all():
        raise Incorrect(f"{title}: on {case.label}, every label should be 0 or 1 (or False/True).")
    wrong = values.reindex(expected.index).astype(int) != expected
    if wrong.any():
        stay = sorted(wrong[wrong].index)[0]
        raise Incorrect(
            f"{title}: on {case.label}, {int(wrong.sum())} labels are not right, e.g. for {_name(stay, case.label)}."
        )


def _label_question(datasets: tuple[str, ...]) -> Question:
    return function_question(
        grade_id="lab09_readmission_label",
        title="Q2 30-day readmission label",
        points=2,
        name="readmitted",
        parameters=("tables", "stays"),
        reference=_label_reference,
        cases=lambda: _label_cases(datasets),
        compare=_compare_labels,
        hints=(
            "Pair each index stay with the patient's inpatient stays (merge on PATIENT) and keep those starting "
            "after its STOP on a date at most 30 days after STOP's date.",
            "Count calendar days between dates, not hours: `(START.dt.normalize() - STOP.dt.normalize()).dt.days "
            "<= 30`. Day 30 counts at any hour; day 31 does not. A planned admission (CODE 8715000, elective) is "
            "not a readmission; any other inpatient stay is.",
        ),
        solution_code=_key("READMITTED"),
        wrong=_keys("READMITTED_WRONG"),
        alternatives=_keys("READMITTED_ALTERNATIVE"),
    )


q2 = _label_question((m.DATASET,))

# -- Q3 features, and the leakage probe -------------------------------------------------------------------------


def _features_reference(tables, stays) -> pd.DataFrame:
    return _ref().features(_ref().tables_connection(tables), stays).set_index("Id")


def _feature_frame(got: Any, stays: pd.DataFrame, title: str, label: str) -> pd.DataFrame:
    if not isinstance(got, pd.DataFrame):
        raise Incorrect(f"{title}: on {label}, return a DataFrame indexed by stay Id, got {describe(got)}.")
    if "Id" in got.columns and set(got.index) != set(stays["Id"]):
        got = got.set_index("Id")
    missing = [c for c in m.FEATURES if c not in got.columns]
    if missing:
        raise Incorrect(f"{title}: on {label}, the column {missing[0]} is missing (see lab09.FEATURES).")
    if len(got) != len(stays) or set(got.index) != set(stays["Id"]):
        raise Incorrect(f"{title}: on {label}, return one row per stay of `stays`, indexed by its Id.")
    return got[list(m.FEATURES)]


def _first_difference(got: pd.DataFrame, expected: pd.DataFrame) -> tuple[str, str, int] | None:
    got = got.reindex(expected.index)
    for column in m.FEATURES:
        differs = ~np.isclose(
            pd.to_numeric(got[column], errors="coerce").astype(float), expected[column].astype(float)
        )
        if differs.any():
            return column, sorted(expected.index[differs])[0], int(differs.sum())
    return None


@cache
def _probe_patients(dataset: str, count: int = 400) -> tuple[str, ...]:
    stays = _stays(dataset)
    patients = sorted(stays["PATIENT"].unique())
    rng = np.random.default_rng(9)
    return tuple(rng.choice(patients, size=min(count, len(patients)), replace=False))


def _probe(fn: Any, title: str, dataset: str = m.DATASET) -> None:
    """Run ``fn`` on the probe patients' tables, then with everything after a discharge changed: the
    features of every stay discharged on or before the cutoff must not move."""
    patients = set(_probe_patients(dataset))
    full = m.tables(dataset)
    owner = {"patients": "Id"}
    tables = {k: v[v[owner.get(k, "PATIENT")].isin(patients)].reset_index(drop=True) for k, v in full.items()}
    stays = _stays(dataset)
    stays = stays[stays["PATIENT"].isin(patients)].reset_index(drop=True)
    label = "the dataset's stays"
    before = _feature_frame(
        judge_call(fn, Case(label, (tables, stays)), None, title=title, limit=30), stays, title, label
    )
    rng = np.random.default_rng(17)
    for round_, pick in enumerate(("a random index stay of each patient", "each patient's first index stay")):
        if round_ == 0:
            chosen = stays.groupby("PATIENT")["STOP"].agg(lambda s: s.iloc[rng.integers(len(s))])
        else:
            chosen = stays.groupby("PATIENT")["STOP"].min()
        changed = m.perturb_after(tables, chosen, seed=round_)
        what = f"the same tables with everything dated after {pick}'s discharge changed"
        after = _feature_frame(
            judge_call(fn, Case(what, (changed, stays)), None, title=title, limit=30), stays, title, what
        )
        known = stays.loc[stays["STOP"] <= stays["PATIENT"].map(chosen), "Id"]
        diff = _first_difference(after.loc[known], before.loc[known])
        if diff:
            column, stay, n = diff
            raise Incorrect(
                f"{title}: leakage. On {what}, {column} changed for {n} stays (e.g. stay {stay}) although "
                "nothing known at their discharge changed: a feature uses data from after the discharge."
            )


_FEATURES_TITLE = "Q3 features known at discharge"


def _features_form(fn: Any) -> None:
    """The form of an answer: ``features(tables, stays)`` returns a frame of ``lab09.FEATURES``, one row per
    stay, on the made-up stays."""
    check_signature(fn, "features", ("tables", "stays"), _FEATURES_TITLE)
    label, stays = "made-up stays", _toy_stays()
    got = judge_call(fn, Case(label, (toy_tables(), stays)), None, title=_FEATURES_TITLE, limit=30)
    _feature_frame(got, stays, _FEATURES_TITLE, label)


def _check_features(datasets: tuple[str, ...], probe: bool):
    def check(fn: Any, _key: Any) -> None:
        title = _FEATURES_TITLE
        check_signature(fn, "features", ("tables", "stays"), title)
        if probe:
            _probe(fn, title)
        cases = [(f"the {d} dataset's index stays", m.tables(d), _stays(d)) for d in datasets]
        cases.append(("made-up stays at every window's bounds", toy_tables(), _toy_stays()))
        for label, tables, stays in cases:
            got = _feature_frame(
                judge_call(fn, Case(label, (tables, stays)), None, title=title, limit=30), stays, title, label
            )
            diff = _first_difference(got, _features_reference(tables, stays))
            if diff:
                column, stay, n = diff
                raise Incorrect(
                    f"{title}: on {label}, {column} is not right for {n} stays, e.g. {_name(stay, 'made-up' if 'made-up' in label else label)}."
                )

    return check


def _features_question(datasets: tuple[str, ...], probe: bool = True) -> Question:
    return Question(
        grade_id="lab09_features",
        title=_FEATURES_TITLE,
        points=3,
        variable="features",
        expected=lambda: None,
        compare=_check_features(datasets, probe),
        hints=(
            "Every window ends at the episode's admission E (conditions: on or before its date): a feature that "
            "looks at anything later leaks the outcome. Try `lab09.perturb_after` on your own function.",
            "E: follow transfers back (an inpatient stay at another ORGANIZATION that ended at most 24 hours before "
            "this one started) to the first leg, repeating until no earlier leg is found; E is its START, and "
            "`emergent` is its CODE. For a stay reached by no transfer, E is its own START.",
            "Count per stay by merging the stays with a table on PATIENT, filtering the window, then "
            "`groupby('Id').size().reindex(stay_ids, fill_value=0)` so stays with none get 0.",
            "Charlson: map codes to (category, weight) with lab09.CHARLSON, keep one row per (stay, category), "
            "sum the weights. ED visits: drop the one that ended within the hour before START (it led to the "
            "admission). Six months back is `START - pd.DateOffset(months=6)`.",
        ),
        solution_code=_key("FEATURES"),
        wrong=_keys("FEATURES_WRONG"),
        alternatives=_keys("FEATURES_ALTERNATIVE"),
        form=(_features_form,),
        time_limit=110.0,
    )


q3 = _features_question((m.DATASET,))

HOLDOUT = {
    "lab09_index_stays": _index_question((m.HOLDOUT,)),
    "lab09_readmission_label": _label_question((m.HOLDOUT,)),
    "lab09_features": _features_question((m.HOLDOUT,), probe=False),
}
"""The hidden checks: Q1-Q3 on ``analytics-holdout``, a population of another seed."""

# -- Q4 LACE ----------------------------------------------------------------------------------------------------


def _lace_grid() -> pd.DataFrame:
    rows = []
    for los in (0, 1, 2, 3, 4, 6, 7, 13, 14, 30):
        for charlson in (0, 3, 4, 6):
            for ed in (0, 3, 4, 7):
                rows.append(
                    {"los_days": los, "emergent": (los + ed) % 2, "charlson": charlson, "ed_visits_6m": ed}
                )
    frame = pd.DataFrame(rows)
    frame.index = [f"made-up-{i}" for i in range(len(frame))]
    return frame


def _lace_cases() -> list[Case]:
    real = _ref().reference_model(m.DATASET)["cohort"].set_index("Id")[list(m.FEATURES)]
    return [Case("the dataset's index stays", (real,)),
            Case("made-up stays at every points boundary (LOS 0-30 days, Charlson 0-6, ED visits 0-7)", (_lace_grid(),))]  # fmt: skip


def _compare_lace(got: Any, expected: pd.DataFrame, case: Case, title: str) -> None:
    if not isinstance(got, pd.DataFrame):
        raise Incorrect(f"{title}: return a DataFrame with columns L, A, C, E, LACE, got {describe(got)}.")
    missing = [c for c in m.LACE_COLUMNS if c not in got.columns]
    if missing:
        raise Incorrect(f"{title}: the column {missing[0]} is missing.")
    if set(got.index) != set(expected.index) or len(got) != len(expected):
        raise Incorrect(f"{title}: on {case.label}, keep the index of `features` (one row per stay).")
    got = got.reindex(expected.index)
    features = case.args[0]
    for column in m.LACE_COLUMNS:
        bad = got[column].astype(float).to_numpy() != expected[column].astype(float).to_numpy()
        if bad.any():
            row = features[bad].iloc[0]
            raise Incorrect(
                f"{title}: on {case.label}, {column} is not right for {int(bad.sum())} rows, e.g. one with "
                f"los_days={row['los_days']}, emergent={row['emergent']}, charlson={row['charlson']}, "
                f"ed_visits_6m={row['ed_visits_6m']}."
            )


q4 = function_question(
    grade_id="lab09_lace",
    title="Q4 LACE index",
    points=2,
    name="lace",
    parameters=("features",),
    reference=lambda features: _ref().lace_points(features),
    cases=_lace_cases,
    compare=_compare_lace,
    hints=(
        "Four lookups and a sum. `np.select([conditions...], [values...], default)` writes a points table in one line.",
        "L: under 1 day 0, then 1, 2, 3 days score their number, 4-6 days 4, 7-13 days 5, 14 or more 7. "
        "C: a Charlson index of 4 or more scores 5. E: visits, capped at 4.",
    ),
    solution_code=_key("LACE"),
    wrong=_keys("LACE_WRONG"),
    alternatives=_keys("LACE_ALTERNATIVE"),
)

# -- Q5 temporal split ------------------------------------------------------------------------------------------


def _split_toy() -> pd.DataFrame:
    split = _T("2024-01-01")
    rows = [
        ("t-window-ends-at-split", split - pd.Timedelta(days=40), split - pd.Timedelta(days=30)),
        ("t-window-crosses-split", split - pd.Timedelta(days=35), split - pd.Timedelta(days=29, hours=23)),
        ("t-admitted-before-discharged-after", split - pd.Timedelta(days=2), split + pd.Timedelta(days=3)),
        ("t-admitted-at-split", split, split + pd.Timedelta(days=2)),
        ("t-later", split + pd.Timedelta(days=200), split + pd.Timedelta(days=204)),
    ]
    frame = pd.DataFrame(rows, columns=["Id", "START", "STOP"])
    frame["readmitted"] = [0, 1, 0, 1, 0]
    return frame


def _split_cases() -> list[Case]:
    cohort = _ref().reference_model(m.DATASET)["cohort"]
    return [Case("the dataset's cohort and split date", (cohort, m.split_date(m.DATASET))),
            Case("made-up stays around a split on 2024-01-01", (_split_toy(), _T("2024-01-01")))]  # fmt: skip


def _compare_split(got: Any, expected: tuple, case: Case, title: str) -> None:
    if not (
        isinstance(got, tuple | list) and len(got) == 2 and all(isinstance(g, pd.DataFrame) for g in got)
    ):
        raise Incorrect(f"{title}: return (train, test), two DataFrames, got {describe(got)}.")
    for part, g, e in zip(("train", "test"), got, expected, strict=True):
        extra = sorted(set(g["Id"]) - set(e["Id"]))
        missing = set(e["Id"]) - set(g["Id"])
        if extra or missing or len(g) != len(e):
            which = f"e.g. {extra[0]} should not be there" if extra else f"{len(missing)} stays are missing"
            raise Incorrect(f"{title}: on {case.label}, {part} is not right ({which}).")


q5 = function_question(
    grade_id="lab09_temporal_split",
    title="Q5 temporal train/test split",
    points=2,
    name="temporal_split",
    parameters=("frame", "split"),
    reference=lambda frame, split: _ref().temporal_split(frame, split),
    cases=_split_cases,
    compare=_compare_split,
    hints=(
        "Test on the future: stays admitted on or after the split date.",
        "Train only on stays whose label was known by the split date: discharged at least 30 days before it "
        "(STOP + 30 days <= split). Stays in between are in neither set.",
    ),
    solution_code=_key("SPLIT"),
    wrong=_keys("SPLIT_WRONG"),
    alternatives=_keys("SPLIT_ALTERNATIVE"),
)

# -- Q6 logistic regression -------------------------------------------------------------------------------------

AUROC_TOLERANCE, BRIER_TOLERANCE, MEAN_TOLERANCE = 0.02, 0.005, 0.02
_MODEL_TITLE = "Q6 logistic regression"


def _check_model(fn: Any, _key: Any) -> None:
    from sklearn.base import is_classifier
    from sklearn.exceptions import NotFittedError
    from sklearn.linear_model import LogisticRegression
    from sklearn.utils.validation import check_is_fitted

    title = q6.title
    check_signature(fn, "fit_model", ("train",), title)
    ref = _ref().reference_model(m.DATASET)
    train, test = ref["train"].copy(), ref["test"]
    model = judge_call(fn, Case("the reference training set", (train,)), None, title=title, limit=50)
    final = model[-1] if hasattr(model, "steps") else model
    if not is_classifier(model) or not isinstance(final, LogisticRegression):
        raise Incorrect(
            f"{title}: return a fitted scikit-learn LogisticRegression (or a Pipeline ending in one), got {describe(final)}."
        )
    try:
        check_is_fitted(model)
    except NotFittedError:
        raise Incorrect(
            f"{title}: the model you return is not fitted: call .fit(...) on the training set."
        ) from None
    try:
        prob = model.predict_proba(test[list(m.FEATURES)])[:, 1]
    except Exception as err:
        raise Incorrect(
            f"{title}: model.predict_proba(test[lab09.FEATURES]) failed ({type(err).__name__}: {err}): fit on exactly lab09.FEATURES."
        ) from None
    y = test["readmitted"].to_numpy()
    auc, ref_auc = _ref().auroc_ci(y, prob)[0], ref["auroc_model"][0]
    if abs(auc - ref_auc) > AUROC_TOLERANCE:
        raise Incorrect(
            f"{title}: test AUROC {auc:.3f} is more than {AUROC_TOLERANCE} from the reference's logistic regression on the same split."
        )
    brier, ref_brier = float(np.mean((prob - y) ** 2)), float(np.mean((ref["prob"] - y) ** 2))
    mean_train = float(np.mean(model.predict_proba(train[list(m.FEATURES)])[:, 1]))
    if (
        abs(mean_train - train["readmitted"].mean()) > MEAN_TOLERANCE
        or abs(brier - ref_brier) > BRIER_TOLERANCE
    ):
        raise Incorrect(
            f"{title}: the model ranks well enough, but its probabilities are off (mean predicted risk "
            f"{mean_train:.3f} on the training set against its readmission rate of {train['readmitted'].mean():.3f}, "
            f"allowed {MEAN_TOLERANCE}; test Brier {brier:.4f} against the reference's {ref_brier:.4f}, allowed "
            f"{BRIER_TOLERANCE}): did reweighting or resampling change the base rate?"
        )


q6 = Question(
    grade_id="lab09_logistic_model",
    title=_MODEL_TITLE,
    points=3,
    variable="fit_model",
    expected=lambda: None,
    compare=_check_model,
    hints=(
        "`make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))`, fitted on `train[list(lab09.FEATURES)]` "
        "and `train['readmitted']`; return the fitted pipeline.",
        "Keep the default, unweighted loss: class weights or oversampling make the probabilities meaningless as risks.",
    ),
    solution_code=_key("FIT"),
    wrong=_keys("FIT_WRONG"),
    alternatives=_keys("FIT_ALTERNATIVE"),
    form=(signature("fit_model", ("train",), _MODEL_TITLE),),
)

# -- Q7 AUROC with DeLong's interval ----------------------------------------------------------------------------


def _auroc_cases() -> list[Case]:
    ref = _ref().reference_model(m.DATASET)
    y, train = ref["test"]["readmitted"].to_numpy(), ref["train"]
    return [
        Case("the reference model's test probabilities", (y, ref["prob"])),
        Case("LACE on the test set (many tied scores)", (y, ref["test"]["LACE"].to_numpy())),
        Case(
            "LACE on the training set, alpha=0.1",
            (train["readmitted"].to_numpy(), train["LACE"].to_numpy(), 0.1),
        ),
        Case(
            "made-up scores that separate the classes perfectly",
            (np.array([0, 0, 1, 1, 0, 1]), np.array([0.1, 0.2, 0.8, 0.9, 0.3, 0.7])),
        ),
        Case("made-up scores, all tied", (np.array([0, 1, 0, 1, 1]), np.full(5, 0.4))),
        Case(
            "made-up scores with a single positive", (np.array([0, 1, 0, 0]), np.array([0.2, 0.6, 0.4, 0.1]))
        ),
        Case("labels of one class only", (np.zeros(4, dtype=int), np.array([0.1, 0.2, 0.3, 0.4]))),
    ]


def _compare_auroc(got: Any, expected: tuple, case: Case, title: str) -> None:
    if not (isinstance(got, tuple | list) and len(got) == 3):
        raise Incorrect(f"{title}: return (auc, low, high), got {describe(got)}.")
    for name, g, e in zip(("auc", "low", "high"), got, expected, strict=True):
        if isinstance(g, int | float | np.floating) and math.isnan(float(g)) and math.isnan(e):
            continue
        if not isinstance(g, int | float | np.floating) or not math.isclose(float(g), e, abs_tol=1e-6):
            raise Incorrect(f"{title}: on {case.label}, {name} is {g!r}, which is not right.")


q7 = function_question(
    grade_id="lab09_auroc_ci",
    title="Q7 AUROC with DeLong's confidence interval",
    points=2,
    name="auroc_ci",
    parameters=("y_true", "y_score"),
    reference=lambda *a: _ref().auroc_ci(*a),
    cases=_auroc_cases,
    compare=_compare_auroc,
    hints=(
        "AUROC is the share of (positive, negative) pairs in which the positive scores higher, ties counting one "
        "half. `psi = (pos[:, None] > neg) + 0.5 * (pos[:, None] == neg)` holds every pair.",
        "DeLong: V10 = psi's row means (one per positive), V01 = its column means (one per negative); "
        "Var(AUC) = var(V10, ddof=1)/m + var(V01, ddof=1)/n. The interval is AUC ± z·sqrt(Var), z = "
        "norm.ppf(1 - alpha/2), clipped to [0, 1].",
        "With a single positive (or a single negative), var(ddof=1) of one value is undefined: return NaN for "
        "both bounds, not a zero-width interval.",
    ),
    solution_code=_key("AUROC"),
    wrong=_keys("AUROC_WRONG"),
    alternatives=_keys("AUROC_ALTERNATIVE"),
)

# -- Q8 calibration ---------------------------------------------------------------------------------------------


def _calibration_cases() -> list[Case]:
    ref = _ref().reference_model(m.DATASET)
    y, p = ref["test"]["readmitted"].to_numpy(), ref["prob"]
    rng = np.random.default_rng(5)
    toy = rng.uniform(0.02, 0.9, 400)
    return [
        Case("the reference model's test probabilities", (y, p)),
        Case("the same probabilities, overconfident (squared)", (y, p**2)),
        Case("made-up probabilities with outcomes drawn from them", (rng.random(400) < toy, toy)),
    ]


def _compare_calibration(got: Any, expected: dict, case: Case, title: str) -> None:
    if not isinstance(got, dict):
        raise Incorrect(
            f"{title}: return a dict with brier, slope, intercept, observed, predicted; got {describe(got)}."
        )
    for name, tol in (("brier", 1e-9), ("slope", 1e-4), ("intercept", 1e-4)):
        if name not in got:
            raise Incorrect(f"{title}: the dict has no {name!r}.")
        if not math.isclose(float(got[name]), expected[name], abs_tol=tol):
            raise Incorrect(
                f"{title}: on {case.label}, {name} is {float(got[name]):.6f}, which is not right."
            )
    for name in ("observed", "predicted"):
        values = np.asarray(got.get(name, []), dtype=float)
        if values.shape != expected[name].shape or not np.allclose(values, expected[name], atol=1e-9):
            raise Incorrect(
                f"{title}: on {case.label}, the reliability curve's {name} values are not right (10 quantile bins)."
            )


q8 = function_question(
    grade_id="lab09_calibration",
    title="Q8 calibration",
    points=2,
    name="calibration",
    parameters=("y_true", "y_prob"),
    reference=lambda y, p: _ref().calibration(y, p),
    cases=_calibration_cases,
    compare=_compare_calibration,
    hints=(
        "Brier: the mean of (p - y)². Reliability curve: `sklearn.calibration.calibration_curve(y, p, n_bins=10, "
        "strategy='quantile')` returns (observed, predicted).",
        "Slope: refit the outcome on logit(p) with an unpenalized logistic regression (`C=np.inf`); its "
        "coefficient is the slope (1 is ideal, below 1 means too extreme).",
        "Intercept (calibration-in-the-large): keep the slope at 1, so logit(p) is an offset, and find the a for "
        "which sum(y - expit(a + logit(p))) = 0 (`scipy.optimize.brentq`). 0 is ideal.",
    ),
    solution_code=_key("CALIBRATION"),
    wrong=_keys("CALIBRATION_WRONG"),
    alternatives=_keys("CALIBRATION_ALTERNATIVE"),
)

# -- Q9 subgroups -----------------------------------------------------------------------------------------------


def _subgroup_toy() -> tuple[pd.DataFrame, np.ndarray]:
    ages = [18, 44, 45, 64, 65, 74, 75, 99, 30, 50, 70, 80]
    frame = pd.DataFrame({"age": ages, "female": [i % 2 for i in range(12)],
                          "readmitted": [0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1]})  # fmt: skip
    return frame, np.linspace(0.05, 0.6, 12)


def _subgroup_cases() -> list[Case]:
    ref = _ref().reference_model(m.DATASET)
    toy, p = _subgroup_toy()
    return [Case("the reference model on the test set", (ref["test"].reset_index(drop=True), ref["prob"])),
            Case("made-up stays at every age band's bounds (18, 44, 45, 64, 65, 74, 75)", (toy, p))]  # fmt: skip


def _compare_subgroups(got: Any, expected: pd.DataFrame, case: Case, title: str) -> None:
    from hitlab.checks.core import compare_rows

    columns = list(expected.columns)
    if not isinstance(got, pd.DataFrame) or [c for c in columns if c not in got.columns]:
        raise Incorrect(
            f"{title}: return a DataFrame with columns {', '.join(columns)}, got {describe(got)}."
        )
    compare_rows(list(got[columns].itertuples(index=False)), list(expected.itertuples(index=False)),
                 columns=columns, title=f"{title}: on {case.label}", key_columns=2, rel=1e-9)  # fmt: skip


q9 = function_question(
    grade_id="lab09_subgroups",
    title="Q9 subgroup metrics",
    points=2,
    name="subgroup_metrics",
    parameters=("frame", "prob"),
    reference=lambda frame, prob: _ref().subgroup_metrics(frame, prob),
    cases=_subgroup_cases,
    compare=_compare_subgroups,
    hints=(
        "One row per subgroup: ('sex', 'F'), ('sex', 'M'), then ('age_band', '18-44'), ... ('age_band', '75+').",
        "`pd.cut(age, [18, 45, 65, 75, np.inf], right=False, labels=lab09.AGE_BANDS)`: right=False puts 45 in "
        "45-64. AUROC needs both classes in the subgroup; otherwise NaN.",
    ),
    solution_code=_key("SUBGROUPS"),
    wrong=_keys("SUBGROUPS_WRONG"),
    alternatives=_keys("SUBGROUPS_ALTERNATIVE"),
)

# -- Q10 budget threshold ---------------------------------------------------------------------------------------


def _budget_cases() -> list[Case]:
    ref = _ref().reference_model(m.DATASET)
    y, p = ref["test"]["readmitted"].to_numpy(), ref["prob"]
    k = int(m.CAPACITY_SHARE * len(y))
    lace_scores = ref["test"]["LACE"].to_numpy().astype(float)
    ties_y, ties_p = np.array([1, 0, 1, 0, 1, 0]), np.array([0.9, 0.8, 0.5, 0.5, 0.5, 0.1])
    return [
        Case(f"the reference model's test probabilities, capacity {k}", (y, p, k)),
        Case(f"LACE on the test set (tied scores), capacity {k}", (y, lace_scores, k)),
        Case("made-up scores tied across the budget line, capacity 3", (ties_y, ties_p, 3)),
        Case("made-up scores, capacity larger than the list", (ties_y, ties_p, 10)),
        Case("a capacity of 0", (ties_y, ties_p, 0)),
    ]


def _compare_budget(got: Any, expected: dict, case: Case, title: str) -> None:
    if not isinstance(got, dict):
        raise Incorrect(
            f"{title}: return a dict with threshold, flagged, sensitivity, ppv; got {describe(got)}."
        )
    for name in ("threshold", "flagged", "sensitivity", "ppv"):
        if name not in got:
            raise Incorrect(f"{title}: the dict has no {name!r}.")
        g, e = float(got[name]), float(expected[name])
        if not (math.isclose(g, e, abs_tol=1e-9) or (math.isnan(g) and math.isnan(e))):
            raise Incorrect(f"{title}: on {case.label}, {name} is {g!r}, which is not right.")


q10 = function_question(
    grade_id="lab09_budget_threshold",
    title="Q10 threshold for a care-management budget",
    points=2,
    name="budget_threshold",
    parameters=("y_true", "prob", "capacity"),
    reference=lambda *a: _ref().budget_threshold(*a),
    cases=_budget_cases,
    compare=_compare_budget,
    hints=(
        "Flag `prob >= threshold`. Lower the bar one distinct score at a time (highest first) and stop before "
        "more than `capacity` stays would be flagged.",
        "Ties: if several stays share the score at the budget line and taking them all breaks the budget, take "
        "none of them. Sensitivity = flagged readmissions / all readmissions; PPV = flagged readmissions / flagged.",
    ),
    solution_code=_key("BUDGET"),
    wrong=_keys("BUDGET_WRONG"),
    alternatives=_keys("BUDGET_ALTERNATIVE"),
)

# -- Q11 explain one prediction ---------------------------------------------------------------------------------


@cache
def _other_model():
    """A reference-style pipeline fitted on other data (the holdout's whole cohort)."""
    return _ref().fit_model(_ref().reference_model(m.HOLDOUT)["cohort"])


def _explain_cases() -> list[Case]:
    ref = _ref().reference_model(m.DATASET)
    test = ref["test"].reset_index(drop=True)
    top = int(np.argmax(ref["prob"]))
    return [
        Case("the reference model, the test set's highest-risk stay", (ref["model"], test.iloc[top])),
        Case("the reference model, the test set's first stay", (ref["model"], test.iloc[0])),
        Case(
            "another fitted pipeline, a made-up stay",
            (
                _other_model(),
                pd.Series(
                    {
                        "age": 82,
                        "female": 1,
                        "los_days": 15,
                        "emergent": 1,
                        "charlson": 5,
                        "ed_visits_6m": 6,
                        "admissions_12m": 3,
                        "active_medications": 9,
                    }
                ),
            ),
        ),
    ]


def _compare_explain(got: Any, expected: pd.Series, case: Case, title: str) -> None:
    if not isinstance(got, pd.Series):
        raise Incorrect(f"{title}: return a pandas Series indexed by feature name, got {describe(got)}.")
    if set(got.index) != set(m.FEATURES):
        raise Incorrect(f"{title}: the Series should be indexed by lab09.FEATURES, one value each.")
    for name in m.FEATURES:
        if not math.isclose(float(got[name]), float(expected[name]), abs_tol=1e-9):
            raise Incorrect(
                f"{title}: on {case.label}, the contribution of {name} is {float(got[name]):.4f}, which is not right."
            )


q11 = function_question(
    grade_id="lab09_explain",
    title="Q11 explain one prediction",
    points=2,
    name="explain",
    parameters=("model", "row"),
    reference=lambda model, row: _ref().explain(model, row),
    cases=_explain_cases,
    compare=_compare_explain,
    hints=(
        "For a linear model, log-odds = intercept + sum of coef × value: each feature's share is its coefficient "
        "times how far the stay is from an average stay, coef × (x − mean).",
        "The pipeline's coefficients are per standard deviation: in raw units, coef_j / scale_j; the training "
        "means and scales are `model[0].mean_` and `model[0].scale_`.",
    ),
    solution_code=_key("EXPLAIN"),
    wrong=_keys("EXPLAIN_WRONG"),
    alternatives=_keys("EXPLAIN_ALTERNATIVE"),
)

QUESTIONS = (q1, q2, q3, q4, q5, q6, q7, q8, q9, q10, q11)
