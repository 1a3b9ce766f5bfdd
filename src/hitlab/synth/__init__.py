"""Seeded synthetic population in Synthea's formats (CSV, FHIR R4) plus an HL7 v2.5.1 feed.

Use :func:`generate`; everything else here is how it works.
"""

from __future__ import annotations

from hitlab.synth.generate import FORMATS, generate

__all__ = ["FORMATS", "generate"]
