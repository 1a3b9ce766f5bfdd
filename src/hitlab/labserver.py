"""Start JupyterLab on the workbook's ``labs/`` folder (``hitlab lab``).

The server runs as a child process with the same interpreter (``python -m jupyterlab``), in a session of its
own and without terminal input. SIGINT (Ctrl-C), SIGTERM and SIGHUP sent to ``hitlab lab`` are passed on to it
as SIGTERM, the signal on which a Jupyter server always shuts down cleanly (its SIGINT handling depends on the
terminal and may be ignored), so one Ctrl-C stops the server and its kernels. On Linux the server is also told
to stop if ``hitlab lab`` itself is killed.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from pathlib import Path

from hitlab.errors import HitlabError

FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def repo_root() -> Path:
    """The workbook's root folder: ``$HITLAB_ROOT`` if set, else the checkout this package was installed from."""
    env = os.environ.get("HITLAB_ROOT")
    if env:
        return Path(env).expanduser().resolve()
    return Path(__file__).resolve().parents[2]


def labs_dir(root: str | Path | None = None) -> Path:
    """The ``labs/`` folder under *root* (default :func:`repo_root`); a clear error if it is missing."""
    base = Path(root).expanduser().resolve() if root is not None else repo_root()
    labs = base / "labs"
    if not labs.is_dir():
        raise HitlabError(
            f"no labs/ folder in {base}: run hitlab from a checkout of the workbook, "
            "or set HITLAB_ROOT to the folder that holds labs/"
        )
    return labs


def lab_command(
    labs: str | Path, port: int | None = None, open_browser: bool = True, python: str | None = None
) -> list[str]:
    """The command line that starts JupyterLab with *labs* as its root folder."""
    cmd = [python or sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={Path(labs)}"]
    if port is not None:
        # The learner asked for this port: fail if it is taken rather than quietly pick another.
        cmd += [f"--port={port}", "--ServerApp.port_retries=0"]
    if not open_browser:
        cmd.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # Containers and CI machines often run as root, which Jupyter refuses unless told.
        cmd.append("--allow-root")
    return cmd


def _stop_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to send SIGTERM to the server if ``hitlab lab`` dies (PR_SET_PDEATHSIG)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


def run_lab(port: int | None = None, open_browser: bool = True, root: str | Path | None = None) -> int:
    """Run JupyterLab on ``labs/`` until it stops; return its exit status (128 + N if it died of signal N)."""
    cmd = lab_command(labs_dir(root), port=port, open_browser=open_browser)
    # Terminals opened in JupyterLab inherit this environment: put this interpreter's scripts (hitlab,
    # jupyter, nbgrader) first on PATH, so `hitlab check` works there without activating the venv.
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    proc = subprocess.Popen(
        cmd,
        env=env,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=_stop_with_parent if sys.platform.startswith("linux") else None,
    )

    def forward(_signum: int, _frame: object) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)

    previous = {sig: signal.signal(sig, forward) for sig in FORWARDED_SIGNALS}
    try:
        status = proc.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 128 - status if status < 0 else status
