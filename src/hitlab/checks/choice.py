"""Exercises whose answer is a value: a choice (or one for each of several situations), a mapping of items to
categories, a number."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, TypeVar

from hitlab.checks.core import Incorrect, Question, compare_value

T = TypeVar("T")
Answer = T | Callable[[], T]  # answer data, or a function that reads it from a lab's answers or reference


def _norm(value: Any) -> Any:
    return value.strip().casefold() if isinstance(value, str) else value


def _given(value: Any) -> Any:
    """``value``, or what it returns if it is a function: answer data that lives in a lab's ``answers`` or
    ``reference`` module (out of an exam release) is passed as a function and read only when checking."""
    return value() if callable(value) else value


def _letter(pick: Any, options: Mapping[str, str], title: str, situation: str | None = None) -> str:
    """The letter of ``pick`` (case and spaces ignored), which must be one of ``options``."""
    letter = _norm(pick)
    letter = letter.upper() if isinstance(letter, str) else None
    if letter not in options:
        if situation is None:
            raise Incorrect(f"{title}: answer with one of the letters {', '.join(options)}, got {pick!r}.")
        raise Incorrect(f"{title}: for {situation!r} answer one of {', '.join(options)}, got {pick!r}.")
    return letter


def _judge_pick(
    pick: Any, options: Mapping[str, str], correct: str, why_not: Mapping[str, str], title: str,
    situation: str | None = None,
) -> None:  # fmt: skip
    """One pick by letter among ``options`` (case and spaces ignored): a wrong letter gets that option's own
    explanation from ``why_not``; ``situation`` names which of several picks this is."""
    letter = _letter(pick, options, title, situation)
    if letter != correct:
        where = "" if situation is None else f"for {situation!r}, "
        raise Incorrect(f"{title}: {where}not {letter}. {why_not.get(letter, 'Read the options again.')}")


def picks_question(
    *, grade_id: str, title: str, points: int, variable: str, situations: Mapping[str, Mapping[str, str]],
    correct: Callable[[], Mapping[str, str]], why_not: Answer[Mapping[str, Mapping[str, str]]],
    hints: Sequence[str], solution_code: str, wrong: Sequence[str] = (), alternatives: Sequence[str] = (),
) -> Question:  # fmt: skip
    """For each of several situations, pick one of its options by letter (the answer is a dict, situation ->
    letter); a wrong pick gets that option's own explanation. ``correct()`` gives the key and ``why_not`` the
    explanations (a function where they would tell the answer by the letter they leave out: both can live
    with a lab's answers, out of an exam release)."""

    def form(answer: Any) -> None:
        if not isinstance(answer, Mapping):
            raise Incorrect(f"{title}: `{variable}` should be a dict with the keys {', '.join(situations)}.")
        for situation, options in situations.items():
            if situation not in answer:
                raise Incorrect(f"{title}: {situation!r} has no pick yet.")
            _letter(answer[situation], options, title, situation)

    def compare(answer: Any, expected: Mapping[str, str]) -> None:
        form(answer)
        explanations = _given(why_not)
        for situation, options in situations.items():
            _judge_pick(
                answer[situation], options, expected[situation], explanations[situation], title, situation
            )

    return Question(
        grade_id=grade_id, title=title, points=points, variable=variable, expected=lambda: dict(correct()),
        compare=compare, hints=hints, solution_code=solution_code, wrong=wrong, alternatives=alternatives,
        form=(form,),
    )  # fmt: skip


def choice_question(
    *, grade_id: str, title: str, points: int, variable: str, options: Mapping[str, str], correct: Answer[str],
    why_not: Answer[Mapping[str, str]], hints: Sequence[str], solution_code: str | None = None,
    wrong: Sequence[str] = (), alternatives: Sequence[str] = (),
) -> Question:  # fmt: skip
    """Pick one option by its letter; a wrong pick gets that option's own explanation of why not (the one
    situation of :func:`picks_question`, answered by a bare letter). ``correct`` and ``why_not`` may be
    functions (answer data kept out of an exam release); then ``solution_code`` is given too."""
    if solution_code is None:
        solution_code = f'{variable} = "{correct}"  # {options[correct]}'
    return Question(
        grade_id=grade_id, title=title, points=points, variable=variable, expected=lambda: _given(correct),
        compare=lambda answer, expected: _judge_pick(answer, options, expected, _given(why_not), title),
        hints=hints, solution_code=solution_code, wrong=wrong, alternatives=alternatives,
        form=(lambda answer: _letter(answer, options, title),),
    )  # fmt: skip


def check_keys(
    got: Mapping, keys: Collection[str], *, missing: Callable[[str], str], extra: Callable[[str], str]
) -> None:
    """A dict answer has every one of ``keys`` and no other: else :class:`Incorrect` saying ``missing(key)``
    for the first key it lacks, or ``extra(key)`` for the first it should not have."""
    absent = [k for k in keys if k not in got]
    if absent:
        raise Incorrect(missing(absent[0]))
    unknown = [k for k in got if k not in keys]
    if unknown:
        raise Incorrect(extra(unknown[0]))


def dict_code(variable: str, mapping: Mapping[str, str]) -> str:
    """Source of a cell assigning ``mapping`` to ``variable``, one item a line."""
    body = ",\n".join(f"    {k!r}: {v!r}" for k, v in mapping.items())
    return f"{variable} = {{\n{body},\n}}"


def mapping_question(
    *, grade_id: str, title: str, points: int, variable: str, items: Sequence[str], answer: Answer[Mapping[str, str]],
    allowed: Sequence[str], hints: Sequence[str], solution_code: str | None = None, wrong: Sequence[str] = (),
    alternatives: Sequence[str] = (),
) -> Question:  # fmt: skip
    """Map each of ``items`` to one of ``allowed`` labels; the message names the first misplaced item.
    ``answer`` may be a function (answer data kept out of an exam release); then ``solution_code`` is given
    too."""
    allowed_norm = {_norm(a): a for a in allowed}

    def form(got: Any) -> None:
        if not isinstance(got, Mapping):
            raise Incorrect(
                f"{title}: expected a dict mapping each item to a label, got {type(got).__name__}."
            )
        check_keys(
            got, items, missing=lambda k: f"{title}: {k!r} has no label yet (copy the keys from the prompt).",
            extra=lambda k: f"{title}: {k!r} is not one of the items.",
        )  # fmt: skip
        for item in items:
            if _norm(got[item]) not in allowed_norm:
                raise Incorrect(
                    f"{title}: {item!r} is labelled {got[item]!r}; use one of {', '.join(allowed)}."
                )

    def compare(got: Any, expected: Mapping[str, str]) -> None:
        form(got)
        for item, label in expected.items():
            if allowed_norm[_norm(got[item])] != label:
                raise Incorrect(f"{title}: {item!r} is not {got[item]!r}.")

    if solution_code is None:
        solution_code = dict_code(variable, answer)
    return Question(
        grade_id=grade_id, title=title, points=points, variable=variable, expected=lambda: dict(_given(answer)),
        compare=compare, hints=hints, solution_code=solution_code, wrong=wrong, alternatives=alternatives,
        form=(form,),
    )  # fmt: skip


def value_question(
    *, grade_id: str, title: str, points: int, variable: str, reference: Callable[[], Any], hints: Sequence[str],
    solution: str, wrong: Sequence[str] = (), alternatives: Sequence[str] = (), rel: float = 1e-6,
) -> Question:  # fmt: skip
    """A single number or value, computed by ``reference`` from the data."""
    return Question(
        grade_id=grade_id, title=title, points=points, variable=variable, expected=reference,
        compare=lambda got, exp: compare_value(got, exp, title=title, rel=rel), hints=hints,
        solution_code=solution, wrong=wrong, alternatives=alternatives,
    )  # fmt: skip
