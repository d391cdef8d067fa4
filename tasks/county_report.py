"""The county report's sections (rendered by tasks/report.py into report.md, report.html and report.pdf): the
county paragraph, the county table, 各乡镇主要指标完成情况表 with its 位次, changes against the previous county
vintage (which township vintages moved), the townships' sign-off (completeness and lineage), the charts."""

from __future__ import annotations

import pandas as pd

from tasks.charts import Chart
from tasks.county_exports import RANKING_SHEET, rank_text
from tasks.exports import MISSING, NOT_APPLICABLE, ExportHeader
from tasks.report import Section, _changes_view, _num, display_table, opening_sections
from tasks.snapshot import STATUS_ZH


def ranking_view(ranking: pd.DataFrame, indicator: str) -> pd.DataFrame:
    """One headline indicator's ranking as printed: townships as rows."""
    r = ranking[ranking["indicator_code"].eq(indicator)]
    dec = int(r["decimals"].iloc[0]) if len(r) else 0
    return pd.DataFrame({
        "乡镇": r["township_name"].tolist(),
        "1-本月累计": [MISSING if pd.isna(v) else _num(v, dec) for v in r["ytd_value"].tolist()],
        "同比±%": [_num(v, 1) for v in r["yoy_pct"].tolist()],
        "同比位次": [rank_text(v) for v in r["yoy_rank"].tolist()],
        "完成率%": [_num(v, 1) for v in r["target_pct"].tolist()],
        "完成率位次": [rank_text(v) for v in r["target_rank"].tolist()],
        "采用版本": [NOT_APPLICABLE if pd.isna(v) else f"第{int(v)}版" for v in r["township_vintage"].tolist()],
    })


def sources_view(sources: pd.DataFrame, names: dict[str, str], tz) -> pd.DataFrame:  # noqa: ANN001
    """Per township: the signed vintage the county used (lineage), or 未报."""
    signed = sources["source_snapshot_id"].notna().tolist()
    return pd.DataFrame({
        "乡镇代码": sources["township_code"].tolist(),
        "乡镇": [names.get(c, c) for c in sources["township_code"].tolist()],
        "状态": ["已签发" if s else MISSING for s in signed],
        "采用版本": [f"第{int(v)}版（{STATUS_ZH.get(st, st)}）" if s else NOT_APPLICABLE
                 for s, v, st in zip(signed, sources["source_vintage"].tolist(), sources["status"].tolist())],
        "审核人": [str(n) if s else "" for s, n in zip(signed, sources["signer"].tolist())],
        "签发时间": [t.tz_convert(tz).strftime("%Y-%m-%d %H:%M") if s and not pd.isna(t) else ""
                 for s, t in zip(signed, sources["signed_at"].tolist())],
        "快照编号": [str(int(i)) if s else "" for s, i in zip(signed, sources["source_snapshot_id"].tolist())],
    })


def county_sections(header: ExportHeader, table: pd.DataFrame, paragraph: str, ranking: pd.DataFrame,
                    sources: pd.DataFrame, names: dict[str, str], checks: pd.DataFrame, changes: pd.DataFrame,
                    charts: list[Chart], tz) -> list[Section]:  # noqa: ANN001
    sections = opening_sections(paragraph, checks)
    notes = ["全县数据由各乡镇最新签发版本汇总，未经签发的数据不进入汇总；“未报”表示乡镇本月无签发数据，不按0计算。",
             "同比按可比口径计算：只汇总本年与上年同期均有数据的乡镇。完成率对照县下达的年度任务。"]
    if (table["note"] != "").any():
        notes.append("非可加指标不汇总县合计（表中为“—”）。")
    sections.append(Section("全县主要指标", notes, table=display_table(table).rename(columns={"报送单位": "报送乡镇"})))
    for code, name, unit in ranking.drop_duplicates("indicator_code")[["indicator_code", "indicator_name",
                                                                       "unit"]].itertuples(index=False):
        sections.append(Section(f"{RANKING_SHEET}：{name}（{unit}）", table=ranking_view(ranking, code)))
    if header.vintage > 1:
        if changes.empty:
            sections.append(Section(f"与第{header.vintage - 1}版相比", ["各指标本月数与累计数均无变化（乡镇签发版本有更新）。"]))
        else:
            sections.append(Section(f"与第{header.vintage - 1}版相比的修订", table=_changes_view(changes, table).rename(
                columns={"引起变动的报送": "引起变动的乡镇版本"})))
    signed = int(sources["source_snapshot_id"].notna().sum())
    summary = f"应报{len(sources)}个乡镇：已签发{signed}个，未报{len(sources) - signed}个。"
    sections.append(Section("乡镇报送与数据来源（完整性）", [summary], table=sources_view(sources, names, tz)))
    sections.append(Section("图表", charts=charts))
    return sections
