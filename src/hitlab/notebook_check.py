"""``check_my_work()``: from a notebook cell, save the notebook and grade the saved file (``hitlab check``).

The kernel knows its notebook from ``JPY_SESSION_NAME``, which Jupyter Server (2.x) sets to the notebook's path
when it starts the kernel for it. The notebook is saved by a small piece of JavaScript shown as the cell's
output: it clicks the save button of the notebook panel that holds the output (or, failing that, sends
Ctrl/Cmd-S). The kernel waits a few seconds for the file to change on disk, then runs ``hitlab check`` on it
in a separate process, so a fresh kernel grades exactly what was saved, every check and edge case included.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path

SAVE_TIMEOUT = 5.0
"""Seconds to wait for the notebook's file to change after asking JupyterLab to save it."""

CHECK_TIMEOUT = 900.0
"""Seconds ``hitlab check`` may take (the lab's own cell limits are far lower)."""

RUNNING = "HITLAB_CHECK_MY_WORK"
"""Set in the environment of the ``hitlab check`` it starts, whose kernel runs this very notebook: there,
``check_my_work()`` does nothing (it would otherwise check the notebook again, and again)."""

# Runs once in the browser as the output of the calling cell: `element` is the output's node. It acts only
# within a few seconds of being sent, so reopening a saved notebook never saves it again.
_SAVE_SCRIPT = """
(function () {
  var sent = %(sent)d, tries = 0;
  function save() {
    if (Date.now() - sent > %(window_ms)d) { return; }
    if (!element.isConnected && tries++ < 50) { setTimeout(save, 100); return; }
    var panel = element.closest ? element.closest('.jp-NotebookPanel') : null;
    var button = panel && panel.querySelector('[data-command="docmanager:save"]');
    if (button) {
      (button.querySelector('button') || button).click();
    } else {
      var mac = /Mac/.test(navigator.platform);
      (panel || document.body).dispatchEvent(new KeyboardEvent('keydown', {
        key: 's', code: 'KeyS', keyCode: 83, ctrlKey: !mac, metaKey: mac, bubbles: true, cancelable: true
      }));
    }
  }
  save();
})();
"""


def notebook_path() -> Path | None:
    """The notebook this kernel was started for (``JPY_SESSION_NAME``), or ``None`` outside Jupyter."""
    name = os.environ.get("JPY_SESSION_NAME")
    if not name:
        return None
    path = Path(name)
    if path.is_absolute():
        return path
    # A path relative to the server's root; the kernel runs in the notebook's folder.
    here = Path.cwd() / path.name
    return here if here.exists() else path.resolve()


def _mtime(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return None


def _ask_to_save(timeout: float):
    """Show the saving script as this cell's output; its display handle (to clear it afterwards), or None."""
    try:
        from IPython import get_ipython
        from IPython.display import Javascript, display
    except ImportError:
        return None
    if get_ipython() is None:
        return None
    script = _SAVE_SCRIPT % {"sent": int(time.time() * 1000), "window_ms": int((timeout + 5) * 1000)}
    return display(Javascript(script), display_id=uuid.uuid4().hex)


def save_notebook(path: Path, timeout: float = SAVE_TIMEOUT) -> bool:
    """Ask the browser to save the notebook at *path*; ``True`` once the file changed on disk within *timeout*."""
    before = _mtime(path)
    handle = _ask_to_save(timeout)
    if handle is None:
        return False
    saved = False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = _mtime(path)
        if now is not None and now != before:
            time.sleep(0.2)  # let a non-atomic write finish
            saved = True
            break
        time.sleep(0.1)
    # Replace the script, so the output kept in the notebook is inert text.
    handle.update({"text/plain": ""}, raw=True)
    return saved


def _clock(path: Path) -> str:
    mtime = _mtime(path)
    return datetime.fromtimestamp(mtime / 1e9).strftime("%H:%M:%S") if mtime else "?"


def check_my_work(notebook: str | Path | None = None) -> None:
    """Save this notebook and grade it with the lab's tests in a fresh kernel, as ``hitlab check`` does.

    Run it in a cell of your lab notebook: ``from hitlab import check_my_work; check_my_work()``. The notebook
    is saved first (as Ctrl-S would); the score and feedback are printed below the cell, and the score goes
    into ``hitlab progress``. Outside JupyterLab, pass the notebook's path.
    """
    if os.environ.get(RUNNING):
        print("check_my_work() does nothing here: this notebook is being checked.")
        return
    from hitlab.checks.core import exam_release
    from hitlab.selfcheck import EXAM_CHECK

    if exam_release():
        print(f"check_my_work(): {EXAM_CHECK}")
        return
    path = Path(notebook).expanduser().resolve() if notebook is not None else notebook_path()
    if path is None:
        print(
            "check_my_work() finds its notebook when it runs in JupyterLab. Elsewhere, pass the path, e.g. "
            "check_my_work('work/lab00_orientation/lab00_orientation.ipynb'), or run hitlab check in a terminal."
        )
        return
    if not path.is_file():
        print(
            f"{path} is not there (renamed or moved since this kernel started?): restart the kernel "
            "(Kernel > Restart Kernel), or pass the notebook's path to check_my_work()."
        )
        return
    if notebook is not None:
        print(f"Checking {path} as saved at {_clock(path)}...")
    elif save_notebook(path):
        print(f"Saved {path.name} at {_clock(path)}; grading it in a fresh kernel, as an instructor would...")
    else:
        print(
            f"Could not confirm that the notebook was saved: checking the copy saved at {_clock(path)}. "
            "To include your latest changes, press Ctrl-S (Cmd-S on a Mac) and run check_my_work() again."
        )
    sys.stdout.flush()
    env = {**os.environ, RUNNING: "1"}
    env.pop("JPY_SESSION_NAME", None)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "hitlab.cli", "check", str(path)],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=CHECK_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        print(f"hitlab check did not finish within {CHECK_TIMEOUT:.0f} s; try it in a terminal.")
        return
    print(result.stdout.rstrip())
    if result.returncode != 0:
        # Errors are the CLI's clean one-line messages (a traceback would be a bug in hitlab).
        print(result.stderr.rstrip())
