"""``hitlab course build``: generate the learners' notebooks (labs/) from the sources (solutions/) with
nbgrader, deterministically: an unchanged source gives byte-identical files."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from hitlab.course.notebooks import CourseError, course_root, lab_names, read, release_notebook, write


def tools_on_path() -> None:
    """nbgrader's gradebook runs the ``alembic`` command: make sure this interpreter's scripts are on PATH
    (they are not when hitlab is called as ``.venv/bin/hitlab`` without activating the venv)."""
    scripts = str(Path(sys.executable).parent)
    if scripts not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([scripts, os.environ.get("PATH", "")])


def nbgrader_api(root: Path, db: Path | str, configure=None):
    """nbgrader's API on the course at ``root`` with the course's config, its gradebook at ``db`` (a path
    or a database URL); ``configure(config)``, if given, adjusts the config first."""
    tools_on_path()
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(root / "graders")).load_config()
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.db_url = db if isinstance(db, str) and "://" in db else f"sqlite:///{db}"
    # Kernels talk to the grader over Unix sockets in the course folder: no TCP port open on the machine, and
    # no "running over TCP without encryption" warning from ipykernel in the learner's `hitlab check`.
    config.KernelManager.transport = "ipc"
    config.KernelManager.ip = str(Path(root).resolve() / "kernel")
    if configure is not None:
        configure(config)
    coursedir = CourseDirectory(config=config)
    return NbGraderAPI(coursedir=coursedir, config=config)


def scratch_course(root: Path, labs: list[str], into: Path) -> Path:
    """A copy of the course's sources and config in ``into`` (for building or grading without side effects)."""
    (into / "graders").mkdir(parents=True, exist_ok=True)
    shutil.copy2(root / "graders" / "nbgrader_config.py", into / "graders" / "nbgrader_config.py")
    for lab in labs:
        shutil.copytree(root / "solutions" / lab, into / "solutions" / lab, dirs_exist_ok=True)
    return into


def generate(course: Path, labs: list[str]) -> None:
    """Run nbgrader's generate_assignment for ``labs`` in ``course`` and normalize the released notebooks."""
    api = nbgrader_api(course, course / "graders" / "work" / "gradebook.db")
    (course / "graders" / "work").mkdir(parents=True, exist_ok=True)
    for lab in labs:
        result = api.generate_assignment(lab, force=True, create=True)
        if not result["success"]:
            raise CourseError(
                f"nbgrader could not generate {lab}:\n{result.get('error') or result.get('log')}"
            )
        for nb_path in sorted((course / "labs" / lab).glob("*.ipynb")):
            write(read(nb_path), nb_path)


def build(labs: list[str] | tuple[str, ...] | None = None, root: str | Path | None = None) -> list[Path]:
    """Regenerate ``labs/<lab>/`` from ``solutions/<lab>/`` for each lab (all by default); return the notebooks."""
    root = course_root(root)
    names = lab_names(root, labs)
    written = []
    with tempfile.TemporaryDirectory(prefix="hitlab-build-") as tmp:
        course = scratch_course(root, names, Path(tmp))
        generate(course, names)
        for lab in names:
            target = root / "labs" / lab
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(course / "labs" / lab, target)
            written.append(release_notebook(root, lab))
    return written
