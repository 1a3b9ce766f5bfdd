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


def run_sql(sql: str, dataset: str = "default") -> tuple[list[str], list[tuple]]:
    """Run ``sql`` on ``dataset``: its column names and rows."""
    import duckdb

    if not isinstance(sql, str):
        raise Incorrect(f"expected the query as a string, got {type(sql).__name__}")
    cur = connection(dataset).cursor()
    try:
        result = cur.execute(sql)
    except duckdb.Error as err:
        raise Incorrect(f"the query failed in DuckDB: {str(err).splitlines()[0]}") from None
    columns = [d[0] for d in result.description]
    return columns, result.fetchall()


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
        got_columns, rows = run_sql(sql, dataset)
        if len(got_columns) != len(columns):
            raise Incorrect(
                f"{title}: expected {len(columns)} columns ({', '.join(columns)}), got {len(got_columns)} "
                f"({', '.join(got_columns)})."
            )
        return rows

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
