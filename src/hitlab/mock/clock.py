"""The mock interview's clock, shown by the notebook's first cell: when it started, when time is up, and a
countdown that runs in the page (JupyterLab shows it while the output is on screen)."""

from __future__ import annotations

import html
from datetime import datetime

from hitlab.errors import HitlabError
from hitlab.mock import attempts


def clock_text(attempt: attempts.Attempt, at: datetime) -> str:
    """ "Started 09:15 UTC, time is up at 10:00 UTC: 45 minutes, 12 left." (the time now is ``at``)."""
    left = (attempt.deadline - at).total_seconds() / 60
    start = datetime.fromisoformat(attempt.started)
    state = f"{int(left)} left" if left >= 1 else ("under a minute left" if left > 0 else "time is up")
    return (
        f"Started {start:%H:%M} UTC, ends {attempt.deadline:%H:%M} UTC: {attempt.minutes} minutes, {state}."
    )


def clock(attempt_id: str) -> None:
    """Show the clock of the attempt ``attempt_id`` (a note, not an error, if it has no record here)."""
    from IPython.display import HTML, display

    try:
        attempt = attempts.load(attempt_id)
    except HitlabError:
        print(f"No record of mock interview {attempt_id} here: keep time yourself.")
        return
    text = clock_text(attempt, attempts.now())
    deadline_ms = int(attempt.deadline.timestamp() * 1000)
    element = f"hitlab-clock-{attempt_id}"
    display(
        HTML(
            f'<div id="{element}" style="font-size:1.2em;font-weight:bold">{html.escape(text)}</div>'
            "<script>(function(){"
            f'const el=document.getElementById("{element}"),end={deadline_ms};'
            "function tick(){const s=Math.round((end-Date.now())/1000);"
            'el.textContent=s>0?"Time left: "+Math.floor(s/60)+" min "+String(s%60).padStart(2,"0")+" s"'
            ':"Time is up: save, then run hitlab mock score in a terminal.";'
            "if(s>0)setTimeout(tick,1000);}tick();})();</script>"
        )
    )
