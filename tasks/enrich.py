"""Enrich the run's read frame with what the validation rules need (pure: DataFrames in, DataFrame out).

Adds catalog facts (owner, measure, canonical unit), converts values to the canonical unit, and
joins context: last month's cumulative, the parent's value, last year's value and the reporter's own
history — from the warehouse's current values and from other files of the same run.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pandas as pd

from township.catalog import Catalog
from township.periods import Period, PeriodError

HISTORY_MONTHS = 12
MIN_HISTORY = 6
KEY = ["reporter_code", "indicator_code"]
KEY_ID = "_key_id"  # KEY as one integer, while context is joined (_with_key_ids)
CONTEXT_COLUMNS = ["reporter_code", "period", "indicator_code", "month_value", "ytd_value"]


def _period_index(p: pd.Series) -> pd.Series:
    """'YYYY-MM' → year*12 + month-1 (float, NaN when empty; int64 when none is). Computed for the distinct periods and spread by
    their codes: a batch's context holds a million rows of a dozen months (slicing every row's text cost ~1 s)."""
    codes, uniques = pd.factorize(p)
    uniq = pd.Series(uniques, dtype="str")
    y = pd.to_numeric(uniq.str.slice(0, 4), errors="coerce")
    m = pd.to_numeric(uniq.str.slice(5, 7), errors="coerce")
    index = np.append((y * 12 + m - 1).to_numpy(dtype="float64"), np.nan)[codes]  # code -1 (missing) → NaN
    whole = not np.isnan(index).any()  # integers when every period parses, as pandas' arithmetic gives them
    return pd.Series(index.astype("int64") if whole else index, index=p.index, name=p.name)


def index_to_period(idx: pd.Series) -> pd.Series:
    i = idx.astype("Int64")
    return (i // 12).astype(str).str.zfill(4) + "-" + (i % 12 + 1).astype(str).str.zfill(2)


def parse_periods(raw: pd.Series) -> pd.Series:
    """Parse each distinct period text once; '' where it is not a month."""
    uniq = {}
    for text in raw.unique():
        try:
            uniq[text] = str(Period.parse(text)) if text else ""
        except PeriodError:
            uniq[text] = ""
    return raw.map(uniq).astype(str)


def catalog_frames(catalog: Catalog) -> tuple[pd.DataFrame, pd.DataFrame]:
    inds = pd.DataFrame({
        "indicator_code": [i.code for i in catalog.indicators],
        "owner_kind": [i.owner for i in catalog.indicators],
        "measure": [i.measure for i in catalog.indicators],
        "allow_negative": [i.allow_negative for i in catalog.indicators],
        "decimals": [i.decimals for i in catalog.indicators],
        "canonical_unit": [i.unit for i in catalog.indicators],
        "parent_code": [i.parent or "" for i in catalog.indicators],
    })
    reps = pd.DataFrame({
        "reporter_code": [r.code for r in catalog.reporters],
        "reporter_kind": [r.kind for r in catalog.reporters],
        "township_code": [r.township for r in catalog.reporters],
    })
    return inds, reps


def _unit_factors(df: pd.DataFrame, catalog: Catalog) -> pd.Series:
    """Each row's factor to its canonical unit (NaN: cannot convert), asked once per distinct pair and spread by
    index: a Python tuple per row of a province batch cost ~0.2 s (iterating Arrow-backed strings)."""
    units = df[["unit_used", "canonical_unit"]]
    pairs = units.drop_duplicates()
    factors = np.array([np.nan if f is None else f for f in map(
        catalog.convert_factor, pairs["unit_used"].tolist(), pairs["canonical_unit"].tolist())], dtype="float64")
    at = pd.MultiIndex.from_frame(pairs).get_indexer(pd.MultiIndex.from_frame(units))
    return pd.Series(factors[at], index=df.index, dtype="float64")


def add_catalog_facts(frame: pd.DataFrame, catalog: Catalog) -> pd.DataFrame:
    """Catalog columns, parsed periods and values converted to the canonical unit."""
    inds, reps = catalog_frames(catalog)
    df = _joined(_joined(frame, reps, ["reporter_code"]), inds, ["indicator_code"])
    for col in ("reporter_kind", "township_code", "owner_kind", "measure", "canonical_unit", "parent_code"):
        df[col] = df[col].fillna("").astype(str)
    df["allow_negative"] = df["allow_negative"].fillna(True).astype(bool)
    # 单位代码 left blank or naming a catalog reporter; else E_REPORTER_UNKNOWN (and not also a mismatch).
    # Blank counts as known so the rule needs no row_condition (each is a pandas query over the batch).
    # (asked of the few distinct codes written, not of the catalog's every reporter: 32,400 in a province)
    declared = df["declared_reporter"]
    known = [d for d in declared.unique() if d == "" or d in catalog.reporter_by_code]
    df["declared_known"] = declared.isin(known)
    df["decimals"] = df["decimals"].fillna(2).astype("int64")
    df["period"] = parse_periods(df["period_raw"])
    df["period_index"] = _period_index(df["period"])
    per_file = df.loc[df["period"] != ""].groupby("file_key")["period"].nunique()
    df["file_periods"] = df["file_key"].map(per_file).fillna(0).astype("int64")
    df["unit_used"] = df["unit"].where(df["unit"] != "", df["canonical_unit"])
    df["unit_factor"] = _unit_factors(df, catalog)
    df["month_value"] = df["month_value"] * df["unit_factor"]
    df["ytd_value"] = df["ytd_value"] * df["unit_factor"]
    # A stock is a level: 本月 holds it; a level written only under 1-本月累计 is taken as the level.
    stock = df["measure"] == "stock"
    df.loc[stock & df["month_value"].isna(), "month_value"] = df["ytd_value"]
    return df


def _flag_duplicates(df: pd.DataFrame) -> pd.Series:
    """True on rows whose indicator appears again in the same file with different values. Only the rows whose
    indicator repeats in their file are compared (few: writing every value of a batch as text cost ~0.4 s)."""
    out = pd.Series(False, index=df.index)
    again = df.duplicated(["file_key", "indicator_code"], keep=False).to_numpy()
    if again.any():
        d = df[again]
        sig = d["month_value"].astype(str) + "|" + d["ytd_value"].astype(str)
        n = sig.groupby([d["file_key"], d["indicator_code"]]).transform("nunique")
        out[again] = ((n > 1) & (d["indicator_code"] != "")).to_numpy()
    return out


def _joined(df: pd.DataFrame, right: pd.DataFrame, on: list[str]) -> pd.DataFrame:
    """df with right's other columns, left-joined on `on` (right holds each key once), as df.merge(right) gives
    them: the join runs on the key columns alone and its columns are set on df (merging the wide frame copied
    its ~40 columns, Arrow strings among them, at every join)."""
    got = df[on].merge(right, on=on, how="left")
    if len(got) != len(df):
        raise ValueError(f"a key of {on} is not unique on the joined side")
    got.index = df.index
    return df.assign(**{c: got[c] for c in right.columns if c not in on})


def _parent_values(df: pd.DataFrame) -> pd.DataFrame:
    parents = (df[["file_key", "indicator_code", "month_value", "ytd_value"]]
               .drop_duplicates(["file_key", "indicator_code"])
               .rename(columns={"indicator_code": "parent_code", "month_value": "parent_month",
                                "ytd_value": "parent_ytd"}))
    return _joined(df, parents, ["file_key", "parent_code"])


def batch_latest_values(df: pd.DataFrame, locked: Collection[tuple[str, str]] = (),
                        held: Collection[str] = ()) -> pd.DataFrame:
    """The run's own values as context: per reporter × period × indicator, the latest-received file's.
    A file for a month already final (locked: (township, period) pairs) or held (file keys) will wait as a
    pending revision: the month's current value, not it, is the base of the next month's checks."""
    ok = df[(df["period"] != "") & (df["owner_kind"] != "")]
    if locked or held:
        keys = set(locked)
        waits = [(t, p) in keys for t, p in zip(ok["township_code"], ok["period"])]
        ok = ok[~(pd.Series(waits, index=ok.index, dtype=bool) | ok["file_key"].isin(set(held)))]
    ok = ok.sort_values(["received_at", "file_key"]).drop_duplicates(
        ["reporter_code", "period", "indicator_code"], keep="last")
    return ok[CONTEXT_COLUMNS]


def _context(warehouse_values: pd.DataFrame, batch: pd.DataFrame) -> pd.DataFrame:
    """Warehouse current values overlaid by the run's values (a file in this run supersedes)."""
    ctx = pd.concat([warehouse_values[CONTEXT_COLUMNS], batch], ignore_index=True)
    ctx = ctx.astype({"month_value": "float64", "ytd_value": "float64"})
    ctx = ctx.drop_duplicates(["reporter_code", "period", "indicator_code"], keep="last")
    ctx["period_index"] = _period_index(ctx["period"].astype(str))
    return ctx


def _join_offset(df: pd.DataFrame, ctx: pd.DataFrame, offset: int, names: dict[str, str]) -> pd.DataFrame:
    right = ctx[[KEY_ID, "period_index", *names]].rename(columns=names)
    right = right.assign(period_index=right["period_index"] + offset)
    return _joined(df, right, [KEY_ID, "period_index"])


def _with_key_ids(df: pd.DataFrame, ctx: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both frames with KEY_ID, one integer per reporter × indicator shared by the two: the joins and groupings
    on it hash integers, not the strings of a million context rows each time."""
    ids = np.zeros(len(df) + len(ctx), dtype="int64")
    for col in KEY:
        codes, uniques = pd.factorize(pd.concat([df[col], ctx[col]], ignore_index=True), use_na_sentinel=False)
        ids = ids * (len(uniques) + 1) + codes
    return df.assign(**{KEY_ID: ids[:len(df)]}), ctx.assign(**{KEY_ID: ids[len(df):]})


def _history_stats(df: pd.DataFrame, ctx: pd.DataFrame) -> pd.DataFrame:
    """Median and MAD of each reporter × indicator's month values over the 12 months before the period."""
    on = [KEY_ID, "period_index"]
    targets = df.loc[df["period_index"].notna(), on].drop_duplicates()
    hist = ctx.loc[ctx["month_value"].notna(), [KEY_ID, "period_index", "month_value"]].rename(
        columns={"period_index": "hist_index"})
    if targets.empty or hist.empty:
        return df.assign(hist_median=np.nan, hist_mad=np.nan, hist_n=0)
    m = targets.merge(hist, on=KEY_ID)
    m = m[(m["hist_index"] < m["period_index"]) & (m["hist_index"] >= m["period_index"] - HISTORY_MONTHS)]
    g = m.groupby(on)["month_value"]
    stats = g.agg(hist_median="median", hist_n="count").reset_index()
    m = m.merge(stats[[*on, "hist_median"]], on=on)
    m["dev"] = (m["month_value"] - m["hist_median"]).abs()
    mad = m.groupby(on)["dev"].median().rename("hist_mad").reset_index()
    stats = stats.merge(mad, on=on)
    out = _joined(df, stats, on)
    out["hist_n"] = out["hist_n"].fillna(0).astype("int64")
    return out


def add_context(df: pd.DataFrame, warehouse_values: pd.DataFrame, locked: Collection[tuple[str, str]] = (),
                held: Collection[str] = ()) -> pd.DataFrame:
    """Join last month's, last year's and historical values and derive the rule inputs."""
    ctx = _context(warehouse_values, batch_latest_values(df, locked, held))
    df = df.assign(dup_conflict=_flag_duplicates(df))
    df = _parent_values(df)
    df, ctx = _with_key_ids(df, ctx)
    df = _join_offset(df, ctx, 1, {"ytd_value": "prev_ytd", "month_value": "prev_month"})
    df = _join_offset(df, ctx, 12, {"ytd_value": "ly_ytd", "month_value": "ly_month"})
    df = _history_stats(df, ctx).drop(columns=KEY_ID)
    flow = df["measure"] == "flow"
    january = (df["period_index"] % 12) == 0
    # The year starts from zero: January's cumulative is January's month.
    df.loc[flow & january, "prev_ytd"] = 0.0
    df.loc[~flow, "prev_ytd"] = np.nan
    tol = 1.5 * np.power(10.0, -df["decimals"].astype(float))
    df["identity_expected"] = (df["prev_ytd"] + df["month_value"]).where(flow)
    df["identity_excess"] = ((df["identity_expected"] - df["ytd_value"]).abs()
                             - tol * np.maximum(1.0, df["unit_factor"].fillna(1.0)))
    level = df["ytd_value"].where(flow, df["month_value"])
    base = df["ly_ytd"].where(flow, df["ly_month"])
    df["yoy_change"] = (level / base - 1).where(base > 0)
    usable = df["hist_n"] >= MIN_HISTORY
    df["robust_z"] = (0.6745 * (df["month_value"] - df["hist_median"]) / df["hist_mad"]).where(
        usable & (df["hist_mad"] > 0))
    ratio = (df["month_value"].abs() / df["hist_median"].abs()).where(usable & (df["hist_median"] != 0))
    with np.errstate(divide="ignore"):
        df["history_log10_ratio"] = np.log10(ratio.where(ratio > 0))
    # Small counts (2 projects, 3 lectures) repeat naturally; a repeated sizeable figure is a copied form.
    sizeable = df["month_value"].abs() >= 10 * np.power(10.0, -df["decimals"].astype(float))
    df["repeats_last_month"] = flow & (df["month_value"] == df["prev_month"]) & sizeable & ~january
    return df


def enrich(frame: pd.DataFrame, catalog: Catalog, warehouse_values: pd.DataFrame,
           locked: Collection[tuple[str, str]] = (), held: Collection[str] = ()) -> pd.DataFrame:
    """The frame validation runs on. `frame` is the run's read frame plus file_key, reporter_code,
    received_at and source_row; `warehouse_values` the current values around the run's periods;
    locked/held: see batch_latest_values."""
    df = add_catalog_facts(frame, catalog)
    df = add_context(df, warehouse_values, locked, held)
    return df.sort_values("source_row").reset_index(drop=True)


def context_window(periods: pd.Series) -> tuple[str, str] | None:
    """The span of periods whose warehouse values the rules need: 12 months of history and last year."""
    idx = _period_index(periods[periods != ""])
    if idx.empty:
        return None
    lo, hi = idx.min() - max(HISTORY_MONTHS, 12), idx.max() - 1
    return (index_to_period(pd.Series([lo])).iloc[0], index_to_period(pd.Series([hi])).iloc[0])
