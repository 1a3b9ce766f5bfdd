"""The interviewer's sheet for a drawn mock interview: per question, what to ask, the points a good answer
makes, nudges (the check's hints), follow-up probes, the worked answer, and how it is scored.

Written as Markdown (printed on a terminal) or as a standalone HTML page (``--html``) for a peer or mentor who
runs the interview from the same draw as the candidate's notebook.
"""

from __future__ import annotations

import html

from hitlab.mock.attempts import Attempt
from hitlab.mock.pool import Item, Pool


def _hints(item: Item) -> tuple[str, ...]:
    from hitlab.checks import questions

    try:
        by_id = {q.grade_id: q for q in questions(item.lab)}
    except KeyError:
        return ()
    q = by_id.get(item.id)
    return tuple(q.hints) if q is not None else ()


def _question_text(item: Item) -> str:
    parts = []
    for cell in item.context:
        parts.append(
            cell.source.strip() if cell.cell_type == "markdown" else f"```python\n{cell.source.strip()}\n```"
        )
    return "\n\n".join(parts)


def _worked(item: Item) -> str:
    from hitlab.course.notebooks import solution_code

    if item.kind == "auto":
        return solution_code(item.source_cells[0].source).strip()
    return ""


def markdown_sheet(pool: Pool, attempt: Attempt) -> str:
    """The sheet as Markdown."""
    track = pool.track(attempt.track)
    items = [pool.items[d.id] for d in attempt.items]
    total = sum(i.points for i in items)
    out = [
        f"# Interviewer's sheet: {track.title}, {attempt.minutes} minutes",
        "",
        f"Attempt `{attempt.id}`, {len(items)} questions, {total:g} points. The candidate has the same questions in "
        f"`{attempt.notebook}`. Keep time; let them think aloud; give a hint only when they are stuck, and note "
        "it. Coding and SQL answers are graded by the labs' checks when the candidate runs "
        f"`hitlab mock score {attempt.id}`; written answers are yours to score with the rubric, entered as "
        f"`hitlab mock score {attempt.id} --assessor peer --points ITEM=N` (the record says a peer assessed them).",
    ]
    for n, item in enumerate(items, 1):
        how = (
            "graded by the checks"
            if item.kind == "auto"
            else f"written: you score 0 to {item.points:g} with the rubric"
        )
        out += [
            "",
            f"## {n}. {item.title}",
            "",
            f"*{item.topic}; {item.section}; about {item.minutes} minutes; "
            f"{item.points:g} points; {how}. Item `{item.id}`.*",
            "",
            "### The question",
            "",
            _question_text(item),
        ]
        if item.kind == "auto":
            out += ["", "### A good answer", ""]
            if item.checks:
                out += [f"The check: {item.checks}", ""]
            hints = _hints(item)
            if hints:
                out += ["Nudges, in order (the candidate's `qN.hint(k)`):", ""]
                out += [f"{k}. {h}" for k, h in enumerate(hints, 1)]
                out.append("")
            out += ["Worked answer (one of several right ones):", "", f"```python\n{_worked(item)}\n```"]
        else:
            out += ["", "### Rubric", "", item.rubric]
        if item.probes:
            out += ["", "### Follow-up probes", ""]
            out += [f"- {p}" for p in item.probes]
    out += [
        "",
        "## Scoring",
        "",
        "| # | item | points | graded by | score |",
        "|---|---|---|---|---|",
        *(
            f"| {n} | `{i.id}` | {i.points:g} | {'checks' if i.kind == 'auto' else 'you (rubric)'} | |"
            for n, i in enumerate(items, 1)
        ),
    ]
    return "\n".join(out) + "\n"


STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.45}"
    "pre{background:#f4f4f4;padding:.6rem;overflow-x:auto}code{font-size:.92em}"
    "table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:.2rem .6rem}"
    "h2{border-top:2px solid #333;padding-top:.8rem;margin-top:2rem}"
    "@media print{h2{page-break-before:always}}"
)


def html_sheet(pool: Pool, attempt: Attempt) -> str:
    """The sheet as a standalone HTML page."""
    import mistune

    render = mistune.create_markdown(escape=False, plugins=["table"])
    title = html.escape(f"Interviewer's sheet: {attempt.id}")
    body = render(markdown_sheet(pool, attempt))
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{STYLE}</style></head><body>\n{body}</body></html>\n"
    )
