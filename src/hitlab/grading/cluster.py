"""``hitlab grade --cluster ADDRESS``: the notebooks graded on the workers of a Dask distributed cluster.

Every worker of the cluster gets a :class:`SlotHost` (a Dask worker plugin): one grading slot per worker thread,
each the same worker process as on one machine (:mod:`hitlab.grading.worker`), with its kernels in the same
sandbox under a sandbox user id claimed on that worker's machine; a worker whose sandbox does not work refuses
to start, and the run with it. The grader's process (the Dask client) sends each job with the notebook's bytes
(a worker needs no access to the submissions), receives the outcome and is the only writer of the gradebook
and of the outputs; the course's scratch copy (sources, hidden tests, the gradebook's structure) travels in
the plugin. What was recorded stays recorded: a job whose worker failed is reported and graded by the next
run, which skips everything already graded (as on one machine).

Dask distributed rather than Ray: it is pure Python and installs from the registries into the same venv (Ray's
wheels are large and start a raylet and an object store per machine), a local cluster of worker processes
starts in seconds (the suite's test), and it deploys where instructors already are: Dask Gateway on
JupyterHub, dask-kubernetes, or dask-jobqueue on a batch system (graders/README.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import queue
import shutil
import tarfile
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from hitlab.errors import HitlabError
from hitlab.grading.worker import Job, Outcome

try:
    from distributed import WorkerPlugin
except ImportError:  # the cluster extra is not installed: grade_on_cluster says so
    WorkerPlugin = object  # type: ignore[assignment,misc]

#: How long the client waits for the cluster's first worker.
WAIT_FOR_WORKERS = 120


def _versions() -> dict[str, str]:
    import nbgrader

    import hitlab

    return {"hitlab": hitlab.__version__, "nbgrader": nbgrader.__version__}


def _pack(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(folder, arcname=".")
    return buffer.getvalue()


class SlotHost(WorkerPlugin):
    """The grading slots of one Dask worker, for one run: set up when the plugin is registered (or when a
    worker joins), torn down when the run unregisters it."""

    def __init__(self, name: str, template: bytes, labs: list[str], options, versions: dict[str, str],
                 keep_variants: int | None = None):  # fmt: skip
        self.name, self.template, self.labs, self.options = name, template, labs, options
        self.versions, self.keep_variants = versions, keep_variants
        self.slots: queue.Queue | None = None  # made on the worker (a queue does not travel)
        self.started: list = []
        self.uids: list[int] = []
        self.locks: list = []
        self.scratch: Path | None = None
        self.sandbox = ""

    async def setup(self, worker) -> None:
        # blocking work (datasets, the slots' start) off the worker's event loop, which keeps answering
        await asyncio.to_thread(
            self._start, worker.state.nthreads, Path(worker.local_directory), worker.address
        )

    def _start(self, threads: int, local: Path, address: str) -> None:
        from hitlab.data import build_dataset, datasets_for
        from hitlab.grading.runner import (
            _claim_uids,
            _exam_release,
            _needed_paths,
            _Worker,
            sandbox_state,
            slot_settings,
        )

        try:
            if (here := _versions()) != self.versions:
                raise HitlabError(
                    f"this worker runs {here}, the grader {self.versions}: install the same on both"
                )
            for dataset in datasets_for(self.labs):  # built now, so sandboxed kernels only ever read them
                build_dataset(dataset)
            self.scratch = Path(tempfile.mkdtemp(prefix="hitlab-grade-"))
            os.chmod(self.scratch, 0o711)
            template = self.scratch / "template"
            with tarfile.open(fileobj=io.BytesIO(self.template), mode="r:gz") as tar:
                tar.extractall(template, filter="data")
            os.chmod(template, 0o700)
            exam_tree = _exam_release(self.scratch) if self.options.exam else None
            self.uids, self.locks = _claim_uids(threads)
            need = _needed_paths()
            self.sandbox = sandbox_state(self.uids[0], need, self.options.sandbox)
            logs = local / "hitlab-grading" / self.name
            self.slots = queue.Queue()
            for i, uid in enumerate(self.uids):
                slot = _Worker(logs / f"slot{i}.log")
                self.started.append(slot)
                slot.start(slot_settings(i, uid, template, self.scratch, need, exam_tree, self.options))
                self.slots.put(slot)
        except Exception as err:
            self.teardown(None)
            raise HitlabError(f"grading worker {address}: {err}") from None

    def teardown(self, worker) -> None:
        from hitlab.grading.sandbox import kill_user

        for slot in self.started:
            slot.stop(hard=worker is None)
        for uid in self.uids:
            kill_user(uid)
        for handle in self.locks:
            handle.close()
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
        self.started, self.uids, self.locks = [], [], []

    def grade(self, job: Job, notebook: bytes) -> Outcome:
        """Grade one job on a free slot of this worker (the notebook written into this run's scratch, where
        only the grader reads it)."""
        if self.slots is None:
            raise HitlabError("this worker's grading slots did not start (see the worker's log)")
        slot = self.slots.get()
        incoming = self.scratch / "incoming" / uuid.uuid4().hex
        try:
            incoming.mkdir(parents=True, mode=0o700)
            path = incoming / Path(job.path).name
            path.write_bytes(notebook)
            outcome, fresh = slot.grade(replace(job, path=str(path)), self.options.notebook_timeout)
            self.started[self.started.index(slot)] = fresh
            slot = fresh
        finally:
            self.slots.put(slot)
            shutil.rmtree(incoming, ignore_errors=True)
        if job.seed is not None:  # bounded disk: the student variants used least recently go
            from hitlab.data import evict_variants

            with contextlib.suppress(Exception):
                evict_variants(keep=self.keep_variants or max(2 * len(self.started), 4))
        return outcome


def _grade(name: str, job: Job, notebook: bytes) -> Outcome:
    """The task each job runs on a worker."""
    from distributed import get_worker

    return get_worker().plugins[name].grade(job, notebook)


def grade_on_cluster(
    address: str, jobs: list[Job], template: Path, labs: list[str], options,
    on_outcome: Callable[[Outcome], None], on_error: Callable[[Job, str], None], *,
    keep_variants: int | None = None,
) -> tuple[str, list[int]]:  # fmt: skip
    """Grade ``jobs`` on the Dask cluster at ``address``; ``on_outcome`` gets each outcome here, in this process
    (the gradebook's one writer), ``on_error`` each job a worker could not grade. Returns the sandbox's state
    (as grading.log says it) and the sandbox user ids the workers used."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise HitlabError(
            "grading on a cluster needs Dask distributed: pip install 'hitlab[cluster]'"
        ) from None
    name = f"hitlab-grading-{uuid.uuid4().hex[:12]}"
    try:
        client = Client(address, timeout=30)
    except OSError as err:
        raise HitlabError(f"cannot reach the Dask scheduler at {address}: {err}") from None
    with client:
        client.wait_for_workers(1, timeout=WAIT_FOR_WORKERS)
        plugin = SlotHost(name, _pack(template), labs, options, _versions(), keep_variants)
        client.register_plugin(plugin, name=name)
        try:
            states = client.run(lambda dask_worker: (dask_worker.plugins[name].sandbox,
                                                     dask_worker.plugins[name].uids))  # fmt: skip
            threads = sum(client.nthreads().values())
            pending = list(reversed(jobs))
            running, waiting = as_completed(), {}

            def submit() -> None:
                job = pending.pop()
                future = client.submit(_grade, name, job, Path(job.path).read_bytes(), pure=False,
                                       key=f"{name}-{len(pending)}")  # fmt: skip
                waiting[future] = job
                running.add(future)

            for _ in range(min(len(pending), 2 * threads)):  # a few queued per slot, not the whole cohort
                submit()
            for future in running:
                job = waiting.pop(future)
                try:
                    outcome = future.result()
                except Exception as err:
                    on_error(job, f"{type(err).__name__}: {err}")
                else:
                    on_outcome(outcome)
                if pending:
                    submit()
        finally:
            with contextlib.suppress(Exception):
                client.unregister_worker_plugin(name)
    sandboxes = {state for state, _ in states.values()}
    return "; ".join(sorted(sandboxes)), sorted({uid for _, uids in states.values() for uid in uids})
