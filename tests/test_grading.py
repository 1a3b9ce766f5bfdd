"""Cohort grading end to end with real nbgrader, kernels and gradebooks: scores equal sequential
``nbgrader autograde`` and the cohort's known answers; originals untouched; exports, feedback and the report
say what they must; an interrupted run resumes without grading anything twice; LMS zips with a roster; two
graders at once into one PostgreSQL gradebook."""

from __future__ import annotations

import csv
import hashlib
import html
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

from hitlab.course.autograde import autograde
from hitlab.course.build import generate, nbgrader_api, scratch_course
from hitlab.course.notebooks import SOLUTION_BLOCK, course_root, graded_cells, read, source_notebook
from hitlab.grading import grade
from hitlab.grading.cohort import make_cohort

LABS = ["lab00_orientation", "lab01_ehr_data_modeling"]
NBGRADER_EXPORT = "assignment,duedate,timestamp,student_id,last_name,first_name,email,raw_score,late_submission_penalty,score,max_score"  # fmt: skip
HITLAB = [sys.executable, "-m", "hitlab.cli"]
pytestmark = [pytest.mark.slow]
# --dist loadfile (pyproject.toml) keeps a module's tests on one xdist worker: the cohort is graded once


def _checksums(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _gradebook_scores(url: str, labs: list[str]) -> dict[tuple[str, str], dict[str, float]]:
    from nbgrader.api import Gradebook

    from hitlab.grading.gradebook import item_scores

    with Gradebook(url, "hitlab") as gb:
        found = item_scores(gb, labs)
    return {
        (student, lab): {name: score for name, (score, _max) in cells.items() if name.endswith("_test")}
        for lab, students in found.items()
        for student, cells in students.items()
    }


def _sequential_nbgrader(
    submitted: Path, labs: list[str], tmp: Path
) -> dict[tuple[str, str], dict[str, float]]:
    """What plain ``nbgrader autograde`` gives, one notebook after another, in the course's own config."""
    course = scratch_course(course_root(), labs, tmp)
    generate(course, labs)
    target = course / "graders" / "work" / "submitted"
    shutil.copytree(submitted, target)
    api = nbgrader_api(course, course / "graders" / "work" / "gradebook.db")
    out = {}
    for path in sorted(target.glob("*/*/*.ipynb")):
        student, lab = path.parent.parent.name, path.parent.name
        graded = autograde(api, lab, student)
        assert graded.success, graded.error
        out[(student, lab)] = {k: v for k, v in graded.scores.items() if k.endswith("_test")}
    return out


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cohort")
    subs, out = tmp / "submitted", tmp / "out"
    expected = make_cohort(subs, LABS, per_lab=5, seed=3)
    before = _checksums(subs)
    run = grade(subs, out, LABS, workers=2)
    return {"tmp": tmp, "subs": subs, "out": out, "expected": expected, "before": before, "run": run}


def test_scores_equal_sequential_nbgrader_and_the_known_answers(cohort):
    ours = _gradebook_scores(f"sqlite:///{cohort['out'] / 'gradebook.db'}", LABS)
    assert ours == cohort["expected"]
    assert _sequential_nbgrader(cohort["subs"], LABS, cohort["tmp"] / "sequential") == ours
    assert {o.status for o in cohort["run"].graded} == {"graded"}


def test_original_submissions_are_byte_identical(cohort):
    assert _checksums(cohort["subs"]) == cohort["before"]


def test_grades_and_status_csv(cohort):
    out = cohort["out"]
    assert (out / "grades.csv").read_text().splitlines()[0] == NBGRADER_EXPORT
    grades = {(r["student_id"], r["assignment"]): float(r["score"]) for r in _csv(out / "grades.csv")}
    assert grades == {key: sum(scores.values()) for key, scores in cohort["expected"].items()}
    status = _csv(out / "status.csv")
    assert list(status[0]) == ["student_id", "assignment", "status", "detail"]
    assert {(r["student_id"], r["assignment"], r["status"]) for r in status} == {
        (s, lab, "graded") for s, lab in cohort["expected"]
    }


class _Svg(HTMLParser):
    """Collects report.html's sections and the bars of its charts."""

    def __init__(self):
        super().__init__()
        self.labs: dict[str, dict[str, list[float]]] = {}
        self.lab = self.figure = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self.lab = attrs["id"]
            self.labs[self.lab] = {}
        elif tag == "figure":
            self.figure = attrs["class"]
            self.labs[self.lab][self.figure] = []
        elif tag == "rect" and attrs.get("class") == "bar":
            self.labs[self.lab][self.figure].append(float(attrs["data-value"]))


def test_report_plots_distribution_and_item_pass_rates(cohort):
    page = _Svg()
    page.feed((cohort["out"] / "report.html").read_text())
    assert sorted(page.labs) == LABS
    for lab in LABS:
        students = {s: v for (s, lab_), v in cohort["expected"].items() if lab_ == lab}
        tests = [c for c in graded_cells(read(source_notebook(course_root(), lab))) if c.kind == "test"]
        distribution = page.labs[lab]["distribution"]
        assert len(distribution) == 10 and sum(distribution) == len(students)
        rates = sorted(page.labs[lab]["items"])
        want = sorted(
            round(100 * sum(1 for v in students.values() if v[c.grade_id] >= c.points) / len(students), 1)
            for c in tests
        )
        assert rates == want


def test_feedback_shows_messages_and_hints_never_solutions(cohort):
    out = cohort["out"]
    secret = set()  # the worked answers: a page shows what the checks said, never what the answer is
    for lab in LABS:
        source = read(source_notebook(course_root(), lab))
        for cell in graded_cells(source):
            if cell.kind == "answer":
                secret |= {
                    line.strip()
                    for m in SOLUTION_BLOCK.finditer(cell.source + "\n")
                    for line in m.group(1).splitlines()
                    if len(line.strip()) > 10 and not line.strip().startswith("#")
                }
    assert secret, "the labs have solutions"
    pages = sorted((out / "feedback").glob("*/*.html"))
    assert len(pages) == len(cohort["expected"])
    for page in pages:
        text = page.read_text()
        assert not [line for line in secret if html.escape(line) in text], page
    blank = (out / "feedback" / "s002" / f"{LABS[0]}.html").read_text()
    assert "Autograded score: <strong>0</strong> of 10 points" in blank
    assert "not attempted yet" in blank and "Hint:" in blank
    perfect = (out / "feedback" / "s001" / f"{LABS[0]}.html").read_text()
    assert "Autograded score: <strong>10</strong> of 10 points" in perfect and "Hint:" not in perfect


def _status_rows(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as con:
            return con.execute("select count(*) from hitlab_status").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def _submissions(db: Path) -> list[tuple[str, str, int]]:
    with sqlite3.connect(db) as con:
        return con.execute(
            "select s.student_id, a.name, count(*) from submitted_assignment s join assignment a"
            " on a.id = s.assignment_id group by 1, 2 order by 1, 2"
        ).fetchall()


def test_interrupted_run_resumes_without_grading_twice(tmp_path):
    subs, out = tmp_path / "submitted", tmp_path / "out"
    expected = make_cohort(subs, LABS[:1], per_lab=6, seed=5)
    db = out / "gradebook.db"
    first = subprocess.Popen([*HITLAB, "grade", str(subs), "--out", str(out), "--workers", "1", "-q"])
    deadline = time.monotonic() + 240
    while _status_rows(db) < 2 and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.2)
    first.send_signal(signal.SIGINT)  # Ctrl-C in the middle of the cohort
    first.wait(60)
    done = _status_rows(db)
    assert 2 <= done < 6
    again = subprocess.run(
        [*HITLAB, "grade", str(subs), "--out", str(out), "-q"], capture_output=True, text=True
    )
    assert again.returncode == 0, again.stderr
    assert f"{6 - done} notebooks" in again.stdout and f"{done} already graded and unchanged" in again.stdout
    assert _submissions(db) == [(s, lab, 1) for s, lab in sorted(expected)]
    assert _gradebook_scores(f"sqlite:///{db}", LABS[:1]) == expected

    changed = subs / "s002" / LABS[0] / f"{LABS[0]}.ipynb"
    shutil.copyfile(subs / "s001" / LABS[0] / f"{LABS[0]}.ipynb", changed)  # s002 resubmits a correct lab
    third = subprocess.run(
        [*HITLAB, "grade", str(subs), "--out", str(out), "-q"], capture_output=True, text=True
    )
    assert "graded 1 notebooks" in third.stdout and "5 already graded" in third.stdout
    with sqlite3.connect(db) as con:  # an instructor grades the written item in formgrader
        con.execute(
            "update grade set manual_score = 1.5 where cell_id in"
            " (select id from base_cell where name = 'lab00_explain_ehr')"
        )
    forced = subprocess.run(
        [*HITLAB, "grade", str(subs), "--out", str(out), "-q", "--force"], capture_output=True, text=True
    )
    assert "graded 6 notebooks" in forced.stdout and "0 already graded" in forced.stdout
    assert _submissions(db) == [(s, lab, 1) for s, lab in sorted(expected)]
    with sqlite3.connect(db) as con:  # regrading kept the manual grades (nbgrader flags them for review)
        kept = con.execute(
            "select count(*) from grade where manual_score = 1.5 and needs_manual_grade"
        ).fetchone()
    assert kept == (6,)
    assert _gradebook_scores(f"sqlite:///{db}", LABS[:1])[("s002", LABS[0])] == expected[("s001", LABS[0])]


def test_lms_zip_with_roster(tmp_path):
    subs = tmp_path / "submitted"
    make_cohort(subs, LABS[:1], per_lab=2, seed=1)
    archive = tmp_path / "downloads.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for student, number in (("s001", 101), ("s002", 102)):
            zf.write(
                subs / student / LABS[0] / f"{LABS[0]}.ipynb", f"{student}_{number}_9{number}_{LABS[0]}.ipynb"
            )
        zf.writestr("syllabus.pdf", b"%PDF-1.4")
    roster = tmp_path / "roster.csv"
    roster.write_text("id,first_name,last_name,email\ns001,Ada,Lovelace,ada@example.org\n"
                      "s002,Bo,Li,bo@example.org\ns003,Cy,Ng,cy@example.org\n")  # fmt: skip
    out = tmp_path / "out"
    done = subprocess.run(
        [*HITLAB, "grade", str(archive), "--out", str(out), "--labs", "lab00", "--roster", str(roster), "-q"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "not graded: syllabus.pdf: not a notebook (.ipynb)" in done.stderr
    assert "graded 2 notebooks" in done.stdout and "missing 1" in done.stdout
    status = {r["student_id"]: (r["status"], r["detail"]) for r in _csv(out / "status.csv")}
    assert status == {"s001": ("graded", ""), "s002": ("graded", ""), "s003": ("missing", "no submission")}
    grades = {
        r["student_id"]: (r["first_name"], r["last_name"], float(r["score"]))
        for r in _csv(out / "grades.csv")
    }
    assert grades == {"s001": ("Ada", "Lovelace", 10.0), "s002": ("Bo", "Li", 0.0), "s003": ("Cy", "Ng", 0.0)}


def test_unsafe_ids_second_uploads_and_exports_safe_to_open(tmp_path):
    """Through ``hitlab grade``: a student id ``.`` or ``..`` gets a status and writes nothing outside its
    place, a second upload of a lab is never picked by sort order (``ambiguous``, both files named), exports
    quote commas and neutralize spreadsheet formulas, and a second run for another lab keeps the first lab
    in report.html."""
    import pandas

    subs = tmp_path / "submitted"
    make_cohort(subs, LABS, per_lab=2, seed=1)
    good = subs / "s001" / LABS[0] / f"{LABS[0]}.ipynb"
    blank = subs / "s002" / LABS[0] / f"{LABS[0]}.ipynb"
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    for name, source in ((f"..__{LABS[0]}.ipynb", good), (f".__{LABS[0]}.ipynb", good),
                         (f"ada__{LABS[0]}.ipynb", good), (f"ada__{LABS[0]}-1.ipynb", blank),
                         (f"bo__{LABS[0]}.ipynb", good)):  # fmt: skip
        shutil.copyfile(source, downloads / name)
    roster = tmp_path / "roster.csv"
    roster.write_text('id,first_name,last_name\nada,"Ada, Jr.",=HYPERLINK("http://x")\nbo,@Bo,+1\n')
    out = tmp_path / "out"
    done = subprocess.run(
        [*HITLAB, "grade", str(downloads), "--out", str(out), "--labs", "lab00", "--roster", str(roster),
         "--pattern", "(?P<student_id>[^_]+)__(?P<file_id>.+)", "-q"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    status = {r["student_id"]: (r["status"], r["detail"]) for r in _csv(out / "status.csv")}
    assert status["bo"] == ("graded", "")
    assert status["ada"][0] == "ambiguous"
    assert f"ada__{LABS[0]}.ipynb" in status["ada"][1] and f"ada__{LABS[0]}-1.ipynb" in status["ada"][1]
    assert {s: v[0] for s, v in status.items() if s.startswith("invalid-")} == {
        "invalid-.": "invalid_submission",
        "invalid-..": "invalid_submission",
    }
    assert sorted(p.name for p in out.iterdir()) == sorted([
        "autograded", "feedback", "grades.csv", "gradebook.db", "gradebook.db.lock", "grading.log", "logs",
        "report.html", "status.csv",
    ])  # fmt: skip
    pages = sorted(str(p.relative_to(out / "feedback")) for p in (out / "feedback").rglob("*.html"))
    assert pages == [f"bo/{LABS[0]}.html"]  # refused submissions are the instructor's to resolve first
    raw = (out / "grades.csv").read_bytes()
    assert b'"Ada, Jr."' in raw and b'\'=HYPERLINK(""http://x"")' in raw and b"'@Bo" in raw
    frame = pandas.read_csv(out / "grades.csv", dtype=str, keep_default_na=False)
    people = {r.student_id: (r.first_name, r.last_name, float(r.score)) for r in frame.itertuples()}
    assert people == {"ada": ("Ada, Jr.", '\'=HYPERLINK("http://x")', 0.0), "bo": ("'@Bo", "'+1", 10.0)}

    for name in (f"..__{LABS[0]}.ipynb", f".__{LABS[0]}.ipynb", f"ada__{LABS[0]}-1.ipynb"):  # the fixes
        (downloads / name).unlink()
    shutil.copyfile(good, downloads / f"dot__{LABS[0]}.ipynb")
    fixed = subprocess.run(
        [*HITLAB, "grade", str(downloads), "--out", str(out), "--labs", "lab00", "--roster", str(roster),
         "--pattern", "(?P<student_id>[^_]+)__(?P<file_id>.+)", "-q"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert "graded 2 notebooks" in fixed.stdout, fixed.stdout + fixed.stderr
    status = {r["student_id"]: r["status"] for r in _csv(out / "status.csv")}
    assert status == {"ada": "graded", "bo": "graded", "dot": "graded"}

    again = subprocess.run([*HITLAB, "grade", str(subs), "--out", str(out), "--labs", "lab01", "-q"],
                           capture_output=True, text=True)  # fmt: skip
    assert again.returncode == 0, again.stderr
    page = _Svg()
    page.feed((out / "report.html").read_text())
    assert sorted(page.labs) == LABS


def test_bad_arguments_are_clear(tmp_path):
    done = subprocess.run([*HITLAB, "grade", str(tmp_path), "--out", str(tmp_path / "o"), "--labs", "lab99"],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 2 and "no lab 'lab99'" in done.stderr
    roster = tmp_path / "roster.csv"
    roster.write_text("id,first_name\n,Ada\n")
    done = subprocess.run([*HITLAB, "grade", str(tmp_path), "--out", str(tmp_path / "o"), "--roster", str(roster)],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 2 and f"{roster}, line 2: a roster row without a student id" in done.stderr


def test_two_graders_into_one_postgresql_gradebook(tmp_path, postgres_db):
    import psycopg

    subs = tmp_path / "submitted"
    expected = make_cohort(subs, LABS, per_lab=3, seed=9)
    graders = [
        subprocess.Popen(
            [
                *HITLAB,
                "grade",
                str(subs),
                "--out",
                str(tmp_path / f"out-{lab}"),
                "--labs",
                lab,
                "--db-url",
                postgres_db,
                "--workers",
                "1",
                "-q",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for lab in LABS
    ]
    for proc in graders:
        stdout, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, stderr
        assert "graded 3 notebooks" in stdout
    with psycopg.connect(postgres_db) as con:
        rows = con.execute(
            "select s.student_id, a.name, count(*) from submitted_assignment s join assignment a"
            " on a.id = s.assignment_id group by 1, 2 order by 1, 2"
        ).fetchall()
        statuses = con.execute(
            "select student_id, assignment, status from hitlab_status order by 2, 1"
        ).fetchall()
    assert rows == [(s, lab, 1) for s, lab in sorted(expected)]
    assert statuses == [(s, lab, "graded") for s, lab in sorted(expected, key=lambda k: (k[1], k[0]))]
    url = "postgresql+psycopg://" + postgres_db.split("://", 1)[1]
    assert _gradebook_scores(url, LABS) == expected


def test_every_lab_grades_in_the_sandbox(tmp_path):
    """The sandbox must not change a score: a correct and a blank submission of every other lab (lab 03 runs an
    MLLP listener on the kernel's own loopback; lab 04 reads the dataset's files; lab 06 writes notes for another
    population; lab 07 runs a SMART authorization server, a FHIR API and TLS servers on loopback, with keys and
    certificates in the kernel's temporary folder; lab 08 writes a warehouse and plots with matplotlib; lab 09
    reads the analytics datasets and fits scikit-learn models; lab 10 reads the default HL7 v2 feed and crashes
    and restarts sqlite-backed consumers in the kernel's temporary folder) get exactly their points."""
    labs = ["lab02", "lab03", "lab04", "lab05", "lab06", "lab07", "lab08", "lab09", "lab10"]
    expected = make_cohort(tmp_path / "submitted", labs, per_lab=2, seed=2)
    run = grade(tmp_path / "submitted", tmp_path / "out", labs, workers=2)
    assert {(o.student, o.lab, o.status) for o in run.graded} == {(s, lab, "graded") for s, lab in expected}
    names = sorted({lab for _s, lab in expected})
    assert _gradebook_scores(f"sqlite:///{tmp_path / 'out' / 'gradebook.db'}", names) == expected


def test_no_sandbox(tmp_path):
    """``--no-sandbox`` (for a container that is itself the boundary) grades the same, and says so; as root
    it runs kernels under their own user ids, so it refuses where those cannot reach the interpreter. (As a
    normal user, with a planted link: tests/test_grading_user.py.)"""
    from hitlab.grading.runner import _needed_paths
    from hitlab.grading.sandbox import unreachable

    subs = tmp_path / "submitted"
    expected = make_cohort(subs, LABS[:1], per_lab=2, seed=4)
    done = subprocess.run([*HITLAB, "grade", str(subs), "--out", str(tmp_path / "out"), "--no-sandbox", "-q"],
                          capture_output=True, text=True)  # fmt: skip
    blocked = unreachable(_needed_paths(), 64000) if os.geteuid() == 0 else None
    if blocked:
        assert done.returncode == 2
        assert f"cannot pass {blocked}: install Python where every user can run it" in done.stderr
        return
    assert done.returncode == 0, done.stderr
    assert "warning: sandbox off: --no-sandbox (kernels run unconfined)" in done.stderr
    assert "sandbox: off: --no-sandbox" in (tmp_path / "out" / "grading.log").read_text()
    assert _gradebook_scores(f"sqlite:///{tmp_path / 'out' / 'gradebook.db'}", LABS[:1]) == expected
