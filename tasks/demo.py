"""`township demo`: a realistic inbox for the fictional township — seasonal figures in messy but valid forms,
late files, and a few real mistakes each followed by its corrected resubmission (see DemoManifest)."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from tasks.templates import FormRow, form_rows, write_csv_form, write_form
from township.catalog import Catalog, Indicator
from township.periods import Period
from township.text import normalize_text

NORMAL, MISTAKE, CORRECTION, LATE = "normal", "mistake", "correction", "late"
ANCHOR_YEAR = 2021  # the year the demo's levels are set for (the catalog's targets); other years scale from it

# Relative monthly weights, January..December, of each kind of flow.
_PROFILES = {
    "economy": [4, 5, 8, 8, 9, 9, 8, 8, 9, 9, 10, 13],
    "fiscal": [10, 6, 8, 8, 9, 9, 8, 7, 8, 9, 8, 10],
    "investment": [3, 5, 8, 8, 9, 10, 8, 8, 10, 9, 10, 12],
    "tourism": [3, 4, 12, 16, 9, 6, 7, 8, 10, 13, 7, 5],  # peach blossom festival, then autumn
    "training": [2, 3, 9, 10, 10, 10, 6, 6, 11, 12, 12, 9],
    "planting": [0, 0, 35, 30, 0, 0, 0, 0, 0, 5, 25, 5],
    "construction": [0, 0, 5, 10, 14, 15, 12, 12, 12, 10, 6, 4],
    "heating": [0, 0, 0, 0, 0, 0, 2, 5, 25, 35, 28, 5],  # before the heating season
    "festive": [30, 25, 3, 3, 3, 3, 10, 3, 8, 6, 3, 3],  # Spring Festival visits, 七一, 重阳
    "collective": [20, 5, 6, 6, 7, 7, 7, 7, 7, 8, 8, 12],  # land rents paid at the turn of the year
    "even": [1] * 12,
}
# Flow: (ANCHOR_YEAR township figure when the catalog sets no target, profile, month noise σ).
_FLOWS = {
    "fixed_asset_investment": (50000, "economy", 0.2),
    "industrial_output": (95000, "economy", 0.1),
    "services_revenue": (35000, "economy", 0.1),
    "trade_sales": (44000, "economy", 0.12),
    "fiscal_revenue": (6600, "fiscal", 0.1),
    "investment_funds": (12.0, "investment", 0.35),
    "projects_signed": (24, "investment", 0.3),
    "tourist_visits": (82, "tourism", 0.1),
    "tourism_revenue": (20500, "tourism", 0.1),
    "academy_trainees": (19500, "training", 0.15),
    "peach_new_variety_area": (580, "planting", 0.2),
    "sewage_villages_done": (4, "construction", 0.2),
    "house_renovations": (58, "construction", 0.2),
    "clean_heating": (880, "heating", 0.2),
    "party_lectures": (96, "even", 0.2),
    "condolence_funds": (45, "festive", 0.15),
    "village_collective_income": (255, "collective", 0.2),
}
_FLOW_DEFAULT = (100, "even", 0.15)
# Stock: township level in January of ANCHOR_YEAR.
_STOCKS = {"herb_area": 3300, "bee_colonies": 1550, "coops_operating": 13, "coop_households": 1300}
_DECLINING = {"trade_sales"}  # shows 同比下降 in the report

# How each reporter fills its forms (all valid per the intake contract).
_CSV = {"V04": ("utf-8-sig", False), "V08": ("gbk", True)}  # reporter: (encoding, Chinese headers)
_TEXT_NUMBERS = {"econ"}  # numbers typed as text with thousands separators: "12,345"
_STOCK_YTD_REPEATED = {"agri"}  # other reporters leave 1-本月累计 of a stock blank
_HEADER_UNIT = {("invest", 2020): "亿元"}  # "单位：亿元" above the table, rows without a unit of their own
_YUAN = {("V02", 2021): "village_collective_income"}  # a new accountant writes 元 instead of 万元
_FULL_WIDTH = {("tourism", 4): "tourist_visits"}  # typed with an IME in full-width mode: １２．３４
_FULL_WIDTH_DIGITS = str.maketrans("0123456789.,", "０１２３４５６７８９．，")
_NOTES = {("tourism", 4, "tourist_visits"): "桃花节", ("party", 1, "condolence_funds"): "春节走访慰问",
          ("social", 10, "clean_heating"): "采暖季前集中改造"}
# Not reported (blank is not 0): written as "—" or left empty.
_BLANKS = {("agri", "2020-02", "bee_colonies"): "—", ("party", "2020-12", "party_lectures"): None}


def _jan_with_feb(reporter: str, year: int) -> bool:
    """Offices that send no January form, only a February form with the 1-2月 cumulative."""
    return reporter == "econ" or (reporter == "finance" and year == 2021)


# Late files: (reporter, period) → day of the next month received. V09's July comes after the 10th,
# so July is first published without it (未报) and its arrival makes vintage 2.
_LATE = {("agri", "2020-11"): 8, ("party", "2021-04"): 7, ("V09", "2021-07"): 12, ("V03", "2021-10"): 6}
# Mistakes: (reporter, period) → (conflict code intake must report, catalog code of the row at fault,
# note on the corrected row, day the correction arrives or None = within 2-30 hours).
_MISTAKES = {
    ("invest", "2021-03"): ("E_UNIT_UNKNOWN", "investment_funds", "已更正计量单位", 7),
    ("tourism", "2021-05"): ("E_INDICATOR_UNKNOWN", "tourist_visits", "已更正指标代码", None),
    ("invest", "2021-06"): ("E_PART_EXCEEDS_TOTAL", "investment_funds_yrd", "已更正长三角资金", None),
    ("econ", "2021-08"): ("E_YTD_DECREASED", "industrial_output", "已更正累计数", None),
}
_TYPO = {"tourist_visits": "tourist_vists"}
# Revisions after publication: the first form understates one row, the correction arrives on that day
# of the next month (after the 10th) with the full figure, making vintage 2 of the month.
_REVISIONS = {("econ", "2021-09"): ("fixed_asset_investment", 18, "补录新开工项目投资")}


@dataclass(frozen=True)
class DemoFile:
    """One file in the demo inbox, with the time it was received (its mtime)."""

    path: Path
    reporter: str
    period: Period
    kind: str  # normal | mistake | correction | late
    received_at: dt.datetime
    deadline: dt.datetime
    expected_error: str | None = None  # mistake files: the conflict code intake must report
    indicator: str | None = None  # mistake / correction files: the catalog code of the row at fault

    @property
    def on_time(self) -> bool:
        return self.received_at < self.deadline


@dataclass
class DemoManifest:
    """What `write_demo_inbox` wrote: every file, and every value each file states."""

    inbox: Path
    first: Period
    last: Period
    seed: int
    files: list[DemoFile] = field(default_factory=list)
    # One row per file × indicator row: path, reporter, period, indicator_code (as written), month_value and
    # ytd_value as written (NaN = not reported), unit (as the reader sees it), note, and the values in the
    # catalog's unit (month_canonical, ytd_canonical; NaN where the unit cannot convert).
    values: pd.DataFrame = field(default_factory=pd.DataFrame)

    def of_kind(self, kind: str) -> list[DemoFile]:
        return [f for f in self.files if f.kind == kind]

    @property
    def mistakes(self) -> dict[Path, str]:
        """Each mistake file and the conflict code intake must report for it."""
        return {f.path: f.expected_error for f in self.files if f.kind == MISTAKE}

    def summary(self) -> str:
        """One paragraph for the command line: what was written and which files intake should reject."""
        counts = {k: len(self.of_kind(k)) for k in (NORMAL, LATE, MISTAKE, CORRECTION)}
        lines = [f"{len(self.files)} files from {len({f.reporter for f in self.files})} reporters, "
                 f"{self.first}..{self.last}, in {self.inbox}: " + ", ".join(f"{n} {k}" for k, n in counts.items())]
        lines += [f"  {f.path.relative_to(self.inbox)}: {f.kind}, received {f.received_at:%Y-%m-%d %H:%M}"
                  + (f", expect {f.expected_error} ({f.indicator})" if f.expected_error else "")
                  for f in self.files if f.kind != NORMAL]
        return "\n".join(lines)

    def current_values(self) -> pd.DataFrame:
        """Per reporter × period × indicator, the values current once every file is taken in (canonical unit)."""
        good = {str(f.path): f.received_at for f in self.files if f.kind != MISTAKE}
        v = self.values[self.values["path"].isin(good)].copy()
        v["received_at"] = v["path"].map(good)
        v = v.sort_values("received_at", kind="stable")
        v = v.drop_duplicates(["reporter", "period", "indicator_code"], keep="last")
        return v[["reporter", "period", "indicator_code", "month_canonical", "ytd_canonical"]].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------- figures


def demo_figures(catalog: Catalog, township: str, first: Period, last: Period, seed: int) -> pd.DataFrame:
    """The true figures: one row per reporter × indicator × period (str), month_value and ytd_value in the
    catalog's unit. A stock's level is its month_value (ytd_value NaN). Pure: no IO."""
    rng = np.random.default_rng(seed)
    years = np.arange(first.year, last.year + 1)
    reporters = catalog.expected_reporters(township)
    continuous: dict[tuple[str, str], np.ndarray] = {}  # parents' unrounded months, for their 其中 items
    cols: dict[str, list] = {"reporter": [], "indicator_code": [], "month": [], "month_value": [], "ytd_value": []}
    for ind in catalog.indicators:
        owners = [r.code for r in reporters if r.kind == ind.owner]
        if not owners:
            continue
        shares = rng.dirichlet(np.full(len(owners), 4.0)) if ind.aggregation == "sum_villages" else np.ones(len(owners))
        growth = rng.uniform(0.88, 0.95) if ind.code in _DECLINING else rng.uniform(1.05, 1.15)
        for reporter, share in zip(owners, shares):
            if ind.measure == "stock":
                month, ytd = _stock_series(ind, years, share, growth, rng), np.full((len(years), 12), np.nan)
            else:
                parent = continuous.get((reporter, ind.parent or ""))
                month, ytd, cont = _flow_series(catalog, township, ind, years, share, growth, parent, rng)
                continuous[(reporter, ind.code)] = cont
            n = month.size
            cols["reporter"] += [reporter] * n
            cols["indicator_code"] += [ind.code] * n
            cols["month"] += [f"{y:04d}-{m:02d}" for y in years for m in range(1, 13)]
            cols["month_value"] += month.ravel().tolist()
            cols["ytd_value"] += ytd.ravel().tolist()
    df = pd.DataFrame(cols).rename(columns={"month": "period"})
    return df[(df["period"] >= str(first)) & (df["period"] <= str(last))].reset_index(drop=True)


def _annual_anchor(catalog: Catalog, township: str, ind: Indicator, rng: np.random.Generator) -> float:
    target = catalog.target(township, ANCHOR_YEAR, ind.code)
    if target is not None:  # roughly achievable: 96-105 % of the task
        return target * rng.uniform(0.96, 1.05)
    return float(_FLOWS.get(ind.code, _FLOW_DEFAULT)[0])


def _flow_series(catalog: Catalog, township: str, ind: Indicator, years: np.ndarray, share: float, growth: float,
                 parent: np.ndarray | None, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Months and cumulatives (years × 12): rounding the cumulative first makes the identity exact."""
    _, profile, sigma = _FLOWS.get(ind.code, _FLOW_DEFAULT)
    if parent is not None:  # a 其中 item: a varying share of its parent, so never above it
        cont = parent * rng.uniform(0.3, 0.5, parent.shape)
    else:
        annual = _annual_anchor(catalog, township, ind, rng) * share * growth ** (years - ANCHOR_YEAR)
        weights = np.asarray(_PROFILES[profile], float) * np.exp(rng.normal(0, sigma, (len(years), 12)))
        cont = annual[:, None] * weights / weights.sum(axis=1, keepdims=True)
    ytd = np.round(np.cumsum(cont, axis=1), ind.decimals)
    month = np.round(np.diff(ytd, axis=1, prepend=0.0), ind.decimals)
    return month, ytd, cont


def _stock_series(ind: Indicator, years: np.ndarray, share: float, growth: float,
                  rng: np.random.Generator) -> np.ndarray:
    """Month-end levels that rise slowly (never fall) at `growth` a year."""
    level = _STOCKS.get(ind.code, 100) * share
    t = (np.arange(len(years) * 12) - 12 * (ANCHOR_YEAR - years[0])) / 12
    levels = level * growth**t * (1 + rng.normal(0, 0.004, t.size))
    levels = np.maximum.accumulate(np.round(levels, ind.decimals))
    return levels.reshape(len(years), 12)


# ---------------------------------------------------------------------------------------------- files


@dataclass
class _Plan:
    file: DemoFile
    rows: list[FormRow]
    period_text: str | None = None
    header_unit: str | None = None


def plan_demo_files(catalog: Catalog, figures: pd.DataFrame, inbox: Path, tz: ZoneInfo, township: str,
                    first: Period, last: Period, seed: int) -> list[_Plan]:
    """Every file of the demo inbox with its rows and receipt time, in the order received. Pure: no IO."""
    rng = np.random.default_rng(seed + 1)
    figure = {(r, i, p): (m, y) for r, i, p, m, y in zip(figures["reporter"], figures["indicator_code"],
                                                          figures["period"], figures["month_value"],
                                                          figures["ytd_value"])}
    reporters = catalog.expected_reporters(township)
    plans: list[_Plan] = []
    period = first
    while period <= last:
        for rep in reporters:
            if not (period.month == 1 and _jan_with_feb(rep.code, period.year)):
                plans += _plans_for(catalog, figure, inbox, tz, rep.code, rep.kind, period, rng)
        period = period.next()
    plans.sort(key=lambda p: p.file.received_at)
    return plans


def _plans_for(catalog: Catalog, figure: dict, inbox: Path, tz: ZoneInfo, reporter: str, kind: str,
               period: Period, rng: np.random.Generator) -> list[_Plan]:
    """The file a reporter sends for a period, or a mistake and its correction, or a form and its revision."""
    key = (reporter, str(period))
    combined = period.month == 2 and _jan_with_feb(reporter, period.year)
    base = _filled_rows(catalog, figure, reporter, period, combined)
    deadline = catalog.deadline_for(period, tz)
    ext = ".csv" if reporter in _CSV else ".xlsx"
    path = inbox / reporter / f"{reporter}_{period}{ext}"
    corrected = path.with_name(f"{reporter}_{period}_更正{ext}")
    header_unit = _HEADER_UNIT.get((reporter, period.year))
    text = (f"{period.year}年1-2月" if combined else str(period) if reporter == "tourism"
            else f"{period.year}年{period.month}月" if kind == "village" else None)

    def plan(p: Path, k: str, rows: list[FormRow], when: dt.datetime, error: str | None = None,
             ind: str | None = None) -> _Plan:
        styled = [_styled(catalog, reporter, period, r, header_unit) for r in rows]
        return _Plan(DemoFile(p, reporter, period, k, when, deadline, error, ind), styled, text, header_unit)

    if key in _MISTAKES:
        code, ind, note, day = _MISTAKES[key]
        received = _received(tz, period, rng, last_day=4)
        fixed_at = (_received(tz, period, rng, day=day) if day
                    else received + dt.timedelta(seconds=int(rng.integers(2 * 3600, 30 * 3600))))
        wrong = _with_mistake(catalog, figure, base, code, ind, reporter, period)
        fixed = [replace(r, note=note) if r.code == ind else r for r in base]
        return [plan(path, MISTAKE, wrong, received, code, ind), plan(corrected, CORRECTION, fixed, fixed_at, None, ind)]
    if key in _REVISIONS:
        ind, day, note = _REVISIONS[key]
        understated = [_understated(catalog, r) if r.code == ind else r for r in base]
        fixed = [replace(r, note=note) if r.code == ind else r for r in base]
        return [plan(path, NORMAL, understated, _received(tz, period, rng)),
                plan(corrected, CORRECTION, fixed, _received(tz, period, rng, day=day), None, ind)]
    late_day = _LATE.get(key)
    return [plan(path, LATE if late_day else NORMAL, base, _received(tz, period, rng, day=late_day))]


def _filled_rows(catalog: Catalog, figure: dict, reporter: str, period: Period, combined: bool) -> list[FormRow]:
    """The reporter's form rows holding the true figures (numbers, None = blank)."""
    rows = []
    for row in form_rows(catalog, reporter):
        ind = catalog.indicator_by_code[row.code]
        month, ytd = (None if v != v else v for v in figure[(reporter, row.code, str(period))])  # NaN → blank
        if ind.measure == "stock":
            ytd = month if reporter in _STOCK_YTD_REPEATED else None
        elif combined:  # the 1-2月 form: only the cumulative is known
            month = None
        blank = (reporter, str(period), row.code)
        if blank in _BLANKS:
            month = ytd = _BLANKS[blank]
        rows.append(replace(row, month=month, ytd=ytd, note=_NOTES.get((reporter, period.month, row.code), "")))
    return rows


def _with_mistake(catalog: Catalog, figure: dict, rows: list[FormRow], code: str, ind_code: str,
                  reporter: str, period: Period) -> list[FormRow]:
    """The same form with one real mistake in the row of `ind_code`."""
    ind = catalog.indicator_by_code[ind_code]
    out = []
    for r in rows:
        if r.code == ind_code:
            if code == "E_UNIT_UNKNOWN":
                r = replace(r, unit="美元")
            elif code == "E_INDICATOR_UNKNOWN":
                r = replace(r, code=_TYPO[ind_code])
            elif code == "E_YTD_DECREASED":  # the last digit dropped, 本月 left blank
                r = replace(r, month=None, ytd=float(int(r.ytd) // 10))
            elif code == "E_PART_EXCEEDS_TOTAL":  # the total typed into the 其中 row, plus a bit
                total = next(t for t in rows if t.code == ind.parent)
                prev = 0.0 if period.month == 1 else figure[(reporter, ind_code, str(period.prev()))][1]
                ytd = round(total.ytd + 0.12, ind.decimals)
                r = replace(r, month=round(ytd - prev, ind.decimals), ytd=ytd)
        out.append(r)
    return out


def _understated(catalog: Catalog, row: FormRow) -> FormRow:
    """A first report missing part of the month (a project not yet entered)."""
    d = catalog.indicator_by_code[row.code].decimals
    short = max(round(row.month * 0.08, d), 10.0**-d)
    return replace(row, month=round(row.month - short, d), ytd=round(row.ytd - short, d))


def _styled(catalog: Catalog, reporter: str, period: Period, row: FormRow, header_unit: str | None) -> FormRow:
    """Write a row's numbers the way this reporter types them: int, text with separators, full-width, 元."""
    ind = catalog.indicator_by_code.get(row.code) or catalog.indicator_by_code[_untypo(row.code)]
    decimals, unit = ind.decimals, row.unit
    month, ytd = row.month, row.ytd
    if _YUAN.get((reporter, period.year)) == ind.code and unit == ind.unit:
        factor = catalog.convert_factor(ind.unit, "元")
        decimals, unit = max(decimals - 4, 0), "元"
        month, ytd = (v if not isinstance(v, float) else round(v * factor, decimals) for v in (month, ytd))
    if header_unit and unit == header_unit:
        unit = ""

    def cell(v: object) -> object:
        if not isinstance(v, float):
            return v  # None (blank) or "—"
        if reporter in _TEXT_NUMBERS:
            return f"{v:,.{decimals}f}"
        return int(round(v)) if decimals == 0 else round(v, decimals)

    month, ytd = cell(month), cell(ytd)
    if _FULL_WIDTH.get((reporter, period.month)) == ind.code and isinstance(month, float):
        month = f"{month:.{decimals}f}".translate(_FULL_WIDTH_DIGITS)
    return replace(row, unit=unit, month=month, ytd=ytd)


def _untypo(code: str) -> str:
    return next(k for k, v in _TYPO.items() if v == code)


def _received(tz: ZoneInfo, period: Period, rng: np.random.Generator, *, day: int | None = None,
              last_day: int = 5) -> dt.datetime:
    """A receipt time in the next month: on `day`, or in the 1st..`last_day` (most on the 3rd-5th)."""
    nxt = period.next()
    if day is None:
        weights = np.array([1, 2, 3, 3, 2][:last_day], float)
        day = int(rng.choice(np.arange(1, last_day + 1), p=weights / weights.sum()))
    hour, minute, second = (int(x) for x in rng.integers([8, 0, 0], [22, 60, 60]))
    return dt.datetime(nxt.year, nxt.month, day, hour, minute, second, tzinfo=tz)


def _number(value: object) -> float:
    """The number a cell states (NaN = not reported), as a reader should see it."""
    if value is None:
        return float("nan")
    if isinstance(value, str):
        s = normalize_text(value).replace(",", "")
        return float("nan") if s in ("", "—") else float(s)
    return float(value)


# ---------------------------------------------------------------------------------------------- writing


def write_demo_inbox(inbox: Path, catalog: Catalog, tz: ZoneInfo, *, first: Period = Period(2020, 1),
                     last: Period = Period(2021, 12), seed: int = 2021, township: str | None = None) -> DemoManifest:
    """Write the demo inbox (one folder per reporter), each file's mtime set to its receipt time."""
    inbox = Path(inbox)
    township = township or catalog.townships[0].code
    figures = demo_figures(catalog, township, first, last, seed)
    plans = plan_demo_files(catalog, figures, inbox, tz, township, first, last, seed)
    for p in plans:
        _write(catalog, p)
    return DemoManifest(inbox, first, last, seed, [p.file for p in plans], _values_frame(catalog, plans))


def _write(catalog: Catalog, plan: _Plan) -> None:
    f = plan.file
    f.path.parent.mkdir(parents=True, exist_ok=True)
    if f.path.suffix == ".csv":
        encoding, chinese = _CSV[f.reporter]
        write_csv_form(f.path, f.reporter, f.period, plan.rows, encoding=encoding, chinese_headers=chinese)
    else:
        write_form(f.path, catalog, f.reporter, f.period, plan.rows, period_text=plan.period_text,
                   reported_on=f.received_at.date(), header_unit=plan.header_unit)
    stamp = f.received_at.timestamp()
    os.utime(f.path, (stamp, stamp))  # intake takes the receipt time from the mtime


def _values_frame(catalog: Catalog, plans: list[_Plan]) -> pd.DataFrame:
    cols: dict[str, list] = {k: [] for k in ("path", "reporter", "period", "indicator_code", "month_value",
                                               "ytd_value", "unit", "note", "factor")}
    for p in plans:
        for r in p.rows:
            ind = catalog.indicator_by_code.get(r.code)
            unit = r.unit or p.header_unit or ""
            factor = catalog.convert_factor(unit or ind.unit, ind.unit) if ind else None
            cols["path"].append(str(p.file.path))
            cols["reporter"].append(p.file.reporter)
            cols["period"].append(str(p.file.period))
            cols["indicator_code"].append(r.code)
            cols["month_value"].append(_number(r.month))
            cols["ytd_value"].append(_number(r.ytd))
            cols["unit"].append(unit)
            cols["note"].append(r.note)
            cols["factor"].append(np.nan if factor is None else factor)
    df = pd.DataFrame(cols)
    df["month_canonical"] = df["month_value"] * df["factor"]
    df["ytd_canonical"] = df["ytd_value"] * df["factor"]
    return df.drop(columns="factor")
