"""hitlab benchmarks: ratios measured side by side in one run (see benchmarks/README.md).

    .venv/bin/python benchmarks/run.py [--quick] [--only NAME ...] [--lab labNN ...]

Every figure is a ratio of two things timed in the same run, interleaved, each in a fresh
process, so the noise of a shared machine falls on both sides. Prints a table of figures,
targets and PASS/FAIL, writes benchmarks/.work/results.json, and always exits 0.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import traceback
import urllib.request
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from harness import (
    REPO,
    WORK,
    compare,
    fresh_dir,
    interleave,
    machine_description,
    pysynthea_python,
    run_child,
    summarise,
)

SEED = 20240601
FORMATS = ["csv", "fhir", "hl7v2"]
PYSYNTHEA_REFERENCE_DATE = "20250101"  # fixed, so PySynthea's work is the same every run


@dataclass(frozen=True)
class Settings:
    pysynthea_patients: int
    hitlab_patients: int
    load_patients: int
    repeats: int
    scaling_sizes: tuple[int, ...]
    cohort_per_lab: int
    grading_repeats: int
    labs: tuple[str, ...] = ()  # the labs benchmark's labs (``labNN``); empty: all


FULL = Settings(
    pysynthea_patients=20,
    hitlab_patients=1000,
    load_patients=1000,
    repeats=5,
    scaling_sizes=(1000, 2500, 5000, 10000),
    cohort_per_lab=20,
    grading_repeats=3,
)
QUICK = Settings(
    pysynthea_patients=3,
    hitlab_patients=200,
    load_patients=200,
    repeats=3,
    scaling_sizes=(1000, 2000),
    cohort_per_lab=5,
    grading_repeats=1,
)


@dataclass
class Row:
    """One line of the final table."""

    benchmark: str
    figure: str
    value: float | None
    unit: str = ""
    target: str = ""
    passed: bool | None = None  # None: information only, or not measured

    @property
    def status(self) -> str:
        if self.value is None:
            return "ERROR"
        return {True: "PASS", False: "FAIL", None: "info"}[self.passed]


def gate(benchmark: str, figure: str, value: float, minimum: float) -> Row:
    return Row(benchmark, figure, value, "x", f">= {minimum:g}", value >= minimum)


# --- data -------------------------------------------------------------------------------

_datasets: dict[int, Path] = {}


def dataset(patients: int) -> Path:
    """A hitlab-generated population (all formats), made once per run."""
    if patients not in _datasets:
        out = fresh_dir(WORK / "data" / f"n{patients}")
        print(f"  generating the {patients}-patient data set ...", flush=True)
        run_child("gen-hitlab", gen_args(patients, out))
        _datasets[patients] = out
    return _datasets[patients]


def gen_args(patients: int, out: Path) -> dict:
    return {"patients": patients, "seed": SEED, "out": str(out), "formats": FORMATS}


def format_dir(out: Path, fmt: str) -> Path:
    """Where a generated population keeps one format's files."""
    sub = out / fmt
    return sub if sub.is_dir() else out


# --- benchmarks -------------------------------------------------------------------------


def bench_generation(s: Settings) -> tuple[dict, list[Row]]:
    python = pysynthea_python()
    out = WORK / "gen"
    trials = {
        "hitlab": lambda i: run_child("gen-hitlab", gen_args(s.hitlab_patients, fresh_dir(out / "hitlab"))),
        "pysynthea": lambda i: run_child(
            "gen-pysynthea",
            {
                "patients": s.pysynthea_patients,
                "seed": SEED,
                "out": str(fresh_dir(out / "pysynthea")),
                "reference_date": PYSYNTHEA_REFERENCE_DATE,
            },
            python=python,
        ),
    }
    result = compare(trials, s.repeats)
    for r in result.values():
        r["patients_per_second"] = r["patients"] / r["median_seconds"]
    ratio = result["hitlab"]["patients_per_second"] / result["pysynthea"]["patients_per_second"]
    # The two write different amounts per patient: record it beside the rate ratio.
    result["resources_per_patient"] = {n: r["fhir_resources"] / r["patients"] for n, r in result.items()}
    result["ratio"] = ratio
    h, p, per = result["hitlab"], result["pysynthea"], result["resources_per_patient"]
    rows = [
        Row(
            "generation",
            f"hitlab rate ({h['patients']} patients, csv+fhir+hl7v2)",
            h["patients_per_second"],
            "pt/s",
        ),
        Row(
            "generation",
            f"PySynthea {p.get('version', '?')} rate ({p['patients']} patients, FHIR R4)",
            p["patients_per_second"],
            "pt/s",
        ),
        gate("generation", "hitlab / PySynthea patients per second", ratio, 200),
        Row(
            "generation",
            f"hitlab / PySynthea FHIR resources per second ({per['hitlab']:.0f} vs {per['pysynthea']:.0f}"
            " resources per patient)",
            ratio * per["hitlab"] / per["pysynthea"],
            "x",
        ),
    ]
    return result, rows


def bench_csv(s: Settings) -> tuple[dict, list[Row]]:
    src = str(format_dir(dataset(s.load_patients), "csv"))
    trials = {
        "hitlab_load_csv": lambda i: run_child("load-csv", {"src": src}),
        "duckdb_read_csv": lambda i: run_child("csv-baseline", {"src": src}),
    }
    result = compare(trials, s.repeats)
    for r in result.values():
        r["rows_per_second"] = r["rows"] / r["median_seconds"]
    h, b = result["hitlab_load_csv"], result["duckdb_read_csv"]
    result["ratio"] = b["median_seconds"] / h["median_seconds"]
    result["patients"] = s.load_patients
    rows = [
        Row(
            "csv load",
            f"hitlab load_csv ({s.load_patients} patients, {h['rows']} rows)",
            h["rows_per_second"],
            "rows/s",
        ),
        Row(
            "csv load",
            f"bare read_csv ({b['tables']} tables, {b['rows']} rows)",
            b["rows_per_second"],
            "rows/s",
        ),
        gate("csv load", "read_csv time / load_csv time", result["ratio"], 0.7),
    ]
    return result, rows


def bench_fhir(s: Settings) -> tuple[dict, list[Row]]:
    src = str(format_dir(dataset(s.load_patients), "fhir"))
    trials = {
        "hitlab_load_fhir": lambda i: run_child("load-fhir", {"src": src}),
        "fhir_resources_validate": lambda i: run_child("fhir-validate", {"src": src}),
    }
    result = compare(trials, s.repeats)
    h, v = result["hitlab_load_fhir"], result["fhir_resources_validate"]
    for r in result.values():
        r["resources_per_second"] = v["resources"] / r["median_seconds"]
    result["ratio"] = v["median_seconds"] / h["median_seconds"]
    result["patients"] = s.load_patients
    rows = [
        Row(
            "fhir load",
            f"hitlab load_fhir ({v['bundles']} bundles, {v['resources']} resources)",
            h["resources_per_second"],
            "res/s",
        ),
        Row(
            "fhir load",
            f"R4B Bundle.model_validate ({v['invalid']} bundles invalid)",
            v["resources_per_second"],
            "res/s",
        ),
        gate("fhir load", "validate time / load_fhir time", result["ratio"], 10),
    ]
    return result, rows


def scale_one(patients: int, baseline: bool = False) -> dict:
    """Generate then load one population, each step in its own fresh process. ``baseline``: also load its FHIR
    in one batch (the loader before batches), between two runs of the batched load (A B A)."""
    out = fresh_dir(WORK / "scale" / f"n{patients}")
    print(f"  {patients} patients ...", flush=True)
    steps = {"generate": run_child("gen-hitlab", gen_args(patients, out))}
    fhir_args = {"src": str(format_dir(out, "fhir")), "into_file": True}
    steps["load_csv"] = run_child("load-csv", {"src": str(format_dir(out, "csv"))})
    steps["load_fhir"] = run_child("load-fhir", fhir_args)
    if baseline:
        steps["fhir_1batch"] = run_child("load-fhir", {**fhir_args, "one_batch": True})
        again = run_child("load-fhir", fhir_args)
        steps["load_fhir"] = {
            "seconds": (steps["load_fhir"]["seconds"] + again["seconds"]) / 2,
            "peak_rss_mib": max(steps["load_fhir"]["peak_rss_mib"], again["peak_rss_mib"]),
        }
    shutil.rmtree(out, ignore_errors=True)
    return {
        name: {
            "seconds": r["seconds"],
            "ms_per_patient": 1000 * r["seconds"] / patients,
            "peak_rss_mib": r["peak_rss_mib"],
            "kib_per_patient": 1024 * r["peak_rss_mib"] / patients,
        }
        for name, r in steps.items()
    }


def bench_scaling(s: Settings) -> tuple[dict, list[Row]]:
    sizes = s.scaling_sizes
    result = {"sizes": {n: scale_one(n, baseline=n == sizes[-1]) for n in sizes}}
    print_scaling(result["sizes"])
    small, large = sizes[0], sizes[-1]
    batched, one_batch = result["sizes"][large]["load_fhir"], result["sizes"][large]["fhir_1batch"]
    result["fhir_batched_speedup"] = one_batch["seconds"] / batched["seconds"]
    rows = [
        Row("scaling", f"load_fhir (into a file) peak RSS at {large} patients", batched["peak_rss_mib"], "MiB",
            "<= 1430 (1.5 GB)", batched["peak_rss_mib"] <= 1430),
        Row("scaling", f"load_fhir in one batch (the loader before batches) peak RSS at {large} patients",
            one_batch["peak_rss_mib"], "MiB"),
        gate("scaling", f"load_fhir throughput per patient at {large} patients, batched ÷ one batch "
             "(mean of the runs before and after)", result["fhir_batched_speedup"], 1.0),
    ]  # fmt: skip
    for step in ("generate", "load_csv", "load_fhir"):
        t_small, t_large = (result["sizes"][n][step]["seconds"] for n in (small, large))
        linearity = t_large / t_small / (large / small)
        result[f"{step}_linearity"] = linearity
        rows.append(
            Row("scaling", f"{step} time({large}) / time({small}) / {large / small:g}", linearity, "x")
        )
        if step != "load_fhir":
            peak = result["sizes"][large][step]["peak_rss_mib"]
            rows.append(Row("scaling", f"{step} peak RSS at {large} patients", peak, "MiB"))
    return result, rows


def print_scaling(sizes: dict[int, dict]) -> None:
    print(f"  {'patients':>9} {'step':<10} {'seconds':>9} {'ms/pt':>8} {'peak MiB':>9} {'KiB/pt':>8}")
    for n, steps in sizes.items():
        for step, r in steps.items():
            print(
                f"  {n:>9} {step:<10} {r['seconds']:>9.2f} {r['ms_per_patient']:>8.2f}"
                f" {r['peak_rss_mib']:>9.0f} {r['kib_per_patient']:>8.1f}"
            )


def bench_labs(s: Settings) -> tuple[dict, list[Row]]:
    """Per lab: the solution notebook's run time in a fresh kernel (target < 30 s), the time of its test
    cells against its answer cells (the checks layer's overhead), and `hitlab course verify`'s time."""
    root = Path(__file__).resolve().parents[1]
    labs = sorted(p.name for p in (root / "solutions").iterdir() if p.is_dir())
    if s.labs:
        labs = [lab for lab in labs if lab[:5] in s.labs]
    result, rows = {}, []
    for lab in labs:
        print(f"  {lab} ...", flush=True)
        nb = run_child("run-notebook", {"path": str(root / "solutions" / lab / f"{lab}.ipynb")})
        ver = run_child("verify-lab", {"lab": lab})
        overhead = nb["test_seconds"] / nb["answer_seconds"] if nb["answer_seconds"] else None
        result[lab] = {"notebook": nb, "verify": ver, "checks_overhead": overhead}
        rows.append(Row("labs", f"{lab} solution notebook, fresh kernel", nb["seconds"], "s", "< 30 s",
                        nb["seconds"] < 30))  # fmt: skip
        rows.append(Row("labs", f"{lab} solution notebook peak RSS (its kernel, or nbclient's process)",
                        nb["peak_rss_mib"], "MiB", "<= 1430 (1.5 GB)", nb["peak_rss_mib"] <= 1430))  # fmt: skip
        rows.append(Row("labs", f"{lab} test cells / answer cells time ({nb['test_seconds']:.2f} s / "
                        f"{nb['answer_seconds']:.2f} s)", overhead, "x"))  # fmt: skip
        rows.append(Row("labs", f"{lab} course verify ({ver['submissions']} autogrades, ok={ver['ok']})",
                        ver["seconds"], "s"))  # fmt: skip
    return result, rows


def bench_grading(s: Settings) -> tuple[dict, list[Row]]:
    """A synthetic cohort (correct, partly wrong, blank) of labs 01 and 02 graded by `hitlab grade --workers 2`
    and by plain sequential `nbgrader autograde`, interleaved: throughput ratio (target 2.5 on 2 cores: beyond
    what two workers alone can give, so the per-notebook cost must fall too),
    identical per-item scores, and per-notebook overhead (grading time minus the notebook's own run time)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from hitlab.grading.cohort import make_cohort

    cohort = fresh_dir(WORK / "cohort")
    make_cohort(cohort / "submitted", ["lab01", "lab02"], per_lab=s.cohort_per_lab, seed=SEED)
    trials = {
        "hitlab": lambda i: run_child("grade-cohort", {"submitted": str(cohort / "submitted"),
                                                       "out": str(fresh_dir(cohort / f"out{i}")), "workers": 2}),
        "nbgrader": lambda i: run_child("nbgrader-sequential", {"submitted": str(cohort / "submitted"),
                                                                "course": str(fresh_dir(cohort / f"course{i}"))}),
    }  # fmt: skip
    samples = interleave(trials, s.grading_repeats)
    equal = all(
        a["scores"] == b["scores"] for a, b in zip(samples["hitlab"], samples["nbgrader"], strict=True)
    )
    ours, theirs = summarise(samples["hitlab"]), summarise(samples["nbgrader"])
    n = ours["notebooks"]
    ratio = theirs["median_seconds"] / ours["median_seconds"]
    for side in (ours, theirs):
        side.pop("scores", None)
    rows = [
        gate("grading", f"hitlab grade --workers 2 vs sequential nbgrader autograde ({n} notebooks), throughput",
             ratio, 2.5),
        Row("grading", "identical per-item scores in every repeat", 1.0 if equal else 0.0, "", "1", equal),
        Row("grading", "hitlab: per-notebook overhead (grading minus the notebook's own run time)",
            ours["overhead_seconds"], "s"),
        Row("grading", "nbgrader: per-notebook overhead (wall time per notebook minus its run time)",
            theirs["overhead_seconds"], "s"),
        Row("grading", "mean notebook run time inside the grader (hitlab / nbgrader)",
            ours["notebook_seconds"] / theirs["notebook_seconds"], "x"),
    ]  # fmt: skip
    return {"hitlab": ours, "nbgrader": theirs, "ratio": ratio, "equal_scores": equal, "notebooks": n}, rows


def bench_exam(s: Settings) -> tuple[dict, list[Row]]:
    """The same synthetic cohort (labs 01 and 02: correct, partly wrong, blank) graded by `hitlab grade
    --workers 2` and by `hitlab grade --workers 2 --exam` (each notebook run again in the evaluator, its scores
    from the judge), interleaved: what exam mode costs, and identical per-item scores."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from hitlab.grading.cohort import make_cohort

    cohort = fresh_dir(WORK / "exam-cohort")
    make_cohort(cohort / "submitted", ["lab01", "lab02"], per_lab=max(2, s.cohort_per_lab // 4), seed=SEED)

    def trial(exam: bool):
        return lambda i: run_child(
            "grade-cohort",
            {
                "submitted": str(cohort / "submitted"),
                "workers": 2,
                "out": str(fresh_dir(cohort / f"out{i}-{exam}")),
                "exam": exam,
            },
        )

    samples = interleave({"self-study": trial(False), "exam": trial(True)}, s.grading_repeats)
    equal = all(
        a["scores"] == b["scores"] for a, b in zip(samples["self-study"], samples["exam"], strict=True)
    )
    plain, exam = summarise(samples["self-study"]), summarise(samples["exam"])
    n = exam["notebooks"]
    for side in (plain, exam):
        side.pop("scores", None)
    rows = [
        Row("exam", f"hitlab grade --exam vs hitlab grade ({n} notebooks, 2 workers), time",
            exam["median_seconds"] / plain["median_seconds"], "x"),
        Row("exam", "identical per-item scores in every repeat", 1.0 if equal else 0.0, "", "1", equal),
        Row("exam", "exam: per-notebook overhead (grading minus the notebook's own run time)",
            exam["overhead_seconds"], "s"),
        Row("exam", "self-study: per-notebook overhead", plain["overhead_seconds"], "s"),
    ]  # fmt: skip
    return {"self-study": plain, "exam": exam, "equal_scores": equal, "notebooks": n}, rows


MOCK_TRACKS = ("interface-engineer", "data-engineer", "fhir-developer", "privacy-security", "data-scientist")


def bench_mock(s: Settings) -> tuple[dict, list[Row]]:
    """Per track: ``hitlab mock`` drawing a 45-minute interview and writing its notebook, as the user waits
    for it (a fresh interpreter; target < 5 s), and, as information, ``hitlab mock score`` of that attempt
    answered with the solutions (a fresh kernel through nbgrader)."""
    result, rows = {}, []
    for n, track in enumerate(MOCK_TRACKS):
        print(f"  {track} ...", flush=True)
        trials = [
            run_child("mock-interview", {"track": track, "minutes": 45, "seed": n})
            for _ in range(s.grading_repeats)
        ]
        draw = statistics.median(t["draw_seconds"] for t in trials)
        score = statistics.median(t["score_seconds"] for t in trials)
        full = all(t["auto_score"] == t["auto_points"] for t in trials)
        result[track] = {"trials": trials, "draw_seconds": draw, "score_seconds": score}
        rows.append(Row("mock", f"{track}: hitlab mock, 45 min, {trials[0]['items']} questions (command)", draw, "s",
                        "< 5 s", draw < 5))  # fmt: skip
        rows.append(Row("mock", f"{track}: hitlab mock score, solutions (full marks={full})", score, "s"))
    return result, rows


def bench_variant(s: Settings) -> tuple[dict, list[Row]]:
    """A learner's variant of the ``default`` dataset built from nothing (generate, then load into DuckDB),
    as ``hitlab.data.build_variant`` does for a new personal key (target < 15 s), against the same build with
    the generation in one process (how it ran before), interleaved; a new seed for each repetition."""
    root = WORK / "variants"

    def trial(one_process: bool):
        def run(i: int) -> dict:
            folder = fresh_dir(root / ("one" if one_process else "two") / str(i))
            result = run_child(
                "build-variant", {"seed": 1000 + i, "data_dir": str(folder), "one_process": one_process}
            )
            shutil.rmtree(folder, ignore_errors=True)
            return result

        return run

    result = compare({"variant": trial(False), "one-process": trial(True)}, 3)  # median of 3, full or --quick
    ours, before = result["variant"]["median_seconds"], result["one-process"]["median_seconds"]
    rows = [
        Row("variant", "build_variant(seed, ['default']), 1,000 patients (median)", ours, "s", "< 15 s", ours < 15),
        Row("variant", "the same, generation in one process (median)", before, "s"),
        Row("variant", "one process ÷ two", before / ours, "x"),
    ]  # fmt: skip
    return result, rows


FIRST_RUN_TARGET = 150.0  # seconds: a fresh clone's `make lab` to a running JupyterLab
# the URL JupyterLab prints (it opens on work/: lab/tree/work?token=...)
_SERVER_URL = re.compile(r"http://(?:localhost|127\.0\.0\.1):(\d+)/\S*?\?token=(\w+)")


def _stop_group(process: subprocess.Popen, signum: int) -> None:
    """Stop a process started in its own session, and all it started: ``signum``, then SIGKILL after 30 s."""
    os.killpg(process.pid, signum)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def first_run(installer: str, folder: Path) -> dict:
    """A newcomer's first ``make lab`` in a fresh clone of this repository's HEAD, with empty download caches
    (uv's and pip's, both in ``folder``): seconds from the command to JupyterLab's first answer, and to each
    step on the way (the install ends when ``hitlab data build`` starts; the data when ``hitlab lab`` does)."""
    clone = folder / "hitlab"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    env = {
        k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "MAKEFLAGS", "MAKELEVEL", "MFLAGS")
    }
    env.update(HITLAB_INSTALLER=installer, UV_CACHE_DIR=str(folder / "uv-cache"),
               PIP_CACHE_DIR=str(folder / "pip-cache"), BROWSER="true")  # fmt: skip
    marks: dict[str, float] = {}
    log: list[str] = []
    start = time.perf_counter()
    make = subprocess.Popen(["make", "lab"], cwd=clone, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)  # fmt: skip
    found: list[tuple[str, str]] = []

    def read() -> None:
        for line in make.stdout:
            log.append(line)
            now = time.perf_counter() - start
            if "hitlab data build" in line:
                marks.setdefault("install_seconds", now)
            elif "bin/hitlab lab" in line:
                marks.setdefault("data_seconds", now)
            elif (url := _SERVER_URL.search(line)) and not found:
                found.append(url.groups())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        while not found:
            if make.poll() is not None:
                reader.join(5)
                raise RuntimeError(
                    f"make lab ended ({make.returncode}) before serving:\n{''.join(log[-30:])}"
                )
            if time.perf_counter() - start > 1800:
                raise RuntimeError("make lab served nothing in 30 minutes")
            time.sleep(0.2)
        port, token = found[0]
        status = f"http://127.0.0.1:{port}/api/status?token={token}"
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        while True:
            try:
                with opener.open(status, timeout=5) as answer:
                    json.load(answer)
                break
            except (OSError, ValueError):
                time.sleep(0.1)
        answered = time.perf_counter() - start
    finally:
        _stop_group(make, signal.SIGINT)
    venv_bytes = sum(
        f.stat().st_size for f in (clone / ".venv").rglob("*") if f.is_file() and not f.is_symlink()
    )
    return {"installer": installer, "seconds": answered, **marks, "venv_mb": venv_bytes / 1e6,
            "installed_with": "uv" if (clone / ".venv" / "bin" / "uv").exists() else "pip"}  # fmt: skip


def bench_first_run(s: Settings) -> tuple[dict, list[Row]]:
    """A fresh clone's ``make lab`` to JupyterLab's first answer (install, data build, server), cold caches:
    with the default installer (uv, fetched into the venv with pip) against pip installing the same set (the
    learner's: no developers' tools), one after the other in this run (target: at most 2.5 minutes)."""
    root = fresh_dir(WORK / "first-run")
    result = {}
    for installer in ("uv", "pip"):
        print(f"  make lab, HITLAB_INSTALLER={installer} ...", flush=True)
        result[installer] = first_run(installer, fresh_dir(root / installer))
        print(f"    {result[installer]}", flush=True)
    uv, pip = result["uv"], result["pip"]
    rows = [
        Row("first_run", "make lab to JupyterLab's first answer, fresh clone, cold caches (uv)", uv["seconds"], "s",
            f"<= {FIRST_RUN_TARGET:g} s", uv["seconds"] <= FIRST_RUN_TARGET),
        Row("first_run", "the same with pip", pip["seconds"], "s"),
        Row("first_run", "install only: pip vs uv", pip["install_seconds"] / uv["install_seconds"], "x"),
        Row("first_run", "make lab: pip vs uv", pip["seconds"] / uv["seconds"], "x"),
    ]  # fmt: skip
    shutil.rmtree(root, ignore_errors=True)  # two venvs of about a gigabyte each
    return result, rows


BINDER_MIB = 2048  # a Binder session's memory


def _tree_rss_mib(pid: int) -> float:
    """The resident memory of process ``pid`` and everything under it, summed."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        with contextlib.suppress(OSError, AttributeError):
            status = Path(f"/proc/{current}/status").read_text()
            total += int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(child) for child in (task / "children").read_text().split()]
    return total / 1024


def _lab_session_mib(data_dir: Path, lab: str = "lab00_orientation") -> float:
    """``hitlab lab`` serving, and a kernel started through it running ``lab``'s worked solution cell by cell
    (as a learner in JupyterLab): the largest summed resident memory of the server's process tree after a cell."""
    import socket
    import uuid

    import websocket  # websocket-client, which jupyter_server installs

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    token = uuid.uuid4().hex
    env = dict(os.environ, JUPYTER_TOKEN=token, HITLAB_DATA_DIR=str(data_dir), BROWSER="true")
    server = subprocess.Popen([str(Path(sys.executable).parent / "hitlab"), "lab", "--no-browser", "--port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    base, auth = f"127.0.0.1:{port}", {"Authorization": f"token {token}"}
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def api(path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"http://{base}{path}", data=data, headers=auth)
        with opener.open(request, timeout=10) as answer:
            return json.load(answer)

    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                api("/api/status")
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("hitlab lab did not answer") from None
                time.sleep(0.2)
        kernel = api("/api/kernels", {"name": "python3"})["id"]
        channel = websocket.create_connection(f"ws://{base}/api/kernels/{kernel}/channels?token={token}")
        peak = _tree_rss_mib(server.pid)
        notebook = json.loads((REPO / "solutions" / lab / f"{lab}.ipynb").read_text())
        for cell in (c for c in notebook["cells"] if c["cell_type"] == "code"):
            msg_id = uuid.uuid4().hex
            header = {"msg_id": msg_id, "msg_type": "execute_request", "username": "", "session": msg_id,
                      "version": "5.3"}  # fmt: skip
            channel.send(json.dumps({"header": header, "parent_header": {}, "metadata": {}, "channel": "shell",
                                     "content": {"code": "".join(cell["source"]), "silent": False}}))  # fmt: skip
            while True:
                message = json.loads(channel.recv())
                if (message.get("msg_type") == "status" and message["content"]["execution_state"] == "idle"
                        and message["parent_header"].get("msg_id") == msg_id):  # fmt: skip
                    break
            peak = max(peak, _tree_rss_mib(server.pid))
        channel.close()
        return peak
    finally:
        _stop_group(server, signal.SIGTERM)


def bench_binder(s: Settings) -> tuple[dict, list[Row]]:
    """What a Binder session holds: building the default dataset into an empty data folder (postBuild's `hitlab
    data build`: its peak RSS, its own and its children's), then JupyterLab and a kernel running lab00 through
    it (the summed RSS of the server's process tree). The two together must fit Binder's 2 GB."""
    data = fresh_dir(WORK / "binder-data")
    env = dict(os.environ, HITLAB_DATA_DIR=str(data), HITLAB_DATASET_SEED="named")
    with subprocess.Popen([str(Path(sys.executable).parent / "hitlab"), "data", "build"], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT) as build:  # fmt: skip
        _, status, usage = os.wait4(build.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError("hitlab data build failed")
    built = usage.ru_maxrss / 1024
    session = _lab_session_mib(data)
    rows = [
        Row("binder", "hitlab data build into an empty data folder, peak RSS", built, "MiB", "<= 1430 (1.5 GB)",
            built <= 1430),
        Row("binder", "hitlab lab and a kernel running lab00 through it, summed RSS (largest after a cell)",
            session, "MiB"),
        Row("binder", "the build's peak and the session's together", built + session, "MiB",
            f"<= {BINDER_MIB} (2 GB)", built + session <= BINDER_MIB),
    ]  # fmt: skip
    return {"build_peak_mib": built, "session_mib": session}, rows


BENCHMARKS = {
    "first_run": bench_first_run,
    "generation": bench_generation,
    "csv": bench_csv,
    "fhir": bench_fhir,
    "scaling": bench_scaling,
    "labs": bench_labs,
    "grading": bench_grading,
    "mock": bench_mock,
    "variant": bench_variant,
    "exam": bench_exam,
    "binder": bench_binder,
}


# --- report -----------------------------------------------------------------------------


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def print_table(rows: list[Row]) -> None:
    header = ("benchmark", "figure", "value", "target", "status")
    table = [(r.benchmark, r.figure, f"{fmt(r.value)} {r.unit}".strip(), r.target, r.status) for r in rows]
    widths = [max(len(str(line[i])) for line in [header, *table]) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    print("\n" + "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print(line)
    for cells in table:
        print("  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)))


def run(names: list[str], settings: Settings, only: list[str], quick: bool) -> dict:
    report = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "benchmarks/run.py"
        + (" --quick" if quick else "")
        + "".join(f" --only {n}" for n in only)
        + "".join(f" --lab {lab}" for lab in settings.labs),
        "machine": machine_description(),
        "settings": asdict(settings),
        "seed": SEED,
        "results": {},
        "errors": {},
    }
    rows: list[Row] = []
    for name in names:
        print(f"\n== {name} ==", flush=True)
        try:
            result, new_rows = BENCHMARKS[name](settings)
        except Exception as exc:  # a report: record the failure and go on
            traceback.print_exc()
            report["errors"][name] = f"{type(exc).__name__}: {exc}"
            rows.append(Row(name, f"failed: {type(exc).__name__}", None))
            continue
        report["results"][name] = result
        rows.extend(new_rows)
        for r in new_rows:
            print(
                f"  {r.figure}: {fmt(r.value)} {r.unit} {r.target} {r.status if r.passed is not None else ''}"
            )
    report["table"] = [{**asdict(r), "status": r.status} for r in rows]
    print_table(rows)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small populations: a smoke run")
    parser.add_argument(
        "--only", action="append", choices=list(BENCHMARKS), metavar="NAME", help="run only NAME"
    )
    parser.add_argument(
        "--lab", action="append", default=[], metavar="labNN", help="with labs: only labNN (repeatable)"
    )
    args = parser.parse_args(argv)
    names = [n for n in BENCHMARKS if n in (args.only or BENCHMARKS)]
    settings = replace(QUICK if args.quick else FULL, labs=tuple(args.lab))
    WORK.mkdir(parents=True, exist_ok=True)
    report = run(names, settings, args.only or [], args.quick)
    out = WORK / "results.json"
    out.write_text(json.dumps(report, indent=2, default=str))
    print(f"\nresults written to {out.relative_to(WORK.parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
