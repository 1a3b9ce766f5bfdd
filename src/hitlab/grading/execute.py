"""nbgrader's autograde steps with an executor that bounds what a notebook's output can cost the grader.

A notebook may print without end (200 MB, or until its cell's time runs out). nbgrader's own ``LimitOutput``
trims lines only after the notebook ran, with every byte held in memory, and a flood of output made the
client miss the kernel's idle message (``Timeout waiting for IOPub output``: the notebook crashed). Here
each cell keeps its first ``output_limit`` bytes of output; the rest is dropped as it arrives, and a note
in the cell says so. A late idle message is waited for, not fatal.
"""

from __future__ import annotations

from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute
from traitlets import Integer


class BoundedExecute(Execute):
    output_limit = Integer(2 << 20, help="Bytes of output kept per cell; the rest is dropped.").tag(
        config=True
    )

    def preprocess_cell(self, cell, resources, index):
        self._kept = 0
        self._truncated = False
        return super().preprocess_cell(cell, resources, index)

    def output(self, outs, msg, display_id, cell_index):
        if msg["msg_type"] == "error":  # always kept: the grade depends on it
            return super().output(outs, msg, display_id, cell_index)
        size = len(str(msg.get("content", "")))
        if self._kept + size <= self.output_limit:
            self._kept += size
            return super().output(outs, msg, display_id, cell_index)
        if not self._truncated:
            self._truncated = True
            note = f"[hitlab: output after the first {self.output_limit:,} bytes of this cell was dropped]\n"
            outs.append(new_output("stream", name="stderr", text=note))
        return None


def autograde_preprocessors() -> list:
    """nbgrader's ``Autograde.autograde_preprocessors`` with :class:`BoundedExecute` for ``Execute``."""
    from nbgrader.converters.autograde import Autograde

    steps = list(Autograde.class_traits()["autograde_preprocessors"].default())
    return [BoundedExecute if step is Execute else step for step in steps]
