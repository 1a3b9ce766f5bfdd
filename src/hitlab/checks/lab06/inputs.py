"""What lab 06's exercises work on, for the learner and the checks alike: the lab's fixed parameters (release
date, restricted ZIP3s, code lists, generalization hierarchies), the tables and notes the questions use, and
the span scorer. Nothing here knows an answer.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import date
from functools import cache
from pathlib import Path

from hitlab.checks.core import defined  # noqa: F401 - the notebooks call it from the lab module

DATA = Path(__file__).resolve().parents[2] / "labdata" / "lab06"

RELEASE_DATE = date(2026, 1, 1)
"""The day the de-identified extract is released: ages are counted to this date (its year, 2026)."""
REFERENCE_YEAR = RELEASE_DATE.year

PATIENT_IDENTIFIERS = (
    "Id", "BIRTHDATE", "DEATHDATE", "SSN", "DRIVERS", "PASSPORT", "PREFIX", "FIRST", "MIDDLE", "LAST", "SUFFIX",
    "MAIDEN", "BIRTHPLACE", "ADDRESS", "CITY", "COUNTY", "FIPS", "ZIP", "LAT", "LON",
)  # fmt: skip
"""Columns of Synthea's ``patients`` table that hold an identifier of 164.514(b)(2)(i) (or a full date)."""

CODES = {
    "GENDER": ("F", "M"),
    "RACE": ("white", "black", "asian", "native", "hawaiian", "other"),
    "ETHNICITY": ("hispanic", "nonhispanic"),
    "MARITAL": ("M", "S", "D", "W"),
}
"""Synthea's code lists for the coded columns a Safe Harbor release keeps."""

SAFE_HARBOR_COLUMNS = (
    "BIRTH_YEAR", "DEATH_YEAR", "AGE_90_PLUS", "GENDER", "RACE", "ETHNICITY", "MARITAL", "STATE", "ZIP3",
    "HEALTHCARE_EXPENSES", "HEALTHCARE_COVERAGE", "INCOME",
)  # fmt: skip
"""The columns of the Safe Harbor release, in order."""

FINDING_CATEGORIES = ("COLUMN", "SSN", "PHONE", "EMAIL", "DATE", "ZIP", "AGE_OVER_89")
PHI_CATEGORIES = ("NAME", "ADDRESS", "DATE", "AGE_OVER_89", "PHONE", "EMAIL", "SSN", "MRN", "HEALTH_PLAN")
QUASI = ("ZIP", "BIRTH_YEAR", "GENDER")
SENSITIVE = "DIAGNOSIS"
MIN_RECALL, MIN_CATEGORY_RECALL, MIN_PRECISION = 0.95, 0.90, 0.90
UNSEEN_SEED, UNSEEN_PATIENTS = 2, 150


@cache
def restricted_zip3() -> frozenset[str]:
    """The ZIP3s Safe Harbor releases as ``000`` (HHS OCR guidance, 2012; see labdata/lab06/SOURCES.md)."""
    with (DATA / "restricted_zip3.csv").open(encoding="utf-8", newline="") as f:
        return frozenset(row["zip3"] for row in csv.DictReader(f))


def _connection(dataset: str = "default"):
    from hitlab.checks.sql import connection

    return connection(dataset).cursor()


def patients(dataset: str = "default"):
    """The ``patients`` table as a pandas DataFrame, ordered by ``Id`` (index 0..n-1)."""
    return _connection(dataset).execute("select * from patients order by Id").df()


def encounter_dates(dataset: str = "default"):
    """``PATIENT``, ``START``, ``STOP`` of every encounter (timestamps), ordered by ``Id``."""
    return _connection(dataset).execute("select PATIENT, START, STOP from encounters order by Id").df()


def quasi_table(dataset: str = "default"):
    """One row per patient for the k-anonymity exercises: ``ZIP`` (5-digit text), ``BIRTH_YEAR`` (int),
    ``GENDER`` and the sensitive ``DIAGNOSIS`` (the description of the patient's most recent condition, or
    ``"none"``); ordered by patient ``Id``, index 0..n-1, no identifiers."""
    return (
        _connection(dataset)
        .execute(
            """
            select p.ZIP, cast(year(p.BIRTHDATE) as integer) as BIRTH_YEAR, p.GENDER,
                   coalesce((select c.DESCRIPTION from conditions c where c.PATIENT = p.Id
                             order by c.START desc, c.CODE limit 1), 'none') as DIAGNOSIS
            from patients p order by p.Id
            """
        )
        .df()
    )


def mrns(dataset: str = "default") -> tuple[str, ...]:
    """The patients' MRNs (8 digits, as the FHIR ``Patient.identifier`` of type MR carries them), sorted."""
    found = set()
    for (resource,) in _connection(dataset).execute("select resource from fhir_patient").fetchall():
        for ident in json.loads(resource).get("identifier", []):
            if any(c.get("code") == "MR" for c in ident.get("type", {}).get("coding", [])):
                found.add(ident["value"])
    return tuple(sorted(found))


# -- clinical notes --------------------------------------------------------------------------------------------


@cache
def notes(dataset: str = "default") -> tuple[tuple[str, tuple[tuple[int, int, str], ...]], ...]:
    """The dataset's notes with their labelled spans: ``(text, ((start, end, category), ...))``, by note Id."""
    from hitlab.data import dataset_dir

    rows = dict(_connection(dataset).execute("select Id, TEXT from notes").fetchall())
    phi = json.loads((dataset_dir(dataset) / "note_phi.json").read_text(encoding="utf-8"))
    out = []
    for note in sorted(phi["notes"], key=lambda n: n["id"]):
        spans = tuple((s["start"], s["end"], s["category"]) for s in note["spans"])
        out.append((rows[note["id"]], spans))
    return tuple(out)


@cache
def unseen_notes(seed: int = UNSEEN_SEED, count: int = UNSEEN_PATIENTS) -> tuple:
    """Notes of another population (``seed``, its first ``count`` patients), written by the generator's notes
    module as for the dataset, in the same shape as :func:`notes`."""
    from hitlab.synth.reference import world
    from hitlab.synth.simulate import simulate_patient

    w = world()
    out = []
    for index in range(count):
        for note in simulate_patient(w, seed, index).notes:
            out.append((note.text, tuple((s.start, s.end, s.category) for s in note.spans)))
    return tuple(out)


def note_text(note: str | bytes) -> str:
    """A note as text: bytes are decoded as UTF-8; invalid bytes raise ``ValueError`` naming the offset."""
    if isinstance(note, bytes):
        try:
            return note.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(
                f"the note is not valid UTF-8: byte {note[err.start]:#04x} at offset {err.start} ({err.reason})"
            ) from None
    if not isinstance(note, str):
        raise ValueError(f"a note is text (str, or UTF-8 bytes), got {type(note).__name__}")
    return note


def _merged(spans) -> list[tuple[int, int]]:
    """Character intervals ``[start, end)`` covered by ``spans``, merged where they overlap or touch."""
    out: list[list[int]] = []
    for s, e in sorted((int(s), int(e)) for s, e, *_ in spans):
        if e <= s:
            continue
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def _covered(start: int, end: int, merged: list[tuple[int, int]]) -> int:
    """How many characters of ``[start, end)`` the merged intervals cover."""
    return sum(max(0, min(end, e) - max(start, s)) for s, e in merged)


def score_spans(found, labelled) -> dict:
    """Character-level scoring of one or many notes: ``found`` and ``labelled`` are lists (one per note) of
    ``(start, end, category)``. **Recall**: the share of labelled characters that a found span covers (a name
    half redacted is half found), overall and by the labelled span's category. **Precision**: the share of
    the characters found spans cover that lie inside labelled spans (redacting a whole note is not precise).
    Categories are not compared: redaction is what matters.

    Returns ``precision``, ``recall``, ``recall_by_category``, the span counts ``found`` and ``labelled``, and
    the character counts ``found_chars``, ``right_chars``, ``labelled_chars`` and ``covered_chars``."""
    found_chars = right_chars = 0
    by_cat: dict[str, list[int]] = {}  # category -> [covered characters, labelled characters]
    n_found = n_labelled = 0
    for got, gold in zip(found, labelled, strict=True):
        mine, theirs = _merged(got), _merged(gold)
        n_found += len(got)
        n_labelled += len(gold)
        found_chars += sum(e - s for s, e in mine)
        right_chars += sum(_covered(s, e, theirs) for s, e in mine)
        for gs, ge, cat in gold:
            counts = by_cat.setdefault(cat, [0, 0])
            counts[0] += _covered(int(gs), int(ge), mine)
            counts[1] += int(ge) - int(gs)
    covered = sum(c[0] for c in by_cat.values())
    total = sum(c[1] for c in by_cat.values())
    return {
        "precision": right_chars / found_chars if found_chars else 0.0,
        "recall": covered / total if total else 1.0,
        "recall_by_category": {c: v[0] / v[1] for c, v in sorted(by_cat.items())},
        "found": n_found,
        "labelled": n_labelled,
        "found_chars": found_chars,
        "right_chars": right_chars,
        "labelled_chars": total,
        "covered_chars": covered,
    }


_BAND = re.compile(r"(\d{4})-(\d{4})")


def covers(general, value, column: str) -> bool:
    """Whether released value ``general`` is ``value`` or a generalization of it under this lab's hierarchies
    (``ZIP``: trailing digits replaced by ``*``; ``BIRTH_YEAR``: the year as text, a band ``"1960-1969"``
    holding it, or ``"*"``; ``GENDER``: itself or ``"*"``; other columns: unchanged)."""
    general, value = str(general), str(value)
    if column == "ZIP":
        kept = general.rstrip("*")
        return len(general) == len(value) and value.startswith(kept) and "*" not in kept
    if column == "BIRTH_YEAR":
        band = _BAND.fullmatch(general)
        return general in ("*", value) or bool(band and int(band[1]) <= int(value) <= int(band[2]))
    if column == "GENDER":
        return general in ("*", value)
    return general == value
