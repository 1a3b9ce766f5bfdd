"""Hostile and broken submissions graded by ``hitlab grade`` with real nbgrader, real kernels and the real
sandbox: each gets its status and a fair score, nothing outside its folder is harmed, nothing secret is
readable, nothing on the machine's loopback is reachable (the kernel's own loopback works), and the
well-behaved submission beside them is graded normally."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import socket
import threading
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
print("SUBMISSIONS", peek({str(subs)!r}))
print("OUT", peek({str(out)!r}))
print("SECRET", os.environ.get("HITLAB_TEST_SECRET"))
print("UID", os.getuid())
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
    }
    _tree(files, subs)
    before = _checksums(subs)
    canary_before = canary.read_bytes()
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
    with open(out / "status.csv", newline="") as handle:
        status = {r["student_id"]: r for r in csv.DictReader(handle)}
    with open(out / "grades.csv", newline="") as handle:
        scores = {r["student_id"]: float(r["score"]) for r in csv.DictReader(handle)}
    return {
        "run": run, "out": out, "subs": subs, "status": status, "scores": scores, "before": before,
        "canary": (canary, canary_before), "accepted": accepted,
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


def test_originals_untouched_and_nothing_outside_harmed(hostile):
    assert _checksums(hostile["subs"]) == hostile["before"]
    canary, content = hostile["canary"]
    assert canary.read_bytes() == content
    assert (hostile["out"] / "gradebook.db").exists()
    assert "DELETED" not in _outputs(hostile["out"], "vandal")


def test_kernel_sees_no_secrets(hostile):
    printed = _outputs(hostile["out"], "snoop")
    for what in ("SOLUTIONS", "GIT", "SUBMISSIONS", "OUT"):  # hidden (empty), or not even reachable
        assert f"{what} []" in printed or f"{what} PermissionError" in printed, printed
    assert "SECRET None" in printed
    if os.geteuid() == 0:
        uid = int(printed.split("UID ")[1].split()[0])
        assert 64000 <= uid < 65000


def test_no_network(hostile):
    log = (hostile["out"] / "grading.log").read_text()
    if "sandbox network: on" not in log:
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
