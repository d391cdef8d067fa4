"""The township's figures for a period from reporters' current values: a pure DataFrame transform, no IO.

Rules (the statistics station's conventions): missing is missing (NaN, shown 未报), never 0; a township figure sums the reporters
of the owning kind that reported (one office for `owner`, the villages for `sum_villages`); 同比 compares
with last year's figure of the same reporters only (a comparable base).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from township.catalog import Catalog
from township.periods import Period

# The published table: the snapshot_value columns plus what display needs (name, unit, decimals...).
SNAPSHOT_COLUMNS = ["indicator_code", "month_value", "ytd_value", "prior_ytd_value", "yoy_pct", "annual_target",
                    "target_pct", "schedule_gap_pp", "reporters_expected", "reporters_reported",
                    "missing_reporters"]
DISPLAY_COLUMNS = ["indicator_name", "unit", "decimals", "measure", "parent_code", "headline",
                   "parent_ytd_value", "jan_feb_combined", "note"]


def round_half_up(x: pd.Series, decimals: pd.Series | int) -> pd.Series:
    """四舍五入 as statistical tables do (numpy rounds half to even); NaN stays NaN."""
    if x.dtype != "float64":
        f = np.power(10.0, decimals)
        return np.sign(x) * np.floor(np.abs(x) * f + 0.5 + 1e-9) / f
    # The same arithmetic on the arrays: a table rounds six columns, and each Series operation costs more than
    # the arithmetic itself.
    a, f = x.to_numpy(), np.power(10.0, np.asarray(decimals))
    # The tiny epsilon absorbs binary noise such as 1.005 * 100 = 100.49999999999999.
    return pd.Series(np.sign(a) * np.floor(np.abs(a) * f + 0.5 + 1e-9) / f, index=x.index)


def indicator_frame(catalog: Catalog) -> pd.DataFrame:
    """One row per indicator in catalog order, with what the computation and display need (a copy: built once per
    catalog, it is asked for by every township published)."""
    hit = _INDICATOR_FRAMES.get(id(catalog))
    if hit is None or hit[0] is not catalog:
        if len(_INDICATOR_FRAMES) >= 8:
            _INDICATOR_FRAMES.clear()
        hit = _INDICATOR_FRAMES[id(catalog)] = (catalog, _indicator_frame(catalog))
    return hit[1].copy()


_INDICATOR_FRAMES: dict[int, tuple[Catalog, pd.DataFrame]] = {}  # id(catalog) → (the catalog, its frame)


def _indicator_frame(catalog: Catalog) -> pd.DataFrame:
    inds = catalog.indicators
    return pd.DataFrame({
        "indicator_code": [i.code for i in inds],
        "indicator_name": [i.name for i in inds],
        "unit": [i.unit for i in inds],
        "decimals": [i.decimals for i in inds],
        "measure": [i.measure for i in inds],
        "owner": [i.owner for i in inds],
        "aggregation": [i.aggregation for i in inds],
        "parent_code": [i.parent for i in inds],
        "headline": pd.array([i.headline for i in inds], dtype="Int64"),
    })


def expected_pairs(catalog: Catalog, township: str) -> pd.DataFrame:
    """One row per indicator × reporter expected to report it in this township."""
    reps = catalog.expected_reporters(township)
    pairs = [(i.code, r.code) for i in catalog.indicators for r in reps if r.kind == i.owner]
    return pd.DataFrame(pairs, columns=["indicator_code", "reporter_code"])


def resolve_figures(values: pd.DataFrame, measures: dict[str, str]) -> pd.DataFrame:
    """Per reporter × period × indicator: 本月 and 1-本月累计 with the unreported one derived.

    Flow: January's month is its ytd; otherwise month = ytd − last month's ytd and ytd = last ytd + month.
    A February with no January row is the combined 1-2月 report: its month and ytd are the same figure.
    Stock: the month-end level is both month and ytd.
    """
    df = values[["reporter_code", "period", "indicator_code", "month_value", "ytd_value", "note"]].copy()
    # A warehouse with no values yet gives empty columns typed float: the keys are text whatever the rows.
    for key in ("reporter_code", "period", "indicator_code"):
        df[key] = df[key].astype("str")
    df["month_value"] = df["month_value"].astype("float64")
    df["ytd_value"] = df["ytd_value"].astype("float64")
    year = df["period"].str.slice(0, 4).astype("int64")
    month = df["period"].str.slice(5, 7).astype("int64")
    df["prev_period"] = year.astype(str) + "-" + (month - 1).astype(str).str.zfill(2)
    prev = df[["reporter_code", "period", "indicator_code", "month_value", "ytd_value"]].rename(
        columns={"period": "prev_period", "month_value": "prev_month", "ytd_value": "prev_ytd"})
    prev["prev_row"] = True
    df = df.merge(prev, how="left", on=["reporter_code", "prev_period", "indicator_code"])
    # From here on by position, on arrays: the merge kept the rows in order (one previous month at most per row)
    # and gave them a new index, which `month` (the values' own index) need not share.
    nan = np.nan
    month = month.to_numpy()
    m, y = df["month_value"].to_numpy(), df["ytd_value"].to_numpy()
    prev_month, prev_ytd = df["prev_month"].to_numpy(dtype="float64"), df["prev_ytd"].to_numpy(dtype="float64")
    # Last month's ytd; a January that reported only its month value has ytd = month.
    prev_ytd = np.where(~np.isnan(prev_ytd), prev_ytd, np.where(month == 2, prev_month, nan))
    first = month == 1
    combined = (month == 2) & ~df["prev_row"].eq(True).to_numpy()
    has_prev = ~np.isnan(prev_ytd)
    ytd = np.where(~np.isnan(y), y, np.where(has_prev, prev_ytd + m, np.where(first | combined, m, nan)))
    mon = np.where(~np.isnan(m), m, np.where(has_prev, y - prev_ytd, np.where(first | combined, y, nan)))
    stock = df["indicator_code"].map(measures).eq("stock").to_numpy()
    level = np.where(~np.isnan(m), m, y)
    df["month_value"] = np.where(stock, level, mon)
    df["ytd_value"] = np.where(stock, level, ytd)
    df["jan_feb_combined"] = combined & ~stock
    return df[["reporter_code", "period", "indicator_code", "month_value", "ytd_value", "note",
               "jan_feb_combined"]]


def period_label(period: Period) -> str:
    """How the snapshot names its span. February is always 1-2月, which is also what a combined
    1-2月 report (a February cumulative with no January) is published as; its 本月 is the
    combined figure (flagged `jan_feb_combined`)."""
    return period.label_zh


def compute_township(values: pd.DataFrame, catalog: Catalog, township: str, period: Period) -> pd.DataFrame:
    """One row per catalog indicator: the township figure for `period` (columns SNAPSHOT + DISPLAY).

    `values`: current reporter values (publish_io.VALUE_COLUMNS) covering at least period−1, period and
    the same two months last year.
    """
    inds, figs = _resolved(values, catalog)
    return _township_table(figs, inds, expected_pairs(catalog, township), catalog, township, period)


def township_month(values: pd.DataFrame, catalog: Catalog, township: str, period: Period,
                   trend_indicators: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """compute_township, and monthly_ytd of its first `trend_indicators` headline indicators (the report's trend),
    from the reporters' figures resolved once."""
    inds, figs = _resolved(values, catalog)
    expected = expected_pairs(catalog, township)
    table = _township_table(figs, inds, expected, catalog, township, period)
    headline = table[table["headline"].notna()].sort_values("headline")["indicator_code"].tolist()
    return table, _ytd_by_period(figs[figs["indicator_code"].isin(headline[:trend_indicators])], expected)


def _resolved(values: pd.DataFrame, catalog: Catalog) -> tuple[pd.DataFrame, pd.DataFrame]:
    inds = indicator_frame(catalog)
    return inds, resolve_figures(values, dict(zip(inds["indicator_code"], inds["measure"])))


def _township_table(figs: pd.DataFrame, inds: pd.DataFrame, expected: pd.DataFrame, catalog: Catalog,
                    township: str, period: Period) -> pd.DataFrame:
    key = ["indicator_code", "reporter_code"]
    cur = figs[figs["period"].eq(str(period))]
    last = figs[figs["period"].eq(str(period.same_month_last_year()))]
    e = (expected
         .merge(cur[key + ["month_value", "ytd_value", "note", "jan_feb_combined"]], how="left", on=key)
         .merge(last[key + ["ytd_value"]].rename(columns={"ytd_value": "prior"}), how="left", on=key))
    # Reported = the reporter gave a figure; a month with no derivable ytd still counts (and the
    # snapshot suite then flags the missing ytd instead of calling the reporter missing).
    e["reported"] = e["ytd_value"].notna() | e["month_value"].notna()
    e = comparable_base(e)
    e["jan_feb_combined"] = e["jan_feb_combined"].eq(True)
    e["note"] = _labelled_notes(e, inds)
    agg = sum_figures(e).assign(jan_feb_combined=e.groupby("indicator_code", sort=False)["jan_feb_combined"].any())
    missing = e[~e["reported"]].groupby("indicator_code")["reporter_code"].agg(",".join)
    notes = e[e["note"].ne("")].groupby("indicator_code")["note"].agg("；".join)
    out = inds.merge(agg, how="left", left_on="indicator_code", right_index=True)
    out["missing_reporters"] = out["indicator_code"].map(missing)
    out["note"] = out["indicator_code"].map(notes).fillna("")
    out["reporters_expected"] = out["reporters_expected"].fillna(0).astype("int64")
    out["reporters_reported"] = out["reporters_reported"].fillna(0).astype("int64")
    out["jan_feb_combined"] = out["jan_feb_combined"].eq(True)
    return derived_figures(out, catalog, township, period)


def comparable_base(e: pd.DataFrame) -> pd.DataFrame:
    """Only units (reporters; townships for a county) with a figure in both years enter 去年同期 (`prior`) and
    the matching part of this year (`ytd_cmp`), whose ratio is 同比."""
    both = e["ytd_value"].notna() & e["prior"].notna()
    return e.assign(prior=e["prior"].where(both), ytd_cmp=e["ytd_value"].where(both))


def sum_figures(e: pd.DataFrame) -> pd.DataFrame:
    """Per indicator, from one row per indicator × expected unit: the sums over the units that have a figure
    (NaN when none has: missing is never 0), and how many units are expected and reported."""
    g = e.groupby("indicator_code", sort=False)
    return pd.DataFrame({
        "month_value": g["month_value"].sum(min_count=1),
        "ytd_value": g["ytd_value"].sum(min_count=1),
        "prior_ytd_value": g["prior"].sum(min_count=1),
        "ytd_cmp": g["ytd_cmp"].sum(min_count=1),
        "reporters_expected": g.size(),
        "reporters_reported": g["reported"].sum(),
    })


def _labelled_notes(e: pd.DataFrame, inds: pd.DataFrame) -> pd.Series:
    """备注 as shown: the office's note as is; a village's note prefixed with its code."""
    note = e["note"].fillna("").astype(str).str.strip()
    by_village = e["indicator_code"].map(dict(zip(inds["indicator_code"], inds["aggregation"]))).eq("sum_villages")
    return note.where(~by_village | note.eq(""), e["reporter_code"] + "：" + note)


def derived_figures(out: pd.DataFrame, catalog: Catalog, org_unit: str, period: Period) -> pd.DataFrame:
    """Round to each indicator's decimals, then 同比 (ytd_cmp / prior_ytd_value), 年度任务 (the org unit's target:
    a township's, or a county's for its roll-up), 完成率 and 序时进度差."""
    d = out["decimals"]
    yoy = (out["ytd_cmp"] / out["prior_ytd_value"] - 1) * 100
    yoy = yoy.where(out["prior_ytd_value"].gt(0) & out["ytd_cmp"].notna())
    for col in ("month_value", "ytd_value", "prior_ytd_value"):
        out[col] = round_half_up(out[col], d)
    out["yoy_pct"] = round_half_up(yoy, 1)
    targets = {c: catalog.target(org_unit, period.year, c) for c in out["indicator_code"]}
    out["annual_target"] = out["indicator_code"].map(targets).astype("float64")
    share = (out["ytd_value"] / out["annual_target"] * 100).where(out["annual_target"].gt(0))
    out["target_pct"] = round_half_up(share, 1)
    # 序时进度 applies to flows only: a stock target is a level to reach, not a pace over the months.
    elapsed = period.month / 12 * 100
    out["schedule_gap_pp"] = round_half_up((share - elapsed).where(out["measure"].eq("flow")), 1)
    parent_ytd = dict(zip(out["indicator_code"], out["ytd_value"]))
    out["parent_ytd_value"] = out["parent_code"].map(parent_ytd).astype("float64")
    return out[SNAPSHOT_COLUMNS + DISPLAY_COLUMNS].reset_index(drop=True)


def monthly_ytd(values: pd.DataFrame, catalog: Catalog, township: str, codes: list[str]) -> pd.DataFrame:
    """Township ytd per period for some indicators (sum over the reporters that reported): the trend."""
    _inds, figs = _resolved(values[values["indicator_code"].isin(codes)], catalog)
    return _ytd_by_period(figs, expected_pairs(catalog, township))


def _ytd_by_period(figs: pd.DataFrame, expected: pd.DataFrame) -> pd.DataFrame:
    # Each reporter × indicator resolves from its own months only: the figures of some indicators are the same
    # whether resolved alone or with all the others.
    figs = figs.merge(expected, on=["indicator_code", "reporter_code"])
    return (figs.groupby(["indicator_code", "period"], as_index=False)["ytd_value"].sum(min_count=1)
            .sort_values(["indicator_code", "period"], ignore_index=True))
