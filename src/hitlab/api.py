"""The curated public Python API of hitlab; the ``hitlab`` command line mirrors it one to one."""

from __future__ import annotations

from hitlab.course import build as build_labs
from hitlab.course import lint as lint_labs
from hitlab.course import verify as verify_labs
from hitlab.data import build_dataset, connect, dataset_dir
from hitlab.labserver import run_lab
from hitlab.load import LoadReport, load
from hitlab.synth import generate

__all__ = [
    "LoadReport",
    "build_dataset",
    "build_labs",
    "connect",
    "dataset_dir",
    "generate",
    "lint_labs",
    "load",
    "run_lab",
    "verify_labs",
]
