"""The evaluator: a submission's own cells, run afresh in a sandboxed process from the exam release's hitlab
(no worked answers, answer keys or reference implementations exist there), with the judge running each test
where it stands (:mod:`hitlab.grading.judge`).

``python -m hitlab.grading.evaluator FD`` reads the notebook to run on standard input: a JSON list whose items
are a cell's source or ``{"test": grade_id}``, a test's place. It runs the cells in order in one IPython
namespace (magics work; a cell that fails is noted and the next one runs, as nbgrader does); at a test's place
it asks the judge, on the socket ``FD``, to run that test, and serves the judge's requests meanwhile: ``get``
a name, call an answer, read its attributes. So a test sees the answers as they are at its place in the
notebook, as in nbgrader, and nothing a later cell does changes it. Whatever the cells print goes nowhere:
the socket is the only way out, and the judge treats everything that comes from here as the learner's.

The cells reach the practice servers (:mod:`hitlab.practice`) that the judge offers, on the loopback the two
processes share, as the learner's session reached the course's practice service.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
from typing import Any

from hitlab.grading.remote import Peer

CELL_LIMIT = 120.0  # seconds per cell, as nbgrader's


class _CellStopped(BaseException):
    pass


class Evaluator(Peer):
    def __init__(self, sock: socket.socket, namespace: dict) -> None:
        super().__init__(sock)
        self.namespace = namespace

    def handle(self, op: str, message: dict) -> Any:
        if op == "get":
            name = str(message.get("name"))
            if name not in self.namespace:
                raise NameError(f"name {name!r} is not defined")
            return self.namespace[name]
        return super().handle(op, message)


def run_notebook(evaluator: Evaluator, items: list, limit: float) -> list[str]:
    """Run the cells in a fresh IPython shell, asking the judge to run each test at its place; returns, per
    failing cell, what failed."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    evaluator.namespace = shell.user_ns
    failures: list[str] = []

    def stop(_signum, _frame):
        raise _CellStopped()

    for number, item in enumerate(items, 1):
        if isinstance(item, dict):
            evaluator.request("test", grade_id=str(item.get("test")))
            continue
        signal.signal(signal.SIGALRM, stop)
        signal.setitimer(signal.ITIMER_REAL, limit)
        try:
            result = shell.run_cell(str(item), store_history=False)
            if not result.success:
                err = result.error_in_exec or result.error_before_exec
                failures.append(f"cell {number}: {type(err).__name__}")
        except _CellStopped:
            failures.append(f"cell {number}: stopped after {limit:g} s")
        except BaseException as err:  # SystemExit and the like: the cell ends, the next one runs
            failures.append(f"cell {number}: {type(err).__name__}")
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    return failures


def main(argv: list[str]) -> None:
    sock = socket.socket(fileno=int(argv[0]))
    limit = float(argv[1]) if len(argv) > 1 else CELL_LIMIT
    items = json.loads(sys.stdin.read())
    quiet = os.open(os.devnull, os.O_WRONLY)
    for fd in (1, 2):  # the cells' prints and errors go nowhere, never into the socket
        os.dup2(quiet, fd)
    os.close(0)
    evaluator = Evaluator(sock, {})
    # hitlab.practice reaches the judge's practice servers, as the learner's session reached the course's
    # (without them, the cells that use them fail, and only those)
    with contextlib.suppress(Exception):
        os.environ["HITLAB_PRACTICE"] = str(evaluator.request("practice"))
    failures = run_notebook(evaluator, items, limit)
    evaluator.request("done", failures=failures[:50])
    sock.close()
    os._exit(0)  # whatever the cells left running (threads, servers) ends here


if __name__ == "__main__":
    main(sys.argv[1:])
