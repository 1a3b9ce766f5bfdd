"""Grades that the learner's code cannot change: in a graded cohort (``hitlab grade --exam``), every
auto-graded item's score comes from the judge, never from the learner's kernel.

nbgrader runs a submission and scores each test cell by whether it raised; but the test cells run in the
learner's kernel, after the learner's code, which can replace the checks, ``AssertionError``, builtins or
``sys.modules``, or rewrite every later cell with an IPython input transformer. So after nbgrader's run
(kept for the notebook the instructor and learner read), two sandboxed processes grade the submission again:

- the **evaluator** (:mod:`hitlab.grading.evaluator`) runs the submission's own cells afresh, from the exam
  release's hitlab: no worked answers, answer keys, reference implementations or hidden cases exist there,
  so ``exec(q3.solution_code)`` or ``q3.answer_key`` gives the learner nothing;
- the **judge** (this module, ``python -m hitlab.grading.judge FD``) holds the genuine checks, from the
  grader's install, and runs no learner code at all. It runs each test cell of the course's source notebook
  (hidden tests included) with the lab's checks and the learner's answers, fetched from the evaluator: data
  (a query's text, a number, a dict, a DataFrame) by value, as JSON that cannot run code when decoded
  (:mod:`hitlab.grading.wire`); a function, a class or an object as a proxy whose every call runs in the
  evaluator and returns data (:mod:`hitlab.grading.remote`). A test cell scores its points if it raises
  nothing, as in nbgrader.

Whatever the learner's code does to its own process, it can only change what its answers return, which is
what is being graded. The judge writes the scores and the checks' messages as JSON on its standard output;
:func:`judge_submission` starts the pair and :mod:`hitlab.grading.worker` puts the scores in the gradebook.
"""

from __future__ import annotations

import builtins
import contextlib
import importlib
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hitlab.grading.remote import Peer, PeerGone
from hitlab.grading.wire import WireError, receive

HIDDEN_NAMES = {"__builtins__", "__name__", "__doc__", "__loader__", "__spec__", "__package__", "__file__"}


@dataclass
class CourseTest:
    grade_id: str
    source: str
    points: float


@dataclass
class Verdict:
    score: float
    points: float
    message: str = ""


@dataclass
class Judgement:
    verdicts: dict[str, Verdict] = field(default_factory=dict)  # test grade_id -> verdict
    failures: list[str] = field(default_factory=list)  # the evaluator's failing cells
    problem: str = ""  # why the judge could not grade (then every item scores zero)


# -- the judge's process ----------------------------------------------------------------------------------


def _namespace(lab: str) -> dict:
    """What a test cell sees besides the learner's answers: the lab's checks, as its set-up cells import them."""
    prefix = lab.split("_", 1)[0]
    module = importlib.import_module(f"hitlab.checks.{prefix}")
    names = {k: v for k, v in vars(module).items() if not k.startswith("_")}
    return {"__name__": "__main__", "__builtins__": builtins, **names, prefix: module}


def _names(source: str) -> list[str]:
    """The global names a test cell reads."""
    code = compile(source, "<test>", "exec")
    found: list[str] = []

    def walk(c) -> None:
        for name in c.co_names:
            if name not in found:
                found.append(name)
        for const in c.co_consts:
            if hasattr(const, "co_names"):
                walk(const)

    walk(code)
    return found


def _message(err: BaseException) -> str:
    from hitlab.checks.core import Incorrect

    if isinstance(err, Incorrect):
        return str(err)
    return f"{type(err).__name__}: {err}"[:2000]


class Judge(Peer):
    """The judge's side of the socket: runs a test when the evaluator reaches its place."""

    def __init__(
        self, sock: socket.socket, lab: str, tests: list[CourseTest], variables: list[str], limit: float
    ):
        from hitlab.checks.limits import TimeLimit

        super().__init__(sock, on_stopped=TimeLimit)
        self.tests = {t.grade_id: t for t in tests}
        self.variables, self.limit = variables, limit
        self.namespace = _namespace(lab)
        self.trusted = dict(self.namespace)  # the checks' names: never replaced by a learner's
        self.verdicts: dict[str, Verdict] = {}
        self.failures: list[str] = []
        self.done = False
        self.practice = None  # a PracticeService, once the evaluator asks for it

    def handle(self, op: str, message: dict) -> Any:
        if op == "test":
            test = self.tests.get(str(message.get("grade_id")))
            if test is not None and test.grade_id not in self.verdicts:  # each test runs once, at its place
                self.verdicts[test.grade_id] = self.run(test)
            return None
        if op == "done":
            self.failures = [str(f) for f in message.get("failures", [])][:50]
            self.done = True
            return None
        if op == "practice":  # the practice servers a learner's cells use, as in their own session
            return self._practice_url()
        return super().handle(op, message)

    def _practice_url(self) -> str:
        """The URL of this judge's practice service (its index opens now, its servers at the first request)."""
        if self.practice is None:
            from hitlab.practice.service import PracticeService

            self.practice = PracticeService(lazy=True).start()
        return self.practice.url

    def close(self) -> None:
        if self.practice is not None:
            self.practice.stop()

    def _answers(self, test: CourseTest) -> None:
        """The learner's values of the names the test reads and of every question's variable, as they are now."""
        for name in dict.fromkeys([*self.variables, *_names(test.source)]):
            if name not in self.variables and (
                name in self.trusted or name in HIDDEN_NAMES or hasattr(builtins, name)
            ):
                continue  # the checks' own names; a question's variable is always the learner's
            self.namespace.pop(name, None)
            try:
                self.namespace[name] = self.request("get", name=name)
            except PeerGone:
                raise
            except Exception:  # not defined (NameError), or it could not be read: the check says so
                pass

    def run(self, test: CourseTest) -> Verdict:
        """Run ``test`` with the lab's checks and the learner's answers: its points if it raises nothing."""
        from hitlab.checks.limits import TimeLimit, time_limit

        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out), time_limit(self.limit):
                self._answers(test)
                exec(compile(test.source, f"<{test.grade_id}>", "exec"), self.namespace)
        except TimeLimit as err:
            return Verdict(0, test.points, f"the test stopped after {err.seconds:g} s")
        except PeerGone as err:
            return Verdict(0, test.points, f"the notebook's answers could not be read: {err}")
        except BaseException as err:
            return Verdict(0, test.points, _message(err))
        return Verdict(test.points, test.points)

    def result(self) -> dict:
        verdicts = dict(self.verdicts)
        for gid, test in self.tests.items():
            if gid not in verdicts:
                verdicts[gid] = Verdict(
                    0, test.points, "this test did not run: the notebook stopped before it"
                )
        return {
            "verdicts": {k: vars(v) for k, v in verdicts.items()},
            "failures": self.failures,
            "problem": "",
        }


def main(argv: list[str]) -> None:
    job = json.loads(sys.stdin.read())
    if scratch := os.environ.get("HITLAB_JUDGE_SCRATCH"):  # shared with the evaluator (a check's files)
        tempfile.tempdir = scratch
    stdout = os.fdopen(os.dup(1), "w")
    sock = socket.socket(fileno=int(argv[0]))
    tests = [CourseTest(**t) for t in job["tests"]]
    judge = Judge(sock, job["lab"], tests, job["variables"], float(job["cell_timeout"]))
    problem = ""
    try:
        while not judge.done:
            judge.serve(receive(sock))
    except (WireError, OSError) as err:
        problem = f"the notebook's run ended early: {err}"
    finally:
        judge.close()
    result = judge.result()
    if problem and not judge.verdicts:
        result["problem"] = problem
    stdout.write(json.dumps(result))
    stdout.flush()


# -- the grader's side -------------------------------------------------------------------------------------


def learner_cells(nb, tests: list[str]) -> list:
    """What the evaluator runs: the submission's code cells in order, but at each test cell's place (the
    course's ``tests``, by grade id) ``{"test": grade_id}``, for the judge to run the course's own test there;
    a submission's copy of a test, even edited, is never run. Tests the submission lost come at the end."""
    items: list = []
    placed = set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        meta = cell.get("metadata", {}).get("nbgrader", {})
        gid = meta.get("grade_id")
        if gid in tests and gid not in placed:
            items.append({"test": gid})
            placed.add(gid)
        elif not (meta.get("grade") and not meta.get("solution")):
            items.append(cell.source)
    return items + [{"test": gid} for gid in tests if gid not in placed]


def course_tests(source_nb) -> list[CourseTest]:
    """The auto-graded test cells of the course's source notebook, hidden tests included."""
    from hitlab.course.notebooks import graded_cells

    return [
        CourseTest(c.grade_id, c.source, c.points)
        for c in graded_cells(source_nb)
        if c.kind == "test" and c.cell_type == "code"
    ]


def judge_submission(
    lab: str,
    learner_nb,
    source_nb,
    *,
    evaluator: list[str] | Callable[[int | None], list[str]],
    judge: list[str],
    scratch: str | None = None,
    records: str | None = None,
    cell_timeout: float = 120,
    wall_clock: float = 1800,
) -> Judgement:
    """Grade ``learner_nb`` with the genuine checks: ``judge`` and ``evaluator`` are the commands that start
    the two processes (a sandbox's launcher followed by ``python -m hitlab.grading.judge`` or ``...evaluator``),
    each given its end of a socket pair as the last argument. ``evaluator`` may be a function of the host pid
    of the judge's sandbox (found in the sandbox ``records``), whose network it then shares: a check's server
    in the judge and the learner's client in the evaluator meet on one loopback."""
    from hitlab.checks import questions
    from hitlab.grading.sandbox import first_process

    tests = course_tests(source_nb)
    job = {
        "lab": lab,
        "tests": [vars(t) for t in tests],
        "variables": [q.variable for q in questions(lab)],
        "cell_timeout": cell_timeout,
    }
    cells = learner_cells(learner_nb, [t.grade_id for t in tests])
    ours, theirs = socket.socketpair()
    with ours, theirs:
        judged = subprocess.Popen(
            [*judge, str(ours.fileno())], stdin=subprocess.PIPE, stdout=subprocess.PIPE, pass_fds=[ours.fileno()],
            cwd=scratch,
        )  # fmt: skip
        if callable(evaluator):
            evaluator = evaluator(first_process(records, judged.pid) if records else None)
        evaluated = subprocess.Popen(
            [*evaluator, str(theirs.fileno()), str(cell_timeout)], stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, pass_fds=[theirs.fileno()], cwd=scratch,
        )  # fmt: skip
    try:
        with contextlib.suppress(BrokenPipeError):
            evaluated.stdin.write(json.dumps(cells).encode())
            evaluated.stdin.close()
        out, _ = judged.communicate(json.dumps(job).encode(), timeout=wall_clock)
    except subprocess.TimeoutExpired:
        judged.kill()
        judged.communicate()
        return _zero(tests, f"grading took longer than {wall_clock:g} s")
    finally:
        evaluated.kill()
        evaluated.wait()
    try:
        result = json.loads(out)
        verdicts = {k: Verdict(**v) for k, v in result["verdicts"].items()}
    except (ValueError, KeyError, TypeError) as err:
        return _zero(tests, f"the judge failed ({err}; exit {judged.returncode})")
    if result.get("problem"):
        return _zero(tests, result["problem"], result.get("failures", []))
    return Judgement(verdicts, list(result.get("failures", [])))


def _zero(tests: list[CourseTest], problem: str, failures: list | None = None) -> Judgement:
    return Judgement(
        {t.grade_id: Verdict(0, t.points, problem) for t in tests}, list(failures or []), problem
    )


def evaluator_command(python: str = sys.executable) -> list[str]:
    return [python, "-s", "-m", "hitlab.grading.evaluator"]


def judge_command(python: str = sys.executable) -> list[str]:
    return [python, "-s", "-m", "hitlab.grading.judge"]


def exam_path(tree: str | Path) -> dict[str, str]:
    """The environment that makes a process import hitlab from the exam release in ``tree``."""
    return {"PYTHONPATH": str(tree)}


def show_verdicts(autograded, judgement: Judgement) -> None:
    """Make the autograded notebook's test cells say what the judge found (their outputs came from the
    learner's kernel, where the exam release's checks only look at an answer's form)."""
    from nbformat.v4 import new_output

    for cell in autograded.cells:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        verdict = judgement.verdicts.get(gid)
        if cell.cell_type != "code" or verdict is None:
            continue
        if verdict.score >= verdict.points:
            cell.outputs = [
                new_output("stream", name="stdout", text=f"Graded: correct ({verdict.points:g} points)\n")
            ]
        else:
            cell.outputs = [
                new_output(
                    "error",
                    ename="Incorrect",
                    evalue=verdict.message,
                    traceback=[f"Incorrect: {verdict.message}"],
                )
            ]


if __name__ == "__main__":
    main(sys.argv[1:])
