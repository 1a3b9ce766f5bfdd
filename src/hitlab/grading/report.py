"""What instructors and learners read after grading: ``grades.csv``, ``status.csv``, per-student feedback
pages, and ``report.html`` (score distribution per lab and per-question pass rates, drawn as inline SVG so the
page is one self-contained file). Feedback shows each item's score, the check's message and hint, never the
source of hidden tests.

The CSV exports follow RFC 4180 (fields with a comma, a quote or a line break are quoted, quotes doubled,
CRLF line ends) and are safe to open in a spreadsheet: text that starts like a formula gets a leading ``'``
(OWASP, CSV injection); numbers are written as they are.
"""

from __future__ import annotations

import csv
import html
from collections import Counter
from pathlib import Path

from hitlab.course.notebooks import graded_cells
from hitlab.grading.similarity import MIN_LEARNERS

STATUS_COLUMNS = ["student_id", "assignment", "status", "detail"]
# nbgrader's CsvExportPlugin's columns, in its order
GRADES_COLUMNS = [
    "assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
    "raw_score", "late_submission_penalty", "score", "max_score",
]  # fmt: skip
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what makes a spreadsheet read a cell as a formula


def _field(value) -> str:
    """A value as a CSV field: None empty, text that would start a formula behind a ``'``, anything else
    (numbers, dates) as ``str`` gives it, never altered."""
    if value is None:
        return ""
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_START) else value
    return str(value)


def _write_csv(path: Path, columns: list[str], rows: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")  # the excel dialect is RFC 4180's quoting
        writer.writerow(columns)
        writer.writerows([_field(row[c]) for c in columns] for row in rows)


def write_status_csv(rows: list[dict], path: Path) -> None:
    _write_csv(path, STATUS_COLUMNS, sorted(rows, key=lambda r: (r["assignment"], r["student_id"])))


def grade_rows(gb) -> list[dict]:
    """The rows of nbgrader's ``CsvExportPlugin`` for the gradebook ``gb``, with its values: one per
    assignment and student, in nbgrader's order; a student without a submission scores 0, no timestamp."""
    from nbgrader.api import MissingEntry

    rows = []
    for assignment in gb.assignments:
        for student in gb.students:
            row = {
                "assignment": assignment.name, "duedate": assignment.duedate, "student_id": student.id,
                "last_name": student.last_name, "first_name": student.first_name, "email": student.email,
                "max_score": assignment.max_score,
            }  # fmt: skip
            try:
                sub = gb.find_submission(assignment.name, student.id)
            except MissingEntry:
                row.update(timestamp="", raw_score=0.0, late_submission_penalty=0.0, score=0.0)
            else:
                penalty = sub.late_submission_penalty
                row.update(
                    timestamp=sub.timestamp, raw_score=sub.score, late_submission_penalty=penalty,
                    score=max(0.0, sub.score - penalty),
                )  # fmt: skip
            rows.append(row)
    return rows


def write_grades_csv(gb, path: Path) -> None:
    """``grades.csv``: nbgrader's CSV export of the whole gradebook, quoted and safe to open."""
    _write_csv(path, GRADES_COLUMNS, grade_rows(gb))


def _page(title: str, body: str) -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #222; }}
table {{ border-collapse: collapse; margin: 1rem 0; }}
th, td {{ border: 1px solid #ccc; padding: .3rem .6rem; text-align: left; vertical-align: top; }}
table.side td {{ width: 50%; }} pre {{ white-space: pre-wrap; font-size: .85em; margin: 0; }}
.full {{ color: #1a7f37; }} .part {{ color: #9a6700; }} .none {{ color: #cf222e; }}
svg text {{ font-size: 11px; font-family: system-ui, sans-serif; }}
</style></head><body>
{body}
</body></html>
"""


def feedback_html(student: str, lab: str, outcome, source_nb, questions: dict) -> str:
    """A learner's feedback for one lab: every graded item with its score, and for lost points the check's
    message and first hint. Built from the gradebook's scores and the failures the learner's own notebook
    raised; hidden tests are never shown."""
    esc = html.escape
    parts = [f"<h1>{esc(lab)}: feedback for {esc(student)}</h1>"]
    status = outcome.status
    if status != "graded":
        parts.append(f"<p><strong>Status: {esc(status)}</strong>. {esc(outcome.detail)}</p>")
    if not outcome.grades:
        parts.append("<p>No items could be graded.</p>")
        return _page(f"{lab} feedback", "\n".join(parts))
    rows, total, possible = [], 0.0, 0.0
    for cell in graded_cells(source_nb):
        if cell.kind not in ("test", "manual"):
            continue
        grade = outcome.grades.get(cell.grade_id, {})
        q = questions.get(cell.grade_id.removesuffix("_test"))
        title = q.title if q else cell.grade_id
        if cell.kind == "manual":
            rows.append(
                f"<tr><td>{esc(title)}</td><td>to be graded by your instructor (of {cell.points:g})</td>"
                "<td>written answer</td></tr>"
            )
            continue
        score = float(grade.get("auto_score") or 0.0)
        total += score
        possible += cell.points
        css = "full" if score >= cell.points else ("part" if score > 0 else "none")
        note = ""
        if score < cell.points:
            message = outcome.messages.get(cell.grade_id, "")
            hint = q.hints[0] if q and q.hints else ""
            note = esc(message) + (f"<br><em>Hint:</em> {esc(hint)}" if hint else "")
        rows.append(
            f'<tr><td>{esc(title)}</td><td class="{css}">{score:g} / {cell.points:g}</td><td>{note}</td></tr>'
        )
    parts.append(f"<p>Autograded score: <strong>{total:g}</strong> of {possible:g} points.</p>")
    parts.append("<table><tr><th>Item</th><th>Score</th><th>What the check said</th></tr>")
    parts += rows
    parts.append("</table>")
    return _page(f"{lab} feedback", "\n".join(parts))


def _bars(values: list[tuple[str, float]], *, maximum: float, unit: str, width: int = 640) -> str:
    """A horizontal bar chart: one labelled bar per value, scaled to ``maximum``."""
    row, label_w, bar_w = 22, 220, width - 300
    height = row * len(values) + 10
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">']
    for i, (label, value) in enumerate(values):
        y = 5 + i * row
        length = 0 if maximum <= 0 else bar_w * value / maximum
        out.append(
            f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end">{html.escape(label)}</text>'
            f'<rect class="bar" x="{label_w}" y="{y + 3}" width="{length:.1f}" height="{row - 6}" '
            f'fill="#4c78a8" data-value="{value:g}"/>'
            f'<text x="{label_w + length + 4:.1f}" y="{y + 14}">{value:g}{unit}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def _histogram(totals: list[float], maximum: float, bins: int = 10) -> list[tuple[str, float]]:
    edges = [maximum * i / bins for i in range(bins + 1)]
    counts = [0] * bins
    for total in totals:
        index = min(int(bins * total / maximum), bins - 1) if maximum > 0 else 0
        counts[index] += 1
    return [(f"{edges[i]:g}–{edges[i + 1]:g}", float(counts[i])) for i in range(bins)]


def _similar_section(pairs: list) -> str:
    """Flagged pairs of one lab, each with its matched answers side by side."""
    esc = html.escape
    if pairs is None:
        return (f"<h3>Similar submissions</h3><p>Fewer than {MIN_LEARNERS} graded submissions: too few to tell a "
                "common answer from a copied one.</p>")  # fmt: skip
    if not pairs:
        return "<h3>Similar submissions</h3><p>No pair of submissions is more alike than chance explains.</p>"
    out = [
        "<h3>Similar submissions (evidence for you to judge, not a verdict)</h3>",
        f"<p>{len(pairs)} pair(s) whose answers agree more than in 99% of reshuffles of this cohort's own answers "
        f"(evidence above {pairs[0].bar:.1f}). Evidence is in powers of ten: 6 means two learners working alone "
        "would agree this way about once in a million. Small exercises have few right answers: a match on a "
        "common answer weighs little, one on a rare answer or the same prose a lot.</p>",
        "<table><tr><th>learners</th><th>evidence</th><th>matching answers (others with the same answer)</th></tr>",
    ]
    for p in pairs:
        matched = ", ".join(f"{esc(m.question)} ({m.others})" for m in p.matches)
        out.append(f"<tr><td>{esc(p.students[0])} and {esc(p.students[1])}</td><td>{p.evidence:.1f}</td>"
                   f"<td>{matched}</td></tr>")  # fmt: skip
    out.append("</table>")
    for p in pairs:
        out.append(f"<details><summary>{esc(p.students[0])} and {esc(p.students[1])}: the matching answers"
                   "</summary>")  # fmt: skip
        for m in p.matches:
            left, right = (esc(x) or "<em>left blank</em>" for x in m.sources)
            out.append(
                f"<h4>{esc(m.question)}: {m.others} other learner(s) gave the same answer</h4>"
                f'<table class="side"><tr><th>{esc(p.students[0])}</th><th>{esc(p.students[1])}</th></tr>'
                f"<tr><td><pre>{left}</pre></td><td><pre>{right}</pre></td></tr></table>"
            )
        out.append("</details>")
    return "\n".join(out)


def report_html(
    labs: list[str], scores: dict, statuses: dict, sources: dict, questions: dict, similar: dict | None = None
) -> str:
    """The cohort report: per lab, status counts, the distribution of autograded scores, every item's pass
    rate (share of graded submissions with full points), lowest first, and, given ``similar`` (lab -> flagged
    :class:`~hitlab.grading.similarity.Pair` list), the pairs of submissions alike beyond chance. A lab missing from ``sources`` (graded
    once, no longer in the course) gets its counts only."""
    esc = html.escape
    parts = ["<h1>Cohort grading report</h1>"]
    for lab in labs:
        per_student = scores.get(lab, {})
        counts = Counter(row["status"] for (s, a), row in statuses.items() if a == lab)
        parts.append(f'<section class="lab" id="{esc(lab)}"><h2>{esc(lab)}</h2>')
        parts.append(
            "<p>"
            + ", ".join(f"{esc(k)}: {v}" for k, v in sorted(counts.items()))
            + f". Graded submissions: {len(per_student)}.</p>"
        )
        if lab not in sources:
            parts.append("<p>This lab is no longer in the course: no item analysis.</p></section>")
            continue
        tests = [c for c in graded_cells(sources[lab]) if c.kind == "test"]
        maximum = sum(c.points for c in tests)
        if not per_student:
            parts.append("<p>No graded submissions yet.</p></section>")
            continue
        totals = [sum(cells.get(c.grade_id, (0.0, 0.0))[0] for c in tests) for cells in per_student.values()]
        mean = sum(totals) / len(totals)
        parts.append(
            f"<h3>Score distribution</h3><p>Autograded points out of {maximum:g}; mean {mean:.1f}.</p>"
        )
        parts.append(
            '<figure class="distribution">'
            + _bars(_histogram(totals, maximum), maximum=max(1, len(totals)), unit="")
            + "</figure>"
        )
        rates = []
        for c in tests:
            full = sum(1 for cells in per_student.values() if cells.get(c.grade_id, (0, 1))[0] >= c.points)
            q = questions[lab].get(c.grade_id.removesuffix("_test"))
            rates.append((q.title if q else c.grade_id, round(100 * full / len(per_student), 1)))
        rates.sort(key=lambda r: r[1])
        parts.append("<h3>Item analysis: share of submissions with full points</h3>")
        parts.append('<figure class="items">' + _bars(rates, maximum=100, unit="%") + "</figure>")
        if similar is not None:
            parts.append(_similar_section(similar.get(lab, []) if len(per_student) >= MIN_LEARNERS else None))
        parts.append("</section>")
    return _page("Cohort grading report", "\n".join(parts))
