"""Process, timing and environment helpers shared by the benchmarks in ``run.py``."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
WORK = BENCH_DIR / ".work"
CHILD = BENCH_DIR / "child.py"
PYSYNTHEA_VENV = WORK / "venv-pysynthea"
PYSYNTHEA_REQUIREMENTS = BENCH_DIR / "requirements-pysynthea.txt"


class BenchError(RuntimeError):
    """A benchmark step (a child process, the PySynthea venv) failed; the message names its log."""


def run_child(operation: str, args: dict, python: str | Path = sys.executable) -> dict:
    """Run one ``child.py`` operation in a fresh process.

    Returns the child's result dict plus ``peak_rss_mib``: the peak resident set size of
    that one process (and any children it waited for), read from ``os.wait4``.
    """
    logs = WORK / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    result_path = logs / f"{operation}.result.json"
    log_path = logs / f"{operation}.log"
    result_path.unlink(missing_ok=True)
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")])),
    )
    # Start every trial with no dirty pages left by the previous one's output to write back.
    os.sync()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [str(python), str(CHILD), operation, str(result_path), json.dumps(args)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=WORK,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0 or not result_path.exists():
        tail = log_path.read_text(errors="replace")[-1500:]
        raise BenchError(f"{operation} exited {proc.returncode}; log {log_path}:\n{tail}")
    result = json.loads(result_path.read_text())
    result["peak_rss_mib"] = usage.ru_maxrss / 1024  # Linux reports KiB
    return result


def interleave(trials: dict[str, Callable[[int], dict]], repeats: int) -> dict[str, list[dict]]:
    """Run each trial ``repeats`` times, alternating the order (A B, B A, A B, ...).

    Each trial is called with the repetition index and returns a dict with ``seconds``.
    Alternating the order spreads any drift of the shared machine over all trials.
    """
    samples: dict[str, list[dict]] = {name: [] for name in trials}
    for i in range(repeats):
        order = list(trials) if i % 2 == 0 else list(reversed(trials))
        for name in order:
            samples[name].append(trials[name](i))
    return samples


def summarise(samples: list[dict]) -> dict:
    """The median trial's figures, with all timings and the peak RSS over the trials."""
    seconds = [s["seconds"] for s in samples]
    median = statistics.median(seconds)
    closest = min(samples, key=lambda s: abs(s["seconds"] - median))
    return {
        **{k: v for k, v in closest.items() if k not in ("seconds", "manifest")},
        "median_seconds": median,
        "all_seconds": seconds,
        "peak_rss_mib": max(s["peak_rss_mib"] for s in samples),
    }


def compare(trials: dict[str, Callable[[int], dict]], repeats: int) -> dict[str, dict]:
    """Interleave the trials and summarise each by its median."""
    return {name: summarise(samples) for name, samples in interleave(trials, repeats).items()}


def fresh_dir(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def pysynthea_python() -> Path:
    """The PySynthea venv's interpreter, creating the venv on first use.

    The venv is rebuilt when ``requirements-pysynthea.txt`` changes (its copy is kept in
    the venv as a stamp).
    """
    python = PYSYNTHEA_VENV / "bin" / "python"
    stamp = PYSYNTHEA_VENV / "requirements.stamp"
    wanted = PYSYNTHEA_REQUIREMENTS.read_text()
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    print(f"creating the PySynthea venv in {PYSYNTHEA_VENV.relative_to(REPO)} ...", flush=True)
    shutil.rmtree(PYSYNTHEA_VENV, ignore_errors=True)
    log = WORK / "logs" / "venv-pysynthea.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        for cmd in (
            [sys.executable, "-m", "venv", str(PYSYNTHEA_VENV)],
            [str(python), "-m", "pip", "install", "-r", str(PYSYNTHEA_REQUIREMENTS)],
        ):
            if subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT).returncode != 0:
                raise BenchError(f"{' '.join(cmd[:4])} failed; see {log}")
    stamp.write_text(wanted)
    return python


def machine_description() -> dict:
    """Cores, memory and CPU model: no host names or paths."""
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024**2, 1),
        "cpu": cpu,
        "python": sys.version.split()[0],
    }
