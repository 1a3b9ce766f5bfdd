"""The curated public Python API of hitlab; the ``hitlab`` command line mirrors it one to one."""

from __future__ import annotations

from hitlab.data import build_dataset, connect, dataset_dir
from hitlab.labserver import run_lab
from hitlab.load import LoadReport, load
from hitlab.synth import generate

__all__ = ["LoadReport", "build_dataset", "connect", "dataset_dir", "generate", "load", "run_lab"]
