"""Shared fixtures: synthetic populations generated once per test run (shared by xdist workers)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def population(tmp_path_factory):
    """``population(patients, seed, formats=..., defects=False, db=False) -> Path`` of a generated dataset.

    Each distinct population is generated once per run (under a lock, so xdist workers share it); with
    ``db=True`` it is also loaded into ``hitlab.duckdb`` in its folder.
    """
    from hitlab.load import load
    from hitlab.synth import generate

    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_TESTRUNUID") else base) / "populations"
    root.mkdir(parents=True, exist_ok=True)

    def make(
        patients: int, seed: int, formats=("csv", "fhir", "hl7v2"), defects: bool = False, db: bool = False
    ):
        key = f"n{patients}-s{seed}-{'-'.join(formats)}{'-defects' if defects else ''}"
        out = root / key
        with open(root / f"{key}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (out / "manifest.json").exists():
                generate(patients=patients, seed=seed, out=out, formats=formats, defects=defects)
            if db and not (out / "hitlab.duckdb").exists():
                load(out, out / "hitlab.duckdb.part")
                (out / "hitlab.duckdb.part").rename(out / "hitlab.duckdb")
        return out

    return make
