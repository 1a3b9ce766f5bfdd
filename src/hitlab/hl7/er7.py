"""HL7 v2 messages in their pipe-and-hat text encoding (ER7), read without a message definition.

Positions follow the standard: ``field(seg, 3)`` is ``PID-3``; in ``MSH`` the field separator itself is
``MSH-1``, so ``field(msh, 9)`` is ``MSH-9`` there too. Values come back raw (still escaped); ``unescape``
turns ``\\F\\ \\S\\ \\T\\ \\R\\ \\E\\`` back into ``| ^ & ~ \\``. Only the standard delimiters ``|^~\\&`` are
supported, as in every message the labs use. ``MSH-2`` holds four encoding characters (component, repetition,
escape, subcomponent); from v2.7 a fifth, the truncation character ``#``, may follow: it is kept in ``MSH-2``
and not interpreted here. Text comes in already decoded (see ``MSH-18`` and lab 03's ``intake``).
"""

from __future__ import annotations

import re

FIELD, COMPONENT, REPETITION, ESCAPE, SUBCOMPONENT = "|", "^", "~", "\\", "&"
ENCODING = COMPONENT + REPETITION + ESCAPE + SUBCOMPONENT  # MSH-2 (v2.7+ may add the truncation character #)
_ESCAPES = {"F": FIELD, "S": COMPONENT, "T": SUBCOMPONENT, "R": REPETITION, "E": ESCAPE}
_SEQUENCE = re.compile(r"\\([FSTRE])\\")


def unescape(value: str) -> str:
    """Replace the delimiter escape sequences in one pass (``\\E\\T\\E\\`` is the text ``\\T\\``)."""
    return _SEQUENCE.sub(lambda m: _ESCAPES[m.group(1)], value)


def escape(value: str) -> str:
    """Escape the delimiters of a text value (the escape character first)."""
    out = value.replace(ESCAPE, "\\E\\")
    for char, code in (("|", "F"), ("^", "S"), ("&", "T"), ("~", "R")):
        out = out.replace(char, f"\\{code}\\")
    return out


def segments(message: str) -> list[list[str]]:
    """The segments of one message (split on CR), each a list of raw fields; ``MSH`` gets ``MSH-1`` = ``|``."""
    out = []
    for text in message.split("\r"):
        if not text.strip():
            continue
        fields = text.split(FIELD)
        if fields[0] == "MSH":
            fields.insert(1, FIELD)
        out.append(fields)
    return out


def field(seg: list[str] | None, n: int) -> str:
    """Raw field ``n`` of a segment ("" when absent)."""
    return seg[n] if seg is not None and n < len(seg) else ""


def component(value: str, c: int = 1, sub: int = 1, rep: int = 1) -> str:
    """Raw component ``c`` (and subcomponent ``sub``) of repetition ``rep`` of a field value ("" when absent)."""
    reps = value.split(REPETITION)
    if rep > len(reps):
        return ""
    comps = reps[rep - 1].split(COMPONENT)
    if c > len(comps):
        return ""
    subs = comps[c - 1].split(SUBCOMPONENT)
    return subs[sub - 1] if sub <= len(subs) else ""


def first(segs: list[list[str]], name: str) -> list[str] | None:
    """The first segment called ``name``, or None."""
    return next((s for s in segs if s[0] == name), None)
