"""Lab 06's answer sources: each question's worked solution (the notebook's solution cell), other correct
answers, and known-wrong answers that must lose exactly that question's points. Left out of an exam release."""

from __future__ import annotations

SAFE_HARBOR = """### BEGIN SOLUTION
import re

import pandas as pd

from hitlab.checks import lab06

ZIP5 = re.compile(r"(\\d{3})\\d{2}(-\\d{4})?")


def year_of(value):
    return None if value is None or pd.isna(value) else pd.Timestamp(value).year


def safe_harbor(patients: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(patients, pd.DataFrame):
        raise ValueError(f"patients should be a DataFrame, got {type(patients).__name__}")
    restricted = lab06.restricted_zip3()
    rows = []
    for r in patients.to_dict("records"):
        born, died = year_of(r["BIRTHDATE"]), year_of(r["DEATHDATE"])
        # age from years alone, to death if dead, else to the release year: every date field counts
        old = born is not None and (died or lab06.REFERENCE_YEAR) - born >= 90
        zip_ = str(r["ZIP"]).strip() if isinstance(r["ZIP"], str) else ""
        m = ZIP5.fullmatch(zip_)
        zip3 = None if not m else ("000" if m[1] in restricted else m[1])
        row = {"BIRTH_YEAR": None if old else born, "DEATH_YEAR": None if old else died, "AGE_90_PLUS": old}
        for column in ("GENDER", "RACE", "ETHNICITY", "MARITAL"):  # coded columns keep codes only
            row[column] = r[column] if r[column] in lab06.CODES[column] else None
        row["STATE"] = r["STATE"]
        row["ZIP3"] = zip3
        for column in ("HEALTHCARE_EXPENSES", "HEALTHCARE_COVERAGE", "INCOME"):
            row[column] = r[column]
        rows.append(row)
    return pd.DataFrame(rows, columns=list(lab06.SAFE_HARBOR_COLUMNS))  # an allow-list: nothing else passes
### END SOLUTION"""

SAFE_HARBOR_WRONG = (
    # forgets the restricted ZIP3s
    SAFE_HARBOR.replace('("000" if m[1] in restricted else m[1])', "m[1]"),
    # ages of 90 and over from the birth date only, to the release year, even for the dead
    SAFE_HARBOR.replace("(died or lab06.REFERENCE_YEAR) - born >= 90", "lab06.REFERENCE_YEAR - born >= 90"),
    # suppresses the birth year of the very old but keeps their death year
    SAFE_HARBOR.replace('"DEATH_YEAR": None if old else died', '"DEATH_YEAR": died'),
    # keeps whatever the coded columns hold, free text included
    SAFE_HARBOR.replace("r[column] if r[column] in lab06.CODES[column] else None", "r[column]"),
)

FIND_IDENTIFIERS = """### BEGIN SOLUTION
import datetime as dt
import re

import pandas as pd

from hitlab.checks import lab06

PATTERNS = {
    "SSN": re.compile(r"\\b\\d{3}-\\d{2}-\\d{4}\\b"),
    "PHONE": re.compile(r"\\(\\d{3}\\) \\d{3}-\\d{4}|\\b\\d{3}-\\d{3}-\\d{4}\\b"),
    "EMAIL": re.compile(r"[\\w.+-]+@[\\w-]+(\\.[\\w-]+)+"),
    "DATE": re.compile(r"\\b\\d{4}-\\d{2}-\\d{2}\\b|\\b\\d{1,2}/\\d{1,2}/\\d{4}\\b"),
    "ZIP": re.compile(r"\\b\\d{5}(-\\d{4})?\\b"),
}
IDENTIFIER_COLUMNS = {c.lower() for c in lab06.PATIENT_IDENTIFIERS}


def blank(value):
    return value is None or (not isinstance(value, str) and pd.isna(value))


def find_identifiers(table: pd.DataFrame) -> set[tuple[int, str, str]]:
    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"expected a DataFrame, got {type(table).__name__}")
    by_name = {str(c).lower(): c for c in table.columns}
    found = set()
    for row, record in enumerate(table.to_dict("records")):
        for column, value in record.items():
            if blank(value):
                continue
            if str(column).lower() in IDENTIFIER_COLUMNS:
                found.add((row, column, "COLUMN"))
            if isinstance(value, (dt.date, pd.Timestamp)):
                found.add((row, column, "DATE"))
            if isinstance(value, str):
                found |= {(row, column, cat) for cat, rx in PATTERNS.items() if rx.search(value)}
                if str(column).lower() == "zip3" and value.strip() in lab06.restricted_zip3():
                    found.add((row, column, "ZIP"))
        if "birth_year" in by_name and not blank(record[by_name["birth_year"]]):
            death = record.get(by_name.get("death_year"))
            end = lab06.REFERENCE_YEAR if blank(death) else int(death)
            if end - int(record[by_name["birth_year"]]) >= 90:
                found.add((row, by_name["birth_year"], "AGE_OVER_89"))
        if "age" in by_name and isinstance(record[by_name["age"]], (int, float)) and record[by_name["age"]] >= 90:
            found.add((row, by_name["age"], "AGE_OVER_89"))
    return found
### END SOLUTION"""

FIND_IDENTIFIERS_WRONG = (
    # looks at column names only: misses identifiers inside kept text columns
    FIND_IDENTIFIERS.replace(
        "found |= {(row, column, cat) for cat, rx in PATTERNS.items() if rx.search(value)}", "pass"
    ),
)

UNIQUENESS = '''### BEGIN SOLUTION
uniqueness_sql = """
with full_key as (
    select count(*) over (partition by ZIP, BIRTHDATE, GENDER) as n from patients
), coarse_key as (
    select count(*) over (partition by substr(ZIP, 1, 3), year(BIRTHDATE), GENDER) as n from patients
)
select (select avg(case when n = 1 then 1.0 else 0.0 end) from full_key) as unique_full,
       (select avg(case when n = 1 then 1.0 else 0.0 end) from coarse_key) as unique_coarse
"""
### END SOLUTION'''

UNIQUENESS_WRONG = (
    # the number of distinct keys over the population: not the share of people alone in their group
    '''uniqueness_sql = """
select count(distinct (ZIP, BIRTHDATE, GENDER)) / count(*) as unique_full,
       count(distinct (substr(ZIP, 1, 3), year(BIRTHDATE), GENDER)) / count(*) as unique_coarse
from patients
"""''',
)

SHIFT = """### BEGIN SOLUTION
import hashlib
import hmac

import pandas as pd


def shift_for(patient: str, key: bytes, keep_weekday: bool) -> int:
    n = int.from_bytes(hmac.new(key, patient.encode("utf-8"), hashlib.sha256).digest()[:8], "big")
    return -7 * (1 + n % 52) if keep_weekday else -(1 + n % 365)


def shift_dates(events: pd.DataFrame, key: bytes, keep_weekday: bool = False) -> pd.DataFrame:
    if not isinstance(events, pd.DataFrame):
        raise ValueError(f"events should be a DataFrame, got {type(events).__name__}")
    if not isinstance(key, bytes) or len(key) < 32:
        raise ValueError("the key should be at least 32 bytes")
    days = {p: shift_for(p, key, keep_weekday) for p in events["PATIENT"].unique()}
    offset = pd.to_timedelta(events["PATIENT"].map(days), unit="D")
    out = events.copy()
    out["START"] = events["START"] + offset
    out["STOP"] = events["STOP"] + offset
    return out
### END SOLUTION"""

SHIFT_WRONG = (
    # ignores keep_weekday: any number of days breaks the day of the week
    SHIFT.replace("-7 * (1 + n % 52) if keep_weekday else -(1 + n % 365)", "-(1 + n % 365)"),
    # a fresh random shift per row: intervals within a patient's record break
    SHIFT.replace(
        'offset = pd.to_timedelta(events["PATIENT"].map(days), unit="D")',
        'import numpy as np\n    offset = pd.to_timedelta(np.random.default_rng().integers(-365, 0, len(events)), unit="D")',
    ),
)

PSEUDONYM = """### BEGIN SOLUTION
import hashlib
import hmac


def pseudonym(value: str, key: bytes) -> str:
    if not isinstance(value, str):
        raise ValueError(f"the value should be a str, got {type(value).__name__}")
    if not isinstance(key, bytes) or len(key) < 32:
        raise ValueError("the key should be bytes, at least 32 of them (the SHA-256 output length)")
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()
### END SOLUTION"""

PSEUDONYM_WRONG = (
    # an unkeyed hash: anyone can recompute it
    """import hashlib


def pseudonym(value: str, key: bytes) -> str:
    if not isinstance(value, str) or not isinstance(key, bytes) or len(key) < 32:
        raise ValueError("bad input")
    return hashlib.sha256(value.encode("utf-8")).hexdigest()""",
    # the key glued to the value and hashed: not HMAC
    """import hashlib


def pseudonym(value: str, key: bytes) -> str:
    if not isinstance(value, str) or not isinstance(key, bytes) or len(key) < 32:
        raise ValueError("bad input")
    return hashlib.sha256(key + value.encode("utf-8")).hexdigest()""",
)

RECOVER = """### BEGIN SOLUTION
import hashlib


def recover_mrns(hashes: list[str], low: int, high: int) -> dict[str, str]:
    if not 0 <= low <= high <= 10**8:
        raise ValueError(f"not a range of 8-digit MRNs: {low} to {high}")
    wanted = set(hashes)
    found = {}
    for n in range(low, high):
        mrn = f"{n:08d}"  # MRNs are 8 digits, leading zeros included
        h = hashlib.sha256(mrn.encode()).hexdigest()
        if h in wanted:
            found[h] = mrn
    return found
### END SOLUTION"""

RECOVER_WRONG = (RECOVER.replace('mrn = f"{n:08d}"', "mrn = str(n)"),)

K_ANON = """### BEGIN SOLUTION
import pandas as pd


def k_anonymity(table: pd.DataFrame, quasi: list[str]) -> int:
    if not isinstance(table, pd.DataFrame) or table.empty:
        raise ValueError("expected a non-empty DataFrame")
    missing = [c for c in quasi if c not in table.columns]
    if missing:
        raise ValueError(f"no column {missing[0]}")
    return int(table.groupby(list(quasi), dropna=False).size().min())
### END SOLUTION"""

K_ANON_WRONG = (K_ANON.replace(".size().min())", ".size().mean())"),)

ANONYMIZE = """### BEGIN SOLUTION
import itertools

import pandas as pd


def band(year: int, width: int) -> str:
    if width == 0:
        return "*"
    if width == 1:
        return str(year)
    low = year // width * width
    return f"{low}-{low + width - 1}"


def anonymize(table: pd.DataFrame, k: int) -> tuple[pd.DataFrame, int]:
    n = len(table)
    best = None
    # full-domain generalization: one level per column for the whole table, then suppress small classes
    for stars, width, hide_gender in itertools.product(range(6), (1, 5, 10, 20, 0), (False, True)):
        out = table.copy()
        out["ZIP"] = table["ZIP"].map(lambda z: z[: 5 - stars] + "*" * stars)
        out["BIRTH_YEAR"] = table["BIRTH_YEAR"].map(lambda y: band(int(y), width))
        out["GENDER"] = "*" if hide_gender else table["GENDER"]
        size = out.groupby(["ZIP", "BIRTH_YEAR", "GENDER"])["GENDER"].transform("size")
        kept = out[size >= k]
        kept_sizes = kept.groupby(["ZIP", "BIRTH_YEAR", "GENDER"]).size()
        dm = int((kept_sizes**2).sum()) + (n - len(kept)) * n  # discernibility metric
        if best is None or dm < best[1]:
            best = (kept, dm)
    return best
### END SOLUTION"""

ANONYMIZE_WRONG = (
    # generalization only, no suppression: one outlier forces the whole column up the hierarchy
    ANONYMIZE.replace("kept = out[size >= k]", "kept = out if size.min() >= k else out.iloc[0:0]"),
)

L_DIVERSITY = """### BEGIN SOLUTION
import pandas as pd


def l_diversity(table: pd.DataFrame, quasi: list[str], sensitive: str) -> int:
    if not isinstance(table, pd.DataFrame) or table.empty:
        raise ValueError("expected a non-empty DataFrame")
    for column in [*quasi, sensitive]:
        if column not in table.columns:
            raise ValueError(f"no column {column}")
    return int(table.groupby(list(quasi), dropna=False)[sensitive].nunique(dropna=False).min())
### END SOLUTION"""

L_DIVERSITY_WRONG = (
    # distinct values in the whole table, not in the worst equivalence class
    L_DIVERSITY.replace(
        "return int(table.groupby(list(quasi), dropna=False)[sensitive].nunique(dropna=False).min())",
        "return int(table[sensitive].nunique(dropna=False))",
    ),
)

FIND_PHI = """### BEGIN SOLUTION
import re

MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
SHORT = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
WORD = r"[^\\W\\d_]{2,}(?:['.-][^\\W\\d_]+)*"  # letters, accented ones too
PHI = [
    ("DATE", rf"\\b\\d{{4}}-\\d{{2}}-\\d{{2}}\\b|\\b\\d{{1,2}}/\\d{{1,2}}/\\d{{4}}\\b"
             rf"|\\b(?:{MONTHS}) \\d{{1,2}}, \\d{{4}}\\b|\\b\\d{{1,2}} (?:{SHORT}) \\d{{4}}\\b"),
    ("SSN", r"\\b\\d{3}-\\d{2}-\\d{4}\\b"),
    ("PHONE", r"\\(\\d{3}\\) \\d{3}-\\d{4}|\\b\\d{3}-\\d{3}-\\d{4}\\b"),
    ("EMAIL", r"[\\w.+-]+@[\\w-]+(?:\\.[\\w-]+)+"),
    ("MRN", r"(?<=MRN: )\\d{8}\\b"),
    ("HEALTH_PLAN", r"(?<=member ID )[0-9a-f-]{36}"),
    # synthetic names carry digits (James80 Garcia652); a title may come first
    ("NAME", rf"(?:(?:Mr|Mrs|Ms|Dr)\\. )?\\b{WORD}\\d+\\b(?: {WORD}\\d+\\b)*"),
    ("ADDRESS", rf"\\b\\d+ (?:{WORD} )+(?:Street|Avenue|Road|Lane|Drive|Court|Way|Place|Boulevard|Circle|"
                rf"Terrace|Parkway|Square|Row|Path|Trail|Hill)\\b(?: (?:Unit|Apt|Suite) \\w+)?"),
    ("ADDRESS", rf"(?<=, ){WORD}(?: {WORD})*(?=, MA\\b)"),
    ("ADDRESS", r"(?<=, MA )\\d{5}\\b"),
    ("AGE_OVER_89", r"\\b(?:9\\d|1[0-4]\\d)(?=-year-old| and lives)"),
]
PATTERNS = [(cat, re.compile(rx)) for cat, rx in PHI]


def find_phi(note: str | bytes) -> list[tuple[int, int, str]]:
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(f"the note is not valid UTF-8 (byte offset {err.start})") from None
    if not isinstance(note, str):
        raise ValueError(f"a note is text, got {type(note).__name__}")
    return [(m.start(), m.end(), cat) for cat, rx in PATTERNS for m in rx.finditer(note)]
### END SOLUTION"""

FIND_PHI_WRONG = (
    # misses one date format: "5 Mar 2024"
    FIND_PHI.replace(r"|\b\d{{1,2}} (?:{SHORT}) \d{{4}}\b", ""),
)
