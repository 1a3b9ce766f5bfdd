"""Lab 06's questions, as a table: what each asks, its points, hints, how it is compared and which edge cases
it must also get right. The references (``reference.py``) and the answer sources (``answers.py``) are apart.

Standards followed: 45 CFR 164.514 as amended (Safe Harbor (b)(2), expert determination (b)(1),
re-identification codes (c)) and HHS OCR's *Guidance Regarding Methods for De-identification of Protected
Health Information* (November 26, 2012), whose restricted ZIP3 list is in ``hitlab/labdata/lab06``.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from hitlab.checks.core import AnswerKey, Incorrect, Question, _normal, describe, reference_of
from hitlab.checks.function import Case, check_signature, function_question
from hitlab.checks.lab06.inputs import (
    FINDING_CATEGORIES,
    MIN_CATEGORY_RECALL,
    MIN_PRECISION,
    MIN_RECALL,
    PHI_CATEGORIES,
    QUASI,
    SAFE_HARBOR_COLUMNS,
    SENSITIVE,
    covers,
    encounter_dates,
    mrns,
    notes,
    patients,
    quasi_table,
    score_spans,
    unseen_notes,
)
from hitlab.checks.sql import sql_question

_answers = AnswerKey("hitlab.checks.lab06")  # left out of an exam release
_key, _keys = _answers.source, _answers.sources


def _ref():
    """The reference implementations (absent from an exam release: the grader's install has them)."""
    return reference_of("hitlab.checks.lab06")


KEY = bytes(range(32))  # the lab's demonstration key; a real one comes from a secrets store
OTHER_KEY = b"another key of thirty-two bytes!"


def _frame(got: Any, title: str, what: str) -> pd.DataFrame:
    if not isinstance(got, pd.DataFrame):
        raise Incorrect(f"{title}: on {what}, return a pandas DataFrame, got {describe(got)}.")
    return got


# -- Q1 Safe Harbor ------------------------------------------------------------------------------------------


def _planted_patients() -> list[Case]:
    """Made-up rows (real rows with one thing changed) for what the data lacks."""
    base = patients().head(4).reset_index(drop=True)

    def variant(what: str, **changes) -> Case:
        rows = base.copy()
        for column, values in changes.items():
            rows[column] = values
        return Case(f"made-up rows with {what}", (rows,))

    ts = pd.Timestamp
    return [
        Case("the dataset's patients table", (patients(),)),
        variant(
            "restricted ZIP3s (036 and 893) and a ZIP+4", ZIP=["03601", "89301-1234", "02110-1234", None]
        ),
        variant(
            "a living patient aged 90 or more on the release date",
            BIRTHDATE=[ts("1930-05-01"), ts("1936-12-31"), ts("1937-01-01"), ts("1980-01-01")],
            DEATHDATE=[pd.NaT] * 4,
        ),
        variant(
            "patients who died aged 90 or more, and one who died at 89",
            BIRTHDATE=[ts("1920-05-01"), ts("1934-03-01"), ts("1935-06-01"), ts("1940-01-01")],
            DEATHDATE=[ts("2016-02-01"), ts("2023-01-01"), ts("2025-07-01"), pd.NaT],
        ),
        variant(
            "identifiers typed into coded columns",
            RACE=["white", "call 555-123-4567", "asian", "other"],
            MARITAL=["M", "married to Jane Doe", None, "S"],
        ),
        Case(
            "made-up rows with an extra free-text column",
            (base.assign(COMMENTS=["SSN 123-45-6789", "", None, "lives at 1 Main St"]),),
        ),
    ]


def _compare_release(got: Any, expected: pd.DataFrame, case: Case, title: str) -> None:
    got = _frame(got, title, case.label)
    if list(got.columns) != list(SAFE_HARBOR_COLUMNS):
        extra = [c for c in got.columns if c not in SAFE_HARBOR_COLUMNS]
        why = f" ({extra[0]} should not be there)" if extra else ""
        raise Incorrect(
            f"{title}: on {case.label}, the columns should be {', '.join(SAFE_HARBOR_COLUMNS)} in that order{why}."
        )
    if len(got) != len(expected):
        raise Incorrect(
            f"{title}: on {case.label}, expected {len(expected)} rows (one per patient), got {len(got)}."
        )
    for i, (g, e) in enumerate(
        zip(got.itertuples(index=False), expected.itertuples(index=False), strict=True)
    ):
        g, e = _normal(_none(v) for v in g), _normal(_none(v) for v in e)
        for column, gv, ev in zip(SAFE_HARBOR_COLUMNS, g, e, strict=True):
            if gv != ev and not (isinstance(gv, float) and isinstance(ev, float) and abs(gv - ev) < 1e-6):
                raise Incorrect(f"{title}: on {case.label}, row {i}, {column} is {gv!r}, which is not right.")


def _none(value: Any) -> Any:
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value


q1 = function_question(
    grade_id="lab06_safe_harbor",
    title="Q1 Safe Harbor release of the patients table",
    points=3,
    name="safe_harbor",
    parameters=("patients",),
    reference=lambda *args, **kwargs: _ref().safe_harbor(*args, **kwargs),
    cases=_planted_patients,
    compare=_compare_release,
    hints=(
        "Build the release from an allow-list of columns: anything not listed (names, SSN, addresses, an extra "
        "comments column) must not get through, whatever it is called.",
        "Age counts from years alone: to the death year for the dead, to 2026 for the living. At 90 or more, "
        "both BIRTH_YEAR and DEATH_YEAR go (each one tells the age), and AGE_90_PLUS says so.",
        "ZIP3 is the first three digits of a 5-digit ZIP (or ZIP+4), replaced by '000' if it is on "
        "`lab06.restricted_zip3()`; coded columns keep only the values in `lab06.CODES`.",
    ),
    solution_code=_key("SAFE_HARBOR"),
    wrong=_keys("SAFE_HARBOR_WRONG"),
    alternatives=_keys("SAFE_HARBOR_ALTERNATIVE"),
)

# -- Q2 prove that nothing is left ---------------------------------------------------------------------------


def _release_rows(n: int = 4) -> pd.DataFrame:
    return pd.DataFrame(
        [(1980 + i, None, False, "F" if i % 2 else "M", "white", "nonhispanic", "M", "Massachusetts", "021",
          1000.0 * i, 500.0 * i, 50000.0) for i in range(n)],
        columns=list(SAFE_HARBOR_COLUMNS),
    )  # fmt: skip


def _planted_releases() -> list[Case]:
    clean = _release_rows()

    def plant(what: str, **changes) -> Case:
        rows = clean.copy()
        for column, values in changes.items():
            rows[column] = values
        return Case(f"a release with {what}", (rows,))

    ts = pd.Timestamp
    return [
        Case("a clean release", (clean,)),
        Case("the patients table as exported (nothing removed)", (patients(),)),
        plant("an SSN in a text column", RACE=["white", "SSN 999-12-3456", "asian", "other"]),
        plant("phone numbers in both formats", MARITAL=["(555) 123-4567", "M", "call 555-123-4567", "S"]),
        plant("an email address", STATE=["Massachusetts", "Massachusetts", "write to a.b@example.org", None]),
        plant(
            "dates as text and as date values",
            NOTE=["seen 2024-03-05", "seen 03/05/2024", None, "2019"],
            VISIT=[ts("2024-03-05"), pd.NaT, None, None],
        ),
        plant("a 5-digit ZIP in text and a restricted ZIP3", ZIP3=["021", "02110", "036", "893"]),
        plant(
            "birth years of people 90 or older, and of one who died at 89",
            BIRTH_YEAR=[1930, 1936, 1934, 1990],
            DEATH_YEAR=[None, None, 2023, None],
        ),
        plant("an AGE column", AGE=[93, 89, None, 90]),
        plant("identifier columns left in", FIRST=["Ann1", None, "Bo2", "Cy3"], Id=["a", "b", "c", None]),
    ]


def _compare_findings(got: Any, expected: set, case: Case, title: str) -> None:
    if not isinstance(got, set | frozenset | list | tuple):
        raise Incorrect(f"{title}: return a set of (row, column, category) tuples, got {describe(got)}.")
    try:
        found = {(int(r), str(c), str(cat)) for r, c, cat in got}
    except (TypeError, ValueError):
        raise Incorrect(f"{title}: every finding should be a (row, column, category) tuple.") from None
    wrong_category = sorted({cat for _, _, cat in found} - set(FINDING_CATEGORIES))
    if wrong_category:
        raise Incorrect(
            f"{title}: {wrong_category[0]!r} is not a category; use {', '.join(FINDING_CATEGORIES)}."
        )
    extra = sorted(found - expected)
    if extra:
        row, column, cat = extra[0]
        raise Incorrect(f"{title}: on {case.label}, row {row}, column {column} is not a {cat} finding.")
    missing = sorted(expected - found)
    if missing:
        cats = sorted({cat for _, _, cat in missing})
        raise Incorrect(
            f"{title}: on {case.label}, {len(missing)} findings are missing (categories: {', '.join(cats)})."
        )


q2 = function_question(
    grade_id="lab06_find_identifiers",
    title="Q2 prove that no identifier remains",
    points=2,
    name="find_identifiers",
    parameters=("table",),
    reference=lambda *args, **kwargs: _ref().find_identifiers(*args, **kwargs),
    cases=_planted_releases,
    compare=_compare_findings,
    hints=(
        "Look at every cell, not only at column names: identifiers hide in text columns.",
        "Rows are positions (0 for the first row), whatever the DataFrame's index. One finding per row, column "
        "and category, so a set of tuples is the natural result.",
        "Text patterns apply to str values only (an INCOME of 97751.0 is not a ZIP); a date or timestamp value "
        "is a DATE finding whatever its column.",
    ),
    solution_code=_key("FIND_IDENTIFIERS"),
    wrong=_keys("FIND_IDENTIFIERS_WRONG"),
    alternatives=_keys("FIND_IDENTIFIERS_ALTERNATIVE"),
)

# -- Q3 uniqueness -------------------------------------------------------------------------------------------

q3 = sql_question(
    grade_id="lab06_uniqueness",
    title="Q3 how many are unique on (ZIP, birth date, sex)",
    points=2,
    variable="uniqueness_sql",
    columns=("unique_full", "unique_coarse"),
    reference=lambda: _ref().uniqueness(patients()),
    hints=(
        "A person is unique when nobody else shares the key: count the people per key (a window `count(*) over "
        "(partition by ...)`) and keep those with a count of 1.",
        "The share is over everybody in `patients`: divide by the population, not by the number of keys.",
    ),
    solution=_key("UNIQUENESS"),
    wrong=_keys("UNIQUENESS_WRONG"),
    alternatives=_keys("UNIQUENESS_ALTERNATIVE"),
)

# -- Q4 date shifting ----------------------------------------------------------------------------------------


def _shift_cases() -> list[Case]:
    events = encounter_dates()
    toy = pd.DataFrame({"PATIENT": ["p-1", "p-1", "p-2"], "START": pd.to_datetime(["2020-02-28", "2020-03-01", "2024-02-29"]),
                        "STOP": pd.to_datetime(["2020-02-29 10:30", None, "2024-03-01 00:00"])})  # fmt: skip
    return [
        Case("the encounters, keep_weekday=False", (events, KEY, False)),
        Case("the encounters, keep_weekday=True", (events, KEY, True)),
        Case("the encounters with another key", (events, OTHER_KEY, False)),
        Case("made-up events over leap days, one with no STOP", (toy, KEY, True)),
        Case("a key of 16 bytes", (toy, KEY[:16], False)),
        Case("a list instead of a table", ([("p-1", "2020-01-01", "2020-01-02")], KEY, False)),
    ]


def _compare_shift(got: Any, expected: pd.DataFrame, case: Case, title: str) -> None:
    got = _frame(got, title, case.label)
    events, _, keep_weekday = case.args
    if (
        list(got.columns) != list(events.columns)
        or len(got) != len(events)
        or not got.index.equals(events.index)
    ):
        raise Incorrect(f"{title}: on {case.label}, return the events with the same columns, rows and index.")
    delta = pd.to_datetime(got["START"]) - pd.to_datetime(events["START"])
    stop = pd.to_datetime(got["STOP"]) - pd.to_datetime(events["STOP"])
    if (delta % pd.Timedelta(days=1) != pd.Timedelta(0)).any():
        raise Incorrect(f"{title}: on {case.label}, shift by whole days: the time of day must not change.")
    if (stop.notna() & (stop != delta)).any() or (stop.isna() != events["STOP"].isna()).any():
        raise Incorrect(f"{title}: on {case.label}, STOP must move with START: the length of a stay changed.")
    per_patient = delta.groupby(events["PATIENT"]).nunique()
    if (per_patient > 1).any():
        raise Incorrect(
            f"{title}: on {case.label}, a patient's events moved by different amounts: intervals between them change."
        )
    days = delta.dt.days
    if keep_weekday and (days % 7 != 0).any():
        raise Incorrect(f"{title}: on {case.label}, keep_weekday=True, but the day of the week changed.")
    low = -364 if keep_weekday else -365
    if ((days < low) | (days > -1)).any():
        raise Incorrect(f"{title}: on {case.label}, a shift is outside {low} to -1 days.")
    if not got["START"].equals(expected["START"]) or not got["STOP"].equals(expected["STOP"]):
        raise Incorrect(
            f"{title}: on {case.label}, the shifts are consistent and in range, but not the ones the key gives: "
            "derive them from HMAC-SHA256 of the patient id as the prompt says."
        )


q4 = function_question(
    grade_id="lab06_shift_dates",
    title="Q4 consistent per-patient date shifting",
    points=2,
    name="shift_dates",
    parameters=("events", "key", "keep_weekday"),
    reference=lambda *args, **kwargs: _ref().shift_dates(*args, **kwargs),
    cases=_shift_cases,
    compare=_compare_shift,
    hints=(
        "One shift per patient, applied to every date of that patient: intervals between their events stay "
        "exactly as they were.",
        "The shift comes from the keyed hash of the patient id, so the same key gives the same shift on every "
        "run and nobody without the key can undo it.",
        "With keep_weekday, the shift must be a whole number of weeks.",
    ),
    solution_code=_key("SHIFT"),
    wrong=_keys("SHIFT_WRONG"),
    alternatives=_keys("SHIFT_ALTERNATIVE"),
)

# -- Q5 pseudonyms, Q6 plain hashes ----------------------------------------------------------------------------


def _pseudonym_cases() -> list[Case]:
    cases = [Case(f"MRN {m}", (m, KEY)) for m in mrns()[:20:4]]
    return [
        *cases,
        Case("a patient Id", ("24a59ef9-735f-49a4-bf3c-0483be8d260b", KEY)),
        Case("an Id with non-ASCII letters", ("Zoë-Ωmega", OTHER_KEY)),
        Case("an empty string", ("", KEY)),
        Case("a key of 8 bytes", ("00104729", KEY[:8])),
        Case("a key given as str", ("00104729", "secret" * 8)),
        Case("an MRN given as int", (104729, KEY)),
    ]


q5 = function_question(
    grade_id="lab06_pseudonym",
    title="Q5 keyed-hash pseudonyms",
    points=1,
    name="pseudonym",
    parameters=("value", "key"),
    reference=lambda *args, **kwargs: _ref().pseudonym(*args, **kwargs),
    cases=_pseudonym_cases,
    hints=(
        "Python's `hmac` module computes HMAC: `hmac.new(key, message, hashlib.sha256).hexdigest()`.",
        "Encode the value as UTF-8. Refuse keys that are not bytes or shorter than 32 bytes with ValueError.",
    ),
    solution_code=_key("PSEUDONYM"),
    wrong=_keys("PSEUDONYM_WRONG"),
    alternatives=_keys("PSEUDONYM_ALTERNATIVES"),
)


def _hash_cases() -> list[Case]:
    import hashlib

    def digest(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()

    low_band = [m for m in mrns() if int(m) < 1_000_000]
    mid = [m for m in mrns() if 61_000_000 <= int(m) < 62_000_000]
    strangers = [digest("not an MRN"), digest("104729")]  # the second: an MRN without its leading zeros
    return [
        Case("hashes of the MRNs below 01000000", ([digest(m) for m in low_band] + strangers, 0, 1_000_000)),
        Case("hashes of the MRNs from 61000000", ([digest(m) for m in mid], 61_000_000, 62_000_000)),
        Case("an empty range", ([digest(m) for m in mid], 5, 5)),
        Case("a range beyond 8 digits", ([], 99_999_990, 100_000_001)),
    ]


q6 = function_question(
    grade_id="lab06_recover_mrns",
    title="Q6 recover MRNs from plain SHA-256 hashes",
    points=2,
    name="recover_mrns",
    parameters=("hashes", "low", "high"),
    reference=lambda *args, **kwargs: _ref().recover_mrns(*args, **kwargs),
    cases=_hash_cases,
    hints=(
        "Hash every candidate MRN in the range and look the digest up in a set of the given hashes.",
        "An MRN is 8 digits, leading zeros included: 104729 is written 00104729.",
    ),
    solution_code=_key("RECOVER"),
    wrong=_keys("RECOVER_WRONG"),
    alternatives=_keys("RECOVER_ALTERNATIVE"),
)

# -- Q7-Q9 k-anonymity and l-diversity ------------------------------------------------------------------------


def _coarse() -> pd.DataFrame:
    table = quasi_table()
    return table.assign(
        ZIP=table["ZIP"].str[:3] + "**", BIRTH_YEAR=(table["BIRTH_YEAR"] // 10 * 10).astype(str)
    )


def _k_cases() -> list[Case]:
    toy = pd.DataFrame({"ZIP": ["021", "021", None, None, "027"], "GENDER": ["F", "F", "M", "M", "M"]})
    return [
        Case("the quasi-identifier table on ZIP, BIRTH_YEAR, GENDER", (quasi_table(), list(QUASI))),
        Case("the quasi-identifier table on GENDER", (quasi_table(), ["GENDER"])),
        Case("a coarser table (ZIP3, decade, sex)", (_coarse(), list(QUASI))),
        Case("the coarser table on ZIP and GENDER", (_coarse(), ["ZIP", "GENDER"])),
        Case("made-up rows with missing ZIPs", (toy, ["ZIP", "GENDER"])),
        Case("an empty table", (toy.iloc[0:0], ["ZIP"])),
        Case("a quasi-identifier that is not a column", (toy, ["AGE"])),
    ]


q7 = function_question(
    grade_id="lab06_k_anonymity",
    title="Q7 measure k-anonymity",
    points=1,
    name="k_anonymity",
    parameters=("table", "quasi"),
    reference=lambda *args, **kwargs: _ref().k_anonymity(*args, **kwargs),
    cases=_k_cases,
    hints=(
        "Group the rows by the quasi-identifiers: each group is an equivalence class. k is the size of the "
        "smallest one: the person easiest to single out decides.",
        "Missing values group together (`groupby(..., dropna=False)`), as an attacker would match them.",
    ),
    solution_code=_key("K_ANON"),
    wrong=_keys("K_ANON_WRONG"),
    alternatives=_keys("K_ANON_ALTERNATIVE"),
)

LOSS_MARGIN = 0.10


def _anonymize_cases() -> list[Case]:
    table = quasi_table()
    return [
        Case("the quasi-identifier table, k = 5", (table, 5)),
        Case("its first 300 rows, k = 5", (table.head(300), 5)),
        Case("the quasi-identifier table, k = 10", (table, 10)),
    ]


def _reference_release(table: Any, k: int) -> tuple[str, int]:
    return ("the reference's release", _ref().anonymization_cost(table, k))


def _compare_anonymized(got: Any, expected: tuple[str, int], case: Case, title: str) -> None:
    table, k = case.args
    expected = expected[1]
    if not (isinstance(got, tuple) and len(got) == 2):
        raise Incorrect(f"{title}: return a (released table, discernibility) pair, got {describe(got)}.")
    released, loss = got
    released = _frame(released, title, case.label)
    if list(released.columns) != list(table.columns):
        raise Incorrect(f"{title}: on {case.label}, keep the input's columns ({', '.join(table.columns)}).")
    if not released.index.is_unique or not set(released.index) <= set(table.index):
        raise Incorrect(
            f"{title}: on {case.label}, keep each released row's index from the input (and no new rows)."
        )
    original = table.loc[released.index]
    for column in table.columns:
        for general, value in zip(released[column], original[column], strict=True):
            if not covers(general, value, column):
                raise Incorrect(
                    f"{title}: on {case.label}, {column} {general!r} is not a generalization of {value!r}."
                )
    reached = _ref().k_anonymity(released, QUASI) if len(released) else 0
    if reached < k:
        raise Incorrect(
            f"{title}: on {case.label}, your release is only {reached}-anonymous; k = {k} is asked."
        )
    actual = _ref().discernibility(released, len(table))
    if not isinstance(loss, int | float) or loss != actual:
        raise Incorrect(
            f"{title}: on {case.label}, you report a discernibility of {loss!r}; your release has {actual}."
        )
    if actual > expected * (1 + LOSS_MARGIN):
        raise Incorrect(
            f"{title}: on {case.label}, k is reached but the discernibility {actual} loses more than it must "
            f"(more than {LOSS_MARGIN:.0%} above the reference's): generalize less, or suppress a few outliers."
        )


q8 = function_question(
    grade_id="lab06_anonymize",
    title="Q8 reach k = 5 by generalization and suppression",
    points=3,
    name="anonymize",
    parameters=("table", "k"),
    reference=_reference_release,
    cases=_anonymize_cases,
    compare=_compare_anonymized,
    hints=(
        "Try every combination of levels (6 for ZIP, 5 for BIRTH_YEAR, 2 for GENDER: 60 releases); for each, "
        "drop the rows of classes smaller than k and compute the discernibility; keep the cheapest.",
        "Suppressing a row costs the size of the whole table: suppress outliers, not crowds.",
    ),
    solution_code=_key("ANONYMIZE"),
    wrong=_keys("ANONYMIZE_WRONG"),
    alternatives=_keys("ANONYMIZE_ALTERNATIVE"),
)


def _l_cases() -> list[Case]:
    toy = pd.DataFrame({"ZIP": ["021**"] * 4 + ["027**"] * 3, "GENDER": ["F"] * 7,
                        SENSITIVE: ["asthma", "asthma", "flu", None, "flu", "flu", "flu"]})  # fmt: skip
    return [
        Case("the coarser table (ZIP3, decade, sex)", (_coarse(), list(QUASI), SENSITIVE)),
        Case("the coarser table on GENDER", (_coarse(), ["GENDER"], SENSITIVE)),
        Case("made-up rows, one class all alike", (toy, ["ZIP", "GENDER"], SENSITIVE)),
        Case("made-up rows, one class per sex", (toy, ["GENDER"], SENSITIVE)),
        Case("a sensitive column that is not there", (toy, ["ZIP"], "CONDITION")),
        Case("an empty table", (toy.iloc[0:0], ["ZIP"], SENSITIVE)),
    ]


q9 = function_question(
    grade_id="lab06_l_diversity",
    title="Q9 distinct l-diversity",
    points=1,
    name="l_diversity",
    parameters=("table", "quasi", "sensitive"),
    reference=lambda *args, **kwargs: _ref().l_diversity(*args, **kwargs),
    cases=_l_cases,
    hints=(
        "Within each equivalence class, count the distinct sensitive values (a missing value counts as one). "
        "l is the smallest of those counts.",
    ),
    solution_code=_key("L_DIVERSITY"),
    wrong=_keys("L_DIVERSITY_WRONG"),
    alternatives=_keys("L_DIVERSITY_ALTERNATIVE"),
)

# -- Q10 free-text PHI ---------------------------------------------------------------------------------------


def _spans(find_phi: Any, text: Any, label: str, title: str) -> Any:
    """``find_phi(text)``, which must be a list of (start, end, category) spans with a category of
    ``PHI_CATEGORIES``."""
    try:
        got = find_phi(text)
    except Exception as err:
        from hitlab.checks.core import learner_error

        raise learner_error(err, f"{title}: on {label}, your find_phi") from None
    if not isinstance(got, list | tuple | set):
        raise Incorrect(f"{title}: return a list of (start, end, category) tuples, got {describe(got)}.")
    for span in got:
        if not (isinstance(span, tuple | list) and len(span) == 3 and span[2] in PHI_CATEGORIES):
            raise Incorrect(
                f"{title}: {span!r} is not a (start, end, category) span with a category of "
                f"{', '.join(PHI_CATEGORIES)}."
            )
    return got


def _scrubber_scores(find_phi: Any, corpus, label: str, title: str) -> None:
    found, gold = [], []
    for text, spans in corpus:
        got = _spans(find_phi, text, label, title)
        found.append(got)
        gold.append(spans)
    score = score_spans(found, gold)
    weak = {c: r for c, r in score["recall_by_category"].items() if r < MIN_CATEGORY_RECALL}
    if score["recall"] < MIN_RECALL or score["precision"] < MIN_PRECISION or weak:
        by_cat = ", ".join(f"{c} {r:.2f}" for c, r in score["recall_by_category"].items())
        raise Incorrect(
            f"{title}: on {label}, precision {score['precision']:.3f} and recall {score['recall']:.3f} "
            f"(by category: {by_cat}); the prompt asks precision >= {MIN_PRECISION}, recall >= {MIN_RECALL} "
            f"and >= {MIN_CATEGORY_RECALL} in every category."
        )


def _check_scrubber(find_phi: Any, _key: Any) -> None:
    title = q10.title
    if not callable(find_phi):
        raise Incorrect(f"{title}: `find_phi` should be a function, got {describe(find_phi)}.")
    _scrubber_scores(find_phi, notes(), "the dataset's notes", title)
    _scrubber_scores(find_phi, unseen_notes(), "notes of another population it has not seen", title)


def _scrubber_form(find_phi: Any) -> None:
    """The form of an answer: ``find_phi(note)`` returns spans of the PHI categories on a note of the dataset."""
    title = q10.title
    check_signature(find_phi, "find_phi", ("note",), title)
    _spans(find_phi, notes()[0][0], "a note of the dataset", title)


def _bytes_edge(find_phi: Any) -> None:
    title = q10.title
    text, _ = notes()[0]
    if sorted(find_phi(text.encode("utf-8"))) != sorted(find_phi(text)):
        raise Incorrect(f"{title}: a note given as UTF-8 bytes should give the same spans as the text.")
    bad = text.encode("utf-8")[:40] + b"\xff\xfe" + text.encode("utf-8")[40:]
    try:
        find_phi(bad)
    except ValueError:
        return
    except Exception as err:
        raise Incorrect(
            f"{title}: a note with invalid UTF-8 should raise ValueError, not {type(err).__name__}."
        ) from None
    raise Incorrect(
        f"{title}: a note with invalid UTF-8 bytes should be refused with ValueError, not scrubbed."
    )


q10 = Question(
    grade_id="lab06_scrub_notes",
    title="Q10 scrub PHI from clinical notes",
    points=3,
    variable="find_phi",
    expected=lambda: None,
    compare=_check_scrubber,
    hints=(
        "Print a few notes and list what varies: four date formats, two phone formats, names with digits.",
        "Anchor on context where the format is ambiguous: an MRN follows 'MRN: ', a member ID follows "
        "'member ID ', a city sits between ', ' and ', MA'.",
        "Measure yourself with `lab06.score_spans` on the dataset's notes before you run the check.",
    ),
    solution_code=_key("FIND_PHI"),
    wrong=_keys("FIND_PHI_WRONG"),
    alternatives=_keys("FIND_PHI_ALTERNATIVE"),
    edge_cases=(_bytes_edge,),
    form=(_scrubber_form,),
)

QUESTIONS = (q1, q2, q3, q4, q5, q6, q7, q8, q9, q10)
