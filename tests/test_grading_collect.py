"""Collecting a cohort: nbgrader's submitted/ tree, LMS downloads in a folder or a zip; unplaceable files are
listed with a reason, never guessed."""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path

import pytest

from hitlab.errors import InputError
from hitlab.grading import collect
from hitlab.grading.collect import Problem, safe_student_id

LABS = ["lab01_ehr_data_modeling", "lab02_sql_patient_data"]
NB = b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'


def ambiguous(student: str, lab: str, why: str, *files: str) -> Problem:
    detail = (
        f"{len(files)} uploads of {lab} by {student} ({', '.join(files)}): {why}; keep only the one to grade"
        " and grade again"
    )
    return Problem(student, lab, "ambiguous", detail, files)


def invalid(student: str, lab: str, detail: str, *files: str) -> Problem:
    return Problem(student, lab, "invalid_submission", detail, files)


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
    assert got.problems == []


def test_lms_zip_with_the_default_pattern(tmp_path):
    archive = tmp_path / "downloads.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(f"smithjane_101_9001_{LABS[0]}.ipynb", NB)
        zf.writestr(f"doejohn_LATE_102_9002_{LABS[0]}-1.ipynb", NB)
        zf.writestr(f"smithjane_101_9003_{LABS[1]} (2).ipynb", NB)
        zf.writestr(f"smithjane_101_9004_{LABS[0]}-1.ipynb", NB)
        zf.writestr("lab01_ehr_data_modeling.ipynb", NB)
        zf.writestr("smithjane_101_9005_essay.pdf", b"%PDF")
        zf.writestr("smithjane_101_9006_lab07_security.ipynb", NB)
        zf.writestr("../escape.ipynb", NB)
    got = collect(archive, LABS, work_dir=tmp_path / "work")
    assert [(s.student, s.lab) for s in got.submissions] == [("doejohn", LABS[0]), ("smithjane", LABS[1])]
    assert all(s.path.is_file() and (tmp_path / "work") in s.path.parents for s in got.submissions)
    # Canvas's numbers are a user id and an attachment id, which say nothing of which upload is newer
    pair = (f"smithjane_101_9001_{LABS[0]}.ipynb", f"smithjane_101_9004_{LABS[0]}-1.ipynb")
    why = "the file-name pattern has no timestamp or attempt group to tell which is newer"
    assert got.problems == [ambiguous("smithjane", LABS[0], why, *pair)]
    assert dict(got.unmatched) == {
        "lab01_ehr_data_modeling.ipynb": "the file name does not match the pattern",
        "smithjane_101_9005_essay.pdf": "not a notebook (.ipynb)",
        "smithjane_101_9006_lab07_security.ipynb": "no lab is named 'lab07_security.ipynb'",
        "../escape.ipynb": "unsafe path in the archive: not extracted",
    }
    assert not (tmp_path / "escape.ipynb").exists()


def test_files_of_labs_not_asked_for_are_set_aside_not_unmatched(tmp_path):
    tree = tmp_path / "submitted"
    touch(tree / "ada" / LABS[0] / f"{LABS[0]}.ipynb")
    touch(tree / "ada" / LABS[1] / f"{LABS[1]}.ipynb")
    touch(tree / "ada" / "lab09_unknown" / "lab09_unknown.ipynb")
    got = collect(tree, LABS[:1], other_labs=LABS[1:])
    assert [(s.student, s.lab) for s in got.submissions] == [("ada", LABS[0])]
    assert got.other_labs == [f"ada/{LABS[1]}/{LABS[1]}.ipynb"]
    assert dict(got.unmatched) == {"ada/lab09_unknown/lab09_unknown.ipynb": "unknown lab 'lab09_unknown'"}
    folder = tmp_path / "downloads"
    touch(folder / f"smithjane_101_9001_{LABS[0]}.ipynb")
    touch(folder / f"smithjane_101_9002_{LABS[1]}-1.ipynb")
    got = collect(folder, LABS[:1], other_labs=LABS[1:])
    assert [(s.student, s.lab) for s in got.submissions] == [("smithjane", LABS[0])]
    assert got.other_labs == [f"smithjane_101_9002_{LABS[1]}-1.ipynb"] and not got.unmatched


def test_lms_folder_with_a_custom_pattern(tmp_path):
    folder = tmp_path / "downloads"
    touch(folder / f"{LABS[1]}_attempt_2025-03-01_ada.ipynb")
    got = collect(folder, LABS, pattern=r"(?P<file_id>lab\d\d_[a-z_]+)_attempt_[0-9-]+_(?P<student_id>\w+)")
    assert [(s.student, s.lab) for s in got.submissions] == [("ada", LABS[1])]
    assert not got.unmatched and not got.problems


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


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("smithjane", None),
        ("José O'Neil-2", None),
        ("a" * 128, None),
        ("", "is empty"),
        ("caf\udce9", "is not UTF-8 text"),
        (".", "is '.'"),
        ("..", "is '..'"),
        (".ada", "starts with '.'"),
        ("a/b", "contains '/'"),
        ("a\\b", "contains '\\\\'"),
        ("a\x00b", "contains the control character U+0000"),
        ("a\tb", "contains the control character U+0009"),
        ("a\u202eb", "contains the control character U+202E"),
        ("a\u2028b", "contains the control character U+2028"),
        ("a" * 129, "is longer than 128 characters (129)"),
        ("é" * 128, "is longer than 255 bytes in UTF-8 (256)"),
    ],
)
def test_safe_student_id(name, why):
    assert safe_student_id(name) == why


def test_submitted_tree_with_unsafe_student_folders(tmp_path):
    root = tmp_path / "submitted"
    touch(root / "ada" / LABS[0] / f"{LABS[0]}.ipynb")
    raw = os.fsencode(str(root)) + b"/caf\xe9"  # not UTF-8: Python names it "caf\udce9"
    os.mkdir(raw)
    for lab, name in ((LABS[0], f"{LABS[0]}.ipynb"), (LABS[0], "notes.ipynb"), ("lab09_unknown", "x.ipynb")):
        os.makedirs(raw + f"/{lab}".encode(), exist_ok=True)
        Path(os.fsdecode(raw + f"/{lab}/{name}".encode())).write_bytes(NB)
    touch(root / ".hidden" / LABS[1] / f"{LABS[1]}.ipynb")
    long = "b" * 129
    touch(root / long / LABS[1] / f"{LABS[1]}.ipynb")
    got = collect(root, LABS)
    assert [(s.student, s.lab) for s in got.submissions] == [("ada", LABS[0])]
    fix = "rename it and grade again"
    long_stand_in = "invalid-" + "b" * 40 + "~" + hashlib.sha256(long.encode()).hexdigest()[:12]
    assert got.problems == [
        invalid(
            "invalid-caf%E9",
            LABS[0],
            f"the folder name b'caf\\xe9' is not UTF-8 text: {fix}",
            f"caf\\xe9/{LABS[0]}/{LABS[0]}.ipynb",
            f"caf\\xe9/{LABS[0]}/notes.ipynb",
        ),
        invalid(
            "invalid-.hidden",
            LABS[1],
            f"the folder name '.hidden' starts with '.': {fix}",
            f".hidden/{LABS[1]}/{LABS[1]}.ipynb",
        ),
        invalid(
            long_stand_in,
            LABS[1],
            f"the folder name '{long}' is longer than 128 characters (129): {fix}",
            f"{long}/{LABS[1]}/{LABS[1]}.ipynb",
        ),
    ]
    assert dict(got.unmatched) == {"caf\\xe9/lab09_unknown/x.ipynb": "unknown lab 'lab09_unknown'"}
    assert all(safe_student_id(p.student) is None for p in got.problems)


def test_lms_file_names_with_unsafe_student_ids(tmp_path):
    folder = tmp_path / "downloads"
    long = "x" * 129
    students = [".", "..", "ada\x07", "a\\b"]  # lab 1; a format character, too long and a good one: lab 2
    files = [f"{s}_{LABS[0]}" for s in students] + [f"{s}_{LABS[1]}" for s in ("ada\u200b", long, "bo")]
    for name in [*files, ".._lab09_unknown"]:
        touch(folder / f"{name}.ipynb")
    got = collect(folder, LABS, pattern=r"(?P<student_id>[^_]+)_(?P<file_id>.+)")
    assert [(s.student, s.lab) for s in got.submissions] == [("bo", LABS[1])]

    def detail(student: str, why: str) -> str:
        return f"the student id {student} in the file name {why}: rename the file and grade again"

    long_stand_in = "invalid-" + "x" * 40 + "~" + hashlib.sha256(long.encode()).hexdigest()[:12]
    assert got.problems == [
        invalid("invalid-.", LABS[0], detail("'.'", "is '.'"), f"._{LABS[0]}.ipynb"),
        invalid("invalid-..", LABS[0], detail("'..'", "is '..'"), f".._{LABS[0]}.ipynb"),
        invalid("invalid-a%5Cb", LABS[0], detail("'a\\\\b'", "contains '\\\\'"), f"a\\b_{LABS[0]}.ipynb"),
        invalid(
            "invalid-ada%07",
            LABS[0],
            detail("'ada\\x07'", "contains the control character U+0007"),
            f"ada\\x07_{LABS[0]}.ipynb",
        ),
        invalid(
            "invalid-ada%E2%80%8B",
            LABS[1],
            detail("'ada\\u200b'", "contains the control character U+200B"),
            f"ada\\u200b_{LABS[1]}.ipynb",
        ),
        invalid(
            long_stand_in,
            LABS[1],
            detail(f"'{long}'", "is longer than 128 characters (129)"),
            f"{long}_{LABS[1]}.ipynb",
        ),
    ]
    assert dict(got.unmatched) == {".._lab09_unknown.ipynb": "no lab is named 'lab09_unknown.ipynb'"}
    assert all(safe_student_id(p.student) is None for p in got.problems)


def test_uploads_ordered_by_a_timestamp_group(tmp_path):
    folder = tmp_path / "downloads"
    names = [
        f"ada_2025-03-01-15-10-00_{LABS[0]}.ipynb",  # nbgrader's example form: 15:10 ...
        f"ada_2025-03-01-15-30-00_{LABS[0]}.ipynb",  # ... and 15:30 (dateutil's parse() reads both as 15:00)
        f"bo_2025-03-01T09:00:00Z_{LABS[0]}.ipynb",  # 09:00 UTC ...
        f"bo_2025-03-01T10:00:00+02:00_{LABS[0]}.ipynb",  # ... is newer than 08:00 UTC
        f"cy_2025-03-01T00:00:00_{LABS[0]}.ipynb",
        f"cy_yesterday_{LABS[0]}.ipynb",
        f"di_2025-03-01T12:00:00Z_{LABS[1]}.ipynb",
        f"di_2025-03-01T13:00:00+01:00_{LABS[1]}.ipynb",
        f"eve_2025-03-01_{LABS[1]}.ipynb",
    ]
    for name in names:
        touch(folder / name)
    got = collect(folder, LABS, pattern=r"(?P<student_id>[a-z]+)_(?P<timestamp>[^_]+)_(?P<file_id>.+)")
    assert [(s.student, s.lab, s.path.name) for s in got.submissions] == [
        ("ada", LABS[0], names[1]),
        ("bo", LABS[0], names[2]),
        ("eve", LABS[1], names[8]),
    ]
    assert dict(got.unmatched) == {
        names[0]: f"an earlier upload of {LABS[0]} by ada (graded: {names[1]}, newer by its timestamp)",
        names[3]: f"an earlier upload of {LABS[0]} by bo (graded: {names[2]}, newer by its timestamp)",
    }
    assert got.problems == [
        ambiguous("cy", LABS[0], f"the timestamp of {names[5]} cannot be read ('yesterday')", *names[4:6]),
        ambiguous("di", LABS[1], f"{names[6]} and {names[7]} have the same timestamp", *names[6:8]),
    ]


def test_uploads_ordered_by_an_attempt_group(tmp_path):
    folder = tmp_path / "downloads"
    names = [f"ada_attempt{n}_{LABS[0]}.ipynb" for n in (9, 10, 11)]  # sorted by name: 10, 11, 9
    pair = (f"bo_attempt02_{LABS[1]}.ipynb", f"bo_attempt2_{LABS[1]}.ipynb")
    for name in [*names, *pair]:
        touch(folder / name)
    got = collect(folder, LABS, pattern=r"(?P<student_id>[a-z]+)_attempt(?P<attempt>\d+)_(?P<file_id>.+)")
    assert [(s.student, s.lab, s.path.name) for s in got.submissions] == [("ada", LABS[0], names[2])]
    assert dict(got.unmatched) == {
        name: f"an earlier upload of {LABS[0]} by ada (graded: {names[2]}, newer by its attempt)"
        for name in names[:2]
    }
    assert got.problems == [ambiguous("bo", LABS[1], f"{pair[0]} and {pair[1]} have the same attempt", *pair)]
