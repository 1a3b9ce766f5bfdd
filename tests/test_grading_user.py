"""``hitlab grade`` run by a user that is not root, after root graded on the same machine: the sandbox then
rests on a user namespace (kernels keep the grader's user id), and must still hide the grader's files (its
cached course with the solutions, its command line), end daemons, and never trip over what root left."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest

from hitlab.course.notebooks import (
    answered,
    course_root,
    graded_cells,
    read,
    release_notebook,
    solution_code,
    source_notebook,
    write,
)
from hitlab.grading import grade

LAB = "lab00_orientation"
USER = os.environ.get("HITLAB_TEST_USER", "hitlab-grader")
pytestmark = [pytest.mark.slow]


def _unavailable(why: str):
    if os.environ.get("CI"):
        pytest.fail(f"CI must provide an unprivileged user for this test ({why}); .ci/run makes {USER}")
    pytest.skip(why)


@pytest.fixture(scope="module")
def user():
    if os.geteuid() != 0:
        pytest.skip("switching to another user needs root")
    try:
        entry = pwd.getpwnam(USER)
    except KeyError:
        _unavailable(f"no user {USER!r} (set HITLAB_TEST_USER)")
    done = subprocess.run(["runuser", "-u", USER, "--", sys.executable, "-c", "import hitlab"],
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode:
        _unavailable(f"{USER} cannot run {sys.executable}: {done.stderr.strip()[-300:]}")
    return entry


def _notebook(**answers: str):
    source = read(source_notebook(course_root(), LAB))
    correct = {c.grade_id: solution_code(c.source) for c in graded_cells(source) if c.kind == "answer"}
    for name, code in answers.items():
        correct[f"lab00_{name}"] = code + correct[f"lab00_{name}"]
    return answered(read(release_notebook(course_root(), LAB)), correct)


def _outputs(out: Path, student: str) -> str:
    nb = nbformat.read(out / "autograded" / student / LAB / f"{LAB}.ipynb", as_version=4)
    return "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))


def test_a_normal_user_grades_after_root(user):
    from hitlab.data import build_dataset

    build_dataset("default")
    build_dataset("defects")
    work = Path(tempfile.mkdtemp(prefix="hitlab-user-test-"))
    try:
        marker = f"hitlab-user-daemon-{os.getpid()}"
        home = work / "home"  # the grading user's home, where its course cache with the solutions goes
        snoop = f"""
import glob, os
print("CACHE", glob.glob({str(home)!r} + "/**/solutions", recursive=True)
      + glob.glob("/tmp/**/gradebook.db", recursive=True) + glob.glob({str(work)!r} + "/*"))
print("PROCS", sorted(int(p) for p in os.listdir("/proc") if p.isdigit()))
"""
        # daemons, and a kernel that leaves its process group, drops its parent-death signal and ignores the
        # shutdown request: only the grader's reaping of its PID namespace ends them
        daemon = f"""
import ctypes, os, signal, subprocess, sys
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", {marker!r}], start_new_session=True)
os.setsid()
ctypes.CDLL(None).prctl(1, 0, 0, 0, 0)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
kernel = get_ipython().kernel
kernel.control_handlers["shutdown_request"] = lambda *args: None
kernel.shell_handlers["shutdown_request"] = lambda *args: None
print("DAEMON started")
"""
        subs = work / "submitted"
        for student, nb in (("good", _notebook()), ("snoop", _notebook(standards_body=snoop)),
                            ("daemon", _notebook(hie=daemon))):  # fmt: skip
            write(nb, subs / student / LAB / f"{LAB}.ipynb")
        root_run = grade(subs, work / "root-out", [LAB], workers=1)  # root first: its locks, its caches
        assert {o.student: o.status for o in root_run.graded} == dict.fromkeys(
            ("daemon", "good", "snoop"), "graded"
        )

        home.mkdir()
        shutil.chown(work, USER, USER)
        for path in [home, *subs.rglob("*")]:
            shutil.chown(path, USER, USER)
        env = {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8",
               "HITLAB_DB_URL": f"sqlite:///{work / 'out' / 'gradebook.db'}"}  # fmt: skip
        done = subprocess.run(
            ["runuser", "-u", USER, "--", "env", "-i", *(f"{k}={v}" for k, v in env.items()),
             sys.executable, "-m", "hitlab.cli", "grade", str(subs), "--out", str(work / "out"),
             "--labs", "lab00", "--workers", "2", "-q"],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr + done.stdout
        assert "graded 3 notebooks" in done.stdout and "warning" not in done.stderr, done.stderr
        log = (work / "out" / "grading.log").read_text()
        assert "sandbox: on" in log
        status = (work / "out" / "status.csv").read_text().splitlines()
        assert status[1:] == [f"{s},{LAB},graded," for s in ("daemon", "good", "snoop")]
        assert all(
            line.endswith(",10.0,0.0,10.0,12.0")
            for line in (work / "out" / "grades.csv").read_text().splitlines()[1:]
        )

        cache = home / ".cache" / "hitlab" / "grading"
        assert list(cache.glob("*/solutions")), "the user's cached course holds the solutions"
        printed = _outputs(work / "out", "snoop")
        assert "CACHE []" in printed, printed
        processes = eval(printed.split("PROCS ")[1].splitlines()[0])
        assert processes[0] == 1 and len(processes) < 5, processes
        assert "DAEMON started" in _outputs(work / "out", "daemon")
        alive = [p for p in Path("/proc").glob("[0-9]*") if _has(p, marker)]
        assert alive == []
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _has(proc: Path, marker: str) -> bool:
    try:
        return marker.encode() in (proc / "cmdline").read_bytes()
    except OSError:
        return False
