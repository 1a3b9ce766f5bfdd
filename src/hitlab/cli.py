"""The ``hitlab`` command line: a thin layer over :mod:`hitlab.api`.

Each command calls one public function and turns :class:`hitlab.errors.HitlabError` into a clean message and
exit status 2; anything else is a bug and keeps its traceback. Every ``--help`` ends with an example.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import click

from hitlab import __version__
from hitlab.errors import HitlabError

# jsonschema (which nbformat imports) loads its optional RFC 3987 IRI checker, rfc3987-syntax, when installed (a
# Jupyter dependency installs it); that import compiles 39 grammars, 1 to 4 s of every command's start-up on this
# project's machine, for checks no hitlab command uses: nbformat's schemas have no "format" keyword, and without
# the module jsonschema just skips "iri" formats. Commands start without it; kernels and servers are unaffected.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


def _example(command: str) -> str:
    """An epilog that ends ``--help`` with an example (``\\b`` keeps click from rewrapping it)."""
    return f"\b\nExample:\n  {command}"


def _clean_errors(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except HitlabError as err:
            click.secho(f"error: {err}", fg="red", err=True)
            sys.exit(2)

    return wrapper


@click.group(
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=_example("hitlab data build && hitlab lab"),
)
@click.version_option(__version__, prog_name="hitlab")
def main() -> None:
    """hitlab: healthcare-IT interview labs on synthetic patient data."""


@main.group(epilog=_example("hitlab data generate --patients 100 --seed 7 --out pop"))
def data() -> None:
    """Generate, load and build the synthetic patient data."""


@data.command(
    "generate", epilog=_example("hitlab data generate --patients 500 --seed 42 --out pop --defects")
)
@click.option("--patients", "-n", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option("--seed", "-s", type=int, default=1, show_default=True)
@click.option("--out", "-o", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option(
    "--formats",
    default="csv,fhir,hl7v2",
    show_default=True,
    help="Comma-separated subset of csv, fhir, hl7v2.",
)
@click.option("--defects", is_flag=True, help="Plant known data-quality problems, listed in manifest.json.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@_clean_errors
def data_generate(patients: int, seed: int, out: Path, formats: str, defects: bool, quiet: bool) -> None:
    """Write a synthetic population as Synthea CSV, FHIR R4 bundles and an HL7 v2.5.1 feed."""
    from hitlab.api import generate

    manifest = generate(
        patients=patients,
        seed=seed,
        out=out,
        formats=[f.strip() for f in formats.split(",") if f.strip()],
        defects=defects,
        progress=not quiet,
    )
    click.echo(f"wrote {manifest['patients']} patients to {out}")
    for name, count in sorted(manifest["counts"].items()):
        click.echo(f"  {name:<28} {count:>10,}")


@data.command("load", epilog=_example("hitlab data load pop --db pop.duckdb"))
@click.argument("src", type=click.Path(exists=True, path_type=Path))
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), required=True, help="DuckDB file.")
@_clean_errors
def data_load(src: Path, db: Path) -> None:
    """Load Synthea CSV (dir or zip), FHIR bundles (dir, file or NDJSON) or a hitlab dataset into DuckDB."""
    from hitlab.api import load

    report = load(src, db)
    click.echo(report.summary())


@data.command("build", epilog=_example("hitlab data build --dataset defects"))
@click.option(
    "--dataset", default="default", show_default=True, help="default, defects, analytics or analytics-holdout"
)
@click.option("--force", is_flag=True, help="Rebuild even if the dataset exists.")
@click.option(
    "--seed",
    type=click.IntRange(min=1),
    default=None,
    help="Build this variant (a learner's dataset seed) instead of the one this environment uses.",
)
@_clean_errors
def data_build(dataset: str, force: bool, seed: int | None) -> None:
    """Build a dataset (generate and load) into data/generated/, if it is missing: the named one, or your own
    variant of it if you have a personal key (HITLAB_KEY or ~/.hitlab/key)."""
    if seed is not None:
        from hitlab.data import build_variant

        path = build_variant(seed, [dataset], force=force, progress=True)[dataset]
    else:
        from hitlab.api import build_dataset

        path = build_dataset(dataset, force=force, progress=True)
    click.echo(f"dataset {dataset!r} ready: {path}")


@data.command("variants", epilog=_example("hitlab data variants --max 50"))
@click.option(
    "--max", "keep", type=click.IntRange(min=0), default=None, help="Keep the N most recently used."
)
@click.option(
    "--max-bytes", type=click.IntRange(min=0), default=None, help="Keep at most this many bytes of variants."
)
@_clean_errors
def data_variants(keep: int | None, max_bytes: int | None) -> None:
    """List the learners' dataset variants built here; with --max or --max-bytes, delete the least recently
    used ones beyond that (the named datasets are never deleted)."""
    from hitlab.data import evict_variants, list_variants

    if keep is not None or max_bytes is not None:
        for seed in evict_variants(keep=keep, max_bytes=max_bytes):
            click.echo(f"deleted variant {seed}")
    import time

    for v in list_variants():
        used = time.strftime("%Y-%m-%d %H:%M", time.localtime(v.last_used))
        click.echo(f"{v.seed:>16}  {v.size / 2**20:8.1f} MiB  used {used}  {', '.join(v.datasets) or '-'}")


@main.command("lab", epilog=_example("hitlab lab --no-browser --port 8888"))
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port (default: Jupyter's choice).")
@click.option("--no-browser", is_flag=True, help="Do not open a browser.")
@click.option(
    "--instructor",
    is_flag=True,
    help="Also show nbgrader's instructor tools (formgrader, Create Assignment).",
)
@_clean_errors
def lab(port: int | None, no_browser: bool, instructor: bool) -> None:
    """Start JupyterLab on your working copy, work/ (made from labs/ the first time; labs/ stays as released)."""
    from hitlab.api import run_lab

    sys.exit(run_lab(port=port, open_browser=not no_browser, instructor=instructor, notify=click.echo))


@main.group(epilog=_example("hitlab course verify lab01"))
def course() -> None:
    """Author and prove the labs: build labs/ from solutions/, lint the sources, verify the grading."""


_LABS = click.argument("labs", nargs=-1)


@course.command("build", epilog=_example("hitlab course build lab01 lab02"))
@_LABS
@_clean_errors
def course_build(labs: tuple[str, ...]) -> None:
    """Regenerate the learners' notebooks in labs/ from solutions/ (all labs, or those named)."""
    from hitlab.api import build_labs

    for path in build_labs(labs):
        click.echo(f"built {path}")


@course.command("lint", epilog=_example("hitlab course lint"))
@_LABS
@_clean_errors
def course_lint(labs: tuple[str, ...]) -> None:
    """Check the source notebooks and their checks modules; exit status 1 if anything is wrong."""
    from hitlab.api import lint_labs

    problems = lint_labs(labs)
    for problem in problems:
        click.echo(problem)
    if problems:
        sys.exit(1)
    click.echo("lint: no problems")


@course.command("release", epilog=_example("hitlab course release --exam --out graders/work/exam-release"))
@click.argument("labs", nargs=-1)
@click.option("--exam", is_flag=True, required=True, help="The release of a graded cohort: no answers in it.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="A new or empty folder for the release.")  # fmt: skip
@click.option("--course", default="hitlab", show_default=True, help="The course's name, shown to learners.")
@click.option("--hints/--no-hints", default=True, show_default=True, help="Whether qN.hint() gives hints.")
@_clean_errors
def course_release(labs: tuple[str, ...], exam: bool, out: Path, course: str, hints: bool) -> None:
    """Write what the learners of a graded cohort get: the labs as released and a hitlab without answers."""
    from hitlab.course.notebooks import course_root
    from hitlab.course.release import release_exam

    folder = release_exam(out, list(labs) or None, root=course_root(), course=course, hints=hints)
    click.echo(f"exam release written to {folder}: install it with `pip install {folder / 'python'}`")


@course.command("verify", epilog=_example("hitlab course verify lab00 --seed 2"))
@_LABS
@click.option(
    "--seed",
    "seeds",
    type=click.IntRange(min=1),
    multiple=True,
    help="Verify on this learner's dataset variant (repeatable); default: the named datasets.",
)
@_clean_errors
def course_verify(labs: tuple[str, ...], seeds: tuple[int, ...]) -> None:
    """Prove each lab's grading with real nbgrader autograde runs; exit status 1 if any proof fails."""
    from hitlab.api import verify_labs

    reports = verify_labs(labs, seeds=seeds or (None,))
    for report in reports:
        click.echo(report.summary())
    if not all(r.ok for r in reports):
        sys.exit(1)


@course.command("secret", epilog=_example("hitlab course secret --out course_secret"))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="New file.")
@_clean_errors
def course_secret(out: Path) -> None:
    """Write a new random course secret (mode 0600; an existing file is never overwritten). Keep it safe:
    every learner's key and dataset come from it."""
    from hitlab.cohort_keys import new_secret

    click.echo(f"wrote a new course secret to {new_secret(out)}")


@course.command(
    "keys", epilog=_example("hitlab course keys --secret course_secret --students s001 s002 --out keys")
)
@click.option(
    "--secret", type=click.Path(dir_okay=False, path_type=Path), required=True, help="The course secret."
)
@click.option("--students", "students_flag", is_flag=True, help="The student ids follow (STUDENT ...).")
@click.argument("students", nargs=-1)
@click.option(
    "--roster", type=click.Path(dir_okay=False, path_type=Path), help="A CSV file with a 'student' column."
)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Folder.")
@_clean_errors
def course_keys(
    secret: Path, students_flag: bool, students: tuple[str, ...], roster: Path | None, out: Path
) -> None:
    """Write each student's personal key to OUT/<student>.key, for the instructor to hand out."""
    from hitlab.cohort_keys import read_roster, read_secret, write_keys

    ids = [*students, *(read_roster(roster) if roster else [])]
    paths = write_keys(read_secret(secret), ids, out)
    click.echo(f"wrote {len(paths)} key file(s) to {out}")


@main.command(
    "check", epilog=_example("hitlab check labs/lab02_sql_patient_data/lab02_sql_patient_data.ipynb")
)
@click.argument("notebook", type=click.Path(path_type=Path))
@_clean_errors
def check(notebook: Path) -> None:
    """Grade your saved lab notebook in a fresh kernel, as an instructor would; the file is not changed."""
    from rich.console import Console
    from rich.table import Table

    from hitlab.api import check_notebook

    report = check_notebook(notebook)
    console = Console()
    for note in report.tampered:
        console.print(f"[yellow]note:[/] {note}")
    table = Table(title=f"{report.lab}: {report.score:g} / {report.max_score:g}")
    table.add_column("item")
    table.add_column("score", justify="right")
    table.add_column("feedback")
    for item in report.items:
        ok = item.score >= item.points
        feedback = (
            "" if ok else "\n".join(x for x in (item.message, f"hint: {item.hint}" if item.hint else "") if x)
        )
        table.add_row(item.title, f"{item.score:g} / {item.points:g}", feedback, style=None if ok else "red")
    console.print(table)


@main.command("progress", epilog=_example("hitlab progress"))
@_clean_errors
def progress() -> None:
    """Show the latest `hitlab check` score of every lab, and your mock interviews' scores per topic."""
    from rich.console import Console
    from rich.table import Table

    from hitlab.api import mock_progress, progress_rows

    console = Console()
    table = Table(title="hitlab progress: labs")
    for name in ("lab", "score", "checked (UTC)"):
        table.add_column(name)
    for row in progress_rows():
        table.add_row(*row)
    console.print(table)
    topics, weakest, attempts, damaged = mock_progress()
    for err in damaged:
        console.print(f"[yellow]note:[/] skipped a damaged mock-interview record: {err}", highlight=False)
    if not topics:
        console.print(
            "No mock interview scored yet: `hitlab mock --track TRACK` starts one (`hitlab mock tracks`)."
        )
        return
    scored = [a for a in attempts if a.results]
    table = Table(title=f"mock interviews: {len(scored)} scored, score per topic (oldest → latest)")
    for name in ("topic", "attempts", "trend", "recent level"):
        table.add_column(name, justify="right" if name == "attempts" else "left")
    for tp in topics:
        table.add_row(tp.topic, str(len(tp.shares)), tp.trend(), f"{tp.level:.0%}")
    console.print(table)
    if weakest:
        console.print("[bold]Weakest topics, and where to revisit them:[/]")
        for tp in weakest:
            places = "; ".join(
                f"{section} ({', '.join(sorted(ids))})" for section, ids in sorted(tp.lost.items())
            )
            console.print(f"  {tp.topic} ({tp.level:.0%}): {places}", highlight=False)


_TRACK_HELP = "Role track: `hitlab mock tracks` lists them."


@main.group(
    "mock",
    invoke_without_command=True,
    epilog=_example("hitlab mock --track interface-engineer --minutes 45"),
)
@click.option("--track", "-t", help=_TRACK_HELP)
@click.option("--minutes", "-m", type=click.IntRange(min=1), default=45, show_default=True, help="Length.")
@click.option("--seed", type=int, default=None, help="Fix the draw's randomness (repeat a draw).")
@click.option(
    "--interviewer", is_flag=True, help="Print the interviewer's sheet (of the new draw, or --attempt)."
)
@click.option(
    "--attempt", "attempt_id", default=None, help="With --interviewer: an earlier attempt (default: latest)."
)
@click.option(
    "--html",
    "html_out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="With --interviewer: write the sheet as an HTML page here instead of printing it.",
)
@click.option("--no-lab", is_flag=True, help="Do not start JupyterLab on the new notebook.")
@click.option("--list", "list_attempts", is_flag=True, help="List your recorded attempts.")
@click.pass_context
@_clean_errors
def mock(ctx, track, minutes, seed, interviewer, attempt_id, html_out, no_lab, list_attempts) -> None:
    """A timed mock interview for a role track, drawn from every lab: coding and SQL questions graded by the
    labs' checks, design and behavioural questions assessed with their rubric.

    \b
    hitlab mock --track data-engineer --minutes 45    draw, write work/mock/<id>.ipynb, open JupyterLab
    hitlab mock score                                 grade it, assess the written answers, record
    hitlab mock --interviewer [--html sheet.html]     the interviewer's sheet of the latest draw
    hitlab progress                                   score per topic over attempts, weakest topics
    """
    from hitlab.checks.core import exam_release

    if exam_release():  # the mock interviews are drawn from the worked answers, which this release lacks
        raise HitlabError("mock interviews are for self-study: this course's release has no worked answers")
    if ctx.invoked_subcommand:
        return
    from hitlab import api

    if list_attempts:
        for a in api.mock_progress()[2]:
            got, possible = a.score()
            status = f"{got:g} / {possible:g}" if a.results else "not scored"
            click.echo(f"{a.id}  {a.track:<18} {a.minutes:>3} min  {len(a.items):>2} questions  {status}")
        return
    if track is None and not interviewer:
        raise click.UsageError("choose a role track with --track (see `hitlab mock tracks`)")
    if track is not None:
        attempt, path = api.start_mock(track, minutes, seed)
        click.echo(
            f"mock interview {attempt.id}: {len(attempt.items)} questions, {minutes} minutes, "
            f"ends at {attempt.deadline:%H:%M} UTC"
        )
        click.echo(f"notebook: {attempt.notebook} (in {path.parents[2]})")
        for n, d in enumerate(attempt.items, 1):
            kind = "checks" if d.kind == "auto" else "rubric"
            click.echo(f"  {n:>2}. {d.id:<34} {d.topic:<32} {d.minutes:>2} min  {d.points:g} pts  ({kind})")
        attempt_id = attempt.id
    if interviewer:
        sheet = api.interviewer_sheet(attempt_id, as_html=html_out is not None)
        if html_out is not None:
            html_out.write_text(sheet, encoding="utf-8")
            click.echo(f"interviewer's sheet: {html_out}")
        else:
            click.echo(sheet)
        return
    if not no_lab:
        click.echo(f"when time is up: save, then run `hitlab mock score {attempt_id}`")
        sys.exit(
            api.run_lab(
                open_browser=True, notify=click.echo, open_path=str(path.relative_to(path.parents[2]))
            )
        )


@mock.command("tracks", epilog=_example("hitlab mock tracks"))
@_clean_errors
def mock_tracks() -> None:
    """List the role tracks and how many questions each can draw from."""
    from hitlab.api import mock_pool

    pool = mock_pool()
    for name, track in pool.tracks.items():
        items = pool.drawable(name)
        auto = sum(i.kind == "auto" for i in items)
        click.echo(
            f"{name:<18} {track.title}: {auto} coding/SQL and {len(items) - auto} written questions. "
            f"{track.about}"
        )


def _points(values: tuple[str, ...]) -> dict[str, float]:
    out = {}
    for value in values:
        item, sep, number = value.partition("=")
        try:
            if not sep:
                raise ValueError
            out[item.strip()] = float(number)
        except ValueError:
            raise click.BadParameter(f"{value!r}: write ITEM=POINTS, e.g. lab10_star_incident=2") from None
    return out


@mock.command("score", epilog=_example("hitlab mock score --assessor peer --points lab10_star_incident=2"))
@click.argument("attempt_id", required=False)
@click.option("--points", "-p", multiple=True, help="A written item's points, ITEM=N (repeatable).")
@click.option(
    "--assessor",
    type=click.Choice(["self", "peer", "instructor"]),
    default="self",
    show_default=True,
    help="Who assessed the written answers (recorded with their points).",
)
@click.option(
    "--no-regrade", is_flag=True, help="Keep the coding items' earlier grades; only record assessments."
)
@click.option(
    "--ask/--no-ask", default=None, help="Ask for each written answer's points (default: on a terminal)."
)
@_clean_errors
def mock_score(attempt_id, points, assessor, no_regrade, ask) -> None:
    """Grade a mock interview (default: the latest): coding items by the checks, then the written answers by
    you or your interviewer against each rubric (asked here unless given with --points)."""
    from rich.console import Console
    from rich.markdown import Markdown
    from rich.table import Table

    from hitlab.api import score_mock

    console = Console()
    interactive = not points and (sys.stdin.isatty() if ask is None else ask)

    def ask_points(item, answer):
        console.rule(f"{item.title} ({item.points:g} points, {assessor}-assessed)")
        console.print(Markdown(f"**Your answer:**\n\n{answer or '(no answer)'}"))
        console.print(Markdown(item.rubric))
        return (
            click.prompt(
                f"points for {item.id} (0 to {item.points:g}, empty to skip)",
                type=click.FloatRange(0, item.points),
                default="",
                show_default=False,
            )
            or None
        )

    console.print("grading the coding and SQL questions with the labs' checks (a fresh kernel)...")
    attempt = score_mock(
        attempt_id, _points(points), assessor, ask_points if interactive else None, not no_regrade
    )
    got, possible = attempt.score()
    table = Table(title=f"mock interview {attempt.id}: {got:g} / {possible:g}")
    for name in ("item", "topic", "score", "graded by", "feedback"):
        table.add_column(name)
    for d in attempt.items:
        r = attempt.results.get(d.id)
        if r is None:
            table.add_row(
                d.id, d.topic, f"? / {d.points:g}", "not assessed yet", "`hitlab mock score --points`"
            )
            continue
        ok = r.score >= r.points
        table.add_row(
            d.id,
            d.topic,
            f"{r.score:g} / {r.points:g}",
            r.graded_by,
            "" if ok else r.message,
            style=None if ok else "red",
        )
    console.print(table)
    if attempt.elapsed_minutes is not None:
        over = attempt.elapsed_minutes - attempt.minutes
        when = f"{over:.0f} minutes over time" if over > 0 else "within time"
        console.print(f"last saved {attempt.elapsed_minutes:.0f} minutes after the start: {when}.")
    if not attempt.complete:
        console.print("Written answers not yet assessed: `hitlab mock score ID --points ITEM=N`.")


@main.command(
    "grade",
    epilog=_example(
        "hitlab grade graders/work/sample --out graders/work/sample-grades --labs lab00,lab01 --workers 2"
    ),
)
@click.argument("submissions", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--out",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for the gradebook, grades.csv, status.csv, feedback/ and report.html.",
)
@click.option("--labs", default="", help="Comma-separated labs (default: all), e.g. lab01,lab02.")
@click.option(
    "--workers",
    "-j",
    type=click.IntRange(min=1),
    default=None,
    help="Notebooks graded at once (default: the number of cores).",
)
@click.option(
    "--db-url",
    default=None,
    envvar="HITLAB_DB_URL",
    help="Gradebook database URL, e.g. postgresql://user@host/db (default: OUT/gradebook.db); also read from"
    " HITLAB_DB_URL, which keeps a password out of the process list.",
)
@click.option(
    "--roster",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="CSV of students (id, first_name, last_name, email); who has no submission is 'missing'.",
)
@click.option(
    "--timeout", type=click.IntRange(min=1), default=120, show_default=True, help="Seconds one cell may run."
)
@click.option(
    "--notebook-timeout",
    type=click.IntRange(min=1),
    default=900,
    show_default=True,
    help="Seconds one notebook may take in all.",
)
@click.option(
    "--pattern",
    default=None,
    help="Regular expression for LMS download names, with student_id and file_id groups.",
)
@click.option("--force", is_flag=True, help="Regrade submissions already in the gradebook.")
@click.option(
    "--no-sandbox",
    is_flag=True,
    help="Run kernels unconfined where the sandbox cannot work; only inside a container or VM of its own.",
)
@click.option(
    "--exam",
    is_flag=True,
    help="A graded cohort: the learner's code runs with the exam release (no answers), and every auto-graded "
    "score comes from the course's checks run outside the learner's kernel (see graders/README.md).",
)
@click.option(
    "--secret",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="The course secret (hitlab course secret): grade each student on their own datasets.",
)
@click.option(
    "--cluster",
    default=None,
    envvar="HITLAB_CLUSTER",
    help="Grade on the workers of this Dask scheduler (e.g. tcp://10.0.0.5:8786; also read from HITLAB_CLUSTER)"
    " instead of --workers slots here; the gradebook and outputs are still written here.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@_clean_errors
def grade(submissions: Path, out: Path, labs: str, workers: int | None, db_url: str | None,
          roster: Path | None, timeout: int, notebook_timeout: int, pattern: str | None, force: bool,
          no_sandbox: bool, exam: bool, secret: Path | None, cluster: str | None, quiet: bool) -> None:  # fmt: skip
    """Grade a cohort: SUBMISSIONS is an nbgrader submitted/ folder, or a folder or zip of LMS downloads."""
    from rich.progress import Progress

    from hitlab.api import grade as grade_cohort
    from hitlab.grading import DEFAULT_LMS_PATTERN

    with Progress(disable=quiet, transient=False) as bar:
        task = bar.add_task("grading", total=None)
        run = grade_cohort(
            submissions, out, [x.strip() for x in labs.split(",") if x.strip()] or None,
            workers=workers, db_url=db_url, roster=roster, timeout=timeout,
            notebook_timeout=notebook_timeout, force=force, pattern=pattern or DEFAULT_LMS_PATTERN,
            sandbox=not no_sandbox, exam=exam, secret=secret, cluster=cluster, on_start=lambda n: bar.update(task, total=n),
            on_outcome=lambda o: bar.update(task, advance=1, description=f"{o.lab} {o.student}: {o.status}"),
        )  # fmt: skip
    if run.sandbox.startswith("off"):
        click.echo(f"warning: sandbox {run.sandbox}", err=True)
    for error in run.errors:
        click.echo(f"error: {error}", err=True)
    for name, why in run.unmatched:
        click.echo(f"not graded: {name}: {why}", err=True)
    if run.other_labs:
        click.echo(
            f"set aside: {len(run.other_labs)} files of labs not named in --labs (listed in grading.log)"
        )
    counts: dict[str, int] = {}
    for outcome in run.graded + run.refused + run.missing:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "nothing new"
    click.echo(
        f"graded {len(run.graded)} notebooks in {run.seconds:.0f} s ({summary}); "
        f"{len(run.skipped)} already graded and unchanged; results in {run.out}"
    )


@main.group(epilog=_example("hitlab practice serve --port 8790"))
def practice() -> None:
    """The practice servers of labs 03 and 07 (MLLP, MLLP over TLS, SMART) for a graded course."""


@practice.command("serve", epilog=_example("hitlab practice serve --port 8790"))
@click.option(
    "--port", type=click.IntRange(0, 65535), default=0, show_default=True, help="The index's port (0: any)."
)
@_clean_errors
def practice_serve(port: int) -> None:
    """Run every practice server on 127.0.0.1 until stopped (Ctrl-C or SIGTERM), from this full install. The
    learners' kernels (an exam release, which has no server code) find them through HITLAB_PRACTICE."""
    import contextlib
    import signal
    import threading

    try:
        from hitlab.practice.service import running
    except ImportError as err:
        raise HitlabError(
            f"this install has no practice servers ({err}): run them from the instructor's full install"
        ) from None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with running(port) as service:
        click.echo(f"practice servers ready: HITLAB_PRACTICE={service.url}", nl=True)
        sys.stdout.flush()
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    click.echo("practice servers stopped")


@main.command("update", epilog=_example("hitlab update lab01"))
@click.argument("labs", nargs=-1)
@_clean_errors
def update(labs: tuple[str, ...]) -> None:
    """Take newer releases of your labs from labs/ into work/, keeping your answers (all labs, or those named).

    The previous copy stays next to the new one as LAB.backup-TIME.ipynb.
    """
    from hitlab.api import update_work

    for report in update_work(labs):
        click.echo(report.summary())


if __name__ == "__main__":  # pragma: no cover
    main()
