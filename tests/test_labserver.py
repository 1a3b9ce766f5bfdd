"""``hitlab lab``: JupyterLab on the learner's working copy, configured for learners, started and stopped for real.

What the learner sees in a browser is tests/test_browser.py's; here, the configuration and the server's answers.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from hitlab.errors import HitlabError
from hitlab.labserver import (
    NBGRADER_LAB_EXTENSION,
    NBGRADER_SERVER_EXTENSIONS,
    NEWS_PLUGIN,
    TERMINAL_RC,
    WORK_URL,
    lab_command,
    lab_environment,
    labs_dir,
    page_config,
    repo_root,
    server_config,
    write_jupyter_config,
)
from lab_process import REPO, port_is_open, running_lab, stop
from workbook_copy import workbook_copy

HITLAB = REPO / ".venv" / "bin" / "hitlab"


def test_repo_root_is_the_checkout_unless_overridden(monkeypatch, tmp_path):
    monkeypatch.delenv("HITLAB_ROOT", raising=False)
    assert (repo_root() / "pyproject.toml").is_file()
    monkeypatch.setenv("HITLAB_ROOT", str(tmp_path))
    assert repo_root() == tmp_path.resolve()


def test_labs_dir_missing_is_a_clear_error(tmp_path):
    with pytest.raises(HitlabError, match=r"no labs/ folder in .*HITLAB_ROOT"):
        labs_dir(tmp_path)


def test_learner_mode_turns_nbgrader_and_the_news_off_and_instructor_mode_on(tmp_path):
    learner = server_config(tmp_path / "rc")
    assert learner["ServerApp"]["jpserver_extensions"] == dict.fromkeys(NBGRADER_SERVER_EXTENSIONS, False)
    assert learner["LabApp"]["default_url"] == WORK_URL == "/lab/tree/work"
    mock = server_config(
        tmp_path / "rc", default_url="/lab/tree/work/mock/20261201-090000-data-engineer-0001.ipynb"
    )
    assert mock["LabApp"]["default_url"].endswith(
        "/work/mock/20261201-090000-data-engineer-0001.ipynb"
    )  # hitlab mock
    assert learner["KernelManager"]["transport_encryption"] == "auto"
    off = page_config()["disabledExtensions"]
    assert off[NBGRADER_LAB_EXTENSION] is True and off[NEWS_PLUGIN] is True
    instructor = server_config(tmp_path / "rc", instructor=True)
    assert instructor["ServerApp"]["jpserver_extensions"] == dict.fromkeys(NBGRADER_SERVER_EXTENSIONS, True)
    on = page_config(instructor=True)["disabledExtensions"]
    # False entries undo what a lower-priority config folder (Binder's environment) switched off.
    assert (
        not any(v for k, v in on.items() if k.startswith(NBGRADER_LAB_EXTENSION)) and on[NEWS_PLUGIN] is True
    )


def test_write_jupyter_config_merges_into_existing_files(tmp_path):
    (tmp_path / "labconfig").mkdir()
    (tmp_path / "labconfig" / "page_config.json").write_text('{"disabledExtensions": {"other:plugin": true}}')
    (tmp_path / "jupyter_server_config.json").write_text('{"ServerApp": {"ip": "0.0.0.0"}}')
    write_jupyter_config(tmp_path)
    server = json.loads((tmp_path / "jupyter_server_config.json").read_text())
    assert server["ServerApp"]["ip"] == "0.0.0.0"
    assert server["ServerApp"]["terminado_settings"]["shell_command"][1:] == [
        "--rcfile",
        str(tmp_path / TERMINAL_RC),
        "-i",
    ]
    pages = json.loads((tmp_path / "labconfig" / "page_config.json").read_text())
    assert pages["disabledExtensions"]["other:plugin"] is True
    assert pages["disabledExtensions"][NBGRADER_LAB_EXTENSION] is True


def test_terminal_rc_puts_hitlab_first_after_the_users_bashrc(tmp_path):
    """A login shell would reset PATH from /etc/profile; the rc file runs ~/.bashrc, then puts the venv first."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bashrc").write_text("export PATH=/usr/bin:/bin\nexport FROM_BASHRC=yes\n")
    config = write_jupyter_config(tmp_path / "config")
    shell = json.loads((config / "jupyter_server_config.json").read_text())["ServerApp"]["terminado_settings"]
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "TERM": "dumb"}
    result = subprocess.run(
        [*shell["shell_command"], "-c", 'echo "$FROM_BASHRC"; command -v hitlab; hitlab --version'],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "yes"
    assert lines[1] == str(Path(sys.executable).parent / "hitlab")
    assert lines[2].startswith("hitlab, version")


def test_lab_environment_puts_its_config_first(tmp_path):
    env = lab_environment(tmp_path / "c", tmp_path, base={"JUPYTER_CONFIG_PATH": "/x", "PATH": "/usr/bin"})
    assert env["JUPYTER_CONFIG_PATH"].split(os.pathsep) == [str(tmp_path / "c"), "/x"]
    assert env["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)
    instructor = lab_environment(tmp_path / "c", tmp_path, instructor=True, base={})
    # nbgrader finds the course's nbgrader_config.py on Jupyter's config path.
    assert instructor["JUPYTER_CONFIG_PATH"].split(os.pathsep) == [
        str(tmp_path / "c"),
        str(tmp_path / "graders"),
    ]


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


def page_config_of(server) -> dict:
    """The page config JupyterLab's /lab page hands the browser (the extensions it turns off, ...)."""
    html = server.get("/lab").text
    return json.loads(
        re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', html, re.S)[1]
    )


@pytest.mark.notebook
def test_hitlab_lab_serves_the_working_copy_in_learner_mode(tmp_path: Path):
    root = workbook_copy(tmp_path / "workbook")
    with running_lab(tmp_path, env={"HITLAB_ROOT": str(root)}) as server:
        assert server.get("/api/status").status_code == 200
        # work/ is seeded from labs/, and the file browser opens on it.
        names = {item["name"] for item in server.get("/api/contents/work").json()["content"]}
        assert "lab00_orientation" in names
        notebook = "work/lab00_orientation/lab00_orientation.ipynb"
        assert server.get(f"/api/contents/{notebook}").json()["type"] == "notebook"
        assert (root / notebook).read_bytes() == (
            root / "labs/lab00_orientation/lab00_orientation.ipynb"
        ).read_bytes()
        start = server.get("/", allow_redirects=False)
        assert start.status_code == 302 and start.headers["Location"].split("?")[0] == WORK_URL
        # data/README.md is served, at the relative link a lab notebook uses.
        readme = posixpath.normpath(posixpath.join(posixpath.dirname(notebook), "../../data/README.md"))
        assert server.get(f"/api/contents/{readme}").json()["type"] == "file"
        # Learner tools only: nbgrader's server extensions are off, its lab extension and the news too.
        assert server.get("/formgrader").status_code == 404
        assert server.get("/assignments").status_code == 404
        disabled = page_config_of(server)["disabledExtensions"]
        assert NBGRADER_LAB_EXTENSION in disabled and NEWS_PLUGIN in disabled
        # The token is required: an anonymous request is refused.
        assert requests.get(f"{server.url}/api/contents", timeout=10).status_code == 403
        exit_status = stop(server.proc)
    output = server.output()
    assert exit_status == 0, output
    assert not port_is_open(server.port), "JupyterLab kept running after hitlab lab stopped"
    assert "your notebooks are in" in output
    assert "nbgrader" not in output, output
