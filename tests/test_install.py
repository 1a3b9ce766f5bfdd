"""tools/install.py, what `make lab` and `make test` install with: uv when it can be had, else pip, into the
environment of the interpreter that runs it. Each case installs a small real package from this suite into a
fresh venv and imports it from there."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def package(tmp_path) -> Path:
    """A one-module project with a dependency-free pyproject, as hitlab's own is laid out."""
    root = tmp_path / "tiny"
    (root / "tiny").mkdir(parents=True)
    (root / "tiny" / "__init__.py").write_text("ANSWER = 42\n")
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "tiny"\nversion = "1.0"\n'
    )
    return root


def _install(
    tmp_path: Path, package: Path, installer: str, path: str
) -> tuple[subprocess.CompletedProcess, Path]:
    env_dir = tmp_path / f"venv-{installer}"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    env = {**os.environ, "HITLAB_INSTALLER": installer, "PATH": path}
    env.pop("VIRTUAL_ENV", None)
    done = subprocess.run([str(python), str(ROOT / "tools" / "install.py"), "-e", str(package)], env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    return done, python


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_installs_with_the_chosen_installer(tmp_path, package, installer):
    # a PATH without uv: the installer must get it into the venv itself (uv) or not use it (pip)
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if not (Path(p) / "uv").exists())
    done, python = _install(tmp_path, package, installer, path)
    assert done.returncode == 0, done.stderr[-3000:]
    commands = [line for line in done.stdout.splitlines() if " install " in line]
    if installer == "uv":
        assert commands[0].endswith("-m pip install --quiet uv")  # uv fetched into the venv first
        assert commands[1].startswith(f"{python.parent / 'uv'} pip install --python {python} -e ")
    else:
        assert commands == [f"{python} -m pip install -e {package}"]
    imported = subprocess.run(
        [str(python), "-c", "import tiny; print(tiny.ANSWER)"], capture_output=True, text=True
    )
    assert imported.stdout == "42\n"


def test_an_unknown_installer_is_refused(tmp_path, package):
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "install.py"), "-e", str(package)],
                          env={**os.environ, "HITLAB_INSTALLER": "conda"}, capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 2 and "HITLAB_INSTALLER='conda': choose uv or pip" in done.stderr
