"""Lab 06 (de-identification): the references on the data and on made-up rows, the restricted ZIP3 list, the
span scorer, and the checks themselves (solutions pass, known-wrong answers fail)."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pandas as pd
import pytest

from course_proof import define, prove_grading, run_release
from hitlab.checks import lab06
from hitlab.checks.core import Incorrect
from hitlab.checks.lab06 import reference as R

RELEASE = (
    Path(__file__).resolve().parents[1] / "labs" / "lab06_deidentification" / "lab06_deidentification.ipynb"
)


def _define(code: str) -> dict:
    return define(code, lab06=lab06)


def _values(series: pd.Series) -> list:
    return [None if pd.isna(v) else v for v in series]


def test_restricted_zip3_list_is_the_guidance_list():
    assert sorted(lab06.restricted_zip3()) == [
        "036", "059", "063", "102", "203", "556", "692", "790", "821", "823", "830", "831", "878", "879", "884",
        "890", "893",
    ]  # fmt: skip


def test_safe_harbor_reference_on_made_up_rows():
    rows = lab06.patients().head(4).reset_index(drop=True)
    rows["ZIP"] = ["03601", "02110-1234", "2110", None]
    rows["BIRTHDATE"] = pd.to_datetime(["1930-05-01", "1934-03-01", "1936-12-31", "1980-01-01"])
    rows["DEATHDATE"] = pd.to_datetime([None, "2023-01-01", None, None])
    rows["RACE"] = ["white", "call 555-123-4567", "asian", "other"]
    out = R.safe_harbor(rows.assign(COMMENTS="SSN 123-45-6789"))
    assert list(out.columns) == list(lab06.SAFE_HARBOR_COLUMNS)
    assert _values(out["ZIP3"]) == ["000", "021", None, None]
    assert out["AGE_90_PLUS"].tolist() == [True, False, True, False]
    assert _values(out["BIRTH_YEAR"])[1:] == [1934, None, 1980] and out["DEATH_YEAR"][1] == 2023
    assert _values(out["RACE"]) == ["white", None, "asian", "other"]
    assert R.find_identifiers(out) == set()


def test_safe_harbor_release_of_the_dataset_leaves_nothing():
    out = R.safe_harbor(lab06.patients())
    assert len(out) == 1000 and int(out["AGE_90_PLUS"].sum()) == 15
    assert R.find_identifiers(out) == set()


def test_find_identifiers_rules():
    table = pd.DataFrame(
        {"NOTE": ["seen 03/05/2024", "call (555) 123-4567", None], "INCOME": [97751.0, 1.0, 2.0],
         "BIRTH_YEAR": [1935, 1936, 1990], "DEATH_YEAR": [2024, None, None], "first": ["Ann", None, "Bo"]}
    )  # fmt: skip
    assert R.find_identifiers(table) == {
        (0, "NOTE", "DATE"), (1, "NOTE", "PHONE"), (1, "BIRTH_YEAR", "AGE_OVER_89"), (0, "first", "COLUMN"),
        (2, "first", "COLUMN"),
    }  # fmt: skip
    with pytest.raises(ValueError, match="DataFrame"):
        R.find_identifiers([("a", 1)])


def test_uniqueness_on_the_dataset():
    full, coarse = R.uniqueness(lab06.patients())[0]
    assert full == 1.0 and coarse == pytest.approx(0.452)


def test_date_shift_is_the_keyed_hash_and_keeps_weekdays():
    key = lab06.KEY
    n = int.from_bytes(hmac.new(key, b"p-1", hashlib.sha256).digest()[:8], "big")
    assert R.shift_days("p-1", key, False) == -(1 + n % 365)
    assert R.shift_days("p-1", key, True) == -7 * (1 + n % 52)
    events = lab06.encounter_dates()
    out = R.shift_dates(events, key, True)
    assert (out["START"].dt.day_of_week == events["START"].dt.day_of_week).all()
    assert ((out["STOP"] - out["START"]) == (events["STOP"] - events["START"])).all()
    with pytest.raises(ValueError, match="32"):
        R.shift_dates(events, key[:16])


def test_pseudonym_and_hash_reversal():
    assert R.pseudonym("00104729", lab06.KEY) == hmac.new(lab06.KEY, b"00104729", hashlib.sha256).hexdigest()
    low = [m for m in lab06.mrns() if int(m) < 1_000_000]
    hashes = {hashlib.sha256(m.encode()).hexdigest(): m for m in low}
    assert len(low) == 11 and R.recover_mrns(list(hashes), 0, 1_000_000) == hashes


def test_k_anonymity_anonymization_and_l_diversity():
    table = lab06.quasi_table()
    assert R.k_anonymity(table, lab06.QUASI) == 1 and R.k_anonymity(table, ["GENDER"]) == 476
    released, cost = R.best_anonymization(table, 5)
    assert R.k_anonymity(released, lab06.QUASI) >= 5 and cost == R.discernibility(released, 1000) == 32220
    assert all(
        lab06.inputs.covers(g, v, "ZIP")
        for g, v in zip(released["ZIP"], table.loc[released.index, "ZIP"], strict=True)
    )
    toy = pd.DataFrame({"Q": ["a", "a", "b", "b"], "S": ["x", "y", "x", None]})
    assert R.l_diversity(toy, ["Q"], "S") == 2 and R.l_diversity(toy.assign(S="x"), ["Q"], "S") == 1
    with pytest.raises(ValueError, match="empty"):
        R.k_anonymity(toy.iloc[0:0], ["Q"])


def test_score_spans_counts_characters():
    score = lab06.score_spans([[(0, 3, "NAME"), (10, 12, "DATE")]], [[(1, 5, "NAME"), (20, 25, "PHONE")]])
    # found: 5 characters, 2 of them (1-3) inside a label; labelled: 9 characters, 2 of them covered
    assert (score["precision"], score["recall"]) == (2 / 5, 2 / 9)
    assert score["recall_by_category"] == {"NAME": 2 / 4, "PHONE": 0.0}
    # overlapping found spans count their characters once
    assert lab06.score_spans([[(0, 4, "NAME"), (2, 6, "NAME")]], [[(0, 6, "NAME")]])["precision"] == 1.0


def test_redacting_whole_notes_is_not_precise():
    """A scrubber that blanks every note finds every label, and must still fail on precision."""
    corpus = lab06.notes()[:200]
    score = lab06.score_spans([[(0, len(t), "NAME")] for t, _ in corpus], [s for _, s in corpus])
    assert score["recall"] == 1.0 and score["precision"] < 0.3
    with pytest.raises(Incorrect, match=r"precision 0\.2"):
        lab06.q10.check(lambda note: [(0, len(lab06.note_text(note)), "NAME")])


def test_notes_and_unseen_notes_match_their_labels():
    for text, spans in (*lab06.notes()[:50], *lab06.unseen_notes()[:50]):
        assert all(0 <= s < e <= len(text) for s, e, _ in spans)
    assert len(lab06.notes()) == 1608 and lab06.unseen_notes()[0][0] != lab06.notes()[0][0]


def test_note_text_refuses_invalid_utf8():
    assert lab06.note_text("Zoë".encode()) == "Zoë"
    with pytest.raises(ValueError, match="offset 3"):
        lab06.note_text(b"abc\xff")


def test_wrong_safe_harbor_names_the_restricted_zip3_case():
    with pytest.raises(Incorrect, match="restricted ZIP3s"):
        lab06.q1.check(_define(lab06.q1.wrong[0])["safe_harbor"])


def test_a_scrubber_that_reads_invalid_utf8_loses():
    ns = _define(lab06.q10.solution_code)
    lenient = ns["find_phi"]

    def find_phi(note):
        return lenient(note.decode("utf-8", "replace") if isinstance(note, bytes) else note)

    with pytest.raises(Incorrect, match="invalid UTF-8"):
        lab06.q10.check(find_phi)


def test_defined_names_what_is_missing(capsys):
    assert lab06.defined({"find_phi": len}, "find_phi") and capsys.readouterr().out == ""
    assert not lab06.defined({"anonymize": len}, "anonymize", "k_anonymity", "l_diversity")
    assert (
        capsys.readouterr().out
        == "Define `k_anonymity`, `l_diversity` above first, then run this cell again.\n"
    )


@pytest.mark.notebook
def test_the_release_runs_top_to_bottom_failing_only_in_exercise_cells(tmp_path):
    """A learner who runs the untouched release sees errors only where an answer or its check is missing; the
    demonstration cells say what to define first."""
    printed = run_release(RELEASE, tmp_path)
    assert printed.count("above first, then run this cell again.") == 3


@pytest.mark.notebook
@pytest.mark.slow
def test_verify_proves_the_grading():
    """``hitlab course verify lab06``: solution full marks, released zero, each known-wrong answer loses exactly
    its points (real nbgrader runs)."""
    prove_grading("lab06")
