"""SQL exercises: the learner's query runs on the workbook's DuckDB data and is compared, as a row set,
with a reference answer computed independently (in Python, from the same tables)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

from hitlab.checks.core import Incorrect, Question, compare_rows


@cache
def connection(dataset: str = "default"):
    """One shared read-only connection per dataset and process."""
    from hitlab.data import connect

    return connect(dataset)


def execute(
    con, sql: Any, *, title: str, columns: Sequence[str] | None = None, what: str = "the query"
) -> list[tuple]:
    """Run a learner's ``sql`` on ``con`` and return its rows; a query that is not a string, fails in DuckDB
    or returns another number of columns than ``columns`` raises :class:`Incorrect` saying so."""
    import duckdb

    if not isinstance(sql, str):
        raise Incorrect(f"{title}: expected {what} as a string, got {type(sql).__name__}.")
    try:
        result = con.execute(sql)
    except duckdb.Error as err:
        raise Incorrect(f"{title}: {what} failed in DuckDB: {str(err).splitlines()[0]}") from None
    names = [d[0] for d in result.description]
    if columns is not None and len(names) != len(columns):
        raise Incorrect(
            f"{title}: expected {len(columns)} columns ({', '.join(columns)}), got {len(names)} ({', '.join(names)})."
        )
    return result.fetchall()


def table(name: str, dataset: str = "default"):
    """A whole table as a pandas DataFrame, for reference implementations."""
    return connection(dataset).cursor().table(name).df()


def sql_question(
    *,
    grade_id: str,
    title: str,
    points: int,
    variable: str,
    columns: Sequence[str],
    reference: Callable[[], list[tuple]],
    hints: Sequence[str],
    solution: str,
    wrong: Sequence[str] = (),
    alternatives: Sequence[str] = (),
    ordered: bool = False,
    rel: float = 1e-6,
    key_columns: int = 1,
    dataset: str = "default",
) -> Question:
    """A question whose answer is a SQL query returning ``columns``; order matters only if ``ordered``."""

    def prepare(sql: Any) -> list[tuple]:
        return execute(connection(dataset).cursor(), sql, title=title, columns=columns)

    def compare(rows: list[tuple], expected: list[tuple]) -> None:
        compare_rows(
            rows, expected, columns=columns, ordered=ordered, title=title, rel=rel, key_columns=key_columns
        )

    return Question(
        grade_id=grade_id,
        title=title,
        points=points,
        variable=variable,
        expected=reference,
        compare=compare,
        hints=hints,
        solution_code=solution,
        wrong=wrong,
        alternatives=alternatives,
        prepare=prepare,
    )
