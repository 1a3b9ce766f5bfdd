"""What a load did: :class:`LoadReport`."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class LoadReport:
    """The outcome of :func:`hitlab.load.load` (and of ``load_csv`` / ``load_fhir``).

    Attributes:
        source: the path that was loaded.
        kind: ``"synthea-csv"``, ``"fhir"``, ``"synthea-csv+fhir"`` (a directory holding both) or ``"dataset"``
            (a hitlab dataset directory with ``manifest.json``, or Synthea's output directory with ``csv/`` and
            ``fhir/``).
        synthea_versions: the Synthea release(s) whose CSV headers the files match (empty without CSV). One
            release when every file's header fits it; otherwise every release some file matches, with a warning.
        tables: row count per table written, in load order.
        file_versions: per CSV file, the releases its header matches (empty if it matches none).
        references: FHIR reference strings found (``fhir_reference`` rows), or None without FHIR.
        unresolved_references: how many of those have no target among the loaded resources, or None.
        warnings: things that loaded but deserve a look (headers matching no release, mixed releases, ...).
        skipped: files of the loaded folder(s) that were not loaded, each with why (Synthea's run metadata, a
            README, a FHIR file in a CSV-only load, ...); see :mod:`hitlab.load.folder` for the rules.
        notes: parts of loaded files deliberately left out, such as FHIR Bundle entries that carry only a
            ``request`` or ``response`` and no resource (batch-response / transaction-response bundles).
    """

    source: str
    kind: str
    synthea_versions: list[str] = field(default_factory=list)
    tables: dict[str, int] = field(default_factory=dict)
    file_versions: dict[str, list[str]] = field(default_factory=dict)
    references: int | None = None
    unresolved_references: int | None = None
    warnings: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        """Rows written, over all tables."""
        return sum(self.tables.values())

    def summary(self) -> str:
        """A small aligned text table of table and rows, with a heading line, then any warnings, skipped files
        and notes (one line each)."""
        what = self.kind
        if self.synthea_versions:
            what += f" (Synthea {', '.join(self.synthea_versions)})"
        lines = [f"loaded {what} from {self.source}: {len(self.tables)} tables, {self.rows:,} rows"]
        width = max([len("table"), *(len(name) for name in self.tables)])
        counts = [f"{n:,}" for n in self.tables.values()]
        num_width = max([len("rows"), *(len(c) for c in counts)])
        lines.append(f"  {'table':<{width}}  {'rows':>{num_width}}")
        lines.append(f"  {'-' * width}  {'-' * num_width}")
        lines.extend(
            f"  {name:<{width}}  {c:>{num_width}}" for name, c in zip(self.tables, counts, strict=True)
        )
        if self.references is not None:
            lines.append(f"  references: {self.references:,}, unresolved: {self.unresolved_references:,}")
        lines.extend(f"  warning: {w}" for w in self.warnings)
        lines.extend(f"  skipped: {name} ({why})" for name, why in self.skipped.items())
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)

    def merge(self, other: LoadReport) -> None:
        """Add ``other``'s tables, versions, references, warnings, skipped files and notes to this report."""
        self.tables.update(other.tables)
        self.file_versions.update(other.file_versions)
        self.synthea_versions.extend(v for v in other.synthea_versions if v not in self.synthea_versions)
        if other.references is not None:
            self.references = (self.references or 0) + other.references
            self.unresolved_references = (self.unresolved_references or 0) + (
                other.unresolved_references or 0
            )
        self.warnings.extend(other.warnings)
        self.skipped.update(other.skipped)
        self.notes.extend(other.notes)
