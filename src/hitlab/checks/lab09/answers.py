"""Lab 09's answer sources: each question's worked solution (the notebook's solution cell), other correct
answers, and known-wrong answers that must lose exactly that question's points. Left out of an exam release."""

from __future__ import annotations

INDEX_STAYS = """### BEGIN SOLUTION
import pandas as pd

from hitlab.checks import lab09


def age_at(born: pd.Series, when: pd.Series) -> pd.Series:
    # whole years: one less if this year's birthday has not come yet
    before = (when.dt.month * 100 + when.dt.day) < (born.dt.month * 100 + born.dt.day)
    return when.dt.year - born.dt.year - before.astype(int)


def index_stays(tables: dict, as_of) -> pd.DataFrame:
    lab09.check_tables(tables)
    enc, pat = tables["encounters"], tables["patients"]
    inpatient = enc.loc[enc["ENCOUNTERCLASS"] == "inpatient", ["Id", "PATIENT", "START", "STOP", "ORGANIZATION"]]
    people = pat[["Id", "BIRTHDATE", "DEATHDATE"]].rename(columns={"Id": "PATIENT"})
    stays = inpatient.merge(people, on="PATIENT")
    adult = age_at(stays["BIRTHDATE"], stays["START"]) >= 18
    alive = stays["DEATHDATE"].isna() | (stays["DEATHDATE"] > stays["STOP"].dt.normalize())
    followed = stays["STOP"].dt.normalize() + pd.Timedelta(days=30) <= pd.Timestamp(as_of).normalize()
    # transferred out: another hospital admitted the patient within 24 hours; the episode goes on there
    pairs = inpatient.merge(inpatient, on="PATIENT", suffixes=("", "_next"))
    gap = pairs["START_next"] - pairs["STOP"]
    transfer = (pairs["Id_next"] != pairs["Id"]) & (pairs["ORGANIZATION_next"] != pairs["ORGANIZATION"])
    transfer &= (gap >= pd.Timedelta(0)) & (gap <= pd.Timedelta(hours=24))
    keep = adult & alive & followed & ~stays["Id"].isin(pairs.loc[transfer, "Id"])
    return stays.loc[keep, ["Id", "PATIENT", "START", "STOP"]].sort_values("Id").reset_index(drop=True)
### END SOLUTION"""

INDEX_STAYS_ALTERNATIVE = """import pandas as pd


def index_stays(tables, as_of):
    if not isinstance(tables, dict):
        raise ValueError("tables should be a dict of DataFrames")
    enc = tables["encounters"]
    pat = tables["patients"].set_index("Id")
    inp = enc[enc["ENCOUNTERCLASS"] == "inpatient"]
    cutoff = pd.Timestamp(as_of).normalize() - pd.Timedelta(days=30)
    admissions = {p: list(zip(g["START"], g["ORGANIZATION"])) for p, g in inp.groupby("PATIENT")}
    keep = []
    for row in inp.itertuples(index=False):
        born, died = pat.at[row.PATIENT, "BIRTHDATE"], pat.at[row.PATIENT, "DEATHDATE"]
        day = row.START.normalize()
        age = day.year - born.year - ((day.month, day.day) < (born.month, born.day))
        if age < 18 or row.STOP.normalize() > cutoff:
            continue
        if pd.notna(died) and died <= row.STOP.normalize():
            continue
        window = pd.Timedelta(hours=24)
        if any(row.STOP <= s <= row.STOP + window and org != row.ORGANIZATION for s, org in admissions[row.PATIENT]):
            continue
        keep.append({"Id": row.Id, "PATIENT": row.PATIENT, "START": row.START, "STOP": row.STOP})
    return pd.DataFrame(keep, columns=["Id", "PATIENT", "START", "STOP"])"""

INDEX_STAYS_WRONG = (  # keeps stays that end in a transfer: the first half of an episode counted as a discharge
    INDEX_STAYS.replace('& ~stays["Id"].isin(pairs.loc[transfer, "Id"])', ""),
)

INDEX_STAYS_WRONG_MORE = (  # tested in tests/test_lab09.py, not by course verify
    # follow-up counted from the as-of date without the 30 days: the last month's stays have no outcome yet
    INDEX_STAYS.replace(" + pd.Timedelta(days=30) <= pd.Timestamp(as_of)", " <= pd.Timestamp(as_of)"),
    # any stay within 24 hours taken for a transfer, even at the same hospital (that is a readmission)
    INDEX_STAYS.replace(' & (pairs["ORGANIZATION_next"] != pairs["ORGANIZATION"])', ""),
)

READMITTED = """### BEGIN SOLUTION
import pandas as pd

from hitlab.checks import lab09


def readmitted(tables: dict, stays: pd.DataFrame) -> pd.Series:
    enc = lab09.check_tables(tables)["encounters"]
    unplanned = enc.loc[
        (enc["ENCOUNTERCLASS"] == "inpatient") & (enc["CODE"] != lab09.ELECTIVE_ADMISSION), ["Id", "PATIENT", "START"]
    ]
    pairs = stays[["Id", "PATIENT", "STOP"]].merge(unplanned, on="PATIENT", suffixes=("", "_next"))
    # calendar days from the discharge date to the admission date, as CMS counts them
    days = (pairs["START"].dt.normalize() - pairs["STOP"].dt.normalize()).dt.days
    hit = (pairs["Id_next"] != pairs["Id"]) & (pairs["START"] > pairs["STOP"]) & (days <= 30)
    flag = stays["Id"].isin(pairs.loc[hit, "Id"]).astype(int)
    return pd.Series(flag.to_numpy(), index=pd.Index(stays["Id"], name="Id"), name="readmitted")
### END SOLUTION"""

READMITTED_ALTERNATIVE = """import pandas as pd


def readmitted(tables, stays):
    enc = tables["encounters"]
    inp = enc[(enc["ENCOUNTERCLASS"] == "inpatient") & (enc["CODE"] != "8715000")]
    by_patient = {p: g["START"].tolist() for p, g in inp.groupby("PATIENT")}
    out = {}
    for s in stays.itertuples(index=False):
        last_day = s.STOP.normalize() + pd.Timedelta(days=30)
        later = [t for t in by_patient.get(s.PATIENT, []) if t > s.STOP and t.normalize() <= last_day]
        out[s.Id] = int(bool(later))
    return pd.Series(out, name="readmitted")"""

READMITTED_WRONG = (
    # counts planned (elective) admissions as readmissions
    READMITTED.replace(' & (enc["CODE"] != lab09.ELECTIVE_ADMISSION)', ""),
)

READMITTED_WRONG_MORE = (  # tested in tests/test_lab09.py, not by course verify
    # 30 times 24 hours from the discharge time, not 30 calendar days from the discharge date
    READMITTED.replace("(days <= 30)", '(pairs["START"] - pairs["STOP"] <= pd.Timedelta(days=30))'),
)

FEATURES = """### BEGIN SOLUTION
import pandas as pd

from hitlab.checks import lab09


def count_by_stay(pairs: pd.DataFrame, keep: pd.Series, index: pd.Index) -> pd.Series:
    return pairs[keep].groupby("Id").size().reindex(index, fill_value=0)


def first_legs(enc: pd.DataFrame, ids: pd.Series) -> pd.Series:
    # follow transfers back (another hospital, within 24 hours) to the episode's first stay
    inp = enc.loc[enc["ENCOUNTERCLASS"] == "inpatient", ["Id", "PATIENT", "START", "STOP", "ORGANIZATION"]]
    pairs = inp.merge(inp, on="PATIENT", suffixes=("_prev", ""))
    gap = pairs["START"] - pairs["STOP_prev"]
    link = (pairs["Id_prev"] != pairs["Id"]) & (pairs["ORGANIZATION_prev"] != pairs["ORGANIZATION"])
    link &= (gap >= pd.Timedelta(0)) & (gap <= pd.Timedelta(hours=24))
    previous = pairs[link].sort_values("STOP_prev").groupby("Id")["Id_prev"].last()  # the one that ended last
    first = pd.Series(ids.to_numpy(), index=ids.to_numpy())
    while first.isin(previous.index).any():
        first = first.map(previous).fillna(first)
    return first


def features(tables: dict, stays: pd.DataFrame) -> pd.DataFrame:
    enc, pat, cond, med = (lab09.check_tables(tables)[k] for k in ("encounters", "patients", "conditions", "medications"))
    s = stays[["Id", "PATIENT", "START", "STOP"]].copy()
    index = pd.Index(s["Id"], name="Id")
    first = s["Id"].map(first_legs(enc, s["Id"]))
    s["E"] = first.map(enc.set_index("Id")["START"]).fillna(s["START"])  # the episode's admission
    people = s.merge(pat[["Id", "BIRTHDATE", "GENDER"]].rename(columns={"Id": "PATIENT"}), on="PATIENT", how="left")
    born, when = people["BIRTHDATE"], people["START"]
    out = pd.DataFrame(index=index)
    out["age"] = (when.dt.year - born.dt.year - ((when.dt.month * 100 + when.dt.day) < (born.dt.month * 100 + born.dt.day))).to_numpy()
    out["female"] = (people["GENDER"] == "F").astype(int).to_numpy()
    out["los_days"] = (s["STOP"].dt.normalize() - s["E"].dt.normalize()).dt.days.to_numpy()
    out["emergent"] = (first.map(enc.set_index("Id")["CODE"]) == lab09.EMERGENCY_ADMISSION).astype(int).to_numpy()

    # Charlson: each category once, from conditions known on the episode's admission date
    weights = pd.DataFrame([(code, cat, w) for code, (cat, w) in lab09.CHARLSON.items()], columns=["CODE", "category", "weight"])
    c = s.merge(cond[["PATIENT", "START", "CODE"]], on="PATIENT", suffixes=("", "_c")).merge(weights, on="CODE")
    c = c[c["START_c"] <= c["E"].dt.normalize()].drop_duplicates(["Id", "category"])
    out["charlson"] = c.groupby("Id")["weight"].sum().reindex(index, fill_value=0)

    # ED visits in the 6 months before the episode, not the one that led to it
    ed = enc.loc[enc["ENCOUNTERCLASS"] == "emergency", ["PATIENT", "START", "STOP"]]
    e = s.merge(ed, on="PATIENT", suffixes=("", "_ed"))
    before = (e["START_ed"] >= e["E"] - pd.DateOffset(months=6)) & (e["START_ed"] < e["E"])
    lead_in = (e["STOP_ed"] >= e["E"] - pd.Timedelta(hours=1)) & (e["STOP_ed"] <= e["E"])
    out["ed_visits_6m"] = count_by_stay(e, before & ~lead_in, index)

    # stays before the episode (its own legs start at E or later)
    inpatient = enc.loc[enc["ENCOUNTERCLASS"] == "inpatient", ["Id", "PATIENT", "START"]]
    a = s.merge(inpatient, on="PATIENT", suffixes=("", "_a"))
    prior = (a["START_a"] >= a["E"] - pd.DateOffset(months=12)) & (a["START_a"] < a["E"])
    out["admissions_12m"] = count_by_stay(a, prior, index)

    m = s.merge(med[["PATIENT", "START", "STOP"]], on="PATIENT", suffixes=("", "_m"))
    active = (m["START_m"] <= m["E"]) & (m["STOP_m"].isna() | (m["STOP_m"] > m["E"]))
    out["active_medications"] = count_by_stay(m, active, index)
    return out[list(lab09.FEATURES)].astype("int64")
### END SOLUTION"""

FEATURES_ALTERNATIVE = """import duckdb
import pandas as pd

from hitlab.checks import lab09


def features(tables, stays):
    con = duckdb.connect()
    for name, frame in tables.items():
        con.register(name, frame)
    con.register("stays", stays[["Id", "PATIENT", "START", "STOP"]])
    weights = ", ".join(f"('{c}', '{cat}', {w})" for c, (cat, w) in lab09.CHARLSON.items())
    frame = con.execute(f'''
        with recursive inp as (select * from encounters where ENCOUNTERCLASS = 'inpatient'),
        transfer as (select arg_max(a.Id, a.STOP) as a_id, b.Id as b_id from inp a join inp b
                     on a.PATIENT = b.PATIENT and a.Id <> b.Id and a.ORGANIZATION <> b.ORGANIZATION
                     and b.START between a.STOP and a.STOP + interval 24 hour group by b.Id),
        chain(Id, leg) as (select Id, Id from stays
                           union all select chain.Id, t.a_id from chain join transfer t on t.b_id = chain.leg),
        ep as (select c.Id, e.START as E, e.CODE as first_code from chain c join inp e on e.Id = c.leg
               where c.leg not in (select b_id from transfer)),
        x as (select s.*, coalesce(ep.E, s.START) as E, ep.first_code from stays s left join ep using (Id))
        select s.Id,
          year(s.START) - year(p.BIRTHDATE) - (strftime(s.START, '%m%d') < strftime(p.BIRTHDATE, '%m%d'))::int as age,
          (p.GENDER = 'F')::int as female,
          date_diff('day', s.E::date, s.STOP::date) as los_days,
          coalesce(s.first_code = '183452005', false)::int as emergent,
          coalesce((select sum(weight) from (select distinct w.cat, w.weight from conditions c
                    join (values {weights}) w(code, cat, weight) on w.code = c.CODE
                    where c.PATIENT = s.PATIENT and c.START::date <= s.E::date)), 0) as charlson,
          (select count(*) from encounters v where v.PATIENT = s.PATIENT and v.ENCOUNTERCLASS = 'emergency'
             and v.START >= s.E - interval 6 month and v.START < s.E
             and not (v.STOP between s.E - interval 1 hour and s.E)) as ed_visits_6m,
          (select count(*) from inp a where a.PATIENT = s.PATIENT
             and a.START >= s.E - interval 12 month and a.START < s.E) as admissions_12m,
          (select count(*) from medications m where m.PATIENT = s.PATIENT and m.START <= s.E
             and (m.STOP is null or m.STOP > s.E)) as active_medications
        from x s join patients p on p.Id = s.PATIENT
    ''').df()
    return frame.set_index("Id")[list(lab09.FEATURES)].astype("int64")"""

FEATURES_WRONG = (  # leaky: ED visits counted in a window around the admission, so visits after discharge count too
    FEATURES.replace(' & (e["START_ed"] < e["E"])', ' & (e["START_ed"] < e["E"] + pd.DateOffset(months=6))'),
)

FEATURES_WRONG_MORE = (  # tested in tests/test_lab09.py, not by course verify
    # leaky: Charlson from every condition on the record, including those diagnosed after discharge
    FEATURES.replace('c = c[c["START_c"] <= c["E"].dt.normalize()]', "c = c"),
    # the ED visit that led to the admission counted as a prior visit
    FEATURES.replace("before & ~lead_in", "before"),
    # a stay reached by transfer taken alone: windows, LOS and acuity from its own START, so the first
    # hospital's leg counts as a prior admission and the ED visit that led to it as a prior visit
    FEATURES.replace(
        's["E"] = first.map(enc.set_index("Id")["START"]).fillna(s["START"])', 's["E"] = s["START"]'
    ).replace('(first.map(enc.set_index("Id")["CODE"])', '(s["Id"].map(enc.set_index("Id")["CODE"])'),
)

LACE = """### BEGIN SOLUTION
import numpy as np
import pandas as pd


def lace(features: pd.DataFrame) -> pd.DataFrame:
    los = features["los_days"]
    out = pd.DataFrame(index=features.index)
    out["L"] = np.select([los < 1, los <= 3, los <= 6, los <= 13], [0, los, 4, 5], 7)
    out["A"] = np.where(features["emergent"] == 1, 3, 0)
    out["C"] = np.where(features["charlson"] >= 4, 5, features["charlson"])
    out["E"] = features["ed_visits_6m"].clip(upper=4)
    out["LACE"] = out[["L", "A", "C", "E"]].sum(axis=1)
    return out.astype("int64")
### END SOLUTION"""

LACE_ALTERNATIVE = """import pandas as pd


def length_points(days):
    if days < 1:
        return 0
    if days <= 3:
        return int(days)
    if days <= 6:
        return 4
    return 5 if days <= 13 else 7


def lace(features):
    rows = {}
    for stay, f in features.iterrows():
        c = int(f["charlson"])
        row = {"L": length_points(f["los_days"]), "A": 3 * int(f["emergent"]), "C": 5 if c >= 4 else c,
               "E": min(int(f["ed_visits_6m"]), 4)}
        row["LACE"] = sum(row.values())
        rows[stay] = row
    return pd.DataFrame.from_dict(rows, orient="index")"""

LACE_WRONG = (  # 14 days or more scored 6 (the modified LACE of some adaptations), not the original 7
    LACE.replace("[0, los, 4, 5], 7)", "[0, los, 4, 5], 6)"),
)

LACE_WRONG_MORE = (  # tested in tests/test_lab09.py, not by course verify
    # a Charlson index of 4 or more kept as is instead of scoring 5
    LACE.replace('np.where(features["charlson"] >= 4, 5, features["charlson"])', 'features["charlson"]'),
)

SPLIT = """### BEGIN SOLUTION
import pandas as pd


def temporal_split(frame: pd.DataFrame, split) -> tuple[pd.DataFrame, pd.DataFrame]:
    split = pd.Timestamp(split)
    # train only on stays whose 30-day outcome was known before the split date
    train = frame[frame["STOP"] + pd.Timedelta(days=30) <= split]
    test = frame[frame["START"] >= split]
    return train, test
### END SOLUTION"""

SPLIT_ALTERNATIVE = """import pandas as pd


def temporal_split(frame, split):
    label_known = frame["STOP"] <= pd.Timestamp(split) - pd.Timedelta(days=30)
    admitted_after = frame["START"] >= pd.Timestamp(split)
    return frame.loc[label_known].copy(), frame.loc[admitted_after].copy()"""

SPLIT_WRONG = (  # a random split: the test set is no longer the future
    """from sklearn.model_selection import train_test_split


def temporal_split(frame, split):
    return train_test_split(frame, test_size=0.2, random_state=0)""",
)

SPLIT_WRONG_MORE = (  # tested in tests/test_lab09.py, not by course verify
    # no gap: the last training stays' outcomes fall after the split date
    SPLIT.replace('frame["STOP"] + pd.Timedelta(days=30) <= split', 'frame["STOP"] < split'),
)

FIT = """### BEGIN SOLUTION
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from hitlab.checks import lab09


def fit_model(train):
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    return model.fit(train[list(lab09.FEATURES)], train["readmitted"])
### END SOLUTION"""

FIT_ALTERNATIVE = """from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from hitlab.checks import lab09


def fit_model(train):
    model = Pipeline([("scale", StandardScaler()), ("logistic", LogisticRegression(C=10.0, max_iter=2000))])
    model.fit(train.loc[:, list(lab09.FEATURES)], train["readmitted"].astype(int))
    return model"""

FIT_WRONG = (  # class weights "balanced": ranks the same, but every probability is inflated (calibration lost)
    FIT.replace(
        "LogisticRegression(max_iter=1000)", 'LogisticRegression(max_iter=1000, class_weight="balanced")'
    ),
)

FIT_WRONG_MORE = (  # tested in tests/test_lab09.py, not by course verify
    # a decision tree is not the logistic regression asked for
    """from sklearn.tree import DecisionTreeClassifier

from hitlab.checks import lab09


def fit_model(train):
    return DecisionTreeClassifier(max_depth=3).fit(train[list(lab09.FEATURES)], train["readmitted"])""",
)

AUROC = """### BEGIN SOLUTION
import numpy as np
from scipy import stats


def auroc_ci(y_true, y_score, alpha=0.05):
    y, s = np.asarray(y_true), np.asarray(y_score, dtype=float)
    if len(s) != len(y) or not np.isin(y, (0, 1)).all():
        raise ValueError("one 0/1 label per score")
    pos, neg = s[y == 1], s[y == 0]
    if len(pos) == 0 or len(neg) == 0:
        raise ValueError("AUROC needs positives and negatives")
    # psi = 1 when the positive scores higher, 1/2 on a tie (the Mann-Whitney kernel)
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)  # DeLong's structural components
    auc = psi.mean()
    if len(pos) < 2 or len(neg) < 2:
        return float(auc), np.nan, np.nan  # a variance needs two of each class: no interval
    var = np.var(v10, ddof=1) / len(pos) + np.var(v01, ddof=1) / len(neg)
    z = stats.norm.ppf(1 - alpha / 2)
    return float(auc), float(max(0.0, auc - z * np.sqrt(var))), float(min(1.0, auc + z * np.sqrt(var)))
### END SOLUTION"""

AUROC_ALTERNATIVE = """import math

import numpy as np
from scipy.stats import norm, rankdata


def auroc_ci(y_true, y_score, alpha=0.05):
    y = np.asarray(y_true)
    s = np.asarray(y_score, dtype=float)
    if y.shape != s.shape or set(np.unique(y)) - {0, 1}:
        raise ValueError("bad labels")
    x, z = s[y == 1], s[y == 0]
    m, n = len(x), len(z)
    if not m or not n:
        raise ValueError("one class only")
    r = rankdata(np.r_[x, z])
    v10 = (r[:m] - rankdata(x)) / n
    v01 = 1.0 - (r[m:] - rankdata(z)) / m
    auc = v10.mean()
    if m == 1 or n == 1:
        return auc, math.nan, math.nan
    se = math.sqrt(v10.var(ddof=1) / m + v01.var(ddof=1) / n)
    q = norm.ppf(1 - alpha / 2)
    return auc, max(0.0, auc - q * se), min(1.0, auc + q * se)"""

AUROC_WRONG = (
    # z of a one-sided 95% bound (1.645): a 90% interval called 95%
    AUROC.replace("stats.norm.ppf(1 - alpha / 2)", "stats.norm.ppf(1 - alpha)"),
)

CALIBRATION = """### BEGIN SOLUTION
import numpy as np
from scipy import optimize, special
from sklearn.calibration import calibration_curve
from sklearn.linear_model import LogisticRegression


def calibration(y_true, y_prob):
    y, p = np.asarray(y_true).astype(int), np.asarray(y_prob, dtype=float)
    if not ((p > 0) & (p < 1)).all():
        raise ValueError("probabilities must lie strictly between 0 and 1")
    lp = special.logit(p)
    # slope: refit y on logit(p), unpenalized
    slope = LogisticRegression(C=np.inf, tol=1e-10, max_iter=10_000).fit(lp[:, None], y).coef_[0, 0]
    # intercept (calibration-in-the-large): slope fixed at 1, solve the score equation for a
    intercept = optimize.brentq(lambda a: np.sum(y - special.expit(a + lp)), -20, 20, xtol=1e-12)
    observed, predicted = calibration_curve(y, p, n_bins=10, strategy="quantile")
    return {"brier": float(np.mean((p - y) ** 2)), "slope": float(slope), "intercept": float(intercept),
            "observed": observed, "predicted": predicted}
### END SOLUTION"""

CALIBRATION_ALTERNATIVE = """import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit, logit
from sklearn.metrics import brier_score_loss


def calibration(y_true, y_prob):
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(y_prob, dtype=float)
    lp = logit(p)

    def loss(w, offset=False):
        z = w[0] + (lp if offset else w[1] * lp)
        return np.sum(np.logaddexp(0, z) - y * z)

    slope = minimize(loss, [0.0, 1.0], method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000}).x[1]
    intercept = minimize(lambda w: loss(w, True), [0.0], method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-12}).x[0]
    edges = np.percentile(p, np.linspace(0, 100, 11))
    bins = np.digitize(p, edges[1:-1], right=True)  # a score on an inner edge stays in the bin below it
    frame = pd.DataFrame({"y": y, "p": p, "bin": bins}).groupby("bin")
    return {"brier": brier_score_loss(y, p), "slope": slope, "intercept": intercept,
            "observed": frame["y"].mean().to_numpy(), "predicted": frame["p"].mean().to_numpy()}"""

CALIBRATION_WRONG = (
    # the intercept of the slope fit: not calibration-in-the-large
    CALIBRATION.replace(
        "intercept = optimize.brentq(lambda a: np.sum(y - special.expit(a + lp)), -20, 20, xtol=1e-12)",
        "intercept = LogisticRegression(C=np.inf, tol=1e-10, max_iter=10_000).fit(lp[:, None], y).intercept_[0]",
    ),
)

SUBGROUPS = """### BEGIN SOLUTION
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from hitlab.checks import lab09


def subgroup_metrics(frame: pd.DataFrame, prob) -> pd.DataFrame:
    data = pd.DataFrame({"y": frame["readmitted"].to_numpy(), "p": np.asarray(prob, dtype=float)})
    data["sex"] = np.where(frame["female"].to_numpy() == 1, "F", "M")
    # right=False: [18, 45) is 18-44, so a 45-year-old is in 45-64
    data["age_band"] = pd.cut(frame["age"].to_numpy(), [18, 45, 65, 75, np.inf], right=False, labels=lab09.AGE_BANDS)
    rows = []
    for group, values in (("sex", ("F", "M")), ("age_band", lab09.AGE_BANDS)):
        for value in values:
            g = data[data[group] == value]
            both = g["y"].nunique() == 2
            rows.append({"group": group, "value": value, "n": len(g), "events": int(g["y"].sum()),
                         "auroc": roc_auc_score(g["y"], g["p"]) if both else np.nan,
                         "observed": g["y"].mean(), "predicted": g["p"].mean()})
    return pd.DataFrame(rows)
### END SOLUTION"""

SUBGROUPS_ALTERNATIVE = """import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score


def subgroup_metrics(frame, prob):
    y = frame["readmitted"].to_numpy()
    p = np.asarray(prob, dtype=float)
    age = frame["age"].to_numpy()
    band = np.select([age < 45, age < 65, age < 75], ["18-44", "45-64", "65-74"], "75+")
    sex = np.where(frame["female"].to_numpy() == 1, "F", "M")
    out = []
    for group, labels, values in (("sex", sex, ["F", "M"]), ("age_band", band, ["18-44", "45-64", "65-74", "75+"])):
        for v in values:
            k = labels == v
            auc = roc_auc_score(y[k], p[k]) if len(set(y[k])) == 2 else float("nan")
            out.append((group, v, int(k.sum()), int(y[k].sum()), auc, y[k].mean(), p[k].mean()))
    return pd.DataFrame(out, columns=["group", "value", "n", "events", "auroc", "observed", "predicted"])"""

SUBGROUPS_WRONG = (
    # bands closed on the right: a 45-year-old lands in 18-44, a 65-year-old in 45-64
    SUBGROUPS.replace("[18, 45, 65, 75, np.inf], right=False", "[17, 45, 65, 75, np.inf], right=True"),
)

BUDGET = """### BEGIN SOLUTION
import numpy as np


def budget_threshold(y_true, prob, capacity: int) -> dict:
    y, p = np.asarray(y_true).astype(int), np.asarray(prob, dtype=float)
    if isinstance(capacity, bool) or not isinstance(capacity, (int, np.integer)) or capacity < 1:
        raise ValueError("capacity must be a whole number >= 1")
    threshold = np.inf
    for value in np.unique(p)[::-1]:  # lower the bar one distinct score at a time
        if (p >= value).sum() > capacity:
            break  # ties at this score would take more patients than the team can call
        threshold = value
    flagged = p >= threshold
    tp = int((flagged & (y == 1)).sum())
    return {"threshold": float(threshold), "flagged": int(flagged.sum()),
            "sensitivity": tp / y.sum() if y.sum() else np.nan,
            "ppv": tp / flagged.sum() if flagged.any() else np.nan}
### END SOLUTION"""

BUDGET_ALTERNATIVE = """import math

import numpy as np


def budget_threshold(y_true, prob, capacity):
    if not isinstance(capacity, (int, np.integer)) or isinstance(capacity, bool) or capacity <= 0:
        raise ValueError("capacity")
    y = np.asarray(y_true).astype(int)
    p = np.asarray(prob, dtype=float)
    ordered = np.sort(p)[::-1]
    if capacity >= len(p):
        threshold = ordered[-1]
    else:
        threshold = ordered[capacity - 1]
        if ordered[capacity] == threshold:  # a tie across the budget line: move the bar up
            above = ordered[ordered > threshold]
            threshold = above.min() if len(above) else math.inf
    flag = p >= threshold
    positives, flagged = int(y.sum()), int(flag.sum())
    hits = int(y[flag].sum())
    return {"threshold": float(threshold), "flagged": flagged,
            "sensitivity": hits / positives if positives else float("nan"),
            "ppv": hits / flagged if flagged else float("nan")}"""

BUDGET_WRONG = (
    # one patient over the budget: the bar set at the (capacity + 1)-th highest score
    BUDGET.replace("if (p >= value).sum() > capacity:", "if (p >= value).sum() > capacity + 1:"),
)

EXPLAIN = """### BEGIN SOLUTION
import pandas as pd

from hitlab.checks import lab09


def explain(model, row: pd.Series) -> pd.Series:
    scaler, logistic = model[0], model[-1]
    x = row[list(lab09.FEATURES)].to_numpy(dtype=float)
    # log-odds per unit of each raw feature, times its distance from the training mean
    contribution = logistic.coef_[0] / scaler.scale_ * (x - scaler.mean_)
    return pd.Series(contribution, index=list(lab09.FEATURES))
### END SOLUTION"""

EXPLAIN_ALTERNATIVE = """import pandas as pd

from hitlab.checks import lab09


def explain(model, row):
    names = list(lab09.FEATURES)
    x = pd.DataFrame([row[names].astype(float)])
    base = model.decision_function(x)[0]
    out = {}
    for j, name in enumerate(names):
        moved = x.copy()
        moved[name] = model[0].mean_[j]  # this feature at its training mean
        out[name] = base - model.decision_function(moved)[0]
    return pd.Series(out)"""

EXPLAIN_WRONG = (
    # coefficient times the raw value: no reference point, so a 70-year-old's age always "adds" risk
    EXPLAIN.replace("* (x - scaler.mean_)", "* x"),
)
