"""``hitlab course release --exam``: what the learners of a graded cohort get.

A graded cohort's learners must not hold what grades them. The exam release is the released lab notebooks
(``labs/``, which already hold no solution or hidden test) and a learner's install of hitlab whose checks
carry no worked answers, answer keys, reference implementations or hidden cases: each lab's ``reference`` and
``answers`` modules are left out, and so are the mock interviews (they are drawn from the solutions). Its
``release.json`` tells the checks they are an exam release (:func:`hitlab.checks.core.release`): ``qN.check()``
then checks only the answer's form and says that grading happens at submission, ``qN.solution()`` says worked
answers are not available, and hints are on or off as the instructor chose. Grading never runs the learner's
install: ``hitlab grade --exam`` runs each submission against the same tree (see :func:`exam_tree`) and
judges its answers with the grader's full checks, outside the learner's kernel.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat

import hitlab
from hitlab.checks.core import RELEASE_FILE
from hitlab.course.notebooks import lab_names, read, split_rubric
from hitlab.errors import InputError

LEFT_OUT = ("reference.py", "answers.py")  # of each lab's checks package
LEFT_OUT_PACKAGES = ("mock",)  # drawn from solutions/: self-study only
# Modules that implement what a lab grades, or serve it (their code frames MLLP, decides scopes, checks
# assertions and tokens, builds ACKs): the grader's install and the course's practice service have them.
LEFT_OUT_MODULES = (
    "hl7/mllp.py",  # lab 03 Q6-Q8
    "security/scopes.py",  # lab 07 Q6
    "security/smart.py",  # lab 07 Q8, Q9
    "security/tls.py",  # lab 07 Q10
    "security/_loopback.py",  # the servers' machinery
    "practice/service.py",  # the practice servers (hitlab practice serve)
)


def _skip(folder: str, names: list[str]) -> set[str]:
    here = Path(folder)
    skipped = {n for n in names if n == "__pycache__" or n.endswith((".pyc", ".pyo"))}
    if here.parent.name == "checks" and here.name.startswith("lab"):
        skipped |= {n for n in names if n in LEFT_OUT}
    if here.name == "hitlab":
        skipped |= {n for n in names if n in LEFT_OUT_PACKAGES or n == RELEASE_FILE}
    if here.parent.name == "hitlab":
        skipped |= {n for n in names if f"{here.name}/{n}" in LEFT_OUT_MODULES}
    return skipped


def exam_tree(into: str | Path, *, course: str = "hitlab", hints: bool = True) -> Path:
    """Write the exam release's ``hitlab`` package into ``into/hitlab`` (``into`` is then the folder to put
    on ``sys.path``) and return that package folder. It is this install's package without the left-out parts,
    with a ``release.json`` saying it is an exam release."""
    package = Path(hitlab.__file__).resolve().parent
    target = Path(into) / "hitlab"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(package, target, ignore=_skip)
    description = {"mode": "exam", "course": course, "hints": bool(hints), "version": hitlab.__version__}
    (target / RELEASE_FILE).write_text(json.dumps(description, indent=1) + "\n", encoding="utf-8")
    return target


RUBRIC_WITHHELD = "*The rubric of this question is with your instructor: in this course, written answers are graded by hand.*\n"


def without_rubrics(nb):
    """``nb`` with each written question's rubric (which says what a full answer names) left out."""
    for cell in nb.cells:
        before, rubric = split_rubric(cell)
        if rubric:
            cell.source = before + "\n" + RUBRIC_WITHHELD
    return nb


_README = """# {course}: exam release

This folder is what the learners of a graded cohort get:

- `labs/`: the lab notebooks, as released (no solutions, no hidden tests), without the rubrics of the
  written questions (graded by hand);
- `python/hitlab/`: the learner's install of hitlab. Its checks hold no worked answers, answer keys or
  reference implementations: `qN.check()` checks an answer's form (it runs, with the names and types asked
  for) and says that it is graded at submission; `qN.solution()` is not available; hints are {hints}.

Install it where the learners' kernels run, in place of the full hitlab (for example in the JupyterHub
image): `pip install ./python` (it installs hitlab's dependencies too), or put `python/` first on the
kernels' `PYTHONPATH`. It holds no server code: labs 03 and 07 reach the practice servers that
`hitlab practice serve` runs from your full install, at the address `HITLAB_PRACTICE` gives the kernels.
Grade with `hitlab grade --exam` (see the instructor's guide, graders/README.md, section 11).
"""

_PYPROJECT = """[build-system]
requires = ["setuptools>=68", "wheel"]
build-backend = "setuptools.build_meta"

[project]
name = "hitlab"
version = "{version}"
description = "hitlab, the exam release of a graded course (no answers)"
requires-python = ">=3.11"
dependencies = {dependencies}

[project.scripts]
hitlab = "hitlab.cli:main"

[tool.setuptools.packages.find]
where = ["."]
include = ["hitlab*"]

[tool.setuptools.package-data]
hitlab = ["*.json", "terminology/*.csv", "load/*.json", "labdata/**/*"]
"""


def release_exam(
    out: str | Path, labs: list[str] | None = None, *, root: Path, course: str = "hitlab", hints: bool = True
) -> Path:
    """Write the exam release of ``labs`` (default: all) into ``out``, a new or empty folder."""
    import tomllib

    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise InputError(f"{out}: the release folder must be new or empty (nothing is overwritten)")
    names = lab_names(root, labs)
    for lab in names:
        shutil.copytree(root / "labs" / lab, out / "labs" / lab, ignore=shutil.ignore_patterns(".*"))
        notebook = out / "labs" / lab / f"{lab}.ipynb"
        nbformat.write(without_rubrics(read(notebook)), notebook)
    exam_tree(out / "python", course=course, hints=hints)
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    (out / "python" / "pyproject.toml").write_text(
        _PYPROJECT.format(version=project["version"], dependencies=json.dumps(project["dependencies"])),
        encoding="utf-8",
    )
    (out / "README.md").write_text(
        _README.format(course=course, hints="on" if hints else "off (the instructor's choice)"),
        encoding="utf-8",
    )
    return out
