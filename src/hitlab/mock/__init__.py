"""Timed mock interviews drawn from every lab, for a role track, with an interviewer's sheet and progress.

- :mod:`hitlab.mock.pool`: the questions (the labs' graded items) and ``pool.toml`` (tracks, minutes, probes);
- :mod:`hitlab.mock.interview`: drawing an interview and writing its notebook;
- :mod:`hitlab.mock.scoring`: grading the coding items with the labs' checks, recording assessed written items;
- :mod:`hitlab.mock.sheet`: the interviewer's sheet for a peer or mentor;
- :mod:`hitlab.mock.topics`: score per topic over attempts, its trend, and the weakest topics;
- :mod:`hitlab.mock.attempts`: the record, one file per attempt.

``hitlab mock`` on the command line is a thin layer over these.
"""

from hitlab.mock.clock import clock

__all__ = ["clock"]
