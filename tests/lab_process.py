"""Run ``hitlab lab`` as a real process and talk to its Jupyter server (a helper for the tests, not a test).

Not named ``jupyter_server.py``: the tests folder is on ``sys.path`` and would shadow the real package.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class LabServer:
    proc: subprocess.Popen
    port: int
    token: str
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, timeout: float = 60, **kwargs) -> requests.Response:
        # generous: a first request may do real work (formgrader's reads the course and its gradebook), and
        # a busy shared machine took more than 10 s for it
        headers = {"Authorization": f"token {self.token}"}
        return requests.get(f"{self.url}{path}", headers=headers, timeout=timeout, **kwargs)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _wait_until_up(server: LabServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise AssertionError(
                f"hitlab lab exited with status {server.proc.returncode} before serving:\n{server.output()}"
            )
        with contextlib.suppress(requests.RequestException):
            if server.get("/api/status").status_code == 200:
                return
        time.sleep(0.5)
    raise AssertionError(f"hitlab lab did not answer /api/status within {timeout:.0f} s:\n{server.output()}")


def stop(proc: subprocess.Popen, timeout: float = STOP_TIMEOUT) -> int:
    """SIGTERM, wait, then SIGKILL if it does not stop; the exit status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
    return proc.returncode


@contextlib.contextmanager
def running_lab(
    tmp_path: Path,
    hitlab: str | Path = REPO / ".venv" / "bin" / "hitlab",
    env: dict[str, str] | None = None,
    timeout: float = STARTUP_TIMEOUT,
    args: Sequence[str] = (),
) -> Iterator[LabServer]:
    """Start ``hitlab lab --no-browser --port <free> *args`` and yield it once ``/api/status`` answers; always
    stop it.

    Jupyter's runtime and user config folders go to *tmp_path*, so the test neither reads nor leaves
    anything in the home folder; Jupyter and hitlab variables of the test's own environment are not passed on.
    """
    port, token = free_port(), secrets.token_hex(16)
    inherited = {
        k: v for k, v in os.environ.items() if not k.startswith(("JPY_", "JUPYTER_", "HITLAB_CHECK"))
    }
    full_env = {
        **inherited,
        "JUPYTER_TOKEN": token,
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "jupyter-runtime"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"),
        **(env or {}),
    }
    log = tmp_path / f"hitlab-lab-{port}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(hitlab), "lab", "--no-browser", "--port", str(port), *args],
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = LabServer(proc, port, token, log)
    try:
        _wait_until_up(server, timeout)
        yield server
    finally:
        stop(proc)
