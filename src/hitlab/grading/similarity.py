"""Pairs of submissions whose answers are alike beyond chance, for the instructor to judge (not a verdict).

Each answer cell is reduced to normalized tokens: comments, layout and quoting dropped; the learner's own
names (variables, functions, parameters) replaced by their order of first use, so renaming and reformatting
change nothing; SQL and prose lower-cased word by word. Two answers to a question *match* when their token
4-gram sets overlap by at least :data:`MATCH` (Jaccard).

Small exercises have few right answers, so honest learners match often; a match is evidence only in proportion
to how rare that answer is in the cohort. For a pair that matches on a question, the chance that a third learner
gives an answer of the same group is estimated from the others (leave the pair out, add-one smoothing); the pair's
**evidence** is the sum over matched questions of -log10 of that chance: an evidence of 6 means two independent
learners would agree this way about once in a million. Leaving the same questions blank counts the same way
(copied notebooks share their gaps). A pair is flagged when its evidence exceeds ``log10(number of pairs) +
MARGIN`` (so that across the whole cohort fewer than one pair in 10^MARGIN cohorts would be flagged by chance,
were answers independent), with at least two matched answers that are not blank.
"""

from __future__ import annotations

import builtins
import io
import keyword
import math
import re
import tokenize
from collections.abc import Iterable
from dataclasses import dataclass, field

from hitlab.course.notebooks import graded_cells

MATCH = 0.8
SHINGLE = 4
RESHUFFLES = 200
LEVEL = 0.99
MIN_LEARNERS = 5  # fewer submissions say too little about how common an answer is
_PLACEHOLDER = re.compile(r"#\s*YOUR CODE HERE|raise NotImplementedError\(\)|YOUR ANSWER HERE")
_WORD = re.compile(r"[a-z0-9_]+|[^\sa-z0-9_]")
_BUILTINS = set(dir(builtins))


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def normalize(source: str, cell_type: str = "code") -> tuple[str, ...]:
    """The answer's tokens with names, layout, comments and case normalized (see the module's docstring)."""
    source = _PLACEHOLDER.sub("", source)
    if cell_type != "code":
        return tuple(_words(source))
    names: dict[str, str] = {}
    out: list[str] = []
    previous = ""
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                            tokenize.ENDMARKER):  # fmt: skip
                continue
            if tok.type == tokenize.NAME:
                if keyword.iskeyword(tok.string) or tok.string in _BUILTINS or previous == ".":
                    out.append(tok.string)  # the language's words and library attributes stay
                else:
                    out.append(names.setdefault(tok.string, f"v{len(names)}"))
            elif tok.type == tokenize.STRING:
                body = re.sub(r"^[rbfuRBFU]*('''|\"\"\"|'|\")|('''|\"\"\"|'|\")$", "", tok.string)
                out.extend(["'", *_words(body), "'"])
            else:
                out.append(tok.string)
            previous = tok.string
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return tuple(_words(source))
    return tuple(out)


def _shingles(tokens: tuple[str, ...]) -> frozenset:
    if len(tokens) < SHINGLE:
        return frozenset([tokens]) if tokens else frozenset()
    return frozenset(tokens[i : i + SHINGLE] for i in range(len(tokens) - SHINGLE + 1))


def jaccard(a: frozenset, b: frozenset) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


@dataclass
class Match:
    question: str  # the answer cell's grade id
    others: int  # how many other learners gave an answer of the same group
    chance: float  # estimated chance that a third learner gives it
    sources: tuple[str, str]  # the two answers as written


@dataclass
class Pair:
    lab: str
    students: tuple[str, str]
    evidence: float  # sum of -log10(chance) over the matched questions
    matches: list[Match] = field(default_factory=list)
    bar: float = 0.0  # the evidence that chance alone exceeds in 1% of reshuffled cohorts


BLANK = ("blank", "")


def answers_of(nb) -> dict[str, tuple[str, str]]:
    """Grade id -> (cell type, source) of the answer cells (code and written); :data:`BLANK` for one left as
    released. Leaving the same questions blank is evidence too, weighed like any answer by how common it is."""
    out = {}
    for cell in graded_cells(nb):
        if cell.kind in ("answer", "manual"):
            out[cell.grade_id] = (
                (cell.cell_type, cell.source) if normalize(cell.source, cell.cell_type) else BLANK
            )
    return out


def _groups(shingles: dict[str, frozenset]) -> dict[str, int]:
    """Learner -> group number, joining answers that match a group's first answer."""
    heads: list[tuple[int, frozenset]] = []
    group = {}
    for student, s in shingles.items():
        for number, head in heads:
            if jaccard(s, head) >= MATCH:
                group[student] = number
                break
        else:
            group[student] = len(heads)
            heads.append((len(heads), s))
    return group


def similar_pairs(
    lab: str, submissions: dict[str, dict[str, tuple[str, str]]], reshuffles: int = RESHUFFLES, seed: int = 0
) -> list[Pair]:
    """The flagged pairs of ``lab`` from ``submissions`` (student -> :func:`answers_of`), most evidence first."""
    import numpy as np

    students = sorted(submissions)
    n = len(students)
    if n < MIN_LEARNERS:
        return []
    questions = sorted({q for answers in submissions.values() for q in answers})
    labels = np.full((len(questions), n), -1)  # answer group per question and learner; -1: no such cell
    weights, blanks = [], []
    for qi, q in enumerate(questions):
        given = {i: submissions[s][q] for i, s in enumerate(students) if q in submissions[s]}
        filled = {
            i: _shingles(normalize(src, kind)) for i, (kind, src) in given.items() if (kind, src) != BLANK
        }
        group = _groups(filled)
        blank = max(group.values(), default=-1) + 1
        for i in given:
            labels[qi, i] = group.get(i, blank)
        size = np.bincount(labels[qi][labels[qi] >= 0], minlength=blank + 1)
        present = int((size > 0).sum())
        # the chance that a third learner gives an answer of the group: the pair left out, add-one smoothing
        chance = (np.maximum(size - 2, 0) + 1) / (max(len(given) - 2, 0) + present)
        weights.append(-np.log10(chance))
        blanks.append(blank)

    def evidence(lab_of: np.ndarray) -> np.ndarray:
        total = np.zeros((n, n))
        for qi in range(len(questions)):
            row = lab_of[qi]
            same = (row[:, None] == row[None, :]) & (row[:, None] >= 0)
            total += np.where(same, weights[qi][np.maximum(row, 0)][:, None], 0.0)
        return np.triu(total, 1)

    observed = evidence(labels)
    rng = np.random.default_rng(seed)
    null_max = []
    for _ in range(reshuffles):  # each question's answers dealt out again: the same answers, no pairs
        shuffled = np.array([rng.permutation(row) for row in labels])
        null_max.append(evidence(shuffled).max())
    bar = float(np.quantile(null_max, LEVEL)) if null_max else math.inf
    pairs = []
    for a, b in zip(*np.nonzero(observed > bar), strict=True):
        matches = [
            Match(q, int((labels[qi] == labels[qi, a]).sum()) - 2, float(10 ** -weights[qi][labels[qi, a]]),
                  (submissions[students[a]][q][1], submissions[students[b]][q][1]))
            for qi, q in enumerate(questions)
            if labels[qi, a] >= 0 and labels[qi, a] == labels[qi, b]
        ]  # fmt: skip
        if sum(m.sources != ("", "") for m in matches) >= 2:
            pairs.append(Pair(lab, (students[a], students[b]), float(observed[a, b]), matches, bar))
    return sorted(pairs, key=lambda p: -p.evidence)


def cohort_pairs(notebooks: Iterable[tuple[str, str, object]]) -> dict[str, list[Pair]]:
    """Lab -> flagged pairs, from ``(student, lab, notebook)`` triples."""
    by_lab: dict[str, dict[str, dict]] = {}
    for student, lab, nb in notebooks:
        by_lab.setdefault(lab, {})[student] = answers_of(nb)
    return {lab: similar_pairs(lab, subs) for lab, subs in sorted(by_lab.items())}
