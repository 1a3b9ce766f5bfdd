"""Hostile and broken submissions graded by ``hitlab grade`` with real nbgrader, real kernels and the real
sandbox: each gets its status and a fair score, nothing outside its folder is harmed, nothing secret is
readable, nothing on the machine's loopback is reachable (the kernel's own loopback works), and the
well-behaved submission beside them is graded normally."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import re
import socket
import threading
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
from hitlab.grading import Limits, grade

LAB = "lab00_orientation"
FULL = 10.0  # lab00's autograded points
POINTS = {"standards_body": 1, "hipaa_roles": 2, "code_systems": 2, "patients_by_gender": 2, "encounters_2024": 2, "hie": 1}  # fmt: skip
pytestmark = [pytest.mark.slow]


def _correct() -> dict[str, str]:
    source = read(source_notebook(course_root(), LAB))
    return {c.grade_id: solution_code(c.source) for c in graded_cells(source) if c.kind == "answer"}


def _notebook(**answers: str):
    """The released lab with every answer correct, except the answer cells named (without the lab prefix)."""
    correct = _correct()
    for name, code in answers.items():
        correct[f"lab00_{name}"] = code
    return answered(read(release_notebook(course_root(), LAB)), correct)


def _cell(nb, grade_id: str):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _tree(files: dict[str, object], root: Path) -> Path:
    for student, content in files.items():
        name = f"{LAB}.ipynb" if not student.startswith("misnamed") else "my_lab.ipynb"
        path = root / student / LAB / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            write(content, path)
    return root


def _checksums(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _stats(folder: Path) -> dict[str, tuple]:
    """Content, mode and owner of every file in ``folder``."""
    return {
        p.name: (p.read_bytes(), p.stat().st_mode, p.stat().st_uid, p.stat().st_gid)
        for p in sorted(folder.iterdir())
    }


def _on_the_way(path: str) -> bool:
    """Whether ``path`` is a folder the kernel may see: on the way to, or inside, what it needs (the
    interpreter, the venv, hitlab, the datasets: under /tmp when the checkout is) or its socket folder."""
    from hitlab.grading.runner import _needed_paths

    if path == "/tmp" or re.fullmatch(r"/tmp/hitlab-grade-\w+(/slot\d(/sockets(/.*)?)?)?", path):
        return True
    return any(p == path or p.startswith(path + "/") or path.startswith(p + "/") for p in _needed_paths())


def _outputs(out: Path, student: str) -> str:
    nb = nbformat.read(out / "autograded" / student / LAB / f"{LAB}.ipynb", as_version=4)
    return "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    subs, out = tmp / "submitted", tmp / "out"
    canary_dir = tmp / "canary"
    canary_dir.mkdir()
    canary = canary_dir / "keep.txt"
    canary.write_text("instructor's file\n")
    secret = canary_dir / "root-only.txt"  # a file only its owner may read or change
    secret.write_text("root's secret\n")
    secret.chmod(0o600)
    planted = canary_dir / "created-by-a-student.txt"  # must never come to exist
    unix_path = tmp / "host.sock"
    unix_server = socket.socket(socket.AF_UNIX)
    unix_server.bind(str(unix_path))
    unix_server.listen()
    unix_server.settimeout(0.2)
    abstract = f"\0hitlab-test-{os.getpid()}"
    abstract_server = socket.socket(socket.AF_UNIX)
    abstract_server.bind(abstract)
    abstract_server.listen()
    abstract_server.settimeout(0.2)
    other_checkout = tmp / "other-checkout"
    (other_checkout / "solutions").mkdir(parents=True)
    (other_checkout / "solutions" / "answers.py").write_text("ANSWER = 42\n")
    marker = f"hitlab-daemon-{os.getpid()}"

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    accepted = []

    def serve():
        server.settimeout(0.5)
        while not stop.is_set():
            try:
                accepted.append(server.accept())
            except OSError:
                continue

    stop = threading.Event()
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    root = course_root()
    snoop = f"""
import os
def peek(path):
    try:
        return sorted(os.listdir(path)) if os.path.isdir(path) else open(path, "rb").read(20)
    except OSError as err:
        return type(err).__name__
print("SOLUTIONS", peek({str(root / "solutions")!r}))
print("GIT", peek({str(root / ".git")!r}))
print("GRADERS", peek({str(root / "graders")!r}))
print("SUBMISSIONS", peek({str(subs)!r}))
print("OUT", peek({str(out)!r}))
print("CHECKOUT", peek({str(other_checkout)!r}))
print("CACHE", peek(os.path.expanduser({str(Path.home() / ".cache" / "hitlab")!r})))
print("ROOTONLY", peek({str(secret)!r}))
print("REPO", peek({str(root)!r}))
print("TMP", peek("/tmp"))
print("PROCS", sorted(int(p) for p in os.listdir("/proc") if p.isdigit()))
print("GRADER", peek("/proc/{os.getpid()}/cmdline"))
print("SECRET", os.environ.get("HITLAB_TEST_SECRET"))
print("UID", os.getuid())
"""
    # plants links where the grader works or might: its own folder, the socket folder it shares with the
    # grader (named in its connection file), then tries nbgrader's folders by their host paths
    symlinker = f"""
import glob, json, os
cwd = os.getcwd()
links = {{"{LAB}.ipynb": {str(secret)!r}, "timestamp.txt": {str(planted)!r}, "other": {str(subs)!r}}}
for name, target in links.items():
    os.symlink(target, os.path.join(cwd, name))
from ipykernel import get_connection_file
sockets = os.path.dirname(json.load(open(get_connection_file()))["ip"])
for name in os.listdir(sockets):
    os.replace(os.path.join(sockets, name), os.path.join(sockets, name + ".moved"))
for name, target in links.items():
    os.symlink(target, os.path.join(sockets, name))
print("SOCKETS", sorted(os.listdir(sockets)))
print("GRADER_DIRS", glob.glob("/tmp/hitlab-grade-*/slot*/[!s]*"))
mirror = []
for top, folders, _files in os.walk("/tmp"):
    mirror.append(top)
    if top.count("/") >= 6:
        folders.clear()
print("MIRROR", sorted(mirror))
"""
    sockets = f"""
import socket
for name, address in (("UNIX", {str(unix_path)!r}), ("ABSTRACT", {abstract!r})):
    try:
        socket.socket(socket.AF_UNIX).connect(address)
        print(name, "connected")
    except OSError as err:
        print(name, type(err).__name__)
"""
    scratch = """
import os
for folder in ("/tmp", "/dev/shm", os.path.expanduser("~")):
    with open(os.path.join(folder, "hitlab-fill-test.bin"), "wb") as handle:
        handle.write(b"x" * (50 << 20))
print("FILLED")
"""
    daemon = daemon_code(marker)
    flood = """
import sys
line = "x" * 999 + "\\n"
for _ in range(200 * 1024):
    sys.stdout.write(line)
print("FLOOD done")
"""
    network = f"""
import socket
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=3).close()
    print("NETWORK connected")
except OSError as err:
    print("NETWORK", type(err).__name__)
"""
    echo = """
import socket, threading
server = socket.create_server(("127.0.0.1", 0))
def answer():
    conn, _ = server.accept()
    conn.sendall(conn.recv(4))
    conn.close()
threading.Thread(target=answer).start()
with socket.create_connection(server.getsockname(), timeout=5) as client:
    client.sendall(b"ping")
    print("LOOPBACK", client.recv(4))
server.close()
"""
    vandal = f"""
import os, shutil
for target in ({str(subs)!r}, {str(out)!r}, {str(canary_dir)!r}):
    shutil.rmtree(target, ignore_errors=True)
for target in ({str(canary)!r}, {str(subs / "good" / LAB / f"{LAB}.ipynb")!r}):
    try:
        os.remove(target)
        print("DELETED", target)
    except OSError as err:
        print("KEPT", type(err).__name__)
"""
    correct = _correct()
    deleted = _notebook()
    deleted.cells.remove(_cell(deleted, "lab00_code_systems_test"))
    retyped = _notebook()
    cell = _cell(retyped, "lab00_patients_by_gender_test")
    retyped.cells[retyped.cells.index(cell)] = nbformat.v4.new_markdown_cell(
        cell.source, metadata=cell.metadata
    )
    edited = _notebook(encounters_2024="encounters_2024_sql = 'select 1'")
    _cell(edited, "lab00_encounters_2024_test").source = "pass"
    emptied = _notebook()
    _cell(emptied, "lab00_standards_body_test").source = ""
    duplicated = _notebook()
    twin = _cell(duplicated, "lab00_hie_test")
    duplicated.cells.append(nbformat.from_dict(json.loads(json.dumps(twin))))

    renamed = _notebook()
    _cell(renamed, "lab00_hie_test").metadata.nbgrader["grade_id"] = "my_own_test"
    selfgraded = _notebook(hie="hie = 'anything'")
    _cell(selfgraded, "lab00_hie").metadata.nbgrader.update(grade=True, points=100)
    stripped = _notebook()
    for cell in stripped.cells:
        cell.metadata.pop("nbgrader", None)

    files = {
        "good": _notebook(),
        "loop": _notebook(standards_body="while True:\n    pass"),
        # every cell within the 10 s cell limit, the notebook well past its 40 s wall clock
        "slowpoke": _notebook(**{k: f"import time\ntime.sleep(8)\n{correct[f'lab00_{k}']}" for k in POINTS}),
        # 3 GiB: fine on this machine without the sandbox, refused under its 2 GiB limit
        "membomb": _notebook(hipaa_roles="hog = bytearray(3 << 30)"),
        "forkbomb": _notebook(
            hie="import subprocess, time\n"
            "subprocess.Popen(['sh', '-c', 'f() { f | f & }; f'])\n"
            "time.sleep(3)\n" + correct["lab00_hie"]
        ),
        "vandal": _notebook(standards_body=vandal + correct["lab00_standards_body"]),
        "snoop": _notebook(standards_body=snoop + correct["lab00_standards_body"]),
        "network": _notebook(standards_body=network + correct["lab00_standards_body"]),
        "echo": _notebook(standards_body=echo + correct["lab00_standards_body"]),
        "sysexit": _notebook(hipaa_roles="import sys\nsys.exit(3)\n" + correct["lab00_hipaa_roles"]),
        "osexit": _notebook(code_systems="import os\nos._exit(1)"),
        "deleted": deleted,
        "retyped": retyped,
        "edited": edited,
        "emptied": emptied,
        "duplicated": duplicated,
        "badjson": b'{"cells": [ {"cell_type": "code", ',
        "notutf8": b'{"cells": [], "metadata": {"x": "\xff\xfe"}, "nbformat": 4, "nbformat_minor": 5}',
        "empty": b"",
        "misnamed": _notebook(),
        "symlinker": _notebook(standards_body=symlinker + correct["lab00_standards_body"]),
        "sockets": _notebook(standards_body=sockets + correct["lab00_standards_body"]),
        "scratch": _notebook(standards_body=scratch + correct["lab00_standards_body"]),
        "daemon": _notebook(hie=daemon + correct["lab00_hie"]),
        "flood": _notebook(standards_body=flood + correct["lab00_standards_body"]),
        "bigerror": _notebook(code_systems='raise ValueError("x" * (20 << 20))'),
        "renamed": renamed,
        "selfgraded": selfgraded,
        "stripped": stripped,
        "v3": nbformat.writes(nbformat.convert(_notebook(), 3)).encode(),
        "syntaxerr": _notebook(code_systems="code_systems = (\n"),
        "zerodiv": _notebook(code_systems="code_systems = 1 / 0"),
    }
    _tree(files, subs)
    undecodable = os.fsencode(subs) + b"/caf\xe9/" + LAB.encode()
    os.makedirs(undecodable)
    with open(undecodable + f"/{LAB}.ipynb".encode(), "w") as handle:
        handle.write(nbformat.writes(_notebook()))
    before = _checksums(subs)
    canary_before = canary.read_bytes()
    canary_stats = _stats(canary_dir)
    os.environ["HITLAB_TEST_SECRET"] = "instructor-token"
    try:
        run = grade(
            subs, out, [LAB], workers=2, timeout=10, notebook_timeout=40,
            limits=Limits(memory=2 << 30, processes=48),
        )  # fmt: skip
    finally:
        os.environ.pop("HITLAB_TEST_SECRET", None)
        stop.set()
        thread.join()
        server.close()
    host_accepted = []
    for listener in (unix_server, abstract_server):
        with contextlib.suppress(OSError):
            host_accepted.append(listener.accept())
        listener.close()
    with open(out / "status.csv", newline="") as handle:
        status = {r["student_id"]: r for r in csv.DictReader(handle)}
    with open(out / "grades.csv", newline="") as handle:
        scores = {r["student_id"]: float(r["score"]) for r in csv.DictReader(handle)}
    return {
        "run": run, "out": out, "subs": subs, "status": status, "scores": scores, "before": before,
        "canary": (canary, canary_before), "accepted": accepted, "host_accepted": host_accepted,
        "canaries": canary_stats, "secret": secret, "planted": planted, "marker": marker,
    }  # fmt: skip


EXPECTED = {  # student: (status, autograded score)
    "good": ("graded", FULL),
    "loop": ("timed_out", FULL - POINTS["standards_body"]),
    "slowpoke": ("timed_out", 0.0),
    "membomb": ("graded", FULL - POINTS["hipaa_roles"]),
    "forkbomb": ("graded", FULL),
    "vandal": ("graded", FULL),
    "snoop": ("graded", FULL),
    "network": ("graded", FULL),
    "echo": ("graded", FULL),
    "sysexit": ("graded", FULL - POINTS["hipaa_roles"]),
    "osexit": ("crashed", 0.0),
    "deleted": ("tampered", FULL),
    "retyped": ("tampered", FULL),
    "edited": ("tampered", FULL - POINTS["encounters_2024"]),
    "emptied": ("tampered", FULL),
    "duplicated": ("tampered", FULL),
    "badjson": ("invalid_notebook", 0.0),
    "notutf8": ("invalid_notebook", 0.0),
    "empty": ("invalid_notebook", 0.0),
    "misnamed": ("missing", 0.0),
    "symlinker": ("graded", FULL),
    "sockets": ("graded", FULL),
    "scratch": ("graded", FULL),
    "daemon": ("graded", FULL),
    "flood": ("graded", FULL),
    "bigerror": ("graded", FULL - POINTS["code_systems"]),
    "renamed": ("tampered", FULL),
    "selfgraded": ("tampered", FULL - POINTS["hie"]),
    "stripped": ("tampered", FULL),
    "v3": ("graded", FULL),
    "syntaxerr": ("graded", FULL - POINTS["code_systems"]),
    "zerodiv": ("graded", FULL - POINTS["code_systems"]),
    "invalid-caf%E9": ("invalid_submission", 0.0),
}


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_status_and_fair_score(hostile, student):
    want_status, want_score = EXPECTED[student]
    row = hostile["status"][student]
    assert (row["status"], hostile["scores"].get(student, 0.0)) == (want_status, want_score), row["detail"]


def test_details_say_what_happened(hostile):
    detail = {s: r["detail"] for s, r in hostile["status"].items()}
    assert detail["good"] == ""
    assert detail["loop"].startswith("stopped after 10 s in ")
    assert detail["slowpoke"] == "stopped after the notebook's wall-clock limit of 40 s"
    assert "kernel died" in detail["osexit"]
    assert detail["deleted"] == "test cell lab00_code_systems_test was deleted; it was put back for grading"
    assert detail["retyped"] == (
        "test cell lab00_patients_by_gender_test was changed to markdown; graded as the original"
    )
    assert (
        detail["edited"]
        == "test cell lab00_encounters_2024_test was edited; graded as the instructor wrote it"
    )
    assert detail["duplicated"] == "cell lab00_hie_test appears more than once; the first copy was graded"
    assert "invalid JSON" in detail["badjson"] and "not UTF-8" in detail["notutf8"]
    assert detail["empty"] == "not a notebook: the file is empty"
    assert detail["misnamed"] == f"misnamed/{LAB}/my_lab.ipynb: not the lab's notebook (expected {LAB}.ipynb)"
    assert (
        detail["renamed"] == "cell lab00_hie_test was renamed 'my_own_test'; graded under its released name"
    )
    assert (
        detail["selfgraded"] == "cell lab00_hie had its nbgrader metadata changed (grade, points); restored"
    )
    assert detail["stripped"].count("had its nbgrader metadata removed; restored from the release") == 13
    assert detail["v3"] == "converted from nbformat 3 to 4"
    assert detail["invalid-caf%E9"] == (
        "the folder name b'caf\\xe9' is not UTF-8 text: rename it and grade again"
    )


def test_originals_untouched_and_nothing_outside_harmed(hostile):
    assert _checksums(hostile["subs"]) == hostile["before"]
    canary, content = hostile["canary"]
    assert canary.read_bytes() == content
    assert (hostile["out"] / "gradebook.db").exists()
    assert "DELETED" not in _outputs(hostile["out"], "vandal")


def test_kernel_sees_no_secrets(hostile):
    """The kernel's file system holds only what it needs: nothing of the course, the grader, the cohort,
    caches or other checkouts exists in it, and /proc shows no other process (no command line to read)."""
    printed = _outputs(hostile["out"], "snoop")
    for what in (
        "SOLUTIONS",
        "GIT",
        "GRADERS",
        "SUBMISSIONS",
        "OUT",
        "CHECKOUT",
        "CACHE",
        "ROOTONLY",
        "GRADER",
    ):
        assert f"{what} FileNotFoundError" in printed, printed
    repo = eval(printed.split("REPO ")[1].splitlines()[0])
    assert set(repo) <= {".venv", "src", "data"}, repo
    tmp = eval(printed.split("TMP ")[1].splitlines()[0])
    assert all(_on_the_way(f"/tmp/{name}") for name in tmp), tmp
    processes = eval(printed.split("PROCS ")[1].splitlines()[0])
    assert processes[0] == 1 and len(processes) < 5, processes
    assert "SECRET None" in printed
    if os.geteuid() == 0:
        uid = int(printed.split("UID ")[1].split()[0])
        assert 64000 <= uid < 65000


def test_no_network(hostile):
    log = (hostile["out"] / "grading.log").read_text()
    if "sandbox: on" not in log:
        pytest.skip("this OS does not allow a network namespace; grading.log says so: " + log.splitlines()[0])
    printed = _outputs(hostile["out"], "network")
    assert "NETWORK " in printed and "NETWORK connected" not in printed, printed
    assert hostile["accepted"] == []


def test_no_process_left_behind(hostile):
    if os.geteuid() != 0:
        pytest.skip("per-slot user ids are used only when grading as root")
    uids = set(hostile["run"].uids)
    assert len(uids) == 2
    left = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid in uids:
                    left.append(entry.name)
            except OSError:
                continue
    assert left == []


def test_kernel_has_its_own_loopback(hostile):
    """A notebook may run a server and a client on 127.0.0.1 inside its sandbox (lab 03's MLLP exercise)."""
    assert "LOOPBACK b'ping'" in _outputs(hostile["out"], "echo")


def test_planted_links_change_nothing_outside(hostile):
    """Links planted in the kernel's folder and in the socket folder it shares with the grader (to a root-only
    file, to a path of the student's choosing, to the submissions) are never followed by the grader."""
    printed = _outputs(hostile["out"], "symlinker")
    assert "SOCKETS [" in printed and "'other'" in printed, printed  # the attack ran
    assert "GRADER_DIRS []" in printed
    mirror = eval(printed.split("MIRROR ")[1].splitlines()[0])  # /tmp, a few levels deep
    assert mirror and all(_on_the_way(path) for path in mirror), mirror
    canary_dir = hostile["secret"].parent
    assert _stats(canary_dir) == hostile["canaries"]
    assert not hostile["planted"].exists()
    assert _checksums(hostile["subs"]) == hostile["before"]


def test_no_unix_socket_of_the_host(hostile):
    printed = _outputs(hostile["out"], "sockets")
    assert "UNIX FileNotFoundError" in printed and "ABSTRACT ConnectionRefusedError" in printed, printed
    assert hostile["host_accepted"] == []


def test_scratch_space_is_private_and_gone(hostile):
    assert "FILLED" in _outputs(hostile["out"], "scratch")
    for folder in ("/tmp", "/dev/shm", str(Path.home())):
        assert not (Path(folder) / "hitlab-fill-test.bin").exists(), folder


def test_daemons_do_not_outlive_their_notebook(hostile):
    assert "DAEMONS started" in _outputs(hostile["out"], "daemon")
    assert processes_with(hostile["marker"]) == []


def test_a_flood_of_output_is_cut_and_graded(hostile):
    for student in ("flood", "bigerror"):
        notebook = hostile["out"] / "autograded" / student / LAB / f"{LAB}.ipynb"
        assert notebook.stat().st_size < 8 << 20, student
    page = (hostile["out"] / "feedback" / "bigerror" / f"{LAB}.html").read_text()
    assert "failed with ValueError: xxx" in page and "[hitlab: cut]" in page and len(page) < 4 << 20
    printed = _outputs(hostile["out"], "flood")
    assert "[hitlab: output after the first 2,097,152 bytes of this cell was dropped]" in printed


def test_feedback_names_the_answer_cells_error(hostile):
    for student, error in (("syntaxerr", "SyntaxError"), ("zerodiv", "ZeroDivisionError")):
        page = (hostile["out"] / "feedback" / student / f"{LAB}.html").read_text()
        assert f"your answer cell lab00_code_systems failed with {error}" in page, page
        assert "not attempted" not in page


def test_a_bad_folder_name_never_stops_the_run(hostile):
    out = hostile["out"]
    assert (out / "grades.csv").exists() and (out / "report.html").exists()
    assert not (out / "feedback" / f"{LAB}.html").exists()
    assert sorted(p.name for p in out.iterdir() if p.suffix == ".html") == ["report.html"]
