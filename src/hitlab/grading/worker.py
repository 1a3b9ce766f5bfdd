"""One grading slot: a worker process that grades submissions one at a time with nbgrader's autograde, in
a scratch course of its own, with every kernel started in the sandbox (:mod:`hitlab.grading.sandbox`).

The submission is read and checked first (bad files get a status, never a crash), copied into the scratch
course (the original is only read), autograded, and the results (nbgrader's scores, the checks' messages,
the autograded notebook) are sent back to the runner, which alone writes the gradebook.
"""

from __future__ import annotations

import copy
import hashlib
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
import warnings
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import nbformat

from hitlab.course.autograde import read_grades
from hitlab.course.submission import failure_messages, read_submission, tampering
from hitlab.errors import InputError
from hitlab.grading.judge import evaluator_command, exam_path, judge_command, judge_submission, show_verdicts
from hitlab.grading.sandbox import Limits, Sandbox, stop

UID_RANGE = range(64000, 65000)  # sandbox user ids, one per slot of every run on the machine (as root)
STATUSES = (
    "graded",
    "timed_out",
    "crashed",
    "tampered",
    "invalid_notebook",
    "invalid_submission",
    "ambiguous",
    "missing",
)


@dataclass
class Job:
    student: str
    lab: str
    path: str
    sha256: str = ""
    seed: int | None = None  # the student's dataset variant (a graded cohort with a course secret)


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
    need: list[str] = field(default_factory=list)  # what kernels read: interpreter, packages, hitlab, data
    env: dict[str, str] = field(default_factory=dict)  # the kernels' settings (where the datasets are)
    cell_timeout: int = 120
    limits: Limits = field(default_factory=Limits)
    confine: bool = True  # False only with --no-sandbox
    output_limit: int = 2 << 20  # bytes of output kept per cell (the rest is dropped, with a note)
    judge_timeout: float = 1800  # seconds for the judge's run of one notebook (exam mode)
    exam: str = ""  # a graded cohort's exam release (the folder holding its hitlab): see hitlab.grading.judge
    hitlab_code: str = ""  # the folder holding the grader's hitlab, which exam kernels never see
    warm: bool = True  # kernels forked from a warm launcher (hitlab.grading.warm) rather than started cold
    answer_keys: list[str] = field(default_factory=list)  # labs whose answer keys the warm launcher computes
    # (none in an exam: runner.slot_settings)

    @property
    def folder(self) -> Path:
        """The slot's folder in the run's scratch space."""
        return Path(self.scratch) / f"slot{self.index}"


def _private_dir(path: Path, owner: int | None = None, mode: int = 0o700) -> Path:
    """A folder made here (a link or file in its place is an error), with ``mode``, owned by ``owner`` as root."""
    path.mkdir(parents=True, exist_ok=True)
    if path.is_symlink() or not path.is_dir():
        raise OSError(f"{path}: expected a folder made by the grader")
    os.chmod(path, mode, follow_symlinks=False)
    if owner is not None and os.geteuid() == 0:
        os.chown(path, owner, owner, follow_symlinks=False)
    return path


class Slot:
    """A scratch course and the folders of one slot. The grader's folders (the course with its hidden tests,
    nbgrader's autograded folder, Jupyter's runtime folder with the connection files, the sandbox records)
    are the grader's alone and never in a kernel's file system; the only host folder a kernel may write is
    ``sockets`` (its ZeroMQ sockets), which the grader connects to and removes without following links."""

    def __init__(self, settings: SlotSettings):
        from hitlab.course.build import nbgrader_api

        self.settings = settings
        self.uid = settings.uid
        self.dir = _private_dir(settings.folder, mode=0o711)
        self.course = self.dir / "course"
        shutil.copytree(settings.template, self.course, dirs_exist_ok=True)
        os.chmod(self.course, 0o700)
        self.run = _private_dir(self.dir / "run")  # nbgrader's autograded folder
        self.runtime = _private_dir(self.dir / "runtime")
        self.records = _private_dir(self.dir / "records")
        self.sockets = self.dir / "sockets"
        self.workdir = self.dir / "work"  # the kernel's folder when it runs unconfined (--no-sandbox)
        self.shared = self.dir / "shared"  # the judge's and the evaluator's scratch (exam mode)
        self.sandbox = Sandbox(
            uid=self.uid,
            sockets=self.sockets,
            root=_private_dir(self.dir / "root"),
            records=self.records,
            workdir=self.workdir,
            need=[Path(p) for p in settings.need],
            env=settings.env,
            limits=settings.limits,
            confine=settings.confine,
        )
        if settings.exam:  # the learner's code only ever runs with the exam release's hitlab
            learner_need = [Path(p) for p in settings.need if p != settings.hitlab_code] + [
                Path(settings.exam)
            ]
            self.sandbox.need = learner_need
            self.sandbox.env = {**settings.env, **exam_path(settings.exam)}
            self.evaluator = replace(self.sandbox, sockets=self.shared, root=_private_dir(self.dir / "root-e"),
                                     workdir=self.shared)  # fmt: skip
            self.judge = replace(self.sandbox, sockets=self.shared, root=_private_dir(self.dir / "root-j"),
                                 workdir=self.shared, need=[Path(p) for p in settings.need],
                                 env={**settings.env, "HITLAB_JUDGE_SCRATCH": str(self.shared)})  # fmt: skip
        # (pidfds: Linux 5.3 and later)
        self.warm = settings.warm and settings.confine and hasattr(signal, "pidfd_send_signal")
        if self.warm:  # started in the kernels' environment, before this process changes its own
            from hitlab.grading import warm
            from hitlab.grading.sandbox import HOME, _environment

            warm.use(warm.WarmLauncher(_environment(self.sandbox.spec(), HOME), settings.answer_keys))
        os.environ["JUPYTER_PATH"] = str(self.sandbox.write_kernelspec(self.dir / "jupyter", self.warm))
        os.environ["JUPYTER_RUNTIME_DIR"] = str(self.runtime)
        os.environ["TMPDIR"] = tempfile.tempdir = str(self.runtime)  # jupyter_client's connection files
        _fast_scratch_gradebook(self.course / "gradebook.db")
        self.api = nbgrader_api(self.course, self.course / "gradebook.db", configure=self._configure)

    def _configure(self, config) -> None:
        from hitlab.grading.execute import autograde_preprocessors

        config.CourseDirectory.autograded_directory = str(self.run)
        config.CourseDirectory.submitted_directory = str(self.course / "submitted")
        config.KernelManager.transport = "ipc"  # the kernel has no network: talk over Unix sockets,
        config.KernelManager.ip = str(self.sockets / "kernel")  # by absolute path (the kernel's cwd differs)
        config.Execute.timeout = self.settings.cell_timeout
        config.Autograde.autograde_preprocessors = autograde_preprocessors()
        config.BoundedExecute.output_limit = self.settings.output_limit
        config.BoundedExecute.sandbox_records = str(self.records)
        config.BoundedExecute.sandbox_uid = self.uid
        config.Execute.raise_on_iopub_timeout = False  # output that arrives late is not a crash
        config.Execute.shutdown_kernel = "immediate"  # its sandbox is killed right after anyway
        config.Execute.iopub_timeout = 10

    def stop_kernels(self) -> None:
        """Kill whatever runs as this slot's sandbox: before the grader touches anything after a notebook."""
        stop(self.records, self.uid)

    def _fresh(self) -> None:
        """Empty per-notebook folders; the kernel's are owned by the sandbox user (as root)."""
        self.stop_kernels()
        for folder in (self.sockets, self.workdir, self.shared):
            shutil.rmtree(folder, ignore_errors=True)  # removes links, never follows them
            _private_dir(folder, owner=self.uid)
        for folder in (self.run, self.runtime):
            for child in folder.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)
        shutil.rmtree(self.course / "submitted", ignore_errors=True)

    def grade(self, job: Job) -> Outcome:
        started = time.perf_counter()
        outcome = self._grade(job)
        outcome.seconds = time.perf_counter() - started
        self.stop_kernels()
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
        release = read(self.course / "labs" / job.lab / f"{job.lab}.ipynb")
        info, notes = _normalized(learner, release)
        notes += tampering(source, learner)
        self._fresh()
        self._use_data_of(job)
        target = self.course / "submitted" / job.student / job.lab / f"{job.lab}.ipynb"
        target.parent.mkdir(parents=True)
        nbformat.write(learner, target)
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
        if self.settings.exam:
            notes += self._judge(job, learner, source, nb, outcome)
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
        outcome.detail = "; ".join(info + notes)
        return outcome

    def _use_data_of(self, job: Job) -> None:
        """Every process of this job reads the student's own datasets (built here first, outside the sandbox,
        which may only read them): ``HITLAB_DATASET_SEED`` in the kernel's, the evaluator's and the judge's
        environment, never anything from the notebook. Without a seed, the named datasets."""
        from hitlab.data import SEED_ENV, build_variant, datasets_for

        seed = {SEED_ENV: str(job.seed)} if job.seed is not None else {SEED_ENV: "named"}
        if job.seed is not None:
            build_variant(job.seed, datasets_for([job.lab]))
        for box in (self.sandbox, getattr(self, "evaluator", None), getattr(self, "judge", None)):
            if box is not None:
                box.env = {**box.env, **seed}
        self.sandbox.write_kernelspec(self.dir / "jupyter", self.warm, job.lab)

    def _judge(self, job: Job, learner, source, autograded, outcome: Outcome) -> list[str]:
        """Exam mode: every auto-graded item's score from the judge (the genuine checks, outside the learner's
        kernel), and the autograded notebook's test cells say what the judge found."""
        self.stop_kernels()
        judgement = judge_submission(
            job.lab, learner, source,
            evaluator=lambda join: replace(self.evaluator, join=join).command(evaluator_command()),
            judge=self.judge.command(judge_command()), records=str(self.records),
            scratch=str(self.shared) if not self.settings.confine else None, cell_timeout=self.settings.cell_timeout,
            wall_clock=self.settings.judge_timeout,
        )  # fmt: skip
        for gid, verdict in judgement.verdicts.items():
            if gid in outcome.grades:
                outcome.grades[gid]["auto_score"] = verdict.score
            kernel_said = outcome.messages.pop(gid, "")
            if verdict.score < verdict.points:
                learner_side = kernel_said.startswith(("your answer cell", "not attempted"))
                outcome.messages[gid] = kernel_said if learner_side else verdict.message
        show_verdicts(autograded, judgement)
        outcome.autograded = nbformat.writes(autograded)
        return [f"not judged: {judgement.problem}"] if judgement.problem else []

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


def _fast_scratch_gradebook(path: Path) -> None:
    """The slot's gradebook is a scratch copy, read back after each notebook (the runner writes the real one):
    SQLite need not wait for the disk at each of nbgrader's commits (dozens per notebook)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "connect")
    def _no_sync(connection, _record) -> None:
        if type(connection).__module__.startswith("sqlite3"):
            cursor = connection.cursor()
            if any(Path(row[2]) == path for row in cursor.execute("PRAGMA database_list") if row[2]):
                cursor.execute("PRAGMA synchronous = OFF")
                cursor.execute("PRAGMA journal_mode = MEMORY")
            cursor.close()


def _normalized(nb, release) -> tuple[list[str], list[str]]:
    """Make the learner's notebook gradable as the instructor released it, in place; returns notes on the
    format and notes on tampering. nbgrader trusts a cell's ``nbgrader`` metadata, which the learner
    controls, so every graded cell's metadata is taken from the release: a cell matched by its grade id, or
    by its cell id where the grade id was renamed or the metadata stripped, gets the release's; any other
    cell claiming nbgrader metadata loses it (an ordinary cell). Only the first of several cells claiming
    one grade id keeps it (nbgrader refuses duplicates). Cells get unique ids,
    and nbformat 4.5, which ids need."""
    info, notes = [], []
    original = nb.get("metadata", {}).pop("orig_nbformat", 4)  # nbformat notes a conversion there
    nb.metadata.pop("orig_nbformat_minor", None)
    if original < 4:
        info.append(f"converted from nbformat {original} to 4")
    nb.nbformat_minor = max(nb.nbformat_minor, 5)
    released, by_cell_id = {}, {}
    for cell in release.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade_id"):
            released[meta["grade_id"]] = meta
            by_cell_id[cell.get("id")] = meta
    seen_ids, seen_grades = set(), set()
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader")
        claimed = meta.get("grade_id") if isinstance(meta, dict) else None
        restored = released.get(claimed) or by_cell_id.get(cell.get("id"))
        if restored is not None and restored["grade_id"] in seen_grades:
            notes.append(f"cell {restored['grade_id']} appears more than once; the first copy was graded")
            restored = None  # a second copy: an ordinary cell
        if restored is not None:
            gid = restored["grade_id"]
            if claimed is None:
                notes.append(f"cell {gid} had its nbgrader metadata removed; restored from the release")
            elif claimed != gid:
                notes.append(f"cell {gid} was renamed {claimed!r}; graded under its released name")
            elif changed := sorted(
                k for k in set(meta) | set(restored) if k != "checksum" and meta.get(k) != restored.get(k)
            ):
                notes.append(f"cell {gid} had its nbgrader metadata changed ({', '.join(changed)}); restored")
            cell.metadata["nbgrader"] = copy.deepcopy(restored)
            seen_grades.add(gid)
        elif meta is not None:
            del cell.metadata["nbgrader"]
            if claimed and claimed not in released:
                notes.append(f"a cell claimed the unknown grade id {claimed!r}; graded as an ordinary cell")
        if not cell.get("id") or cell.id in seen_ids:
            cell.id = uuid.uuid4().hex[:8]
        seen_ids.add(cell.id)
    return info, notes


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
