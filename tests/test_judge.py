"""Graded cohorts whose scores the learner's code cannot change (``hitlab grade --exam``,
:mod:`hitlab.grading.judge`): the wire format that carries answers (data only: nothing decoded runs code),
the proxies that call a learner's functions and classes in the evaluator, the judge's robustness against a
hostile evaluator, every lab's solution at full marks through the judge, and the issue's four cheats and the
variants an attacker would try next, through ``hitlab grade --exam`` in the sandbox, each scoring what the
honest part of its submission earns."""

from __future__ import annotations

import copy
import datetime as dt
import json
import socket
import struct
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

import hitlab
from hitlab.checks.lab10.materials import Crash  # a harness's simulated crash: a BaseException
from hitlab.checks.limits import TimeLimit, time_limit
from hitlab.course.notebooks import answered, course_root, lab_names, solution_code
from hitlab.course.release import exam_tree
from hitlab.grading.judge import (
    course_tests,
    evaluator_command,
    judge_command,
    judge_submission,
    learner_cells,
)
from hitlab.grading.remote import Peer, PeerGone
from hitlab.grading.wire import MAX_MESSAGE, Codec, WireError, receive

ROOT = course_root()
LABS = lab_names(ROOT)


def _codec() -> Codec:
    objects: dict[int, object] = {}

    def export(obj):
        objects[len(objects) + 1] = obj
        return len(objects)

    return Codec(export, lambda ref: ("proxy", ref["$ref"], ref["kind"], ref["type"]), objects.__getitem__)


def _round_trip(value):
    codec = _codec()
    return codec.decode(json.loads(json.dumps(codec.encode(value), allow_nan=False)))


# -- the wire --------------------------------------------------------------------------------------------------


def test_values_cross_exactly():
    values = [
        None, True, 0, -(2**70), 1.5, float("nan"), float("-inf"), "text", b"\x00\xff", bytearray(b"ab"),
        (1, "a"), [1, [2, {3}]], {"k": {(1, 2): frozenset({"x"})}}, Decimal("12.30"), uuid.UUID(int=7),
        dt.date(2025, 2, 28), dt.time(23, 59, 1), dt.timedelta(days=-1, seconds=5),
        dt.datetime(2025, 3, 9, 6, 30, tzinfo=dt.timezone(dt.timedelta(hours=-4))), pd.Timestamp("2025-01-01 10:00"),
        pd.NaT, pd.NA, np.int64(5), np.float32(0.25), np.bool_(True), np.datetime64("2025-01-02T03:04:05"),
        np.arange(6).reshape(2, 3), np.array(["a", "bb"]), np.array([1.5, np.nan]),
    ]  # fmt: skip
    back = _round_trip(values)
    assert len(back) == len(values)
    for got, want in zip(back, values, strict=True):
        if want is pd.NA or want is pd.NaT:
            assert got is want
        elif isinstance(want, float) and want != want:
            assert got != got
        elif isinstance(want, np.ndarray):
            assert got.dtype == want.dtype and np.array_equal(got, want, equal_nan=want.dtype.kind == "f")
        else:
            assert got == want or (got is want), (got, want)
            assert type(got) is type(want) or isinstance(want, np.generic | pd.Timestamp), (
                type(got),
                type(want),
            )


def test_data_frames_cross_with_their_dtypes():
    frame = pd.DataFrame(
        {
            "id": pd.Series(["a", None, "c"], dtype="str"),
            "n": [1, 2, 3],
            "x": [0.5, np.nan, 2.0],
            "when": pd.to_datetime(["2025-01-01", None, "2025-03-01"]),
            "flag": [True, False, True],
            "nullable": pd.array([1, None, 3], dtype="Int64"),
            "kind": pd.Categorical(["x", "y", "x"]),
            "mixed": [{"a": 1}, [1, 2], None],
        },
        index=pd.Index(["r1", "r2", "r3"], name="row"),
    )
    pd.testing.assert_frame_equal(_round_trip(frame), frame)
    series = pd.Series([1.0, 2.5], name="s", index=pd.RangeIndex(5, 7))
    pd.testing.assert_series_equal(_round_trip(series), series)


def test_a_figure_crosses_as_what_it_shows():
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.add_subplot()
    ax.plot([2021, 2022], [100.0, 125.0], label="PMPM")
    ax.bar([1, 2], [3, 4])
    ax.set(title="PMPM by year", xlabel="Year", ylabel="PMPM ($)", ylim=(0, 200))
    back = _round_trip(fig)
    assert isinstance(back, Figure)
    (ax2,) = back.axes
    (line,) = ax2.get_lines()
    assert list(line.get_xdata()) == [2021, 2022] and list(line.get_ydata()) == [100.0, 125.0]
    assert [p.get_height() for p in ax2.patches] == [3.0, 4.0]
    assert (ax2.get_title(), ax2.get_xlabel(), ax2.get_ylabel(), ax2.get_ylim()) == (
        "PMPM by year", "Year", "PMPM ($)", (0.0, 200.0)
    )  # fmt: skip


def test_exceptions_keep_their_kind_and_never_import_what_they_name():
    class BadMessage(ValueError):
        pass

    back = _round_trip(BadMessage("MSH-9 is empty"))
    assert (
        isinstance(back, ValueError) and type(back).__name__ == "BadMessage" and str(back) == "MSH-9 is empty"
    )
    back = _round_trip(PermissionError("no scope"))
    assert type(back) is PermissionError
    hostile = {
        "$exception": {"mro": [["antigravity", "Fly"], ["os", "error"]], "message": "m", "traceback": ""}
    }
    assert "antigravity" not in sys.modules
    err = _codec().decode(hostile)
    assert type(err).__name__ == "Fly" and type(err).__bases__ == (Exception,)
    assert "antigravity" not in sys.modules


@pytest.mark.parametrize(
    ("message", "why"),
    [
        ({"$pickle": "gASV"}, "unknown value tag '\\$pickle'"),
        ({"$frame": [["a"], {"$range": [0, 1, 1, None]}, []]}, "column names and columns differ"),
        ({"$ndarray": ["V8", [1], []]}, "a dtype this side does not rebuild"),
        ({"$frame": [["a"], {"$range": [0, 1, 1, None]}, [["object", {"raw": "AAAA"}]]]}, "raw bytes"),
        ({"$bytes": "not base64!"}, "a malformed \\$bytes value"),
        ({"$float": "1e400"}, "not a float"),
        ({"$ref": "1"}, "a reference without an id"),
        ({}, "not a value"),
    ],
)
def test_malformed_values_are_refused_by_name(message, why):
    codec = Codec(lambda o: 1, lambda ref: Peer(socket.socketpair()[0])._proxy(ref), lambda k: None)
    with pytest.raises(WireError, match=why):
        codec.decode(message)


def test_nesting_and_size_are_bounded():
    deep: object = 1
    for _ in range(300):
        deep = {"$list": [deep]}
    with pytest.raises(WireError, match="nested too deeply"):
        _codec().decode(deep)
    a, b = socket.socketpair()
    with a, b:
        a.sendall(struct.pack(">I", MAX_MESSAGE + 1))
        with pytest.raises(WireError, match="more than the limit"):
            receive(b)
        a.sendall(struct.pack(">I", 5) + b"[1,2]")
        with pytest.raises(WireError, match="without an operation"):
            receive(b)


# -- a learner's objects through the evaluator ------------------------------------------------------------------

CELLS = [
    "import os, time\nx = 1",
    {"test": "first"},
    """
x = 2
class BadMessage(ValueError):
    pass

def helper(n):
    return n * 10

def scaled(n):          # uses a helper of an earlier cell
    return helper(n)

def refuse(text):
    raise BadMessage(f"no: {text}")

def append_row(rows, row):
    rows.append(row)
    if row == "refused":
        raise PermissionError("refused, but audited")
    return len(rows)

def forever():
    while True:
        pass

def die():
    os._exit(3)

def frame(n):
    import pandas as pd
    return pd.DataFrame({"n": range(n)})

class Consumer:
    def __init__(self, sink):
        self.sink = sink
        self.seen = []
    def handle(self, message):
        self.seen.append(message)
        self.sink.send("id-" + message, {"m": message})
        return len(self.seen)
""",
    {"test": "second"},
]


class Sink:
    def __init__(self):
        self.sent = {}

    def send(self, key, payload):
        if key == "id-boom":
            raise Crash("crashed while sending")
        self.sent[key] = payload


class Driver(Peer):
    """The judge's part in these tests: runs ``tests[name](self)`` when the evaluator reaches that test."""

    def __init__(self, sock, tests):
        super().__init__(sock, on_stopped=TimeLimit)
        self.tests, self.results, self.done = tests, {}, False

    def handle(self, op, message):
        if op == "test":
            name = message["grade_id"]
            try:
                self.results[name] = self.tests[name](self)
            except BaseException as err:
                self.results[name] = err
            return None
        if op == "done":
            self.done = True
            return None
        if op == "practice":  # the evaluator asks first where the practice servers are: none here
            return ""
        return super().handle(op, message)


def _evaluate(cells, tests, tree: Path):
    ours, theirs = socket.socketpair()
    with theirs:  # the evaluator's end: only the evaluator holds it open (its death is then seen here)
        process = subprocess.Popen(
            ["env", f"PYTHONPATH={tree}", *evaluator_command(), str(theirs.fileno()), "30"], stdin=subprocess.PIPE,
            pass_fds=[theirs.fileno()],
        )  # fmt: skip
    with ours:
        process.stdin.write(json.dumps(cells).encode())
        process.stdin.close()
        driver = Driver(ours, tests)
        try:
            while not driver.done:
                driver.serve(receive(ours))
        except (WireError, OSError):  # the evaluator died (the test that killed it says so)
            pass
        process.wait(timeout=60)
    return driver.results


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    folder = tmp_path_factory.mktemp("exam")
    exam_tree(folder)
    return folder


def test_tests_run_at_their_place_and_answers_are_called_in_the_evaluator(tree):
    def first(peer):
        return peer.request("get", name="x")

    def second(peer):
        import inspect

        out = {"x": peer.request("get", name="x"), "scaled": peer.request("get", name="scaled")(4)}
        refuse = peer.request("get", name="refuse")
        out["signature"] = list(inspect.signature(refuse).parameters)
        try:
            refuse("bad")
        except ValueError as err:
            out["refused"] = (type(err).__name__, str(err))
        rows = ["earlier"]
        append = peer.request("get", name="append_row")
        out["appended"] = append(rows, "new")
        try:
            append(rows, "refused")
        except PermissionError:
            out["refused_rows"] = list(rows)
        consumer_class = peer.request("get", name="Consumer")
        out["is_class"] = inspect.isclass(consumer_class)
        sink = Sink()
        consumer = consumer_class(sink)
        out["handled"] = [consumer.handle("a"), consumer.handle("b")]
        try:
            consumer.handle("boom")
        except Crash as crash:  # raised in the judge's sink, through the learner's code, back to the judge
            out["crash"] = str(crash)
        out["sent"] = dict(sink.sent)
        out["seen"] = consumer.seen
        frame = peer.request("get", name="frame")(3)
        out["frame"] = isinstance(frame, pd.DataFrame) and frame["n"].tolist()
        try:
            with time_limit(2):
                peer.request("get", name="forever")()
        except TimeLimit:
            out["stopped"] = True
        out["after_stop"] = peer.request("get", name="scaled")(1)  # the evaluator stopped itself, and goes on
        try:
            peer.request("get", name="die")()
        except PeerGone as gone:
            out["gone"] = str(gone)
        return out

    results = _evaluate(CELLS, {"first": first, "second": second}, tree)
    assert results["first"] == 1  # x as it was at the first test's place, not as a later cell left it
    got = results["second"]
    assert got["x"] == 2 and got["scaled"] == 40 and got["signature"] == ["text"]
    assert got["refused"] == ("BadMessage", "no: bad")
    assert got["appended"] == 2 and got["refused_rows"] == ["earlier", "new", "refused"]
    assert got["is_class"] and got["handled"] == [1, 2] and got["crash"] == "crashed while sending"
    assert got["sent"] == {"id-a": {"m": "a"}, "id-b": {"m": "b"}} and got["seen"] == ["a", "b", "boom"]
    assert got["frame"] == [0, 1, 2]
    assert got["stopped"] and got["after_stop"] == 10
    assert "the other side failed" in got["gone"]


def _nb(cells: list[str]):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    return nb


@pytest.mark.parametrize(
    ("evaluator", "problem"),
    [
        ("import os, sys; os.write(int(sys.argv[1]), b'\\x00\\x00\\x00\\x05hello')", "not a JSON message"),
        ("import os, sys; os.write(int(sys.argv[1]), b'\\xff\\xff\\xff\\xff')", "more than the limit"),
        ("import sys; sys.exit(0)", "closed the connection"),
    ],
)
def test_a_hostile_or_dead_evaluator_scores_zero_and_says_why(evaluator, problem):
    lab = "lab00_orientation"
    source = nbformat.read(ROOT / "solutions" / lab / f"{lab}.ipynb", as_version=4)
    judged = judge_submission(
        lab, _nb(["x = 1"]), source, evaluator=[sys.executable, "-c", evaluator], judge=judge_command(),
        wall_clock=60,
    )  # fmt: skip
    assert problem in judged.problem
    assert judged.verdicts and all(v.score == 0 for v in judged.verdicts.values())


def test_learner_cells_put_the_course_tests_in_their_place():
    lab = "lab02_sql_patient_data"
    source = nbformat.read(ROOT / "solutions" / lab / f"{lab}.ipynb", as_version=4)
    tests = [t.grade_id for t in course_tests(source)]
    learner = copy.deepcopy(nbformat.read(ROOT / "labs" / lab / f"{lab}.ipynb", as_version=4))
    first_test = next(c for c in learner.cells if c.metadata.get("nbgrader", {}).get("grade_id") == tests[0])
    first_test.source = "pass  # the learner emptied the test"
    learner.cells = [c for c in learner.cells if c.metadata.get("nbgrader", {}).get("grade_id") != tests[-1]]
    items = learner_cells(learner, tests)
    placed = [i["test"] for i in items if isinstance(i, dict)]
    assert placed == tests  # the lost last test comes at the end; the emptied one runs the course's code
    assert not any(isinstance(i, str) and "the learner emptied" in i for i in items)


# -- every lab's solution at full marks through the judge (the evaluator with the exam release) ----------------


@pytest.mark.slow
@pytest.mark.parametrize("lab", LABS)
def test_every_solution_scores_full_marks_through_the_judge(lab, tree, tmp_path):
    source = nbformat.read(ROOT / "solutions" / lab / f"{lab}.ipynb", as_version=4)
    judged = judge_submission(
        lab, source, source, evaluator=["env", f"PYTHONPATH={tree}", "MPLBACKEND=Agg", *evaluator_command()],
        judge=judge_command(), scratch=str(tmp_path), wall_clock=900,
    )  # fmt: skip
    assert not judged.problem and not judged.failures
    lost = {k: v.message for k, v in judged.verdicts.items() if v.score < v.points}
    assert not lost
    assert sum(v.points for v in judged.verdicts.values()) == sum(t.points for t in course_tests(source)) > 0


# -- the cheats, through hitlab grade --exam in the sandbox ---------------------------------------------------

LAB02 = "lab02_sql_patient_data"
Q1 = "lab02_age_at_encounter"


def _cheats() -> dict[str, dict[str, str]]:
    """Each cheat answers Q1 honestly and cheats elsewhere: answer cell -> source."""
    reference = Path(hitlab.__file__).resolve().parent / "checks" / "lab02" / "reference.py"
    return {
        "exec_solution": {"lab02_latest_hba1c": "exec(lab02.q3.solution_code)"},
        "answer_key": {
            "lab02_encounters_by_class_year": "rows = lab02.q2.answer_key\n"
            "encounters_by_class_year_sql = 'select * from (values ' + ', '.join(str(tuple(r)) for r in rows)"
            " + ') t(ENCOUNTERCLASS, year, encounters)'"
        },
        "patch_checks": {Q1: "from hitlab.checks.core import Question\nQuestion.check = lambda self, *a, **k: None\n"
                             "import hitlab.checks.core as core\ncore.compare_rows = lambda *a, **k: None"},
        "input_transformer": {Q1: "get_ipython().input_transformers_post.append(lambda lines: ['pass\\n'])"},
        "builtins_and_assertion": {Q1: "import builtins\nclass Never(Exception):\n    pass\n"
                                       "builtins.AssertionError = Never\nimport hitlab.checks.core as core\n"
                                       "core.Incorrect.__init__ = lambda self, *a, **k: None"},
        "sys_modules_and_names": {Q1: "import sys, types\nfake = types.ModuleType('hitlab.checks.lab02')\n"
                                      "class Q:\n    def check(self, *a, **k):\n        pass\n"
                                      "for i in range(1, 12):\n    setattr(fake, f'q{i}', Q())\n"
                                      "sys.modules['hitlab.checks.lab02'] = fake\nlab02 = fake\n"
                                      "q2 = q3 = q4 = q5 = q6 = q7 = q8 = q9 = q10 = q11 = Q()"},
        "grader_reference": {
            "lab02_encounters_by_class_year": f"ns = {{}}\nexec(open({str(reference)!r}).read(), ns)\n"
            "rows = ns['encounters_by_class_year']()\n"
            "encounters_by_class_year_sql = 'select * from (values ' + ', '.join(str(tuple(r)) for r in rows)"
            " + ') t(ENCOUNTERCLASS, year, encounters)'"
        },
    }  # fmt: skip


@pytest.mark.slow
def test_the_cheats_score_only_what_the_honest_part_earns(tmp_path):
    from hitlab.grading import grade

    released = nbformat.read(ROOT / "labs" / LAB02 / f"{LAB02}.ipynb", as_version=4)
    solution = nbformat.read(ROOT / "solutions" / LAB02 / f"{LAB02}.ipynb", as_version=4)
    honest = solution_code(
        next(c.source for c in solution.cells if c.metadata.get("nbgrader", {}).get("grade_id") == Q1)
    )
    subs = tmp_path / "submitted"

    def save(student, nb):
        path = subs / student / LAB02 / f"{LAB02}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)

    save("released", copy.deepcopy(released))
    save("honest", answered(released, {Q1: honest}))
    for student, answers in _cheats().items():
        answers = dict(answers)
        answers[Q1] = honest + "\n" + answers.get(Q1, "")
        save(student, answered(released, answers))
    out = tmp_path / "out"
    run = grade(subs, out, [LAB02], workers=2, exam=True)
    assert run.sandbox == "on" and run.exam
    scores = _scores(out)
    q1_points = 2.0
    assert scores["released"] == {} or sum(scores["released"].values()) == 0
    for student in ["honest", *_cheats()]:
        earned = {k: v for k, v in scores[student].items() if v}
        assert earned == {f"{Q1}_test": q1_points}, (student, earned)
    log = (out / "grading.log").read_text()
    assert "mode: exam" in log
    autograded = nbformat.read(out / "autograded" / "exec_solution" / LAB02 / f"{LAB02}.ipynb", as_version=4)
    outputs = {c.metadata.get("nbgrader", {}).get("grade_id"): c.get("outputs") for c in autograded.cells}
    assert outputs[f"{Q1}_test"][0]["text"] == "Graded: correct (2 points)\n"
    assert (
        outputs["lab02_latest_hba1c_test"][0]["ename"] == "Incorrect"
    )  # the judge's verdict, not the kernel's


def _scores(out: Path) -> dict[str, dict[str, float]]:
    from nbgrader.api import Gradebook

    from hitlab.grading.gradebook import item_scores

    with Gradebook(f"sqlite:///{out / 'gradebook.db'}", "hitlab") as gb:
        found = item_scores(gb, [LAB02])
    return {
        student: {name: score for name, (score, _max) in cells.items() if name.endswith("_test")}
        for student, cells in found.get(LAB02, {}).items()
    }


@pytest.mark.slow
def test_servers_and_shared_files_work_across_the_two_sandboxes(tmp_path):
    """Lab 03's check runs an MLLP listener and lab 07's a SMART server, a FHIR API and TLS servers, in the
    judge, which the learner's clients in the evaluator reach (the evaluator joins the judge's network, and no
    other); lab 10's harness has the learner's consumers write sqlite files in the judge's folder (shared by
    the two, and by nothing else). Their solutions get every auto-graded point in the sandbox."""
    from hitlab.grading import grade

    labs = ["lab03_hl7v2_messaging", "lab07_security_access", "lab10_system_design_interview"]
    for lab in labs:
        target = tmp_path / "submitted" / "s1" / lab / f"{lab}.ipynb"
        target.parent.mkdir(parents=True)
        nbformat.write(nbformat.read(ROOT / "solutions" / lab / f"{lab}.ipynb", as_version=4), target)
    run = grade(tmp_path / "submitted", tmp_path / "out", labs, workers=2, exam=True)
    assert run.sandbox == "on"
    from nbgrader.api import Gradebook

    from hitlab.grading.gradebook import item_scores

    with Gradebook(f"sqlite:///{tmp_path / 'out' / 'gradebook.db'}", "hitlab") as gb:
        found = item_scores(gb, labs)
    for lab in labs:
        source = nbformat.read(ROOT / "solutions" / lab / f"{lab}.ipynb", as_version=4)
        tests = {t.grade_id: t.points for t in course_tests(source)}
        got = {name: score for name, (score, _max) in found[lab]["s1"].items() if name in tests}
        assert got == tests, lab


def test_the_learner_commands_of_an_exam_release_say_what_they_cannot_do(tree, tmp_path):
    """In an exam release ``hitlab check``, ``check_my_work()`` and ``hitlab mock`` (which grade with the
    course's tests or draw from the worked answers) say so, without a traceback."""
    env = {"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin", "HITLAB_HOME": str(tmp_path)}
    notebook = ROOT / "labs" / LAB02 / f"{LAB02}.ipynb"
    python = [sys.executable, "-s", "-m", "hitlab.cli"]
    checked = subprocess.run(
        [*python, "check", str(notebook)], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert (
        checked.returncode == 2
        and "graded when you submit it" in checked.stderr
        and "Traceback" not in checked.stderr
    )
    mock = subprocess.run([*python, "mock", "tracks"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert mock.returncode == 2 and "mock interviews are for self-study" in mock.stderr
    code = f"from hitlab import check_my_work; check_my_work({str(notebook)!r})"
    said = subprocess.run(
        [sys.executable, "-s", "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert said.returncode == 0 and "graded when you submit it" in said.stdout
