"""The county report's ranking chart, in the style of tasks/charts.py (bare Figure, fixed margins, no metadata):
each township's 同比 and 完成率 for the first headline indicator, highest first, 未报 marked."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from tasks.charts import THIS_YEAR, _figure, _place, _save, _style, _text_inches

BEHIND = "#C0504D"


def _panel(ax, names: list[str], values: pd.Series, ranks: pd.Series, title: str,  # noqa: ANN001
           line: float | None) -> None:
    """Horizontal bars, ranked townships on top; a township without the figure reads 未报 / — at zero."""
    keys = [(pd.isna(r), 0 if pd.isna(r) else int(r), i) for i, r in enumerate(ranks.tolist())]
    order = [i for *_, i in sorted(keys)][::-1]  # barh draws from the bottom: rank 1 ends on top
    vals = [values.iloc[i] for i in order]
    bars = ax.barh([names[i] for i in order], [0.0 if pd.isna(v) else float(v) for v in vals],
                   color=[BEHIND if (line is not None and not pd.isna(v) and v < line) else THIS_YEAR for v in vals])
    labels = [("—" if pd.isna(v) else f"{v:.1f}%") + ("" if pd.isna(ranks.iloc[i]) else f"（第{int(ranks.iloc[i])}位）")
              for v, i in zip(vals, order)]
    ax.bar_label(bars, labels=labels, fontsize=7, padding=2)
    ax.axvline(line if line is not None else 0, color="#444444", linestyle="--" if line else "-", linewidth=0.8)
    ax.set_title(title, fontsize=9)
    ax.margins(x=0.25)
    ax.tick_params(labelsize=8)


def ranking_chart(ranking: pd.DataFrame, label: str, month: int, path: Path) -> Path | None:
    """Two panels side by side (同比, 完成率 with 序时进度) for the first headline indicator; None without one."""
    if ranking.empty:
        return None
    first = ranking[ranking["indicator_code"].eq(ranking["indicator_code"].iloc[0])].reset_index(drop=True)
    reported = first["ytd_value"].notna()
    names = [n if r else f"{n}（未报）" for n, r in zip(first["township_name"].astype(str), reported)]
    elapsed = month / 12 * 100
    with plt.rc_context(_style()):
        fig = _figure(8, 0.3 * max(len(first), 3) + 1.1)
        left, right = fig.subplots(1, 2, sharey=True)
        _panel(left, names, first["yoy_pct"], first["yoy_rank"], "同比±%（位次）", None)
        _panel(right, names, first["target_pct"], first["target_rank"], f"完成率%（序时进度{elapsed:.1f}%）",
               elapsed)
        fig.suptitle(f"{label}各乡镇{first['indicator_name'].iloc[0]}同比与完成率位次", fontsize=11)
        width = max([_text_inches(n, 8) for n in names] or [0.5])
        _place(fig, left=width + 0.15, right=0.2, top=0.55, bottom=0.3, wspace=0.1)
        return _save(fig, path)
