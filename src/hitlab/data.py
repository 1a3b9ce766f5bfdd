"""The workbook's datasets: where they live, how they are built, and the one call notebooks use.

``connect()`` opens the default dataset read-only in DuckDB, building it on first use, so any number of
kernels can share it. Datasets live in ``data/generated/<name>/`` of the repository (``HITLAB_DATA_DIR``
overrides the parent folder), each holding the generated files and ``hitlab.duckdb``.

A dataset per learner: with a personal key (``$HITLAB_KEY``, or the file ``key`` in ``$HITLAB_HOME``, default
``~/.hitlab``; see :mod:`hitlab.cohort_keys`), every dataset resolves to the learner's *variant*: the same spec
generated with a seed derived from the key, kept in ``<data root>/variants/<seed>/<name>/``.
``$HITLAB_DATASET_SEED=<int>`` (the grader sets it per student) picks the variant directly and wins over a key;
``$HITLAB_DATASET_SEED=named`` forces the named datasets. With neither: the named datasets, as always.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from hitlab import __version__
from hitlab.cohort_keys import SEED_LIMIT, key_for, personal_key, variant_seed
from hitlab.errors import DatasetError
from hitlab.synth.generate import GENERATOR_REVISION

__all__ = [
    "DATASETS",
    "active_seed",
    "build_dataset",
    "build_variant",
    "connect",
    "data_root",
    "dataset_dir",
    "dataset_seed",
    "datasets_for",
    "evict_variants",
    "key_for",
    "list_variants",
    "variant_dir",
    "variant_seed",
]

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

SEED_ENV = "HITLAB_DATASET_SEED"
VARIANTS = "variants"
USED = ".used"
"""Marker file of a variant folder, touched whenever one of its datasets is used (least-recently-used eviction)."""


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


# -- variants ----------------------------------------------------------------------------------------------------


def active_seed() -> int | None:
    """The variant this environment uses: ``$HITLAB_DATASET_SEED`` if set (``named``: none), else the seed
    of the learner's personal key (:func:`hitlab.cohort_keys.personal_key`), else None (the named datasets)."""
    if env := os.environ.get(SEED_ENV, "").strip():
        if env.lower() == "named":
            return None
        try:
            seed = int(env)
        except ValueError:
            raise DatasetError(
                f"${SEED_ENV}={env!r}: expected a whole number (a dataset seed) or 'named'"
            ) from None
        return _check_seed(seed, f"${SEED_ENV}")
    key = personal_key()
    return variant_seed(key) if key else None


def _check_seed(seed: int, what: str = "variant seed") -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 1 <= seed < SEED_LIMIT:
        raise DatasetError(f"{what}: expected a seed from 1 to {SEED_LIMIT - 1}, got {seed!r}")
    return seed


def dataset_seed(name: str, variant: int) -> int:
    """The seed dataset ``name`` is generated with in variant ``variant``: the variant itself for ``default``
    and ``defects`` (the same people, as in the named datasets); for the others a seed derived from the
    variant and the name, so that, as in the named datasets, ``analytics`` and ``analytics-holdout`` are
    populations of their own."""
    _spec(name)
    if name in ("default", "defects"):
        return variant
    digest = hashlib.sha256(f"hitlab-variant/{variant}/{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % (SEED_LIMIT - 2) + 2


def variant_dir(seed: int, name: str | None = None) -> Path:
    """Folder of variant ``seed`` (``<data root>/variants/<seed>``), or of its dataset ``name``."""
    folder = data_root() / VARIANTS / str(_check_seed(seed))
    if name is None:
        return folder
    _spec(name)
    return folder / name


def _target(name: str, variant: int | None) -> tuple[Path, dict, Path, str]:
    """Folder, spec, lock folder and lock name of dataset ``name`` of ``variant`` (None: the named one)."""
    spec = _spec(name)
    root = data_root()
    if variant is None:
        return root / name, spec, root, name
    spec = {**spec, "seed": dataset_seed(name, variant)}
    return variant_dir(variant, name), spec, root / VARIANTS, str(variant)


def _touch(variant: int | None) -> None:
    """Mark variant ``variant`` as just used (nothing for the named datasets; a read-only data root is fine)."""
    if variant is None:
        return
    with suppress(OSError):
        (variant_dir(variant) / USED).touch()


# -- datasets ----------------------------------------------------------------------------------------------------


def dataset_dir(name: str = "default") -> Path:
    """Folder of dataset ``name`` (it may not be built yet): the learner's variant of it if one is active."""
    return _target(name, active_seed())[0]


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
def _lock(root: Path, name: str, blocking: bool = True):
    try:
        root.mkdir(parents=True, exist_ok=True)
        handle = open(root / f".{name}.lock", "a")  # noqa: SIM115 - closed below
    except PermissionError:
        raise DatasetError(
            f"dataset {name!r} needs building in {root}, which this user may not write: build it as the "
            "folder's owner (hitlab data build), or set HITLAB_DATA_DIR to a folder of your own"
        ) from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build(name: str, variant: int | None, force: bool, progress: bool) -> Path:
    folder, spec, lock_root, lock_name = _target(name, variant)
    _touch(variant)
    if not force and _is_current(folder, spec):  # built: no lock needed (a sandboxed kernel may not write)
        return folder
    with _lock(lock_root, lock_name):
        if not force and _is_current(folder, spec):
            return folder
        parent = folder.parent
        parent.mkdir(parents=True, exist_ok=True)
        scratch = parent / f".{name}.building"
        shutil.rmtree(scratch, ignore_errors=True)
        _generate_and_load(scratch, parent / f".{name}.{DB_NAME}.building", spec, progress)
        old = parent / f".{name}.old"
        shutil.rmtree(old, ignore_errors=True)
        if folder.exists():
            folder.rename(old)
        scratch.rename(folder)
        shutil.rmtree(old, ignore_errors=True)
        _touch(variant)
    return folder


def _generate_and_load(out: Path, db: Path, spec: dict, progress: bool) -> None:
    """Generate ``spec`` into ``out`` and load it into ``out/hitlab.duckdb``: the CSV set is loaded (into
    ``db``, outside ``out`` while the manifest's checksums are taken) as soon as it is written, while a second
    process may still be writing the FHIR and HL7 v2 files; then the FHIR. The same tables as
    :func:`hitlab.load.load` of the finished folder."""
    import duckdb

    from hitlab.load import load_csv, load_fhir
    from hitlab.synth import generate

    db.unlink(missing_ok=True)
    if "csv" not in spec["formats"]:
        generate(out=out, progress=progress, **spec)
        load_fhir(out / "fhir", db)
    else:
        with duckdb.connect(str(db)) as con:
            generate(out=out, progress=progress, on_csv=lambda csv: load_csv(csv, con), **spec)
            if "fhir" in spec["formats"]:
                load_fhir(out / "fhir", con)
    db.rename(out / DB_NAME)


def build_dataset(name: str = "default", force: bool = False, progress: bool = False) -> Path:
    """Generate dataset ``name`` (the active variant's, if any) and load it into DuckDB, unless it is already
    built; return its folder.

    Safe to call from several processes at once: one builds, the others wait and then find it built. The new
    dataset is built beside the old one and swapped in whole, so a reader never sees half a dataset.
    """
    return _build(name, active_seed(), force, progress)


def build_variant(
    seed: int, names=("default", "defects"), force: bool = False, progress: bool = False
) -> dict[str, Path]:
    """Build datasets ``names`` of variant ``seed`` (those of :func:`datasets_for` for grading), whatever
    variant this environment uses; return their folders by name."""
    _check_seed(seed)
    return {name: _build(name, seed, force, progress) for name in names}


def connect(name: str = "default"):
    """A read-only DuckDB connection to dataset ``name`` (the active variant's, if any), built first if it is
    missing.

    >>> con = connect()
    >>> con.sql("select count(*) from patients").fetchone()
    """
    import duckdb

    variant = active_seed()
    folder, spec, _, _ = _target(name, variant)
    _touch(variant)
    for attempt in (1, 2):
        if not _is_current(folder, spec):
            _build(name, variant, False, False)
        try:
            return duckdb.connect(str(folder / DB_NAME), read_only=True)
        except duckdb.IOException:
            if attempt == 2 or (folder / DB_NAME).is_file():
                raise  # not a variant evicted between the check and the open
    raise AssertionError("unreachable")


# -- the grader's cache of variants ------------------------------------------------------------------------------


@dataclass
class VariantInfo:
    seed: int
    folder: Path
    datasets: tuple[str, ...]
    size: int  # bytes
    last_used: float  # seconds since the epoch


def _size(folder: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(folder):
        for f in files:
            with suppress(OSError):
                total += os.lstat(os.path.join(dirpath, f)).st_size
    return total


def list_variants() -> list[VariantInfo]:
    """The variants built under the data root, most recently used first."""
    parent = data_root() / VARIANTS
    found = []
    for folder in parent.iterdir() if parent.is_dir() else ():
        if not (folder.is_dir() and folder.name.isdigit()):
            continue
        marker = folder / USED
        try:
            used = (marker if marker.exists() else folder).stat().st_mtime
        except OSError:
            continue  # evicted meanwhile
        names = tuple(n for n in DATASETS if (folder / n).is_dir())
        found.append(VariantInfo(int(folder.name), folder, names, _size(folder), used))
    return sorted(found, key=lambda v: (v.last_used, v.seed), reverse=True)


def evict_variants(keep: int | None = None, max_bytes: int | None = None) -> list[int]:
    """Delete least-recently-used variants until at most ``keep`` remain and together they take at most
    ``max_bytes``; return the seeds deleted. The named datasets are never touched, and a variant being built
    (its lock held) is left alone."""
    if keep is None and max_bytes is None:
        raise DatasetError("evict_variants: give keep (how many variants to keep) and/or max_bytes")
    if (keep is not None and keep < 0) or (max_bytes is not None and max_bytes < 0):
        raise DatasetError("evict_variants: keep and max_bytes cannot be negative")
    lock_root = data_root() / VARIANTS
    evicted, kept, total = [], 0, 0
    for v in list_variants():
        if (keep is None or kept < keep) and (max_bytes is None or total + v.size <= max_bytes):
            kept, total = kept + 1, total + v.size
            continue
        with _lock(lock_root, str(v.seed), blocking=False) as locked:
            if not locked:  # being built right now: in use
                kept, total = kept + 1, total + v.size
                continue
            doomed = lock_root / f".{v.seed}.evicting-{os.getpid()}-{time.monotonic_ns()}"
            try:
                v.folder.rename(doomed)
            except OSError:
                continue
            shutil.rmtree(doomed, ignore_errors=True)
            evicted.append(v.seed)
    return evicted
