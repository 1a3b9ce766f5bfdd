"""Lab 06's reference implementations: they compute the expected answers from the data and from the checks'
made-up inputs. Written apart from the learner's solutions (``answers.py``) and left out of an exam release.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import re
from datetime import date, datetime
from typing import Any

import pandas as pd

from hitlab.checks.lab06.inputs import (
    CODES,
    PATIENT_IDENTIFIERS,
    QUASI,
    REFERENCE_YEAR,
    SAFE_HARBOR_COLUMNS,
    restricted_zip3,
)


def _table(value: Any, what: str = "the table") -> pd.DataFrame:
    if not isinstance(value, pd.DataFrame):
        raise ValueError(f"{what} should be a pandas DataFrame, got {type(value).__name__}")
    return value


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _year(value: Any) -> int | None:
    return None if _missing(value) else pd.Timestamp(value).year


# -- Q1 Safe Harbor ------------------------------------------------------------------------------------------

_ZIP = re.compile(r"(\d{3})\d{2}(?:-\d{4})?")


def zip3(value: Any) -> str | None:
    if _missing(value):
        return None
    m = _ZIP.fullmatch(str(value).strip())
    if not m:
        return None
    return "000" if m[1] in restricted_zip3() else m[1]


def safe_harbor(patients: Any) -> pd.DataFrame:
    table = _table(patients, "patients")
    needed = ("BIRTHDATE", "DEATHDATE", "ZIP", "STATE", *CODES, *SAFE_HARBOR_COLUMNS[-3:])
    for column in needed:
        if column not in table.columns:
            raise ValueError(f"patients has no column {column}")
    rows = []
    for r in table.to_dict("records"):
        born, died = _year(r["BIRTHDATE"]), _year(r["DEATHDATE"])
        old = born is not None and (died if died is not None else REFERENCE_YEAR) - born >= 90
        coded = {c: (r[c] if r[c] in CODES[c] else None) for c in ("GENDER", "RACE", "ETHNICITY", "MARITAL")}
        rows.append((
            None if old else born, None if old else died, old, coded["GENDER"], coded["RACE"],
            coded["ETHNICITY"], coded["MARITAL"], None if _missing(r["STATE"]) else r["STATE"], zip3(r["ZIP"]),
            r["HEALTHCARE_EXPENSES"], r["HEALTHCARE_COVERAGE"], r["INCOME"],
        ))  # fmt: skip
    out = pd.DataFrame(rows, columns=list(SAFE_HARBOR_COLUMNS))
    for column in ("BIRTH_YEAR", "DEATH_YEAR"):
        out[column] = out[column].astype("Int64")
    return out


# -- Q2 identifier finder ------------------------------------------------------------------------------------

_PATTERNS = {
    "SSN": re.compile(r"\b\d{3}-\d{2}-\d{4}\b"),
    "PHONE": re.compile(r"\(\d{3}\) \d{3}-\d{4}|\b\d{3}-\d{3}-\d{4}\b"),
    "EMAIL": re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    "DATE": re.compile(r"\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}/\d{1,2}/\d{4}\b"),
    "ZIP": re.compile(r"\b\d{5}(?:-\d{4})?\b"),
}
_IDENTIFIER_NAMES = {c.casefold() for c in PATIENT_IDENTIFIERS}


def find_identifiers(table: Any) -> set[tuple[int, str, str]]:
    table = _table(table)
    found = set()
    columns = list(table.columns)
    lower = {str(c).casefold(): c for c in columns}
    for row, record in enumerate(table.itertuples(index=False, name=None)):
        values = dict(zip(columns, record, strict=True))
        for column, value in values.items():
            if _missing(value):
                continue
            if str(column).casefold() in _IDENTIFIER_NAMES:
                found.add((row, column, "COLUMN"))
            if isinstance(value, datetime | date | pd.Timestamp):
                found.add((row, column, "DATE"))
            if isinstance(value, str):
                for category, pattern in _PATTERNS.items():
                    if pattern.search(value):
                        found.add((row, column, category))
                if str(column).casefold() == "zip3" and value.strip() in restricted_zip3():
                    found.add((row, column, "ZIP"))
        if "birth_year" in lower and not _missing(values[lower["birth_year"]]):
            death = values[lower["death_year"]] if "death_year" in lower else None
            end = REFERENCE_YEAR if _missing(death) else int(death)
            if end - int(values[lower["birth_year"]]) >= 90:
                found.add((row, lower["birth_year"], "AGE_OVER_89"))
        if "age" in lower and not _missing(values[lower["age"]]):
            try:
                if float(values[lower["age"]]) >= 90:
                    found.add((row, lower["age"], "AGE_OVER_89"))
            except (TypeError, ValueError):
                pass
    return found


# -- Q3 uniqueness -------------------------------------------------------------------------------------------


def uniqueness(patients: pd.DataFrame) -> list[tuple]:
    full = pd.DataFrame({"z": patients["ZIP"], "b": patients["BIRTHDATE"], "g": patients["GENDER"]})
    coarse = pd.DataFrame(
        {
            "z": patients["ZIP"].str[:3],
            "b": pd.to_datetime(patients["BIRTHDATE"]).dt.year,
            "g": patients["GENDER"],
        }
    )

    def share(frame: pd.DataFrame) -> float:
        sizes = frame.groupby(["z", "b", "g"], dropna=False)["g"].transform("size")
        return float((sizes == 1).sum()) / len(frame)

    return [(share(full), share(coarse))]


# -- Q4 date shift, Q5 pseudonyms, Q6 hash reversal -----------------------------------------------------------


def _key(key: Any) -> bytes:
    if not isinstance(key, bytes):
        raise ValueError(f"the key should be bytes, got {type(key).__name__}")
    if len(key) < 32:
        raise ValueError(f"the key has {len(key)} bytes; HMAC-SHA256 needs at least 32")
    return key


def shift_days(patient: str, key: bytes, keep_weekday: bool) -> int:
    digest = hmac.new(_key(key), patient.encode("utf-8"), hashlib.sha256).digest()
    n = int.from_bytes(digest[:8], "big")
    return -7 * (1 + n % 52) if keep_weekday else -(1 + n % 365)


def shift_dates(events: Any, key: bytes, keep_weekday: bool = False) -> pd.DataFrame:
    events = _table(events, "events")
    for column in ("PATIENT", "START", "STOP"):
        if column not in events.columns:
            raise ValueError(f"events has no column {column}")
    offsets = pd.to_timedelta([shift_days(p, key, keep_weekday) for p in events["PATIENT"]], unit="D")
    out = events.copy()
    out["START"] = pd.to_datetime(events["START"]) + offsets
    out["STOP"] = pd.to_datetime(events["STOP"]) + offsets
    return out


def pseudonym(value: Any, key: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"the value should be a str, got {type(value).__name__}")
    return hmac.new(_key(key), value.encode("utf-8"), hashlib.sha256).hexdigest()


def recover_mrns(hashes: Any, low: int, high: int) -> dict[str, str]:
    if not 0 <= low <= high <= 10**8:
        raise ValueError(f"not a range of 8-digit MRNs: {low} to {high}")
    wanted = set(hashes)
    out = {}
    for n in range(low, high):
        mrn = str(n).zfill(8)
        digest = hashlib.sha256(mrn.encode("ascii")).hexdigest()
        if digest in wanted:
            out[digest] = mrn
    return out


# -- Q7-Q9 k-anonymity and l-diversity ------------------------------------------------------------------------


def _classes(table: Any, quasi: Any):
    table = _table(table)
    quasi = list(quasi)
    if table.empty:
        raise ValueError("the table is empty: k is undefined")
    for column in quasi:
        if column not in table.columns:
            raise ValueError(f"the table has no quasi-identifier column {column}")
    return table.groupby(quasi, dropna=False, sort=False)


def k_anonymity(table: Any, quasi: Any) -> int:
    return int(_classes(table, quasi).size().min())


def l_diversity(table: Any, quasi: Any, sensitive: str) -> int:
    groups = _classes(table, quasi)
    if sensitive not in table.columns:
        raise ValueError(f"the table has no sensitive column {sensitive}")
    return int(min(len(set(g[sensitive].tolist())) for _, g in groups))


def discernibility(released: pd.DataFrame, original_rows: int) -> int:
    """Bayardo and Agrawal's discernibility metric: each released row costs the size of its class, each
    suppressed row the size of the whole input."""
    sizes = released.groupby(list(QUASI), dropna=False).size() if len(released) else pd.Series(dtype=int)
    return int((sizes**2).sum()) + (original_rows - len(released)) * original_rows


def _year_band(year: int, width: int) -> str:
    if width == 1:
        return str(year)
    if width == 0:
        return "*"
    low = year - year % width
    return f"{low}-{low + width - 1}"


def generalize(table: pd.DataFrame, zip_stars: int, year_width: int, gender: bool) -> pd.DataFrame:
    out = table.copy()
    out["ZIP"] = [str(z)[: len(str(z)) - zip_stars] + "*" * zip_stars for z in table["ZIP"]]
    out["BIRTH_YEAR"] = [_year_band(int(y), year_width) for y in table["BIRTH_YEAR"]]
    out["GENDER"] = ["*" if gender else g for g in table["GENDER"]]
    return out


def best_anonymization(table: pd.DataFrame, k: int) -> tuple[pd.DataFrame, int]:
    """Full-domain generalization over every level of the three hierarchies, suppressing the rows of classes
    smaller than ``k``; the release with the lowest discernibility."""
    best = None
    for zip_stars, width, gender in itertools.product(range(6), (1, 5, 10, 20, 0), (False, True)):
        general = generalize(table, zip_stars, width, gender)
        sizes = general.groupby(list(QUASI), dropna=False)["GENDER"].transform("size")
        released = general[sizes >= k]
        cost = discernibility(released, len(table))
        if best is None or cost < best[1]:
            best = (released, cost)
    return best


def anonymization_cost(table: Any, k: int) -> int:
    return best_anonymization(_table(table), k)[1]
