"""DDL exercises: the learner's ``CREATE TABLE`` statements run in a fresh in-memory DuckDB; valid rows must go
in, and each kind of bad row must be rejected by a key or a constraint."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from hitlab.checks.core import Incorrect, Question, describe


@dataclass(frozen=True)
class BadRow:
    """A row the schema must reject: ``what`` says which rule it breaks, in words shown to the learner."""

    what: str
    table: str
    row: Mapping[str, Any]


def _insert(con, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
    import pandas as pd

    frame = pd.DataFrame(list(rows))
    cols = ", ".join(frame.columns)
    con.register("_rows", frame)
    try:
        con.execute(f"insert into {table} ({cols}) select {cols} from _rows")
    finally:
        con.unregister("_rows")


def _column_types(con) -> dict[tuple[str, str], str]:
    rows = con.execute(
        "select lower(table_name), lower(column_name), data_type from information_schema.columns"
    ).fetchall()
    return {(t, c): typ.upper() for t, c, typ in rows}


def run_ddl(
    ddl: Any,
    *,
    title: str,
    good: Mapping[str, Sequence[Mapping[str, Any]]],
    bad: Sequence[BadRow],
    types: Mapping[tuple[str, str], tuple[str, ...]],
) -> str:
    """Create the schema, check declared types, insert the good rows, then try each bad row in a transaction."""
    import duckdb

    if not isinstance(ddl, str):
        raise Incorrect(f"{title}: expected the DDL as a string, got {type(ddl).__name__}.")
    con = duckdb.connect()
    try:
        try:
            con.execute(ddl)
        except duckdb.Error as err:
            raise Incorrect(f"{title}: your DDL failed in DuckDB: {str(err).splitlines()[0]}") from None
        declared = _column_types(con)
        for table, rows in good.items():
            for col in rows[0]:
                if (table, col) not in declared:
                    raise Incorrect(f"{title}: table {table} needs a column {col} (names as in the prompt).")
        for (table, col), allowed in types.items():
            got = declared[(table, col)]
            if not any(got == a or got.startswith(a + "(") for a in allowed):
                raise Incorrect(
                    f"{title}: {table}.{col} is declared {got}; that type does not fit this data."
                )
        for table, rows in good.items():
            try:
                _insert(con, table, rows)
            except duckdb.Error as err:
                raise Incorrect(
                    f"{title}: valid {table} rows were rejected: {str(err).splitlines()[0]}"
                ) from None
        for b in bad:
            con.execute("begin transaction")
            try:
                _insert(con, b.table, [b.row])
            except duckdb.Error:
                con.execute("rollback")
                continue
            con.execute("rollback")
            raise Incorrect(f"{title}: a bad {b.table} row got in: {b.what}.")
    finally:
        con.close()
    return "ok"


def ddl_question(
    *,
    grade_id: str,
    title: str,
    points: int,
    variable: str,
    good: Callable[[], Mapping[str, Sequence[Mapping[str, Any]]]],
    bad: Callable[[], Sequence[BadRow]],
    types: Mapping[tuple[str, str], tuple[str, ...]],
    hints: Sequence[str],
    solution: str,
    wrong: Sequence[str] = (),
    alternatives: Sequence[str] = (),
) -> Question:
    """A question whose answer is DDL: ``good()`` rows (table -> rows, in insert order) must insert, every
    ``bad()`` row must be rejected, and each ``types`` column must be declared as one of its allowed types."""

    def prepare(ddl: Any) -> str:
        return run_ddl(ddl, title=title, good=good(), bad=bad(), types=types)

    def compare(got: str, expected: str) -> None:
        if got != expected:
            raise Incorrect(f"{title}: the schema does not behave as asked.")

    return Question(
        grade_id=grade_id,
        title=title,
        points=points,
        variable=variable,
        expected=lambda: "ok",
        compare=compare,
        hints=hints,
        solution_code=solution,
        wrong=wrong,
        alternatives=alternatives,
        prepare=prepare,
        form=(partial(ddl_runs, title=title),),
    )


def ddl_runs(ddl: Any, *, title: str) -> None:
    """A form check: ``ddl`` is SQL text that runs in an empty DuckDB database."""
    import duckdb

    if not isinstance(ddl, str):
        raise Incorrect(f"{title}: the DDL should be SQL text (a string), got {describe(ddl)}.")
    con = duckdb.connect()
    try:
        con.execute(ddl)
    except duckdb.Error as err:
        raise Incorrect(f"{title}: your DDL failed in DuckDB: {str(err).splitlines()[0]}") from None
    finally:
        con.close()
