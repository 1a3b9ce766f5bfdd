"""Lab 09's reference implementations, in DuckDB SQL (the learner's solutions are pandas): the cohort of
index stays, the 30-day readmission label, the features and LACE, the temporal split, the reference logistic
regression and the evaluation measures. Left out of an exam release.

Every function that reads data takes a DuckDB connection holding ``patients``, ``encounters``, ``conditions``
and ``medications`` (``hitlab.data.connect("analytics")``, or :func:`tables_connection` over DataFrames)::

    con = hitlab.data.connect("analytics")
    index_stays(con)      # Id, PATIENT, START, STOP of every index stay
    labels(con)           # Id, readmitted (0/1)
    features(con)         # Id and the lab's FEATURES
    lace(con)             # Id, L, A, C, E, LACE
    cohort(con)           # all of the above in one frame, one row per index stay
    evaluate(con)         # the temporal split, the fitted pipeline, LACE's and the model's test AUROC
    reference_model("analytics")  # evaluate() on a dataset by name, cached per process
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from hitlab.checks.lab09.materials import (
    AGE_BANDS,
    CHARLSON,
    ELECTIVE_ADMISSION,
    EMERGENCY_ADMISSION,
    EMERGENCY_CLASS,
    FEATURES,
    FOLLOW_UP_DAYS,
    INPATIENT,
    READMISSION_DAYS,
    TRANSFER_HOURS,
    split_of,
)

# -- connections ---------------------------------------------------------------------------------------------


def tables_connection(tables: dict[str, pd.DataFrame]):
    """An in-memory DuckDB connection whose tables are the DataFrames of ``tables``."""
    import duckdb

    con = duckdb.connect()
    for name, frame in tables.items():
        con.register(f"_{name}_frame", frame)
        con.execute(f"create table {name} as select * from _{name}_frame")
        con.unregister(f"_{name}_frame")
    return con


def as_of_of(con) -> pd.Timestamp:
    """The as-of date of the dataset ``con`` opened (``manifest.json`` beside its database file)."""
    rows = con.execute(
        "select path from duckdb_databases() where database_name = current_database()"
    ).fetchall()
    path = rows[0][0] if rows else None
    if not path:
        raise ValueError("this connection is not a dataset's database: pass as_of explicitly")
    manifest = Path(path).parent / "manifest.json"
    import json

    try:
        return pd.Timestamp(json.loads(manifest.read_text(encoding="utf-8"))["as_of"])
    except (OSError, ValueError, KeyError) as err:
        raise ValueError(f"{manifest}: no readable 'as_of' date ({err})") from None


def _as_of(con, as_of) -> pd.Timestamp:
    return as_of_of(con) if as_of is None else pd.Timestamp(as_of)


# -- cohort and label ------------------------------------------------------------------------------------------

_AGE = (
    "(year(cast({t} as date)) - year(p.BIRTHDATE) - case when month(cast({t} as date)) * 100 + "
    "day(cast({t} as date)) < month(p.BIRTHDATE) * 100 + day(p.BIRTHDATE) then 1 else 0 end)"
)


def _transfers_sql() -> str:
    """Transfer pairs (a, b): b is an inpatient stay of the same patient at another ORGANIZATION starting at or
    after a's STOP and at most 24 hours later (a continues into b; one episode)."""
    return f"""(select a.Id as a_id, b.Id as b_id
        from encounters a join encounters b on b.PATIENT = a.PATIENT and b.Id <> a.Id
        where a.ENCOUNTERCLASS = '{INPATIENT}' and b.ENCOUNTERCLASS = '{INPATIENT}'
          and b.ORGANIZATION is distinct from a.ORGANIZATION
          and b.START >= a.STOP and b.START <= a.STOP + interval {TRANSFER_HOURS} hour)"""


def index_stays(con, as_of=None) -> pd.DataFrame:
    """Index stays: inpatient, aged 18+ at START, alive at discharge (no DEATHDATE on or before the STOP
    date), not transferred out (no inpatient stay of the patient at another ORGANIZATION starting within 24
    hours after STOP), and with complete follow-up (STOP's date + 30 days on or before the as-of date). Sorted
    by Id."""
    cutoff = _as_of(con, as_of).normalize() - pd.Timedelta(days=FOLLOW_UP_DAYS)
    return con.execute(
        f"""
        select i.Id, i.PATIENT, i.START, i.STOP
        from encounters i join patients p on p.Id = i.PATIENT
        where i.ENCOUNTERCLASS = '{INPATIENT}'
          and {_AGE.format(t="i.START")} >= 18
          and (p.DEATHDATE is null or p.DEATHDATE > cast(i.STOP as date))
          and cast(i.STOP as date) <= ?
          and i.Id not in (select a_id from {_transfers_sql()})
        order by i.Id
        """,
        [cutoff.date()],
    ).df()


def _stays_table(con, stays: pd.DataFrame | None, as_of) -> str:
    frame = index_stays(con, as_of) if stays is None else stays[["Id", "PATIENT", "START", "STOP"]]
    con.register("_stays", frame)
    return "_stays"


def labels(con, stays: pd.DataFrame | None = None, as_of=None) -> pd.DataFrame:
    """``Id``, ``readmitted``: 1 if another inpatient stay of the patient, not elective, starts after STOP and
    on a date at most 30 days after STOP's date (CMS's convention: calendar days from the discharge date)."""
    s = _stays_table(con, stays, as_of)
    return con.execute(
        f"""
        select s.Id, cast(exists (
            select 1 from encounters r
            where r.PATIENT = s.PATIENT and r.ENCOUNTERCLASS = '{INPATIENT}' and r.Id <> s.Id
              and coalesce(r.CODE, '') <> '{ELECTIVE_ADMISSION}'
              and r.START > s.STOP
              and cast(r.START as date) <= cast(s.STOP as date) + {READMISSION_DAYS}) as integer) as readmitted
        from {s} s order by s.Id
        """
    ).df()


# -- features ----------------------------------------------------------------------------------------------------


def _charlson_sql() -> str:
    rows = ", ".join(f"('{code}', '{cat}', {w})" for code, (cat, w) in CHARLSON.items())
    return f"(select * from (values {rows}) as t(code, category, weight))"


def episodes(con, stays: pd.DataFrame | None = None, as_of=None) -> pd.DataFrame:
    """``Id``, ``first_id``, ``episode_start``: for each stay, the first leg of the transfer chain that ends in
    it (following transfers back, leg by leg; of two stays a transfer could have come from, the one that ended
    last) and that leg's START; a stay reached by no transfer is its own first leg."""
    s = _stays_table(con, stays, as_of)
    return con.execute(
        f"""
        with recursive t as (select arg_max(t.a_id, a.STOP) as a_id, t.b_id
                             from {_transfers_sql()} t join encounters a on a.Id = t.a_id group by t.b_id),
        back(Id, leg, depth) as (
            select Id, Id, 0 from {s}
            union all
            select back.Id, t.a_id, back.depth + 1 from back join t on t.b_id = back.leg where back.depth < 50
        ),
        first as (select Id, arg_max(leg, depth) as first_id from back group by Id)
        select f.Id, f.first_id, coalesce(e.START, s.START) as episode_start
        from first f join {s} s on s.Id = f.Id left join encounters e on e.Id = f.first_id
        order by f.Id
        """
    ).df()


def features(con, stays: pd.DataFrame | None = None, as_of=None) -> pd.DataFrame:
    """``Id`` and the lab's FEATURES for each stay, from data known at discharge only. A stay reached by
    transfer is one episode with the stays it continues: E = the START of the chain's first leg.

    age (whole years at the stay's START), female (GENDER = 'F'), los_days (STOP date - E's date: the whole
    episode), emergent (the first leg's CODE is 183452005), charlson (weights of the Charlson categories with a
    condition starting on or before E's date, each category once), ed_visits_6m (emergency visits starting in
    [E - 6 months, E), except one ending within the hour before E), admissions_12m (inpatient stays starting in
    [E - 12 months, E): the episode's own legs start at E or later), active_medications (medications with START
    <= E and no STOP or STOP after E)."""
    s = _stays_table(con, stays, as_of)
    ep = episodes(con, con.execute(f"select * from {s}").df())
    con.register("_episodes", ep)
    frame = con.execute(
        f"""
        with x as (
            select s.Id, s.PATIENT, s.START, s.STOP, ep.first_id, ep.episode_start as E
            from {s} s join _episodes ep on ep.Id = s.Id)
        select s.Id,
          {_AGE.format(t="s.START")} as age,
          cast(p.GENDER = 'F' as integer) as female,
          date_diff('day', cast(s.E as date), cast(s.STOP as date)) as los_days,
          cast(coalesce(e.CODE = '{EMERGENCY_ADMISSION}', false) as integer) as emergent,
          coalesce((select sum(weight) from (
              select distinct w.category, w.weight from conditions c join {_charlson_sql()} w on w.code = c.CODE
              where c.PATIENT = s.PATIENT and c.START <= cast(s.E as date))), 0) as charlson,
          (select count(*) from encounters v
           where v.PATIENT = s.PATIENT and v.ENCOUNTERCLASS = '{EMERGENCY_CLASS}'
             and v.START >= s.E - interval 6 month and v.START < s.E
             and not (v.STOP >= s.E - interval 1 hour and v.STOP <= s.E)) as ed_visits_6m,
          (select count(*) from encounters a
           where a.PATIENT = s.PATIENT and a.ENCOUNTERCLASS = '{INPATIENT}' and a.Id <> s.Id
             and a.START >= s.E - interval 12 month and a.START < s.E) as admissions_12m,
          (select count(*) from medications m
           where m.PATIENT = s.PATIENT and m.START <= s.E and (m.STOP is null or m.STOP > s.E))
             as active_medications
        from x s join patients p on p.Id = s.PATIENT left join encounters e on e.Id = s.first_id
        order by s.Id
        """
    ).df()
    con.unregister("_episodes")
    for column in FEATURES:
        frame[column] = frame[column].astype("int64")
    return frame


def lace_points(frame: pd.DataFrame) -> pd.DataFrame:
    """L, A, C, E and LACE (van Walraven et al., CMAJ 2010) from los_days, emergent, charlson and
    ed_visits_6m; same index as ``frame``."""
    los = frame["los_days"].to_numpy()
    length = np.select([los < 1, los <= 3, los <= 6, los <= 13], [0, los, 4, 5], 7)
    acuity = np.where(frame["emergent"].to_numpy() == 1, 3, 0)
    charlson = frame["charlson"].to_numpy()
    comorbidity = np.where(charlson >= 4, 5, charlson)
    ed = np.minimum(frame["ed_visits_6m"].to_numpy(), 4)
    out = pd.DataFrame({"L": length, "A": acuity, "C": comorbidity, "E": ed}, index=frame.index).astype(
        "int64"
    )
    out["LACE"] = out.sum(axis=1)
    return out


def lace(con, stays: pd.DataFrame | None = None, as_of=None) -> pd.DataFrame:
    """``Id``, L, A, C, E, LACE for each index stay."""
    f = features(con, stays, as_of)
    return pd.concat([f[["Id"]], lace_points(f)], axis=1)


def cohort(con, as_of=None) -> pd.DataFrame:
    """One row per index stay: Id, PATIENT, START, STOP, the FEATURES, readmitted, L, A, C, E, LACE."""
    stays = index_stays(con, as_of)
    f = features(con, stays)
    y = labels(con, stays)
    out = stays.merge(f, on="Id").merge(y, on="Id")
    return pd.concat([out, lace_points(out)], axis=1)


# -- split and model -------------------------------------------------------------------------------------------


def temporal_split(frame: pd.DataFrame, split) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train: stays whose 30-day window ended before the split (STOP + 30 days <= split); test: stays admitted
    on or after it (START >= split). Stays in between are in neither."""
    split = pd.Timestamp(split)
    stop, start = pd.to_datetime(frame["STOP"]), pd.to_datetime(frame["START"])
    train = frame[stop + pd.Timedelta(days=READMISSION_DAYS) <= split]
    test = frame[start >= split]
    return train, test


def fit_model(train: pd.DataFrame):
    """StandardScaler + LogisticRegression (L2, C = 1) on FEATURES -> readmitted."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=5000))
    return model.fit(train[list(FEATURES)], train["readmitted"])


def evaluate(con, split=None, as_of=None) -> dict:
    """The reference analysis on ``con``: cohort, temporal split (default: ``materials.split_of`` the as-of date),
    fitted pipeline, test probabilities, and (AUROC, low, high) of LACE and of the model on the test set."""
    as_of = _as_of(con, as_of)
    frame = cohort(con, as_of)
    train, test = temporal_split(frame, split_of(as_of) if split is None else split)
    model = fit_model(train)
    prob = model.predict_proba(test[list(FEATURES)])[:, 1]
    y = test["readmitted"].to_numpy()
    return {
        "cohort": frame, "train": train, "test": test, "model": model, "prob": prob,
        "auroc_lace": auroc_ci(y, test["LACE"].to_numpy()), "auroc_model": auroc_ci(y, prob),
    }  # fmt: skip


@cache
def reference_model(dataset: str = "analytics") -> dict:
    """:func:`evaluate` on dataset ``dataset`` at the lab's split date, computed once per process."""
    from hitlab.checks.lab09.materials import as_of, split_date
    from hitlab.checks.sql import connection

    return evaluate(connection(dataset).cursor(), split_date(dataset), as_of(dataset))


# -- evaluation -------------------------------------------------------------------------------------------------


def _binary(y) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or not np.isin(y, (0, 1)).all():
        raise ValueError("y_true should be a 1-d array of 0 and 1")
    return y.astype(int)


def auroc_ci(y_true, y_score, alpha: float = 0.05) -> tuple[float, float, float]:
    """AUROC with DeLong's (1988) confidence interval, by midranks (Sun and Xu, 2014); bounds clipped to
    [0, 1], NaN with fewer than two stays of either class (the variance needs two). ValueError without both
    classes or with scores of another length. The interval treats stays as independent."""
    y = _binary(y_true)
    s = np.asarray(y_score, dtype=float)
    if s.shape != y.shape:
        raise ValueError("y_score should have one score per label")
    pos, neg = s[y == 1], s[y == 0]
    m, n = len(pos), len(neg)
    if m == 0 or n == 0:
        raise ValueError("AUROC needs both classes")
    rank_all = stats.rankdata(np.concatenate([pos, neg]))
    v10 = (rank_all[:m] - stats.rankdata(pos)) / n  # per positive: share of negatives ranked below
    v01 = 1 - (rank_all[m:] - stats.rankdata(neg)) / m  # per negative: share of positives ranked above
    auc = float(v10.mean())
    if m < 2 or n < 2:  # var(ddof=1) of a single value is undefined: no interval, not a zero-width one
        return auc, float("nan"), float("nan")
    var = np.var(v10, ddof=1) / m + np.var(v01, ddof=1) / n
    half = stats.norm.ppf(1 - alpha / 2) * float(np.sqrt(var))
    return auc, max(0.0, auc - half), min(1.0, auc + half)


def calibration(y_true, y_prob, bins: int = 10) -> dict:
    """Brier score; calibration slope (y ~ a + b logit(p)) and intercept (calibration-in-the-large: y ~ a +
    offset logit(p)), both by maximum likelihood; the reliability curve in ``bins`` quantile bins."""
    from sklearn.calibration import calibration_curve

    y = _binary(y_true)
    p = np.asarray(y_prob, dtype=float)
    if p.shape != y.shape or not ((p > 0) & (p < 1)).all():
        raise ValueError("y_prob should hold one probability strictly between 0 and 1 per label")
    lp = special.logit(p)

    def nll(w):
        z = w[0] + w[1] * lp
        return float(np.sum(np.logaddexp(0, z) - y * z))

    def grad(w):
        r = special.expit(w[0] + w[1] * lp) - y
        return np.array([r.sum(), (r * lp).sum()])

    fit = optimize.minimize(nll, np.array([0.0, 1.0]), jac=grad, method="BFGS", options={"gtol": 1e-10})
    intercept = optimize.brentq(lambda a: float(np.sum(y - special.expit(a + lp))), -20, 20, xtol=1e-12)
    observed, predicted = calibration_curve(y, p, n_bins=bins, strategy="quantile")
    return {"brier": float(np.mean((p - y) ** 2)), "slope": float(fit.x[1]), "intercept": float(intercept),
            "observed": observed, "predicted": predicted}  # fmt: skip


def age_band(age: int) -> str:
    for band in AGE_BANDS[::-1]:
        low = int(band.rstrip("+").split("-")[0])
        if age >= low:
            return band
    raise ValueError(f"age {age} is under 18")


def subgroup_metrics(frame: pd.DataFrame, prob) -> pd.DataFrame:
    """One row per subgroup (sex F/M, then the age bands): group, value, n, events, auroc (NaN without both
    classes), observed (the readmission rate), predicted (the mean probability)."""
    p = np.asarray(prob, dtype=float)
    y = frame["readmitted"].to_numpy()
    sex = np.where(frame["female"].to_numpy() == 1, "F", "M")
    band = np.array([age_band(int(a)) for a in frame["age"]])
    rows = []
    for group, values, labels_ in (("sex", ("F", "M"), sex), ("age_band", AGE_BANDS, band)):
        for value in values:
            mask = labels_ == value
            yy, pp = y[mask], p[mask]
            auc = auroc_ci(yy, pp)[0] if 0 < yy.sum() < len(yy) else float("nan")
            rows.append((group, value, int(mask.sum()), int(yy.sum()), auc,
                         float(yy.mean()) if len(yy) else float("nan"), float(pp.mean()) if len(pp) else float("nan")))  # fmt: skip
    return pd.DataFrame(rows, columns=["group", "value", "n", "events", "auroc", "observed", "predicted"])


def budget_threshold(y_true, prob, capacity: int) -> dict:
    """Flag ``prob >= threshold``, the threshold being the lowest score at which at most ``capacity`` stays
    are flagged; sensitivity and PPV of that flag (PPV NaN and threshold inf if nothing can be flagged)."""
    y = _binary(y_true)
    p = np.asarray(prob, dtype=float)
    if isinstance(capacity, bool) or not isinstance(capacity, int | np.integer) or capacity < 1:
        raise ValueError("capacity should be a whole number of stays, at least 1")
    threshold = float("inf")
    for value in np.unique(p)[::-1]:  # distinct scores, highest first
        if (p >= value).sum() > capacity:
            break
        threshold = float(value)
    flag = p >= threshold
    tp = int((flag & (y == 1)).sum())
    positives = int(y.sum())
    return {"threshold": threshold, "flagged": int(flag.sum()),
            "sensitivity": tp / positives if positives else float("nan"),
            "ppv": tp / int(flag.sum()) if flag.any() else float("nan")}  # fmt: skip


def explain(model, row: pd.Series) -> pd.Series:
    """Per-feature contributions to the log-odds of a StandardScaler + LogisticRegression pipeline:
    coef_j / scale_j * (x_j - mean_j), the means being the training means the scaler learnt."""
    scaler, logistic = model[0], model[-1]
    x = np.asarray([float(row[f]) for f in FEATURES])
    contrib = logistic.coef_[0] / scaler.scale_ * (x - scaler.mean_)
    return pd.Series(contrib, index=list(FEATURES), name="contribution")
