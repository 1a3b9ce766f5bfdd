"""Grading on a Dask distributed cluster (``hitlab grade --cluster``): a local cluster of two worker processes
grades a cohort to the same per-item scores and statuses as the local runner, with every kernel in the sandbox
on each worker (its own sandbox user id) and unable to reach the cluster's scheduler or workers; this process
stays the gradebook's one writer, and a second run resumes: nothing graded twice."""

from __future__ import annotations

import csv
import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

import nbformat
import pytest

from hitlab.course.notebooks import read, write
from hitlab.grading import grade
from hitlab.grading.cohort import make_cohort
from hitlab.grading.worker import UID_RANGE

distributed = pytest.importorskip("distributed")

LABS = ["lab00_orientation", "lab01_ehr_data_modeling"]
pytestmark = [pytest.mark.slow]

#: What the snooping learner's first cell runs: it tries every port of the cluster from inside the kernel.
SNOOP = """\
import socket
for port in {ports}:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=3).close()
        print("reached", port)
    except OSError as err:
        print("not reached", port, type(err).__name__)
"""


def _ports(cluster) -> list[int]:
    """The ports the scheduler, the workers and their nannies listen on."""
    info = cluster.scheduler_info
    nannies = [w["nanny"] for w in info["workers"].values() if w.get("nanny")]
    return sorted({urlsplit(a).port for a in [info["address"], *info["workers"], *nannies]})


def _scores(out: Path) -> dict[tuple[str, str], dict[str, float]]:
    from nbgrader.api import Gradebook

    from hitlab.grading.gradebook import item_scores

    with Gradebook(f"sqlite:///{out / 'gradebook.db'}", "hitlab") as gb:
        found = item_scores(gb, LABS)
    return {(s, lab): cells for lab, students in found.items() for s, cells in students.items()}


def _statuses(out: Path) -> set[tuple[str, str, str, str]]:
    with open(out / "status.csv", newline="", encoding="utf-8") as handle:
        return {(r["student_id"], r["assignment"], r["status"], r["detail"]) for r in csv.DictReader(handle)}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    from distributed import LocalCluster

    tmp = tmp_path_factory.mktemp("cluster")
    subs = tmp / "submitted"
    expected = make_cohort(subs, LABS, per_lab=3, seed=5)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        ports = _ports(cluster)
        for port in ports:  # reachable from here, from outside the sandbox
            socket.create_connection(("127.0.0.1", port), timeout=3).close()
        snoop = subs / "snoop" / LABS[0] / f"{LABS[0]}.ipynb"
        nb = read(subs / "s001" / LABS[0] / f"{LABS[0]}.ipynb")
        nb.cells.insert(0, nbformat.v4.new_code_cell(SNOOP.format(ports=ports)))
        snoop.parent.mkdir(parents=True)
        write(nb, snoop)
        here = grade(subs, tmp / "here", LABS, workers=2)
        there = grade(subs, tmp / "there", LABS, cluster=cluster.scheduler_address)
        again = grade(subs, tmp / "there", LABS, cluster=cluster.scheduler_address)
    return {"tmp": tmp, "expected": expected, "ports": ports, "here": here, "there": there, "again": again}


def test_a_two_worker_cluster_grades_as_the_local_runner(graded):
    tmp, there = graded["tmp"], graded["there"]
    assert there.errors == []
    assert len(there.graded) == 7  # 3 students x 2 labs, and the snoop's one notebook
    assert _scores(tmp / "there") == _scores(tmp / "here")
    tests = {
        k: {c: s for c, (s, _m) in v.items() if c.endswith("_test")}
        for k, v in _scores(tmp / "there").items()
    }
    assert {k: v for k, v in tests.items() if k[0] != "snoop"} == graded["expected"]
    assert _statuses(tmp / "there") == _statuses(tmp / "here")
    assert (tmp / "there" / "feedback" / "s001" / f"{LABS[1]}.html").is_file()


def test_every_worker_grades_in_the_sandbox_as_its_own_user(graded):
    there = graded["there"]
    assert there.sandbox == "on"
    assert len(there.uids) == 2  # one slot on each worker, each its own sandbox user
    if os.geteuid() == 0:
        assert all(uid in UID_RANGE for uid in there.uids)


def test_learner_code_cannot_reach_the_cluster(graded):
    ports = graded["ports"]
    assert len(ports) >= 3  # the scheduler and two workers at least
    autograded = graded["tmp"] / "there" / "autograded" / "snoop" / LABS[0] / f"{LABS[0]}.ipynb"
    printed = "".join(o.get("text", "") for o in nbformat.read(autograded, as_version=4).cells[0].outputs)
    assert printed.splitlines() == [f"not reached {port} ConnectionRefusedError" for port in ports], printed


def test_a_second_run_grades_nothing_twice(graded):
    again = graded["again"]
    assert again.graded == [] and again.errors == []
    assert len(again.skipped) == 7
