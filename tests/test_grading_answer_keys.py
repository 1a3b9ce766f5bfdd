"""Answer keys computed once per grading slot (hitlab.grading.answer_keys): a helper process computes a lab's
keys on the named datasets, the launcher (here, this test's process) only receives them, and a kernel gets them
only when it reads the datasets they were computed on, and never in an exam."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from hitlab.checks import questions
from hitlab.checks.sql import connection
from hitlab.data import SEED_ENV, build_dataset, data_root
from hitlab.grading.answer_keys import DATA_DIR_ENV, LauncherKeys, install
from hitlab.grading.runner import GradingOptions, slot_settings

LAB = "lab02_sql_patient_data"


def _open_files() -> set[str]:
    return {
        os.readlink(f"/proc/self/fd/{fd}")
        for fd in os.listdir("/proc/self/fd")
        if os.path.exists(f"/proc/self/fd/{fd}")
    }


def _same(ours, theirs) -> bool:
    if isinstance(theirs, pd.DataFrame):
        pd.testing.assert_frame_equal(ours, theirs)
        return True
    return ours == theirs


@pytest.fixture(scope="module")
def env() -> dict[str, str]:
    build_dataset("default")
    return {DATA_DIR_ENV: str(data_root()), SEED_ENV: "named"}


def test_keys_come_from_a_helper_and_equal_the_kernels_own(env):
    connection.cache_clear()
    keys = LauncherKeys([LAB], {DATA_DIR_ENV: env[DATA_DIR_ENV]})
    got = keys.for_kernel(LAB, env)  # the first kernel of the lab waits for them
    # the launcher opened no dataset (DuckDB's threads would not survive its forks)
    assert connection.cache_info().currsize == 0
    assert not [f for f in _open_files() if f.startswith(env[DATA_DIR_ENV])]
    assert keys.fds() == []  # the helper is done and its pipe closed
    assert keys.for_kernel(LAB, env) is got  # computed once
    qs = questions(LAB)
    assert all(q.key_from_data for q in qs)  # lab02's: rows computed from the tables
    assert sorted(got) == sorted(q.grade_id for q in qs)
    for q in qs:  # what the kernel would have computed itself
        assert _same(got[q.grade_id], q.expected()), q.grade_id


@pytest.mark.parametrize(
    "other",
    [
        {SEED_ENV: "4242"},  # a learner's own datasets
        {DATA_DIR_ENV: "/elsewhere"},  # another data folder
    ],
)
def test_no_keys_for_other_datasets(env, other):
    keys = LauncherKeys([LAB], {DATA_DIR_ENV: env[DATA_DIR_ENV]})
    assert keys.for_kernel(LAB, {**env, **other}) == {}
    assert keys.pending == {} and keys.keys == {}  # nothing was even computed


def test_no_keys_for_labs_not_asked_for_or_that_fail(env):
    keys = LauncherKeys(["lab99_missing"], {DATA_DIR_ENV: env[DATA_DIR_ENV]})
    assert keys.for_kernel(LAB, env) == {}  # not one of its labs
    assert keys.for_kernel("lab99_missing", env) == {}  # the helper failed: the kernels compute their own
    assert keys.fds() == []


def test_only_keys_that_are_data_from_the_datasets_are_shared(env):
    """A key tied to the process that computed it is never shared: lab03's MLLP question's key holds the ports
    of listeners running in that process (its kernels would find nothing there)."""
    from hitlab.grading.answer_keys import compute

    assert compute("lab03_hl7v2_messaging") == {}
    shared = compute("lab01_ehr_data_modeling")
    assert sorted(shared) == sorted(q.grade_id for q in questions("lab01") if q.key_from_data)
    assert "lab01_ehr_ddl" not in shared  # a DDL check's key is not rows of the data


def test_install_gives_the_questions_their_keys():
    q = questions("lab00")[0]
    q.__dict__.pop("answer_key", None)
    try:
        assert install("lab00", {q.grade_id: "the key", "lab00_unknown": 1}) == 1
        assert q.answer_key == "the key"
    finally:
        q.__dict__.pop("answer_key", None)


def test_an_exam_slot_computes_no_keys(tmp_path: Path):
    """An exam's kernels run the exam release, which has no reference implementations: no keys, however asked."""
    options = GradingOptions(exam=True, answer_keys=[LAB])
    settings = slot_settings(0, os.geteuid(), tmp_path, tmp_path, [], tmp_path, options)
    assert settings.answer_keys == []
    settings = slot_settings(0, os.geteuid(), tmp_path, tmp_path, [], None, GradingOptions(answer_keys=[LAB]))
    assert settings.answer_keys == [LAB]
