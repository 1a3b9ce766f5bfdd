"""Question kinds lab 07 needs beyond ``hitlab.checks.function``: calls that get fresh arguments each time
(what the learner's function writes into them is checked too, as an audit log), refusals of several kinds
(an invalid token is not a missing scope), SQL per role, picks explained option by option, and calls
against servers the check starts on loopback and always stops."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hitlab.checks.core import Incorrect, Question, compare_rows, learner_error
from hitlab.checks.function import Case, _call, _short
from hitlab.checks.limits import TimeLimit
from hitlab.checks.sql import connection, execute, toy_database


@dataclass(frozen=True)
class Call:
    """One call of the learner's function: ``make()`` builds fresh arguments for it (a new audit list, a
    newly signed token), so the learner's call and the reference's never share state."""

    label: str
    make: Callable[[], tuple]


def exception_name(kind: type) -> str:
    """``PermissionError``, ``ValueError``, ``jwt.InvalidTokenError``."""
    module = kind.__module__.split(".", 1)[0]
    return kind.__name__ if module == "builtins" else f"{module}.{kind.__name__}"


def _signature_ok(fn: Any, name: str, parameters: Sequence[str], title: str) -> None:
    if not callable(fn):
        raise Incorrect(f"{title}: `{name}` should be a function, got {type(fn).__name__}.")
    try:
        got = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return
    if got[: len(parameters)] != list(parameters):
        raise Incorrect(f"{title}: define `{name}({', '.join(parameters)})`; yours takes ({', '.join(got)}).")


def calls_question(
    *, grade_id: str, title: str, points: int, name: str, parameters: Sequence[str], reference: Callable,
    calls: Callable[[], Sequence[Call]], compare: Callable[..., None], refusals: Mapping[type, type],
    hints: Sequence[str], solution_code: str, wrong: Sequence[str] = (), alternatives: Sequence[str] = (),
    call_limit: float = 20.0,
) -> Question:  # fmt: skip
    """The learner defines ``name(*parameters)``; for each call the reference and the learner's function run
    on fresh copies of its arguments. Where the reference raises a key of ``refusals``, the learner must raise
    the mapped exception (a subclass is fine); elsewhere ``compare(got, expected, args, expected_args, label,
    title)`` must pass, ``args`` being what the learner's call received (and may have written into)."""

    def check(fn: Any, plan: Sequence[Call]) -> None:
        _signature_ok(fn, name, parameters, title)
        for call in plan:
            ref_args = call.make()
            expected, ref_err = _call(reference, Case(call.label, ref_args))
            must_raise = None
            if ref_err is not None:
                must_raise = next((v for k, v in refusals.items() if isinstance(ref_err, k)), None)
                if must_raise is None:
                    raise RuntimeError(
                        f"{grade_id}: the reference failed on {call.label}: {ref_err!r}"
                    ) from ref_err
            args = call.make()
            try:
                got, err = _call(fn, Case(call.label, args), call_limit)
            except TimeLimit:
                raise Incorrect(
                    f"{title}: on {call.label}, your function did not finish within {call_limit:g} s; the check "
                    "stopped it."
                ) from None
            if must_raise is not None:
                if err is None:
                    raise Incorrect(
                        f"{title}: {call.label} should be refused with {exception_name(must_raise)}, but your "
                        f"function returned {_short(got)}."
                    )
                if not isinstance(err, must_raise):
                    raise learner_error(
                        err,
                        f"{title}: {call.label} should be refused with {exception_name(must_raise)}; your function",
                    )
                continue
            if err is not None:
                raise learner_error(err, f"{title}: on {call.label}, your function")
            compare(got, expected, args, ref_args, call.label, title)

    return Question(
        grade_id=grade_id, title=title, points=points, variable=name, expected=lambda: list(calls()),
        compare=check, hints=hints, solution_code=solution_code, wrong=wrong, alternatives=alternatives,
    )  # fmt: skip


def role_sql_question(
    *, grade_id: str, title: str, points: int, variable: str, columns: Mapping[str, Sequence[str]],
    reference: Callable[[Any, Any], dict[str, list[tuple]]], scenarios: Callable[[], Sequence[tuple[str, dict]]],
    hints: Sequence[str], solution_code: str, wrong: Sequence[str] = (), alternatives: Sequence[str] = (),
) -> Question:  # fmt: skip
    """A dict of SQL queries, one per role, each returning that role's ``columns``: run on the real
    ``patients`` and ``encounters`` and on made-up tables (``scenarios()``: ``(what, frames)`` pairs)."""
    roles = tuple(columns)

    def run(con, sql: Any, label: str) -> dict[str, list[tuple]]:
        if not isinstance(sql, Mapping):
            raise Incorrect(f"{title}: `{variable}` should be a dict mapping each role to its SQL text.")
        missing = [r for r in roles if r not in sql]
        if missing:
            raise Incorrect(f"{title}: `{variable}` has no query for the role {missing[0]!r}.")
        extra = [r for r in sql if r not in roles]
        if extra:
            raise Incorrect(f"{title}: {extra[0]!r} is not one of the roles ({', '.join(roles)}).")
        return {
            role: execute(con, sql[role], title=f"{label}, the {role} query", columns=columns[role],
                          what=f"the {role} query")
            for role in roles
        }  # fmt: skip

    def compare(got: dict, expected: dict, *, label: str = title, name_rows: bool = True) -> None:
        for role in roles:
            compare_rows(got[role], expected[role], columns=columns[role], title=f"{label}, the {role} query",
                         name_rows=name_rows)  # fmt: skip

    def real() -> dict:
        from hitlab.checks.sql import table

        return reference(table("patients"), table("encounters"))

    def made_up(sql: Any) -> None:
        for what, frames in scenarios():
            con, typed = toy_database(**frames)
            label = f"{title}, on made-up data with {what}"
            compare(run(con, sql, label), reference(typed["patients"], typed["encounters"]), label=label,
                    name_rows=False)  # fmt: skip

    return Question(
        grade_id=grade_id, title=title, points=points, variable=variable, expected=real,
        compare=lambda got, exp: compare(got, exp), hints=hints, solution_code=solution_code, wrong=wrong,
        alternatives=alternatives, prepare=lambda sql: run(connection().cursor(), sql, title),
        edge_cases=(made_up,),
    )  # fmt: skip


def picks_question(
    *, grade_id: str, title: str, points: int, variable: str, situations: Mapping[str, Mapping[str, str]],
    correct: Callable[[], Mapping[str, str]], why_not: Mapping[str, Mapping[str, str]], hints: Sequence[str],
    solution_code: str, wrong: Sequence[str] = (),
) -> Question:  # fmt: skip
    """For each situation, pick one option by its letter; a wrong pick gets that option's own explanation.
    ``correct()`` gives the key (it lives with the answers, out of an exam release)."""

    def compare(answer: Any, expected: Mapping[str, str]) -> None:
        if not isinstance(answer, Mapping):
            raise Incorrect(f"{title}: `{variable}` should be a dict with the keys {', '.join(situations)}.")
        for situation, options in situations.items():
            if situation not in answer:
                raise Incorrect(f"{title}: {situation!r} has no pick yet.")
            pick = answer[situation]
            letter = pick.strip().upper() if isinstance(pick, str) else pick
            if letter not in options:
                raise Incorrect(
                    f"{title}: for {situation!r} answer one of {', '.join(options)}, got {pick!r}."
                )
            if letter != expected[situation]:
                raise Incorrect(f"{title}: for {situation!r}, not {letter}. {why_not[situation][letter]}")

    return Question(
        grade_id=grade_id, title=title, points=points, variable=variable, expected=lambda: dict(correct()),
        compare=compare, hints=hints, solution_code=solution_code, wrong=wrong,
    )  # fmt: skip


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

    def explained(err: Incorrect, call: LiveCall) -> Incorrect:
        extra, evidence = call.why() if call.why is not None else ("", "")
        if extra and evidence not in str(err):  # unless the learner's own message already says it
            return Incorrect(f"{err} {extra}", err.detail)
        return err

    def check(fn: Any, _plan: Any) -> None:
        _signature_ok(fn, name, parameters, title)
        with session() as plan:
            for call in plan:
                expected, ref_err = _call(reference, Case(call.label, call.ref_args or call.args))
                must_raise = None
                if ref_err is not None:
                    must_raise = next((v for k, v in refusals.items() if isinstance(ref_err, k)), None)
                    if must_raise is None:
                        raise RuntimeError(
                            f"{grade_id}: the reference failed on {call.label}: {ref_err!r}"
                        ) from ref_err
                try:
                    got, err = _call(fn, Case(call.label, call.args), call_limit)
                except TimeLimit:
                    raise Incorrect(
                        f"{title}: on {call.label}, your function did not finish within {call_limit:g} s; the "
                        "check stopped it (set a timeout on every connection)."
                    ) from None
                if must_raise is not None:
                    if err is None:
                        raise Incorrect(
                            f"{title}: {call.label} should be refused with {exception_name(must_raise)}, but your "
                            f"function returned {_short(got)}."
                        )
                    if not isinstance(err, must_raise):
                        raise explained(learner_error(
                            err, f"{title}: {call.label} should be refused with {exception_name(must_raise)}; "
                            "your function"), call)  # fmt: skip
                    continue
                if err is not None:
                    raise explained(learner_error(err, f"{title}: on {call.label}, your function"), call)
                compare(got, expected, call.label, title)
                if call.after is not None:
                    call.after(got)

    return Question(
        grade_id=grade_id, title=title, points=points, variable=name, expected=lambda: grade_id,
        compare=check, hints=hints, solution_code=solution_code, wrong=wrong, alternatives=alternatives,
    )  # fmt: skip
