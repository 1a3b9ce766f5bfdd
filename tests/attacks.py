"""Attacks on the grading sandbox written as notebook code, shared by the hostile-submission tests."""

from __future__ import annotations

import contextlib
from pathlib import Path


def daemon_code(marker: str) -> str:
    """Daemons of each kind (a new session; a double fork), then a kernel that leaves its process group,
    drops its parent-death signal, ignores SIGTERM and the shutdown request: only the grader's reaping of the
    sandbox's PID namespace can end them. Every process carries ``marker`` on its command line."""
    return f"""
import ctypes, os, signal, subprocess, sys
sleeper = [sys.executable, "-c", "import time; time.sleep(600)", {marker!r}]
subprocess.Popen(sleeper, start_new_session=True)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, sleeper)
    os._exit(0)
os.setsid()
ctypes.CDLL(None).prctl(1, 0, 0, 0, 0)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
kernel = get_ipython().kernel
kernel.control_handlers["shutdown_request"] = lambda *args: None
kernel.shell_handlers["shutdown_request"] = lambda *args: None
print("DAEMONS started")
"""


def processes_with(marker: str) -> list[str]:
    """The ids of the machine's processes whose command line holds ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(entry.name)
    return found
