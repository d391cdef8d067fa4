"""The county report's ranking chart, a vector drawing like the township's (tasks/charts.py): each township's 同比
and 完成率 for the first headline indicator, highest first, 未报 marked."""

from __future__ import annotations

import pandas as pd
from reportlab.graphics.shapes import Drawing

from tasks import fonts
from tasks.charts import BEHIND, INCH, THIS_YEAR, Chart, _bar_range, _hbars, _text


def _ranked(ranks: pd.Series) -> list[int]:
    """Row order: rank 1 first, 未报 (no rank) last, ties in the table's order."""
    keys = [(pd.isna(r), 0 if pd.isna(r) else int(r), i) for i, r in enumerate(ranks.tolist())]
    return [i for *_, i in sorted(keys)]


def _panel(d: Drawing, x0: float, x1: float, y0: float, y1: float, values: pd.Series, ranks: pd.Series,
           order: list[int], title: str, line: float | None) -> None:
    """Horizontal bars in `order`; a township without the figure reads — at zero."""
    vals = [values.iloc[i] for i in order]
    numbers = [0.0 if pd.isna(v) else float(v) for v in vals]
    colors = [BEHIND if (line is not None and not pd.isna(v) and v < line) else THIS_YEAR for v in vals]
    labels = [("—" if pd.isna(v) else f"{v:.1f}%") + ("" if pd.isna(ranks.iloc[i]) else f"（第{int(ranks.iloc[i])}位）")
              for v, i in zip(vals, order)]
    lo, hi = _bar_range(numbers, line, 0.25)
    _hbars(d, x0, x1, y0, y1, numbers, colors, labels, line, line is not None, lo, hi, 7)
    d.add(_text((x0 + x1) / 2, y1 + 4, title, 9, "middle"))


def ranking_chart(ranking: pd.DataFrame, label: str, month: int, name: str = "chart_ranking.svg") -> Chart | None:
    """Two panels side by side (同比, 完成率 with 序时进度) for the first headline indicator; None without one."""
    if ranking.empty:
        return None
    first = ranking[ranking["indicator_code"].eq(ranking["indicator_code"].iloc[0])].reset_index(drop=True)
    reported = first["ytd_value"].notna()
    names = [n if r else f"{n}（未报）" for n, r in zip(first["township_name"].astype(str), reported)]
    elapsed = month / 12 * 100
    width, height = 8 * INCH, (0.3 * max(len(first), 3) + 1.1) * INCH
    label_width = max([fonts.text_width(n, 8) for n in names] or [36.0])
    x0, x1, y0, y1 = label_width + 0.15 * INCH, width - 0.2 * INCH, 0.3 * INCH, height - 0.55 * INCH
    gap = 0.1 * INCH
    middle = (x0 + x1) / 2
    title = f"{label}各乡镇{first['indicator_name'].iloc[0]}同比与完成率位次"
    d = Drawing(width, height)
    # Rows are townships, ranked by 同比 (rank 1 on top, 未报 last); the 完成率 panel shows each row's own rank.
    order = _ranked(first["yoy_rank"])
    _panel(d, x0, middle - gap, y0, y1, first["yoy_pct"], first["yoy_rank"], order, "同比±%（位次）", None)
    _panel(d, middle + gap, x1, y0, y1, first["target_pct"], first["target_rank"], order,
           f"完成率%（序时进度{elapsed:.1f}%）", elapsed)
    row = (y1 - y0) / max(len(names), 1)
    for k, i in enumerate(order):
        d.add(_text(x0 - 4, y1 - row * (k + 0.5) - 3, names[i], 8, "end"))
    d.add(_text(width / 2, height - 0.3 * INCH, title, 11, "middle"))
    return Chart(name, title, d)
