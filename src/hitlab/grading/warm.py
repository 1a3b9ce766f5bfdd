"""Warm kernels for grading: a slot's kernels are forked from a warm launcher that has imported what every
kernel loads (ipykernel, numpy, pandas, DuckDB), so a notebook no longer pays a new interpreter's start and
those imports (:func:`hitlab.grading.sandbox.serve_warm`).

Each kernel is still a new process in a new sandbox, built by the same code as a cold one
(:func:`hitlab.grading.sandbox.launch`); the warm launcher only ever imports modules, so no state passes
from one notebook to the next. Jupyter starts kernels through :class:`WarmProvisioner`, named in the slot's
kernel spec: it asks the slot's warm launcher for a kernel and manages the launcher it forked (a pidfd) as
Jupyter's own provisioner manages a process it started.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from jupyter_client.provisioning import LocalProvisioner
from traitlets import Dict, Unicode

_launcher: WarmLauncher | None = None  # this slot process's warm launcher


class WarmLauncher:
    """The warm launcher process of this grading slot, and the socket to ask it for kernels."""

    def __init__(self, env: dict[str, str], answer_keys: list[str] | None = None):
        self.env = env
        self.answer_keys = list(answer_keys or [])  # labs whose answer keys it computes (self-study grading)
        self._spawn()

    def _spawn(self) -> None:
        from hitlab.grading import sandbox

        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.process = subprocess.Popen(
            [sys.executable, "-s", str(Path(sandbox.__file__).resolve()), "--warm", str(theirs.fileno()),
             "--answer-keys", ",".join(self.answer_keys)],
            pass_fds=(theirs.fileno(),), env=self.env, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        theirs.close()
        self.channel = ours

    def start(self, spec: dict, kernel: list[str], lab: str = "") -> tuple[int, int]:
        """A launcher forked for ``kernel`` (of a notebook of ``lab``) confined by ``spec``: its pid and a pidfd
        of it. A warm launcher that died (killed for memory, say) is replaced first."""
        if self.process.poll() is not None:
            self.channel.close()
            self._spawn()
        self.channel.sendall(json.dumps([spec, kernel, lab]).encode())
        message, fds, _flags, _addr = socket.recv_fds(self.channel, 64, 1)
        if not message or len(fds) != 1:
            raise RuntimeError(
                "the grading slot's warm launcher did not start the kernel (see the slot's log)"
            )
        return int(message), fds[0]

    def stop(self) -> None:
        self.channel.close()
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


def use(launcher: WarmLauncher | None) -> None:
    """Make ``launcher`` the one :class:`WarmProvisioner` uses in this process (None: stop using one)."""
    global _launcher
    if _launcher is not None and _launcher is not launcher:
        _launcher.stop()
    _launcher = launcher


class _Launched:
    """A launcher forked by the warm launcher, as much of :class:`subprocess.Popen` as a provisioner uses."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int, pidfd: int):
        self.pid, self.pidfd, self.returncode = pid, pidfd, None
        self.signalled: int | None = None  # the last signal sent to it

    def poll(self) -> int | None:
        if self.returncode is None and select.select([self.pidfd], [], [], 0)[0]:
            # its parent, not us, has its status
            self.returncode = -signal.SIGKILL if self.signalled == signal.SIGKILL else 0
            os.close(self.pidfd)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            ready = select.select([self.pidfd], [], [], timeout)[0]
            if not ready:
                raise subprocess.TimeoutExpired("kernel launcher", timeout)
        return self.poll()

    def send_signal(self, signum: int) -> None:
        if self.returncode is None:
            self.signalled = signum
            signal.pidfd_send_signal(self.pidfd, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


class WarmProvisioner(LocalProvisioner):
    """Starts the kernel through this slot's warm launcher, confined by the sandbox spec in the kernel spec's
    provisioner config; everything else as Jupyter's local provisioner (signals go to the launcher's process
    group, which holds the kernel)."""

    spec = Dict(help="The sandbox spec of the slot's kernels (hitlab.grading.sandbox.Sandbox.spec)")
    lab = Unicode("", help="The lab of the notebook the kernel runs (for its answer keys)")

    async def launch_kernel(self, cmd: list[str], **kwargs: Any):
        if _launcher is None:
            raise RuntimeError("no warm launcher in this process: the kernel spec is a grading slot's")
        pid, pidfd = _launcher.start(self.spec, cmd, self.lab)
        self.process = _Launched(pid, pidfd)
        self.pid = self.pgid = pid  # the launcher leads its own session and process group
        self.cwd = kwargs.get("cwd")
        return self.connection_info
