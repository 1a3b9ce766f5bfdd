"""Start JupyterLab on the workbook (``hitlab lab``): the learner's tools, on the learner's working copy.

The server's root is the workbook's root folder and the file browser opens on ``work/``, the learner's
git-ignored working copy (:mod:`hitlab.work`), so ``data/README.md`` and the other relative links of a lab
resolve. Jupyter is configured through a folder of its own put first on ``JUPYTER_CONFIG_PATH`` for this
server only (nothing is written into the environment or the user's ``~/.jupyter``):

- learner mode hides nbgrader's instructor and exchange tools (its lab extension and server extensions);
  ``--instructor`` turns them all on;
- no news or update pop-up (JupyterLab's announcements plugin is off);
- terminals run bash with an rc file that reads the user's ``~/.bashrc`` and then puts this interpreter's
  scripts (``hitlab``, ``jupyter``, ``nbgrader``) first on PATH: Jupyter would otherwise start a login shell,
  whose ``/etc/profile`` resets PATH;
- kernels talk to the server over CurveZMQ-encrypted sockets where the kernel supports it.

The server runs as a child process with the same interpreter (``python -m jupyterlab``), in a session of its
own and without terminal input. SIGINT (Ctrl-C), SIGTERM and SIGHUP sent to ``hitlab lab`` are passed on to it
as SIGTERM, the signal on which a Jupyter server always shuts down cleanly (its SIGINT handling depends on the
terminal and may be ignored), so one Ctrl-C stops the server and its kernels. On Linux the server is also told
to stop if ``hitlab lab`` itself is killed.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
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


WORK_URL = "/lab/tree/work"
"""Where the file browser opens: the learner's working copy."""

NBGRADER_SERVER_EXTENSIONS = tuple(
    f"nbgrader.server_extensions.{name}"
    for name in ("formgrader", "assignment_list", "course_list", "validate_assignment")
)
NBGRADER_LAB_EXTENSION = "@jupyter/nbgrader"
NBGRADER_LAB_PLUGINS = tuple(
    f"{NBGRADER_LAB_EXTENSION}:{name}"
    for name in (
        "formgrader",
        "menu",
        "assignment-list",
        "course-list",
        "create-assignment",
        "validate-assignment",
    )
)
NEWS_PLUGIN = "@jupyterlab/apputils-extension:announcements"
"""JupyterLab's plugin that asks to fetch Jupyter news and checks for updates (a pop-up, and requests out)."""

TERMINAL_RC = "hitlab-terminal.bashrc"


def terminal_rc(python: str | None = None) -> str:
    """The bash rc file of JupyterLab's terminals: the user's ``~/.bashrc``, then this interpreter's scripts
    first on PATH (so ``hitlab check`` works whatever the rc files did to PATH)."""
    scripts = shlex.quote(str(Path(python or sys.executable).parent))
    return (
        "# JupyterLab terminal start-up, written by hitlab (hitlab.labserver.terminal_rc).\n"
        "# bash reads the system-wide bashrc before this file; the user's own comes next.\n"
        '[ -f "$HOME/.bashrc" ] && . "$HOME/.bashrc"\n'
        f'PATH={scripts}:"$PATH"\n'
        "export PATH\n"
    )


def terminal_command(rc_file: str | Path) -> list[str]:
    """The terminal's shell: interactive bash reading *rc_file*; without bash, an interactive ``sh`` that is
    not a login shell, so it keeps the server's PATH (which has this interpreter's scripts first)."""
    bash = shutil.which("bash")
    if bash:
        return [bash, "--rcfile", str(rc_file), "-i"]
    return [shutil.which("sh") or "/bin/sh", "-i"]


def server_config(rc_file: str | Path, instructor: bool = False, default_url: str = WORK_URL) -> dict:
    """The Jupyter server settings of ``hitlab lab`` (``jupyter_server_config.json``); the browser opens on
    ``default_url`` (the working copy, or a mock interview's notebook)."""
    return {
        "ServerApp": {
            "jpserver_extensions": {name: instructor for name in NBGRADER_SERVER_EXTENSIONS},
            "terminado_settings": {"shell_command": terminal_command(rc_file)},
        },
        "LabApp": {"default_url": default_url},
        # CurveZMQ keys for kernels that support them (ipykernel does): the server's traffic with its kernels
        # is encrypted, and ipykernel no longer warns that it runs over TCP without encryption.
        "KernelManager": {"transport_encryption": "auto" if _has_curve() else "disabled"},
    }


def _has_curve() -> bool:
    """Whether pyzmq can encrypt (jupyter_client refuses transport_encryption="auto" otherwise)."""
    try:
        import zmq
    except ImportError:
        return False
    return bool(zmq.has("curve"))


def page_config(instructor: bool = False) -> dict:
    """JupyterLab's page config (``labconfig/page_config.json``): which extensions and plugins are off.

    ``False`` entries switch back on what a lower-priority config folder may have switched off.
    """
    nbgrader = {NBGRADER_LAB_EXTENSION: not instructor, **{p: not instructor for p in NBGRADER_LAB_PLUGINS}}
    return {"disabledExtensions": {**nbgrader, NEWS_PLUGIN: True}}


def _merge(path: Path, data: dict) -> None:
    """Write *data* into the JSON file at *path*, merged into what it already holds (nested dicts key by key)."""

    def deep(into: dict, new: dict) -> dict:
        for key, value in new.items():
            into[key] = (
                deep(into.get(key, {}), value)
                if isinstance(value, dict) and isinstance(into.get(key), dict)
                else value
            )
        return into

    try:
        current = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        current = {}
    except ValueError:
        raise HitlabError(f"{path}: not valid JSON; fix or remove it") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(deep(current, data), indent=2, sort_keys=True) + "\n", encoding="utf-8")


def write_jupyter_config(
    folder: str | Path, instructor: bool = False, python: str | None = None, default_url: str = WORK_URL
) -> Path:
    """Write ``hitlab lab``'s Jupyter configuration into the Jupyter config folder *folder*; return it.

    Merges into ``jupyter_server_config.json`` and ``labconfig/page_config.json`` if they exist, and writes the
    terminals' rc file. ``hitlab lab`` uses a temporary folder; Binder's ``postBuild`` the environment's own.
    """
    folder = Path(folder)
    rc_file = folder / TERMINAL_RC
    folder.mkdir(parents=True, exist_ok=True)
    rc_file.write_text(terminal_rc(python), encoding="utf-8")
    _merge(folder / "jupyter_server_config.json", server_config(rc_file, instructor, default_url))
    _merge(folder / "labconfig" / "page_config.json", page_config(instructor))
    return folder


def lab_command(
    root: str | Path, port: int | None = None, open_browser: bool = True, python: str | None = None
) -> list[str]:
    """The command line that starts JupyterLab with *root* as its root folder."""
    cmd = [python or sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={Path(root)}"]
    if port is not None:
        # The learner asked for this port: fail if it is taken rather than quietly pick another.
        cmd += [f"--port={port}", "--ServerApp.port_retries=0"]
    if not open_browser:
        cmd.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # Containers and CI machines often run as root, which Jupyter refuses unless told.
        cmd.append("--allow-root")
    return cmd


def lab_environment(
    config: str | Path, root: str | Path, instructor: bool = False, base: dict[str, str] | None = None
) -> dict[str, str]:
    """The server's environment: *config* first on ``JUPYTER_CONFIG_PATH`` (with ``graders/`` for an
    instructor, where nbgrader finds the course's ``nbgrader_config.py``), and this interpreter's scripts first
    on PATH (kernels and a shell without the rc file inherit it)."""
    env = dict(os.environ if base is None else base)
    paths = [str(config)]
    if instructor:
        paths.append(str(Path(root) / "graders"))
    if env.get("JUPYTER_CONFIG_PATH"):
        paths.append(env["JUPYTER_CONFIG_PATH"])
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(paths)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def _stop_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to send SIGTERM to the server if ``hitlab lab`` dies (PR_SET_PDEATHSIG)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


def run_lab(
    port: int | None = None,
    open_browser: bool = True,
    root: str | Path | None = None,
    instructor: bool = False,
    notify: Callable[[str], None] | None = None,
    open_path: str | None = None,
) -> int:
    """Run JupyterLab on the workbook until it stops; return its exit status (128 + N if it died of signal N).

    First seeds ``work/`` with the labs that have no working copy yet (:func:`hitlab.work.prepare`) and passes
    its notices (new copies, newer releases in ``labs/``) to *notify* (default: print to stderr). The browser
    opens on ``work/``, or on *open_path* (a file under the workbook's root, e.g. a mock interview's notebook).
    """
    from hitlab.work import prepare

    base = Path(root).expanduser().resolve() if root is not None else repo_root()
    workspace = prepare(base)
    for line in workspace.notices():
        (notify or (lambda text: print(text, file=sys.stderr)))(line)
    if instructor and (base / "graders" / "nbgrader_config.py").is_file():
        # The course's gradebook lives in graders/work/ (git-ignored): formgrader cannot open it without it.
        (base / "graders" / "work").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="hitlab-jupyter-") as config:
        url = f"/lab/tree/{Path(open_path).as_posix()}" if open_path else WORK_URL
        write_jupyter_config(config, instructor=instructor, default_url=url)
        proc = subprocess.Popen(
            lab_command(base, port=port, open_browser=open_browser),
            env=lab_environment(config, base, instructor=instructor),
            # Terminals open here: the learner's working copy (the instructor's: the workbook's root).
            cwd=base if instructor else workspace.folder,
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
