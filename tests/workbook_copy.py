"""A small copy of the workbook in a temporary folder, for tests that run ``hitlab lab`` or seed ``work/``
(a helper for the tests, not a test): ``HITLAB_ROOT`` pointed at it keeps the checkout free of ``work/``."""

from __future__ import annotations

import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def workbook_copy(dst: Path, labs: tuple[str, ...] = ("lab00_orientation",)) -> Path:
    """*dst* holding ``labs/`` (its README and *labs*), their ``solutions/`` (for ``hitlab check``),
    ``graders/nbgrader_config.py`` and ``data/README.md``; the datasets stay the checkout's."""
    dst.mkdir(parents=True, exist_ok=True)
    for lab in labs:
        shutil.copytree(REPO / "labs" / lab, dst / "labs" / lab)
        shutil.copytree(REPO / "solutions" / lab, dst / "solutions" / lab)
    shutil.copy2(REPO / "labs" / "README.md", dst / "labs" / "README.md")
    (dst / "graders").mkdir()
    shutil.copy2(REPO / "graders" / "nbgrader_config.py", dst / "graders" / "nbgrader_config.py")
    (dst / "data").mkdir()
    shutil.copy2(REPO / "data" / "README.md", dst / "data" / "README.md")
    return dst
