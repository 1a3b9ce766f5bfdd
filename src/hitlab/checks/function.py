"""Exercises whose answer is a function with a documented signature (``make_ack(message, code) -> str``).

The check calls the learner's function on many cases (generated messages and resources, real files from
other projects) and compares each result with a reference implementation's, or expects the same kind of
exception where the reference refuses the input. Messages name the case and what differs, never the whole
expected value.

:func:`judge_call` judges one call of the learner's function against the reference's outcome (its result, or
the exception the learner must raise where it refused); every kind of function question uses it:
:func:`function_question` (fixed cases), :func:`calls_question` (fresh arguments for each call, what the
function writes into them checked too) and ``hitlab.checks.live.live_question`` (servers on loopback).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hitlab.checks.core import Incorrect, Question, describe, learner_error
from hitlab.checks.limits import TimeLimit, time_limit


@dataclass(frozen=True)
class Case:
    """One call: ``fn(*args, **kwargs)``; ``label`` names it in feedback (e.g. the fixture file)."""

    label: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)


def _short(value: Any, limit: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _call(fn: Callable, case: Case, limit: float | None = None) -> tuple[Any, BaseException | None]:
    """``fn``'s result on ``case``, or the exception it raised; with ``limit``, :class:`TimeLimit` after that
    many seconds (only the learner's function is limited, never the reference)."""
    try:
        if limit is None:
            return fn(*case.args, **case.kwargs), None
        with time_limit(limit):
            return fn(*case.args, **case.kwargs), None
    except Exception as err:
        return None, err


def _kind_differs(got: Any, expected: Any) -> bool:
    """A result of another kind than the reference's (``str`` for ``bytes``, a DataFrame for a dict);
    numbers of any type compare as numbers."""
    if expected is None or got is None:
        return expected is not got
    numbers = (int, float, complex)
    if isinstance(expected, numbers) and not isinstance(expected, bool):
        return not isinstance(got, numbers) or isinstance(got, bool)
    for kind in (str, bytes, dict, list | tuple, bool):
        if isinstance(expected, kind):
            return not isinstance(got, kind)
    return False


def exact(got: Any, expected: Any, case: Case, title: str) -> None:
    """The default comparison: equal values."""
    if got != expected:
        raise Incorrect(
            f"{title}: for {case.label}, your function returned {_short(got)}, which is not right."
        )


def exception_name(kind: type) -> str:
    """``PermissionError``, ``ValueError``, ``jwt.InvalidTokenError``."""
    module = kind.__module__.split(".", 1)[0]
    return kind.__name__ if module == "builtins" else f"{module}.{kind.__name__}"


def check_signature(fn: Any, name: str, parameters: Sequence[str], title: str) -> None:
    """``fn`` is a function whose first parameters are ``parameters`` (one whose signature Python cannot read,
    a builtin, passes)."""
    if not callable(fn):
        raise Incorrect(f"{title}: `{name}` should be a function, got {type(fn).__name__}.")
    try:
        got = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return
    if got[: len(parameters)] != list(parameters):
        raise Incorrect(f"{title}: define `{name}({', '.join(parameters)})`; yours takes ({', '.join(got)}).")


def signature(name: str, parameters: Sequence[str], title: str) -> Callable[[Any], None]:
    """A form check (see :class:`~hitlab.checks.core.Question`): the answer is a function ``name(*parameters)``."""
    return lambda fn: check_signature(fn, name, parameters, title)


def reference_outcome(
    reference: Callable, case: Case, refusals: Mapping[type, type], grade_id: str
) -> tuple[Any, type[BaseException] | None]:
    """What the reference does on ``case``: ``(result, None)``, or ``(None, the exception the learner must
    raise)`` where it raises a key of ``refusals``; any other error of the reference's is a bug of the check
    (``RuntimeError``), never the learner's."""
    value, err = _call(reference, case)
    if err is None:
        return value, None
    must_raise = next((v for k, v in refusals.items() if isinstance(err, k)), None)
    if must_raise is None:
        raise RuntimeError(f"{grade_id}: the reference failed on {case.label}: {err!r}") from err
    return None, must_raise


def _as_is(err: Incorrect) -> Incorrect:
    return err


def judge_call(
    fn: Callable, case: Case, must_raise: type[BaseException] | None, *, title: str, limit: float,
    slow_hint: str = "", explain: Callable[[Incorrect], Incorrect] = _as_is,
) -> Any:  # fmt: skip
    """Call the learner's ``fn`` on ``case`` (stopped after ``limit`` seconds) and judge it against the
    reference's outcome: where the reference refused, ``fn`` must raise ``must_raise`` (a subclass is fine);
    elsewhere it must return. Returns the learner's result for the caller to compare (None after a right
    refusal); raises :class:`Incorrect` otherwise. ``slow_hint`` ends the message of a call that did not
    finish (in parentheses); ``explain`` may add to the message of a learner's error (what a server saw)."""
    try:
        got, err = _call(fn, case, limit)
    except TimeLimit:
        hint = f" ({slow_hint})" if slow_hint else ""
        raise Incorrect(
            f"{title}: on {case.label}, your function did not finish within {limit:g} s; the check stopped "
            f"it{hint}."
        ) from None
    if must_raise is not None:
        refused = f"{title}: {case.label} should be refused with {exception_name(must_raise)}"
        if err is None:
            raise Incorrect(f"{refused}, but your function returned {_short(got)}.")
        if not isinstance(err, must_raise):
            raise explain(learner_error(err, f"{refused}; your function"))
        return None
    if err is not None:
        raise explain(learner_error(err, f"{title}: on {case.label}, your function"))
    return got


def function_question(
    *, grade_id: str, title: str, points: int, name: str, parameters: Sequence[str], reference: Callable,
    cases: Callable[[], Sequence[Case]], hints: Sequence[str], solution_code: str,
    compare: Callable[[Any, Any, Case, str], None] = exact, refuses: type[BaseException] = ValueError,
    wrong: Sequence[str] = (), alternatives: Sequence[str] = (),
    edge_cases: Sequence[Callable[[Any], None]] = (), call_limit: float = 20.0,
) -> Question:  # fmt: skip
    """The learner defines ``name(*parameters)``; the check runs it on every case of ``cases()``.

    Where ``reference`` raises ``refuses`` (a malformed message, an invalid resource), the learner's function
    must raise it too (a subclass is fine); elsewhere ``compare(got, expected, case, title)`` must pass.
    The answer key holds ``(case, the reference's result, whether the reference refused it)``.
    """

    def expected() -> list[tuple[Case, Any, bool]]:
        out = []
        for case in cases():
            value, must_raise = reference_outcome(reference, case, {refuses: refuses}, grade_id)
            out.append((case, value, must_raise is not None))
        return out

    def check(fn: Any, key: list[tuple[Case, Any, bool]]) -> None:
        check_signature(fn, name, parameters, title)
        for case, value, refused in key:
            got = judge_call(
                fn, case, refuses if refused else None, title=title, limit=call_limit,
                slow_hint="is it waiting for something that never comes, or looping?",
            )  # fmt: skip
            if refused:
                continue
            if _kind_differs(got, value):
                raise Incorrect(
                    f"{title}: on {case.label}, your function returned {describe(got)}; it should return "
                    f"{describe(value)}."
                )
            compare(got, value, case, title)

    return Question(
        grade_id=grade_id, title=title, points=points, variable=name, expected=expected, compare=check,
        hints=hints, solution_code=solution_code, wrong=wrong, alternatives=alternatives, edge_cases=edge_cases,
        form=(signature(name, parameters, title),),
    )  # fmt: skip


@dataclass(frozen=True)
class Call:
    """One call of the learner's function: ``make()`` builds fresh arguments for it (a new audit list, a
    newly signed token), so the learner's call and the reference's never share state."""

    label: str
    make: Callable[[], tuple]


def calls_question(
    *, grade_id: str, title: str, points: int, name: str, parameters: Sequence[str], reference: Callable,
    calls: Callable[[], Sequence[Call]], compare: Callable[..., None], refusals: Mapping[type, type],
    hints: Sequence[str], solution_code: str, wrong: Sequence[str] = (), alternatives: Sequence[str] = (),
    call_limit: float = 20.0,
) -> Question:  # fmt: skip
    """The learner defines ``name(*parameters)``; for each call the reference and the learner's function run
    on fresh copies of its arguments, so what the function writes into them (an audit log) is checked too.
    Where the reference raises a key of ``refusals``, the learner must raise the mapped exception (a subclass
    is fine; an invalid token is not a missing scope); elsewhere ``compare(got, expected, args, expected_args,
    label, title)`` must pass, ``args`` being what the learner's call received (and may have written into)."""

    def check(fn: Any, plan: Sequence[Call]) -> None:
        check_signature(fn, name, parameters, title)
        for call in plan:
            ref_args = call.make()
            expected, must_raise = reference_outcome(
                reference, Case(call.label, ref_args), refusals, grade_id
            )
            args = call.make()
            got = judge_call(fn, Case(call.label, args), must_raise, title=title, limit=call_limit)
            if must_raise is None:
                compare(got, expected, args, ref_args, call.label, title)

    return Question(
        grade_id=grade_id, title=title, points=points, variable=name, expected=lambda: list(calls()),
        compare=check, hints=hints, solution_code=solution_code, wrong=wrong, alternatives=alternatives,
        form=(signature(name, parameters, title),),
    )  # fmt: skip
