"""The county vintage's own files besides the indicator table: the ranking (各乡镇主要指标完成情况表) as
ranking.xlsx, ranking.csv and ranking.parquet (one explicit schema), and the lineage block of manifest.json."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tasks.exports import MISSING, NOT_APPLICABLE, ExportHeader, safe_text

# One schema for every county vintage's ranking file (as exports.EXPORT_SCHEMA for the indicator table).
RANKING_SCHEMA = pa.schema([
    ("county_code", pa.string()), ("period", pa.string()), ("period_label", pa.string()), ("vintage", pa.int64()),
    ("status", pa.string()), ("township_code", pa.string()), ("township_name", pa.string()),
    ("township_vintage", pa.int64()), ("indicator_code", pa.string()), ("indicator_name", pa.string()),
    ("unit", pa.string()), ("ytd_value", pa.float64()), ("yoy_pct", pa.float64()), ("target_pct", pa.float64()),
    ("yoy_rank", pa.int64()), ("target_rank", pa.int64()),
])
RANKING_SHEET = "各乡镇主要指标完成情况表"


def ranking_frame(ranking: pd.DataFrame, header: ExportHeader) -> pd.DataFrame:
    """The ranking typed by RANKING_SCHEMA (NULL: 未报, or unranked)."""
    out = ranking.assign(county_code=header.township_code, period=header.period, period_label=header.period_label,
                         vintage=header.vintage, status=header.status)
    return out[RANKING_SCHEMA.names].reset_index(drop=True)


def write_ranking_exports(ranking: pd.DataFrame, header: ExportHeader, folder: Path,
                          published_at) -> list[Path]:  # noqa: ANN001
    frame = ranking_frame(ranking, header)
    pq.write_table(pa.Table.from_pandas(frame, schema=RANKING_SCHEMA, preserve_index=False, safe=True),
                   folder / "ranking.parquet")
    csv = frame.copy()
    csv["township_name"] = [safe_text(v) for v in csv["township_name"].tolist()]
    csv.to_csv(folder / "ranking.csv", index=False, encoding="utf-8-sig")
    return [folder / "ranking.parquet", folder / "ranking.csv",
            write_ranking_xlsx(ranking, header, folder / "ranking.xlsx", published_at)]


def rank_text(rank: object) -> str:
    return NOT_APPLICABLE if pd.isna(rank) else str(int(rank))


def write_ranking_xlsx(ranking: pd.DataFrame, header: ExportHeader, path: Path, published_at) -> Path:  # noqa: ANN001
    """The printed table: townships as rows; per headline indicator 1-本月累计, 同比%, 位次, 完成率%, 位次."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"in_memory": True})  # as tasks/exports.write_xlsx
    wb.set_properties({"title": f"{header.township_name}{RANKING_SHEET}",
                       "created": published_at.to_pydatetime().replace(tzinfo=None)})
    ws = wb.add_worksheet(RANKING_SHEET)
    base = {"font_name": "宋体", "font_size": 10, "border": 1, "valign": "vcenter"}
    head = wb.add_format({**base, "bold": True, "align": "center", "bg_color": "#E8EEF7", "text_wrap": True})
    text, miss = wb.add_format(base), wb.add_format({**base, "align": "center", "font_color": "#9C0006"})
    pct = wb.add_format({**base, "num_format": "0.0"})
    nums = {d: wb.add_format({**base, "num_format": "#,##0" + ("." + "0" * d if d else "")}) for d in range(5)}
    indicators = ranking.drop_duplicates("indicator_code")
    towns = ranking.drop_duplicates("township_code")[["township_code", "township_name"]]
    sub = ["1-本月累计", "同比±%", "同比位次", "完成率%", "完成率位次"]
    ncol = 1 + len(sub) * len(indicators)
    ws.merge_range(0, 0, 0, ncol - 1, f"{header.township_name}{RANKING_SHEET}（{header.period[:4]}年"
                                      f"{header.period_label}）{header.status_zh}",
                   wb.add_format({"font_name": "黑体", "font_size": 16, "bold": True, "align": "center"}))
    ws.merge_range(1, 0, 2, 0, "乡镇", head)
    by = ranking.set_index(["indicator_code", "township_code"])
    for k, ind in enumerate(indicators.itertuples(index=False)):
        left = 1 + k * len(sub)
        ws.merge_range(1, left, 1, left + len(sub) - 1, f"{ind.indicator_name}（{ind.unit}）", head)
        for j, label in enumerate(sub):
            ws.write_string(2, left + j, label, head)
        for i, town in enumerate(towns.itertuples(index=False)):
            r = by.loc[(ind.indicator_code, town.township_code)]
            cells = [(r["ytd_value"], nums[min(int(ind.decimals), 4)]), (r["yoy_pct"], pct),
                     (r["yoy_rank"], text), (r["target_pct"], pct), (r["target_rank"], text)]
            for j, (v, fmt) in enumerate(cells):
                if pd.isna(v):
                    ws.write_string(3 + i, left + j, MISSING if j == 0 else NOT_APPLICABLE, miss)
                else:
                    ws.write_number(3 + i, left + j, float(v), fmt)
    for i, town in enumerate(towns.itertuples(index=False)):
        ws.write_string(3 + i, 0, str(town.township_name), text)
    foot = 3 + len(towns) + 1
    ws.write_string(foot, 0, f"第{header.vintage}版（{header.status_zh}），发布时间：{header.published_local}"
                             + (f"；审核人：{header.signer}" if header.signer else ""))
    ws.write_string(foot + 1, 0, "注：各乡镇数据取自其最新签发版本；“未报”表示该乡镇本月无签发数据，不按0计，不参加排位；"
                                 "位次按同比、完成率由高到低，并列者位次相同。")
    ws.set_column(0, 0, 12)
    ws.set_column(1, ncol - 1, 10)
    ws.freeze_panes(3, 1)
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    wb.close()
    return path


def lineage_manifest(sources: pd.DataFrame, figures: pd.DataFrame) -> dict:
    """manifest.json's lineage: each township's signed vintage used (or 未报), and per county figure the
    township vintages it came from ("taoyuan v2")."""
    used = []
    for r in sources.to_dict("records"):
        signed = not pd.isna(r["source_snapshot_id"])
        used.append({"township": r["township_code"],
                     "snapshot_id": int(r["source_snapshot_id"]) if signed else None,
                     "vintage": int(r["source_vintage"]) if signed else None,
                     "status": r["status"] if signed else None, "signer": r["signer"] if signed else None,
                     "missing": not signed})
    has = figures[figures["ytd_value"].notna() | figures["month_value"].notna()]
    per_figure = {code: [f"{t} v{int(v)}" for t, v in zip(g["township_code"], g["source_vintage"])]
                  for code, g in has.groupby("indicator_code", sort=True)}
    return {"sources": used, "lineage": per_figure}
