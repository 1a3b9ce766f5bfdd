"""The sandbox a submission's kernel runs in while it is graded. Student code is untrusted and the grader
often runs as root, so the sandbox is built as an allow-list: the kernel sees only what it needs, and
nothing it can write is ever written, changed or followed by the grader. The threat model is in
``graders/README.md``.

The kernel is started through this file (``python sandbox.py --spec JSON -- python -m ipykernel_launcher -f
CONNECTION_FILE``), the *launcher*, which stays outside and, for the kernel:

- makes new PID and network namespaces (and, grading as a user that is not root, a user namespace), then
  forks the kernel as the first process of its PID namespace. When that process ends, the kernel of the
  machine kills everything else in the namespace: a daemon (``setsid``, double fork) cannot outlive its
  notebook, as root or not. The launcher records the namespace (:func:`reap` kills it if the launcher itself
  was killed);
- in the kernel's own mount namespace, builds a new root file system on an empty tmpfs holding, read-only and
  without set-user-id programs: the system's programs and libraries, a short list of ``/etc`` files, the
  interpreter and its packages, hitlab's code and the datasets (``need``). The kernel writes only to tmpfs
  folders of its own, limited in size and gone with it (its working folder and ``HOME``, ``/tmp``,
  ``/dev/shm``), and to the folder of its ZeroMQ sockets, which the grader only connects to. ``/proc`` shows
  the namespace's processes alone (no one else's command line or environment). Then ``pivot_root`` makes
  that the kernel's whole world: the grader's files, the course with its hidden tests, nbgrader's folders,
  the gradebook, other students' submissions, caches and other checkouts do not exist for it;
- brings up the namespace's own loopback interface (a notebook may run a server and a client on 127.0.0.1)
  while nothing outside, the machine's loopback and its Unix sockets included, can be reached;
- as root, drops to a user id of its own per grading slot; in every case sets ``no_new_privs`` (no
  set-user-id escalation) and limits memory, processes, file size, open files and core dumps;
- replaces the environment with a short allow-list.

Nothing is skipped silently: :func:`probe` runs the launcher once, and ``hitlab grade`` refuses to grade
where it fails unless told to run unconfined (``--no-sandbox``), which the log and the CLI then say.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import platform
import resource
import select
import signal
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 0x1000, 0x4000, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38
PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}
# statvfs flags of a mount and the mount flags they stand for: a bind mount made read-only keeps them
# (inside a user namespace the kernel refuses a remount that would drop one)
_KEPT_FLAGS = {1: MS_RDONLY, 2: MS_NOSUID, 4: MS_NODEV, 8: MS_NOEXEC, 1024: 1024, 2048: 2048, 4096: 1 << 21}

# Variables the kernel may see; everything else in the grader's environment is dropped.
ALLOWED_ENV = ("PATH", "LANG", "LC_ALL", "TZ", "PYTHONHASHSEED")
# What of /etc a Python kernel needs (dynamic linker, users, time zone, locale, certificates, fonts).
ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "passwd", "group", "nsswitch.conf", "localtime",
       "timezone", "hosts", "host.conf", "gai.conf", "protocols", "services", "mime.types", "ssl",
       "ca-certificates", "fonts", "alternatives", "os-release", "locale.alias", "locale.conf",
       "debian_version", "matplotlibrc")  # fmt: skip
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32")
DEVICES = ("null", "zero", "full", "random", "urandom")
WARM_PROVISIONER = "hitlab-warm-sandbox"  # hitlab.grading.warm.WarmProvisioner's entry point (pyproject.toml)
HOME = "/home/learner"  # the kernel's working folder and home, a tmpfs of its own
CONNECTION = "/run/kernel/connection.json"  # the kernel's copy of its connection file


@dataclass
class Limits:
    memory: int = 4 << 30  # bytes of private writable memory (RLIMIT_DATA: heap, anonymous maps, stacks)
    processes: int = 64  # processes and threads of the sandbox user (only enforced for a dropped user)
    file_size: int = 256 << 20  # largest file the kernel may write
    open_files: int = 256
    scratch: int = 512 << 20  # size of each of the kernel's tmpfs folders (home, /tmp, /dev/shm)


@dataclass
class Sandbox:
    """How one grading slot's kernels are confined.

    ``sockets`` is the folder of the kernel's ZeroMQ sockets (the one place on disk it may write), ``root``
    an empty folder the new root is mounted on, ``records`` a folder only the grader can reach where the
    launcher notes each kernel's namespace; ``need`` what the kernel must read. ``uid`` is used when the
    grader runs as root. With ``confine`` off the kernel runs unconfined in ``workdir`` (``--no-sandbox``).
    """

    uid: int
    sockets: Path
    root: Path
    records: Path
    workdir: Path
    need: list[Path] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)  # set for the kernel, e.g. where the datasets are
    limits: Limits = field(default_factory=Limits)
    confine: bool = True
    join: int | None = None  # share the network of this sandboxed process (the judge's, for its evaluator)

    def spec(self) -> dict:
        return {
            "uid": self.uid,
            "sockets": str(self.sockets),
            "root": str(self.root),
            "records": str(self.records),
            "workdir": str(self.workdir),
            "need": [str(p) for p in self.need],
            "env": dict(self.env),
            "limits": asdict(self.limits),
            "confine": self.confine,
            "join": self.join,
        }

    def command(self, kernel: list[str]) -> list[str]:
        # run as a script, not ``-m hitlab...``: it needs only the standard library, and importing the
        # hitlab package would add its start-up time to every kernel
        return [sys.executable, "-s", str(Path(__file__).resolve()), "--spec", json.dumps(self.spec()),
                "--", *kernel]  # fmt: skip

    def write_kernelspec(self, into: Path, warm: bool = False, lab: str = "") -> Path:
        """A ``python3`` kernel spec in ``into/kernels/`` that starts the kernel in this sandbox; put ``into``
        first on ``JUPYTER_PATH`` and nbgrader's executor uses it. With ``warm`` (and confined), the kernel
        is forked from the slot's warm launcher (:mod:`hitlab.grading.warm`) into the same sandbox, for a
        notebook of ``lab``."""
        folder = into / "kernels" / "python3"
        folder.mkdir(parents=True, exist_ok=True)
        kernel = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        spec = {
            "argv": self.command(kernel),
            "display_name": "Python 3 (hitlab grading sandbox)",
            "language": "python",
            "metadata": {"debugger": False},
        }
        if warm and self.confine:
            provisioner = {"provisioner_name": WARM_PROVISIONER, "config": {"spec": self.spec(), "lab": lab}}
            spec.update(argv=kernel, metadata={**spec["metadata"], "kernel_provisioner": provisioner})
        (folder / "kernel.json").write_text(json.dumps(spec, indent=1))
        return into


class SandboxError(OSError):
    pass


_libc_handle = None


def _libc():
    global _libc_handle
    if _libc_handle is None:
        _libc_handle = ctypes.CDLL(None, use_errno=True)
    return _libc_handle


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise SandboxError(err, f"{what}: {os.strerror(err)}")


def _unshare(flags: int) -> None:
    _check(_libc().unshare(flags), "unshare")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = lambda s: s.encode() if s else None  # noqa: E731
    _check(_libc().mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
           f"mount {target}")  # fmt: skip


def _prctl(option: int, value: int) -> None:
    _check(_libc().prctl(option, ctypes.c_ulong(value), 0, 0, 0), "prctl")


def _loopback_up() -> None:
    """Bring up ``lo`` in this (new) network namespace: SIOCGIFFLAGS, then SIOCSIFFLAGS with IFF_UP."""
    import fcntl
    import socket
    import struct

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(sock, 0x8913, request))[1]
        fcntl.ioctl(sock, 0x8914, struct.pack("16sH22x", b"lo", flags | 0x1))


class _Root:
    """A new root file system being built at ``top`` (a tmpfs), mirroring host paths."""

    def __init__(self, top: str, size: int):
        self.top = top
        _mount("tmpfs", top, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode=0755")

    def at(self, path: str) -> str:
        return os.path.join(self.top, path.lstrip("/"))

    def folder(self, path: str, mode: int = 0o755) -> str:
        target = self.at(path)
        os.makedirs(target, mode=0o755, exist_ok=True)
        os.chmod(target, mode)
        return target

    def bind(self, path: str, writable: bool = False, devices: bool = False) -> None:
        """``path`` of the host at the same place; read-only unless ``writable``; no set-user-id programs.
        A symbolic link is copied as a link (its target must be bound too)."""
        if os.path.islink(path):
            target = self.at(path)
            if not os.path.lexists(target):
                os.makedirs(os.path.dirname(target), exist_ok=True)
                os.symlink(os.readlink(path), target)
            return
        if not os.path.exists(path):
            return
        target = self.at(path)
        if os.path.isdir(path):
            os.makedirs(target, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if not os.path.exists(target):
                open(target, "w").close()
        _mount(path, target, None, MS_BIND)
        flags = MS_NOSUID | (0 if devices else MS_NODEV) | (0 if writable else MS_RDONLY)
        kept = os.statvfs(target).f_flag
        for bit, flag in _KEPT_FLAGS.items():
            if kept & bit:
                flags |= flag
        _mount(None, target, None, MS_REMOUNT | MS_BIND | flags)

    def tmpfs(self, path: str, size: int, mode: int, owner: int | None) -> None:
        target = self.folder(path)
        _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode={mode:o}")
        if owner is not None:
            os.chown(target, owner, owner)


def _needed(spec: dict) -> list[str]:
    """Every host path the kernel reads, with the targets of symbolic links among them."""
    paths = [*SYSTEM, *(f"/etc/{name}" for name in ETC), *spec["need"]]
    out: list[str] = []
    while paths:
        path = os.path.normpath(paths.pop(0))
        if path in out:
            continue
        out.append(path)
        if os.path.islink(path):  # e.g. /etc/localtime -> /usr/share/zoneinfo/..., /lib -> usr/lib
            target = os.path.realpath(path)
            if not any(target == p or target.startswith(p.rstrip("/") + "/") for p in out + paths):
                paths.append(target)
    # parents first, so a link replicated inside a bound folder is not shadowed
    return sorted(out, key=lambda p: p.count("/"))


def _build_root(spec: dict, connection: bytes | None, owner: int | None) -> None:
    """In this (new, private) mount namespace: the kernel's root file system, then ``pivot_root`` into it."""
    limits = spec["limits"]
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    root = _Root(spec["root"], 64 << 20)
    # the kernel's own folders first: a needed path inside one of them (say a folder in /tmp) is bound on top
    root.tmpfs(HOME, limits["scratch"], 0o700, owner)
    root.tmpfs("/tmp", limits["scratch"], 0o1777, None)
    root.tmpfs("/run/kernel", 1 << 20, 0o700, owner)
    root.folder("/dev")
    root.tmpfs("/dev/shm", limits["scratch"], 0o1777, None)
    for path in _needed(spec):
        root.bind(path)
    root.bind(spec["sockets"], writable=True)
    for name in DEVICES:
        root.bind(f"/dev/{name}", writable=True, devices=True)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):  # fmt: skip
        os.symlink(target, root.at(f"/dev/{name}"))
    if connection is not None:
        _write_new(root.at(CONNECTION), connection, owner)
    _mount("proc", root.folder("/proc"), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.chdir(root.top)
    number = PIVOT_ROOT.get(platform.machine())
    if number is None:
        raise SandboxError(0, f"pivot_root: unknown system call number on {platform.machine()}")
    _check(_libc().syscall(number, b".", b"."), "pivot_root")
    _check(_libc().umount2(b".", MNT_DETACH), "detach the old root")
    os.chdir("/")
    _mount(None, "/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _set_limits(limits: dict, dropped: bool) -> None:
    # RLIMIT_DATA, not RLIMIT_AS: a kernel with DuckDB and 20 threads reserves gigabytes of address space
    # it never uses, and an address-space cap would kill it at random; the data limit counts what is written
    resource.setrlimit(resource.RLIMIT_DATA, (limits["memory"], limits["memory"]))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_size"], limits["file_size"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits["open_files"], limits["open_files"]))
    if dropped:
        resource.setrlimit(resource.RLIMIT_NPROC, (limits["processes"], limits["processes"]))


def _write_new(path: str, data: bytes, owner: int | None) -> None:
    """Create ``path`` (never through a link, never over an existing file) holding ``data``, for ``owner``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        if owner is not None:
            os.fchown(handle.fileno(), owner, owner)


def _become(spec: dict, as_root: bool) -> None:
    """The kernel's limits and, as root, its own user; then no way back to more privileges."""
    _set_limits(spec["limits"], dropped=as_root)
    if as_root:
        os.setgroups([])
        os.setgid(spec["uid"])
        os.setuid(spec["uid"])
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # (again: a change of user clears it)
    _prctl(PR_SET_NO_NEW_PRIVS, 1)


def _connection_index(argv: list[str]) -> int | None:
    return next((i + 1 for i, a in enumerate(argv[:-1]) if a == "-f"), None)


def _environment(spec: dict, home: str) -> dict[str, str]:
    env = {k: os.environ[k] for k in ALLOWED_ENV if k in os.environ}
    env.update(spec.get("env", {}))
    env.update(HOME=home, TMPDIR="/tmp", MPLCONFIGDIR=home, PYTHONNOUSERSITE="1", MALLOC_ARENA_MAX="2")
    return env


def _kernel(spec: dict, kernel: list[str], warm: bool = False) -> None:
    """The first process of the new PID namespace: build the root, drop privileges, become the kernel (a new
    interpreter, or with ``warm`` this process, a fork of the warm launcher: :func:`serve_warm`)."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    index = _connection_index(kernel)
    connection = Path(kernel[index]).read_bytes() if index is not None else None
    as_root = os.geteuid() == 0
    owner = spec["uid"] if as_root else None
    _unshare(CLONE_NEWNS)
    _loopback_up()
    _build_root(spec, connection, owner)
    if index is not None:
        kernel = [*kernel[:index], CONNECTION, *kernel[index + 1 :]]
    _become(spec, as_root)
    os.chdir(HOME)
    if warm:
        _run_warm_kernel(spec, kernel)
    os.execve(kernel[0], kernel, _environment(spec, HOME))


def _run_warm_kernel(spec: dict, kernel: list[str]) -> None:
    """Run the kernel ``python -m ipykernel_launcher ARGS`` would start, in this process (forked from
    the warm launcher, its imports done), as a new interpreter would start it: its environment, fresh import
    caches (the host's paths are gone) and fresh random states (a fork shares its parent's); never returns."""
    import importlib

    if kernel[1:3] != ["-m", "ipykernel_launcher"]:
        raise SandboxError(0, f"a warm kernel runs ipykernel_launcher only, not {kernel}")
    os.environ.clear()
    os.environ.update(_environment(spec, HOME))
    sys.argv = [kernel[0], *kernel[3:]]
    sys.path[0] = os.getcwd()  # as ``python -m`` puts it (the launcher's was its script's folder)
    sys.path_importer_cache.clear()
    importlib.invalidate_caches()
    if "numpy" in sys.modules:  # (random reseeds itself in a forked child; numpy's global state does not)
        sys.modules["numpy"].random.seed()
    from ipykernel import kernelapp

    kernelapp.launch_new_instance(argv=kernel[3:])
    os._exit(0)


def _unconfined(spec: dict, kernel: list[str]) -> None:
    """``--no-sandbox``: the kernel in its own working folder, with limits and (as root) its own user id."""
    as_root = os.geteuid() == 0
    workdir = spec["workdir"]
    index = _connection_index(kernel)
    if index is not None:  # the kernel's own copy: the grader's runtime folder stays private
        copy = os.path.join(workdir, ".connection.json")
        _write_new(copy, Path(kernel[index]).read_bytes(), spec["uid"] if as_root else None)
        kernel = [*kernel[:index], copy, *kernel[index + 1 :]]
    _become(spec, as_root)
    os.chdir(workdir)
    env = _environment(spec, workdir)
    env["TMPDIR"] = workdir
    os.execve(kernel[0], kernel, env)


def _setns(pid: int, kind: str, flag: int) -> None:
    fd = os.open(f"/proc/{pid}/ns/{kind}", os.O_RDONLY)
    try:
        _check(_libc().setns(fd, flag), f"join the {kind} namespace of process {pid}")
    finally:
        os.close(fd)


def _enter_namespaces(join: int | None = None) -> None:
    """New PID and network namespaces for the next child; a user namespace first when not root. With
    ``join`` (another sandbox's first process), its network namespace instead of a new one (and, not as
    root, its user namespace): the two share a loopback and nothing else."""
    if join:
        if os.geteuid() != 0:
            _setns(join, "user", CLONE_NEWUSER)
        _setns(join, "net", CLONE_NEWNET)
        _unshare(CLONE_NEWPID)
        return
    if os.geteuid() == 0:
        _unshare(CLONE_NEWPID | CLONE_NEWNET)
        return
    uid, gid = os.geteuid(), os.getegid()
    _unshare(CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET)
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
    Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")


def _record(records: str, child: int) -> Path:
    """Note the kernel's namespace where only the grader can read it, for :func:`reap`."""
    inode = os.stat(f"/proc/{child}/ns/pid").st_ino
    path = Path(records) / f"{os.getpid()}"
    path.write_text(f"{child} {inode}\n")
    return path


def first_process(records: str | Path, launcher: int, wait: float = 10.0) -> int | None:
    """The host pid of the first process of the sandbox that launcher ``launcher`` started (what
    :func:`_record` noted), waiting up to ``wait`` seconds for it; None if it is not (or no longer) there."""
    import time

    path = Path(records) / str(launcher)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            return int(path.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            time.sleep(0.02)
    return None


def reap(records: str | Path) -> int:
    """Kill every sandbox recorded in ``records`` that is still running (its launcher was killed and the
    kernel left its process group); returns how many. Killing a namespace's first process kills the rest."""
    killed = 0
    for path in Path(records).glob("*"):
        try:
            child, inode = (int(x) for x in path.read_text().split())
            if os.stat(f"/proc/{child}/ns/pid").st_ino == inode:
                os.kill(child, signal.SIGKILL)
                killed += 1
        except (OSError, ValueError):
            pass
        path.unlink(missing_ok=True)
    return killed


def launch(spec: dict, kernel: list[str], warm: bool = False) -> None:
    """Start ``kernel`` confined by ``spec`` and wait for it; exits with its status (does not return). With
    ``warm``, this process is a fork of the warm launcher and the kernel runs in its confined child."""
    if not spec["confine"]:
        _unconfined(spec, kernel)
    _enter_namespaces(spec.get("join"))
    child = os.fork()
    if child == 0:
        try:
            _kernel(spec, kernel, warm)
        except BaseException as err:  # whatever failed: say it, and never run unconfined
            os.write(2, f"hitlab sandbox: {err}\n".encode())
        os._exit(111)
    record = _record(spec["records"], child)

    def end(_signum, _frame):
        # the kernel is its namespace's first process: it would ignore a SIGTERM it has no handler for
        os.kill(child, signal.SIGKILL)

    # SIGINT reaches the kernel directly (jupyter signals the process group); the others end it
    signal.signal(signal.SIGINT, lambda *_: None)
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(signum, end)
    try:
        _pid, status = os.waitpid(child, 0)
    except ChildProcessError:
        status = 0
    record.unlink(missing_ok=True)
    os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))


def unreachable(paths: list[str], uid: int) -> str | None:
    """The first folder on the way to one of ``paths`` that user ``uid`` may not pass (neither its owner nor
    allowed by the mode bits for others), or None: what a kernel run unconfined as ``uid`` could not reach."""
    for path in paths:
        folder = os.path.realpath(path)
        parents = [folder, *(str(p) for p in Path(folder).parents)]
        for parent in reversed(parents):
            info = os.stat(parent)
            allowed = 0o100 if info.st_uid == uid else 0o001
            if not info.st_mode & allowed:
                return parent
    return None


def stop(records: str | Path, uid: int) -> None:
    """Kill whatever is left of a slot's sandboxes: the namespaces recorded in ``records`` and, as root, every
    process of its user id ``uid``."""
    reap(records)
    kill_user(uid)


def kill_user(uid: int) -> None:
    """Kill every process of the sandbox user ``uid`` (what a fork bomb or a daemon left behind). Root only,
    and never for root itself (nor an unset id)."""
    if os.geteuid() != 0 or uid <= 0:
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


def probe(uid: int, need: list[str]) -> str:
    """``"on"`` when the sandbox works on this machine, else ``"off: <why>"``: a real launch of a process
    in it (as the user id ``uid`` when root), which must reach ``need``, open a server on its own loopback
    and not see the probe's own records folder."""
    with tempfile.TemporaryDirectory(prefix="hitlab-probe-") as tmp:
        base = Path(tmp)
        os.chmod(base, 0o711)
        folders = {n: base / n for n in ("sockets", "root", "records", "work")}
        for folder in folders.values():
            folder.mkdir(mode=0o700)
        if os.geteuid() == 0:
            os.chown(folders["sockets"], uid, uid)
        box = Sandbox(uid, folders["sockets"], folders["root"], folders["records"], folders["work"],
                      need=[Path(p) for p in need])  # fmt: skip
        check = (
            "import os, socket; s = socket.create_server(('127.0.0.1', 0)); s.close(); "
            f"assert not os.path.exists({str(base / 'records')!r}); print('confined', os.getuid())"
        )
        try:
            done = subprocess.run(box.command([sys.executable, "-c", check]), capture_output=True,
                                  text=True, timeout=60, stdin=subprocess.DEVNULL)  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as err:
            return f"off: {err}"
    if done.returncode == 0 and done.stdout.startswith("confined"):
        return "on"
    why = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
    return f"off: {why}"


#: What the warm launcher imports before any kernel starts: what every kernel loads (ipykernel) and what most
#: notebooks do first. Only modules: no data, no hitlab (an exam's kernels import the exam release's), nothing
#: that writes files on import. (numpy's OpenBLAS starts its worker threads on import and stops them around a
#: fork through its own fork handlers.)
WARM_MODULES = ("ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "ipykernel.debugger",
                "IPython.core.interactiveshell", "IPython.extensions", "psutil", "tornado.ioloop", "sqlite3",
                "numpy", "pandas", "duckdb")  # fmt: skip


def serve_warm(fd: int, labs: list[str] | None = None) -> None:
    """The warm launcher of a grading slot: a fresh interpreter of the grader, in the kernels' environment,
    that imports :data:`WARM_MODULES` once and then, for each request on the socket ``fd`` (from the slot's
    process alone: a socket pair, never a path), forks a launcher that starts the kernel exactly as
    :func:`launch` does, in a new sandbox, except that the kernel is that fork's child rather than a new
    interpreter. The warm launcher never runs a notebook's code, so nothing passes from one kernel to the
    next; a launcher it forks closes every descriptor but the standard three before anything else, so no
    kernel ever holds the socket. The reply carries a pidfd of the launcher (no race with a reused pid).

    A request names the kernel's lab. With ``labs`` (self-study grading), the kernels of those labs get the
    labs' answer keys, computed once by a helper (:class:`hitlab.grading.answer_keys.LauncherKeys`)."""
    import importlib
    import socket

    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    for name in WARM_MODULES:
        try:
            importlib.import_module(name)
        except Exception as err:  # the kernel imports it itself, as without a warm launcher
            os.write(2, f"hitlab sandbox: warm launcher: no {name}: {err}\n".encode())
    channel = socket.socket(fileno=fd)
    signal.signal(signal.SIGCHLD, lambda *_: _reap_children())
    keys = None
    if labs:
        from hitlab.grading.answer_keys import LauncherKeys, install

        keys = LauncherKeys(labs, dict(os.environ), lambda: _prctl(PR_SET_PDEATHSIG, signal.SIGKILL))
    while True:
        try:
            ready = select.select([channel, *(keys.fds() if keys else ())], [], [])[0]
            for read_end in ready:
                if read_end is not channel:
                    keys.collect(read_end)  # a lab's keys that took longer than its first kernel waited
            if channel not in ready:
                continue
            request = channel.recv(1 << 20)
        except InterruptedError:
            continue
        if not request:
            os._exit(0)  # the slot is gone
        spec, kernel, lab = json.loads(request)
        given = keys.for_kernel(lab, spec.get("env", {})) if keys else {}
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})  # not reaped before its pidfd is open
        child = os.fork()
        if child == 0:
            try:
                os.closerange(3, os.sysconf("SC_OPEN_MAX"))
                os.setsid()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
                if given:
                    install(lab, given)
                launch(spec, kernel, warm=True)
            except BaseException as err:
                os.write(2, f"hitlab sandbox: {err}\n".encode())
            os._exit(111)
        pidfd = os.pidfd_open(child)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
        try:
            socket.send_fds(channel, [str(child).encode()], [pidfd])
        finally:
            os.close(pidfd)


def _reap_children() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python sandbox.py")
    parser.add_argument("--spec")
    parser.add_argument("--warm", type=int, help="serve as a slot's warm launcher on this socket descriptor")
    parser.add_argument(
        "--answer-keys", default="", help="with --warm: the labs whose answer keys to compute"
    )
    parser.add_argument("kernel", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.warm is not None:
        serve_warm(args.warm, [lab for lab in args.answer_keys.split(",") if lab])
    kernel = args.kernel[1:] if args.kernel[:1] == ["--"] else args.kernel
    launch(json.loads(args.spec), kernel)


if __name__ == "__main__":
    main()
