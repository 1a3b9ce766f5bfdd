"""Named datasets: built once (even when several processes ask at once) and opened read-only by many."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import duckdb
import pytest

from hitlab import data
from hitlab.errors import DatasetError

SMALL = {
    "default": {"patients": 25, "seed": 3, "defects": False, "formats": data.ALL_FORMATS},
    "defects": {"patients": 25, "seed": 3, "defects": True, "formats": data.ALL_FORMATS},
    "analytics": {"patients": 25, "seed": 3, "defects": False, "formats": ("csv",)},
}


@pytest.fixture
def small_datasets(tmp_path, monkeypatch):
    monkeypatch.setenv("HITLAB_DATA_DIR", str(tmp_path / "generated"))
    monkeypatch.setattr(data, "DATASETS", SMALL)
    return tmp_path / "generated"


def test_connect_builds_on_first_use_and_opens_read_only(small_datasets):
    con = data.connect()
    assert con.execute("select count(*) from patients").fetchone()[0] == 25
    assert con.execute("select count(*) from fhir_patient").fetchone()[0] == 25
    with pytest.raises(duckdb.Error):
        con.execute("create table scratch (x int)")
    con.close()
    folder = small_datasets / "default"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["seed"] == 3 and manifest["defects"] is None
    assert sorted(p.name for p in folder.iterdir()) == [
        "access_log_truth.json",
        "csv",
        "fhir",
        "hitlab.duckdb",
        "hl7v2",
        "manifest.json",
        "note_phi.json",
    ]


def test_build_is_idempotent_and_force_rebuilds(small_datasets):
    folder = data.build_dataset("defects")
    db = folder / "hitlab.duckdb"
    first = db.stat().st_mtime_ns
    assert data.build_dataset("defects") == folder and db.stat().st_mtime_ns == first
    data.build_dataset("defects", force=True)
    assert db.stat().st_mtime_ns != first
    assert json.loads((folder / "manifest.json").read_text())["defects"]["planted"] is not None


def test_unknown_dataset_is_a_clear_error(small_datasets):
    with pytest.raises(DatasetError, match="unknown dataset 'nope': choose from default, defects"):
        data.connect("nope")


def test_several_processes_build_once_and_read_at_once(small_datasets):
    """Three kernels ask for the data at the same moment: all get it, read-only, at the same time."""
    script = textwrap.dedent(f"""
        import sys, time
        from hitlab import data
        data.DATASETS = {SMALL!r}
        con = data.connect()
        n = con.execute("select count(*) from encounters").fetchone()[0]
        time.sleep(1.0)  # hold the connection while the others open theirs
        print(n, con.execute("select count(*) from patients").fetchone()[0])
    """)
    env = {"HITLAB_DATA_DIR": str(small_datasets), "PATH": "/usr/bin:/bin"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [err for _out, err in outs]
    results = {out.split()[1] for out, _err in outs}
    assert results == {"25"}
    assert len({out.split()[0] for out, _err in outs}) == 1
    assert not list(small_datasets.glob(".default.building")) and not list(
        small_datasets.glob(".default.old")
    )


def test_a_csv_only_dataset_holds_csv_alone_and_is_rebuilt_when_its_formats_change(
    small_datasets, monkeypatch
):
    con = data.connect("analytics")
    assert con.execute("select count(*) from patients").fetchone()[0] == 25
    tables = {r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()}
    con.close()
    assert "encounters" in tables and not any(t.startswith("fhir_") for t in tables)
    folder = small_datasets / "analytics"
    assert not (folder / "fhir").exists() and not (folder / "hl7v2").exists()
    assert list(json.loads((folder / "manifest.json").read_text())["formats"]) == ["csv"]
    built = (folder / data.DB_NAME).stat().st_mtime_ns
    assert data.build_dataset("analytics") == folder and (folder / data.DB_NAME).stat().st_mtime_ns == built
    monkeypatch.setitem(data.DATASETS, "analytics", {**SMALL["analytics"], "formats": ("csv", "fhir")})
    data.connect("analytics").close()
    assert (folder / "fhir").is_dir()


def test_grading_builds_the_datasets_its_labs_read():
    assert data.datasets_for(["lab02_sql_patient_data"]) == ("default", "defects")
    assert data.datasets_for(["lab08_warehouse_population_health", "lab09_ml_readmission"]) == (
        "default", "defects", "analytics", "analytics-holdout",
    )  # fmt: skip
    assert all(d in data.DATASETS for ds in data.LAB_DATASETS.values() for d in ds)
