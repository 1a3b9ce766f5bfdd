"""Memory: building the default dataset (what `make lab` does before JupyterLab opens) fits well inside a
Binder session's 2 GB. The build runs as a learner runs it, the installed `hitlab data build`, in a fresh process
whose peak resident set size the kernel reports when it ends (its own and its children's)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

#: The most a build may hold at once (issue 16: under 1.5 GB peak RSS).
LIMIT_BYTES = 1_500_000_000


def _status(pid: int) -> dict[str, int]:
    """The kB figures of /proc/PID/status (VmHWM, RssAnon, RssFile, ...)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if value.strip().endswith("kB"):
            fields[key] = int(value.split()[0])
    return fields


def _threads(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return 0


def _descendants(root: int) -> list[int]:
    """``root`` and every process under it, from the kernel's lists of each thread's children."""
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        for task in Path(f"/proc/{pid}/task").glob("*"):
            try:
                todo += [int(child) for child in (task / "children").read_text().split()]
            except OSError:
                continue
    return found


class _Sampler(threading.Thread):
    """Each process of the build's tree and the most it held: its kernel-kept high-water mark (exact, read as
    late as the process lets it be read) and its largest sampled RSS, split into anonymous and file-backed
    memory; what the failure message shows when the peak is too high."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.done, self.seen = pid, threading.Event(), {}

    def run(self) -> None:
        while not self.done.wait(0.02):
            for pid in _descendants(self.pid):
                try:
                    fields = _status(pid)
                    command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:120].decode()
                except (OSError, UnicodeDecodeError):
                    continue
                seen = self.seen.setdefault(pid, {"command": command, "VmHWM": 0, "VmRSS": 0, "threads": 0})
                seen["VmHWM"] = max(seen["VmHWM"], fields.get("VmHWM", 0))
                seen["threads"] = max(seen["threads"], _threads(pid))
                if fields.get("VmRSS", 0) > seen["VmRSS"]:
                    seen.update({k: fields.get(k, 0) for k in ("VmRSS", "RssAnon", "RssFile", "RssShmem")})

    def report(self) -> str:
        return "\n".join(
            f"pid {pid}: high water {s['VmHWM'] >> 10} MiB; largest sampled RSS {s['VmRSS'] >> 10} MiB (anon"
            f" {s.get('RssAnon', 0) >> 10}, file {s.get('RssFile', 0) >> 10}), up to {s['threads']} threads:"
            f" {s['command']}"
            for pid, s in sorted(self.seen.items())
        )


#: Runs a command and writes its peak RSS (KiB) to a file. The build is measured from this small process, not
#: from the test's: Linux records a process's memory high-water mark at exec, and a command started by vfork or
#: fork from a large process (a test worker late in the suite holds 1.6 GB) would report that process's peak as
#: its own (`/bin/true` started from a 1.5 GB process reports 1,510 MiB).
MEASURE = (
    "import resource, subprocess, sys; status = subprocess.run(sys.argv[2:]).returncode; "
    "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)); sys.exit(status)"
)


def test_building_the_default_dataset_peaks_under_1_5_gb(tmp_path):
    hitlab = shutil.which("hitlab", path=str(Path(sys.executable).parent))
    assert hitlab, "the hitlab command of this install"
    # a learner's shell, not the suite's: only what a terminal has, and nothing earlier tests left behind
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "USER") if k in os.environ}
    env.update(HITLAB_DATA_DIR=str(tmp_path / "data"), HITLAB_DATASET_SEED="named", TMPDIR=str(tmp_path))
    peak_file = tmp_path / "peak"
    with subprocess.Popen(
        [sys.executable, "-I", "-c", MEASURE, str(peak_file), hitlab, "data", "build"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as build:
        sampler = _Sampler(build.pid)
        sampler.start()
        output = build.stdout.read()
        build.wait()
        sampler.done.set()
        sampler.join()
    assert build.returncode == 0, output
    assert (tmp_path / "data" / "default" / "hitlab.duckdb").is_file(), output
    peak = int(peak_file.read_text()) * 1024  # KiB on Linux
    processes = sampler.report()
    print(f"hitlab data build: peak RSS {peak / 2**20:.0f} MiB\n{processes}")
    assert 100 * 2**20 < peak < LIMIT_BYTES, (
        f"peak RSS {peak / 2**20:.0f} MiB; its processes:\n{processes}\nthe build said:\n{output}"
    )
