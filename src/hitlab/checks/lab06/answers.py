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
    # ages of 90 and over from the birth date only, to the release year, even for the dead (over-inclusive:
    # still Safe Harbor, but not the release the prompt specifies)
    SAFE_HARBOR.replace("(died or lab06.REFERENCE_YEAR) - born >= 90", "lab06.REFERENCE_YEAR - born >= 90"),
    # suppresses the birth year of the very old but keeps their death year (HIPAA would allow it once the birth
    # year is aggregated; the prompt's policy removes it)
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

# -- other correct answers ------------------------------------------------------------------------------------

# Q1: whole columns at a time (vectorized pandas: .dt.year, str.extract, isin/where) instead of a loop over the rows
SAFE_HARBOR_ALTERNATIVE = """import pandas as pd

from hitlab.checks import lab06


def safe_harbor(patients: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(patients, pd.DataFrame):
        raise ValueError(f"patients should be a DataFrame, got {type(patients).__name__}")
    # whole columns at a time instead of a loop over the rows
    born = pd.to_datetime(patients["BIRTHDATE"]).dt.year
    died = pd.to_datetime(patients["DEATHDATE"]).dt.year
    old = (died.fillna(lab06.REFERENCE_YEAR) - born >= 90).fillna(False).astype(bool)
    zip3 = patients["ZIP"].str.extract(r"^\\s*(\\d{3})\\d{2}(?:-\\d{4})?\\s*$", expand=False)
    zip3 = zip3.where(~zip3.isin(lab06.restricted_zip3()), "000")
    release = pd.DataFrame(
        {
            "BIRTH_YEAR": born.mask(old).astype("Int64"),
            "DEATH_YEAR": died.mask(old).astype("Int64"),
            "AGE_90_PLUS": old,
            **{c: patients[c].where(patients[c].isin(lab06.CODES[c])) for c in lab06.CODES},
            "STATE": patients["STATE"],
            "ZIP3": zip3,
            "HEALTHCARE_EXPENSES": patients["HEALTHCARE_EXPENSES"],
            "HEALTHCARE_COVERAGE": patients["HEALTHCARE_COVERAGE"],
            "INCOME": patients["INCOME"],
        }
    )
    return release[list(lab06.SAFE_HARBOR_COLUMNS)].reset_index(drop=True)"""

# Q2: column by column with pandas masks (Series.str.contains, to_numeric) instead of cell by cell
FIND_IDENTIFIERS_ALTERNATIVE = """import datetime as dt

import pandas as pd

from hitlab.checks import lab06

TEXT_RULES = [
    ("SSN", r"\\b\\d{3}-\\d{2}-\\d{4}\\b"),
    ("PHONE", r"(?:\\(\\d{3}\\) |\\b\\d{3}-)\\d{3}-\\d{4}\\b"),
    ("EMAIL", r"[\\w.+-]+@[\\w-]+(?:\\.[\\w-]+)+"),
    ("DATE", r"\\b(?:\\d{4}-\\d{2}-\\d{2}|\\d{1,2}/\\d{1,2}/\\d{4})\\b"),
    ("ZIP", r"\\b\\d{5}(?:-\\d{4})?\\b"),
]


def find_identifiers(table: pd.DataFrame) -> set[tuple[int, str, str]]:
    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"expected a DataFrame, got {type(table).__name__}")
    identifier_columns = {c.casefold() for c in lab06.PATIENT_IDENTIFIERS}
    found = set()
    # column by column, with pandas masks, instead of cell by cell
    for position, column in enumerate(table.columns):
        values = table.iloc[:, position].reset_index(drop=True)
        present = values.notna()
        name = str(column).casefold()
        if name in identifier_columns:
            found |= {(row, column, "COLUMN") for row in values.index[present]}
        is_date = values.map(lambda v: isinstance(v, dt.date)) & present
        found |= {(row, column, "DATE") for row in values.index[is_date]}
        text = values[values.map(lambda v: isinstance(v, str))].astype(str)
        for category, pattern in TEXT_RULES:
            hits = text.str.contains(pattern, regex=True)
            found |= {(row, column, category) for row in hits.index[hits]}
        if name == "zip3":
            restricted = text.str.strip().isin(lab06.restricted_zip3())
            found |= {(row, column, "ZIP") for row in restricted.index[restricted]}
    names = {str(c).casefold(): c for c in table.columns}
    if "birth_year" in names:
        born = pd.to_numeric(table[names["birth_year"]], errors="coerce").reset_index(drop=True)
        end = pd.Series(float(lab06.REFERENCE_YEAR), index=born.index)
        if "death_year" in names:
            died = pd.to_numeric(table[names["death_year"]], errors="coerce").reset_index(drop=True)
            end = died.fillna(lab06.REFERENCE_YEAR)
        old = (end - born >= 90) & born.notna()
        found |= {(row, names["birth_year"], "AGE_OVER_89") for row in old.index[old]}
    if "age" in names:
        age = pd.to_numeric(table[names["age"]], errors="coerce").reset_index(drop=True)
        found |= {(row, names["age"], "AGE_OVER_89") for row in age.index[age >= 90]}
    return {(int(row), column, category) for row, column, category in found}"""

# Q3: group by and count the singleton groups, instead of a window count per row
UNIQUENESS_ALTERNATIVE = '''uniqueness_sql = """
with full_groups as (
    select count(*) as n from patients group by ZIP, BIRTHDATE, GENDER
), coarse_groups as (
    select count(*) as n from patients group by substr(ZIP, 1, 3), year(BIRTHDATE), GENDER
)
select (select count(*) filter (where n = 1) from full_groups) / (select count(*) from patients)
           as unique_full,
       (select count(*) filter (where n = 1) from coarse_groups) / (select count(*) from patients)
           as unique_coarse
"""'''

# Q4: the one-shot hmac.digest read with struct.unpack, memoized per patient, applied with assign
SHIFT_ALTERNATIVE = """import hmac
import struct
from functools import cache

import pandas as pd


def shift_dates(events: pd.DataFrame, key: bytes, keep_weekday: bool = False) -> pd.DataFrame:
    if not isinstance(events, pd.DataFrame):
        raise ValueError("events should be a DataFrame")
    if not isinstance(key, bytes) or len(key) < 32:
        raise ValueError("the key should be bytes, at least 32 of them")

    @cache
    def days(patient: str) -> int:
        (n,) = struct.unpack(">Q", hmac.digest(key, patient.encode("utf-8"), "sha256")[:8])
        return -7 * (n % 52 + 1) if keep_weekday else -(n % 365 + 1)

    offset = pd.to_timedelta(events["PATIENT"].map(days), unit="D")
    return events.assign(START=events["START"] + offset, STOP=events["STOP"] + offset)"""

# Q5: the one-shot hmac.digest with bytes.hex; HMAC written out as RFC 2104 defines it, on hashlib
PSEUDONYM_ALTERNATIVES = (
    """import hmac


def pseudonym(value: str, key: bytes) -> str:
    if not isinstance(value, str):
        raise ValueError("the value should be a str")
    if not isinstance(key, bytes) or len(key) < 32:
        raise ValueError("the key should be at least 32 bytes")
    return hmac.digest(key, value.encode("utf-8"), "sha256").hex()""",
    """import hashlib

BLOCK = 64  # SHA-256's block size in bytes


def pseudonym(value: str, key: bytes) -> str:
    if not isinstance(value, str):
        raise ValueError("the value should be a str")
    if not isinstance(key, bytes) or len(key) < 32:
        raise ValueError("the key should be at least 32 bytes")
    if len(key) > BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(BLOCK, b"\\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key) + value.encode("utf-8")).digest()
    return hashlib.sha256(bytes(b ^ 0x5C for b in key) + inner).hexdigest()""",
)

# Q6: raw digests (bytes.fromhex), and the hash state of the first four digits copied for each ending
RECOVER_ALTERNATIVE = """import hashlib


def recover_mrns(hashes: list[str], low: int, high: int) -> dict[str, str]:
    if low < 0 or high > 10**8 or low > high:
        raise ValueError(f"not a range of 8-digit MRNs: {low} to {high}")
    wanted = {bytes.fromhex(h) for h in hashes}  # compare raw digests, not hex text
    found = {}
    # hash the first four digits once and copy that state for each of their 10,000 endings
    for head in range(low // 10_000, -(-high // 10_000)):
        prefix = hashlib.sha256(f"{head:04d}".encode("ascii"))
        for tail in range(10_000):
            n = head * 10_000 + tail
            if not low <= n < high:
                continue
            h = prefix.copy()
            h.update(f"{tail:04d}".encode("ascii"))
            digest = h.digest()
            if digest in wanted:
                found[digest.hex()] = f"{n:08d}"
    return found"""

# Q7: a Counter over the rows, missing values made None so they match, instead of groupby
K_ANON_ALTERNATIVE = """from collections import Counter

import pandas as pd


def k_anonymity(table: pd.DataFrame, quasi: list[str]) -> int:
    if not isinstance(table, pd.DataFrame) or len(table) == 0:
        raise ValueError("expected a non-empty DataFrame")
    if not set(quasi) <= set(table.columns):
        raise ValueError(f"not columns of the table: {sorted(set(quasi) - set(table.columns))}")
    # count the classes in a Counter; every missing value becomes None, so missing values match each other
    classes = Counter(
        tuple(None if pd.isna(v) else v for v in row) for row in table[list(quasi)].itertuples(index=False)
    )
    return min(classes.values())"""

# Q8: local recoding by top-down specialization (each class refined along its own hierarchy while the
# discernibility drops) instead of the full-domain search; it releases far less loss than the reference
ANONYMIZE_ALTERNATIVE = """import pandas as pd

ZIP_LEVELS = (5, 4, 3, 2, 1, 0)  # stars, most general first
YEAR_LEVELS = (0, 20, 10, 5, 1)  # band widths (0: "*"), most general first
GENDER_LEVELS = (True, False)  # hidden, shown


def released(row, zip_level, year_level, gender_level):
    stars, width = ZIP_LEVELS[zip_level], YEAR_LEVELS[year_level]
    zip_ = row["ZIP"][: 5 - stars] + "*" * stars
    year = int(row["BIRTH_YEAR"])
    if width == 0:
        band = "*"
    elif width == 1:
        band = str(year)
    else:
        band = f"{year - year % width}-{year - year % width + width - 1}"
    return zip_, band, "*" if GENDER_LEVELS[gender_level] else row["GENDER"]


def anonymize(table: pd.DataFrame, k: int) -> tuple[pd.DataFrame, int]:
    # top-down specialization with local recoding: start from one class, everything generalized, and split a
    # class along one hierarchy while that lowers the discernibility; classes below k are suppressed
    n = len(table)
    records = table.to_dict("index")

    def cost(size):
        return size * size if size >= k else size * n

    out = {}
    stack = [(list(records), (0, 0, 0))]
    while stack:
        rows, levels = stack.pop()
        best = None
        for attribute in range(3):
            refined = list(levels)
            refined[attribute] += 1
            if refined[attribute] >= (6, 5, 2)[attribute]:
                continue
            groups = {}
            for i in rows:
                groups.setdefault(released(records[i], *refined), []).append(i)
            split = sum(cost(len(g)) for g in groups.values())
            if split <= cost(len(rows)) and (best is None or split < best[0]):
                best = (split, refined, list(groups.values()))
        if best is None:  # no refinement pays: release the class as it is, or suppress it
            if len(rows) >= k:
                out.update({i: released(records[i], *levels) for i in rows})
            continue
        stack.extend((group, tuple(best[1])) for group in best[2])
    kept = table.loc[[i for i in table.index if i in out]]
    kept = kept.assign(
        **{c: [out[i][j] for i in kept.index] for j, c in enumerate(("ZIP", "BIRTH_YEAR", "GENDER"))}
    )
    sizes = kept.groupby(["ZIP", "BIRTH_YEAR", "GENDER"]).size()
    return kept, int((sizes**2).sum()) + (n - len(kept)) * n"""

# Q9: distinct (class, value) rows with drop_duplicates, then value_counts per class, instead of nunique
L_DIVERSITY_ALTERNATIVE = """import pandas as pd


def l_diversity(table: pd.DataFrame, quasi: list[str], sensitive: str) -> int:
    if not isinstance(table, pd.DataFrame) or len(table) == 0:
        raise ValueError("expected a non-empty DataFrame")
    missing = set([*quasi, sensitive]) - set(table.columns)
    if missing:
        raise ValueError(f"not columns of the table: {sorted(missing)}")
    # one row per distinct (class, sensitive value), then the smallest number of rows of a class
    distinct = table[[*quasi, sensitive]].drop_duplicates()
    return int(distinct.value_counts(list(quasi), dropna=False).min())"""

# Q10: one scanner with a named group per category (m.lastgroup), and the town and ZIP from one pattern
FIND_PHI_ALTERNATIVE = """import re

# Synthea names are two letters or more, then digits (Paul224, O'Connor579); ICD codes (E66) and m2 are not
NAME_PART = r"[^\\W\\d_](?:[^\\W\\d_]|['-](?=[^\\W\\d_]))+\\d+"
STREET = "Street|Avenue|Road|Lane|Drive|Court|Way|Place|Boulevard|Circle|Terrace|Parkway|Square|Row|Path|Trail|Hill"
MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*"
# one pattern, one named group per category; re.finditer scans the note once, left to right
SCANNER = re.compile(
    "|".join(
        [
            rf"(?P<DATE>\\b(?:\\d{{4}}-\\d\\d-\\d\\d|\\d\\d?/\\d\\d?/\\d{{4}}|{MONTH} \\d\\d?, \\d{{4}}|\\d\\d? {MONTH} \\d{{4}})\\b)",
            r"(?P<HEALTH_PLAN>\\b[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}\\b)",
            r"(?P<SSN>\\b\\d{3}-\\d\\d-\\d{4}\\b)",
            r"(?P<PHONE>\\(\\d{3}\\) \\d{3}-\\d{4}|\\b\\d{3}-\\d{3}-\\d{4}\\b)",
            r"(?P<EMAIL>\\b[\\w.+-]+@[\\w-]+(?:\\.[\\w-]+)+)",
            r"(?P<MRN>(?<=MRN: )\\d{8}\\b)",
            rf"(?P<ADDRESS>\\b\\d+(?: [A-Z][\\w'-]*)+ (?:{STREET})\\b(?: (?:Unit|Apt|Suite) \\w+)?)",
            r"(?P<AGE_OVER_89>\\b(?:9\\d|1[0-4]\\d)(?=-year-old| and lives))",
            rf"(?P<NAME>(?:\\b(?:Mr|Mrs|Ms|Dr)\\. )?\\b{NAME_PART}(?: {NAME_PART})*\\b)",
        ]
    )
)
# the town and ZIP of an address: ", Boston, MA 02118"
TOWN_ZIP = re.compile(r", ([^\\W\\d_][^,\\n]*?), MA (\\d{5})\\b")


def find_phi(note: str | bytes) -> list[tuple[int, int, str]]:
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(f"the note is not valid UTF-8: {err}") from None
    if not isinstance(note, str):
        raise ValueError(f"a note is text, got {type(note).__name__}")
    spans = [(m.start(), m.end(), m.lastgroup) for m in SCANNER.finditer(note)]
    for m in TOWN_ZIP.finditer(note):
        spans += [(m.start(1), m.end(1), "ADDRESS"), (m.start(2), m.end(2), "ADDRESS")]
    return spans"""
