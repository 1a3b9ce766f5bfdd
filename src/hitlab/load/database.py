"""The DuckDB side of a load: opening the target, and the one transaction every load runs in."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import duckdb

from hitlab.errors import DatasetError, HitlabError

Target = str | Path | duckdb.DuckDBPyConnection


@contextlib.contextmanager
def connection(db: Target) -> Iterator[duckdb.DuckDBPyConnection]:
    """Yield ``db`` if it is an open connection, else open the DuckDB file at ``db`` and close it afterwards."""
    if isinstance(db, duckdb.DuckDBPyConnection):
        yield db
        return
    try:
        conn = duckdb.connect(str(db))
    except duckdb.Error as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DatasetError(f"cannot open the DuckDB database {db}: {first}") from err
    try:
        yield conn
    finally:
        conn.close()


@contextlib.contextmanager
def transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Run the block in one transaction: COMMIT if it succeeds, ROLLBACK on any error.

    A failed load therefore leaves no new or partial tables, and tables that existed before are untouched.
    """
    if _in_transaction(conn):  # a second BEGIN would fail and abort the caller's transaction: refuse first
        raise HitlabError(
            "the DuckDB connection already has an open transaction; commit or roll it back before loading"
        )
    conn.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _in_transaction(conn: duckdb.DuckDBPyConnection) -> bool:
    """Whether an explicit transaction is open: in autocommit mode each statement gets a new transaction id."""
    first = conn.execute("SELECT txid_current()").fetchall()[0][0]
    return conn.execute("SELECT txid_current()").fetchall()[0][0] == first


_RESTORED = ("threads", "memory_limit", "enable_progress_bar")


@contextlib.contextmanager
def settings_restored(conn: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Restore the DuckDB settings a load changes (``threads``, ``memory_limit``, ``enable_progress_bar``)
    after the block, even after a transaction that failed (SET is not transactional, and an aborted
    transaction refuses it, hence outside). Inside, the progress bar is off: a load prints only its report."""
    saved = {name: conn.execute(f"SELECT current_setting('{name}')").fetchall()[0][0] for name in _RESTORED}
    conn.execute("SET enable_progress_bar = false")
    try:
        yield
    finally:
        for name, value in saved.items():
            conn.execute(f"SET {name} = {quote_literal(str(value)) if isinstance(value, str) else value}")


def is_file_backed(conn: duckdb.DuckDBPyConnection) -> bool:
    """Whether the connection's default database lives in a file (so large intermediates can spill to disk)."""
    rows = conn.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchall()
    return bool(rows and rows[0][0])


def quote_ident(name: str) -> str:
    """``name`` as a double-quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """``text`` as a single-quoted SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def row_count(conn: duckdb.DuckDBPyConnection, table: str) -> int:
    return conn.execute(f"SELECT count(*) FROM {quote_ident(table)}").fetchone()[0]
