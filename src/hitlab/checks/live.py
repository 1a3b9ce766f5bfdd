"""Exercises whose answer is a function that talks to servers (a SMART token endpoint and FHIR server, an
MLLP listener over TLS): the check starts the servers on 127.0.0.1, calls the learner's function and the
reference against them, and stops every server when the check ends, however it ends. Each call is judged
as a function question's is (:func:`hitlab.checks.function.judge_call`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from hitlab.checks.core import Incorrect, Question
from hitlab.checks.function import Case, check_signature, judge_call, reference_outcome, signature


@dataclass(frozen=True)
class LiveCall:
    """One call of the learner's function against servers running on loopback: ``args`` for the learner,
    ``ref_args`` for the reference (its own client, key or connection; default the same), ``after(got)``
    further checks of a result the reference agrees with (raising :class:`Incorrect`), and ``why()`` what the
    servers saw: a sentence appended to a failure's message, and the evidence in it (the server's words),
    left out when the learner's own error message already quotes them."""

    label: str
    args: tuple
    ref_args: tuple | None = None
    after: Callable[[Any], None] | None = None
    why: Callable[[], tuple[str, str]] | None = None


def _explained(err: Incorrect, call: LiveCall) -> Incorrect:
    """``err`` with what the servers saw on ``call`` appended, unless the learner's own message already says it."""
    extra, evidence = call.why() if call.why is not None else ("", "")
    if extra and evidence not in str(err):
        return Incorrect(f"{err} {extra}", err.detail)
    return err


def live_question(
    *, grade_id: str, title: str, points: int, name: str, parameters: Sequence[str], reference: Callable,
    session: Callable[[], Any], compare: Callable[..., None], refusals: Mapping[type, type], hints: Sequence[str],
    solution_code: str, wrong: Sequence[str] = (), alternatives: Sequence[str] = (), call_limit: float = 10.0,
) -> Question:  # fmt: skip
    """The learner defines ``name(*parameters)``, which talks to servers. ``session()`` is a context manager
    that starts the servers (on 127.0.0.1), yields the :class:`LiveCall` s to make, and stops every server
    when the check ends, however it ends. On each call the reference runs first; where it raises a key of
    ``refusals`` the learner's function must raise the mapped exception, elsewhere ``compare(got, expected,
    label, title)`` and then ``call.after(got)`` must pass."""

    def check(fn: Any, _plan: Any) -> None:
        check_signature(fn, name, parameters, title)
        with session() as plan:
            for call in plan:
                ref_case = Case(call.label, call.ref_args or call.args)
                expected, must_raise = reference_outcome(reference, ref_case, refusals, grade_id)
                got = judge_call(
                    fn, Case(call.label, call.args), must_raise, title=title, limit=call_limit,
                    slow_hint="set a timeout on every connection", explain=partial(_explained, call=call),
                )  # fmt: skip
                if must_raise is not None:
                    continue
                compare(got, expected, call.label, title)
                if call.after is not None:
                    call.after(got)

    return Question(
        grade_id=grade_id, title=title, points=points, variable=name, expected=lambda: grade_id,
        compare=check, hints=hints, solution_code=solution_code, wrong=wrong, alternatives=alternatives,
        form=(signature(name, parameters, title),),
    )  # fmt: skip
