"""The question kind only lab 07 needs: SQL per role (role-based views with minimum-necessary masking).

Its other kinds are the framework's: calls with fresh arguments (``hitlab.checks.function.calls_question``),
calls against servers on loopback (``hitlab.checks.live.live_question``) and picks explained option by option
(``hitlab.checks.choice.picks_question``). ``role_sql_question`` stays here because it is shaped by this lab's
exercise: its reference takes exactly the ``patients`` and ``encounters`` tables, and its made-up scenarios
are those two tables.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hitlab.checks.choice import check_keys
from hitlab.checks.core import Incorrect, Question, compare_rows
from hitlab.checks.sql import connection, execute, toy_database


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
        check_keys(
            sql, roles, missing=lambda r: f"{title}: `{variable}` has no query for the role {r!r}.",
            extra=lambda r: f"{title}: {r!r} is not one of the roles ({', '.join(roles)}).",
        )  # fmt: skip
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
