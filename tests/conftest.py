"""Shared fixtures: synthetic populations generated once per test run (shared by xdist workers)."""

from __future__ import annotations

import fcntl
import os
import uuid
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


@pytest.fixture
def postgres_db():
    """A fresh database on the PostgreSQL server in HITLAB_TEST_POSTGRES_URL (``.ci/run`` starts one; CI fails
    without it, elsewhere the test is skipped), dropped afterwards; yields its URL."""
    url = os.environ.get("HITLAB_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail(
                "CI must provide a PostgreSQL server in HITLAB_TEST_POSTGRES_URL (.ci/run starts one)"
            )
        pytest.skip("no PostgreSQL server: set HITLAB_TEST_POSTGRES_URL=postgresql://user:pw@host/db")
    import psycopg

    name = f"hitlab_test_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as con:
        con.execute(f"create database {name}")
    yield url.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(url, autocommit=True) as con:
        con.execute(f"drop database {name} with (force)")


@pytest.fixture(scope="session")
def practice_url():
    """The URL of a running practice service (``hitlab practice serve``, the real command of this install), as an
    exam release's kernels reach it through ``HITLAB_PRACTICE``; stopped with SIGTERM at the end."""
    import shutil
    import signal
    import subprocess
    import sys

    command = [shutil.which("hitlab", path=str(Path(sys.executable).parent)) or "hitlab", "practice", "serve"]
    service = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = service.stdout.readline()
        assert "HITLAB_PRACTICE=" in line, (
            f"hitlab practice serve said {line!r}, {service.stderr.read()[-2000:]!r}"
        )
        yield line.strip().split("HITLAB_PRACTICE=", 1)[1]
    finally:
        service.send_signal(signal.SIGTERM)
        out, _err = service.communicate(timeout=30)
        assert service.returncode == 0 and "practice servers stopped" in out, (service.returncode, out, _err)
