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

from attacks import daemon_code, processes_with
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
        daemon = daemon_code(marker)
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
        assert "DAEMONS started" in _outputs(work / "out", "daemon")
        assert processes_with(marker) == []
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_no_sandbox_as_a_normal_user_keeps_kernels_out_of_the_graders_folders(user):
    """``--no-sandbox``: the kernel still works in a folder of its own, so links it plants there (to a file
    only the grading user may read, to a path it chooses) are never followed by the grader."""
    work = Path(tempfile.mkdtemp(prefix="hitlab-user-test-"))
    try:
        secret, planted = work / "secret.txt", work / "planted.txt"
        attack = f"""
import os
for name, target in (({LAB + ".ipynb"!r}, {str(secret)!r}), ("timestamp.txt", {str(planted)!r})):
    os.symlink(target, name)
print("CWD", os.getcwd())
"""
        subs = work / "submitted"
        write(_notebook(standards_body=attack), subs / "s001" / LAB / f"{LAB}.ipynb")
        home = work / "home"
        home.mkdir()
        secret.write_text("the grader's own file\n")
        for path in [work, home, secret, *subs.rglob("*")]:
            shutil.chown(path, USER, USER)
        secret.chmod(0o600)
        before = secret.stat()
        env = {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8"}
        done = subprocess.run(
            ["runuser", "-u", USER, "--", "env", "-i", *(f"{k}={v}" for k, v in env.items()),
             sys.executable, "-m", "hitlab.cli", "grade", str(subs), "--out", str(work / "out"),
             "--labs", "lab00", "--no-sandbox", "-q"],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr + done.stdout
        assert "warning: sandbox off: --no-sandbox" in done.stderr
        assert (work / "out" / "status.csv").read_text().splitlines()[1] == f"s001,{LAB},graded,"
        assert "CWD /tmp/hitlab-grade-" in _outputs(work / "out", "s001")
        after = secret.stat()
        assert secret.read_text() == "the grader's own file\n" and not planted.exists()
        assert (after.st_mode, after.st_uid, after.st_mtime) == (
            before.st_mode,
            before.st_uid,
            before.st_mtime,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_a_dataset_another_user_built_is_refused_clearly(user):
    """A user who may not write the datasets' folder gets a sentence, not a PermissionError traceback."""
    from hitlab.data import build_dataset, data_root

    build_dataset("default")
    if os.stat(data_root()).st_uid == user.pw_uid:
        pytest.skip("the datasets' folder belongs to the test user")
    done = subprocess.run(
        ["runuser", "-u", USER, "--", "env", "-i", f"PATH={os.environ['PATH']}", "HOME=/nonexistent",
         sys.executable, "-m", "hitlab.cli", "data", "build", "--force"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr
    assert f"dataset 'default' needs building in {data_root()}, which this user may not write" in done.stderr
