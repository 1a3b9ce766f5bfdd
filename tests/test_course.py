"""The course pipeline: lint rules, deterministic builds, and the grading proof of every lab (real nbgrader)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from course_proof import prove_grading, proven_in_own_file
from hitlab.course import build, lint, verify
from hitlab.course.notebooks import read, write
from hitlab.course.verify import _names, wrong_packs

ROOT = Path(__file__).parents[1]
LABS = sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir())


def copy_course(tmp_path: Path, lab: str) -> Path:
    root = tmp_path / "course"
    (root / "graders").mkdir(parents=True)
    shutil.copy2(ROOT / "graders" / "nbgrader_config.py", root / "graders")
    shutil.copytree(ROOT / "solutions" / lab, root / "solutions" / lab)
    shutil.copytree(ROOT / "labs" / lab, root / "labs" / lab)
    return root


def test_the_guides_list_exactly_the_labs_there_are():
    """The README's lab table says "yes" for every lab in ``solutions/`` and no other; the learner's guide and
    the instructor's table of written items name each of them."""
    import re

    rows = re.findall(
        r"^\| (\d\d) \| `(\w+)` \|.*\| (yes|not yet) \|$", (ROOT / "README.md").read_text(), re.M
    )
    assert sorted(f"lab{n}_{slug}" for n, slug, available in rows if available == "yes") == LABS
    guide = (ROOT / "labs" / "README.md").read_text()
    graders = (ROOT / "graders" / "README.md").read_text()
    for lab in LABS:
        assert f"`{lab}`" in guide, lab
        assert f"| {lab} | `{lab[:5]}_" in graders, lab


def test_every_lab_lints_clean():
    assert lint() == []


def test_build_is_deterministic_and_matches_the_committed_labs(tmp_path):
    """Building twice gives byte-identical notebooks, equal to labs/ in the repository."""
    for lab in LABS:
        root = copy_course(tmp_path / lab, lab)
        first = build([lab], root=root)[0].read_bytes()
        second = build([lab], root=root)[0].read_bytes()
        assert first == second == (ROOT / "labs" / lab / f"{lab}.ipynb").read_bytes()
        released = json.loads(first)
        assert all(
            not c.get("outputs") and c.get("execution_count") is None
            for c in released["cells"]
            if c["cell_type"] == "code"
        )


def test_lint_names_each_broken_rule(tmp_path):
    lab = LABS[0]
    root = copy_course(tmp_path, lab)
    path = root / "solutions" / lab / f"{lab}.ipynb"
    nb = read(path)
    tests = [
        c
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("grade") and not c.metadata["nbgrader"].get("solution")
    ]
    tests[0].metadata["nbgrader"]["locked"] = False
    tests[1].source = tests[1].source.split("\n", 1)[1]  # drop the docstring
    tests[2].source += "\n1"
    answers = [
        c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"
    ]
    answers[0].metadata["nbgrader"]["grade_id"] = "lab99_stray"
    write(nb, path)
    problems = "\n".join(lint([lab], root=root))
    assert "is not locked" in problems
    assert "does not open with a one-line docstring" in problems
    assert "ends with a bare number" in problems
    assert "'lab99_stray' is not of the form" in problems
    assert "has no question in hitlab.checks" in problems


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.parametrize("lab", [lab for lab in LABS if not proven_in_own_file(lab)])
def test_verify_proves_the_grading(lab):
    """Solution: full marks; released: zero; each known-wrong answer: loses exactly its points. (Labs with a
    test file of their own prove it there, so that the suite's workers share the work.)"""
    prove_grading(lab)


@pytest.mark.notebook
def test_verify_catches_a_stale_release_and_a_leak(tmp_path):
    lab = LABS[0]
    root = copy_course(tmp_path, lab)
    released = root / "labs" / lab / f"{lab}.ipynb"
    nb = read(released)
    answer = next(
        c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"
    )
    source = read(root / "solutions" / lab / f"{lab}.ipynb")
    gid = answer.metadata["nbgrader"]["grade_id"]
    solved = next(c for c in source.cells if c.metadata.get("nbgrader", {}).get("grade_id") == gid)
    answer.source = solved.source
    write(nb, released)
    (report,) = verify([lab], root=root)
    text = report.summary()
    assert "differs from what solutions/ generates" in text
    assert "marker 'BEGIN SOLUTION' left in labs/" in text


def test_the_names_a_cell_defines_and_reads():
    code = (
        "import re\nfrom x import y as z\nrows = [r for r in data]\nfor i in range(3):\n    last = i\n"
        "def f(a):\n    local = a\n    return local\nwith open(path) as fh:\n    text = fh.read()\n"
        "if rows:\n    k, (m, n) = 1, (2, 3)\nclass C:\n    attr = 1\n"
    )
    defined, used = _names(code)
    assert defined == {"rows", "i", "last", "f", "fh", "text", "k", "m", "n", "C"}
    assert {"data", "range", "open", "path", "re"} - used == {"re"} and "local" in used
    assert _names("%%sql\nselect 1") is None


@pytest.mark.parametrize("lab", LABS)
def test_known_wrong_answers_are_packed_without_clashes(lab):
    """Every known-wrong answer is autograded exactly once; a submission holds at most one per question and
    none of two questions whose cells share a name, so each still shows it costs only its own points."""
    from hitlab.checks import questions
    from hitlab.course.notebooks import graded_cells, solution_code, source_notebook

    cells = {c.grade_id: c for c in graded_cells(read(source_notebook(ROOT, lab)))}
    qs = questions(lab)
    packs = wrong_packs(qs, cells)
    placed = [(q.grade_id, k) for pack in packs for q, k in pack]
    assert sorted(placed) == sorted((q.grade_id, k) for q in qs for k in range(1, len(q.wrong) + 1))
    # fewer autograde runs than wrong answers, and no fewer than the most a question has
    assert max(len(q.wrong) for q in qs) <= len(packs) < len(placed)
    for pack in packs:
        ids = [q.grade_id for q, _ in pack]
        assert len(ids) == len(set(ids))
        for a, _ in pack:
            for b, _ in pack:
                if a is b:
                    continue
                sources_a = [solution_code(cells[a.grade_id].source), *a.wrong]
                defined = set().union(*(_names(s)[0] for s in sources_a))
                reads = set().union(
                    *(_names(s)[1] for s in (solution_code(cells[b.grade_id].source), *b.wrong)),
                    _names(cells[f"{b.grade_id}_test"].source)[1],
                )
                assert not defined & reads, (lab, a.grade_id, b.grade_id, defined & reads)
