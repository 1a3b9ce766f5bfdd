"""Exercises whose answer is a value: a choice, a mapping of items to categories, a number."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hitlab.checks.core import Incorrect, Question, compare_value


def _norm(value: Any) -> Any:
    return value.strip().casefold() if isinstance(value, str) else value


def choice_question(
    *, grade_id: str, title: str, points: int, variable: str, options: Mapping[str, str], correct: str,
    why_not: Mapping[str, str], hints: Sequence[str], wrong: Sequence[str] = (), alternatives: Sequence[str] = (),
) -> Question:  # fmt: skip
    """Pick one option by its letter; a wrong pick gets that option's own explanation of why not."""

    def compare(answer: Any, expected: str) -> None:
        letter = _norm(answer)
        if not isinstance(letter, str) or letter.upper() not in options:
            raise Incorrect(f"{title}: answer with one of the letters {', '.join(options)}, got {answer!r}.")
        if letter.upper() != expected:
            raise Incorrect(
                f"{title}: not {letter.upper()}. {why_not.get(letter.upper(), 'Read the options again.')}"
            )

    return Question(
        grade_id=grade_id, title=title, points=points, variable=variable, expected=lambda: correct,
        compare=compare, hints=hints, solution_code=f'{variable} = "{correct}"  # {options[correct]}',
        wrong=wrong, alternatives=alternatives,
    )  # fmt: skip


def dict_code(variable: str, mapping: Mapping[str, str]) -> str:
    """Source of a cell assigning ``mapping`` to ``variable``, one item a line."""
    body = ",\n".join(f"    {k!r}: {v!r}" for k, v in mapping.items())
    return f"{variable} = {{\n{body},\n}}"


def mapping_question(
    *, grade_id: str, title: str, points: int, variable: str, answer: Mapping[str, str], allowed: Sequence[str],
    hints: Sequence[str], wrong: Sequence[str] = (), alternatives: Sequence[str] = (),
) -> Question:  # fmt: skip
    """Map each item to one of ``allowed`` labels; the message names the first misplaced item."""
    allowed_norm = {_norm(a): a for a in allowed}

    def compare(got: Any, expected: Mapping[str, str]) -> None:
        if not isinstance(got, Mapping):
            raise Incorrect(
                f"{title}: expected a dict mapping each item to a label, got {type(got).__name__}."
            )
        missing = [k for k in expected if k not in got]
        if missing:
            raise Incorrect(f"{title}: {missing[0]!r} has no label yet (copy the keys from the prompt).")
        extra = [k for k in got if k not in expected]
        if extra:
            raise Incorrect(f"{title}: {extra[0]!r} is not one of the items.")
        for item, label in expected.items():
            given = _norm(got[item])
            if given not in allowed_norm:
                raise Incorrect(
                    f"{title}: {item!r} is labelled {got[item]!r}; use one of {', '.join(allowed)}."
                )
            if allowed_norm[given] != label:
                raise Incorrect(f"{title}: {item!r} is not {got[item]!r}.")

    return Question(
        grade_id=grade_id, title=title, points=points, variable=variable, expected=lambda: dict(answer),
        compare=compare, hints=hints, solution_code=dict_code(variable, answer), wrong=wrong,
        alternatives=alternatives,
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
