"""Time limits on the learner's code inside a check: a function that never returns must not hang the check.

:func:`time_limit` arms a real-time timer (``SIGALRM``) whose handler raises :class:`TimeLimit`, a
``BaseException`` so that the learner's ``except Exception`` cannot swallow it. The timer fires again every
second until the block ends, in case a bare ``except`` swallows one. A signal also interrupts a blocking
system call (a socket read without timeout) and a DuckDB query, which DuckDB reports as its own "interrupted"
error: any exception that ends the block after the timer fired is reported as the time limit.

Signals reach only the main thread: elsewhere (a check run from a worker thread) the block runs unlimited.
Limits nest; an inner limit never extends an outer one.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class TimeLimit(BaseException):
    """The learner's code ran past the check's time limit."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"stopped after {seconds:g} s")
        self.seconds = seconds


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`TimeLimit` in the block if it runs longer than ``seconds``."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return
    outer_remaining, _ = signal.getitimer(signal.ITIMER_REAL)
    if outer_remaining and outer_remaining <= seconds:
        yield  # the enclosing limit comes first and keeps its own handler
        return
    fired = False

    def on_alarm(_signum, _frame) -> None:
        nonlocal fired
        fired = True
        raise TimeLimit(seconds)

    started = time.monotonic()
    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds, 1.0)
    try:
        yield
    except TimeLimit:
        raise
    except BaseException as err:
        if fired:
            raise TimeLimit(seconds) from err
        raise
    else:
        if fired:  # the code swallowed the signal's exception and went on to finish
            raise TimeLimit(seconds)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_remaining:
            left = outer_remaining - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(left, 0.001), 1.0)
