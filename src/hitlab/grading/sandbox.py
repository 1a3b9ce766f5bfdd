"""The sandbox a submission's kernel runs in while it is graded (student code is untrusted).

The kernel is started through this module (``python -m hitlab.grading.sandbox --uid ... -- python -m
ipykernel_launcher -f CONNECTION_FILE``), which, before it turns into the kernel:

- puts the kernel in its own network namespace: only its own loopback interface is up, so the notebook can
  run a server and a client on 127.0.0.1 (lab 03's MLLP exercise does), but nothing outside, not even the
  machine's loopback, can be reached; the grader talks to the kernel over Unix sockets;
- in its own mount namespace, covers the paths the kernel must not read (the gradebook and grading output,
  the cohort's submissions, the instructor's sources with the hidden tests, the repository's history) with
  empty read-only file systems;
- when run as root, drops to an unprivileged user id of its own, so it can write only its working folder
  and cannot touch other students' work or the course; the process limit then bounds a fork bomb;
- sets memory (private writable memory), process, file-size, open-file and core-dump limits;
- replaces the environment with a short allow-list (no tokens, no database URLs, no instructor settings).

What the operating system does not allow is skipped, and :func:`probe` says so, for the run's log.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_BIND = 0x1000
MS_REC = 0x4000
MNT_DETACH = 2
MS_PRIVATE = 1 << 18

# Variables the kernel may see; everything else in the grader's environment is dropped.
ALLOWED_ENV = ("PATH", "LANG", "LC_ALL", "TZ", "HITLAB_DATA_DIR", "HITLAB_ROOT", "PYTHONHASHSEED")


@dataclass
class Limits:
    memory: int = 4 << 30  # bytes of private writable memory (RLIMIT_DATA: heap, anonymous maps, stacks)
    processes: int = 64  # processes and threads of the sandbox user (only enforced for a dropped user)
    file_size: int = 256 << 20  # largest file the kernel may write
    open_files: int = 256


@dataclass
class Sandbox:
    """How one grading slot's kernels are confined. ``uid`` is used only when the grader runs as root."""

    uid: int
    home: Path
    hide: list[Path] = field(default_factory=list)
    need: list[Path] = field(default_factory=list)  # what the kernel must reach: interpreter, venv, data
    limits: Limits = field(default_factory=Limits)
    network: bool = True  # isolate the network
    filesystem: bool = True  # hide paths and drop privileges

    def command(self, kernel: list[str]) -> list[str]:
        spec = {
            "uid": self.uid,
            "home": str(self.home),
            "hide": [str(p) for p in self.hide],
            "need": [str(p) for p in self.need],
            "limits": self.limits.__dict__,
            "network": self.network,
            "filesystem": self.filesystem,
        }
        # run as a script, not ``-m hitlab...``: it needs only the standard library, and importing the
        # hitlab package would add its start-up time to every kernel
        return [
            sys.executable,
            "-s",
            str(Path(__file__).resolve()),
            "--spec",
            json.dumps(spec),
            "--",
            *kernel,
        ]

    def write_kernelspec(self, into: Path) -> Path:
        """A ``python3`` kernel spec in ``into/kernels/`` that starts the kernel in this sandbox; put ``into``
        first on ``JUPYTER_PATH`` and nbgrader's executor uses it."""
        folder = into / "kernels" / "python3"
        folder.mkdir(parents=True, exist_ok=True)
        kernel = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        spec = {
            "argv": self.command(kernel),
            "display_name": "Python 3 (hitlab grading sandbox)",
            "language": "python",
            "metadata": {"debugger": False},
        }
        (folder / "kernel.json").write_text(json.dumps(spec, indent=1))
        return into


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _unshare(flags: int) -> None:
    if _libc().unshare(flags) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    result = _libc().mount(
        source.encode() if source else None,
        target.encode(),
        fstype.encode() if fstype else None,
        ctypes.c_ulong(flags),
        data.encode() if data else None,
    )
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")


def _enter_namespaces(network: bool, filesystem: bool) -> None:
    """New network and mount namespaces; as a user that is not root, inside a new user namespace."""
    flags = (CLONE_NEWNET if network else 0) | (CLONE_NEWNS if filesystem else 0)
    if not flags:
        return
    if os.geteuid() == 0:
        _unshare(flags)
        return
    uid, gid = os.geteuid(), os.getegid()
    _unshare(flags | CLONE_NEWUSER)
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
    Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")


def _loopback_up() -> None:
    """Bring up ``lo`` in this (new) network namespace: SIOCGIFFLAGS, then SIOCSIFFLAGS with IFF_UP."""
    import fcntl
    import socket
    import struct

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(sock, 0x8913, request))[1]
        fcntl.ioctl(sock, 0x8914, struct.pack("16sH22x", b"lo", flags | 0x1))


def _hide(paths: list[str]) -> None:
    _mount("none", "/", None, MS_REC | MS_PRIVATE)
    for path in paths:
        if os.path.isdir(path):
            _mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k,mode=0555")


def _blocked(path: str) -> tuple[str, str] | None:
    """The first folder on the way to ``path`` that other users cannot enter, and the entry below it."""
    parts = Path(path).parts
    for i in range(2, len(parts)):
        folder = os.path.join(*parts[:i])
        if not os.stat(folder).st_mode & 0o001:
            return folder, parts[i]
    return None


def _expose(paths: list[str]) -> None:
    """Make ``paths`` reachable for the dropped user where a folder above them is private (say ``/root``
    holding the Python installation): in this mount namespace the private folder is replaced by an empty
    one that others may pass through, holding only the needed entries, bound from the original."""
    for _ in range(16):
        blocked: dict[str, set[str]] = {}
        for path in paths:
            found = _blocked(path)
            if found:
                blocked.setdefault(found[0], set()).add(found[1])
        if not blocked:
            return
        for folder, entries in blocked.items():
            stage = tempfile.mkdtemp(prefix="hitlab-stage-")
            _mount(folder, stage, None, MS_BIND | MS_REC)
            _mount("tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0711")
            for entry in entries:
                original, target = os.path.join(stage, entry), os.path.join(folder, entry)
                if os.path.isdir(original):
                    os.mkdir(target)
                else:
                    open(target, "w").close()
                _mount(original, target, None, MS_BIND | MS_REC)
            _libc().umount2(stage.encode(), MNT_DETACH)
            os.rmdir(stage)


def _set_limits(limits: dict, dropped: bool) -> None:
    # RLIMIT_DATA, not RLIMIT_AS: a kernel with DuckDB and 20 threads reserves gigabytes of address space
    # it never uses, and an address-space cap would kill it at random; the data limit counts what is written
    resource.setrlimit(resource.RLIMIT_DATA, (limits["memory"], limits["memory"]))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_size"], limits["file_size"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits["open_files"], limits["open_files"]))
    if dropped:
        resource.setrlimit(resource.RLIMIT_NPROC, (limits["processes"], limits["processes"]))


def _drop_privileges(uid: int, home: str, connection_file: str | None) -> None:
    for path in (home, os.getcwd()):
        os.chown(path, uid, uid)
    if connection_file:  # written by the grader (root); the kernel must read it
        os.chown(connection_file, uid, uid)
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


def _connection_file(argv: list[str]) -> str | None:
    return next((argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "-f"), None)


def confine(spec: dict, kernel: list[str]) -> None:
    """Apply ``spec`` to this process, then replace it by ``kernel`` (does not return)."""
    _enter_namespaces(spec["network"], spec["filesystem"])
    if spec["network"]:
        _loopback_up()
    if spec["filesystem"]:
        _hide(spec["hide"])
    dropped = spec["filesystem"] and os.geteuid() == 0
    _set_limits(spec["limits"], dropped)
    if dropped:
        _expose(spec["need"])
        _drop_privileges(spec["uid"], spec["home"], _connection_file(kernel))
    env = {k: os.environ[k] for k in ALLOWED_ENV if k in os.environ}
    env.update(HOME=spec["home"], TMPDIR=spec["home"], MPLCONFIGDIR=spec["home"], PYTHONNOUSERSITE="1",
               MALLOC_ARENA_MAX="2")  # fmt: skip
    os.execve(kernel[0], kernel, env)


def kill_user(uid: int) -> None:
    """Kill every process of the sandbox user ``uid`` (what a fork bomb or a daemon left behind). Root only."""
    if os.geteuid() != 0:
        return
    pid = os.fork()
    if pid == 0:  # the child becomes the user and signals all of the user's processes, then itself
        try:
            os.setgid(uid)
            os.setuid(uid)
            for _ in range(3):
                os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def probe() -> dict[str, str]:
    """What the sandbox can do on this machine: ``{"network": ..., "filesystem": ..., "user": ...}``, each
    ``"on"`` or ``"off: <why>"``. Tried in a child process, as the sandbox itself would."""
    code = (
        "import json, os, sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "import sandbox as s\n"
        "out = {}\n"
        "for key, kw in (('network', dict(network=True, filesystem=False)),"
        " ('filesystem', dict(network=False, filesystem=True))):\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        try:\n"
        "            s._enter_namespaces(**kw)\n"
        "            os._exit(0)\n"
        "        except OSError as e:\n"
        "            sys.stderr.write(str(e)); os._exit(1)\n"
        "    out[key] = 'on' if os.waitpid(pid, 0)[1] == 0 else 'off'\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    found = json.loads(done.stdout or "{}")
    why = done.stderr.strip() or "not permitted here"
    result = {
        "network": "on" if found.get("network") == "on" else f"off: no network namespace ({why})",
        "filesystem": "on" if found.get("filesystem") == "on" else f"off: no mount namespace ({why})",
    }
    result["user"] = (
        "on"
        if os.geteuid() == 0
        else "off: grading as a user that is not root, kernels run as that user (no per-slot user id)"
    )
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m hitlab.grading.sandbox")
    parser.add_argument("--spec", required=True)
    parser.add_argument("kernel", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    kernel = args.kernel[1:] if args.kernel[:1] == ["--"] else args.kernel
    confine(json.loads(args.spec), kernel)


if __name__ == "__main__":
    main()
