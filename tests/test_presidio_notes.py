"""tools/presidio_notes.py: Presidio's pattern recognizers on lab 06's notes, scored by the lab's span scorer.
The figures are the ones lab 06's notebook quotes; the run must not touch the network. Skipped only when
presidio-analyzer is not installed (a dev tool: `make test` installs it; a learner's install does not need it)."""

from __future__ import annotations

import importlib.util
import socket
from pathlib import Path

import pytest

pytest.importorskip("presidio_analyzer")

TOOL = Path(__file__).resolve().parents[1] / "tools" / "presidio_notes.py"


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location("presidio_notes", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def result(tool):
    return tool.score("default")


@pytest.mark.slow
def test_overall_figures_on_the_default_notes(result):
    overall = result["overall"]
    assert (result["notes"], overall["labelled"], overall["found"]) == (1608, 24000, 15408)
    # by characters: 346,992 labelled, 125,280 detected, 116,829 of them inside labels
    assert overall["recall"] == 116829 / 346992  # 0.337
    assert overall["precision"] == 116829 / 125280  # 0.933


@pytest.mark.slow
def test_figures_by_category(result):
    rows = result["by_category"]
    recall = {c: rows[c]["recall"] for c in rows if c != "(no lab category)"}
    assert recall == {
        "NAME": 0.0, "ADDRESS": 0.0, "DATE": 0.42973269864518493, "AGE_OVER_89": 0.0, "PHONE": 1.0, "EMAIL": 1.0,
        "SSN": 1.0, "MRN": 1.0, "HEALTH_PLAN": 1.0,
    }  # fmt: skip
    found = {c: rows[c]["found"] for c in rows}
    assert found == {
        "NAME": 0, "ADDRESS": 0, "DATE": 2934, "AGE_OVER_89": 0, "PHONE": 4151, "EMAIL": 570, "SSN": 165,
        "MRN": 0, "HEALTH_PLAN": 105, "(no lab category)": 7483,
    }  # fmt: skip
    assert rows["PHONE"]["precision"] == 0.9981239681825004
    assert rows["(no lab category)"]["precision"] == 0.7562321209644463
    assert all(rows[c]["precision"] == 1.0 for c in ("DATE", "EMAIL", "SSN", "HEALTH_PLAN"))


@pytest.mark.slow
def test_what_finds_what(result):
    # MRNs are "found" only by accident: 8-digit numbers that the bank-account and driver's licence patterns
    # match with scores of 0.05 and 0.01; numeric dates are found, written-out months never
    assert result["found_by"]["MRN"] == {
        "US_BANK_NUMBER": 1608,
        "US_DRIVER_LICENSE": 1608,
        "PHONE_NUMBER": 111,
    }
    assert result["found_by"]["NAME"] == result["found_by"]["ADDRESS"] == {}
    assert result["entities"] == {
        "US_DRIVER_LICENSE": 4741, "PHONE_NUMBER": 4151, "DATE_TIME": 2934, "US_BANK_NUMBER": 1611, "URL": 916,
        "EMAIL_ADDRESS": 570, "UK_NHS": 214, "US_SSN": 105, "UUID": 105, "US_ITIN": 60, "MEDICAL_LICENSE": 1,
    }  # fmt: skip


def test_no_network_records_and_refuses_what_tldextract_would_fetch(tool):
    import tldextract

    downloading = tldextract.TLDExtract(cache_dir=None)  # the default list URLs, no cache: it would fetch
    with pytest.raises(tool.NetworkAttempted, match="getaddrinfo"), tool.no_network():
        assert downloading("someone@example.org").fqdn == "example.org"  # falls back to the snapshot
    assert socket.getaddrinfo is not None and socket.socket.connect.__name__ == "connect"  # restored


def test_the_email_recognizer_used_is_offline(tool):
    recognizer = tool.offline_email_recognizer()
    text = "write to ann.lee@example.net or ann@localhost"
    with tool.no_network() as attempts:
        found = [text[r.start : r.end] for r in recognizer.analyze(text, ["EMAIL_ADDRESS"])]
    assert found == ["ann.lee@example.net"] and attempts == []
