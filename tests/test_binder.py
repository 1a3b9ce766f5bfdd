"""The Binder build, simulated: a fresh venv, binder/requirements.txt, then binder/postBuild from the repo root.

Binder itself is not reachable from here; this checks what it would run, in the same order, with the dataset
written into the test's own folder (``HITLAB_DATA_DIR``) and the learner's working copy seeded in a copy of the
workbook (``HITLAB_ROOT``), so the checkout's data/generated and work/ are not touched.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lab_process import REPO, running_lab
from workbook_copy import workbook_copy

pytestmark = [pytest.mark.slow, pytest.mark.notebook]

ANSI = re.compile(r"\x1b\[[0-9;]*m")
NBGRADER_SERVER_EXTENSIONS = ("formgrader", "assignment_list", "course_list", "validate_assignment")


def run(cmd: list[str], env: dict[str, str], timeout: float, cwd: Path = REPO) -> str:
    """Run *cmd*; its combined output, ANSI colours removed; a failure shows the output."""
    result = subprocess.run(
        cmd,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    output = ANSI.sub("", result.stdout)
    assert result.returncode == 0, f"{' '.join(cmd)} exited with {result.returncode}:\n{output[-5000:]}"
    return output


def test_binder_build(tmp_path):
    """requirements.txt and postBuild give a venv with hitlab, learner-mode Jupyter (nbgrader's extensions and the
    news off), the learner's working copy, the data and a working lab."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    env = {
        **os.environ,
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "VIRTUAL_ENV": str(venv),
        "HITLAB_DATA_DIR": str(tmp_path / "data"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "jupyter-runtime"),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    for name in ("PYTHONPATH", "PYTHONHOME", "JUPYTER_CONFIG_PATH"):
        env.pop(name, None)
    workbook = workbook_copy(tmp_path / "workbook")
    env["HITLAB_ROOT"] = str(workbook)

    # What Binder does: install the requirements, then run postBuild from the repository root.
    run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "-r", "binder/requirements.txt"],
        env,
        1800,
    )
    run(["bash", "binder/postBuild"], env, 1800)

    assert "hitlab" in run([str(venv / "bin" / "hitlab"), "--version"], env, 60)
    # every lab's checks import with what Binder installed (a dependency missing from requirements.txt fails)
    labs = sorted(p.name[:5] for p in (REPO / "solutions").iterdir() if p.is_dir())
    imports = "; ".join(f"import hitlab.checks.{lab}" for lab in labs)
    run([str(venv / "bin" / "python"), "-c", imports], env, 120)

    data = tmp_path / "data"
    assert list(data.rglob("*.duckdb")), f"no .duckdb file under {data}"
    assert list(data.rglob("manifest.json")), f"no manifest.json under {data}"

    assert (workbook / "work" / "lab00_orientation" / "lab00_orientation.ipynb").is_file()

    # Learner mode lives in the environment's own config folder, where Binder's server reads it.
    server = run(["jupyter", "server", "extension", "list"], env, 120)
    for ext in NBGRADER_SERVER_EXTENSIONS:
        assert re.search(rf"nbgrader\.server_extensions\.{ext}\s+disabled", server), server
    lab = run(["jupyter", "labextension", "list"], env, 120)
    assert re.search(r"@jupyter/nbgrader v0\.9\.\d+\s+disabled\s+OK", lab), lab
    assert "@jupyterlab/apputils-extension:announcements" in lab.split("Disabled extensions:")[1], lab
    config = json.loads((venv / "etc" / "jupyter" / "jupyter_server_config.json").read_text())
    assert config["LabApp"]["default_url"] == "/lab/tree/work"
    rc_file = config["ServerApp"]["terminado_settings"]["shell_command"][2]
    assert f"PATH={venv / 'bin'}:" in Path(rc_file).read_text()

    with running_lab(tmp_path, hitlab=venv / "bin" / "hitlab", env=env) as lab_server:
        contents = lab_server.get("/api/contents/work")
        assert contents.status_code == 200
        assert "lab00_orientation" in {item["name"] for item in contents.json()["content"]}


def test_binder_pins_every_runtime_dependency():
    """binder/requirements.txt pins (==) each of pyproject.toml's runtime dependencies, extras included."""
    import tomllib

    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.match(r"[A-Za-z0-9_.\-]+(\[[^\]]*\])?", d).group(0).lower() for d in declared}
    lines = (REPO / "binder" / "requirements.txt").read_text().splitlines()
    pinned = {
        line.split("==")[0].strip().lower() for line in lines if "==" in line and not line.startswith("#")
    }
    assert names == pinned
