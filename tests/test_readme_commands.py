"""Every command in README.md and graders/README.md works as written.

The test reads both READMEs and takes out every command: each line of a ```sh block (continuations joined,
a here-document kept whole, comments dropped) and each inline code span that starts with a program
(``hitlab``, ``make``, ``nbgrader``, ...). Each command must be in exactly one of RUN (a test below runs it),
DRY_RUN (``make -n`` shows what it would do), SKIPPED (with the reason it cannot run here) or NAMES (prose
that names a command rather than invoking it); a command added to a README later fails
``test_every_readme_command_is_listed`` until it is.

Commands run through bash, as a user runs them, with the installed ``hitlab`` (the running venv's bin first
on PATH, as after ``source .venv/bin/activate``), in a temporary copy of the checkout (its tracked and
not-ignored files) whose ``.venv`` links to the running venv. ``HITLAB_ROOT`` points hitlab at the copy;
``HITLAB_HOME`` and Jupyter's and IPython's folders are temporary: nothing is written to the checkout but
the datasets in ``data/generated/`` that the rest of the suite builds and shares. Words in capitals in a
command (EXCHANGE, SUBMISSIONS, NEWFOLDER, ...) are the reader's to choose; the test substitutes them.
"""

from __future__ import annotations

import csv
import getpass
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from hitlab.grading.cohort import make_cohort

ROOT = Path(__file__).resolve().parents[1]
DOCS = ("README.md", "graders/README.md")
VENV = Path(sys.prefix)
PROGRAMS = ("hitlab", "make", "nbgrader", "jupyter", "source", "cd", "mkdir", "chown", "ssh", "sysctl",
            "export")  # fmt: skip
# Variables of an outer `make test` (its MAKEFLAGS or environment carry PYTEST_ARGS=...) must not reach the makes run here.
OUTER = (
    "MAKEFLAGS",
    "MFLAGS",
    "MAKELEVEL",
    "MAKEOVERRIDES",
    "PYTHON",
    "PYTEST_ARGS",
    "PYTEST_WORKERS",
    "HITLAB_DB_URL",
    "VIRTUAL_ENV",
)

RUN: dict[str, str] = {}  # command -> the test that runs it (filled by @runs)

DRY_RUN = {
    "make lab": "creates .venv with uv or pip (network, minutes), then serves JupyterLab until Ctrl-C: "
    "test_make_dry_runs checks the chain; test_make_without_a_usable_python runs its interpreter check; "
    "CI's fresh clone creates the venv for real (make test); tests/test_labserver.py starts the lab",
    "make PYTHON=python3.12 lab": "as make lab; python3.12 need not exist here: test_make_dry_runs checks "
    "that it makes the venv with python3.12",
    "make venv": "as make lab: test_make_dry_runs checks the venv and install steps; tests/test_install.py "
    "installs with uv and with pip",
    "make test": "runs this suite: test_make_dry_runs checks the pytest command line",
    "make test PYTEST_ARGS='-m \"not slow\"'": "runs this suite: test_make_dry_runs checks the quoting",
    "make docs": "builds the website: test_make_dry_runs checks that it runs tools/docs.py, which "
    "tests/test_docs.py runs (the Sphinx build, warnings as errors) and checks",
    "make labs": "hitlab course build for every lab: test_make_dry_runs checks that it runs it, "
    "test_course_commands runs it for lab00, and tests/test_course.py builds every lab",
}

SKIPPED = {
    "hitlab grade submitted --out graders/work/cohort1 --roster roster.csv --cluster tls://SCHEDULER:8786 "
    "--db-url postgresql://...": "a deployment's TLS certificates and PostgreSQL server: "
    "test_grading_on_a_dask_cluster grades on a cluster over tcp://, test_two_graders_share_a_postgresql_gradebook "
    "into PostgreSQL",
    "hitlab practice serve --port 8790": "serves until stopped: the practice_url fixture (tests/conftest.py) runs "
    "`hitlab practice serve` and stops it with SIGTERM, for tests/test_practice.py and tests/test_exam_release.py",
    "hitlab lab --no-browser --port 8888": "serves JupyterLab until stopped: tests/test_labserver.py starts it",
    "hitlab course verify lab00": "the same nbgrader runs (about 25 s) as tests/test_course.py::"
    "test_verify_proves_the_grading, which proves every lab through hitlab.api.verify_labs; "
    "test_help_of_every_command runs its --help",
    "make bench": "minutes of benchmarks, and PySynthea from the network",
    '.venv/bin/pytest -m "not slow and not notebook"': "runs this suite",
    "cd graders/work/cohort1 && jupyter lab --no-browser": "serves formgrader until stopped: "
    "test_exchange_collect_grade_export checks that the config before it opens OUT's gradebook",
    "jupyter lab --no-browser --allow-root": "serves formgrader until stopped",
    "jupyter lab --CourseDirectory.course_id=hitlab": "serves formgrader until stopped",
    "chown -R grader: graders/work/cohort1": "needs the reader's own account named grader",
    "ssh -L 8888:localhost:8888 host": "needs another machine",
    "sysctl kernel.unprivileged_userns_clone": "a kernel setting that exists on Debian kernels only; the "
    "grading tests need the user namespaces it allows",
    "hitlab grade graders/work/submitted ...": "the elided form of section 4's command, which "
    "test_exchange_collect_grade_export runs",
    "hitlab course verify labNN": "a placeholder for a lab, as hitlab course verify lab00",
    "hitlab grade graders/work/submitted --out graders/work/cohort1 --secret graders/work/course_secret": "builds "
    "each student's datasets (a minute each): tests/test_grading_variants.py grades with a course secret",
    "hitlab grade graders/work/submitted --out graders/work/exam1 --labs lab02,lab03 --workers 2 --exam": "needs "
    "an exchange's submitted/ tree: tests/test_judge.py grades cohorts with exam=True in the sandbox (the cheats; "
    "labs 03, 07 and 10)",
    "hitlab course verify lab02 --seed 2": "builds a dataset variant and runs nbgrader on it: "
    "tests/test_variants.py proves every lab's solution on seed 2 through hitlab.course.verify",
    "hitlab mock --track interface-engineer --minutes 45": "opens JupyterLab on the drawn notebook until "
    "stopped: test_mock_commands runs the same draw with --no-lab (and tests/test_labserver.py starts the lab)",
}

NAMES = {  # prose naming a command (a table's command column, "the X step"), not an invocation
    "hitlab data generate",
    "hitlab data load",
    "hitlab data build",
    "hitlab lab",
    "hitlab check",
    "hitlab course build",
    "hitlab course verify",
    "hitlab grade",
    "hitlab grade --exam",
    "hitlab mock",
    "hitlab mock score",
    "nbgrader zip_collect",
    "nbgrader db student import",
    "nbgrader collect",
    "nbgrader release_assignment",
}  # not hitlab progress nor hitlab course lint: they are examples too, in RUN


def runs(*commands: str):
    """Record that the decorated test runs these README commands."""

    def mark(test):
        for command in commands:
            RUN[command] = test.__name__
        return test

    return mark


# --- extraction ---------------------------------------------------------------------------------------------

FENCE = re.compile(r"^([ \t]*)```([^\n`]*)\n(.*?)^\1```[ \t]*$", re.S | re.M)


def _block_commands(body: str) -> list[str]:
    lines, out, i = textwrap.dedent(body).splitlines(), [], 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        while line.endswith("\\"):
            line = line[:-1].rstrip() + " " + lines[i].strip()
            i += 1
        if heredoc := re.search(r"<<-?\s*'?(\w+)'?", line):
            end = lines.index(heredoc.group(1), i)
            out.append("\n".join([line, *lines[i:end], lines[end]]))
            i = end + 1
        else:
            out.append(" ".join(re.sub(r"\s+#\s.*$", "", line).split()))
    return out


def fenced_blocks(doc: str) -> list[tuple[str, str]]:
    """``(info string, body)`` of each fenced block of *doc*."""
    return [(m.group(2).strip(), m.group(3)) for m in FENCE.finditer((ROOT / doc).read_text())]


def readme_commands() -> dict[str, str]:
    """Every command of the READMEs -> the README it is in (the first, if in both)."""
    found: dict[str, str] = {}
    for doc in DOCS:
        text = (ROOT / doc).read_text()
        for info, body in fenced_blocks(doc):
            if info == "sh":
                for command in _block_commands(body):
                    found.setdefault(command, doc)
        for span in re.findall(r"`([^`]+)`", FENCE.sub("", text)):
            span = " ".join(span.split())
            first = span.split(" ", 1)[0]
            if " " in span and (first in PROGRAMS or first.startswith((".venv/bin/", "pd."))):
                found.setdefault(span, doc)
    return found


# --- running ------------------------------------------------------------------------------------------------


class Workspace:
    """A copy of the checkout to run commands in, with the environment of an activated venv."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.root = tmp / "hitlab"
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        for rel in filter(None, listed.split("\0")):
            if (ROOT / rel).is_file():
                (self.root / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / rel, self.root / rel)
        # .venv: the running venv's parts, and a fresh install stamp so make never reinstalls into it
        (self.root / ".venv").mkdir()
        for part in VENV.iterdir():
            if part.name != ".hitlab-installed":
                (self.root / ".venv" / part.name).symlink_to(part)
        (self.root / ".venv" / ".hitlab-installed").touch()
        self.env = {k: v for k, v in os.environ.items() if k not in OUTER}
        self.env.update(
            PATH=f"{VENV / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
            HITLAB_ROOT=str(self.root),
            HITLAB_HOME=str(tmp / "hitlab-home"),
            JUPYTER_CONFIG_DIR=str(tmp / "jupyter-config"),
            JUPYTER_DATA_DIR=str(tmp / "jupyter-data"),  # nbgrader's submit records its submissions here
            JUPYTER_RUNTIME_DIR=str(tmp / "jupyter-runtime"),
            IPYTHONDIR=str(tmp / "ipython"),
            GIT_CONFIG_GLOBAL=os.devnull,
            COLUMNS="160",
        )

    def command(
        self, command: str, subst: dict[str, str] | None = None, then: str | None = None
    ) -> list[str]:
        """bash's argv for a README *command*, its placeholders replaced by *subst*, *then* run after it."""
        assert command in RUN or command in DRY_RUN, f"not a command of RUN or DRY_RUN: {command}"
        for word, value in (subst or {}).items():
            command = command.replace(word, value)
        return ["bash", "-c", f"{command} && {then}" if then else command]

    def sh(self, command: str, *, cwd: Path | None = None, subst: dict[str, str] | None = None,
           then: str | None = None, ok: bool = True, env: dict[str, str] | None = None,
           ) -> subprocess.CompletedProcess:  # fmt: skip
        """Run a README *command* with bash; *ok*: it must succeed."""
        done = subprocess.run(
            self.command(command, subst, then), cwd=cwd or self.root, env={**self.env, **(env or {})},
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        if ok:
            assert done.returncode == 0, f"{command}\nexit {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done

    def start(self, command: str, subst: dict[str, str], then: str | None = None) -> subprocess.Popen:
        """Start a README *command* as :meth:`sh` runs it, without waiting."""
        return subprocess.Popen(
            self.command(command, subst, then), cwd=self.root, env=self.env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Workspace:
    if not (VENV / "bin" / "hitlab").is_file():
        pytest.skip(f"run the suite with the venv that has hitlab installed ({VENV} has no bin/hitlab)")
    return Workspace(tmp_path_factory.mktemp("readme"))


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


# --- the list -----------------------------------------------------------------------------------------------


def test_every_readme_command_is_listed():
    for doc in DOCS:
        infos = {info for info, _ in fenced_blocks(doc)}
        assert infos <= {"sh", "text"}, f"{doc}: label each code block sh (commands) or text: {infos}"
    found = readme_commands()
    assert "make lab" in found and "hitlab progress" in found  # the extraction works at all
    listed = [*RUN, *DRY_RUN, *SKIPPED, *NAMES]
    unlisted = [f"{found[c]}: {c}" for c in found if c not in listed]
    assert not unlisted, "README commands that no test runs and no list skips:\n" + "\n".join(unlisted)
    stale = [c for c in listed if c not in found]
    assert not stale, "listed here but in no README (update the list):\n" + "\n".join(stale)
    twice = sorted({c for c in listed if listed.count(c) > 1})
    assert not twice, f"in two lists: {twice}"


# --- make ---------------------------------------------------------------------------------------------------


def _fresh_dir(tmp_path: Path) -> Path:
    """A folder with the checkout's Makefile and pyproject.toml and no .venv, as in a fresh clone."""
    tmp_path.mkdir(exist_ok=True)
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy2(ROOT / name, tmp_path / name)
    return tmp_path


FAKE_PYTHONS = {  # name -> (script, the messages make prints)
    "missing": (None, ["error: Python interpreter 'missing' not found (hitlab needs Python 3.11 or newer)."]),
    "python3.9": (
        'if [ "$1" = --version ]; then echo "Python 3.9.18"; exit 0; fi\nexit 1',
        ["error: hitlab needs Python 3.11 or newer; 'python3.9' is Python 3.9.18."],
    ),
    "python3.10": (  # a pyenv shim of a version that is not installed
        'echo "pyenv: python3.10: command not found" >&2\nexit 127',
        ["error: 'python3.10' does not run: pyenv: python3.10: command not found"],
    ),
    "python3.13": (  # Debian's python3 without python3-venv: venv leaves a half-made folder
        'case "$*" in -c*) exit 0 ;; "-m venv .venv") mkdir -p .venv/bin; touch .venv/bin/python\n'
        '  echo "The virtual environment was not created successfully because ensurepip is not available." >&2'
        "\n  exit 1 ;; esac\nexit 1",
        [
            "The virtual environment was not created successfully because ensurepip is not available.",
            "error: 'python3.13' could not create .venv (on Debian and Ubuntu: apt install python3-venv).",
        ],
    ),
}


@pytest.mark.parametrize("python", FAKE_PYTHONS)
def test_make_without_a_usable_python(tmp_path, python):
    """make lab in a fresh clone with PYTHON missing, too old, broken or without venv: a clear message."""
    fresh = _fresh_dir(tmp_path / "clone")
    script, messages = FAKE_PYTHONS[python]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if script:
        (bin_dir / python).write_text(f"#!/bin/sh\n{script}\n")
        (bin_dir / python).chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in OUTER}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    assert script or shutil.which(python, path=env["PATH"]) is None
    done = subprocess.run(
        ["make", f"PYTHON={python}", "lab"], cwd=fresh, env=env, capture_output=True, text=True
    )
    assert done.returncode == 2
    *lines, last = done.stderr.splitlines()
    assert lines == [*messages, "       Choose another with PYTHON, e.g. make PYTHON=python3.12 lab"]
    assert re.fullmatch(r"make: \*\*\* \[Makefile:\d+: \.venv/bin/python\] Error 1", last), last
    assert done.stdout == ("python3.13 -m venv .venv\n" if python == "python3.13" else "")
    assert sorted(p.name for p in fresh.iterdir()) == ["Makefile", "pyproject.toml"]  # no .venv left


def test_make_dry_runs(ws, tmp_path):
    """What make lab / venv / test would run (make -n), in a fresh clone and in a set-up one."""
    fresh = _fresh_dir(tmp_path)
    env = {"PATH": ws.env["PATH"]}

    def recipe(command: str, cwd: Path) -> str:
        return ws.sh(command, cwd=cwd, subst={"make ": "make -n "}, env=env).stdout

    def steps(command: str, cwd: Path) -> list[str]:
        """The recipe lines of *command* that run a program of .venv or make it (the rest is checks)."""
        lines = recipe(command, cwd).splitlines()
        return [line for line in lines if re.match(r"(\.venv/bin/|\S+ -m venv )", line)]

    make_venv = "python3 -m venv .venv || { rm -rf .venv; \\"
    venv = [make_venv, ".venv/bin/python tools/install.py -e '.[dev]'"]
    learner = [make_venv, ".venv/bin/python tools/install.py -e ."]  # no developers' tools
    assert steps("make lab", fresh) == [*learner, ".venv/bin/hitlab data build", ".venv/bin/hitlab lab"]
    assert steps("make PYTHON=python3.12 lab", fresh)[0] == "python3.12 -m venv .venv || { rm -rf .venv; \\"
    assert steps("make venv", fresh) == venv
    assert recipe("make labs", ws.root) == ".venv/bin/hitlab course build\n"
    assert recipe("make docs", ws.root) == ".venv/bin/python tools/docs.py\n"
    assert re.search(r"\.venv/bin/pytest -n 2 +\|\| status=\$\?", recipe("make test", ws.root))
    assert '.venv/bin/pytest -n 2 -m "not slow" || status=$?' in recipe(
        "make test PYTEST_ARGS='-m \"not slow\"'", ws.root
    )


@runs("make help", "make lint", "make format", "make clean", ".venv/bin/pre-commit install")
def test_make_targets(ws):
    listed = ws.sh("make help").stdout
    makefile = (ws.root / "Makefile").read_text()
    for target in re.findall(r"^([a-z]+):.*## ", makefile, re.M):
        assert re.search(rf"^  {target} +\S", listed, re.M), target
    for command in ("make lint", "make format"):  # ruff runs and reports; the verdict is ruff's own
        done = ws.sh(command, ok=False)
        assert done.returncode in (0, 2), done.stderr
        assert re.search(r"All checks passed!|Found \d+ error", done.stdout), done.stdout
    for junk in ("data/generated/default/x.csv", ".pytest_cache/x", "src/hitlab/__pycache__/x.pyc"):
        (ws.root / junk).parent.mkdir(parents=True, exist_ok=True)
        (ws.root / junk).touch()
    ws.sh("make clean")
    assert not (ws.root / "data" / "generated").exists() and not (ws.root / ".pytest_cache").exists()
    assert not (ws.root / "src" / "hitlab" / "__pycache__").exists() and (ws.root / ".venv" / "bin").exists()
    subprocess.run(["git", "init", "-q"], cwd=ws.root, env=ws.env, check=True)
    assert "pre-commit installed" in ws.sh(".venv/bin/pre-commit install").stdout
    assert (ws.root / ".git" / "hooks" / "pre-commit").is_file()


# --- hitlab -------------------------------------------------------------------------------------------------


def _command_paths() -> list[list[str]]:
    import click

    from hitlab.cli import main

    paths, todo = [], [([], main)]
    while todo:
        path, command = todo.pop()
        paths.append(path)
        if isinstance(command, click.Group):
            todo += [([*path, name], sub) for name, sub in command.commands.items()]
    return sorted(paths)


@runs("hitlab COMMAND --help", "jupyter --paths", "source .venv/bin/activate")
def test_help_of_every_command(ws):
    for path in _command_paths():
        words = " ".join(["hitlab", *path])
        done = ws.sh("hitlab COMMAND --help", subst={"hitlab COMMAND": words})
        assert done.stdout.startswith(f"Usage: {words} ") and "Example:" in done.stdout, words
    assert "config:" in ws.sh("jupyter --paths").stdout
    path = os.pathsep.join(p for p in ws.env["PATH"].split(os.pathsep) if Path(p) != VENV / "bin")
    found = ws.sh("source .venv/bin/activate", then="command -v hitlab nbgrader", env={"PATH": path})
    assert found.stdout.split() == [str(VENV / "bin" / name) for name in ("hitlab", "nbgrader")]


@runs(
    "hitlab data generate --patients 500 --seed 42 --out pop --formats csv,fhir --defects",
    "hitlab data load pop --db pop.duckdb",
    "hitlab data build --dataset defects",
)
def test_data_commands(ws):
    done = ws.sh("hitlab data generate --patients 500 --seed 42 --out pop --formats csv,fhir --defects")
    assert "wrote 500 patients to pop" in done.stdout and (ws.root / "pop" / "manifest.json").is_file()
    assert "fhir_patient" in ws.sh("hitlab data load pop --db pop.duckdb").stdout
    assert (ws.root / "pop.duckdb").is_file()
    assert "dataset 'defects' ready" in ws.sh("hitlab data build --dataset defects").stdout


SECRET_CMD = "hitlab course secret --out graders/work/course_secret"
KEYS_CMD = (
    "hitlab course keys --secret graders/work/course_secret --students s001 s002 --out graders/work/keys"
)
ROSTER_KEYS_CMD = (
    "hitlab course keys --secret graders/work/course_secret --roster roster.csv --out graders/work/keys"
)


@runs(SECRET_CMD, KEYS_CMD, ROSTER_KEYS_CMD, "hitlab data variants", "hitlab data variants --max 50")
def test_dataset_per_learner_commands(ws, tmp_path):
    (ws.root / "graders" / "work").mkdir(parents=True, exist_ok=True)
    assert "wrote a new course secret" in ws.sh(SECRET_CMD).stdout
    assert "never overwritten" in ws.sh(SECRET_CMD, ok=False).stderr
    assert "wrote 2 key file(s)" in ws.sh(KEYS_CMD).stdout
    if not (ws.root / "roster.csv").exists():
        (ws.root / "roster.csv").write_text(
            "id,first_name,last_name,email\ns001,Ada,Lovelace,ada@example.org\n"
        )
    ws.sh(ROSTER_KEYS_CMD)
    assert 'student = "s001"' in (ws.root / "graders" / "work" / "keys" / "s001.key").read_text()
    data_dir = {"HITLAB_DATA_DIR": str(tmp_path)}  # not the checkout's datasets
    variant = tmp_path / "variants" / "5"
    variant.mkdir(parents=True)
    assert ws.sh("hitlab data variants", env=data_dir).stdout.split()[0] == "5"
    assert "deleted variant" not in ws.sh("hitlab data variants --max 50", env=data_dir).stdout
    assert variant.is_dir()


@runs("hitlab check work/lab00_orientation/lab00_orientation.ipynb", "hitlab progress")
def test_check_then_progress(ws):
    from hitlab.work import prepare

    prepare(ws.root)  # what `make lab` does first: the learner's working copy in work/
    notebook = ws.root / "work" / "lab00_orientation" / "lab00_orientation.ipynb"
    before = notebook.read_bytes()
    done = ws.sh("hitlab check work/lab00_orientation/lab00_orientation.ipynb")
    assert "lab00_orientation: 0 / 10" in done.stdout  # the released notebook, unanswered
    assert notebook.read_bytes() == before
    assert (Path(ws.env["HITLAB_HOME"]) / "progress.json").is_file()
    rows = ws.sh("hitlab progress").stdout
    assert re.search(r"lab00_orientation\s+│ 0 / 10 ", rows) and "not checked yet" in rows, rows


@runs(
    "hitlab mock tracks",
    "hitlab mock --list",
    "hitlab mock --interviewer --html sheet.html",
    "hitlab mock score --assessor peer --points lab10_star_incident=2",
)
def test_mock_commands(ws):
    tracks = ws.sh("hitlab mock tracks").stdout
    assert all(
        t in tracks for t in ("interface-engineer", "data-engineer", "fhir-developer", "data-scientist")
    )
    # the README's draw without opening JupyterLab; seed 4 draws lab10_star_incident in a fresh record
    draw = "hitlab mock --track interface-engineer --minutes 45 --seed 4 --no-lab"  # not itself in a README
    drawn = subprocess.run(
        ["bash", "-c", draw], cwd=ws.root, env=ws.env, capture_output=True, text=True, check=True
    ).stdout
    attempt = re.search(r"mock interview (\S+):", drawn).group(1)
    assert "lab10_star_incident" in drawn
    assert f"{attempt}  interface-engineer" in ws.sh("hitlab mock --list").stdout
    assert "interviewer's sheet: sheet.html" in ws.sh("hitlab mock --interviewer --html sheet.html").stdout
    assert "Follow-up probes" in (ws.root / "sheet.html").read_text(encoding="utf-8")
    scored = ws.sh("hitlab mock score --assessor peer --points lab10_star_incident=2").stdout
    assert re.search(r"lab10_star_incident\s.*2 / 3\s.*peer", scored), scored
    assert "mock interviews: 1 scored" in ws.sh("hitlab progress").stdout


@runs("hitlab course build lab00", "hitlab course lint")
def test_course_commands(ws):
    assert ws.sh("hitlab course build lab00").stdout == (
        f"built {ws.root / 'labs' / 'lab00_orientation' / 'lab00_orientation.ipynb'}\n"
    )
    assert ws.sh("hitlab course lint").stdout.endswith("lint: no problems\n")


EXAM_RELEASE = "hitlab course release --exam --out graders/work/exam-release"
EXAM_RELEASE_SOME = "hitlab course release --exam --out graders/work/exam-labs02-03 --no-hints lab02 lab03"


@runs(EXAM_RELEASE, EXAM_RELEASE_SOME)
def test_exam_release_commands(ws):
    assert "install it with `pip install" in ws.sh(EXAM_RELEASE).stdout
    every = ws.root / "graders" / "work" / "exam-release"
    assert len(list((every / "labs").iterdir())) == len(list((ws.root / "labs").glob("lab*")))
    assert json.loads((every / "python" / "hitlab" / "release.json").read_text())["hints"] is True
    ws.sh(EXAM_RELEASE_SOME)
    some = ws.root / "graders" / "work" / "exam-labs02-03"
    assert sorted(p.name for p in (some / "labs").iterdir()) == [
        "lab02_sql_patient_data",
        "lab03_hl7v2_messaging",
    ]
    assert json.loads((some / "python" / "hitlab" / "release.json").read_text())["hints"] is False
    assert not list((some / "python" / "hitlab" / "checks").rglob("reference.py"))
    assert not list((some / "python" / "hitlab" / "checks").rglob("answers.py"))
    again = ws.sh(EXAM_RELEASE, ok=False)  # never over an earlier release
    assert again.returncode == 2 and "must be new or empty" in again.stderr


# --- grading ------------------------------------------------------------------------------------------------

SAMPLE_GRADE = (
    "hitlab grade graders/work/sample --out graders/work/sample-grades --labs lab00,lab01 --workers 2"
)
REGRADE = "hitlab grade NEWFOLDER --out SAME_OUT --labs lab01 --force --timeout 300"
PIVOT = (
    'pd.read_csv("grades.csv", dtype={"student_id": str}).pivot(index="student_id", columns="assignment", '
    'values="score")'
)


@pytest.mark.slow
@runs("make cohort", SAMPLE_GRADE, REGRADE, PIVOT)
def test_sample_cohort_grade_regrade_and_pivot(ws):
    """README.md's grading example on `make cohort`'s sample; a regrade with more time (graders/README.md)."""
    assert "s001 is correct" in ws.sh("make cohort").stdout
    sample = ws.root / "graders" / "work" / "sample"
    labs = sorted(p.name for p in (ws.root / "labs").iterdir() if re.match(r"lab\d\d_", p.name))
    assert sorted(p.relative_to(sample).as_posix() for p in sample.rglob("*.ipynb")) == [
        f"{s}/{lab}/{lab}.ipynb" for s in ("s001", "s002", "s003") for lab in labs
    ]
    done = ws.sh(SAMPLE_GRADE)
    assert "graded 6 notebooks" in done.stdout and "(graded 6)" in done.stdout, done.stdout
    out = ws.root / "graders" / "work" / "sample-grades"
    assert {(r["student_id"], r["assignment"], r["status"]) for r in _csv(out / "status.csv")} == {
        (s, lab, "graded") for s in ("s001", "s002", "s003") for lab in labs[:2]
    }
    assert (out / "report.html").is_file() and (out / "feedback" / "s003" / f"{labs[1]}.html").is_file()

    graded = _csv(out / "grades.csv")
    # s003's lab01 again, unchanged: only --force grades it
    newfolder = ws.root / "graders" / "work" / "regrade"
    shutil.copytree(sample / "s003" / labs[1], newfolder / "s003" / labs[1])
    done = ws.sh(
        REGRADE, subst={"NEWFOLDER": "graders/work/regrade", "SAME_OUT": "graders/work/sample-grades"}
    )
    assert "graded 1 notebooks" in done.stdout and "0 already graded" in done.stdout, done.stdout
    regraded = _csv(out / "grades.csv")  # the same rows and scores; s003's lab01 has a new grading time
    assert [{**r, "timestamp": ""} for r in regraded] == [{**r, "timestamp": ""} for r in graded]
    changed = {(r["student_id"], r["assignment"]) for r, g in zip(regraded, graded, strict=True) if r != g}
    assert changed == {("s003", labs[1])}
    script = f"import pandas as pd\nprint(sorted({PIVOT}.columns))"
    done = subprocess.run([sys.executable, "-c", script], cwd=out, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == str(labs[:2])


EXCHANGE_STEPS = (
    "mkdir -p graders/work",
    "(cd graders && nbgrader release_assignment lab01_ehr_data_modeling --Exchange.root=EXCHANGE)",
    "nbgrader fetch_assignment lab01_ehr_data_modeling --course hitlab",
    "nbgrader submit lab01_ehr_data_modeling --course hitlab",
    "(cd graders && nbgrader collect lab01_ehr_data_modeling --Exchange.root=EXCHANGE)",
    "hitlab grade graders/work/submitted --out graders/work/cohort1 --labs lab01,lab02 "
    "--roster graders/work/roster.csv --workers 4",
)
FORMGRADER_CONFIG = """cat > graders/work/cohort1/nbgrader_config.py <<'EOF'
from pathlib import Path
c = get_config()
c.CourseDirectory.root = str(Path(__file__).resolve().parent)
c.CourseDirectory.course_id = "hitlab"
# c.CourseDirectory.db_url = "postgresql+psycopg://user:password@host/dbname"   # shared database only
EOF"""
NBGRADER_EXPORT = (
    "nbgrader export --course=hitlab --db=sqlite:///graders/work/cohort1/gradebook.db "
    "--exporter=nbgrader.plugins.CsvExportPlugin --to=graders/work/cohort1/nbgrader-grades.csv"
)


@pytest.mark.slow
@runs(*EXCHANGE_STEPS, FORMGRADER_CONFIG, NBGRADER_EXPORT)
def test_exchange_collect_grade_export(ws):
    """graders/README.md sections 2 to 7: release, fetch and submit through the exchange, collect, grade with a
    roster, formgrader's config in OUT, nbgrader's own export."""
    exchange = ws.tmp / "exchange"  # "must already exist and be writable by everyone"
    exchange.mkdir()
    exchange.chmod(0o777)
    subst = {"EXCHANGE": str(exchange)}
    config = Path(ws.env["JUPYTER_CONFIG_DIR"])  # a config folder listed by `jupyter --paths`, for learners
    config.mkdir(exist_ok=True)
    (config / "nbgrader_config.py").write_text(
        f'c = get_config()\nc.Exchange.root = "{exchange}"\nc.CourseDirectory.course_id = "hitlab"\n'
    )
    ws.sh(EXCHANGE_STEPS[0])
    assert "Released as: hitlab lab01_ehr_data_modeling" in ws.sh(EXCHANGE_STEPS[1], subst=subst).stderr
    learner = ws.tmp / "learner"
    learner.mkdir()
    ws.sh(EXCHANGE_STEPS[2], cwd=learner)
    assert (learner / "lab01_ehr_data_modeling" / "lab01_ehr_data_modeling.ipynb").is_file()
    ws.sh(EXCHANGE_STEPS[3], cwd=learner)
    ws.sh(EXCHANGE_STEPS[4], subst=subst)
    submitted = ws.root / "graders" / "work" / "submitted"
    (student,) = (p.name for p in submitted.iterdir())  # the learner's user name
    assert student == getpass.getuser()
    assert (submitted / student / "lab01_ehr_data_modeling" / "lab01_ehr_data_modeling.ipynb").is_file()

    (ws.root / "graders" / "work" / "roster.csv").write_text(
        f"id,first_name,last_name,email\n{student},Ada,Lovelace,ada@example.org\ns999,Bo,Li,bo@example.org\n"
    )
    done = ws.sh(EXCHANGE_STEPS[5])
    assert "graded 1 notebooks" in done.stdout and "missing 3" in done.stdout, done.stdout
    for extra in ("timestamp.txt", "submission_secret.txt"):  # "listed as not graded; that is expected"
        assert f"not graded: {student}/lab01_ehr_data_modeling/{extra}:" in done.stderr
    out = ws.root / "graders" / "work" / "cohort1"
    assert {(r["student_id"], r["assignment"], r["status"]) for r in _csv(out / "status.csv")} == {
        (student, "lab01_ehr_data_modeling", "graded"), ("s999", "lab01_ehr_data_modeling", "missing"),
        (student, "lab02_sql_patient_data", "missing"), ("s999", "lab02_sql_patient_data", "missing"),
    }  # fmt: skip

    ws.sh(FORMGRADER_CONFIG)
    # what formgrader would open: the gradebook of OUT (nbgrader reads the config in the current folder)
    listed = subprocess.run(["nbgrader", "db", "student", "list"], cwd=out, env=ws.env, capture_output=True,
                            text=True, check=True).stdout  # fmt: skip
    assert f"{student} (Lovelace, Ada)" in listed and "s999 (Li, Bo)" in listed

    ws.sh(NBGRADER_EXPORT)
    rows = _csv(out / "nbgrader-grades.csv")
    assert {(r["student_id"], r["assignment"]) for r in rows} == {
        (s, lab) for s in (student, "s999") for lab in ("lab01_ehr_data_modeling", "lab02_sql_patient_data")
    }


POSTGRES_GRADERS = (
    "hitlab grade SUBMISSIONS --out graders/work/gradeA --labs lab01 --roster roster.csv "
    "--db-url postgresql://user:password@host/dbname",
    "hitlab grade SUBMISSIONS --out graders/work/gradeB --labs lab02 --roster roster.csv "
    "--db-url postgresql://user:password@host/dbname",
)
POSTGRES_ENV = "export HITLAB_DB_URL=postgresql://..."
POSTGRES_EXPORT = (
    "nbgrader export --CourseDirectory.course_id=hitlab "
    "--CourseDirectory.db_url=postgresql+psycopg://user:password@host/dbname --to grades-all.csv"
)


@pytest.mark.slow
@runs(*POSTGRES_GRADERS, POSTGRES_ENV, POSTGRES_EXPORT)
def test_two_graders_share_a_postgresql_gradebook(ws, postgres_db):
    """graders/README.md section 9: two graders at once into one PostgreSQL gradebook, then one export."""
    subs = ws.tmp / "pg-submissions"
    make_cohort(subs, ["lab01", "lab02"], per_lab=1, root=ws.root)
    (ws.root / "roster.csv").write_text("id,first_name,last_name,email\ns001,Ada,Lovelace,ada@example.org\n")
    subst = {"SUBMISSIONS": str(subs), "postgresql://user:password@host/dbname": postgres_db}
    # machine B runs its command with the URL in the environment instead of --db-url, as the README advises
    b_without_url = POSTGRES_GRADERS[1].replace(" --db-url postgresql://user:password@host/dbname", "")
    graders = [
        ws.start(POSTGRES_GRADERS[0], subst),
        ws.start(
            POSTGRES_ENV,
            {"postgresql://...": postgres_db},
            then=b_without_url.replace("SUBMISSIONS", str(subs)),
        ),
    ]
    for grader in graders:
        stdout, stderr = grader.communicate(timeout=900)
        assert grader.returncode == 0 and "graded 1 notebooks" in stdout, stdout + stderr
    assert not (ws.root / "graders" / "work" / "gradeB" / "gradebook.db").exists()  # B used PostgreSQL too
    export_url = "postgresql+psycopg://" + postgres_db.split("://", 1)[1]
    ws.sh(POSTGRES_EXPORT, subst={"postgresql+psycopg://user:password@host/dbname": export_url})
    rows = _csv(ws.root / "grades-all.csv")
    assert {(r["student_id"], r["assignment"]) for r in rows} == {
        ("s001", "lab01_ehr_data_modeling"), ("s001", "lab02_sql_patient_data")
    }  # fmt: skip


CLUSTER_STEPS = (
    "dask scheduler --port 8786",
    "dask worker tcp://SCHEDULER:8786 --nworkers 1 --nthreads 4",
    "hitlab grade SUBMISSIONS --out graders/work/cohort1 --labs lab01,lab02 --roster roster.csv "
    "--cluster tcp://SCHEDULER:8786",
)


@pytest.mark.slow
@runs(*CLUSTER_STEPS)
def test_grading_on_a_dask_cluster(ws):
    """graders/README.md section 9: a scheduler, a worker of four slots, and hitlab grade sending it the work
    (on this machine's loopback, at a free port, into an OUT of its own)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    subs = ws.tmp / "cluster-submissions"
    make_cohort(subs, ["lab01"], per_lab=2, root=ws.root)
    (ws.root / "roster.csv").write_text("id\ns001\ns002\ns404\n")
    subst = {"SCHEDULER:8786": f"127.0.0.1:{port}", "--port 8786": f"--port {port}", "SUBMISSIONS": str(subs),
             "graders/work/cohort1": "graders/work/cluster1"}  # fmt: skip
    servers = [ws.start(CLUSTER_STEPS[0], subst)]
    try:
        deadline = time.monotonic() + 120
        while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
            assert time.monotonic() < deadline and servers[0].poll() is None, servers[0].communicate()
            time.sleep(0.5)
        servers.append(ws.start(CLUSTER_STEPS[1], subst))
        done = ws.sh(CLUSTER_STEPS[2], subst=subst)
    finally:
        for server in reversed(servers):
            server.terminate()
            try:
                server.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
                server.communicate()
    assert "graded 2 notebooks" in done.stdout and "(graded 2, missing 4)" in done.stdout, done.stdout
    rows = _csv(ws.root / "graders" / "work" / "cluster1" / "status.csv")
    assert {(r["student_id"], r["assignment"], r["status"]) for r in rows} == {
        ("s001", "lab01_ehr_data_modeling", "graded"), ("s002", "lab01_ehr_data_modeling", "graded"),
        ("s404", "lab01_ehr_data_modeling", "missing"), ("s001", "lab02_sql_patient_data", "missing"),
        ("s002", "lab02_sql_patient_data", "missing"), ("s404", "lab02_sql_patient_data", "missing"),
    }  # fmt: skip
    log = (ws.root / "graders" / "work" / "cluster1" / "grading.log").read_text()
    assert "sandbox: on" in log, log
