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


def round_half_up(a: np.ndarray, decimals: np.ndarray | int) -> np.ndarray:
    """四舍五入 as statistical tables do (numpy rounds half to even); NaN stays NaN. On arrays: a table rounds six
    columns, and each Series operation costs more than the arithmetic itself."""
    f = np.power(10.0, decimals)
    # The tiny epsilon absorbs binary noise such as 1.005 * 100 = 100.49999999999999.
    return np.sign(a) * np.floor(np.abs(a) * f + 0.5 + 1e-9) / f


def indicator_frame(catalog: Catalog) -> pd.DataFrame:
    """One row per indicator in catalog order, with what the computation and display need (a copy: built once per
    catalog, it is asked for by every township published)."""
    return _catalog_arrays(catalog).frame.copy()


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


class _Figures:
    """The reporters' resolved figures as arrays, row for row with the values, plus one last row of nothing (the
    row a lookup that finds nothing points at: -1). Rows are found by (reporter, indicator, month) keys."""

    month: np.ndarray  # 本月, resolved (_resolve)
    ytd: np.ndarray  # 1-本月累计, resolved
    combined: np.ndarray  # a combined 1-2月 report

    def __init__(self, values: pd.DataFrame) -> None:
        cols = {}
        for key in ("reporter_code", "period", "indicator_code"):
            # A warehouse with no values yet gives empty columns typed float: the keys are text whatever the rows.
            codes, uniques = pd.factorize(values[key].astype("str"))
            cols[key] = codes, np.asarray(uniques, dtype=object)
        (r, self.reporters), (self.p, self.periods), (i, self.indicators) = cols.values()
        self.reporter_index = {c: n for n, c in enumerate(self.reporters)}
        self.indicator_index = {c: n for n, c in enumerate(self.indicators)}
        # A period as a month count; January's previous month is never looked for ("YYYY-00" is no period).
        year = np.array([int(q[:4]) for q in self.periods], dtype="int64")
        month = np.array([int(q[5:7]) for q in self.periods], dtype="int64")
        months = year * 12 + month - 1
        self.first_month = int(months.min()) if len(months) else 0
        self.months = int(months.max()) - self.first_month + 1 if len(months) else 1
        self.month_of, self.calendar_month = months[self.p], month[self.p]
        self.r, self.i = r, i
        self.key = self._key(r, i, self.month_of)
        self.order = np.argsort(self.key, kind="stable")
        self.sorted_keys = self.key[self.order]
        self.note = np.append(values["note"].to_numpy(dtype=object), None)

    def _key(self, r: np.ndarray, i: np.ndarray, months: np.ndarray) -> np.ndarray:
        return (r * len(self.indicators) + i) * self.months + (months - self.first_month)

    def find(self, r: np.ndarray, i: np.ndarray, months: np.ndarray) -> np.ndarray:
        """The row of each (reporter code, indicator code, month count) asked for, or -1; a code < 0 or a month out
        of the values' range finds nothing."""
        ok = (r >= 0) & (i >= 0) & (months >= self.first_month) & (months < self.first_month + self.months)
        if not len(self.sorted_keys):
            return np.full(len(r), -1)
        q = self._key(r, i, months)
        pos = np.minimum(np.searchsorted(self.sorted_keys, q), len(self.sorted_keys) - 1)
        return np.where(ok & (self.sorted_keys[pos] == q), self.order[pos], -1)

    def month_count(self, period: str) -> int:
        return int(period[:4]) * 12 + int(period[5:7]) - 1


def _resolve(values: pd.DataFrame, measures: dict[str, str]) -> _Figures:
    """Per reporter × period × indicator: 本月 and 1-本月累计 with the unreported one derived.

    Flow: January's month is its ytd; otherwise month = ytd − last month's ytd and ytd = last ytd + month.
    A February with no January row is the combined 1-2月 report: its month and ytd are the same figure.
    Stock: the month-end level is both month and ytd.
    """
    f = _Figures(values)
    nan = np.nan
    m = values["month_value"].astype("float64").to_numpy()
    y = values["ytd_value"].astype("float64").to_numpy()
    month = f.calendar_month
    prev = f.find(f.r, f.i, np.where(month == 1, -1, f.month_of - 1))
    prev_row = prev >= 0
    prev_month = np.where(prev_row, np.append(m, nan)[prev], nan)
    prev_ytd = np.where(prev_row, np.append(y, nan)[prev], nan)
    # Last month's ytd; a January that reported only its month value has ytd = month.
    prev_ytd = np.where(~np.isnan(prev_ytd), prev_ytd, np.where(month == 2, prev_month, nan))
    first = month == 1
    combined = (month == 2) & ~prev_row
    has_prev = ~np.isnan(prev_ytd)
    ytd = np.where(~np.isnan(y), y, np.where(has_prev, prev_ytd + m, np.where(first | combined, m, nan)))
    mon = np.where(~np.isnan(m), m, np.where(has_prev, y - prev_ytd, np.where(first | combined, y, nan)))
    stock = np.array([measures.get(c) == "stock" for c in f.indicators], dtype=bool)[f.i]
    level = np.where(~np.isnan(m), m, y)
    f.month = np.append(np.where(stock, level, mon), nan)
    f.ytd = np.append(np.where(stock, level, ytd), nan)
    f.combined = np.append(combined & ~stock, False)
    return f


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
    return township_month(values, catalog, township, period, 0)[0]


def township_month(values: pd.DataFrame, catalog: Catalog, township: str, period: Period,
                   trend_indicators: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """compute_township, and monthly_ytd of its first `trend_indicators` headline indicators (the report's trend),
    from the figures resolved once."""
    cat = _catalog_arrays(catalog)
    figs = _resolve(values, cat.measures)
    pairs = _Pairs(cat, catalog, township, figs)
    table = _township_table(figs, pairs, cat, catalog, township, period)
    return table, _ytd_by_period(figs, pairs, cat.headline_order[:trend_indicators])


class _CatalogArrays:
    """What computing a township needs of the catalog, once per catalog."""

    def __init__(self, catalog: Catalog) -> None:
        self.frame = _indicator_frame(catalog)
        self.codes = [i.code for i in catalog.indicators]
        self.measures = {i.code: i.measure for i in catalog.indicators}
        self.by_villages = np.array([i.aggregation == "sum_villages" for i in catalog.indicators], dtype=bool)
        headline = self.frame[self.frame["headline"].notna()].sort_values("headline")
        self.headline_order = headline["indicator_code"].tolist()


def _catalog_arrays(catalog: Catalog) -> _CatalogArrays:
    hit = _CATALOG_ARRAYS.get(id(catalog))
    if hit is None or hit[0] is not catalog:
        if len(_CATALOG_ARRAYS) >= 8:
            _CATALOG_ARRAYS.clear()
        hit = _CATALOG_ARRAYS[id(catalog)] = (catalog, _CatalogArrays(catalog))
    return hit[1]


_CATALOG_ARRAYS: dict[int, tuple[Catalog, _CatalogArrays]] = {}  # id(catalog) → (the catalog, its arrays)


class _Pairs:
    """One per indicator × reporter expected to report it in the township, indicator by indicator in catalog
    order: the indicator's catalog position, the reporter's code, and both as the figures' codes (-1: none)."""

    def __init__(self, cat: _CatalogArrays, catalog: Catalog, township: str, figs: _Figures) -> None:
        reps = catalog.expected_reporters(township)
        pairs = [(n, r.code) for n, i in enumerate(catalog.indicators) for r in reps if r.kind == i.owner]
        self.indicator = np.array([n for n, _ in pairs], dtype="int64")
        self.reporter = np.array([r for _, r in pairs], dtype=object)
        self.r = np.array([figs.reporter_index.get(r, -1) for _, r in pairs], dtype="int64")
        self.i = np.array([figs.indicator_index.get(c, -1) for c in cat.codes], dtype="int64")[self.indicator]


def _township_table(figs: _Figures, pairs: _Pairs, cat: _CatalogArrays, catalog: Catalog, township: str,
                    period: Period) -> pd.DataFrame:
    cur = figs.find(pairs.r, pairs.i, np.full(len(pairs.r), figs.month_count(str(period))))
    last = figs.find(pairs.r, pairs.i, np.full(len(pairs.r), figs.month_count(str(period.same_month_last_year()))))
    month, ytd, prior = figs.month[cur], figs.ytd[cur], figs.ytd[last]
    # Reported = the reporter gave a figure; a month with no derivable ytd still counts (and the
    # snapshot suite then flags the missing ytd instead of calling the reporter missing).
    reported = ~np.isnan(ytd) | ~np.isnan(month)
    prior, ytd_cmp = comparable(ytd, prior)
    n = len(cat.codes)
    sums = _group_sums(pairs.indicator, n, month, ytd, prior, ytd_cmp)
    expected = np.bincount(pairs.indicator, minlength=n).astype("int64")
    n_reported = np.bincount(pairs.indicator, weights=reported.astype("float64"), minlength=n).astype("int64")
    combined = np.bincount(pairs.indicator, weights=figs.combined[cur].astype("float64"), minlength=n) > 0
    missing: dict[int, list[str]] = {}
    notes: dict[int, list[str]] = {}
    for ind, rep, row, ok in zip(pairs.indicator, pairs.reporter, cur, reported):
        if not ok:
            missing.setdefault(ind, []).append(rep)
        note = _note_text(figs.note[row])
        if note:
            # 备注 as shown: the office's note as is; a village's note prefixed with its code.
            notes.setdefault(ind, []).append(f"{rep}：{note}" if cat.by_villages[ind] else note)
    out = cat.frame.copy()
    out["month_value"], out["ytd_value"], out["prior_ytd_value"], out["ytd_cmp"] = sums
    out["reporters_expected"], out["reporters_reported"] = expected, n_reported
    out["jan_feb_combined"] = combined
    out["missing_reporters"] = pd.array([",".join(missing[k]) if k in missing else np.nan for k in range(n)],
                                        dtype="str")
    out["note"] = pd.array(["；".join(notes[k]) if k in notes else "" for k in range(n)], dtype="str")
    return derived_figures(out, catalog, township, period)


def _note_text(note: object) -> str:
    return "" if note is None or note is pd.NA or (isinstance(note, float) and np.isnan(note)) else str(note).strip()


def _group_sums(group: np.ndarray, groups: int, *columns: np.ndarray) -> list[np.ndarray]:
    """Per group (0…groups−1), each column's sum over its rows with a figure, in row order; NaN when none has one
    (missing is never 0). This is pandas' groupby sum(min_count=1) step for step, its compensated (Kahan)
    summation included, so the figures are those pandas gives to the last bit."""
    order = np.argsort(group, kind="stable")
    g = group[order]
    rank = np.arange(len(g)) - np.searchsorted(g, g)  # the row's place in its group
    steps = [(g[rank == k], np.flatnonzero(rank == k)) for k in range(int(rank.max()) + 1 if len(g) else 0)]
    out = []
    for col in columns:
        v = col[order]
        total, comp, seen = np.zeros(groups), np.zeros(groups), np.zeros(groups, dtype=bool)
        for lab, rows in steps:
            val = v[rows]
            has = ~np.isnan(val)
            lab, val = lab[has], val[has]
            seen[lab] = True
            y = val - comp[lab]
            t = total[lab] + y
            c = t - total[lab] - y
            comp[lab] = np.where(np.isnan(c), 0.0, c)  # an infinite figure: no compensation (pandas GH#53606)
            total[lab] = t
        out.append(np.where(seen, total, np.nan))
    return out


def comparable(ytd: np.ndarray, prior: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """同比 on a comparable base: only units (reporters; townships for a county) with a figure in both years
    enter 去年同期 and the matching part of this year. Returns (prior, ytd_cmp), NaN where a unit lacks either;
    同比 is the ratio of their sums."""
    both = ~np.isnan(ytd) & ~np.isnan(prior)
    return np.where(both, prior, np.nan), np.where(both, ytd, np.nan)


def comparable_base(e: pd.DataFrame) -> pd.DataFrame:
    """`comparable` on a frame of units (columns ytd_value and prior): adds ytd_cmp, restricts prior."""
    prior, ytd_cmp = comparable(e["ytd_value"].to_numpy(dtype="float64"), e["prior"].to_numpy(dtype="float64"))
    return e.assign(prior=prior, ytd_cmp=ytd_cmp)


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


def derived_figures(out: pd.DataFrame, catalog: Catalog, org_unit: str, period: Period) -> pd.DataFrame:
    """Round to each indicator's decimals, then 同比 (ytd_cmp / prior_ytd_value), 年度任务 (the org unit's target:
    a township's, or a county's for its roll-up), 完成率 and 序时进度差. On the columns' arrays: a table is a few
    hundred rows, and each Series operation costs more than its arithmetic."""
    d = out["decimals"].to_numpy()
    ytd_cmp, prior = out["ytd_cmp"].to_numpy(dtype="float64"), out["prior_ytd_value"].to_numpy(dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        yoy = np.where((prior > 0) & ~np.isnan(ytd_cmp), (ytd_cmp / prior - 1) * 100, np.nan)
    for col in ("month_value", "ytd_value", "prior_ytd_value"):
        out[col] = round_half_up(out[col].to_numpy(dtype="float64"), d)
    out["yoy_pct"] = round_half_up(yoy, 1)
    codes = out["indicator_code"].tolist()
    target = np.array([_number(catalog.target(org_unit, period.year, c)) for c in codes], dtype="float64")
    out["annual_target"] = target
    ytd = out["ytd_value"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(target > 0, ytd / target * 100, np.nan)
    out["target_pct"] = round_half_up(share, 1)
    # 序时进度 applies to flows only: a stock target is a level to reach, not a pace over the months.
    elapsed = period.month / 12 * 100
    out["schedule_gap_pp"] = round_half_up(np.where(out["measure"].eq("flow").to_numpy(), share - elapsed, np.nan), 1)
    parent_ytd = dict(zip(codes, ytd.tolist()))
    out["parent_ytd_value"] = np.array([parent_ytd.get(p, np.nan) if isinstance(p, str) else np.nan
                                        for p in out["parent_code"].tolist()], dtype="float64")
    return out[SNAPSHOT_COLUMNS + DISPLAY_COLUMNS].reset_index(drop=True)


def _number(x: float | None) -> float:
    return np.nan if x is None else float(x)


def monthly_ytd(values: pd.DataFrame, catalog: Catalog, township: str, codes: list[str]) -> pd.DataFrame:
    """Township ytd per period for some indicators (sum over the reporters that reported): the trend."""
    cat = _catalog_arrays(catalog)
    figs = _resolve(values, cat.measures)
    return _ytd_by_period(figs, _Pairs(cat, catalog, township, figs), codes)


def _ytd_by_period(figs: _Figures, pairs: _Pairs, codes: list[str]) -> pd.DataFrame:
    """Per indicator of `codes` and period, the ytd summed over the expected reporters' figures (in the values'
    order), rows sorted by indicator and period. Each reporter × indicator resolves from its own months only: the
    figures of some indicators are the same whether resolved alone or with all the others."""
    wanted = np.zeros((len(figs.reporters), len(figs.indicators)), dtype=bool)
    chosen = np.zeros(len(figs.indicators), dtype=bool)
    chosen[[figs.indicator_index[c] for c in codes if c in figs.indicator_index]] = True
    has = (pairs.r >= 0) & (pairs.i >= 0)
    wanted[pairs.r[has], pairs.i[has]] = True
    rows = np.flatnonzero(wanted[figs.r, figs.i] & chosen[figs.i])
    # groups sorted by indicator code, then period (a month count sorts as its YYYY-MM text)
    rank = np.empty(len(figs.indicators), dtype="int64")
    rank[np.argsort(figs.indicators.astype(str), kind="stable")] = np.arange(len(figs.indicators))
    keys, first, group = np.unique(rank[figs.i[rows]] * figs.months + (figs.month_of[rows] - figs.first_month),
                                   return_index=True, return_inverse=True)
    (ytd,) = _group_sums(group.reshape(-1), len(keys), figs.ytd[rows])
    first = rows[first]
    return pd.DataFrame({"indicator_code": pd.array(figs.indicators[figs.i[first]], dtype="str"),
                         "period": pd.array(figs.periods[figs.p[first]], dtype="str"), "ytd_value": ytd})
