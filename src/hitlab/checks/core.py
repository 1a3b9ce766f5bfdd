"""Questions as data: each graded exercise knows its expected answer, its hints, a worked solution, the
edge cases a right answer must also get right, and the known-wrong answers that must lose its points.

In a lab notebook::

    from hitlab.checks import lab02
    q1 = lab02.q1
    q1.hint()            # graded hints: q1.hint(2) is the second
    q1.check()           # checks the answer variable of the exercise (``q1.check(answer)`` also works)
    q1.solution()        # the worked answer

``check`` has three outcomes: correct (a short green confirmation), incorrect (raises :class:`Incorrect`, an
``AssertionError``, so nbgrader's test cell fails) and not attempted (raises :class:`NotAttempted`, also an
``AssertionError``). Both exceptions show as their message alone in a notebook, without a traceback through
the checks (IPython's ``_render_traceback_``); where the learner's own code failed, the message ends with the
traceback of the learner's frames only.

"Correct" means correct: the check runs the question's edge cases (made-up data for the cases the real data
does not hold) as well, and every call into the learner's code has a time limit.
"""

from __future__ import annotations

import importlib
import json
import linecache
import math
import sys
import traceback
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache, cached_property
from html import escape
from pathlib import Path
from typing import Any

from hitlab.checks.limits import TimeLimit, time_limit

_RED, _YELLOW, _RESET = "\x1b[1;31m", "\x1b[1;33m", "\x1b[0m"


class Incorrect(AssertionError):
    """The answer is wrong; the message says where, without giving the answer away.

    ``detail`` (optional) is shown under the message: the learner's own traceback where their code failed.
    """

    label = "Incorrect"
    colour = _RED

    def __init__(self, message: str = "", detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail

    def _render_traceback_(self) -> list[str]:
        """What IPython shows instead of a traceback: the label and the message (and the learner's frames)."""
        lines = [f"{self.colour}{self.label}{_RESET}  {self}"]
        if self.detail:
            lines += ["", *self.detail.rstrip("\n").splitlines()]
        return lines


class NotAttempted(Incorrect):
    """The exercise still holds its placeholder, or its answer variable is not defined."""

    label = "Not attempted"
    colour = _YELLOW


PLACEHOLDERS = (None, Ellipsis, NotImplemented, "", "...")
_MISSING = object()
# Where the checks themselves live: frames from here are never the learner's.
_CHECKS = str(Path(__file__).resolve().parents[1])


def _attempted(answer: Any) -> bool:
    if isinstance(answer, str):
        return answer.strip() not in ("", "...")
    return not any(answer is p for p in PLACEHOLDERS)


def describe(value: Any) -> str:
    """A value's kind in words, for feedback: "a pandas DataFrame", "a str", "bytes", "None"."""
    if value is None:
        return "None"
    kind = type(value)
    module = kind.__module__.split(".", 1)[0]
    name = kind.__name__ if module in ("builtins", "") else f"{module} {kind.__name__}"
    if kind is bytes:
        return "bytes"
    return f"{'an' if name[0].lower() in 'aeiou' else 'a'} {name}"


def _learners_frames(tb) -> list[traceback.FrameSummary]:
    """The frames of traceback ``tb`` in the learner's code (notebook cells, their own files): not hitlab's,
    not Python's or an installed library's."""
    return [
        f
        for f in traceback.extract_tb(tb)
        if not f.filename.startswith((sys.prefix, sys.base_prefix))
        and not str(Path(f.filename).resolve()).startswith(_CHECKS)
    ]


def learner_traceback(err: BaseException) -> str:
    """The traceback of ``err`` cut to the learner's frames, or ""."""
    frames = _learners_frames(err.__traceback__)
    if not frames:
        return ""
    return "Traceback (your code):\n" + "".join(traceback.format_list(frames))


def learner_error(err: BaseException, what: str) -> Incorrect:
    """``err`` raised by the learner's code, as feedback: "<what> raised ZeroDivisionError: ..." with their frames."""
    return Incorrect(f"{what} raised {type(err).__name__}: {err}", learner_traceback(err))


def _as_feedback(what: str, run: Callable[[], Any]) -> Any:
    """``run()``, where the learner's code failing (anything but :class:`Incorrect`) becomes feedback."""
    try:
        return run()
    except Incorrect:
        raise
    except Exception as err:
        raise learner_error(err, what) from None


def _undefined(variable: str) -> str:
    """Why ``variable`` is not defined: the error of the learner's cell that should have set it, if the last
    error in this session came from such a cell, else the cell was not run."""
    err = getattr(sys, "last_value", None)
    if err is not None and not isinstance(err, Incorrect):
        if isinstance(err, SyntaxError):
            source = "".join(linecache.getlines(err.filename or "")) or (err.text or "")
            where = f" (line {err.lineno})" if err.lineno else ""
        else:  # the learner's frame: a cell, not IPython's or a library's
            mine = _learners_frames(getattr(sys, "last_traceback", None))
            source = "".join(linecache.getlines(mine[0].filename)) if mine else ""
            where = f" (line {mine[0].lineno})" if mine and mine[0].lineno else ""
        if variable in source:
            return (
                f"`{variable}` is not defined: the cell that sets it stopped with "
                f"{type(err).__name__}{where}: {err.msg if isinstance(err, SyntaxError) else err}. "
                "Fix it and run it again."
            )
    if isinstance(err, NotImplementedError):  # the answer cell as released
        return (
            f"not attempted yet: replace `raise NotImplementedError()` in the answer cell with your answer "
            f"(it sets `{variable}`), run it, then this one."
        )
    return f"`{variable}` is not defined: run the cell that sets it (Shift-Enter), then this one."


def _announce(text: str, html: str) -> None:
    """Print ``text``; in a notebook, show ``html`` instead."""
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    if shell is None or not hasattr(shell, "kernel"):
        print(text)
        return
    from IPython.display import display

    display({"text/plain": text, "text/html": html}, raw=True)


def say_correct(title: str) -> None:
    """Print the confirmation; in a notebook, a green one."""
    html = (
        '<div style="color:#1a7f37;font-weight:600">\u2714 Correct'
        f'<span style="font-weight:400;color:inherit">: {escape(title)}</span></div>'
    )
    _announce(f"Correct: {title}", html)


NOT_RELEASED = "The worked answer is not part of this release."
RELEASE_FILE = "release.json"  # in the hitlab package of an exam release (``hitlab course release --exam``)
SELF_STUDY = {"mode": "self-study", "hints": True}


@cache
def release() -> dict:
    """What this install of hitlab is: ``{"mode": "self-study", ...}`` (a checkout, ``make lab``, Binder), or
    the learner's install of a graded course, ``{"mode": "exam", "course": ..., "hints": bool}``, written by
    ``hitlab course release --exam`` as ``release.json`` in the package. An exam release holds no worked
    answers, answer keys or reference implementations: its checks say what they can without them."""
    path = Path(__file__).resolve().parents[1] / RELEASE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return dict(SELF_STUDY)
    except (OSError, ValueError) as err:
        raise RuntimeError(f"{path}: not a readable hitlab release description ({err})") from None
    return {**SELF_STUDY, **data}


def exam_release() -> bool:
    """Whether this is a graded course's exam release (no answers; full grading happens at submission)."""
    return release()["mode"] == "exam"


def say_form_ok(title: str, checked: bool = True) -> None:
    """Print what an exam release's check can say: the answer's form is right (``checked``: there was a form
    to check), and it is graded at submission."""
    text = (
        f"Form checked: {title}. It runs and has the names and types asked for; in this course it is graded "
        "when you submit."
        if checked
        else f"Answer recorded: {title}. In this course it is checked when you submit."
    )
    label, rest = text.split(": ", 1)
    html = (
        f'<div style="color:#0b5cad;font-weight:600">\u2713 {label}'
        f'<span style="font-weight:400;color:inherit">: {escape(rest)}</span></div>'
    )
    _announce(text, html)


def reference_of(package: str):
    """The ``reference`` module of a lab's checks package; an exam release leaves it out (the grader's install
    has it), and then a check that needs it says so."""
    try:
        return importlib.import_module(f"{package}.reference")
    except ImportError:  # pragma: no cover - exercised by each lab's exam-release test
        raise RuntimeError("this release has no reference answers: `hitlab grade` checks this lab") from None


class AnswerKey:
    """A lab's answer sources: the ``answers`` module of its checks package, which an exam release leaves out
    (then every solution reads :data:`NOT_RELEASED` and there are no alternatives or known-wrong answers)."""

    def __init__(self, package: str) -> None:
        try:
            self.module = importlib.import_module(f"{package}.answers")
        except ImportError:  # pragma: no cover - exercised by each lab's exam-release test
            self.module = None

    def source(self, name: str) -> str:
        """The answer source called ``name``, or :data:`NOT_RELEASED`."""
        return getattr(self.module, name) if self.module is not None else NOT_RELEASED

    def sources(self, *names: str) -> tuple[str, ...]:
        """The sources called ``names`` (a name may hold one source or a sequence of them); none if unreleased."""
        if self.module is None:
            return ()
        values = [getattr(self.module, n) for n in names]
        return tuple(s for v in values for s in ((v,) if isinstance(v, str) else v))


@dataclass(eq=False)
class Question:
    """One graded exercise of a lab.

    ``grade_id`` names the answer cell in the notebook (``labNN_<what>``); its test cell is
    ``<grade_id>_test``. ``expected`` computes the reference answer (an independent implementation, run on the
    data); ``compare(answer, expected)`` raises :class:`Incorrect` when they differ. ``edge_cases`` are further
    checks of the raw answer (made-up data the real data lacks), run after the comparison; their messages
    describe a failing case by what it is, never by made-up ids. ``solution_code`` is the source of a correct
    answer cell; ``wrong`` holds sources of known-wrong answer cells, each of which must lose exactly this
    question's points; ``alternatives`` holds other correct answer cells. The whole check runs under
    ``time_limit`` seconds. ``form`` holds the checks that need no answer (the query runs and returns the
    columns asked for, the function's signature, a pick is one of the letters): all an exam release's
    ``check`` runs.
    """

    grade_id: str
    title: str
    points: int
    variable: str
    expected: Callable[[], Any]
    compare: Callable[[Any, Any], None]
    hints: Sequence[str]
    solution_code: str
    wrong: Sequence[str] = ()
    alternatives: Sequence[str] = ()
    prepare: Callable[[Any], Any] = field(default=lambda answer: answer)
    edge_cases: Sequence[Callable[[Any], None]] = ()
    form: Sequence[Callable[[Any], None]] = ()
    time_limit: float = 60.0  # under nbgrader's 120 s per cell, so the learner reads why
    # the answer key is data computed from the datasets alone (rows, values), tied to no server, file or other
    # state of the process that computed it: a grader may compute it once for every kernel
    # (hitlab.grading.answer_keys). Off unless a question's kind is known to compute such keys.
    key_from_data: bool = False

    @cached_property
    def answer_key(self) -> Any:
        return self.expected()

    def check(self, answer: Any = _MISSING) -> None:
        """Check ``answer`` (default: the exercise's variable in the caller's namespace, the notebook).

        Raises :class:`Incorrect` or :class:`NotAttempted` (both ``AssertionError``); prints "Correct" if right.
        """
        if answer is _MISSING:
            namespace = sys._getframe(1).f_globals
            if self.variable not in namespace:
                raise NotAttempted(f"{self.title}: {_undefined(self.variable)}")
            answer = namespace[self.variable]
        if not _attempted(answer):
            raise NotAttempted(f"{self.title}: not attempted yet (set `{self.variable}` in the cell above).")
        if exam_release():
            self._check_form(answer)
            return
        key = self.answer_key  # outside the time limit: the reference's time is not the learner's
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a library warning must never reach stderr and fail a test cell
            try:
                with time_limit(self.time_limit):
                    value = _as_feedback(f"{self.title}: running your answer", lambda: self.prepare(answer))
                    self.compare(value, key)
                    for case in self.edge_cases:
                        _as_feedback(f"{self.title}: on an edge case, your answer", lambda c=case: c(answer))
            except TimeLimit as err:
                raise Incorrect(
                    f"{self.title}: the check stopped your answer after {err.seconds:g} s; it may be waiting "
                    "for something that never comes, or looping."
                ) from None
        say_correct(self.title)

    def _check_form(self, answer: Any) -> None:
        """An exam release's check: only what needs no answer (``form``); the grade comes at submission."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                with time_limit(self.time_limit):
                    for form in self.form:
                        _as_feedback(f"{self.title}: running your answer", lambda f=form: f(answer))
            except TimeLimit as err:
                raise Incorrect(
                    f"{self.title}: the check stopped your answer after {err.seconds:g} s."
                ) from None
        say_form_ok(self.title, checked=bool(self.form))

    def hint(self, n: int = 1) -> None:
        """Print hint ``n`` (1 is the gentlest)."""
        if not release()["hints"]:
            print(f"{self.title}: hints are not available in this course.")
            return
        if not 1 <= n <= len(self.hints):
            count = f"hints 1 to {len(self.hints)}" if len(self.hints) > 1 else "one hint, hint(1)"
            print(f"{self.title} has {count}.")
            return
        print(f"Hint {n}/{len(self.hints)}: {self.hints[n - 1]}")

    def solution(self) -> None:
        """Print the worked solution."""
        if exam_release():
            print(f"{self.title}: worked answers are not available in this course (a graded release).")
            return
        print(f"Solution: {self.title}\n\n{self.solution_code}")


# -- comparisons ------------------------------------------------------------------------------------------


def _close(a: Any, b: Any, rel: float = 1e-6, abs_: float = 1e-6) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
            return True
        return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)
    return a == b


def _normal(row: Iterable[Any]) -> tuple:
    out = []
    for v in row:
        if hasattr(v, "item") and not isinstance(v, str | bytes):
            v = v.item()  # numpy scalars
        if isinstance(v, Decimal):
            v = float(v)  # DECIMAL results (e.g. round(x, 2) in DuckDB) compare as numbers
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        out.append(v)
    return tuple(out)


def _row_matches(g: tuple, e: tuple, rel: float) -> bool:
    return all(_close(gv, ev, rel=rel) for gv, ev in zip(g, e, strict=True))


def compare_rows(
    got: Sequence[Sequence[Any]],
    expected: Sequence[Sequence[Any]],
    *,
    columns: Sequence[str],
    ordered: bool = False,
    title: str = "your result",
    rel: float = 1e-6,
    key_columns: int = 1,
    name_rows: bool = True,
) -> None:
    """Compare two row sets (order-insensitive unless ``ordered``), numbers with a relative tolerance.

    Raises :class:`Incorrect` naming the first difference without revealing expected values: the number of
    columns or rows, an unexpected or missing row (by its first column, the key), or the column whose value
    differs in a row. The first ``key_columns`` columns identify a row (e.g. encounter and diagnosis);
    ``name_rows=False`` (made-up data, whose ids mean nothing to the learner) leaves them out.
    """
    got_rows = [_normal(r) for r in got]
    exp_rows = [_normal(r) for r in expected]
    width = len(columns)
    for r in got_rows[:1]:
        if len(r) != width:
            raise Incorrect(f"{title}: expected {width} columns ({', '.join(columns)}), got {len(r)}.")
    if ordered:
        if len(got_rows) != len(exp_rows):
            raise Incorrect(f"{title}: expected {len(exp_rows)} rows, got {len(got_rows)}.")
        for i, (g, e) in enumerate(zip(got_rows, exp_rows, strict=True)):
            for c in range(width):
                if not _close(g[c], e[c], rel=rel):
                    raise Incorrect(
                        f"{title}: row {i + 1}, column {columns[c]} is {g[c]!r}, which is not right."
                    )
        return
    if len(exp_rows) == 1 and len(got_rows) == 1:  # a single-row answer (a measure, a rate): name the column
        for c in range(width):
            if not _close(got_rows[0][c], exp_rows[0][c], rel=rel):
                raise Incorrect(f"{title}: column {columns[c]} is {got_rows[0][c]!r}, which is not right.")
        return
    k = max(1, min(key_columns, width))

    def show(row: tuple) -> str:
        return ", ".join(f"{columns[i]} = {row[i]!r}" for i in range(k))

    def unexpected(row: tuple) -> str:
        if name_rows:
            return f"{title}: the row with {show(row)} should not be there (or appears too often)."
        return f"{title}: your result has a row that should not be there (or a row appears too often)."

    remaining: dict[Any, list[tuple]] = {}
    for e in exp_rows:
        remaining.setdefault(e[:k], []).append(e)
    for g in got_rows:
        candidates = remaining.get(g[:k])
        if not candidates:
            raise Incorrect(unexpected(g))
        match = next((e for e in candidates if _row_matches(g, e, rel)), None)
        if match is None:
            e = candidates[0]
            c = next(c for c in range(width) if not _close(g[c], e[c], rel=rel))
            where = f"for {show(g)}" if name_rows else "in a row of your result"
            raise Incorrect(f"{title}: {where}, column {columns[c]} is {g[c]!r}, which is not right.")
        candidates.remove(match)
    missing = [row for rows in remaining.values() for row in rows]
    if missing:
        # only the count: naming a missing row would give the answer away
        raise Incorrect(f"{title}: {len(missing)} expected rows are missing.")


def compare_value(got: Any, expected: Any, *, title: str, rel: float = 1e-6) -> None:
    if not _close(got, expected, rel=rel):
        raise Incorrect(f"{title}: {got!r} is not right.")


def defined(namespace: dict, *names: str) -> bool:
    """Whether every one of ``names`` is defined in ``namespace`` (a notebook passes ``globals()``). A
    demonstration cell that uses the learner's functions runs only when this is true; otherwise it says what to
    define first, so the notebook runs top to bottom before the exercises are answered."""
    missing = [name for name in names if name not in namespace]
    if missing:
        print(f"Define {', '.join(f'`{name}`' for name in missing)} above first, then run this cell again.")
    return not missing
