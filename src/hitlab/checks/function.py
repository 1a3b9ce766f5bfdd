"""Exercises whose answer is a function with a documented signature (``make_ack(message, code) -> str``).

The check calls the learner's function on many cases (generated messages and resources, real files from
other projects) and compares each result with a reference implementation's, or expects the same kind of
exception where the reference refuses the input. Messages name the case and what differs, never the whole
expected value.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
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
    """

    def expected() -> list[tuple[Case, Any, bool]]:
        out = []
        for case in cases():
            value, err = _call(reference, case)
            if err is not None and not isinstance(err, refuses):
                raise RuntimeError(f"{grade_id}: the reference failed on {case.label}: {err!r}") from err
            out.append((case, value, err is not None))
        return out

    def check(fn: Any, key: list[tuple[Case, Any, bool]]) -> None:
        if not callable(fn):
            raise Incorrect(f"{title}: `{name}` should be a function, got {type(fn).__name__}.")
        try:
            got_params = list(inspect.signature(fn).parameters)
        except (TypeError, ValueError):
            got_params = list(parameters)
        if got_params[: len(parameters)] != list(parameters):
            raise Incorrect(
                f"{title}: define `{name}({', '.join(parameters)})`; yours takes ({', '.join(got_params)})."
            )
        for case, value, refused in key:
            try:
                got, err = _call(fn, case, call_limit)
            except TimeLimit:
                raise Incorrect(
                    f"{title}: on {case.label}, your function did not finish within {call_limit:g} s; the check "
                    "stopped it (is it waiting for something that never comes, or looping?)."
                ) from None
            if refused:
                if err is None:
                    raise Incorrect(
                        f"{title}: {case.label} should be refused with {refuses.__name__}, but your function "
                        f"returned {_short(got)}."
                    )
                if not isinstance(err, refuses):
                    raise learner_error(
                        err, f"{title}: {case.label} should be refused with {refuses.__name__}; your function"
                    )
                continue
            if err is not None:
                raise learner_error(err, f"{title}: on {case.label}, your function")
            if _kind_differs(got, value):
                raise Incorrect(
                    f"{title}: on {case.label}, your function returned {describe(got)}; it should return "
                    f"{describe(value)}."
                )
            compare(got, value, case, title)

    return Question(
        grade_id=grade_id, title=title, points=points, variable=name, expected=expected, compare=check,
        hints=hints, solution_code=solution_code, wrong=wrong, alternatives=alternatives, edge_cases=edge_cases,
    )  # fmt: skip
