"""What a folder of input holds: which files are Synthea CSV, which are FHIR, and which are neither.

Every visible file directly in the folder is sorted into one kind (hidden files and subfolders are ignored):

- ``csv``: a ``*.csv`` file. It always belongs to the Synthea CSV set, so a CSV file with a name Synthea never
  writes is refused by the CSV loader rather than silently left out (a misspelt ``patient.csv`` must not vanish).
- ``fhir``: an ``*.ndjson`` file, or a ``*.json`` file that declares a ``"resourceType"`` in its first 64 KiB
  (a FHIR resource or Bundle always does, at the top or in its first entries).
- ``metadata``: Synthea's run metadata, the ``<runStartTime>_<population>_<state>_..._<runID>.json`` that
  Synthea's ``MetadataExporter`` writes (``exporter.metadata.export``): a small JSON object with ``seed``,
  ``version`` and ``runStartTime`` and no ``resourceType``. It describes a run; it holds no data.
- ``json``: any other ``*.json`` (no ``resourceType``, not Synthea's metadata).
- ``other``: everything else (a README, notes, a spreadsheet, ...).

What a load does with them (:func:`select`): it loads the kinds it reads and skips the rest, each with a reason
that ends up in :attr:`LoadReport.skipped <hitlab.load.report.LoadReport.skipped>`. One kind needs a decision:
a ``json`` file is a FHIR candidate whenever FHIR is loaded from the folder, so it is refused with the FHIR
loader's exact message (it may be a Bundle that lost its ``resourceType``); only a folder loaded as Synthea CSV
alone skips it, since no JSON can belong to a CSV set. Automatic detection (:func:`hitlab.load.load`) loads
FHIR from a folder that holds ``fhir`` files, or ``json`` files and no CSV.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

CSV, FHIR, METADATA, JSON, OTHER = "csv", "fhir", "metadata", "json", "other"

#: How much of a ``.json`` file is read to decide whether it is FHIR.
HEAD_BYTES = 1 << 16

#: Keys Synthea's MetadataExporter always writes (among others: runID, clinicianSeed, patientCount, ...).
METADATA_KEYS = frozenset({"seed", "version", "runStartTime"})


@dataclass(frozen=True)
class Item:
    """One file of a folder and its kind."""

    path: Path
    kind: str


@dataclass
class Selection:
    """The files one load reads from a folder, and the files it leaves out with why (keyed by path)."""

    csv: list[Path]
    fhir: list[Path]
    skipped: dict[str, str]


def _json_kind(path: Path) -> str:
    with open(path, "rb") as f:
        head = f.read(4096)  # where any real FHIR file names its resourceType; read on only if it does not
        if b'"resourceType"' in head:
            return FHIR
        head += f.read(HEAD_BYTES - len(head))
        complete = not f.read(1)
    if b'"resourceType"' in head:
        return FHIR
    if complete:
        try:
            value = json.loads(head.decode("utf-8").removeprefix("\ufeff"))
        except ValueError:  # not UTF-8, or not JSON
            return JSON
        if isinstance(value, dict) and value.keys() >= METADATA_KEYS:
            return METADATA
    return JSON


def kind_of(path: Path) -> str:
    """The kind of one file (see the module docstring)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return CSV
    if suffix == ".ndjson":
        return FHIR
    if suffix == ".json":
        return _json_kind(path)
    return OTHER


def scan(folder: Path) -> list[Item]:
    """The visible files directly in ``folder``, sorted by name, each with its kind."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    return [Item(p, kind_of(p)) for p in files]


def has(items: list[Item], *kinds: str) -> bool:
    return any(i.kind in kinds for i in items)


def fhir_wanted(items: list[Item]) -> bool:
    """Whether automatic detection loads FHIR from a folder with these files."""
    return has(items, FHIR) or (has(items, JSON) and not has(items, CSV))


def select(items: list[Item], *, csv: bool, fhir: bool) -> Selection:
    """Split ``items`` into the CSV files and FHIR files a load reads (``csv`` / ``fhir``: whether it reads
    Synthea CSV / FHIR from this folder) and the files it skips, with why."""
    chosen = Selection([], [], {})
    reads = "Synthea CSV" if csv and not fhir else "FHIR" if fhir and not csv else "Synthea CSV and FHIR"
    for item in items:
        name = str(item.path)
        if item.kind == CSV:
            if csv:
                chosen.csv.append(item.path)
            else:
                chosen.skipped[name] = f"a CSV file; this load reads {reads} only"
        elif item.kind == FHIR or (item.kind == JSON and fhir):
            if fhir:
                chosen.fhir.append(item.path)
            else:
                chosen.skipped[name] = f"FHIR; this load reads {reads} only"
        elif item.kind == JSON:
            chosen.skipped[name] = "JSON that is not FHIR (no resourceType); not part of a Synthea CSV set"
        elif item.kind == METADATA:
            chosen.skipped[name] = "Synthea's run metadata, not data"
        else:
            chosen.skipped[name] = "not Synthea CSV, FHIR JSON or NDJSON"
    return chosen
