"""The report's paragraph, in the seed's words, filled from a computed table (pure, no IO).

Wording (as the township's reports write it): 同比增长x% / 同比下降x% / 与上年同期持平; 超序时进度x个百分点 /
低于序时进度x个百分点 / 与序时进度持平; a missing figure reads "（未报）" with no 同比.
"""

from __future__ import annotations

import math

import pandas as pd

# How the seed phrases each headline figure; other indicators use their catalog name.
PHRASES = {
    "fixed_asset_investment": "完成固定资产投资",
    "industrial_output": "工业生产总值",
    "services_revenue": "服务业完成营业收入",
    "trade_sales": "完成贸易销售额",
    "fiscal_revenue": "实现公共财政预算收入",
    "investment_funds": "招商引资到位资金",
    "investment_funds_yrd": "其中长三角资金",
}


def _missing(v: object) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))


def format_number(value: float, decimals: int) -> str:
    """52345 → 52,345; 10.5 with 2 decimals → 10.50."""
    return f"{value:,.{int(decimals)}f}"


def yoy_phrase(yoy_pct: float | None) -> str:
    if _missing(yoy_pct):
        return ""
    if round(yoy_pct, 1) == 0:
        return "与上年同期持平"
    word = "增长" if yoy_pct > 0 else "下降"
    return f"同比{word}{abs(yoy_pct):.1f}%"


def schedule_phrase(gap_pp: float | None) -> str:
    if _missing(gap_pp):
        return ""
    if round(gap_pp, 1) == 0:
        return "与序时进度持平"
    word = "超" if gap_pp > 0 else "低于"
    return f"{word}序时进度{abs(gap_pp):.1f}个百分点"


def figure_clause(code: str, name: str, unit: str, decimals: int, ytd: float | None, yoy: float | None,
                  target_pct: float | None, gap: float | None) -> str:
    """One figure: 完成固定资产投资52,345万元，同比增长12.3%，完成年度任务的85.2%，超序时进度2.0个百分点."""
    phrase = PHRASES.get(code, name.replace("其中：", "其中"))
    if _missing(ytd):
        return f"{phrase}（未报）"
    parts = [f"{phrase}{format_number(ytd, decimals)}{unit}", yoy_phrase(yoy)]
    if not _missing(target_pct):
        parts.append(f"完成年度任务的{target_pct:.1f}%")
        parts.append(schedule_phrase(gap))
    return "，".join(p for p in parts if p)


def narrative(table: pd.DataFrame, period_label: str) -> str:
    """The paragraph for the headline indicators (catalog `headline` order): figures joined by "；",
    a 其中 item joined to its total by "，"."""
    h = table[table["headline"].notna()].sort_values("headline")
    if h.empty:
        return ""
    cols = ["indicator_code", "indicator_name", "unit", "decimals", "ytd_value", "yoy_pct", "target_pct",
            "schedule_gap_pp", "parent_code"]
    text = ""
    for code, name, unit, dec, ytd, yoy, pct, gap, parent in zip(*[h[c].tolist() for c in cols]):
        clause = figure_clause(code, name, unit, dec, ytd, yoy, pct, gap)
        sep = "" if not text else ("，" if not _missing(parent) else "；")
        text += sep + clause
    return f"{period_label}{text}。"
