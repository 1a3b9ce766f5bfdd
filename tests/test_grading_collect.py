"""Collecting a cohort: nbgrader's submitted/ tree, LMS downloads in a folder or a zip; unplaceable files are
listed with a reason, never guessed."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from hitlab.errors import InputError
from hitlab.grading import collect

LABS = ["lab01_ehr_data_modeling", "lab02_sql_patient_data"]
NB = b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'


def touch(path: Path, data: bytes = NB) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_submitted_tree(tmp_path):
    root = tmp_path / "submitted"
    for student in ("ada", "bo"):
        touch(root / student / LABS[0] / f"{LABS[0]}.ipynb")
    touch(root / "ada" / LABS[1] / f"{LABS[1]}.ipynb")
    touch(root / "bo" / "lab09_unknown" / "lab09_unknown.ipynb")
    touch(root / "bo" / LABS[1] / "notes.ipynb")
    touch(root / "bo" / LABS[1] / ".ipynb_checkpoints" / f"{LABS[1]}-checkpoint.ipynb")
    touch(root / "readme.txt", b"hello")
    got = collect(root, LABS)
    assert [(s.student, s.lab) for s in got.submissions] == [
        ("ada", LABS[0]),
        ("bo", LABS[0]),
        ("ada", LABS[1]),
    ]
    assert dict(got.unmatched) == {
        "bo/lab09_unknown/lab09_unknown.ipynb": "unknown lab 'lab09_unknown'",
        f"bo/{LABS[1]}/notes.ipynb": f"not the lab's notebook (expected {LABS[1]}.ipynb)",
        "readme.txt": "not <student>/<lab>/<notebook>.ipynb",
    }


def test_lms_zip_with_the_default_pattern(tmp_path):
    archive = tmp_path / "downloads.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(f"smithjane_101_9001_{LABS[0]}.ipynb", NB)
        zf.writestr(f"doejohn_LATE_102_9002_{LABS[0]}-1.ipynb", NB)
        zf.writestr(f"smithjane_101_9003_{LABS[1]} (2).ipynb", NB)
        zf.writestr(f"smithjane_101_9004_{LABS[0]}.ipynb", NB)
        zf.writestr("lab01_ehr_data_modeling.ipynb", NB)
        zf.writestr("smithjane_101_9005_essay.pdf", b"%PDF")
        zf.writestr("smithjane_101_9006_lab07_security.ipynb", NB)
        zf.writestr("../escape.ipynb", NB)
    got = collect(archive, LABS, work_dir=tmp_path / "work")
    assert [(s.student, s.lab) for s in got.submissions] == [
        ("doejohn", LABS[0]), ("smithjane", LABS[0]), ("smithjane", LABS[1]),
    ]  # fmt: skip
    assert all(s.path.is_file() and (tmp_path / "work") in s.path.parents for s in got.submissions)
    assert dict(got.unmatched) == {
        f"smithjane_101_9004_{LABS[0]}.ipynb": f"a second submission of {LABS[0]} by smithjane "
        f"(kept smithjane_101_9001_{LABS[0]}.ipynb)",
        "lab01_ehr_data_modeling.ipynb": "the file name does not match the pattern",
        "smithjane_101_9005_essay.pdf": "not a notebook (.ipynb)",
        "smithjane_101_9006_lab07_security.ipynb": "no lab is named 'lab07_security.ipynb'",
        "../escape.ipynb": "unsafe path in the archive: not extracted",
    }
    assert not (tmp_path / "escape.ipynb").exists()


def test_lms_folder_with_a_custom_pattern(tmp_path):
    folder = tmp_path / "downloads"
    touch(folder / f"{LABS[1]}_attempt_2025-03-01_ada.ipynb")
    got = collect(folder, LABS, pattern=r"(?P<file_id>lab\d\d_[a-z_]+)_attempt_[0-9-]+_(?P<student_id>\w+)")
    assert [(s.student, s.lab) for s in got.submissions] == [("ada", LABS[1])] and not got.unmatched


def test_bad_sources_and_patterns_are_clear_errors(tmp_path):
    with pytest.raises(InputError, match="no such file or folder"):
        collect(tmp_path / "missing", LABS)
    bad = touch(tmp_path / "broken.zip", b"not a zip")
    with pytest.raises(InputError, match=r"broken\.zip: not a readable zip archive"):
        collect(bad, LABS, work_dir=tmp_path / "w")
    with pytest.raises(InputError, match="needs a work folder"):
        collect(bad, LABS)
    with pytest.raises(InputError, match=r"needs the groups \(\?P<student_id>"):
        collect(tmp_path, LABS, pattern=r"(?P<student>\w+)")
    with pytest.raises(InputError, match="not a valid regular expression"):
        collect(tmp_path, LABS, pattern=r"(unclosed")
