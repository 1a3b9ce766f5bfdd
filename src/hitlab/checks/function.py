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

from hitlab.checks.core import Incorrect, Question


@dataclass(frozen=True)
class Case:
    """One call: ``fn(*args, **kwargs)``; ``label`` names it in feedback (e.g. the fixture file)."""

    label: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)


def _short(value: Any, limit: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _call(fn: Callable, case: Case) -> tuple[Any, BaseException | None]:
    try:
        return fn(*case.args, **case.kwargs), None
    except Exception as err:
        return None, err


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
            got, err = _call(fn, case)
            if refused:
                if err is None:
                    raise Incorrect(
                        f"{title}: {case.label} should be refused with {refuses.__name__}, but your function "
                        f"returned {_short(got)}."
                    )
                if not isinstance(err, refuses):
                    raise Incorrect(
                        f"{title}: {case.label} should be refused with {refuses.__name__}, not "
                        f"{type(err).__name__}: {err}"
                    )
                continue
            if err is not None:
                raise Incorrect(f"{title}: on {case.label}, your function raised {type(err).__name__}: {err}")
            compare(got, value, case, title)

    return Question(
        grade_id=grade_id, title=title, points=points, variable=name, expected=expected, compare=check,
        hints=hints, solution_code=solution_code, wrong=wrong, alternatives=alternatives,
    )  # fmt: skip
