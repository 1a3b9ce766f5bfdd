"""``hitlab lab``: JupyterLab on the workbook's labs/ folder, started and stopped for real."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from hitlab.errors import HitlabError
from hitlab.labserver import lab_command, labs_dir, repo_root
from lab_process import REPO, port_is_open, running_lab, stop

HITLAB = REPO / ".venv" / "bin" / "hitlab"


def test_repo_root_is_the_checkout_unless_overridden(monkeypatch, tmp_path):
    monkeypatch.delenv("HITLAB_ROOT", raising=False)
    assert (repo_root() / "pyproject.toml").is_file()
    monkeypatch.setenv("HITLAB_ROOT", str(tmp_path))
    assert repo_root() == tmp_path.resolve()


def test_labs_dir_missing_is_a_clear_error(tmp_path):
    with pytest.raises(HitlabError, match=r"no labs/ folder in .*HITLAB_ROOT"):
        labs_dir(tmp_path)


def test_lab_command_passes_root_port_and_browser_choice(tmp_path):
    cmd = lab_command(tmp_path, port=8899, open_browser=False, python="py")
    assert cmd[:3] == ["py", "-m", "jupyterlab"]
    assert f"--ServerApp.root_dir={tmp_path}" in cmd
    assert "--port=8899" in cmd
    assert "--no-browser" in cmd
    default = lab_command(tmp_path)
    assert default[0] == sys.executable
    assert not any(arg.startswith("--port") for arg in default)
    assert "--no-browser" not in default


def test_hitlab_lab_without_labs_folder_exits_2(tmp_path):
    env = {**os.environ, "HITLAB_ROOT": str(tmp_path)}
    result = subprocess.run(
        [str(HITLAB), "lab", "--no-browser"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2, result.stderr
    assert "no labs/ folder" in result.stderr
    assert "HITLAB_ROOT" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.notebook
def test_hitlab_lab_serves_the_labs_folder(tmp_path: Path):
    with running_lab(tmp_path) as server:
        status = server.get("/api/status")
        assert status.status_code == 200
        contents = server.get("/api/contents")
        assert contents.status_code == 200
        names = {item["name"] for item in contents.json()["content"]}
        assert "README.md" in names
        assert server.get("/api/contents/README.md").json()["type"] == "file"
        # The token is required: an anonymous request is refused.
        assert requests.get(f"{server.url}/api/contents", timeout=10).status_code == 403
        exit_status = stop(server.proc)
    assert exit_status == 0, server.output()
    assert not port_is_open(server.port), "JupyterLab kept running after hitlab lab stopped"
