"""Drawing a mock interview and writing it as a notebook.

A draw fills the interview's minutes from the track's pool: written items first (a behavioural or
communication question, and for 40 minutes or more a design question too), then coding and SQL items. Each
pick is among the items this track has drawn least often so far (so repeated practice brings new questions
until the pool is used up, and only then repeats), then of a topic the draw has least, then by chance.

The candidate's notebook is made of the labs' released cells (set-up, question text, answer and test cells),
grouped by lab; the grader's copy of the same draw uses the source cells (solutions and hidden tests) and is
rebuilt from the record when the attempt is scored, never stored where the candidate works.
"""

from __future__ import annotations

import copy
import random
from collections import Counter
from pathlib import Path

import nbformat

from hitlab.errors import InputError
from hitlab.mock.attempts import Attempt, Drawn, new_id, now, save
from hitlab.mock.pool import Item, Pool

SPOKEN = ("behavioural", "communication")
MAX_MINUTES = 180
MOCK_FOLDER = Path("work") / "mock"


def _bundle(pool: Pool, item: Item, chosen: list[Item]) -> list[Item]:
    """``item`` with the earlier exercises it builds on that the draw does not hold yet."""
    return [*(pool.items[r] for r in item.requires if pool.items[r] not in chosen), item]


def _minutes(items: list[Item]) -> int:
    return sum(i.minutes for i in items)


def _pick(
    pool: Pool,
    candidates: list[Item],
    chosen: list[Item],
    left: int,
    seen: Counter,
    topics: Counter,
    rng: random.Random,
) -> list[Item]:
    """The next item with what it requires (or nothing): among the least drawn so far (an item comes back only
    once all its peers have been drawn as often), one that fits in the ``left`` minutes, of a topic the draw
    has least, else at random."""
    candidates = [i for i in candidates if i not in chosen]
    fewest = min((seen[i.id] for i in candidates), default=0)
    fitting = [i for i in candidates if seen[i.id] == fewest and _minutes(_bundle(pool, i, chosen)) <= left]
    if not fitting:
        return []
    ranked = [(topics[i.topic], rng.random(), n) for n, i in enumerate(fitting)]
    return _bundle(pool, fitting[min(ranked)[2]], chosen)


def draw(pool: Pool, track: str, minutes: int, history: list[Attempt], seed: int) -> list[Item]:
    """The items of a ``minutes``-long interview for ``track``, in the order they are asked."""
    items = pool.drawable(track)
    if minutes > MAX_MINUTES:
        raise InputError(f"a mock interview lasts at most {MAX_MINUTES} minutes, not {minutes}")
    shortest = min((_minutes(_bundle(pool, i, [])) for i in items), default=0)
    if not items or minutes < shortest:
        raise InputError(
            f"a {minutes}-minute interview cannot hold one question of the {track} track: its shortest "
            f"takes {shortest} minutes"
        )
    rng = random.Random(seed)
    seen = Counter(d.id for a in history if a.track == track for d in a.items)
    topics: Counter = Counter()
    chosen: list[Item] = []
    spoken = [i for i in items if i.kind == "written" and i.topic in SPOKEN]
    design = [i for i in items if i.kind == "written" and i.topic not in SPOKEN]
    auto = [i for i in items if i.kind == "auto"]
    wanted = ([spoken] if minutes >= 20 else []) + ([design] if minutes >= 40 else [])
    room_for_code = min((_minutes(_bundle(pool, i, [])) for i in auto), default=0)

    def take(group: list[Item], reserve: int = 0) -> bool:
        picked = _pick(pool, group, chosen, minutes - _minutes(chosen) - reserve, seen, topics, rng)
        for item in picked:
            chosen.append(item)
            topics[item.topic] += 1
        return bool(picked)

    for group in wanted:
        take(group, reserve=room_for_code)  # leave room for at least one coding question
    while take(auto):
        pass
    if not chosen:  # only written items fit
        take(spoken + design)
    order = {item_id: n for n, item_id in enumerate(pool.items)}
    # grouped by lab, the spoken questions last (as an interview ends)
    return sorted(chosen, key=lambda i: (i.topic in SPOKEN, i.lab, order[i.id]))


# -- the notebooks -----------------------------------------------------------------------------------------------


def _md(text: str):
    return nbformat.v4.new_markdown_cell(text)


def _copy(cell):
    cell = copy.deepcopy(cell)
    if cell.cell_type == "code":
        cell.outputs, cell.execution_count = [], None
    return cell


def notebook(pool: Pool, attempt: Attempt, solved: bool = False):
    """The candidate's notebook of ``attempt`` (``solved``: the grader's copy, with solutions and hidden tests)."""
    track = pool.track(attempt.track)
    items = [pool.items[d.id] for d in attempt.items]
    auto = sum(i.kind == "auto" for i in items)
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "hitlab": {"mock": attempt.id},
    }
    lines = [
        f"# Mock interview: {track.title}, {attempt.minutes} minutes",
        "",
        f"{len(items)} questions ({auto} graded by the labs' checks, {len(items) - auto} written and assessed "
        f"against a rubric), drawn for this attempt (`{attempt.id}`). {track.about}",
        "",
        "Work as in an interview: no notes, no solutions; a check (`qN.check()`) and its first hint are fair, "
        "as an interviewer's nudge would be. The clock below keeps time; the minutes next to each part are a guide.",
    ]
    nb.cells.append(_md("\n".join(lines)))
    nb.cells.append(nbformat.v4.new_code_cell(f'from hitlab.mock import clock\n\nclock("{attempt.id}")'))
    lab = None
    part = 0
    answers_added: set[str] = set()
    for number, item in enumerate(items, 1):
        if item.lab != lab:
            lab = item.lab
            part += 1
            rest = items[number - 1 :]
            in_part = rest[: next((k for k, i in enumerate(rest) if i.lab != lab), len(rest))]
            nb.cells.append(
                _md(
                    f"## Part {part}: {', '.join(dict.fromkeys(i.topic for i in in_part))} "
                    f"(about {sum(i.minutes for i in in_part)} minutes)\n\n"
                    f"Run the set-up cell first: it opens the data and the checks of `{lab}`."
                )
            )
            nb.cells.extend(_copy(c) for c in pool.setup[lab])
        how = (
            "graded by the checks" if item.kind == "auto" else "written, assessed with its rubric afterwards"
        )
        nb.cells.append(
            _md(
                f"---\n**Question {number} of {len(items)}**: about {item.minutes} minutes, {item.points:g} "
                f"points, {how} (from {item.section})."
            )
        )
        shown = {c.source for c in nb.cells if c.cell_type == "markdown"}
        nb.cells.extend(_copy(c) for c in item.context if c.source not in shown)  # a section's opening once
        for cell in item.source_cells if solved else item.cells:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if gid in answers_added:
                continue  # an answer cell shared by two items of the draw
            answers_added.add(gid)
            nb.cells.append(_copy(cell))
    nb.cells.append(
        _md(
            "## When time is up\n\n"
            "Save this notebook (Ctrl+S), then in a terminal (File → New → Terminal) run\n\n"
            f"    hitlab mock score {attempt.id}\n\n"
            "It grades the coding and SQL questions with the labs' own checks, then shows each written question's "
            "rubric and asks you (or your interviewer, `--assessor peer`) for its points. `hitlab progress` then "
            "shows your score per topic over your attempts."
        )
    )
    for n, cell in enumerate(nb.cells):
        cell.id = f"mock-{n:03d}"  # unique (a lab's cells can come twice) and the same in both copies
    return nb


def start(
    pool: Pool, root: Path, track: str, minutes: int, history: list[Attempt], seed: int | None = None
) -> tuple[Attempt, Path]:
    """Draw an interview, write the candidate's notebook under ``work/mock/`` and record the attempt."""
    pool.track(track)
    if seed is None:
        seed = random.SystemRandom().randrange(2**32)
    items = draw(pool, track, minutes, history, seed)
    started = now()
    attempt_id = new_id(track, started, seed)
    relative = MOCK_FOLDER / f"{attempt_id}.ipynb"
    attempt = Attempt(
        id=attempt_id,
        track=track,
        minutes=minutes,
        seed=seed,
        started=started.isoformat(),
        notebook=str(relative),
        items=[Drawn(i.id, i.lab, i.kind, i.points, i.topic, i.minutes, i.section) for i in items],
    )
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        raise InputError("an attempt with this id already exists; nothing was changed", path=path)
    nbformat.write(notebook(pool, attempt), path)
    save(attempt)
    return attempt, path
