"""How a field tool does on lab 06's clinical notes: Microsoft Presidio's analyzer (presidio-analyzer 2.2.366)
with its predefined pattern recognizers only, scored by the lab's own span scorer
(``hitlab.checks.lab06.score_spans``, by characters: recall is the share of labelled characters a detection
covers, precision the share of detected characters inside labels; categories are not compared).

What runs, and what does not:

- No NLP model. Presidio finds names and places with a spaCy NER model, which cannot be downloaded here; the
  engine is built with Presidio's ``NoOpNlpEngine``, so only the recognizers that need no model run: the
  predefined ones Presidio enables by default for English (dates, phones, emails, SSN, ITIN, URLs, UUIDs,
  credit cards, IBAN, IP addresses, driver's licenses, bank numbers, ...). Without tokens, context words
  cannot raise scores either.
- No network. Presidio's email recognizer validates the domain with tldextract, whose default extractor
  downloads the Public Suffix List on first use. Here that recognizer is replaced by the same recognizer
  checking domains against tldextract's bundled snapshot (no URLs, no cache file). Scoring runs under
  :func:`no_network`, which refuses every DNS lookup and socket connection and fails if one was attempted.
- The score threshold is Presidio's default (0: every detection counts), unless ``--threshold`` says otherwise.

Run it (presidio-analyzer installed in the same environment as hitlab; the dataset built)::

    .venv/bin/python tools/presidio_notes.py
    .venv/bin/python tools/presidio_notes.py --threshold 0.5
"""

from __future__ import annotations

import argparse
import contextlib
import socket
from collections import Counter
from collections.abc import Iterator

from hitlab.checks.lab06 import PHI_CATEGORIES, notes, score_spans

PRESIDIO_VERSION = "2.2.366"

ENTITY_CATEGORY: dict[str, str | None] = {
    "PERSON": "NAME",  # needs the NER model: never produced here
    "LOCATION": "ADDRESS",  # needs the NER model: never produced here
    "DATE_TIME": "DATE",
    "PHONE_NUMBER": "PHONE",
    "EMAIL_ADDRESS": "EMAIL",
    "US_SSN": "SSN",
    "US_ITIN": "SSN",  # same 3-2-4 digit shape as an SSN
    "UUID": "HEALTH_PLAN",  # the generator writes member IDs as UUIDs; nothing about health plans in it
}
"""Presidio entity type -> the lab's PHI category. Entity types not listed (``US_DRIVER_LICENSE``,
``US_BANK_NUMBER``, ``URL``, ``UK_NHS``, ``MEDICAL_LICENSE``, ...) have no lab category: what they match still
counts in the overall precision (a redaction tool redacts it), and in recall wherever it overlaps a label."""

OTHER = "(no lab category)"


class NetworkAttempted(RuntimeError):
    """Something tried to reach the network while :func:`no_network` was in force."""


@contextlib.contextmanager
def no_network() -> Iterator[list[str]]:
    """Refuse DNS lookups and socket connections inside the block, and record each attempt (libraries such as
    tldextract catch the error and carry on, so refusing alone would hide the attempt); raise
    :class:`NetworkAttempted` at the end if there was any. Yields the list of attempts."""
    attempts: list[str] = []
    saved = (socket.getaddrinfo, socket.socket.connect, socket.socket.connect_ex, socket.create_connection)

    def refuse(what: str):
        def refused(*args, **kwargs):
            target = args[1] if args and isinstance(args[0], socket.socket) else args[0]
            attempts.append(f"{what}({target!r})")
            raise OSError(f"network access refused by no_network(): {what}")

        return refused

    socket.getaddrinfo = refuse("getaddrinfo")
    socket.socket.connect = refuse("socket.connect")
    socket.socket.connect_ex = refuse("socket.connect_ex")
    socket.create_connection = refuse("create_connection")
    try:
        yield attempts
    finally:
        socket.getaddrinfo, socket.socket.connect, socket.socket.connect_ex, socket.create_connection = saved
    if attempts:
        raise NetworkAttempted(f"{len(attempts)} network attempts: {', '.join(attempts[:3])}")


def offline_email_recognizer():
    """Presidio's ``EmailRecognizer`` (same patterns, context and score) whose domain check uses tldextract's
    bundled Public Suffix List snapshot: no download, no cache file."""
    import tldextract
    from presidio_analyzer.predefined_recognizers import EmailRecognizer

    extract = tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True)

    class OfflineEmailRecognizer(EmailRecognizer):
        def validate_result(self, pattern_text: str) -> bool:
            return extract(pattern_text).fqdn != ""

    return OfflineEmailRecognizer()


def analyzer(threshold: float = 0.0):
    """Presidio's ``AnalyzerEngine`` for English with the no-op NLP engine and the predefined recognizers
    Presidio loads by default, the email recognizer swapped for :func:`offline_email_recognizer`."""
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NoOpNlpEngine

    nlp = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "no_op"}])
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(languages=["en"], nlp_engine=nlp)
    registry.remove_recognizer("EmailRecognizer")
    registry.add_recognizer(offline_email_recognizer())
    return AnalyzerEngine(
        registry=registry, nlp_engine=nlp, supported_languages=["en"], default_score_threshold=threshold
    )


def detect(texts, threshold: float = 0.0) -> list[list[tuple[int, int, str]]]:
    """Presidio's detections in each text, as ``(start, end, entity type)``; refuses the network."""
    with no_network():
        engine = analyzer(threshold)
        return [[(r.start, r.end, r.entity_type) for r in engine.analyze(t, language="en")] for t in texts]


def score(dataset: str = "default", threshold: float = 0.0) -> dict:
    """Presidio on the dataset's notes: ``overall`` (the lab's ``score_spans`` result on every detection),
    ``by_category`` (for each lab category: recall of its labelled characters, category-blind as the lab
    scores; count of the detections mapped to it and the share of their characters inside labels), ``found_by`` (for each lab category, how many of its
    labelled spans each entity type's detections overlap) and ``entities`` (detections per Presidio entity type)."""
    corpus = notes(dataset)
    found = detect([text for text, _ in corpus], threshold)
    gold = [spans for _, spans in corpus]
    overall = score_spans(found, gold)
    by_category: dict[str, dict] = {}
    for category in (*PHI_CATEGORIES, OTHER):
        mine = [[s for s in spans if ENTITY_CATEGORY.get(s[2], OTHER) == category] for spans in found]
        detected = sum(len(spans) for spans in mine)
        row = {"found": detected, "precision": score_spans(mine, gold)["precision"] if detected else None}
        if category != OTHER:
            row["labelled"] = sum(1 for g in gold for *_, c in g if c == category)
            row["recall"] = overall["recall_by_category"].get(category)
        by_category[category] = row
    found_by: dict[str, Counter] = {c: Counter() for c in PHI_CATEGORIES}
    for spans, g in zip(found, gold, strict=True):
        for s, e, category in g:
            for fs, fe, entity in spans:
                if fs < e and s < fe:
                    found_by[category][entity] += 1
    return {
        "dataset": dataset,
        "threshold": threshold,
        "notes": len(corpus),
        "overall": overall,
        "by_category": by_category,
        "found_by": {c: dict(v.most_common()) for c, v in found_by.items()},
        "entities": dict(Counter(entity for spans in found for *_, entity in spans).most_common()),
    }


def _fmt(value) -> str:
    return "—" if value is None else f"{value:.3f}"


def table(result: dict) -> str:
    """The result as a Markdown table (one row per lab category, then the unmapped detections and overall)."""
    lines = [
        f"presidio-analyzer {PRESIDIO_VERSION}, pattern recognizers only (no NLP model), score threshold "
        f"{result['threshold']}, {result['notes']} notes of dataset {result['dataset']!r}",
        "",
        "| category | labelled | recall | detections mapped | precision | found by (detections overlapping) |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for category, row in result["by_category"].items():
        by = result["found_by"].get(category, {})
        who = ", ".join(f"{e} {n}" for e, n in list(by.items())[:3]) or "nothing"
        if category == OTHER:
            who = ", ".join(
                f"{e} {n}" for e, n in result["entities"].items() if ENTITY_CATEGORY.get(e, OTHER) == OTHER
            )
            lines.append(f"| {category} | | | {row['found']} | {_fmt(row['precision'])} | {who} |")
        else:
            lines.append(
                f"| {category} | {row['labelled']} | {_fmt(row['recall'])} | {row['found']} | "
                f"{_fmt(row['precision'])} | {who} |"
            )
    o = result["overall"]
    lines.append(
        f"| **overall** | {o['labelled']} | {_fmt(o['recall'])} | {o['found']} | {_fmt(o['precision'])} | |"
    )
    lines += [
        "",
        "entity type -> lab category: " + ", ".join(f"{e} -> {c}" for e, c in ENTITY_CATEGORY.items()),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Score Presidio's pattern recognizers on lab 06's notes with the lab's span scorer.",
        epilog="Example: .venv/bin/python tools/presidio_notes.py --threshold 0.5",
    )
    parser.add_argument("--dataset", default="default", help="hitlab dataset name (default: default)")
    parser.add_argument(
        "--threshold", type=float, default=0.0, help="Presidio's score threshold (default: 0)"
    )
    args = parser.parse_args(argv)
    print(table(score(args.dataset, args.threshold)))


if __name__ == "__main__":
    main()
