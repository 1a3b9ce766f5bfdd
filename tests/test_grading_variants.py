"""``hitlab grade --secret``: each student is graded on their own datasets, derived from the course secret and
the student id (never from the notebook), so numbers copied from a classmate fail where the student's own
pass; with ``--exam`` too, the judge and the evaluator read the student's data."""

from __future__ import annotations

import copy
import shutil

import duckdb
import nbformat
import pytest

from hitlab.cohort_keys import read_secret, seed_for
from hitlab.course.notebooks import course_root
from hitlab.data import DB_NAME, build_variant, variant_dir
from hitlab.grading import grade

LAB = "lab00_orientation"
ITEM = "lab00_patients_by_gender"
pytestmark = [pytest.mark.slow]


def _hard_coded(rows) -> str:
    values = ", ".join(f"('{gender}', {count})" for gender, count in rows)
    return f'patients_by_gender_sql = "select * from (values {values}) t(GENDER, patients)"'


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """A fixed course secret (the same two variants every run, removed afterwards) and the patient counts by
    gender of amy's and ben's populations."""
    folder = tmp_path_factory.mktemp("secret")
    secret = folder / "course_secret"
    secret.write_text("01" * 32 + "\n")
    key = read_secret(secret)
    seeds = {student: seed_for(key, student) for student in ("amy", "ben")}
    try:
        rows = {}
        for student, seed in seeds.items():
            built = build_variant(seed, ("default", "defects"))["default"]
            with duckdb.connect(str(built / DB_NAME), read_only=True) as con:
                rows[student] = con.execute(
                    "select GENDER, count(*) from patients group by 1 order by 1"
                ).fetchall()
        yield secret, rows
    finally:
        for seed in seeds.values():
            shutil.rmtree(variant_dir(seed), ignore_errors=True)


@pytest.mark.parametrize("exam", [False, True], ids=["self-study checks", "exam"])
def test_copied_numbers_fail_where_the_students_own_pass(tmp_path, cohort, exam):
    secret, rows = cohort
    assert rows["amy"] != rows["ben"]  # different people in the two populations
    root = course_root()
    released = nbformat.read(root / "labs" / LAB / f"{LAB}.ipynb", as_version=4)
    subs = tmp_path / "submitted"
    for student in ("amy", "ben"):  # amy writes her own counts; ben copies hers
        nb = copy.deepcopy(released)
        cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == ITEM)
        cell.source = _hard_coded(rows["amy"])
        path = subs / student / LAB / f"{LAB}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
    run = grade(subs, tmp_path / "out", [LAB], workers=2, secret=secret, exam=exam)
    assert run.per_learner_data and run.exam == exam
    scores = {o.student: o.grades[f"{ITEM}_test"]["auto_score"] for o in run.graded}
    assert scores == {"amy": 2.0, "ben": 0.0}
    assert "data: each student's own datasets" in (tmp_path / "out" / "grading.log").read_text()
