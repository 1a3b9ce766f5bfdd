"""One benchmark operation, run in a fresh process by ``benchmarks/run.py``.

Usage: ``python child.py OPERATION RESULT_JSON ARGS_JSON``

Every operation times only its own work (after imports) with ``time.perf_counter`` and
writes ``{"seconds": ..., ...}`` to RESULT_JSON. The parent reads the process's peak RSS
from ``os.wait4``. This file imports only the standard library at module level because
it also runs inside the PySynthea venv, where hitlab, DuckDB and fhir.resources are absent.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path


def _timed(fn, *args, **kwargs):
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return time.perf_counter() - start, value


def gen_hitlab(patients: int, seed: int, out: str, formats: list[str]) -> dict:
    from hitlab.synth import generate

    seconds, manifest = _timed(
        generate, patients=patients, seed=seed, out=out, formats=formats, defects=False, progress=False
    )
    return {
        "seconds": seconds,
        "patients": patients,
        "fhir_resources": manifest.get("counts", {}).get("fhir_resources"),
        "manifest": manifest,
    }


def gen_pysynthea(patients: int, seed: int, out: str, reference_date: str) -> dict:
    """Drive PySynthea the way its CLI (``synthea.cli:main``) does, in-process."""
    from datetime import datetime

    import synthea
    from synthea.engine.generator import Generator, GeneratorOptions
    from synthea.helpers.config import Config

    def run() -> dict:
        options = GeneratorOptions()
        options.population_size = patients
        options.seed = seed
        options.reference_date = datetime.strptime(reference_date, "%Y%m%d")
        options.reference_date_explicit = True
        config = Config()
        config.load()
        config.set("exporter.baseDirectory", out)
        generator = Generator(options, config=config)
        generator.run()
        return dict(generator.stats)

    seconds, stats = _timed(run)
    files = sorted(p for p in Path(out).rglob("*") if p.is_file())
    return {
        "seconds": seconds,
        "patients": patients,
        "version": synthea.__version__,
        "stats": stats,
        "files": len(files),
        "bytes": sum(p.stat().st_size for p in files),
        # one bundle at a time, so that counting does not raise the peak RSS
        "fhir_resources": sum(
            len(json.loads(p.read_bytes()).get("entry") or ()) for p in files if p.suffix == ".json"
        ),
    }


def _table_rows(con) -> dict[str, int]:
    names = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
    return {n: con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}


def load_csv(src: str) -> dict:
    import duckdb

    from hitlab.load import load_csv as hitlab_load_csv

    con = duckdb.connect()
    seconds, _ = _timed(hitlab_load_csv, src, con)
    rows = _table_rows(con)
    return {"seconds": seconds, "tables": len(rows), "rows": sum(rows.values())}


def csv_baseline(src: str) -> dict:
    """Bare DuckDB: one ``CREATE TABLE ... AS SELECT * FROM read_csv(...)`` per file."""
    import duckdb

    files = sorted(Path(src).glob("*.csv"))
    con = duckdb.connect()

    def run() -> None:
        for path in files:
            literal = str(path).replace("'", "''")
            con.execute(f"CREATE TABLE \"{path.stem}\" AS SELECT * FROM read_csv('{literal}', header=true)")

    seconds, _ = _timed(run)
    rows = _table_rows(con)
    return {"seconds": seconds, "tables": len(rows), "rows": sum(rows.values())}


def load_fhir(src: str, into_file: bool = False, one_batch: bool = False) -> dict:
    """hitlab's FHIR load: into memory (like for like with validation, which keeps nothing either), or into a
    database file as datasets are built (where the loader caps its memory and lets DuckDB spill). ``one_batch``:
    the loader as it was before it worked in batches, every file in one batch under DuckDB's cap of a quarter of
    physical memory (the baseline of the scaling benchmark)."""
    import duckdb

    from hitlab.load import fhir
    from hitlab.load import load_fhir as hitlab_load_fhir

    if one_batch:
        fhir.BATCH_BYTES = 2**62
        quarter = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 4 // 2**20
        fhir.fhir_memory_limit = lambda: f"{max(1024, quarter)}MB"

    with tempfile.TemporaryDirectory(prefix="bench-fhir-") as tmp:
        con = duckdb.connect(str(Path(tmp) / "fhir.duckdb") if into_file else ":memory:")
        seconds, _ = _timed(hitlab_load_fhir, src, con)
        rows = _table_rows(con)
        con.close()
    return {"seconds": seconds, "tables": len(rows), "rows": sum(rows.values())}


def fhir_validate(src: str) -> dict:
    """Read, parse and validate every bundle with fhir.resources' R4B ``Bundle`` model."""
    from fhir.resources.R4B.bundle import Bundle
    from pydantic import ValidationError

    files = sorted(Path(src).glob("*.json"))
    counts = {"bundles": 0, "resources": 0, "invalid": 0}
    first_error: list[str] = []

    def run() -> None:
        for path in files:
            data = json.loads(path.read_bytes())
            counts["bundles"] += 1
            counts["resources"] += len(data.get("entry") or ())
            try:
                Bundle.model_validate(data)
            except ValidationError as exc:
                counts["invalid"] += 1
                if not first_error:
                    first_error.append(f"{path.name}: {str(exc)[:500]}")

    seconds, _ = _timed(run)
    return {"seconds": seconds, **counts, "first_error": first_error[0] if first_error else None}


def run_notebook(path: str) -> dict:
    """Execute a solution notebook in a fresh kernel (as nbval does) and split its time by kind of cell."""
    import datetime as dt

    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=300, kernel_name="python3", record_timing=True,
                            resources={"metadata": {"path": str(Path(path).parent)}})  # fmt: skip
    seconds, _ = _timed(client.execute)
    split = {"answer": 0.0, "test": 0.0, "other": 0.0}
    for cell in nb.cells:
        timing = cell.get("metadata", {}).get("execution", {})
        if cell.cell_type != "code" or "shell.execute_reply" not in timing:
            continue
        start = dt.datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))
        end = dt.datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
        meta = cell.metadata.get("nbgrader", {})
        kind = "answer" if meta.get("solution") else "test" if meta.get("grade") else "other"
        split[kind] += (end - start).total_seconds()
    return {"seconds": seconds, **{f"{k}_seconds": v for k, v in split.items()}}


def verify_lab(lab: str) -> dict:
    """``hitlab course verify`` of one lab: real nbgrader autograde runs in a scratch course."""
    from hitlab.course import verify

    seconds, reports = _timed(verify, [lab])
    return {"seconds": seconds, "ok": reports[0].ok, "submissions": len(reports[0].runs)}


GRADING_LABS = ["lab01_ehr_data_modeling", "lab02_sql_patient_data"]


def _item_scores(db_url: str) -> dict[str, dict[str, float]]:
    from nbgrader.api import Gradebook

    from hitlab.grading.gradebook import item_scores

    with Gradebook(db_url, "hitlab") as gb:
        found = item_scores(gb, GRADING_LABS)
    return {f"{student}/{lab}": {k: v[0] for k, v in cells.items()} for lab, per in found.items()
            for student, cells in per.items()}  # fmt: skip


def grade_cohort(submitted: str, out: str, workers: int, exam: bool = False) -> dict:
    """``hitlab grade --workers N`` (with ``--exam``: scores from the judge) on the cohort, into a fresh OUT."""
    import statistics

    from hitlab.grading import grade

    seconds, run = _timed(grade, submitted, out, GRADING_LABS, workers=workers, exam=exam)
    return {
        "seconds": seconds,
        "notebooks": len(run.graded),
        "statuses": sorted({o.status for o in run.graded}),
        "scores": _item_scores(f"sqlite:///{Path(out) / 'gradebook.db'}"),
        "notebook_seconds": statistics.mean(o.notebook_seconds for o in run.graded),
        "overhead_seconds": statistics.mean(o.seconds - o.notebook_seconds for o in run.graded),
    }


def nbgrader_sequential(submitted: str, course: str) -> dict:
    """Plain ``nbgrader autograde LAB`` for each lab (all students, one after another) in a scratch copy of
    the course, the way an instructor runs it; the assignments are generated first, untimed."""
    import shutil
    import statistics
    import subprocess

    import nbformat

    from hitlab.course.build import generate, scratch_course
    from hitlab.course.notebooks import course_root
    from hitlab.grading.worker import _execution_seconds

    root = scratch_course(course_root(), GRADING_LABS, Path(course))
    generate(root, GRADING_LABS)
    shutil.copytree(submitted, root / "graders" / "work" / "submitted")
    nbgrader = str(Path(sys.executable).parent / "nbgrader")

    def run() -> None:
        for lab in GRADING_LABS:
            subprocess.run([nbgrader, "autograde", lab, "--force"], cwd=root / "graders", check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip

    seconds, _ = _timed(run)
    notebooks = sorted((root / "graders" / "work" / "autograded").glob("*/*/*.ipynb"))
    executing = statistics.mean(_execution_seconds(nbformat.read(p, as_version=4)) for p in notebooks)
    return {
        "seconds": seconds,
        "notebooks": len(notebooks),
        "scores": _item_scores(f"sqlite:///{root / 'graders' / 'work' / 'gradebook.db'}"),
        "notebook_seconds": executing,
        "overhead_seconds": seconds / len(notebooks) - executing,
    }


def build_variant(seed: int, data_dir: str, one_process: bool) -> dict:
    """``hitlab.data.build_variant(seed, ["default"])`` into an empty data root: a learner's dataset built
    (generated and loaded) on first use; ``one_process`` keeps the whole generation in this process, as before
    the FHIR and HL7 v2 files got a process of their own."""
    import importlib

    os.environ["HITLAB_DATA_DIR"] = data_dir
    if one_process:
        importlib.import_module("hitlab.synth.generate").PARALLEL_FROM = 10**9
    from hitlab.data import build_variant as build

    seconds, built = _timed(build, seed, ["default"])
    manifest = json.loads((built["default"] / "manifest.json").read_text())
    return {"seconds": seconds, "patients": manifest["patients"], "seed": manifest["seed"]}


def mock_interview(track: str, minutes: int, seed: int) -> dict:
    """``hitlab mock --track T --no-lab`` as a user runs it (a fresh interpreter: imports, the pool read
    from every lab's notebooks, the draw, the notebook written), then ``hitlab mock score`` of the same
    attempt answered with the solutions, in a scratch copy of the workbook with its own record folder."""
    import json
    import shutil
    import subprocess

    import nbformat

    repo = Path(__file__).resolve().parents[1]
    hitlab = str(Path(sys.executable).with_name("hitlab"))
    with tempfile.TemporaryDirectory(prefix="bench-mock-") as tmp:
        root = Path(tmp) / "workbook"
        for folder in ("labs", "solutions"):
            shutil.copytree(repo / folder, root / folder)
        (root / "graders").mkdir()
        shutil.copy2(repo / "graders" / "nbgrader_config.py", root / "graders")
        env = dict(os.environ, HITLAB_ROOT=str(root), HITLAB_HOME=str(Path(tmp) / "home"))
        command = [
            hitlab,
            "mock",
            "--track",
            track,
            "--minutes",
            str(minutes),
            "--seed",
            str(seed),
            "--no-lab",
        ]
        draw_seconds, _ = _timed(subprocess.run, command, env=env, check=True, capture_output=True)
        record = next((Path(tmp) / "home" / "mock").glob("*.json"))
        attempt = json.loads(record.read_text())
        from hitlab.course.notebooks import solution_code
        from hitlab.mock.pool import load_pool

        pool = load_pool(root)
        path = root / attempt["notebook"]
        nb = nbformat.read(path, as_version=4)
        answers = {}
        for drawn in attempt["items"]:
            item = pool.items[drawn["id"]]
            if item.kind == "auto":
                cell = item.source_cells[0]
                answers[cell.metadata["nbgrader"]["grade_id"]] = solution_code(cell.source)
        for cell in nb.cells:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if gid in answers:
                cell.source = answers[gid]
        nbformat.write(nb, path)
        score_seconds, _ = _timed(
            subprocess.run, [hitlab, "mock", "score", attempt["id"]], env=env, check=True, capture_output=True
        )
        scored = json.loads(record.read_text())
    got = sum(r["score"] for r in scored["results"].values())
    possible = sum(r["points"] for r in scored["results"].values())
    return {"draw_seconds": draw_seconds, "score_seconds": score_seconds, "items": len(attempt["items"]),
            "auto_score": got, "auto_points": possible}  # fmt: skip


OPERATIONS = {
    "build-variant": build_variant,
    "mock-interview": mock_interview,
    "grade-cohort": grade_cohort,
    "nbgrader-sequential": nbgrader_sequential,
    "run-notebook": run_notebook,
    "verify-lab": verify_lab,
    "gen-hitlab": gen_hitlab,
    "gen-pysynthea": gen_pysynthea,
    "load-csv": load_csv,
    "csv-baseline": csv_baseline,
    "load-fhir": load_fhir,
    "fhir-validate": fhir_validate,
}


def main(argv: list[str]) -> None:
    operation, result_path, args = argv[0], Path(argv[1]), json.loads(argv[2])
    # Generators print progress to stdout; keep it in the log, away from the result.
    with contextlib.redirect_stdout(sys.stderr):
        result = OPERATIONS[operation](**args)
    result_path.write_text(json.dumps(result, default=str))


if __name__ == "__main__":
    main(sys.argv[1:])
