"""The learner's working copy (hitlab.work): seeded from labs/ once, never overwritten, updated to a newer
release with the learner's answers and cells carried over and the old copy kept."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner

from hitlab.cli import main
from hitlab.selfcheck import check_notebook
from hitlab.work import SEED_RECORD, WorkError, merge, outdated, prepare, update, working_notebook
from workbook_copy import workbook_copy

LAB = "lab00_orientation"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return workbook_copy(tmp_path / "workbook")


def release(root: Path) -> Path:
    return root / "labs" / LAB / f"{LAB}.ipynb"


def cell(nb, *, grade_id: str | None = None, cell_id: str | None = None):
    for c in nb.cells:
        if grade_id and c.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return c
        if cell_id and c.get("id") == cell_id:
            return c
    raise KeyError(grade_id or cell_id)


def index(nb, predicate) -> int:
    return next(i for i, c in enumerate(nb.cells) if predicate(c))


def write(nb, path: Path) -> None:
    path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")


def test_prepare_seeds_each_lab_once_and_records_its_release(root):
    space = prepare(root)
    notebook = working_notebook(LAB, root)
    assert space.seeded == [LAB] and space.outdated == []
    assert notebook.read_bytes() == release(root).read_bytes()
    record = json.loads((root / "work" / SEED_RECORD).read_text())
    assert record["labs"][LAB]["sha256"] == hashlib.sha256(release(root).read_bytes()).hexdigest()
    assert (root / "work" / ".hitlab-seed" / f"{LAB}.ipynb").read_bytes() == release(root).read_bytes()
    assert any("your notebooks are in" in line for line in space.notices())

    # The learner's work is never overwritten: a second prepare leaves it alone.
    notebook.write_text(notebook.read_text().replace("raise NotImplementedError()", "x = 1", 1))
    mine = notebook.read_bytes()
    again = prepare(root)
    assert again.seeded == [] and again.outdated == [] and again.notices() == []
    assert notebook.read_bytes() == mine


def test_prepare_seeds_a_deleted_copy_again_and_new_labs(root):
    prepare(root)
    working_notebook(LAB, root).unlink()
    assert prepare(root).seeded == [LAB]
    assert working_notebook(LAB, root).is_file()


def test_a_newer_release_is_noticed_not_taken(root):
    prepare(root)
    mine = working_notebook(LAB, root).read_bytes()
    nb = nbformat.read(release(root), as_version=4)
    nb.cells[0].source += "\n\nRevised."
    write(nb, release(root))
    space = prepare(root)
    assert space.outdated == [LAB] == outdated(root)
    notice = space.notices()
    assert len(notice) == 1 and f"newer release of {LAB}" in notice[0] and "hitlab update" in notice[0]
    assert working_notebook(LAB, root).read_bytes() == mine


def test_a_copy_without_seed_record_counts_as_outdated_unless_it_is_the_release(root):
    (root / "work" / LAB).mkdir(parents=True)
    working_notebook(LAB, root).write_bytes(release(root).read_bytes())
    assert prepare(root).outdated == []
    (root / "work" / SEED_RECORD).unlink()
    nb = nbformat.read(release(root), as_version=4)
    cell(nb, grade_id="lab00_standards_body").source = 'standards_body = "B"'
    write(nb, working_notebook(LAB, root))
    assert prepare(root).outdated == [LAB]


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-C", str(root), *args],
        check=True,
        capture_output=True,
        env={**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"},
    )


def test_answers_given_in_labs_before_work_existed_move_to_work_and_survive_an_update(root):
    """A learner who answered in labs/ (tracked) keeps those answers: they count as the learner's, not the
    release's, because the release is what git committed."""
    git(root, "init", "-q")
    git(root, "add", "labs")
    git(root, "commit", "-q", "-m", "release 1")
    nb = nbformat.read(release(root), as_version=4)
    cell(nb, grade_id="lab00_standards_body").source = 'standards_body = "B"'
    write(nb, release(root))

    space = prepare(root)
    assert space.seeded == [LAB] and space.moved == [LAB] and space.outdated == []
    assert any("git checkout -- labs" in line for line in space.notices())
    assert 'standards_body = \\"B\\"' in working_notebook(LAB, root).read_text()
    git(root, "checkout", "--", "labs")
    assert prepare(root).outdated == []

    new_release(root)
    git(root, "commit", "-q", "-am", "release 2")
    assert prepare(root).outdated == [LAB]
    (report,) = update(root=root)
    assert "lab00_standards_body" in report.merge.carried
    new = nbformat.read(working_notebook(LAB, root), as_version=4)
    assert cell(new, grade_id="lab00_standards_body").source == 'standards_body = "B"'


def new_release(root: Path) -> None:
    """A later release of lab00: a reworded cell, a new Q1 stub, Q6 dropped, a new closing cell."""
    nb = nbformat.read(release(root), as_version=4)
    cell(nb, cell_id="lab00-03").source += "\n\nReworded in the new release."
    cell(nb, grade_id="lab00_standards_body").source = "# YOUR CODE HERE\nstandards_body = None"
    nb.cells = [c for c in nb.cells if c.get("id") not in ("lab00-22", "lab00-23")]  # Q6's answer and test
    nb.cells.append(nbformat.v4.new_markdown_cell("## New in this release", id="lab00-99"))
    write(nb, release(root))


def test_update_carries_answers_and_cells_over_and_keeps_a_backup(root):
    prepare(root)
    path = working_notebook(LAB, root)
    old = nbformat.read(path, as_version=4)
    cell(old, grade_id="lab00_standards_body").source = 'standards_body = "B"'
    cell(old, grade_id="lab00_hie").source = 'hie = "B"'  # Q6: the new release drops it
    cell(old, grade_id="lab00_explain_ehr").source = "An EHR is the hospital's clinical record system."
    cell(old, cell_id="lab00-05").source += "\n\nMy note on the landscape."  # unchanged in the new release
    cell(old, cell_id="lab00-03").source += "\n\nMy note on the workbook."  # changed in the new release
    after_q1 = index(old, lambda c: c.get("id") == "lab00-08") + 1
    old.cells.insert(after_q1, nbformat.v4.new_code_cell("# my scratch\nprint(42)", id="mine-1"))
    after_q6 = index(old, lambda c: c.get("id") == "lab00-22") + 1
    old.cells.insert(after_q6, nbformat.v4.new_markdown_cell("Why B: HIEs move data.", id="mine-2"))
    old.cells[after_q1].outputs = [nbformat.v4.new_output("stream", text="42\n")]
    write(old, path)
    before = path.read_bytes()
    new_release(root)

    when = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
    (report,) = update(root=root, now=when)
    assert report.status == "updated"
    assert report.backup is not None and report.backup.parent == path.parent
    assert report.backup.name.startswith(f"{LAB}.backup-") and report.backup.read_bytes() == before
    new = nbformat.read(path, as_version=4)
    nbformat.validate(new)

    assert report.merge.carried == ["lab00_standards_body", "lab00_explain_ehr"]
    assert cell(new, grade_id="lab00_standards_body").source == 'standards_body = "B"'
    assert cell(new, grade_id="lab00_explain_ehr").source.startswith("An EHR is")
    # An answer the learner never touched shows the new release's stub.
    assert (
        cell(new, grade_id="lab00_hipaa_roles").source
        == cell(nbformat.read(release(root), as_version=4), grade_id="lab00_hipaa_roles").source
    )
    # The learner's cells follow the cell they followed (or the nearest one still there), without outputs.
    scratch = index(new, lambda c: c.get("id") == "mine-1")
    assert new.cells[scratch - 1].get("id") == "lab00-08" and new.cells[scratch].outputs == []
    note = index(new, lambda c: c.get("id") == "mine-2")
    assert new.cells[note - 1].get("id") == "lab00-21"
    # An edit of a cell the new release left alone is kept; one it changed is not lost either.
    assert cell(new, cell_id="lab00-05").source.endswith("My note on the landscape.")
    assert cell(new, cell_id="lab00-03").source.endswith("Reworded in the new release.")
    heading = index(new, lambda c: c.source.startswith("## From your previous copy"))
    assert report.backup.name in new.cells[heading].source
    tail = [c.source for c in new.cells[heading + 1 :]]
    assert 'hie = "B"' in tail and any(s.endswith("My note on the workbook.") for s in tail)
    assert all("nbgrader" not in c.metadata for c in new.cells[heading + 1 :])
    assert cell(new, cell_id="lab00-99").source == "## New in this release"
    assert any("lab00_hie" in item for item in report.merge.unplaced)
    summary = report.summary()
    assert "answers carried over: lab00_standards_body, lab00_explain_ehr" in summary
    assert "your code cell '# my scratch'" in summary and str(report.backup) in summary

    # The new copy follows the new release: nothing more to update, and no notice.
    assert prepare(root).outdated == []
    (again,) = update(root=root)
    assert again.status == "up to date" and path.read_bytes() != before


def test_merge_without_the_seed_copy_keeps_every_changed_answer_and_unknown_cell():
    base = nbformat.v4.new_notebook()
    answer = nbformat.v4.new_code_cell("# YOUR CODE HERE", id="a")
    answer.metadata["nbgrader"] = {"grade_id": "lab99_q1", "solution": True, "grade": False}
    intro = nbformat.v4.new_markdown_cell("Intro", id="i")
    base.cells = [intro, answer]
    old = nbformat.from_dict(json.loads(nbformat.writes(base)))
    old.cells[1].source = "x = 1"
    old.cells.insert(1, nbformat.v4.new_code_cell("print('mine')", id="m"))
    new, report = merge(old, base, base=None)
    assert [c.source for c in new.cells] == ["Intro", "print('mine')", "x = 1"]
    assert report.carried == ["lab99_q1"] and report.unplaced == []


def test_update_names_labs_and_refuses_unknown_ones(root):
    (seeded,) = update(["lab00"], root=root)
    assert seeded.status == "seeded" and working_notebook(LAB, root).is_file()
    (same,) = update([f"work/{LAB}"], root=root)
    assert same.status == "up to date"
    with pytest.raises(WorkError, match=r"no lab 'lab42' in labs/; labs: lab00_orientation"):
        update(["lab42"], root=root)


def test_hitlab_update_command(root, monkeypatch):
    monkeypatch.setenv("HITLAB_ROOT", str(root))
    runner = CliRunner()
    first = runner.invoke(main, ["update"])
    assert first.exit_code == 0 and f"{LAB}: seeded" in first.output
    new_release(root)
    result = runner.invoke(main, ["update", "lab00"])
    assert result.exit_code == 0, result.output
    assert f"{LAB}: updated" in result.output and "your previous copy is" in result.output
    bad = runner.invoke(main, ["update", "nope"])
    assert bad.exit_code == 2 and "error: no lab 'nope'" in bad.output


@pytest.mark.notebook
def test_hitlab_check_grades_a_working_copy(root, tmp_path, monkeypatch):
    """`hitlab check work/<lab>/<lab>.ipynb` works as on labs/ (the lab is found by its grade ids)."""
    monkeypatch.setenv("HITLAB_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(root)
    prepare(root)
    path = working_notebook(LAB, root)
    nb = nbformat.read(path, as_version=4)
    cell(nb, grade_id="lab00_standards_body").source = 'standards_body = "B"'
    write(nb, path)
    result = CliRunner().invoke(main, ["check", f"work/{LAB}/{LAB}.ipynb"])
    assert result.exit_code == 0, result.output
    assert LAB in result.output
    report = check_notebook(path, save=False)
    assert (report.lab, report.score) == (LAB, 1)
