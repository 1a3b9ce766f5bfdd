"""Generate a synthetic population in Synthea's formats: ``generate(patients, seed, out, ...)``.

Output (``out`` is created; a previous hitlab dataset there is replaced, anything else is refused)::

    out/csv/*.csv         Synthea 3.4.0 CSV set
    out/fhir/*.json       FHIR R4 transaction bundles (one per patient) + hospital/practitioner batch bundles
    out/hl7v2/*.hl7       HL7 v2.5.1 feed, one file per patient
    out/note_phi.json     the identifiers planted in the clinical notes: labelled character spans per note
    out/access_log_truth.json  the inappropriate accesses planted in csv/access_log.csv, per category (with csv)
    out/manifest.json     generator, seed, format versions, counts, checksums, planted defects
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from hitlab import __version__
from hitlab.errors import DatasetError
from hitlab.synth.access_log import TRUTH as ACCESS_LOG_TRUTH
from hitlab.synth.access_log import AccessLogBuilder
from hitlab.synth.csv_writer import SYNTHEA_VERSION, CsvWriter
from hitlab.synth.defects import DefectPlanter
from hitlab.synth.fhir_writer import FhirWriter
from hitlab.synth.hl7v2_writer import VERSION as HL7_VERSION
from hitlab.synth.hl7v2_writer import Hl7v2Writer
from hitlab.synth.notes import CATEGORIES
from hitlab.synth.reference import world
from hitlab.synth.simulate import AS_OF, START, simulate_patient

FORMATS = ("csv", "fhir", "hl7v2")
GENERATOR_REVISION = 7
"""Bumped whenever the generator's output changes, so datasets built by an older one are rebuilt."""
IDENTIFIERS = {
    "patient": "patients.csv Id = FHIR Patient.id (and Patient.identifier system .../sid/patient) = PID-3 "
    "repetition of type PI; the MRN is Patient.identifier of type MR = PID-3 repetition of type MR",
    "encounter": "encounters.csv Id = FHIR Encounter.id = PV1-19 (type VN)",
    "organization": "organizations.csv Id = FHIR Organization.id, referenced as Organization?identifier=.../sid/"
    "organization|Id; MSH-4 and PV1-39 carry its initials",
    "provider": "providers.csv Id = FHIR Practitioner.id; Practitioner.identifier (NPI) = PV1-7.1 and OBR-16.1",
    "note": "notes.csv Id = FHIR DocumentReference.id = note_phi.json notes[].id",
    "access": "access_log.csv Id = AuditEvent.id (hitlab.synth.access_log.audit_event) = access_log_truth.json "
    "categories[*][]; access_log USER = staff.csv Id; staff PROVIDER = providers.csv Id",
    "observation": "observations.csv rows = FHIR Observations (blood pressure: one Observation with two "
    "components for the two CSV rows) = OBX segments (lab results only), matched by encounter, code and time",
}


def _prepare(out: Path) -> None:
    if out.exists():
        if not out.is_dir():
            raise DatasetError(f"{out}: exists and is not a directory")
        contents = [p.name for p in out.iterdir()]
        if contents and "manifest.json" not in contents:
            raise DatasetError(
                f"{out}: not empty and not a hitlab dataset (no manifest.json); refusing to write"
            )
        for name in (*FORMATS, NOTE_PHI, ACCESS_LOG_TRUTH, "manifest.json"):
            target = out / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    out.mkdir(parents=True, exist_ok=True)


NOTE_PHI = "note_phi.json"
"""The labelled spans of the notes: a file of its own, as they are a few MB for 1,000 patients (the manifest
stays small enough to read at a glance and to load on every ``connect()``)."""
SPAN_OFFSETS = (
    "start and end (exclusive) count Unicode code points (Python str indices) into the note text: "
    "notes.csv TEXT as a CSV reader returns it, and the UTF-8 decoded DocumentReference.content[0].attachment.data"
)


def _note_phi(records: list[dict], seed: int) -> dict:
    return {
        "generator": "hitlab",
        "seed": seed,
        "description": "Identifiers planted in hitlab's synthetic clinical notes, one labelled span each. The notes "
        "are filled-in templates and every value in them is synthetic. Categories follow the identifiers of "
        "45 CFR 164.514(b)(2)(i); look-alikes (doses, lab values, codes, years alone, ages under 90) are not "
        "labelled.",
        "offsets": SPAN_OFFSETS,
        "categories": CATEGORIES,
        "notes": records,
    }


def _checksums(out: Path, known: dict[str, str] | None = None) -> dict[str, str]:
    """SHA-256 of every file under ``out`` but the manifest, by relative path, in path order; ``known``: sums
    already computed (by the process that wrote those files)."""
    known = known or {}
    sums = {}
    for path in sorted(p for p in out.rglob("*") if p.is_file() and p.name != "manifest.json"):
        rel = path.relative_to(out).as_posix()
        sums[rel] = known.get(rel) or hashlib.sha256(path.read_bytes()).hexdigest()
    return sums


def _progress(items: Iterable[int], total: int, enabled: bool):
    if not enabled:
        return items
    from rich.progress import track

    return track(items, total=total, description=f"generating {total:,} patients")


PARALLEL_FROM = 200
"""From this many patients (and with two or more CPUs), a second process writes the FHIR bundles (and the
HL7 v2 files when ``generate`` is given ``on_csv``)."""


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _start_file_writer(out: Path, seed: int, patients: int, formats: tuple[str, ...]) -> subprocess.Popen:
    """A fresh interpreter (not a fork: the caller may be a kernel with threads) running :func:`_write_files`."""
    args = json.dumps([str(out), seed, patients, list(formats)])
    code = "import json, sys; from hitlab.synth.generate import _write_files; print(json.dumps(_write_files(*json.loads(sys.argv[1]))))"
    return subprocess.Popen(
        [sys.executable, "-c", code, args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _finish_file_writer(helper: subprocess.Popen) -> tuple[dict[str, dict[str, int]], dict[str, str]]:
    out, err = helper.communicate()
    if helper.returncode != 0:
        raise DatasetError(f"the process writing the FHIR and HL7 v2 files failed: {err.strip()[-2000:]}")
    result = json.loads(out.strip().splitlines()[-1])
    return result["counts"], result["sums"]


def _write_files(out: str, seed: int, patients: int, formats: list[str]) -> dict:
    """The FHIR bundles and/or HL7 v2 files of ``generate``, written in a process of their own: each format's
    counts, and the files' checksums."""
    w = world()
    writers = {
        f: FhirWriter(Path(out) / "fhir", w, seed) if f == "fhir" else Hl7v2Writer(Path(out) / "hl7v2")
        for f in formats
    }
    for index in range(patients):
        record = simulate_patient(w, seed, index)
        for writer in writers.values():
            writer.write(record)
    sums = {}
    for f, writer in writers.items():
        writer.close()
        for path in writer.out_dir.iterdir():
            if path.is_file():
                sums[f"{f}/{path.name}"] = hashlib.sha256(path.read_bytes()).hexdigest()
    return {"counts": {f: writer.counts() for f, writer in writers.items()}, "sums": sums}


def generate(
    patients: int = 1000,
    seed: int = 1,
    out: str | Path = "data/generated/default",
    formats: Iterable[str] = FORMATS,
    defects: bool = False,
    progress: bool = False,
    claims: bool = True,
    on_csv: Callable[[Path], object] | None = None,
) -> dict:
    """Write ``patients`` synthetic patients with ``seed`` to ``out`` and return the manifest.

    ``formats`` is any of ``csv``, ``fhir``, ``hl7v2``; ``defects`` plants known data-quality problems in the
    CSV output (listed in the manifest); ``claims=False`` leaves ``claims.csv`` and ``claims_transactions.csv`` out
    of the CSV set (the cost columns of the other tables are the same). Same arguments, same bytes.
    ``on_csv(csv_folder)`` is called once the CSV set is complete, while a second process may still be writing
    the FHIR and HL7 v2 files (:func:`hitlab.data.build_dataset` loads the CSV into DuckDB meanwhile).
    """
    formats = tuple(dict.fromkeys(formats))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise DatasetError(
            f"unknown format(s) {', '.join(unknown) or '(none)'}: choose from {', '.join(FORMATS)}"
        )
    if patients < 1:
        raise DatasetError(f"patients must be at least 1, got {patients}")
    if defects and "csv" not in formats:
        raise DatasetError("defects are planted in the CSV output: add csv to the formats")
    out = Path(out)
    _prepare(out)
    w = world()
    planter = DefectPlanter(seed) if defects else None
    writers = []
    if "csv" in formats:
        writers.append(CsvWriter(out / "csv", w, planter, claims=claims))
    if "fhir" in formats:
        writers.append(FhirWriter(out / "fhir", w, seed))
    if "hl7v2" in formats:
        writers.append(Hl7v2Writer(out / "hl7v2"))
    note_records: list[dict] = []
    access = AccessLogBuilder(w, seed) if "csv" in formats else None
    # The FHIR bundles (and, when the caller has work to do on the CSV meanwhile, the HL7 v2 files) can be
    # written by a second process, which simulates the same patients again (patient i depends only on the seed
    # and i; the CSV writer, which may plant defects, then alters nothing they see), so that the two processes
    # take about the same time. Same bytes either way.
    helper = None
    kinds = {CsvWriter: "csv", FhirWriter: "fhir", Hl7v2Writer: "hl7v2"}
    away = ("fhir", "hl7v2") if on_csv is not None else ("fhir",)
    away = tuple(f for f in away if f in formats)
    if away and "csv" in formats and patients >= PARALLEL_FROM and _cpus() > 1:
        helper = _start_file_writer(out, seed, patients, away)
    here = [wr for wr in writers if helper is None or kinds[type(wr)] not in away]
    try:
        for index in _progress(range(patients), patients, progress):
            record = simulate_patient(w, seed, index)
            for writer in here:
                writer.write(record)
            if access is not None:
                access.add(record)
            note_records.extend(
                {
                    "id": n.id,
                    "patient": record.id,
                    "encounter": n.encounter.id,
                    "type": n.type.code,
                    "spans": [
                        {"start": s.start, "end": s.end, "category": s.category, "text": s.text}
                        for s in n.spans
                    ],
                }
                for n in record.notes
            )
    except BaseException:
        if helper is not None:
            helper.kill()
            helper.wait()
        raise
    (out / NOTE_PHI).write_text(
        json.dumps(_note_phi(note_records, seed), ensure_ascii=False, separators=(",", ":")) + "\n",
        encoding="utf-8",
    )
    by_category: dict[str, int] = dict.fromkeys(CATEGORIES, 0)
    for r in note_records:
        for span in r["spans"]:
            by_category[span["category"]] += 1
    by_format: dict[str, dict[str, int]] = {}
    for writer in here:
        writer.close()
        by_format[kinds[type(writer)]] = writer.counts()
    access_log = None
    if access is not None:
        log = access.build()
        access_counts = log.write_csv(out / "csv")
        (out / ACCESS_LOG_TRUTH).write_text(json.dumps(log.truth(seed), indent=1) + "\n", encoding="utf-8")
        access_log = log.summary()
    known_sums: dict[str, str] = {}
    try:
        if on_csv is not None and "csv" in formats:
            on_csv(out / "csv")
    finally:
        if helper is not None:
            helper_counts, known_sums = _finish_file_writer(helper)
            by_format.update(helper_counts)
    counts: dict[str, int] = {}
    for writer in writers:  # in this order, so the manifest lists the counts as one process would
        counts.update(by_format[kinds[type(writer)]])
    if access is not None:
        counts.update(access_counts)
    manifest = {
        "generator": "hitlab",
        "generator_version": __version__,
        "generator_revision": GENERATOR_REVISION,
        "seed": seed,
        "patients": patients,
        "window": {"start": START.date().isoformat(), "end": AS_OF.isoformat()},
        "as_of": AS_OF.isoformat(),
        "formats": {
            f: {
                "csv": {"dir": "csv", "standard": "Synthea CSV", "version": SYNTHEA_VERSION},
                "fhir": {
                    "dir": "fhir",
                    "standard": "FHIR R4",
                    "version": "4.0.1",
                    "profiles": "US Core 6.1.0",
                },
                "hl7v2": {
                    "dir": "hl7v2",
                    "standard": "HL7 v2",
                    "version": HL7_VERSION,
                    "layout": "one file per patient, <patient Id>.hl7; segments end with CR; messages "
                    "follow one another, each starting with MSH",
                },
            }[f]
            for f in formats
        },
        "identifiers": IDENTIFIERS,
        "counts": counts,
        "defects": planter.summary() if planter else None,
        "claims": claims and "csv" in formats,
        "note_phi": {
            "file": NOTE_PHI,
            "notes": len(note_records),
            "spans": sum(by_category.values()),
            "spans_by_category": by_category,
            "offsets": SPAN_OFFSETS,
            "synthetic": "notes are filled-in templates; every name, date, number and address in them is generated",
        },
        "access_log": access_log,
        "files": _checksums(out, known_sums),
    }
    (out / "manifest.json").write_text(
        json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return manifest
