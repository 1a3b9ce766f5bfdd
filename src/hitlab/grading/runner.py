"""``hitlab grade``: grade a cohort's submissions in parallel, sandboxed, into one gradebook, and write the
exports (``grades.csv``, ``status.csv``), per-student feedback and ``report.html``.

The runner keeps N worker processes (one slot each, :mod:`hitlab.grading.worker`), hands each the next
submission, stops a worker that exceeds the per-notebook wall-clock limit (and everything its kernel
started), and is the only writer of the gradebook and of OUT.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path

from hitlab.course.notebooks import course_root, lab_names, read, source_notebook
from hitlab.errors import HitlabError, InputError
from hitlab.grading import gradebook as gbook
from hitlab.grading.collect import DEFAULT_LMS_PATTERN, collect, safe_student_id
from hitlab.grading.report import feedback_html, report_html, write_status_csv
from hitlab.grading.sandbox import Limits, kill_user, probe, stop, unreachable
from hitlab.grading.worker import UID_RANGE, Job, Outcome, SlotSettings, sha256


@dataclass
class GradingRun:
    out: Path
    graded: list[Outcome] = field(default_factory=list)  # graded in this run
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (student, lab) already in the gradebook
    missing: list[Outcome] = field(default_factory=list)
    refused: list[Outcome] = field(default_factory=list)  # ambiguous uploads, unsafe names: nothing graded
    unmatched: list[tuple[str, str]] = field(default_factory=list)
    other_labs: list[str] = field(default_factory=list)  # files of labs not asked for (--labs)
    sandbox: str = ""  # "on", or "off: why" (graded unconfined: --no-sandbox)
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)  # seconds spent preparing, grading, exporting
    uids: list[int] = field(default_factory=list)  # the sandbox user ids this run's kernels ran as
    errors: list[str] = field(default_factory=list)  # outcomes that could not be recorded in full
    exam: bool = False  # graded as an exam: every auto-graded score from the judge (hitlab.grading.judge)
    per_learner_data: bool = False  # each student graded on their own datasets (a course secret was given)


def read_roster(path: str | Path) -> list[dict[str, str]]:
    """A roster CSV with a column ``id`` (or ``student_id``) and optional first_name, last_name, email: the
    columns of ``nbgrader db student import``."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise InputError(f"cannot read the roster: {err}", path=path) from None
    out = []
    for line, row in enumerate(rows, start=2):
        sid = (row.get("id") or row.get("student_id") or "").strip()
        if not sid:
            raise InputError("a roster row without a student id (column id)", path=path, line=line)
        out.append({**{k: (v or "").strip() for k, v in row.items() if k}, "id": sid})
    return out


_WORKER_MAIN = "import sys; from hitlab.grading.worker import main; main(sys.argv[1:])"


class _Worker:
    """A worker process (:func:`hitlab.grading.worker.main`) in its own session, spoken to over two pipes; its
    output (nbgrader's log, the kernels' messages) goes to ``log``."""

    def __init__(self, log: Path):
        to_child, from_parent = os.pipe()
        from_child, to_parent = os.pipe()
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _WORKER_MAIN, str(to_child), str(to_parent)],
                pass_fds=(to_child, to_parent), start_new_session=True,
                stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
            )  # fmt: skip
        os.close(to_child)
        os.close(to_parent)
        self.out = Connection(from_parent, readable=False)
        self.conn = Connection(from_child, writable=False)
        self.log = log
        self.settings: SlotSettings | None = None
        self.job: Job | None = None
        self.deadline = 0.0
        self.ready = False

    def start(self, settings: SlotSettings) -> _Worker:
        """Give the worker its slot (it has been importing nbgrader meanwhile)."""
        self.settings = settings
        self.out.send(settings)
        return self

    def send(self, job: Job, wall_clock: float) -> None:
        # a student's datasets may need building first (minutes for the analytics ones)
        extra = VARIANT_BUILD_SECONDS if job.seed is not None else 0
        self.job, self.deadline = job, time.monotonic() + wall_clock + extra
        self.out.send(job)

    def receive(self, readable: bool, wall_clock: float) -> Outcome | None:
        """The outcome of the worker's job, from its message (``readable``: one is waiting) or because it
        died or overran its wall clock; None when there is none yet (or the message said the slot is ready).
        A worker that dies before its slot is ready could not start: an error."""
        outcome = None
        if readable:
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                message = None
                if self.job is not None:
                    outcome = Outcome(self.job.student, self.job.lab, "crashed", "the grading worker died")
            if isinstance(message, tuple) and message[0] == "ready":
                self.ready = True
            elif isinstance(message, Outcome):
                outcome = message
            elif message is None and self.job is None:
                raise HitlabError(f"a grading slot could not start: see {self.log}")
        elif self.job is not None and time.monotonic() > self.deadline:
            outcome = Outcome(
                self.job.student, self.job.lab, "timed_out",
                f"stopped after the notebook's wall-clock limit of {wall_clock:g} s",
            )  # fmt: skip
        if outcome is not None:
            outcome.sha256 = outcome.sha256 or self.job.sha256
        return outcome

    def after(self, outcome: Outcome) -> _Worker:
        """The worker for the next job once ``outcome`` is in: this one, or a fresh one in its place when it
        died or was stopped mid-notebook."""
        if self.process.poll() is not None or (outcome.status == "timed_out" and not outcome.grades):
            self.stop(hard=True)
            return _Worker(self.log).start(self.settings)
        self.job = None
        return self

    def grade(self, job: Job, wall_clock: float) -> tuple[Outcome, _Worker]:
        """Grade one job and wait for it: its outcome, and the worker for the next job."""
        while not self.ready:
            if not self.conn.poll(STARTUP_SECONDS):
                raise HitlabError(f"a grading slot did not start in {STARTUP_SECONDS} s: see {self.log}")
            self.receive(True, wall_clock)
        self.send(job, wall_clock)
        while True:
            outcome = self.receive(
                self.conn.poll(max(0.0, min(1.0, self.deadline - time.monotonic()))), wall_clock
            )
            if outcome is not None:
                return outcome, self.after(outcome)

    def stop(self, hard: bool = False) -> None:
        """End the worker (asked to finish, or killed with everything it started); safe to call twice."""
        if self.conn.closed:
            return
        if not hard and self.process.poll() is None:
            with contextlib.suppress(OSError, EOFError, subprocess.TimeoutExpired):
                self.out.send(None)
                self.process.wait(10)
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
        if self.settings is not None:
            stop(self.settings.folder / "records", self.settings.uid)
            _kill_leftovers(self.settings.folder)
        self.conn.close()
        self.out.close()


def _kill_leftovers(slot: Path) -> None:
    """Kill processes still running from a slot (a kernel started in its own session, what it forked)."""
    marker = str(slot).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "cmdline").read_bytes():
                os.kill(int(entry.name), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            continue


VARIANT_BUILD_SECONDS = 900  # added to a job's wall clock when the student's datasets may need building
STARTUP_SECONDS = 600  # the most a slot may take to start (nbgrader imported, the scratch course copied)


def _run_jobs(jobs: list[Job], workers: list[_Worker], wall_clock: float, on_outcome) -> None:
    """Grade ``jobs`` on the started ``workers``; replace a worker that died or overran its wall clock."""
    pending = list(reversed(jobs))

    def feed(w: _Worker) -> None:
        if w.ready and w.job is None and pending:
            w.send(pending.pop(), wall_clock)

    try:
        while pending or any(w.job for w in workers):
            for w in workers:
                feed(w)
            busy = [w for w in workers if w.job is not None]
            timeout = max(
                0.0, min((w.deadline for w in busy), default=time.monotonic() + 1) - time.monotonic()
            )
            ready = wait([w.conn for w in workers], timeout=min(timeout, 1.0) if busy else 1.0)
            for i, w in enumerate(list(workers)):
                outcome = w.receive(w.conn in ready, wall_clock)
                if outcome is not None:
                    workers[i] = w.after(outcome)
                    feed(workers[i])  # its next notebook first: it grades while this one is recorded
                    on_outcome(outcome)
    finally:
        for w in workers:
            w.stop()


def _uid_locks() -> Path:
    """Root's folder of sandbox user id locks: made by root, for root alone (a normal user's runs use no
    sandbox user ids, so they never meet it)."""
    for base in ("/run", tempfile.gettempdir()):
        folder = Path(base) / "hitlab-grade-uids"
        with contextlib.suppress(FileExistsError, FileNotFoundError, PermissionError):
            folder.mkdir(mode=0o700)
        try:
            info = folder.lstat()
        except OSError:
            continue
        if stat.S_ISDIR(info.st_mode) and info.st_uid == 0 and not info.st_mode & 0o077:
            return folder
    raise HitlabError("cannot make a private folder for the sandbox user id locks in /run or the temp folder")


def _claim_uids(count: int) -> tuple[list[int], list]:
    """``count`` sandbox user ids no other grading run on this machine is using, each held by a lock file
    for as long as the returned handles stay open (two runs must never kill each other's kernels). Only as
    root: otherwise kernels run as the grader's own user (in a user namespace), ``count`` times."""
    if os.geteuid() != 0:
        return [os.geteuid()] * count, []
    folder = _uid_locks()
    uids, handles = [], []
    for uid in UID_RANGE:
        if len(uids) == count:
            break
        fd = os.open(folder / f"{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        handle = os.fdopen(fd, "r+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        uids.append(uid)
        handles.append(handle)
    if len(uids) < count:
        raise HitlabError("no free sandbox user ids: too many grading runs on this machine at once")
    return uids, handles


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hitlab" / "grading"


def template_course(root: Path, labs: list[str]) -> Path:
    """A scratch course with the labs' sources and a gradebook holding their assignments, as nbgrader's
    generate_assignment makes them; cached by the content of the sources and config (and the versions of
    hitlab and nbgrader), so a course is generated once, not at every run."""
    import hashlib

    import nbgrader

    import hitlab
    from hitlab.course.build import generate, scratch_course

    digest = hashlib.sha256(f"{hitlab.__version__} {nbgrader.__version__} {labs}".encode())
    files = [root / "graders" / "nbgrader_config.py"]
    files += sorted(p for lab in labs for p in (root / "solutions" / lab).rglob("*") if p.is_file())
    for path in files:
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    cached = _cache_dir() / digest.hexdigest()[:24]
    if (cached / "gradebook.db").exists():
        return cached
    cached.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix="building-", dir=cached.parent))
    try:
        course = scratch_course(root, labs, building / "course")
        generate(course, labs)
        shutil.move(course / "graders" / "work" / "gradebook.db", course / "gradebook.db")
        shutil.rmtree(course / "graders" / "work")
        with contextlib.suppress(OSError):  # another run cached it first
            course.rename(cached)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return cached


def _hitlab_code() -> str:
    """The folder holding the grader's hitlab package (which an exam's learner code never sees)."""
    import hitlab

    return str(Path(hitlab.__file__).resolve().parents[1])


def _needed_paths() -> list[str]:
    """What a kernel must reach: the interpreter, the venv, hitlab's code and the datasets."""
    from hitlab.data import data_root

    return [sys.base_prefix, sys.prefix, _hitlab_code(), str(data_root())]


def _exam_release(scratch: Path) -> Path:
    """The exam release's hitlab (as ``hitlab course release --exam`` makes it, from this install), in this
    run's scratch folder: the folder to put on the learner's processes' ``sys.path`` in exam mode."""
    from hitlab.course.release import exam_tree

    folder = scratch / "exam"
    exam_tree(folder)
    for path in [folder, *folder.rglob("*")]:  # readable by the sandbox's user ids
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    return folder


def sandbox_state(uid: int, need: list[str], sandbox: bool) -> str:
    """What grading.log says of the sandbox: "on", or "off: why" with --no-sandbox (``sandbox`` False). A
    sandbox that does not work here, or --no-sandbox as root where the sandbox's users cannot reach ``need``,
    is an error."""
    state = probe(uid, need)
    if state != "on" and sandbox:
        raise HitlabError(
            f"the grading sandbox does not work on this machine ({state.removeprefix('off: ')});"
            " grade inside a container or VM of its own with --no-sandbox, or fix the cause"
            " (see 'The sandbox' in graders/README.md)"
        )
    if not sandbox:
        blocked = unreachable(need, uid) if os.geteuid() == 0 else None
        if blocked:
            raise HitlabError(
                f"--no-sandbox as root runs kernels as user ids from {UID_RANGE.start}, which cannot"
                f" pass {blocked}: install Python where every user can run it, or run hitlab grade"
                " as an ordinary user"
            )
        state = "off: --no-sandbox (kernels run unconfined)"
    return state


@dataclass
class GradingOptions:
    """How every slot grades, on this machine or on each worker of a cluster."""

    cell_timeout: int = 120
    notebook_timeout: float = 900
    limits: Limits = field(default_factory=Limits)
    sandbox: bool = True
    exam: bool = False
    # labs whose answer keys each slot computes once (hitlab.grading.answer_keys), on the named datasets: none
    # for each learner's own datasets (no key serves two learners); an exam's slots compute none (slot_settings)
    answer_keys: list[str] = field(default_factory=list)


def slot_settings(
    index: int, uid: int, template: Path, scratch: Path, need: list[str], exam_tree: Path | None,
    options: GradingOptions,
) -> SlotSettings:  # fmt: skip
    """A slot's settings on this machine."""
    from hitlab.data import data_root

    return SlotSettings(
        index, uid, str(template), str(scratch), need=need, env={"HITLAB_DATA_DIR": str(data_root())},
        cell_timeout=options.cell_timeout, limits=options.limits, confine=options.sandbox,
        judge_timeout=options.notebook_timeout, exam=str(exam_tree) if exam_tree else "",
        hitlab_code=_hitlab_code(), answer_keys=[] if options.exam else list(options.answer_keys),
    )  # fmt: skip


def grade(
    submissions: str | Path,
    out: str | Path,
    labs: list[str] | None = None,
    *,
    workers: int | None = None,
    db_url: str | None = None,
    roster: str | Path | None = None,
    timeout: int = 120,
    notebook_timeout: float = 900,
    force: bool = False,
    pattern: str = DEFAULT_LMS_PATTERN,
    limits: Limits | None = None,
    sandbox: bool = True,
    root: str | Path | None = None,
    on_start: Callable[[int], None] | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
    exam: bool = False,
    secret: str | Path | None = None,
    keep_variants: int | None = None,
    cluster: str | None = None,
) -> GradingRun:
    """Grade the cohort in ``submissions`` into ``out`` (see ``hitlab grade --help``). With ``cluster`` (a Dask
    scheduler's address) the notebooks are graded on that cluster's workers (:mod:`hitlab.grading.cluster`)
    and ``workers`` is not used; this process still writes the gradebook and the outputs."""
    from hitlab.cohort_keys import read_secret, seed_for
    from hitlab.course.build import tools_on_path
    from hitlab.data import build_dataset, datasets_for, evict_variants

    started = time.perf_counter()
    course_secret = read_secret(secret) if secret is not None else None  # a dataset per learner
    tools_on_path()  # nbgrader's gradebook runs alembic
    root = course_root(root)
    names = lab_names(root, labs)
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    url = gbook.database_url(db_url, out)
    run = GradingRun(out)
    people = read_roster(roster) if roster else []
    workers = max(1, workers or os.cpu_count() or 1)
    options = GradingOptions(timeout, notebook_timeout, limits or Limits(), sandbox, exam,
                             answer_keys=[] if course_secret is not None else names)  # fmt: skip
    uids: list[int] = []
    locks: list = []
    slots: list[_Worker] = []
    scratch = Path(tempfile.mkdtemp(prefix="hitlab-grade-"))
    os.chmod(scratch, 0o711)
    try:
        # the slots' processes first (here, not on a cluster): they load nbgrader while the course is prepared
        slots = [_Worker(out / "logs" / f"slot{i}.log") for i in range(workers)] if cluster is None else []
        sources, qs = {}, {}
        for lab in names:
            sources[lab], qs[lab] = _lab_material(root, lab)
        for dataset in datasets_for(names) if cluster is None else ():
            build_dataset(dataset)  # built now: sandboxed kernels only read them
        run.phases["datasets"] = time.perf_counter() - started
        from nbgrader.api import Gradebook

        others = [lab for lab in lab_names(root) if lab not in names]
        found = collect(submissions, names, pattern=pattern, work_dir=scratch / "unzipped", other_labs=others)
        run.unmatched, run.other_labs = found.unmatched, found.other_labs
        need = _needed_paths()
        exam_tree = _exam_release(scratch) if exam and cluster is None else None
        run.exam = exam
        run.per_learner_data = course_secret is not None
        if found.submissions and cluster is None:
            uids, locks = _claim_uids(min(workers, len(found.submissions)))
            run.uids = sorted(set(uids))
            run.sandbox = sandbox_state(uids[0], need, sandbox)
        template = shutil.copytree(template_course(root, names), scratch / "template")
        os.chmod(template, 0o700)
        with gbook.open_gradebook(url, seed=template / "gradebook.db") as gb:
            with Gradebook(f"sqlite:///{template / 'gradebook.db'}", gbook.COURSE_ID) as tpl:
                gbook.copy_structure(gb, tpl, names)
            gbook.add_students(gb, people)
            known = gbook.statuses(gb, names)
            jobs = []
            for sub in found.submissions:
                digest = sha256(sub.path)
                done = known.get((sub.student, sub.lab))
                if not force and done and done["status"] != "missing" and done["sha256"] == digest:
                    run.skipped.append((sub.student, sub.lab))
                else:
                    seed = seed_for(course_secret, sub.student) if course_secret is not None else None
                    jobs.append(Job(sub.student, sub.lab, str(sub.path), digest, seed))
            for slot in slots[len(jobs) :]:  # more workers than work (few submissions, a rerun skipping most)
                slot.stop(hard=True)
            del slots[len(jobs) :]

            def finish(outcome: Outcome) -> None:
                """Record one outcome; a failure here is that submission's, never the run's."""
                if course_secret is not None:  # bounded disk: the variants used least recently go
                    with contextlib.suppress(Exception):
                        evict_variants(keep=keep_variants or max(2 * len(slots), 4))
                try:
                    gbook.record(gb, outcome)
                    _write_outputs(out, outcome, sources[outcome.lab], qs[outcome.lab])
                except Exception as err:
                    run.errors.append(f"{outcome.student} {outcome.lab}: {type(err).__name__}: {err}")
                    if outcome.status != "crashed":
                        outcome = Outcome(outcome.student, outcome.lab, "crashed",
                                          f"its results could not be recorded: {type(err).__name__}: {err}",
                                          sha256=outcome.sha256)  # fmt: skip
                        with contextlib.suppress(Exception):
                            gbook.record(gb, outcome)
                run.graded.append(outcome)
                if on_outcome:
                    on_outcome(outcome)

            submitted = {(s.student, s.lab) for s in found.submissions}
            # unsafe names, ambiguous uploads: a status for the instructor, nothing graded, no feedback page;
            # an unsafe name's row describes this folder, so one fixed since the last run is dropped
            refused = {(p.student, p.lab) for p in found.problems}
            gbook.drop_statuses(gb, [key for key, row in known.items()
                                     if row["status"] == "invalid_submission" and key not in refused])  # fmt: skip
            for problem in found.problems:
                submitted.add((problem.student, problem.lab))
                outcome = Outcome(problem.student, problem.lab, problem.status, problem.detail)
                gbook.record(gb, outcome)
                run.refused.append(outcome)
            expected = {(p["id"], lab) for p in people for lab in names}
            expected |= {(s, lab) for (s, lab) in _misnamed(found.unmatched, names)}
            for student, lab in sorted(expected - submitted):
                if known.get((student, lab), {}).get("status", "missing") != "missing":
                    continue  # graded in an earlier run from another folder: kept
                why = next(
                    (f"{f}: {r}" for f, r in found.unmatched if f.startswith(f"{student}/{lab}/")),
                    "no submission",
                )
                outcome = Outcome(student, lab, "missing", why)
                gbook.record(gb, outcome)
                run.missing.append(outcome)

            if on_start:
                on_start(len(jobs))
            for i, slot in enumerate(slots):
                slot.start(slot_settings(i, uids[i], template, scratch, need, exam_tree, options))
            run.phases["prepare"] = time.perf_counter() - started - run.phases["datasets"]
            if jobs and cluster is not None:
                from hitlab.grading.cluster import grade_on_cluster

                def unfinished(job: Job, why: str) -> None:  # not recorded: the next run grades it
                    run.errors.append(f"{job.student} {job.lab}: not graded: {why}")

                run.sandbox, run.uids = grade_on_cluster(
                    cluster, jobs, template, names, options, finish, unfinished, keep_variants=keep_variants
                )
            elif jobs:
                _run_jobs(jobs, slots, notebook_timeout, finish)
            run.phases["grade"] = time.perf_counter() - started - sum(run.phases.values())
            _write_exports(gb, out, names, sources, qs, root=root)
            run.phases["export"] = time.perf_counter() - started - sum(run.phases.values())
        _write_log(out, run)
    finally:
        for slot in slots:  # stopped already, unless grading was interrupted
            slot.stop(hard=True)
        for uid in uids:
            kill_user(uid)
        for handle in locks:
            handle.close()
        shutil.rmtree(scratch, ignore_errors=True)
    run.seconds = time.perf_counter() - started
    return run


def _misnamed(unmatched: list[tuple[str, str]], labs: list[str]) -> set[tuple[str, str]]:
    """``(student, lab)`` of files in a submitted/ tree that sit in a lab's folder under a wrong name."""
    found = set()
    for name, _why in unmatched:
        parts = name.split("/")
        if len(parts) == 3 and parts[1] in labs:
            found.add((parts[0], parts[1]))
    return found


def _lab_material(root: Path, lab: str) -> tuple:
    """A lab's source notebook and its questions by grade id: what feedback and the report are made from."""
    from hitlab.checks import questions

    return read(source_notebook(root, lab)), {q.grade_id: q for q in questions(lab)}


def _write_outputs(out: Path, outcome: Outcome, source_nb, qs: dict) -> None:
    # the student id is a folder name here: collect() refuses unsafe ones already, this is the last defence
    if why := safe_student_id(outcome.student):
        raise HitlabError(f"refusing to write under the student id {outcome.student!r}: it {why}")
    if outcome.autograded:
        target = out / "autograded" / outcome.student / outcome.lab / f"{outcome.lab}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(outcome.autograded, encoding="utf-8")
    page = out / "feedback" / outcome.student / f"{outcome.lab}.html"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(feedback_html(outcome.student, outcome.lab, outcome, source_nb, qs), encoding="utf-8")


def _write_exports(
    gb, out: Path, labs: list[str], sources: dict, qs: dict, *, root: str | Path | None = None
) -> None:
    """The exports and ``report.html``, of the whole gradebook: the report shows every lab with statuses, not
    only this run's ``labs`` (``sources`` and ``qs`` hold theirs; the others' are read from the course at
    ``root``)."""
    from hitlab.grading.report import write_grades_csv

    rows = gbook.statuses(gb)
    write_status_csv(list(rows.values()), out / "status.csv")
    write_grades_csv(gb, out / "grades.csv")  # nbgrader's CSV export, quoted and safe to open
    shown = sorted({a for (_s, a) in rows} | set(labs))
    sources, qs = dict(sources), dict(qs)
    for lab in shown:
        if lab not in sources:
            with contextlib.suppress(HitlabError, KeyError):  # a lab no longer in the course: counts only
                sources[lab], qs[lab] = _lab_material(course_root(root), lab)
    (out / "report.html").write_text(
        report_html(shown, gbook.item_scores(gb, shown), rows, sources, qs, _similar(out, shown)),
        encoding="utf-8",
    )


def _similar(out: Path, labs: list[str]) -> dict:
    """Lab -> the pairs of graded submissions alike beyond chance, read from ``out/autograded/`` (the learners'
    answer cells as graded; a copy that cannot be read is left out)."""
    from hitlab.grading.similarity import cohort_pairs

    found = []
    for lab in labs:
        for path in sorted((out / "autograded").glob(f"*/{lab}/{lab}.ipynb")):
            with contextlib.suppress(HitlabError, ValueError, OSError):
                found.append((path.parent.parent.name, lab, read(path)))
    return cohort_pairs(found)


def _write_log(out: Path, run: GradingRun) -> None:
    lines = [f"sandbox: {run.sandbox or 'not started (nothing to grade)'}"]
    if run.exam:
        lines.append("mode: exam (the learner's code ran with the exam release; every score from the judge)")
    if run.per_learner_data:
        lines.append("data: each student's own datasets (seeds from the course secret and the student id)")
    lines += [f"error: {e}" for e in run.errors]
    lines.append("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in run.phases.items()))
    lines += [f"unmatched: {name}: {why}" for name, why in run.unmatched]
    lines += [f"not asked for (--labs): {name}" for name in run.other_labs]
    lines += [f"skipped (already graded, unchanged): {s} {lab}" for s, lab in run.skipped]
    lines += [
        f"{o.status}: {o.student} {o.lab} {o.detail}".rstrip() for o in run.graded + run.refused + run.missing
    ]
    with open(out / "grading.log", "a", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
