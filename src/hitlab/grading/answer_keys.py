"""Answer keys computed once per grading slot rather than once per notebook.

A check compares the learner's answer with the question's answer key, which the lab's reference
implementation computes from the dataset (:attr:`hitlab.checks.core.Question.answer_key`). The key is the same
for every notebook graded on the same dataset, and it is most of a check's time (lab01's keys take about 2.4 s,
lab02's 2.7 s, of the 3.5-5 s their notebooks run). So a slot's warm launcher
(:func:`hitlab.grading.sandbox.serve_warm`) has a helper compute a lab's keys once, at the slot's first kernel
of that lab, and every kernel of that lab it forks from then on finds them computed, if its datasets are the
ones they were computed on (the named datasets, not a learner's own: see :class:`LauncherKeys`).

Only when grading self-study labs (not ``--exam``): there the learner's kernel runs the full hitlab, whose checks
compute these very keys, so having them in memory reveals nothing new; an exam's kernels run the exam
release, which has no reference implementations and so no keys, and its launcher computes none. The launcher
never opens a dataset itself (a fork does not carry DuckDB's threads): its helper, a fork of it, does, and
sends the keys back pickled over a pipe before it exits. Both run the grader's own code on the grader's own
datasets, never a learner's.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import sys
import time
from collections.abc import Callable
from typing import Any

from hitlab.checks import questions
from hitlab.data import SEED_ENV

DATA_DIR_ENV = "HITLAB_DATA_DIR"
NAMED = "named"  # the value of SEED_ENV for the named datasets
WAIT = 10.0  # seconds the first kernel of a lab waits for its keys (1-6 s for most labs; lab09's take 80 s)


def dataset_of(env: dict[str, str]) -> tuple[str, str]:
    """Which datasets a process with the environment ``env`` reads (where they are, which seed)."""
    return env.get(DATA_DIR_ENV, ""), env.get(SEED_ENV, NAMED).strip().lower() or NAMED


def compute(lab: str) -> dict[str, bytes]:
    """The answer key of each question of ``lab`` whose key is data from the datasets alone
    (:attr:`~hitlab.checks.core.Question.key_from_data`: a key holding a listener's port or a temporary file
    would be wrong in another process), on this process's datasets, pickled, by grade id. A key that cannot be
    computed or pickled is left out (the kernel computes it itself, failing as it would have)."""
    keys = {}
    for question in questions(lab):
        if not question.key_from_data:
            continue
        with contextlib.suppress(Exception):
            keys[question.grade_id] = pickle.dumps(question.answer_key, protocol=pickle.HIGHEST_PROTOCOL)
    return keys


def _start(lab: str, data_dir: str, setup: Callable[[], None]) -> int:
    """Fork a helper that computes the keys of ``lab`` on the named datasets in ``data_dir`` after ``setup``; the
    read end of the pipe it writes them to before it exits."""
    read_end, write_end = os.pipe()
    if os.fork() == 0:
        status = 1
        try:
            os.closerange(3, write_end)  # nothing of the launcher's: only the pipe it writes
            os.closerange(write_end + 1, os.sysconf("SC_OPEN_MAX"))
            setup()
            os.environ[DATA_DIR_ENV] = data_dir
            os.environ[SEED_ENV] = NAMED
            data = pickle.dumps(compute(lab), protocol=pickle.HIGHEST_PROTOCOL)
            with open(write_end, "wb") as pipe:
                pipe.write(data)
            status = 0
        except BaseException as err:
            with contextlib.suppress(OSError):
                os.write(2, f"hitlab grading: the answer keys of {lab} were not computed: {err!r}\n".encode())
        os._exit(status)
    os.close(write_end)
    return read_end


def _receive(lab: str, read_end: int) -> dict[str, Any]:
    """The keys of ``lab`` from a helper's pipe (read to its end, then closed), unpickled; an empty dict if the
    helper failed. The lab's checks are imported here, once, which also spares every kernel that import."""
    with open(read_end, "rb") as pipe:
        data = pipe.read()
    try:
        questions(lab)
        pickled = pickle.loads(data) if data else {}
        keys = {}
        for grade_id, value in pickled.items():
            with contextlib.suppress(Exception):
                keys[grade_id] = pickle.loads(value)
        return keys
    except Exception as err:
        print(f"hitlab grading: the answer keys of {lab} could not be read: {err!r}", file=sys.stderr)
        return {}


class LauncherKeys:
    """The answer keys a slot's warm launcher holds: those of ``labs`` on the named datasets where ``env`` says
    they are, each lab's computed by a helper at the first kernel of that lab, which waits for them up to
    :data:`WAIT` seconds (a kernel would spend that time computing them itself); a lab whose keys take longer
    gets them for its later kernels, once :meth:`collect` has read them."""

    def __init__(self, labs: list[str], env: dict[str, str], setup: Callable[[], None] = lambda: None):
        self.labs, self.setup = set(labs), setup
        self.computed_for = dataset_of(env)
        self.keys: dict[str, dict[str, Any]] = {}  # lab -> its keys, once in
        self.pending: dict[int, tuple[str, float]] = {}  # a helper's pipe -> its lab, and how long to wait

    def fds(self) -> list[int]:
        """The pipes of helpers still computing."""
        return list(self.pending)

    def collect(self, read_end: int) -> None:
        """Read what the helper writing ``read_end`` computed (the pipe is readable: it is done, or gone)."""
        lab, _deadline = self.pending.pop(read_end)
        self.keys[lab] = _receive(lab, read_end)

    def for_kernel(self, lab: str, env: dict[str, str]) -> dict[str, Any]:
        """The keys for a kernel of ``lab`` whose environment is ``env``: none unless they are for its datasets."""
        if lab not in self.labs or dataset_of(env) != self.computed_for:
            return {}
        if lab not in self.keys and all(pending != lab for pending, _ in self.pending.values()):
            self.pending[_start(lab, self.computed_for[0], self.setup)] = (lab, time.monotonic() + WAIT)
        for read_end, (pending, deadline) in list(self.pending.items()):
            if pending == lab and select.select([read_end], [], [], max(0.0, deadline - time.monotonic()))[0]:
                self.collect(read_end)
        return self.keys.get(lab, {})


def install(lab: str, keys: dict[str, Any]) -> int:
    """In a kernel's process before it starts: give the questions of ``lab`` their computed ``keys`` (what their
    ``answer_key`` property would compute and keep); how many were given."""
    given = 0
    for question in questions(lab):
        if question.grade_id in keys:
            question.__dict__["answer_key"] = keys[question.grade_id]
            given += 1
    return given
