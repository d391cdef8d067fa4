"""The county's figures and the townships' ranking from the townships' signed vintages: pure transforms, no IO.

Rules (a county statistics bureau's): the county figure of an additive indicator (catalog `county_aggregation:
sum`) is the sum over the townships whose latest signed vintage has it; a township with no signed figure is
未报, never 0. 同比 compares on a comparable base: only townships whose signed vintage has both this year's
1-本月累计 and 去年同期 (the township's own comparable 去年同期, as it signed it) enter it. 完成率 is against the
county's own target (targets.yaml under the county's code). A non-additive indicator (`none`) has no county
total: its townships are still listed and ranked.

Known limit of the comparable base: a township's signed vintage holds its whole 1-本月累计 and its comparable
去年同期, not the comparable part of this year; where a township has a reporter new this year (left out of its own
base), the county's 同比 counts that reporter's figure in this year's side. Exact only when each township's
reporters are the same in both years, as is usual.
"""

from __future__ import annotations

import pandas as pd

from tasks.compute import comparable_base, derived_figures, indicator_frame, sum_figures
from township.catalog import Catalog
from township.periods import Period

NOT_ADDITIVE_NOTE = "非可加指标，不汇总县合计"
RANKING_COLUMNS = ["township_code", "township_name", "township_vintage", "indicator_code", "indicator_name", "unit",
                   "decimals", "headline", "ytd_value", "yoy_pct", "target_pct", "yoy_rank", "target_rank"]


def township_figures(sources: pd.DataFrame, values: pd.DataFrame, indicators: list[str]) -> pd.DataFrame:
    """One row per indicator × township of the county (every pair, NaN where the township has no signed figure):
    the township's figures as its signed vintage holds them."""
    grid = pd.MultiIndex.from_product([indicators, sources["township_code"].tolist()],
                                      names=["indicator_code", "township_code"]).to_frame(index=False)
    signed = sources.dropna(subset=["source_snapshot_id"])[["township_code", "source_snapshot_id", "source_vintage"]]
    v = values.merge(signed.assign(snapshot_id=signed["source_snapshot_id"].astype("int64")), on="snapshot_id")
    cols = ["month_value", "ytd_value", "prior_ytd_value", "yoy_pct", "target_pct"]
    return grid.merge(v[["indicator_code", "township_code", "source_vintage", *cols]], how="left",
                      on=["indicator_code", "township_code"])


def compute_county(sources: pd.DataFrame, values: pd.DataFrame, catalog: Catalog, county: str,
                   period: Period) -> pd.DataFrame:
    """One row per catalog indicator: the county figure (the columns of a township's table, so that the
    snapshot, exports, report and narrative take it as they are; `reporters_*` count townships).

    sources: one row per township of the county (county_io.read_signed_sources); values: the snapshot_value
    rows of those vintages (county_io.read_source_values)."""
    inds = indicator_frame(catalog)
    additive_codes = {i.code for i in catalog.indicators if i.county_aggregation == "sum"}
    e = township_figures(sources, values, inds["indicator_code"].tolist())
    e["reported"] = e["ytd_value"].notna() | e["month_value"].notna()
    # A non-additive indicator's figures are counted as reported but summed into nothing.
    additive = e["indicator_code"].isin(additive_codes)
    summed = e.assign(month_value=e["month_value"].where(additive), ytd_value=e["ytd_value"].where(additive),
                      prior=e["prior_ytd_value"].where(additive))
    agg = sum_figures(comparable_base(summed))
    missing = e[~e["reported"]].groupby("indicator_code")["township_code"].agg(",".join)
    out = inds.merge(agg, how="left", left_on="indicator_code", right_index=True)
    out["missing_reporters"] = out["indicator_code"].map(missing)
    out["note"] = [""] * len(out)
    out.loc[~out["indicator_code"].isin(additive_codes), "note"] = NOT_ADDITIVE_NOTE
    out["reporters_expected"] = out["reporters_expected"].fillna(0).astype("int64")
    out["reporters_reported"] = out["reporters_reported"].fillna(0).astype("int64")
    out["jan_feb_combined"] = False  # the townships' 1-2月 is already combined in their signed figures
    return derived_figures(out, catalog, county, period)


def competition_rank(values: pd.Series) -> pd.Series:
    """Highest first, ties sharing a rank and the next one skipped (1, 1, 3); NaN stays unranked."""
    return values.rank(method="min", ascending=False, na_option="keep").astype("Int64")


def township_ranking(sources: pd.DataFrame, values: pd.DataFrame, catalog: Catalog,
                     headline_only: bool = True) -> pd.DataFrame:
    """各乡镇主要指标完成情况表 in long form: one row per township × (headline) indicator with its 1-本月累计,
    同比 and 完成率 as the township signed them, and its 位次 by 同比 and by 完成率 among the county's townships
    (未报 or no base: unranked). Ranks compare the published, rounded figures."""
    inds = indicator_frame(catalog)
    if headline_only:
        inds = inds[inds["headline"].notna()].sort_values("headline")
    e = township_figures(sources, values, inds["indicator_code"].tolist())
    e["yoy_rank"] = e.groupby("indicator_code")["yoy_pct"].transform(competition_rank).astype("Int64")
    e["target_rank"] = e.groupby("indicator_code")["target_pct"].transform(competition_rank).astype("Int64")
    e = e.merge(inds[["indicator_code", "indicator_name", "unit", "decimals", "headline"]], on="indicator_code")
    names = {t.code: t.name for t in catalog.townships}
    e["township_name"] = e["township_code"].map(names)
    e["township_vintage"] = e["source_vintage"].astype("Int64")
    order = {c: i for i, c in enumerate(sources["township_code"].tolist())}
    e = e.assign(_t=e["township_code"].map(order)).sort_values(["headline", "_t"], kind="stable")
    return e[RANKING_COLUMNS].reset_index(drop=True)
