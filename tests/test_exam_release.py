"""The exam release (``hitlab course release --exam``) holds no answer for any graded item, and every lab
notebook works in it.

The tests build a real exam tree (:func:`hitlab.course.release.exam_tree`) in a temporary folder once for this
file and run everything that must see the learner's install in a subprocess or a kernel with that tree first on
``PYTHONPATH``; what they compare it with (the answers, the keys) comes from the full install of this process.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from hitlab.checks import questions
from hitlab.course.notebooks import HIDDEN_BLOCK, SOLUTION_BLOCK, lab_names
from hitlab.course.release import exam_tree

ROOT = Path(__file__).resolve().parents[1]
LABS = lab_names(ROOT)
PARTS = ("reference", "answers")  # each lab's checks modules an exam release leaves out


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """The folder to put on ``sys.path``: it holds the exam release's ``hitlab`` package (hints on)."""
    into = tmp_path_factory.mktemp("exam")
    exam_tree(into)
    return into


def run_in(tree: Path, code: str, cwd: Path) -> str:
    """Run ``code`` in a fresh interpreter that imports hitlab from ``tree``; its stdout (it must succeed)."""
    prelude = (
        "import hitlab, pathlib\n"
        f"assert pathlib.Path(hitlab.__file__).resolve().parent == pathlib.Path({str(tree)!r}).resolve() / 'hitlab'\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)], env=env, cwd=cwd, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stdout


def named_questions(lab: str) -> list[tuple[str, object]]:
    """The questions of ``lab`` (``labNN``) in the full install, by their names in its module (``q1`` ...)."""
    module = importlib.import_module(f"hitlab.checks.{lab}")
    return [(name, q) for name, q in list(vars(module).items()) if re.fullmatch(r"q\d+", name)]


# -- (a) the checks import, with no reference and no answers -----------------------------------------------------


def test_every_lab_imports_without_reference_and_answers(tree, tmp_path):
    report = run_in(
        tree,
        f"""
        import importlib, importlib.util, json
        from hitlab.checks.core import NOT_RELEASED, exam_release
        assert exam_release()
        assert importlib.util.find_spec("hitlab.mock") is None
        out = {{}}
        for lab in {[lab[:5] for lab in LABS]!r}:
            module = importlib.import_module(f"hitlab.checks.{{lab}}")
            present = [p for p in {PARTS!r} if importlib.util.find_spec(f"hitlab.checks.{{lab}}.{{p}}") is not None]
            qs = [*module.QUESTIONS, *(module.HIDDEN.values() if isinstance(getattr(module, "HIDDEN", None), dict)
                                       else ())]
            out[lab] = {{
                "present": present,
                "questions": len(qs),
                "released": [q.grade_id for q in qs if q.solution_code != NOT_RELEASED or q.wrong or q.alternatives],
                "formless": [q.grade_id for q in qs if not q.form],
            }}
        print(json.dumps(out))
        """,
        tmp_path,
    )
    found = json.loads(report)
    assert sorted(found) == [lab[:5] for lab in LABS]
    for lab, what in found.items():
        assert what["present"] == [], f"{lab}: the exam tree holds {what['present']}"
        assert what["questions"] == len(questions(lab)) + len(getattr(importlib.import_module(f"hitlab.checks.{lab}"),
                                                                       "HIDDEN", None) or {})  # fmt: skip
        assert what["released"] == [], f"{lab}: answers in the exam tree for {what['released']}"
        assert what["formless"] == [], f"{lab}: no form check for {what['formless']}"
        # the full install's questions too, hidden variants included (lab 10's differ there)
        module = importlib.import_module(f"hitlab.checks.{lab}")
        full = [*module.QUESTIONS, *(getattr(module, "HIDDEN", None) or {}).values()]
        assert [q.grade_id for q in full if not q.form] == [], f"{lab}: questions with no form check"
    for left_out in PARTS:
        assert not list((tree / "hitlab" / "checks").glob(f"lab*/{left_out}.py"))


# -- (b) no answer text, no answer key ---------------------------------------------------------------------------


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, tuple | list | set | frozenset):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)


def _lines(text: str) -> list[str]:
    """The lines of ``text`` worth looking for: stripped, at least 12 characters, not comments."""
    return [s for s in (line.strip() for line in text.splitlines()) if len(s) >= 12 and not s.startswith("#")]


def answer_texts() -> dict[str, list[str]]:
    """Every answer source of the full install (the labs' ``answers`` modules) and every solution and hidden-test
    block of ``solutions/``, by where it comes from."""
    texts: dict[str, list[str]] = {}
    for lab in LABS:
        module = importlib.import_module(f"hitlab.checks.{lab[:5]}.answers")
        for name, value in vars(module).items():
            if not name.startswith("_"):
                for i, text in enumerate(_strings(value)):
                    texts[f"{lab[:5]}.answers.{name}[{i}]"] = _lines(text)
        notebook = nbformat.read(next((ROOT / "solutions" / lab).glob("*.ipynb")), as_version=4)
        for cell in notebook.cells:
            blocks = [*SOLUTION_BLOCK.findall(cell.source), *HIDDEN_BLOCK.findall(cell.source)]
            if cell.cell_type == "code" and blocks:
                texts[f"solutions/{lab} cell {cell.get('id')}"] = [s for b in blocks for s in _lines(b)]
    return texts


# Answer lines that are, by design, also in code the exam release ships to learners. Each is looked at:
SHARED = {
    # plain Python that the workbook's own loaders share with lab 08's bulk ingest
    'manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))',
    'entries = bundle.get("entry") if isinstance(bundle, dict) else None',
    # lab 04: FHIR references resolved the way the workbook's FHIR store does it
    "elif isinstance(node, dict):",
    'ref = node.get("reference")',
    "if isinstance(ref, str):",
    # lab 04: the writers of the workbook's own FHIR data
    '"extension": extensions,',
    '"identifier": identifiers,',
}


def _given_to_learners() -> set[str]:
    """Lines learners are given anyway: the released notebooks', and constants of the labs' modules (a line
    ``NAME = ...`` where ``labNN.NAME`` is public)."""
    given = set()
    for notebook in (ROOT / "labs").glob("lab*/*.ipynb"):
        for cell in nbformat.read(notebook, as_version=4).cells:
            given.update(line.strip() for line in cell.source.splitlines())
    for lab in LABS:
        module = importlib.import_module(f"hitlab.checks.{lab[:5]}")
        for name, value in list(vars(module).items()):
            if name.isupper():
                given.update(
                    (f"{name} = {value!r}", f"{name} = {json.dumps(value)}" if isinstance(value, str) else "")
                )
    return given


_LITERAL = re.compile(r'"((?:[^"\\]|\\.)*)"|\'((?:[^\'\\]|\\.)*)\'')


def tree_text(tree: Path) -> tuple[dict[str, str], set[tuple[str, str, str]]]:
    """What the exam tree's files say: each stripped line (and each line inside a string literal) -> a file that
    has it; and every three consecutive lines worth looking for."""
    lines: dict[str, str] = {}
    windows: set[tuple[str, str, str]] = set()
    for path in sorted(tree.rglob("*")):
        try:
            text = path.read_text(encoding="utf-8") if path.is_file() else ""
        except (UnicodeDecodeError, OSError):
            continue
        where = str(path.relative_to(tree))
        for line in text.splitlines():
            lines.setdefault(line.strip(), where)
            for a, b in _LITERAL.findall(line):
                for piece in (a or b).split("\\n"):
                    lines.setdefault(piece.strip(), where)
        kept = _lines(text)
        windows.update(zip(kept, kept[1:], kept[2:], strict=False))
    return lines, windows


def test_no_answer_text_is_in_the_exam_tree(tree):
    """No answer source or solution block is in the exam tree: no three of its lines in a row, and none of its
    distinctive lines (40 characters or more, not an import, not given to learners, not :data:`SHARED`)."""
    lines, windows = tree_text(tree)
    given = _given_to_learners()
    leaks = []
    for source, text in answer_texts().items():
        for window in zip(text, text[1:], text[2:], strict=False):
            if window in windows and not set(window) <= SHARED | given:
                leaks.append(f"{source}: {window[0]!r} and the next two lines, in {lines.get(window[0])}")
        for line in text:
            if (
                line in lines
                and len(line) >= 40
                and not line.startswith(("import ", "from "))
                and line not in given
                and line not in SHARED
            ):
                leaks.append(f"{source}: {line!r}, in {lines[line]}")
    assert not leaks, "\n".join(leaks)
    assert len(answer_texts()) > 200  # the search found the answers it looks for


def _is_key(value) -> bool:
    """A choice's right letter, or a picks or mapping question's key (a dict of labels)."""
    if isinstance(value, str):
        return len(value) <= 2
    return isinstance(value, dict) and bool(value) and all(isinstance(v, str) for v in value.values())


KEYED = [
    (lab[:5], name, q.answer_key)
    for lab in LABS
    for name, q in named_questions(lab[:5])
    if q.compare.__module__ == "hitlab.checks.choice" and _is_key(q.answer_key)
]


def test_no_answer_key_is_in_the_exam_tree(tree, tmp_path):
    """The keys of the choice, picks and mapping questions: the exam tree's questions cannot compute them (their
    reference is absent), no why-not table there leaves out an option (the one it leaves out would be the
    answer), and no key is written in its files."""
    assert {lab for lab, _name, _key in KEYED} >= {"lab00", "lab01", "lab04", "lab07", "lab08", "lab10"}
    report = run_in(
        tree,
        f"""
        import importlib, json
        from collections.abc import Mapping
        out = []
        for lab, name in {[(lab, name) for lab, name, _key in KEYED]!r}:
            q = getattr(importlib.import_module(f"hitlab.checks.{{lab}}"), name)
            try:
                got = q.expected()
            except RuntimeError as err:
                got = None
                assert "no reference" in str(err), err
            else:
                out.append(f"{{lab}}.{{name}}: expected() gives {{got!r}}")
            cells = dict(zip(q.compare.__code__.co_freevars, (c.cell_contents for c in q.compare.__closure__ or ())))
            why_not = cells.get("why_not")
            if isinstance(why_not, Mapping):  # a table in the release: it must explain every wrong option
                options = cells.get("options") or {{}}
                situations = cells.get("situations") or {{None: options}}
                for situation, opts in situations.items():
                    table = why_not if situation is None else why_not.get(situation, {{}})
                    if set(opts) - set(table):
                        out.append(f"{{lab}}.{{name}}: the why-not table of {{situation}} leaves out "
                                   f"{{sorted(set(opts) - set(table))}}")
        print(json.dumps(out))
        """,
        tmp_path,
    )
    assert json.loads(report) == []
    lines, _windows = tree_text(tree)
    text = "\n".join(lines)
    for lab, name, key in KEYED:
        if isinstance(key, dict):  # a key written out, in the order of the question or any other
            assert repr(key) not in text and json.dumps(key) not in text, f"{lab}.{name}"
            assert not any(line.startswith("{") and _is_key(_literal(line)) and _literal(line) == key
                           for line in lines), f"{lab}.{name}"  # fmt: skip


def _literal(line: str):
    import ast

    try:
        return ast.literal_eval(line.rstrip(","))
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None


# -- (c) what the learner's checks say ---------------------------------------------------------------------------

CHECK_SCRIPT = """
import contextlib, importlib, io, json, sys
from hitlab.checks.core import Incorrect
cases = json.load(open(sys.argv[1]))
out = []
for lab, name, kind, code in cases:
    q = getattr(importlib.import_module(f"hitlab.checks.{lab}"), name)
    namespace = {}
    exec(code.replace("### BEGIN SOLUTION\\n", "").replace("\\n### END SOLUTION", ""), namespace)
    printed, error = io.StringIO(), None
    with contextlib.redirect_stdout(printed):
        try:
            q.check(namespace[q.variable])
        except Incorrect as err:
            error = f"{type(err).__name__}: {err}"
    solution = io.StringIO()
    with contextlib.redirect_stdout(solution):
        q.solution()
    out.append([lab, name, kind, printed.getvalue(), error, solution.getvalue()])
print(json.dumps(out))
"""


def test_checks_say_form_checked_never_correct(tree, tmp_path):
    """Each question's worked answer and a known-wrong one, checked in the exam release: "Form checked" (or, for
    the wrong one, Incorrect from its form checks), never "Correct"; ``solution()`` says it is not available."""
    cases = []
    for lab in LABS:
        for name, q in named_questions(lab[:5]):
            cases.append((lab[:5], name, "right", q.solution_code))
            cases += [(lab[:5], name, "wrong", code) for code in q.wrong[:1]]
    (tmp_path / "cases.json").write_text(json.dumps(cases), encoding="utf-8")
    results = json.loads(run_in(tree, CHECK_SCRIPT.replace("sys.argv[1]", repr(str(tmp_path / "cases.json"))),
                                tmp_path))  # fmt: skip
    assert len(results) == len(cases)
    for lab, name, kind, printed, error, solution in results:
        where = f"{lab}.{name} ({kind} answer)"
        assert "Correct" not in printed, where
        assert "not available" in solution and "Solution:" not in solution, where
        if kind == "right":
            assert error is None and printed.startswith("Form checked:"), f"{where}: {error or printed}"
        else:
            assert (error is None and printed.startswith("Form checked:")) or error.startswith("Incorrect"), (
                where
            )


def test_hints_off_says_only_not_available(tmp_path):
    tree = tmp_path / "no-hints"
    exam_tree(tree, hints=False)
    printed = run_in(
        tree,
        f"""
        import importlib
        for lab in {[lab[:5] for lab in LABS]!r}:
            for q in importlib.import_module(f"hitlab.checks.{{lab}}").QUESTIONS:
                q.hint()
                q.hint(2)
        """,
        tmp_path,
    )
    said = printed.splitlines()
    assert said and all(line.endswith("hints are not available in this course.") for line in said)


# -- (d) the notebooks run in the exam release ---------------------------------------------------------------------


def _errors(notebook) -> list[tuple[str, str, str]]:
    """(cell id, kind of cell, error name) of every cell that raised."""
    found = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        grading = cell.metadata.get("nbgrader", {})
        kind = "answer" if grading.get("solution") else "test" if grading.get("grade") else "other"
        found += [(cell.get("id"), kind, o.ename) for o in cell.outputs if o.output_type == "error"]
    return found


async def _run(path: Path, folder: Path, tree: Path, practice: str):
    """Run notebook ``path`` (in a copy of its folder, ``folder``) top to bottom, errors and all, in a fresh kernel
    that imports hitlab from ``tree`` and reaches the practice servers at ``practice``."""
    shutil.copytree(path.parent, folder)
    notebook = nbformat.read(folder / path.name, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(folder)}},
    )
    await client.async_execute(env={**os.environ, "PYTHONPATH": str(tree), "HITLAB_PRACTICE": practice})
    return notebook


@pytest.mark.notebook
@pytest.mark.parametrize("lab", LABS)
def test_the_notebooks_run_in_the_exam_release(lab, tree, tmp_path, practice_url):
    """The released notebook runs top to bottom with errors only where the answers are not written (the answer
    cells' NotImplementedError, the test cells' NotAttempted); the solution runs with no error, its checks saying
    "Form checked". Both at once, each in its own kernel."""
    released = next((ROOT / "labs" / lab).glob("*.ipynb"))
    solution = ROOT / "solutions" / lab / released.name

    async def both():
        return await asyncio.gather(
            _run(released, tmp_path / "released" / lab, tree, practice_url),
            _run(solution, tmp_path / "solution" / lab, tree, practice_url),
        )

    released_run, solution_run = asyncio.run(both())
    errors = _errors(released_run)
    expected = {("answer", "NotImplementedError"), ("test", "NotAttempted")}  # answers not written yet
    assert errors, "the released notebook's exercises are not answered: their cells must fail"
    assert [e for e in errors if e[1:] not in expected] == []
    assert _errors(solution_run) == []
    said = "".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", ""))
                   for c in solution_run.cells if c.cell_type == "code" for o in c.outputs)  # fmt: skip
    assert "Form checked" in said and "Correct:" not in said
