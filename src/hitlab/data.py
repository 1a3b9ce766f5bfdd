"""The workbook's datasets: where they live, how they are built, and the one call notebooks use.

``connect()`` opens the default dataset read-only in DuckDB, building it on first use, so any number of
kernels can share it. Datasets live in ``data/generated/<name>/`` of the repository (``HITLAB_DATA_DIR``
overrides the parent folder), each holding the generated files and ``hitlab.duckdb``.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

from hitlab import __version__
from hitlab.errors import DatasetError
from hitlab.synth.generate import GENERATOR_REVISION

ALL_FORMATS = ("csv", "fhir", "hl7v2")
DATASETS = {
    "default": {"patients": 1000, "seed": 1, "defects": False, "formats": ALL_FORMATS},
    "defects": {"patients": 1000, "seed": 1, "defects": True, "formats": ALL_FORMATS},
    "analytics": {"patients": 10000, "seed": 3, "defects": False, "formats": ("csv",), "claims": False},
    "analytics-holdout": {
        "patients": 3000,
        "seed": 4,
        "defects": False,
        "formats": ("csv",),
        "claims": False,
    },
}
"""Named datasets: the clean default; the same population with planted data-quality defects; a larger
population for the analytics labs (08 and 09), in CSV only and without the bulky claims files, with more than 2,000 index hospital stays; and a
population of another seed on which lab 09's checks run learners' functions on data they never saw."""

LAB_DATASETS = {"lab09": ("analytics", "analytics-holdout")}
"""Datasets a lab reads besides ``default`` and ``defects`` (which every grading run builds)."""


def datasets_for(labs) -> tuple[str, ...]:
    """The datasets that grading ``labs`` (names such as ``lab09_ml_readmission``) reads, so that they can be
    built before any sandboxed kernel, which may only read them, starts."""
    extra = [d for lab in labs for d in LAB_DATASETS.get(lab[:5], ())]
    return tuple(dict.fromkeys(("default", "defects", *extra)))


DB_NAME = "hitlab.duckdb"


def data_root() -> Path:
    """Parent folder of the datasets: ``$HITLAB_DATA_DIR``, else ``data/generated`` of the source checkout,
    else ``~/.cache/hitlab`` for an installed package."""
    if env := os.environ.get("HITLAB_DATA_DIR"):
        return Path(env).expanduser().resolve()
    repo = Path(__file__).resolve().parents[2]
    if (repo / "pyproject.toml").is_file() and (repo / "src" / "hitlab").is_dir():
        return repo / "data" / "generated"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "hitlab"


def dataset_dir(name: str = "default") -> Path:
    """Folder of dataset ``name`` (it may not be built yet)."""
    _spec(name)
    return data_root() / name


def _spec(name: str) -> dict:
    try:
        return DATASETS[name]
    except KeyError:
        raise DatasetError(f"unknown dataset {name!r}: choose from {', '.join(DATASETS)}") from None


def _is_current(folder: Path, spec: dict) -> bool:
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (folder / DB_NAME).is_file() and (
        manifest.get("generator_version") == __version__
        and manifest.get("generator_revision") == GENERATOR_REVISION
        and manifest.get("seed") == spec["seed"]
        and manifest.get("patients") == spec["patients"]
        and bool(manifest.get("defects")) == spec["defects"]
        and sorted(manifest.get("formats", ALL_FORMATS)) == sorted(spec["formats"])
        and manifest.get("claims", True) == spec.get("claims", True)
    )


@contextmanager
def _lock(root: Path, name: str):
    try:
        root.mkdir(parents=True, exist_ok=True)
        handle = open(root / f".{name}.lock", "a")  # noqa: SIM115 - closed below
    except PermissionError:
        raise DatasetError(
            f"dataset {name!r} needs building in {root}, which this user may not write: build it as the "
            "folder's owner (hitlab data build), or set HITLAB_DATA_DIR to a folder of your own"
        ) from None
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_dataset(name: str = "default", force: bool = False, progress: bool = False) -> Path:
    """Generate dataset ``name`` and load it into DuckDB, unless it is already built; return its folder.

    Safe to call from several processes at once: one builds, the others wait and then find it built. The new
    dataset is built beside the old one and swapped in whole, so a reader never sees half a dataset.
    """
    from hitlab.load import load
    from hitlab.synth import generate

    spec = _spec(name)
    root = data_root()
    folder = root / name
    if not force and _is_current(folder, spec):  # built: no lock needed (a sandboxed kernel may not write)
        return folder
    with _lock(root, name):
        if not force and _is_current(folder, spec):
            return folder
        scratch = root / f".{name}.building"
        shutil.rmtree(scratch, ignore_errors=True)
        generate(out=scratch, progress=progress, **spec)
        load(scratch, scratch / DB_NAME)
        old = root / f".{name}.old"
        shutil.rmtree(old, ignore_errors=True)
        if folder.exists():
            folder.rename(old)
        scratch.rename(folder)
        shutil.rmtree(old, ignore_errors=True)
    return folder


def connect(name: str = "default"):
    """A read-only DuckDB connection to dataset ``name``, built first if it is missing.

    >>> con = connect()
    >>> con.sql("select count(*) from patients").fetchone()
    """
    import duckdb

    folder = dataset_dir(name)
    if not _is_current(folder, _spec(name)):
        build_dataset(name)
    return duckdb.connect(str(folder / DB_NAME), read_only=True)
