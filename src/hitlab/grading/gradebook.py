"""The cohort's gradebook: nbgrader's own (SQLite by default, PostgreSQL through a URL), written by the
runner alone, one submission at a time, plus a ``hitlab_status`` table with each submission's grading
status and the checksum of the file that was graded (what makes a rerun resume instead of regrade).

A submission's nbgrader rows are updated in place, never added twice (manual grades are kept); its status
row is written last, so a run
interrupted in between regrades that submission next time. Writes that collide with another grader on
the same database (two ``hitlab grade`` runs at once) are retried.
"""

from __future__ import annotations

import contextlib
import fcntl
import shutil
import time
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import (
    Column,
    Float,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    insert,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from hitlab.errors import HitlabError

COURSE_ID = "hitlab"
_meta = MetaData()
status_table = Table(
    "hitlab_status",
    _meta,
    Column("student_id", String(128), primary_key=True),
    Column("assignment", String(128), primary_key=True),
    Column("status", String(32), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Column("sha256", String(64), nullable=False, default=""),
    Column("seconds", Float),
    Column("graded_at", String(40), nullable=False),
)


def database_url(db_url: str | None, out: Path) -> str:
    """The gradebook's SQLAlchemy URL: ``OUT/gradebook.db`` by default; ``postgresql://`` URLs use psycopg 3."""
    if not db_url:
        return f"sqlite:///{(out / 'gradebook.db').resolve()}"
    if db_url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + db_url.split("://", 1)[1]
    return db_url


def retrying(action, attempts: int = 8):
    """Run ``action()``; retry when a concurrent writer made it fail (unique key taken, database locked)."""
    for attempt in range(attempts):
        try:
            return action()
        except (IntegrityError, OperationalError, DBAPIError) as err:
            if attempt == attempts - 1:
                raise HitlabError(f"the gradebook refused a write: {err.orig or err}") from err
            time.sleep(0.05 * 2**attempt)
        except Exception as err:  # nbgrader wraps IntegrityError in its InvalidEntry
            if type(err).__name__ != "InvalidEntry" or attempt == attempts - 1:
                raise
            time.sleep(0.05 * 2**attempt)
    return None


@contextlib.contextmanager
def _schema_lock(url: str) -> Iterator[None]:
    """Only one grader creates the tables of a new gradebook."""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(f"{path}.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield
        return
    engine = create_engine(url)
    try:
        with engine.connect() as con:
            if con.dialect.name == "postgresql":
                con.execute(text("select pg_advisory_lock(424242)"))
            try:
                yield
            finally:
                if con.dialect.name == "postgresql":
                    con.execute(text("select pg_advisory_unlock(424242)"))
    finally:
        engine.dispose()


@contextlib.contextmanager
def open_gradebook(url: str, seed: Path | None = None):
    """nbgrader's :class:`~nbgrader.api.Gradebook` on ``url``, with the status table, created if need be.

    A new SQLite gradebook starts as a copy of ``seed`` (a gradebook nbgrader made for the labs): nbgrader
    creating one from nothing runs ``alembic`` in a subprocess, seconds on a busy machine."""
    from nbgrader.api import Gradebook

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with _schema_lock(url):
                path = Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None
                if seed is not None and path is not None and not path.exists():
                    shutil.copyfile(seed, path)
                gb = Gradebook(url, COURSE_ID)
                _meta.create_all(gb.engine)
    except (OperationalError, DBAPIError) as err:
        raise HitlabError(f"cannot open the gradebook at {_redacted(url)}: {err.orig or err}") from None
    try:
        yield gb
    finally:
        gb.close()


def _redacted(url: str) -> str:
    head, sep, tail = url.rpartition("@")
    return (head.split("://")[0] + "://***@" + tail) if sep else url


def _structure(gb, lab: str):
    """What identifies a lab's assignment in a gradebook: its cells, their points and source checksums."""
    from nbgrader.api import MissingEntry

    try:
        assignment = gb.find_assignment(lab)
    except MissingEntry:
        return None
    return sorted(
        (
            nb.name,
            cell.name,
            type(cell).__name__,
            getattr(cell, "max_score", None),
            getattr(cell, "checksum", None),
        )
        for nb in assignment.notebooks
        for cell in [*nb.grade_cells, *nb.solution_cells, *nb.task_cells, *nb.source_cells]
    )


def copy_structure(gb, template, labs: list[str]) -> None:
    """Give ``gb`` the labs' assignments, notebooks and cells as nbgrader's generate_assignment recorded them in
    the ``template`` gradebook (so formgrader and exports know every item and its points); a lab already
    recorded identically is left alone."""
    for lab in labs:
        if _structure(gb, lab) == _structure(template, lab):
            continue
        assignment = template.find_assignment(lab)

        def write(assignment=assignment, lab=lab):
            gb.update_or_create_assignment(lab, duedate=assignment.duedate)
            for nb in assignment.notebooks:
                gb.update_or_create_notebook(nb.name, lab)
                for cell in nb.grade_cells:
                    gb.update_or_create_grade_cell(
                        cell.name, nb.name, lab, max_score=cell.max_score, cell_type=cell.cell_type
                    )
                for cell in nb.solution_cells:
                    gb.update_or_create_solution_cell(cell.name, nb.name, lab)
                for cell in nb.task_cells:
                    gb.update_or_create_task_cell(cell.name, nb.name, lab, max_score=cell.max_score)
                for cell in nb.source_cells:
                    gb.update_or_create_source_cell(
                        cell.name, nb.name, lab, source=cell.source, checksum=cell.checksum,
                        cell_type=cell.cell_type, locked=cell.locked,
                    )  # fmt: skip

        retrying(write)


def add_students(gb, roster: list[dict[str, str]]) -> None:
    for row in roster:
        fields = {k: row[k] for k in ("first_name", "last_name", "email") if row.get(k)}
        retrying(lambda row=row, fields=fields: gb.update_or_create_student(row["id"], **fields))


def statuses(gb, labs: list[str] | None = None) -> dict[tuple[str, str], dict]:
    """``(student_id, assignment) -> status row`` for the labs (all when None)."""
    query = select(status_table)
    if labs:
        query = query.where(status_table.c.assignment.in_(labs))
    with gb.engine.connect() as con:
        return {(r.student_id, r.assignment): dict(r._mapping) for r in con.execute(query)}


def drop_statuses(gb, keys: list[tuple[str, str]]) -> None:
    """Forget the status rows of these ``(student_id, assignment)`` pairs."""
    if not keys:
        return

    def write():
        with gb.engine.begin() as con:
            for student, lab in keys:
                con.execute(
                    delete(status_table).where(
                        (status_table.c.student_id == student) & (status_table.c.assignment == lab)
                    )
                )

    retrying(write)


def record(gb, outcome, timestamp: datetime | None = None) -> None:
    """Write one outcome: the nbgrader submission with its grades (an earlier one is updated in place, keeping
    its manual grades), then the status."""
    from nbgrader.api import MissingEntry

    stamp = timestamp or datetime.now(UTC)

    def write_submission():
        gb.db.rollback()
        if outcome.status == "invalid_submission":  # a stand-in id for an unusable name: no nbgrader student
            return
        gb.update_or_create_student(outcome.student)
        try:
            sub = gb.find_submission(outcome.lab, outcome.student)
        except MissingEntry:
            sub = None
        if not outcome.grades:  # nothing gradable was handed in (this time): no submission in the gradebook
            if sub is not None:
                gb.remove_submission(outcome.lab, outcome.student)
            return
        if sub is None:
            sub = gb.add_submission(outcome.lab, outcome.student, timestamp=stamp)
        else:  # regraded: update in place, as nbgrader's autograde does, keeping manual grades and comments
            sub.timestamp = stamp
        for notebook in sub.notebooks:
            for grade in notebook.grades:
                found = outcome.grades.get(grade.name)
                if found is not None:
                    grade.auto_score = found["auto_score"]
                    # nbgrader's rule (SaveAutoGrades): a manual grade on record asks for a review
                    grade.needs_manual_grade = grade.manual_score is not None or grade.auto_score is None
            for comment in notebook.comments:
                found = outcome.grades.get(comment.name, {})
                comment.auto_comment = found.get("auto_comment")
        gb.db.commit()

    def write_status():
        row = {
            "student_id": outcome.student,
            "assignment": outcome.lab,
            "status": outcome.status,
            "detail": outcome.detail,
            "sha256": outcome.sha256,
            "seconds": round(outcome.seconds, 3),
            "graded_at": stamp.isoformat(timespec="seconds"),
        }
        with gb.engine.begin() as con:
            con.execute(
                delete(status_table).where(
                    (status_table.c.student_id == outcome.student)
                    & (status_table.c.assignment == outcome.lab)
                )
            )
            con.execute(insert(status_table).values(**row))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        retrying(write_submission)
        retrying(write_status)


def item_scores(gb, labs: list[str]) -> dict[str, dict[str, dict[str, tuple[float, float]]]]:
    """``lab -> student -> grade cell -> (score, max_score)`` for every submission in the gradebook."""
    out: dict[str, dict[str, dict[str, tuple[float, float]]]] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for lab in labs:
            per_student = out.setdefault(lab, {})
            for sub in gb.assignment_submissions(lab):
                cells = per_student.setdefault(sub.student.id, {})
                for notebook in sub.notebooks:
                    for grade in notebook.grades:
                        cells[grade.name] = (float(grade.score or 0.0), float(grade.max_score or 0.0))
    return out
