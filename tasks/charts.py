"""The report's PNG charts (matplotlib, Agg), labelled in Chinese with the Noto Sans CJK font of mplfonts.

Three charts per vintage: ytd this year vs last year (headline indicators), completion vs time elapsed,
and the monthly trend of the cumulative for a few headline indicators.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: charts are files

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib import font_manager  # noqa: E402

THIS_YEAR, LAST_YEAR = "#1F5AA6", "#B8C4D6"
TREND_INDICATORS = 4  # how many headline indicators get a trend panel


@lru_cache(maxsize=1)
def cjk_font() -> str:
    """Register mplfonts' Noto Sans CJK SC with matplotlib once; return its family name."""
    import mplfonts

    path = Path(mplfonts.__file__).parent / "fonts" / "NotoSansCJKsc-Regular.otf"
    font_manager.fontManager.addfont(str(path))
    return font_manager.FontProperties(fname=str(path)).get_name()


def _style() -> dict:
    # unicode_minus off: the CJK font has no U+2212, and ASCII "-" renders the same.
    return {"font.family": [cjk_font()], "axes.unicode_minus": False, "font.size": 9,
            "axes.spines.top": False, "axes.spines.right": False}


def _save(fig, path: Path) -> Path:  # noqa: ANN001
    # No metadata: the same vintage draws the same bytes.
    # tight_layout already placed everything: no bbox_inches="tight", which would draw the figure twice.
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
    return path


def ytd_vs_last_year(table: pd.DataFrame, label: str, path: Path) -> Path:
    """One small panel per headline indicator: 1-本月累计 this year next to the comparable base."""
    h = table[table["headline"].notna()].sort_values("headline")
    with plt.rc_context(_style()):
        n = max(len(h), 1)
        cols = min(n, 4)
        rows = -(-n // cols)
        fig, axes = plt.subplots(rows, cols, figsize=(2.4 * cols, 2.4 * rows), squeeze=False)
        for ax in axes.flat[n:]:
            ax.set_visible(False)
        items = zip(h["indicator_name"].tolist(), h["unit"].tolist(), h["ytd_value"].tolist(),
                    h["prior_ytd_value"].tolist(), h["decimals"].tolist())
        for ax, (name, unit, ytd, prior, dec) in zip(axes.flat, items):
            vals = [0 if pd.isna(prior) else prior, 0 if pd.isna(ytd) else ytd]
            bars = ax.bar(["去年同期", "本年"], vals, color=[LAST_YEAR, THIS_YEAR])
            texts = ["—" if pd.isna(prior) else f"{prior:,.{dec}f}", "未报" if pd.isna(ytd) else f"{ytd:,.{dec}f}"]
            ax.bar_label(bars, labels=texts, fontsize=8)
            ax.set_title(f"{name.replace('其中：', '')}（{unit}）", fontsize=9)
            ax.set_yticks([])
            ax.margins(y=0.2)
        fig.suptitle(f"{label}累计与去年同期对比", fontsize=11)
        fig.tight_layout()
        return _save(fig, path)


def completion_vs_schedule(table: pd.DataFrame, month: int, path: Path) -> Path:
    """完成率 of every flow indicator with a target, against 序时进度 (months elapsed / 12)."""
    t = table[table["annual_target"].notna() & table["measure"].eq("flow")].iloc[::-1]
    elapsed = month / 12 * 100
    with plt.rc_context(_style()):
        fig, ax = plt.subplots(figsize=(7, 0.32 * max(len(t), 3) + 1))
        pct = t["target_pct"].fillna(0).tolist()
        colors = [THIS_YEAR if p >= elapsed else "#C0504D" for p in pct]
        bars = ax.barh(t["indicator_name"].tolist(), pct, color=colors)
        ax.bar_label(bars, labels=["未报" if pd.isna(v) else f"{v:.1f}%" for v in t["target_pct"].tolist()],
                     fontsize=8, padding=2)
        ax.axvline(elapsed, color="#444444", linestyle="--", linewidth=1)
        ax.text(elapsed, len(t) - 0.4, f"序时进度 {elapsed:.1f}%", fontsize=8, ha="left", va="bottom")
        ax.set_xlabel("完成年度任务 %")
        ax.set_title("完成率与序时进度", fontsize=11)
        ax.margins(x=0.15)
        fig.tight_layout()
        return _save(fig, path)


def monthly_trend(trend: pd.DataFrame, table: pd.DataFrame, year: int, path: Path) -> Path:
    """1-本月累计 by month, this year against last year, for the first few headline indicators."""
    h = table[table["headline"].notna()].sort_values("headline").head(TREND_INDICATORS)
    t = trend.assign(year=trend["period"].str.slice(0, 4).astype("int64"),
                     month=trend["period"].str.slice(5, 7).astype("int64"))
    with plt.rc_context(_style()):
        n = max(len(h), 1)
        fig, axes = plt.subplots(1, n, figsize=(2.6 * n, 2.4), squeeze=False)
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
            ax.set_xticks(range(1, 13, 2), [f"{m}月" for m in range(1, 13, 2)])
            ax.tick_params(labelsize=7)
        axes.flat[0].legend(fontsize=7, frameon=False)
        fig.suptitle("累计值逐月走势", fontsize=11)
        fig.tight_layout()
        return _save(fig, path)


def draw_charts(table: pd.DataFrame, trend: pd.DataFrame, label: str, year: int, month: int,
                folder: Path) -> list[Path]:
    """All three charts into `folder`; returns their paths (the report references them by name)."""
    return [ytd_vs_last_year(table, label, folder / "chart_ytd_vs_last_year.png"),
            completion_vs_schedule(table, month, folder / "chart_completion.png"),
            monthly_trend(trend, table, year, folder / "chart_monthly_trend.png")]
