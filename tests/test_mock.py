"""``hitlab mock`` end to end for every track: a draw, answers right, known-wrong and blank, grading by the
labs' real checks in a fresh kernel, assessed written answers, the interviewer's sheet, progress per topic;
and the failures a user can cause (unknown track, too short, damaged records, bad assessments)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner

from hitlab.checks import questions
from hitlab.cli import main
from hitlab.course.notebooks import graded_cells, lab_names, read, solution_code, source_notebook
from hitlab.errors import InputError
from hitlab.mock import attempts
from hitlab.mock.attempts import Attempt, Drawn, Result
from hitlab.mock.clock import clock_text
from hitlab.mock.interview import SPOKEN, draw
from hitlab.mock.pool import POOL_FILE, PoolError, load_pool
from hitlab.mock.topics import topic_progress, weakest
from workbook_copy import REPO, workbook_copy

TRACKS = ("interface-engineer", "data-engineer", "fhir-developer", "privacy-security", "data-scientist")


@pytest.fixture(scope="module")
def workbook(tmp_path_factory) -> Path:
    labs = tuple(lab for lab in lab_names(REPO) if lab != "lab00_orientation")
    return workbook_copy(tmp_path_factory.mktemp("workbook"), labs=labs)


@pytest.fixture
def home(workbook, tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("HITLAB_ROOT", str(workbook))
    monkeypatch.setenv("HITLAB_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture(scope="module")
def pool():
    return load_pool(REPO)


def run(*args: str, ok: bool = True):
    result = CliRunner().invoke(main, list(args))
    if ok:
        assert result.exit_code == 0, result.output + repr(result.exception)
    return result


# -- the pool ----------------------------------------------------------------------------------------------------


def test_every_graded_item_is_in_the_pool_and_runs_on_its_own(pool):
    for lab in lab_names(REPO):
        if lab == "lab00_orientation":
            continue
        for cell in graded_cells(read(source_notebook(REPO, lab))):
            item_id = cell.grade_id.removesuffix("_test")
            if cell.kind in ("test", "manual"):
                assert item_id in pool.items, f"{lab}: {item_id} is not in {POOL_FILE.name}"
    assert all(item.standalone for item in pool.items.values()), [
        (i.id, i.needs) for i in pool.items.values() if not i.standalone
    ]


@pytest.mark.parametrize("track", TRACKS)
def test_every_track_can_fill_several_interviews(pool, track):
    items = pool.drawable(track)
    auto = [i for i in items if i.kind == "auto"]
    assert len(auto) >= 14 and sum(i.minutes for i in auto) >= 120
    assert sum(i.kind == "written" and i.topic in SPOKEN for i in items) >= 2
    assert any(i.kind == "written" and i.topic not in SPOKEN for i in items)
    assert all(i.probes and i.minutes >= 3 for i in items)


def test_a_bad_pool_file_is_named_with_its_place(tmp_path):
    bad = tmp_path / "pool.toml"
    bad.write_text('[tracks.a]\ntitle = "A"\n\n[items.lab02_age_at_encounter\nminutes = 5\n')
    with pytest.raises(PoolError, match=r"pool\.toml: .*line 4"):
        load_pool(REPO, bad)
    text = POOL_FILE.read_text(encoding="utf-8")
    bad.write_text(text + '\n[items.lab99_nothing]\nminutes = 5\nprobes = ["?"]\n')
    with pytest.raises(PoolError, match="name no graded item of the labs: lab99_nothing"):
        load_pool(REPO, bad)
    bad.write_text(
        text.replace(
            "[items.lab02_age_at_encounter]\n", '[items.lab02_age_at_encounter]\ntracks = ["chef"]\n', 1
        )
    )
    with pytest.raises(PoolError, match=r"\[items.lab02_age_at_encounter\]: unknown tracks chef"):
        load_pool(REPO, bad)


# -- the draw ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("track", TRACKS)
def test_a_draw_fills_the_time_with_a_mix_and_changes_with_practice(pool, track):
    for minutes in (15, 30, 45, 90):
        items = draw(pool, track, minutes, [], seed=minutes)
        assert sum(i.minutes for i in items) <= minutes
        assert any(i.kind == "auto" for i in items)
        assert (sum(i.topic in SPOKEN for i in items if i.kind == "written") >= 1) == (minutes >= 20)
        assert any(i.kind == "written" and i.topic not in SPOKEN for i in items) == (minutes >= 40)
        assert [i.id for i in draw(pool, track, minutes, [], seed=minutes)] == [i.id for i in items]
    first = draw(pool, track, 45, [], seed=1)
    record = Attempt(
        "20261201-090000-x-0001",
        track,
        45,
        1,
        "2026-12-01T09:00:00+00:00",
        "",
        [Drawn(i.id, i.lab, i.kind, i.points, i.topic, i.minutes, i.section) for i in first],
    )
    second = draw(pool, track, 45, [record], seed=1)  # the same seed: only the history differs
    assert not {i.id for i in first if i.kind == "auto"} & {i.id for i in second if i.kind == "auto"}


def test_bad_requests_get_clear_errors(home):
    result = run("mock", "--track", "chef", "--no-lab", ok=False)
    assert (
        result.exit_code == 2
        and "no track 'chef'; tracks: interface-engineer, data-engineer" in result.output
    )
    result = run("mock", "--track", "data-engineer", "--minutes", "2", "--no-lab", ok=False)
    assert result.exit_code == 2
    assert "a 2-minute interview cannot hold one question of the data-engineer track: its shortest takes" in (
        result.output
    )
    result = run("mock", "--track", "data-engineer", "--minutes", "500", "--no-lab", ok=False)
    assert result.exit_code == 2 and "at most 180 minutes" in result.output
    result = run("mock", "--no-lab", ok=False)
    assert result.exit_code == 2 and "--track" in result.output
    result = run("mock", "score", ok=False)
    assert result.exit_code == 2 and "no mock interview recorded yet" in result.output
    assert not home.exists() or not list((home / "mock").glob("*.json"))


# -- end to end --------------------------------------------------------------------------------------------------


def _answer_sources(pool, item_id: str) -> tuple[str, str, str]:
    """(answer cell grade id, a right answer, a known-wrong answer) of an auto item."""
    item = pool.items[item_id]
    cell = item.source_cells[0]
    q = {q.grade_id: q for q in questions(item.lab)}[item_id]
    return cell.metadata["nbgrader"]["grade_id"], solution_code(cell.source), q.wrong[0]


@pytest.mark.parametrize("track", TRACKS)
def test_a_mock_interview_end_to_end(home, workbook, pool, track):
    result = run("mock", "--track", track, "--minutes", "30", "--seed", "7", "--no-lab")
    attempt = attempts.latest()
    assert f"mock interview {attempt.id}: {len(attempt.items)} questions, 30 minutes" in result.output
    path = workbook / attempt.notebook
    nb = nbformat.read(path, as_version=4)
    text = json.dumps(nb.cells)
    for secret in ("BEGIN SOLUTION", "HIDDEN TESTS", "MARK SCHEME", "**Rubric**"):
        assert secret not in text, f"the candidate's notebook holds {secret}"
    auto = [d for d in attempt.items if d.kind == "auto"]
    written = [d for d in attempt.items if d.kind == "written"]
    assert len(auto) >= 2 and written
    right_cell, right, _ = _answer_sources(pool, auto[0].id)
    wrong_cell, _, wrong = _answer_sources(pool, auto[1].id)
    assert right_cell != wrong_cell
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid == right_cell:
            cell.source = right
        elif gid == wrong_cell:
            cell.source = wrong
        elif gid == written[0].id:
            cell.source = "Situation: the lab feed stopped at 2 a.m. ..."
    nbformat.write(nb, path)

    spoken = written[0]
    result = run("mock", "score", attempt.id, "--assessor", "peer", "--points", f"{spoken.id}=1")
    scored = attempts.load(attempt.id)
    assert scored.results[auto[0].id] == Result(auto[0].points, auto[0].points, "checks", "")
    assert scored.results[auto[1].id].score == 0 and scored.results[auto[1].id].graded_by == "checks"
    assert scored.results[auto[1].id].message  # the check's own feedback
    for d in auto[2:]:  # left blank
        assert scored.results[d.id].score == 0
        assert "not attempted" in scored.results[d.id].message.lower()
    assert scored.results[spoken.id] == Result(1.0, spoken.points, "peer")
    for d in written[1:]:  # never scored by the machine: waits for a person
        assert d.id not in scored.results
    assert ("not assessed yet" in result.output) == bool(written[1:]) and "peer" in result.output
    assert scored.score() == (auto[0].points + 1, sum(d.points for d in auto) + spoken.points)
    assert scored.elapsed_minutes is not None and scored.elapsed_minutes >= 0

    result = run("check", str(path), ok=False)  # a lab's grading would misread it
    assert (
        result.exit_code == 2
        and f"a mock interview's notebook: grade it with `hitlab mock score {attempt.id}`"
        in (result.output.replace("\n", ""))
    )
    result = run("progress")
    assert "mock interviews: 1 scored" in result.output
    lost = auto[1]
    assert lost.topic in result.output and "Weakest topics" in result.output
    assert lost.section.split(" ", 1)[0] in result.output


# -- the interviewer's sheet, the clock, the record ---------------------------------------------------------------


def test_the_interviewers_sheet_holds_what_the_candidate_must_not_see(home, workbook, pool, tmp_path):
    run("mock", "--track", "interface-engineer", "--minutes", "60", "--seed", "3", "--no-lab")
    attempt = attempts.latest()
    sheet = tmp_path / "sheet.html"
    result = run("mock", "--interviewer", "--attempt", attempt.id, "--html", str(sheet))
    assert f"interviewer's sheet: {sheet}" in result.output
    page = sheet.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<h2>Scoring</h2>" in page
    for d in attempt.items:
        item = pool.items[d.id]
        assert f"<code>{d.id}</code>" in page
        for probe in item.probes:
            assert (
                probe.split("`")[0].replace("'", "&#x27;").replace('"', "&quot;")[:40] in page
                or probe[:20] in page
            )
        if item.kind == "written":
            assert "Rubric" in page
    printed = run("mock", "--interviewer").output  # the latest attempt, as Markdown
    assert printed.startswith("# Interviewer's sheet: Interface engineer, 60 minutes")
    assert printed.count("### Follow-up probes") == len(attempt.items)
    assert "Worked answer" in printed


def test_clock_text():
    attempt = Attempt(
        "20261201-090000-data-engineer-0001", "data-engineer", 45, 1, "2026-12-01T09:00:00+00:00", "", []
    )
    from datetime import datetime

    assert clock_text(attempt, datetime.fromisoformat("2026-12-01T09:12:30+00:00")) == (
        "Started 09:00 UTC, ends 09:45 UTC: 45 minutes, 32 left."
    )
    assert clock_text(attempt, datetime.fromisoformat("2026-12-01T09:50:00+00:00")).endswith("time is up.")


def _record(attempt_id: str, started: str, results: dict[str, tuple[str, str, float, float]]) -> Attempt:
    items = [
        Drawn(i, "lab03_hl7v2_messaging", "auto", p, topic, 8, section)
        for i, (topic, section, _, p) in results.items()
    ]
    return Attempt(
        attempt_id,
        "interface-engineer",
        45,
        1,
        started,
        "",
        items,
        results={i: Result(s, p, "checks") for i, (_, _, s, p) in results.items()},
    )


def test_progress_per_topic_trend_and_weakest():
    a = _record(
        "20261201-090000-interface-engineer-0001",
        "2026-12-01T09:00:00+00:00",
        {
            "lab03_ack_code": ("HL7 v2", "lab03 §3 ACKs", 0, 3),
            "lab03_mllp_encode": ("HL7 v2", "lab03 §4 MLLP", 2, 2),
            "lab05_v2_to_fhir": ("interoperability", "lab05 §1 Mapping", 4, 4),
        },
    )
    b = _record(
        "20261202-090000-interface-engineer-0002",
        "2026-12-02T09:00:00+00:00",
        {
            "lab03_route": ("HL7 v2", "lab03 §5 Routing", 3, 4),
            "lab05_concept_map": ("interoperability", "lab05 §2 ConceptMap", 1, 4),
        },
    )
    progress = {tp.topic: tp for tp in topic_progress([a, b])}
    assert progress["HL7 v2"].trend() == "40% → 75%"
    assert progress["HL7 v2"].level == pytest.approx((0.4 + 0.75) / 2)
    assert progress["interoperability"].trend() == "100% → 25%"
    assert progress["HL7 v2"].lost == {
        "lab03 §3 ACKs": {"lab03_ack_code"},
        "lab03 §5 Routing": {"lab03_route"},
    }
    assert [tp.topic for tp in weakest(list(progress.values()))] == ["HL7 v2", "interoperability"]


def test_a_damaged_record_is_reported_and_never_overwritten(home, workbook):
    good = _record(
        "20261201-090000-interface-engineer-0001",
        "2026-12-01T09:00:00+00:00",
        {"lab03_ack_code": ("HL7 v2", "lab03 §3 ACKs", 1, 3)},
    )
    attempts.save(good)
    damaged = attempts.mock_home() / "20261202-090000-interface-engineer-0002.json"
    damaged.write_bytes(b'{"id": "20261202-090000-interface-engineer-0002", "items": [\n  {"id": ')
    before = damaged.read_bytes()
    result = run("progress")
    assert (
        f"skipped a damaged mock-interview record: {damaged}: damaged JSON at line 2"
        in result.output.replace("\n", "")
    )
    assert "HL7 v2" in result.output and "33%" in result.output
    result = run("mock", "score", "20261202-090000-interface-engineer-0002", ok=False)
    assert result.exit_code == 2 and "damaged JSON at line 2, column" in result.output
    assert "the file was left as it is" in result.output
    assert damaged.read_bytes() == before
    assert attempts.load(good.id) == good


def test_a_damaged_progress_file_is_kept_aside(home):
    from hitlab.progress import load_progress, progress_file, record

    progress_file().parent.mkdir(parents=True)
    progress_file().write_text('{"lab02_sql_patient_data": {"score": 3', encoding="utf-8")
    record("lab03_hl7v2_messaging", "x.ipynb", 5, 10, {})
    kept = list(progress_file().parent.glob("progress.json.damaged-*"))
    assert len(kept) == 1 and kept[0].read_text(encoding="utf-8") == '{"lab02_sql_patient_data": {"score": 3'
    assert load_progress()["lab03_hl7v2_messaging"]["score"] == 5


def test_assessments_are_checked_and_recorded_with_who_gave_them(home, workbook, pool):
    run("mock", "--track", "privacy-security", "--minutes", "25", "--seed", "11", "--no-lab")
    attempt = attempts.latest()
    written = next(d for d in attempt.items if d.kind == "written")
    auto = next(d for d in attempt.items if d.kind == "auto")
    result = run("mock", "score", "--points", f"{written.id}={written.points + 1:g}", ok=False)
    assert (
        result.exit_code == 2
        and f"{written.id}: points are between 0 and {written.points:g}" in result.output
    )
    result = run("mock", "score", "--points", f"{auto.id}=1", ok=False)
    assert (
        result.exit_code == 2
        and f"'{auto.id}' is not a written question of attempt {attempt.id}" in result.output
    )
    result = run("mock", "score", "--points", "nonsense", ok=False)
    assert result.exit_code == 2 and "write ITEM=POINTS" in result.output
    assert attempts.load(attempt.id).results == {}  # nothing recorded by a refused command
    asked = [d for d in attempt.items if d.kind == "written"]
    result = CliRunner().invoke(
        main, ["mock", "score", "--ask"], input="".join(f"{d.points:g}\n" for d in asked)
    )
    assert result.exit_code == 0, result.output
    assert f"points for {written.id} (0 to {written.points:g}, empty to skip)" in result.output
    assert "Mark scheme:" in result.output  # the rubric is shown before the points are asked
    recorded = attempts.load(attempt.id).results
    assert all(recorded[d.id] == Result(d.points, d.points, "self") for d in asked)
    assert all(recorded[d.id].graded_by == "checks" for d in attempt.items if d.kind == "auto")
    other = workbook / attempt.notebook
    shutil.copyfile(other, other.with_suffix(".bak"))
    nb = nbformat.read(other, as_version=4)
    nb.metadata["hitlab"]["mock"] = "20261201-090000-data-engineer-0001"
    nbformat.write(nb, other)
    with pytest.raises(InputError, match="not the notebook of mock interview"):
        from hitlab.api import score_mock

        score_mock(attempt.id)
    assert re.match(attempts.ATTEMPT_ID.pattern, attempt.id)


@pytest.mark.parametrize("lab", [lab for lab in lab_names(REPO) if lab != "lab00_orientation"])
def test_every_item_of_the_pool_grades_in_a_mock_as_in_its_lab(home, workbook, pool, lab):
    """A mock holding every auto item of ``lab``, answered with the worked answers: full marks for each, as in
    the lab, so no item depends on an exercise the draw may leave out."""
    from hitlab.mock.interview import notebook
    from hitlab.mock.scoring import score

    items = [i for i in pool.items.values() if i.lab == lab and i.kind == "auto"]
    attempt = Attempt(
        attempts.new_id("data-engineer", attempts.now(), len(lab)),
        "data-engineer",
        180,
        len(lab),
        attempts.now().isoformat(),
        f"work/mock/{lab}.ipynb",
        [Drawn(i.id, i.lab, i.kind, i.points, i.topic, i.minutes, i.section) for i in items],
    )
    nb = notebook(pool, attempt)
    worked = {
        i.source_cells[0].metadata["nbgrader"]["grade_id"]: solution_code(i.source_cells[0].source)
        for i in items
    }
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in worked:
            cell.source = worked[gid]
    path = workbook / attempt.notebook
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    scored = score(pool, workbook, attempt)
    assert {k: (r.score, r.message) for k, r in scored.results.items()} == {
        i.id: (i.points, "") for i in items
    }
