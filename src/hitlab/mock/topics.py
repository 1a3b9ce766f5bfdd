"""Progress over mock interviews: the score per topic in each attempt, its trend, and the weakest topics with
the lab sections to revisit."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from hitlab.mock.attempts import Attempt

RECENT = 3  # attempts of a topic that make its current level


@dataclass
class TopicProgress:
    topic: str
    shares: list[tuple[str, float]] = field(
        default_factory=list
    )  # (attempt id, share of points), oldest first
    lost: dict[str, set[str]] = field(default_factory=dict)  # lab section -> items that lost points recently

    @property
    def level(self) -> float:
        """The mean share of the topic's points over its last :data:`RECENT` attempts."""
        recent = [s for _, s in self.shares[-RECENT:]]
        return sum(recent) / len(recent)

    def trend(self) -> str:
        """ "40% → 55% → 80%" (the last five attempts that had the topic)."""
        return " → ".join(f"{s:.0%}" for _, s in self.shares[-5:])


def topic_progress(attempts: list[Attempt]) -> list[TopicProgress]:
    """Every topic with a scored item, in order of first appearance; attempts oldest first."""
    topics: dict[str, TopicProgress] = {}
    for attempt in attempts:
        earned: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
        for drawn in attempt.items:
            result = attempt.results.get(drawn.id)
            if result is None or not result.points:
                continue
            earned[drawn.topic][0] += result.score
            earned[drawn.topic][1] += result.points
        for topic, (got, possible) in earned.items():
            topics.setdefault(topic, TopicProgress(topic)).shares.append((attempt.id, got / possible))
    for tp in topics.values():
        recent = {attempt_id for attempt_id, _ in tp.shares[-RECENT:]}
        for attempt in attempts:
            if attempt.id not in recent:
                continue
            for drawn in attempt.items:
                result = attempt.results.get(drawn.id)
                if drawn.topic == tp.topic and result is not None and result.score < result.points:
                    tp.lost.setdefault(drawn.section, set()).add(drawn.id)
    return list(topics.values())


def weakest(progress: list[TopicProgress], count: int = 3) -> list[TopicProgress]:
    """The ``count`` topics with the lowest recent level that lost points (the least practised first on ties)."""
    behind = [tp for tp in progress if tp.lost and tp.level < 1]
    return sorted(behind, key=lambda tp: (tp.level, len(tp.shares)))[:count]
