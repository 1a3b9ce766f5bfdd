"""One grading slot: a worker process that grades submissions one at a time with nbgrader's autograde, in
a scratch course of its own, with every kernel started in the sandbox (:mod:`hitlab.grading.sandbox`).

The submission is read and checked first (bad files get a status, never a crash), copied into the scratch
course (the original is only read), autograded, and the results (nbgrader's scores, the checks' messages,
the autograded notebook) are sent back to the runner, which alone writes the gradebook.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
import time
import uuid
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import nbformat

from hitlab.course.autograde import read_grades
from hitlab.course.submission import failure_messages, read_submission, tampering
from hitlab.errors import InputError
from hitlab.grading.sandbox import Limits, Sandbox, kill_user

UID_RANGE = range(64000, 65000)  # sandbox user ids, one per slot of every run on the machine (as root)
STATUSES = ("graded", "timed_out", "crashed", "tampered", "invalid_notebook", "missing")


@dataclass
class Job:
    student: str
    lab: str
    path: str
    sha256: str = ""


@dataclass
class Outcome:
    student: str
    lab: str
    status: str
    detail: str = ""
    sha256: str = ""
    grades: dict[str, dict] = field(default_factory=dict)  # grade_id -> nbgrader Grade fields
    messages: dict[str, str] = field(default_factory=dict)  # test grade_id -> the failure the learner saw
    autograded: str | None = None  # the autograded notebook (JSON), for formgrader and feedback
    seconds: float = 0.0  # wall-clock time of grading this notebook
    notebook_seconds: float = 0.0  # of which the kernel spent running the notebook's cells


def sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class SlotSettings:
    index: int
    uid: int  # the sandbox user of this slot's kernels (claimed by the runner for this run alone)
    template: str  # scratch course with the labs' sources and a gradebook holding their structure
    scratch: str  # where the slot's folders go
    hide: list[str] = field(default_factory=list)
    need: list[str] = field(default_factory=list)
    cell_timeout: int = 120
    limits: Limits = field(default_factory=Limits)
    network: bool = True
    filesystem: bool = True


def _private_dir(path: Path, owner: int | None = None, mode: int = 0o700) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, mode)
    if owner is not None and os.geteuid() == 0:
        os.chown(path, owner, owner)
    return path


class Slot:
    def __init__(self, settings: SlotSettings):
        from hitlab.course.build import nbgrader_api

        self.settings = settings
        self.uid = settings.uid
        self.dir = _private_dir(Path(settings.scratch) / f"slot{settings.index}", mode=0o711)
        self.course = self.dir / "course"
        shutil.copytree(settings.template, self.course, dirs_exist_ok=True)
        os.chmod(self.course, 0o700)
        self.run = _private_dir(self.dir / "run", mode=0o711)
        self.home = self.dir / "home"
        self.runtime = self.dir / "runtime"
        self.sandbox = Sandbox(
            uid=self.uid,
            home=self.home,
            hide=[Path(p) for p in [*settings.hide, self.course]],
            need=[Path(p) for p in [*settings.need, self.run, self.home, self.runtime]],
            limits=settings.limits,
            network=settings.network,
            filesystem=settings.filesystem,
        )
        os.environ["JUPYTER_PATH"] = str(self.sandbox.write_kernelspec(self.dir / "jupyter"))
        os.environ["JUPYTER_RUNTIME_DIR"] = str(self.runtime)
        os.environ["TMPDIR"] = tempfile.tempdir = str(self.runtime)  # jupyter_client's connection files
        self.api = nbgrader_api(self.course, self.course / "gradebook.db", configure=self._configure)

    def _configure(self, config) -> None:
        config.CourseDirectory.autograded_directory = str(self.run)
        config.CourseDirectory.submitted_directory = str(self.course / "submitted")
        config.KernelManager.transport = "ipc"  # the kernel has no network: talk over Unix sockets,
        config.KernelManager.ip = str(self.runtime / "kernel")  # by absolute path (the kernel's cwd differs)
        config.Execute.timeout = self.settings.cell_timeout

    def _fresh(self) -> None:
        """Empty per-notebook folders, owned by the sandbox user."""
        kill_user(self.uid)
        for folder in (self.home, self.runtime):
            shutil.rmtree(folder, ignore_errors=True)
            _private_dir(folder, owner=self.uid)
        for child in self.run.iterdir():
            shutil.rmtree(child, ignore_errors=True)
        shutil.rmtree(self.course / "submitted", ignore_errors=True)

    def grade(self, job: Job) -> Outcome:
        started = time.perf_counter()
        outcome = self._grade(job)
        outcome.seconds = time.perf_counter() - started
        kill_user(self.uid)
        return outcome

    def _grade(self, job: Job) -> Outcome:
        outcome = Outcome(job.student, job.lab, "graded", sha256=job.sha256 or sha256(job.path))
        try:
            learner = read_submission(Path(job.path))
        except InputError as err:
            where = f", line {err.line}" if err.line else ""
            outcome.status, outcome.detail = "invalid_notebook", f"{err.detail}{where}"
            return outcome
        from hitlab.course.notebooks import read, source_notebook

        source = read(source_notebook(self.course, job.lab))
        notes = tampering(source, learner)
        self._fresh()
        target = self.course / "submitted" / job.student / job.lab / f"{job.lab}.ipynb"
        target.parent.mkdir(parents=True)
        nbformat.write(_repaired(learner), target)
        (target.parent / "timestamp.txt").write_text(datetime.now().astimezone().isoformat())
        graded = self._autograde(job)
        if graded is not None:
            outcome.status, outcome.detail = "crashed", graded
            return outcome
        autograded = self.run / job.student / job.lab / f"{job.lab}.ipynb"
        coursedir = self.api.coursedir
        outcome.grades = read_grades(coursedir.db_url, coursedir.course_id, job.lab, job.student)
        outcome.messages = failure_messages(autograded)
        text = autograded.read_text(encoding="utf-8")
        outcome.autograded = text
        nb = nbformat.reads(text, as_version=4)
        outcome.notebook_seconds = _execution_seconds(nb)
        timed_out = [
            c.metadata.get("nbgrader", {}).get("grade_id") or f"cell {i + 1}"
            for i, c in enumerate(nb.cells)
            if any(o.get("ename") == "CellTimeoutError" for o in c.get("outputs", []))
        ]
        if timed_out:
            outcome.status = "timed_out"
            notes.insert(
                0,
                f"stopped after {self.settings.cell_timeout} s in {', '.join(timed_out)}; "
                "the rest of the notebook was graded",
            )
        elif notes:
            outcome.status = "tampered"
        outcome.detail = "; ".join(notes)
        return outcome

    def _autograde(self, job: Job) -> str | None:
        """Run nbgrader's autograde; None when it succeeded, else why it could not grade."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = self.api.autograde(job.lab, job.student, force=True, create=True)
        if result["success"]:
            return None
        log = (result.get("error") or "") + (result.get("log") or "")
        print(
            f"--- nbgrader could not autograde {job.student} {job.lab}:\n{log}", file=sys.stderr, flush=True
        )
        if "DeadKernelError" in log or "Kernel died" in log:
            return "the kernel died while running the notebook (os._exit, a crash, or a limit reached)"
        lines = [line for line in log.strip().splitlines() if line.strip()]
        return "nbgrader could not grade it: " + (lines[-1] if lines else "unknown error")


def _repaired(nb):
    """The learner's notebook as nbgrader can grade it: unique cell ids, and only the first of several cells
    claiming one grade id keeps its nbgrader metadata (nbgrader refuses duplicates outright)."""
    seen_ids, seen_grades = set(), set()
    for cell in nb.cells:
        if getattr(cell, "id", None) in seen_ids or not getattr(cell, "id", None):
            cell.id = uuid.uuid4().hex[:8]
        seen_ids.add(cell.id)
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id and grade_id in seen_grades:
            del cell.metadata["nbgrader"]
        elif grade_id:
            seen_grades.add(grade_id)
    return nb


def _execution_seconds(nb) -> float:
    """Time the kernel spent on the cells, from the execution timestamps nbclient records."""
    total = 0.0
    for cell in nb.cells:
        stamps = cell.get("metadata", {}).get("execution", {})
        start, end = stamps.get("iopub.execute_input"), stamps.get("shell.execute_reply")
        if start and end:
            total += (_parse(end) - _parse(start)).total_seconds()
    return total


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def serve(inbox, outbox) -> None:
    """A worker process's loop: receive the slot's settings, set it up, then grade each job received until
    told to stop (``None``). Every job gets an outcome back, whatever happened."""
    slot = Slot(inbox.recv())
    outbox.send(("ready", str(slot.dir)))
    while True:
        job = inbox.recv()
        if job is None:
            break
        try:
            outcome = slot.grade(job)
        except Exception as err:
            outcome = Outcome(job.student, job.lab, "crashed", f"grading failed: {type(err).__name__}: {err}")
        outbox.send(outcome)


def main(argv: list[str]) -> None:
    """Entry point of a worker process: ``python -c '...main(sys.argv[1:])' INBOX_FD OUTBOX_FD``."""
    from multiprocessing.connection import Connection

    import nbgrader.apps  # noqa: F401 - the slow import, done while the runner prepares the course

    serve(Connection(int(argv[0]), writable=False), Connection(int(argv[1]), readable=False))
