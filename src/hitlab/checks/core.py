"""Questions as data: each graded exercise knows its expected answer, its hints, a worked solution and the
known-wrong answers that must lose its points.

In a lab notebook::

    from hitlab.checks import lab02
    q1 = lab02.q1
    q1.hint()            # graded hints: q1.hint(2) is the second
    q1.check(answer)     # passes quietly, or raises Incorrect with a message that helps
    q1.solution()        # the worked answer

``check`` has three outcomes: correct (prints a short confirmation), incorrect (raises :class:`Incorrect`,
an ``AssertionError``, so nbgrader's test cell fails) and not attempted (raises :class:`NotAttempted`, also an
``AssertionError``, with a message saying so).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any


class Incorrect(AssertionError):
    """The answer is wrong; the message says where, without giving the answer away."""


class NotAttempted(AssertionError):
    """The exercise still holds its placeholder."""


PLACEHOLDERS = (None, Ellipsis, NotImplemented, "", "...")


def _attempted(answer: Any) -> bool:
    return not any(answer is p or (isinstance(p, str) and answer == p) for p in PLACEHOLDERS)


@dataclass(eq=False)
class Question:
    """One graded exercise of a lab.

    ``grade_id`` names the answer cell in the notebook (``labNN_<what>``); its test cell is
    ``<grade_id>_test``. ``expected`` computes the reference answer (an independent implementation, run on the
    data); ``compare(answer, expected)`` raises :class:`Incorrect` when they differ. ``solution_code`` is the
    source of a correct answer cell; ``wrong`` holds sources of known-wrong answer cells, each of which must lose
    exactly this question's points; ``alternatives`` holds other correct answer cells.
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

    @cached_property
    def answer_key(self) -> Any:
        return self.expected()

    def check(self, answer: Any = None) -> None:
        """Check ``answer``; raises :class:`Incorrect` or :class:`NotAttempted` (both ``AssertionError``)."""
        if not _attempted(answer):
            raise NotAttempted(f"{self.title}: not attempted yet (set `{self.variable}` in the cell above).")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a library warning must never reach stderr and fail a test cell
            try:
                value = self.prepare(answer)
            except Incorrect:
                raise
            except Exception as err:  # the learner's code failed: say how, as feedback
                raise Incorrect(
                    f"{self.title}: running your answer failed: {type(err).__name__}: {err}"
                ) from None
            self.compare(value, self.answer_key)
        print(f"Correct: {self.title}")

    def hint(self, n: int = 1) -> None:
        """Print hint ``n`` (1 is the gentlest)."""
        if not 1 <= n <= len(self.hints):
            print(f"{self.title} has hints 1 to {len(self.hints)}.")
            return
        print(f"Hint {n}/{len(self.hints)}: {self.hints[n - 1]}")

    def solution(self) -> None:
        """Print the worked solution."""
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
) -> None:
    """Compare two row sets (order-insensitive unless ``ordered``), numbers with a relative tolerance.

    Raises :class:`Incorrect` naming the first difference without revealing expected values: the number of
    columns or rows, an unexpected or missing row (by its first column, the key), or the column whose value
    differs in a row. The first ``key_columns`` columns identify a row (e.g. encounter and diagnosis).
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

    remaining: dict[Any, list[tuple]] = {}
    for e in exp_rows:
        remaining.setdefault(e[:k], []).append(e)
    for g in got_rows:
        candidates = remaining.get(g[:k])
        if not candidates:
            raise Incorrect(f"{title}: the row with {show(g)} should not be there (or appears too often).")
        match = next((e for e in candidates if _row_matches(g, e, rel)), None)
        if match is None:
            e = candidates[0]
            c = next(c for c in range(width) if not _close(g[c], e[c], rel=rel))
            raise Incorrect(f"{title}: for {show(g)}, column {columns[c]} is {g[c]!r}, which is not right.")
        candidates.remove(match)
    missing = [row for rows in remaining.values() for row in rows]
    if missing:
        # only the count: naming a missing row would give the answer away
        raise Incorrect(f"{title}: {len(missing)} expected rows are missing.")


def compare_value(got: Any, expected: Any, *, title: str, rel: float = 1e-6) -> None:
    if not _close(got, expected, rel=rel):
        raise Incorrect(f"{title}: {got!r} is not right.")
