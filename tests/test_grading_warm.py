"""Warm kernels (hitlab.grading.warm): a grading slot's kernels are forked from a warm launcher with the heavy
imports done, and each is still a new process in a new sandbox. Attacked here with real grading runs on one
slot, so that one learner's kernel follows another's from the same launcher: nothing the first changes (in
the modules the launcher imported, the environment, the file system) reaches the second; a fork's random
state is not shared; no kernel holds the launcher's socket (which could ask for an unconfined kernel)."""

from __future__ import annotations

import os

import nbformat
import pytest

from hitlab.checks import questions
from hitlab.course.notebooks import read, write
from hitlab.grading import grade
from hitlab.grading.cohort import make_cohort

LAB = "lab00_orientation"
pytestmark = [pytest.mark.slow]

FIRST = """\
import sys
print("warm", "pandas" in sys.modules and "duckdb" in sys.modules)
import builtins, os, random, numpy, pandas
print("leaked", [hasattr(m, "LEAKED") for m in (builtins, numpy, pandas)], "LEAKED" in os.environ,
      os.path.exists("/tmp/leaked"), "leak_module" in sys.modules)
print("random", random.random(), numpy.random.rand())
builtins.LEAKED = numpy.LEAKED = pandas.LEAKED = True
os.environ["LEAKED"] = "1"
sys.modules["leak_module"] = sys
open("/tmp/leaked", "w").close()
"""
SOCKETS = """\
import os, socket
kinds = []
for fd in sorted(int(n) for n in os.listdir("/proc/self/fd")):
    try:
        sock = socket.socket(fileno=os.dup(fd))
    except OSError:
        continue
    kinds.append(sock.type.name)
    sock.close()
print("packet sockets", kinds.count("SOCK_SEQPACKET"), "uid", os.getuid(), "pid", os.getpid())
"""
KEYS = """\
import sys
from hitlab.checks import questions
print("keys", sum("answer_key" in vars(q) for q in questions("lab00")), "path", sys.path[0])
"""
CORRUPT = """\
from hitlab.checks import questions
for q in questions("lab00"):  # after this notebook's checks: would the next learner's kernel get these?
    q.__dict__["answer_key"] = [("corrupted",)]
"""


def _printed(out, student: str) -> list[str]:
    nb = nbformat.read(out / "autograded" / student / LAB / f"{LAB}.ipynb", as_version=4)
    return "".join(o.get("text", "") for c in nb.cells[:3] for o in c.get("outputs", [])).splitlines()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("warm")
    source = tmp / "source"
    make_cohort(source, [LAB], per_lab=1, seed=2)
    base = read(source / "s001" / LAB / f"{LAB}.ipynb")
    for student in ("a1", "a2", "a3"):
        nb = read(source / "s001" / LAB / f"{LAB}.ipynb")
        nb.cells[:0] = [nbformat.v4.new_code_cell(c) for c in (FIRST, SOCKETS, KEYS)]
        nb.cells.append(nbformat.v4.new_code_cell(CORRUPT))
        (tmp / "subs" / student / LAB).mkdir(parents=True)
        write(nb, tmp / "subs" / student / LAB / f"{LAB}.ipynb")
    run = grade(tmp / "subs", tmp / "out", [LAB], workers=1)  # one slot: each kernel after another's
    return {"out": tmp / "out", "run": run, "cells": len(base.cells)}


def test_kernels_are_forked_warm_and_share_nothing(graded):
    assert {o.status for o in graded["run"].graded} <= {"graded", "tampered"}, graded["run"].graded
    seen = []
    for student in ("a1", "a2", "a3"):
        lines = _printed(graded["out"], student)
        assert lines[0] == "warm True", lines  # the launcher's imports were there before any cell ran
        assert lines[1] == "leaked [False, False, False] False False False", (student, lines)
        seen.append(lines[2].split()[1:])
    for values in zip(*seen, strict=True):  # each kernel's random states are its own (random's, numpy's)
        assert len(set(values)) == 3, seen


def test_no_kernel_holds_the_warm_launchers_socket(graded):
    for student in ("a1", "a2", "a3"):
        line = _printed(graded["out"], student)[3]
        packets, uid, pid = line.split()[2], int(line.split()[4]), int(line.split()[6])
        assert packets == "0", line
        assert pid == 1, line  # the first process of a PID namespace of its own
        if os.geteuid() == 0:
            assert uid in graded["run"].uids, line


def test_kernels_start_with_their_labs_answer_keys(graded):
    """Each kernel gets its lab's answer keys, computed once by the slot's launcher (the first kernel waits for
    them), and starts as ``python -m ipykernel_launcher`` would, in its home folder."""
    from hitlab.grading.answer_keys import compute
    from hitlab.grading.sandbox import HOME

    keys = len(compute(LAB))
    assert keys == sum(q.key_from_data for q in questions(LAB)) > 0  # every such key of lab00 is sent
    for student in ("a1", "a2", "a3"):
        assert _printed(graded["out"], student)[4] == f"keys {keys} path {HOME}"


def test_graded_as_a_cold_kernel_grades(graded):
    from nbgrader.api import Gradebook

    from hitlab.grading.gradebook import item_scores

    with Gradebook(f"sqlite:///{graded['out'] / 'gradebook.db'}", "hitlab") as gb:
        scores = item_scores(gb, [LAB])[LAB]
    full = {cell: (m, m) for cell, (_s, m) in scores["a1"].items() if cell.endswith("_test")}
    # the correct answers keep full marks after the extra cells, though each kernel before spoiled its keys
    for student in ("a1", "a2", "a3"):
        assert {c: v for c, v in scores[student].items() if c.endswith("_test")} == full


def test_a_dead_warm_launcher_is_replaced(tmp_path):
    """A warm launcher killed between two notebooks (for memory, say) is started again for the next kernel."""
    import select
    import sys

    from hitlab.grading.sandbox import HOME, Sandbox, _environment
    from hitlab.grading.warm import WarmLauncher

    folders = [tmp_path / n for n in ("sockets", "root", "records", "work")]
    for folder in folders:
        folder.mkdir()
    spec = Sandbox(os.geteuid(), *folders, confine=False).spec()  # unconfined: nothing to build here
    launcher = WarmLauncher(_environment(spec, HOME))
    try:
        first = launcher.process.pid
        launcher.process.kill()
        launcher.process.wait()
        pid, pidfd = launcher.start(spec, [sys.executable, "-c", "pass"])
        assert launcher.process.pid != first and launcher.process.poll() is None
        assert select.select([pidfd], [], [], 60)[0]  # the forked launcher ran its command and ended
        os.close(pidfd)
        assert pid > 0
    finally:
        launcher.stop()
