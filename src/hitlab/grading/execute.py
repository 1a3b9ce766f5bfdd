"""nbgrader's autograde steps with an executor that bounds what a notebook's output can cost the grader.

A notebook may print without end (200 MB, or until its cell's time runs out). nbgrader's own ``LimitOutput``
trims lines only after the notebook ran, with every byte held in memory, and a flood of output made the
client miss the kernel's idle message (``Timeout waiting for IOPub output``: the notebook crashed). Here
each cell keeps its first ``output_limit`` bytes of output; the rest is dropped as it arrives, and a note
in the cell says so. A late idle message is waited for, not fatal. As soon as the kernel is shut down,
whatever is left of its sandbox is killed, before nbgrader's next steps write anything.
"""

from __future__ import annotations

from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute
from traitlets import Integer, Unicode


class BoundedExecute(Execute):
    output_limit = Integer(2 << 20, help="Bytes of output kept per cell; the rest is dropped.").tag(
        config=True
    )
    notebook_output_limit = Integer(
        32 << 20, help="Bytes of output kept for the whole notebook; later output is dropped."
    ).tag(config=True)

    sandbox_records = Unicode(
        "",
        help="The slot's sandbox records: what is left of the kernel is killed "
        "as soon as it was shut down, before nbgrader writes anything.",
    ).tag(config=True)
    sandbox_uid = Integer(-1, help="The slot's sandbox user id (as root), killed likewise.").tag(config=True)

    def preprocess(self, *args, **kwargs):
        from hitlab.grading.sandbox import stop

        self._notebook_kept = 0
        try:
            return super().preprocess(*args, **kwargs)
        finally:
            if self.sandbox_records:
                stop(self.sandbox_records, self.sandbox_uid)

    def preprocess_cell(self, cell, resources, index):
        self._kept = 0
        self._truncated = False
        return super().preprocess_cell(cell, resources, index)

    def output(self, outs, msg, display_id, cell_index):
        size = len(str(msg.get("content", "")))
        room = min(self.output_limit - self._kept, self.notebook_output_limit - self._notebook_kept)
        if msg["msg_type"] == "error":  # always kept, the grade depends on it, but cut to the room left
            msg = _cut_error(msg, max(room, 4096))
            size = len(str(msg["content"]))
        elif size > room:
            if not self._truncated:
                self._truncated = True
                note = (
                    f"[hitlab: output after the first {self.output_limit:,} bytes of this cell was dropped]\n"
                )
                outs.append(new_output("stream", name="stdout", text=note))  # stderr would fail a test
            return None
        self._kept += size
        self._notebook_kept += size
        return super().output(outs, msg, display_id, cell_index)


def _cut_error(msg: dict, room: int) -> dict:
    """An error message whose value and traceback fit in ``room`` characters (the end of a traceback is
    kept: it names the error)."""
    content = dict(msg["content"])
    if len(content.get("evalue", "")) > room // 2:
        content["evalue"] = content["evalue"][: room // 2] + " [hitlab: cut]"
    kept, lines = 0, []
    for line in reversed(content.get("traceback", [])):
        kept += len(line)
        if kept > room // 2:
            lines.append("[hitlab: the start of this traceback was cut]")
            break
        lines.append(line)
    content["traceback"] = lines[::-1]
    return {**msg, "content": content}


def autograde_preprocessors() -> list:
    """nbgrader's ``Autograde.autograde_preprocessors`` with :class:`BoundedExecute` for ``Execute``."""
    from nbgrader.converters.autograde import Autograde

    steps = list(Autograde.class_traits()["autograde_preprocessors"].default())
    return [BoundedExecute if step is Execute else step for step in steps]
