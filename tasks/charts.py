"""The report's PNG charts (matplotlib, Agg), labelled in Chinese with the Noto Sans CJK font of mplfonts.

Three charts per vintage: ytd this year vs last year (headline indicators), completion vs time elapsed,
and the monthly trend of the cumulative for a few headline indicators.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: charts are files

import matplotlib.pyplot as plt  # noqa: E402  (rc_context only)
import pandas as pd  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import MaxNLocator, StrMethodFormatter  # noqa: E402

THIS_YEAR, LAST_YEAR = "#1F5AA6", "#B8C4D6"
TREND_INDICATORS = 4  # how many headline indicators get a trend panel
DPI = 110
# plt.rc_context sets matplotlib's global rcParams and puts them back on exit: a chart drawn in one thread while
# another thread leaves its context would lose the CJK font half-way. Charts are drawn one at a time per process
# (townships publish in parallel threads or processes; their other steps overlap).
_RC = threading.RLock()


@lru_cache(maxsize=1)
def cjk_font() -> str:
    """Register mplfonts' Noto Sans CJK SC with matplotlib once; return its family name."""
    from tasks.fonts import cjk_font_path  # the one font of every artefact: charts, report.html, report.pdf

    path = cjk_font_path()
    font_manager.fontManager.addfont(str(path))
    return font_manager.FontProperties(fname=str(path)).get_name()


def _style() -> dict:
    # unicode_minus off: the CJK font has no U+2212, and ASCII "-" renders the same.
    # axes.titley 1.0: the title sits on the top edge, where automatic placement put it anyway (no decorations
    # above these axes), without measuring every tick label first (a quarter of drawing a chart).
    return {"font.family": [cjk_font()], "axes.unicode_minus": False, "font.size": 9, "axes.titley": 1.0,
            "axes.spines.top": False, "axes.spines.right": False}


def _figure(width: float, height: float) -> Figure:
    # A bare Figure, not pyplot: no global figure registry to lock or leak (townships publish in parallel
    # threads), and nothing to close.
    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _place(fig: Figure, left: float, right: float, top: float, bottom: float, **space: float) -> None:
    """Fixed margins in inches, computed from the labels' lengths, instead of tight_layout: tight_layout
    draws every text once more to measure it, which was a third of a chart's cost."""
    w, h = fig.get_size_inches()
    fig.subplots_adjust(left=left / w, right=1 - right / w, top=1 - top / h, bottom=bottom / h, **space)


def _text_inches(text: str, size: float) -> float:
    """Width of a label in this font, estimated: CJK glyphs are one em wide, Latin and digits about 0.55 em."""
    return sum(1.0 if ord(c) > 0x2E80 else 0.55 for c in text) * size / 72


def _save(fig: Figure, path: Path) -> Path:
    # No metadata: the same vintage draws the same bytes. compress_level 3 instead of 6: PNG encoding was a
    # tenth of the cost, for files ~10 % larger.
    fig.savefig(path, dpi=DPI, metadata={"Software": None}, pil_kwargs={"compress_level": 3})
    return path


def ytd_vs_last_year(table: pd.DataFrame, label: str, path: Path) -> Path:
    """1-本月累计 this year next to the comparable base, one pair of bars per headline indicator.

    One axes, not a panel per indicator: the pairs have different units, so each pair is scaled to its own
    larger bar (there is no y axis; the values are written on the bars) - what the separate panels showed,
    drawn at a fraction of the cost."""
    h = table[table["headline"].notna()].sort_values("headline")
    n = max(len(h), 1)
    with _RC, plt.rc_context(_style()):
        fig = _figure(max(1.3 * n + 0.4, 4.0), 3.2)
        ax = fig.add_subplot()
        names, units = h["indicator_name"].tolist(), h["unit"].tolist()
        for i, (ytd, prior, dec) in enumerate(zip(h["ytd_value"].tolist(), h["prior_ytd_value"].tolist(),
                                                  h["decimals"].tolist())):
            vals = [0.0 if pd.isna(prior) else float(prior), 0.0 if pd.isna(ytd) else float(ytd)]
            top = max(vals) or 1.0
            bars = ax.bar([i - 0.2, i + 0.2], [v / top for v in vals], width=0.38, color=[LAST_YEAR, THIS_YEAR])
            texts = ["—" if pd.isna(prior) else f"{prior:,.{dec}f}", "未报" if pd.isna(ytd) else f"{ytd:,.{dec}f}"]
            ax.bar_label(bars, labels=texts, fontsize=7, padding=1)
        ax.set_xticks(range(len(h)), [f"{nm.replace('其中：', '')}\n（{u}）" for nm, u in zip(names, units)],
                      fontsize=8)
        ax.tick_params(axis="x", length=0)
        ax.set_yticks([])
        ax.spines["left"].set_visible(False)
        ax.set_ylim(0, 1.2)
        ax.set_xlim(-0.6, n - 0.4)
        ax.legend(handles=[Patch(color=LAST_YEAR, label="去年同期"), Patch(color=THIS_YEAR, label="本年")],
                  fontsize=7, frameon=False, loc="upper right", ncols=2)
        fig.suptitle(f"{label}累计与去年同期对比", fontsize=11)
        _place(fig, left=0.1, right=0.1, top=0.45, bottom=0.5)
        return _save(fig, path)


def completion_vs_schedule(table: pd.DataFrame, month: int, path: Path) -> Path:
    """完成率 of every flow indicator with a target, against 序时进度 (months elapsed / 12)."""
    t = table[table["annual_target"].notna() & table["measure"].eq("flow")].iloc[::-1]
    elapsed = month / 12 * 100
    names = t["indicator_name"].tolist()
    with _RC, plt.rc_context(_style()):
        fig = _figure(7, 0.32 * max(len(t), 3) + 1)
        ax = fig.add_subplot()
        pct = t["target_pct"].fillna(0).tolist()
        colors = [THIS_YEAR if p >= elapsed else "#C0504D" for p in pct]
        bars = ax.barh(names, pct, color=colors)
        ax.bar_label(bars, labels=["未报" if pd.isna(v) else f"{v:.1f}%" for v in t["target_pct"].tolist()],
                     fontsize=8, padding=2)
        ax.axvline(elapsed, color="#444444", linestyle="--", linewidth=1)
        ax.text(elapsed, len(t) - 0.4, f"序时进度 {elapsed:.1f}%", fontsize=8, ha="left", va="bottom")
        ax.set_xlabel("完成年度任务 %")
        ax.set_title("完成率与序时进度", fontsize=11)
        ax.margins(x=0.15)
        label_width = max([_text_inches(nm, 9) for nm in names] or [0.5])
        _place(fig, left=label_width + 0.15, right=0.2, top=0.35, bottom=0.5)
        return _save(fig, path)


def monthly_trend(trend: pd.DataFrame, table: pd.DataFrame, year: int, path: Path) -> Path:
    """1-本月累计 by month, this year against last year, for the first few headline indicators."""
    h = table[table["headline"].notna()].sort_values("headline").head(TREND_INDICATORS)
    t = trend.assign(year=trend["period"].str.slice(0, 4).astype("int64"),
                     month=trend["period"].str.slice(5, 7).astype("int64"))
    with _RC, plt.rc_context(_style()):
        n = max(len(h), 1)
        fig = _figure(2.6 * n, 2.4)
        axes = fig.subplots(1, n, squeeze=False)
        for ax, code, name, unit in zip(axes.flat, h["indicator_code"].tolist(), h["indicator_name"].tolist(),
                                        h["unit"].tolist()):
            for y, color, word in ((year - 1, LAST_YEAR, f"{year - 1}年"), (year, THIS_YEAR, f"{year}年")):
                s = t[t["indicator_code"].eq(code) & t["year"].eq(y)]
                ax.plot(s["month"].tolist(), s["ytd_value"].tolist(), marker="o", markersize=3, color=color,
                        label=word)
            if not t["indicator_code"].eq(code).any():
                ax.text(0.5, 0.5, "未报", transform=ax.transAxes, ha="center", va="center", color="#9C0006")
                ax.set_yticks([])
            ax.set_title(f"{name}（{unit}）", fontsize=9)
            ax.set_xticks(range(1, 13, 3), [f"{m}月" for m in range(1, 13, 3)])
            # Four y ticks with separators ("12,000"): readable, and each tick is text to lay out and draw.
            ax.yaxis.set_major_locator(MaxNLocator(4))
            ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
            ax.tick_params(labelsize=7)
        axes.flat[0].legend(fontsize=7, frameon=False)
        fig.suptitle("累计值逐月走势", fontsize=11)
        # y tick labels are values up to "1,000,000": 0.55 in of room left of each panel.
        _place(fig, left=0.55, right=0.1, top=0.55, bottom=0.3, wspace=0.55 * n / (2.6 * n - 0.65))
        return _save(fig, path)


def draw_charts(table: pd.DataFrame, trend: pd.DataFrame, label: str, year: int, month: int,
                folder: Path) -> list[Path]:
    """All three charts into `folder`; returns their paths (the report references them by name)."""
    with _RC:
        return [ytd_vs_last_year(table, label, folder / "chart_ytd_vs_last_year.png"),
                completion_vs_schedule(table, month, folder / "chart_completion.png"),
                monthly_trend(trend, table, year, folder / "chart_monthly_trend.png")]
