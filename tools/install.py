"""Install hitlab into the environment of the interpreter that runs this (the .venv that make creates).

    .venv/bin/python tools/install.py -e .          # what the labs need (make lab, make data)
    .venv/bin/python tools/install.py -e '.[dev]'   # and the developers' tools (make venv, make test)

It installs with uv when uv can be had (on PATH, or installed into the environment with pip, a few seconds)
and with pip otherwise or if uv fails: uv resolves and installs the same packages several times faster.
HITLAB_INSTALLER=pip or HITLAB_INSTALLER=uv chooses (uv: no fallback to pip).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path


def _say(command: list[str]) -> None:
    print(" ".join(command), flush=True)


def find_uv(choice: str) -> str | None:
    """The uv to install with: on PATH, in this environment, or installed into it now; None for pip."""
    if choice == "pip":
        return None
    here = Path(sys.executable).parent / "uv"
    found = shutil.which("uv") or (str(here) if here.exists() else None)
    if found:
        return found
    bootstrap = [sys.executable, "-m", "pip", "install", "--quiet", "uv"]
    _say(bootstrap)
    if subprocess.run(bootstrap).returncode == 0 and here.exists():
        return str(here)
    print("uv is not available here: installing with pip", file=sys.stderr)
    return None


def main(argv: list[str]) -> int:
    choice = os.environ.get("HITLAB_INSTALLER", "").strip().lower()
    if choice not in ("", "uv", "pip"):
        print(f"HITLAB_INSTALLER={choice!r}: choose uv or pip", file=sys.stderr)
        return 2
    uv = find_uv(choice)
    if uv is not None:
        command = [uv, "pip", "install", "--python", sys.executable, *argv]
        _say(command)
        status = subprocess.run(command).returncode
        if status == 0 or choice == "uv":
            return status
        print(f"uv failed (exit status {status}): installing with pip instead", file=sys.stderr)
    command = [sys.executable, "-m", "pip", "install", *argv]
    _say(command)
    return subprocess.run(command).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
