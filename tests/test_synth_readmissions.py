"""The analytics dataset carries the readmission signal lab 09 needs: enough index stays, a plausible 30-day
readmission rate, the LACE index discriminating about as well as published (van Walraven et al., CMAJ 2010:
C-statistic 0.684 in validation) and a logistic regression on richer features doing at least as well. The
cohort, label, LACE and features are lab 09's references; the figures are in data/README.md."""

from __future__ import annotations

import pytest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from hitlab.checks.lab09 import reference as R
from hitlab.checks.lab09.materials import FEATURES
from hitlab.checks.sql import connection


@pytest.fixture(scope="module")
def stays():
    return R.cohort(connection("analytics").cursor())


def test_enough_index_stays_and_a_plausible_readmission_rate(stays):
    assert len(stays) >= 2000
    assert 0.10 <= stays["readmitted"].mean() <= 0.20
    assert stays["emergent"].mean() < 0.95  # elective admissions are in the cohort too


def test_lace_discriminates_as_published_and_a_logistic_regression_at_least_as_well(stays):
    """On every index stay: LACE's AUROC in 0.62-0.75; the lab's logistic regression, scored out of fold
    (5-fold cross-validation, so no stay is scored by a model that saw it), at least as high."""
    y = stays["readmitted"]
    lace = roc_auc_score(y, stays["LACE"])
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    model = R.fit_model(stays)  # an unfitted clone is refitted in each fold
    scores = cross_val_predict(model, stays[list(FEATURES)], y, cv=folds, method="predict_proba")[:, 1]
    regression = roc_auc_score(y, scores)
    assert 0.62 <= lace <= 0.75
    assert regression >= lace


def test_on_the_labs_temporal_split_too():
    """The figures a learner sees: LACE and the reference regression on lab 09's test set (the last three years)."""
    result = R.reference_model("analytics")
    (lace, *_), (regression, *_) = result["auroc_lace"], result["auroc_model"]
    assert len(result["test"]) >= 500 and 0.62 <= lace <= 0.75 and regression >= lace
