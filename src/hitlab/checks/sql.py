"""SQL exercises: the learner's query runs on the workbook's DuckDB data and is compared, as a row set,
with a reference answer computed independently (in Python, from the same tables)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from hitlab.checks.core import Incorrect, Question, compare_rows, describe


@cache
def connection(dataset: str = "default"):
    """One shared read-only connection per dataset and process."""
    from hitlab.data import connect

    return connect(dataset)


def _not_sql(sql: Any, what: str) -> str:
    """Why ``sql`` is not a query text, in a sentence."""
    kind = describe(sql)
    if type(sql).__module__.startswith(("pandas", "duckdb", "polars", "numpy")):
        return (
            f"{what} should be the SQL text (a string), but you gave {kind}: the query's result, not the query. "
            'Set the variable to the query itself, e.g. """select ..."""'
        )
    return f"{what} should be the SQL text (a string), but you gave {kind}."


def check_names(names: Sequence[str], columns: Sequence[str], title: str) -> None:
    """The result's column names must be the ones the exercise asks for (letter case aside), in its order."""
    if [n.lower() for n in names] == [c.lower() for c in columns]:
        return
    names = [n if len(n) <= 32 else n[:29] + "..." for n in names]  # an unnamed expression can be long
    yours, asked = f"({', '.join(names)})", f"({', '.join(columns)})"
    if len(names) != len(columns):
        raise Incorrect(
            f"{title}: your query returns {len(names)} columns {yours}; the exercise asks for {len(columns)}: {asked}."
        )
    if sorted(n.lower() for n in names) == sorted(c.lower() for c in columns):
        raise Incorrect(f"{title}: your columns are {yours}; the exercise asks for {asked}, in that order.")
    renamed = [(n, c) for n, c in zip(names, columns, strict=True) if n.lower() != c.lower()]
    which = "; ".join(f"`{n}` should be named `{c}`" for n, c in renamed)
    raise Incorrect(
        f"{title}: your columns are {yours}; the exercise asks for {asked}: {which} (`... as {renamed[0][1]}`)."
    )


def execute(
    con, sql: Any, *, title: str, columns: Sequence[str] | None = None, what: str = "the query"
) -> list[tuple]:
    """Run a learner's ``sql`` on ``con`` and return its rows; a query that is not a string, fails in DuckDB
    or returns other columns than ``columns`` (names as asked, in order) raises :class:`Incorrect` saying so."""
    import duckdb

    if not isinstance(sql, str):
        raise Incorrect(f"{title}: {_not_sql(sql, what)}")
    try:
        result = con.execute(sql)
    except duckdb.Error as err:
        raise Incorrect(f"{title}: {what} failed in DuckDB: {str(err).splitlines()[0]}") from None
    if result.description is None:
        raise Incorrect(f"{title}: {what} returns no rows at all; it should be a select query.")
    if columns is not None:
        check_names([d[0] for d in result.description], columns, title)
    return result.fetchall()


def table(name: str, dataset: str = "default"):
    """A whole table as a pandas DataFrame, for reference implementations."""
    return connection(dataset).cursor().table(name).df()


# -- edge cases on made-up data -------------------------------------------------------------------------------


def toy_database(**tables):
    """A scratch DuckDB database holding made-up rows (pandas DataFrames) in tables with the real tables'
    column names and types (columns not given are NULL; a missing ``Id`` is numbered), and the same rows as
    DataFrames typed as :func:`table` returns them."""
    import duckdb

    real = connection()
    con = duckdb.connect()
    frames = {}
    for name, rows in tables.items():
        schema = real.execute(f"describe {name}").fetchall()
        if "Id" in (c[0] for c in schema) and "Id" not in rows.columns:
            rows = rows.assign(Id=[f"{name[:3]}{i}" for i in range(len(rows))])
        con.execute(f"create table {name} (" + ", ".join(f'"{c[0]}" {c[1]}' for c in schema) + ")")
        con.register("toy_rows", rows)
        cols = ", ".join(f'"{c}"' for c in rows.columns)
        con.execute(f"insert into {name} ({cols}) select {cols} from toy_rows")
        con.unregister("toy_rows")
        frames[name] = con.execute(f"select * from {name}").df()
    return con, frames


@dataclass(frozen=True)
class Scenario:
    """An edge case as made-up rows: ``what`` says in feedback what it is ("a stay with no STOP");
    ``tables`` maps a table name to rows (a tuple of tuples) under ``columns[name]``."""

    what: str
    tables: Mapping[str, Sequence[tuple]]
    columns: Mapping[str, Sequence[str]]

    def frames(self):
        """The rows as DataFrames, text as written: :func:`toy_database` casts them to the real types."""
        import pandas as pd

        return {
            name: pd.DataFrame(list(rows), columns=list(self.columns[name]))
            for name, rows in self.tables.items()
        }


def scenario_checks(
    *,
    title: str,
    columns: Sequence[str],
    scenarios: Sequence[Scenario],
    reference: Callable[[dict], list[tuple]],
    rel: float = 1e-6,
    key_columns: int = 1,
) -> Callable[[Any], None]:
    """An edge-case check for :class:`~hitlab.checks.core.Question`: the learner's query runs on each
    scenario's made-up tables and must return what ``reference(frames)`` computes there. A failure names the
    scenario by what it is, never by its made-up ids."""

    def run(sql: Any) -> None:
        for scenario in scenarios:
            con, frames = toy_database(**scenario.frames())
            label = f"{title}, on made-up data with {scenario.what}"
            rows = execute(con, sql, title=label)
            compare_rows(
                rows,
                reference(frames),
                columns=columns,
                title=label,
                rel=rel,
                key_columns=key_columns,
                name_rows=False,
            )

    return run


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
    edge_cases: Sequence[Callable[[Any], None]] = (),
    scenarios: Sequence[Scenario] = (),
    on_scenario: Callable[[dict], list[tuple]] | None = None,
) -> Question:
    """A question whose answer is a SQL query returning ``columns``; order matters only if ``ordered``.

    ``scenarios`` are edge cases on made-up data: the query must return there what ``on_scenario(frames)``
    computes (see :func:`scenario_checks`), compared as on the real data.
    """
    if scenarios:
        if on_scenario is None:
            raise ValueError(f"{grade_id}: scenarios need on_scenario, the reference on made-up data")
        edge_cases = (
            scenario_checks(title=title, columns=columns, scenarios=scenarios, reference=on_scenario, rel=rel,
                            key_columns=key_columns),
            *edge_cases,
        )  # fmt: skip

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
        edge_cases=edge_cases,
        form=(prepare,),  # runs on the data and returns the columns asked for
        key_from_data=True,  # rows a reference computed from the tables
    )
