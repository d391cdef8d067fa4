"""The vintage's report, report.md and a self-contained, printable report.html, in Chinese.

Both are rendered from the same sections: title, paragraph, check failures (prominent), the table,
changes against the previous vintage, completeness and timeliness, follow-ups, charts.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from tasks import fonts
from tasks.charts import Chart
from tasks.exports import MISSING, NOT_APPLICABLE, ExportHeader
from tasks.status import STATUS_ZH


@dataclass
class Section:
    title: str
    paragraphs: list[str] = field(default_factory=list)
    table: pd.DataFrame | None = None
    charts: list[Chart] = field(default_factory=list)  # drawn by tasks/charts.py, filed beside the report
    alert: bool = False


def _num(v: object, decimals: int) -> str:
    return NOT_APPLICABLE if pd.isna(v) else f"{v:,.{int(decimals)}f}"


def display_table(table: pd.DataFrame) -> pd.DataFrame:
    """The published table as text: thousands separators, 未报 where not reported, — where not applicable."""
    dec = table["decimals"].tolist()
    reported = table["reporters_reported"].tolist()

    def values(col: str, decimals: list[int], missing_word: bool) -> list[str]:
        return [MISSING if (missing_word and r == 0 and pd.isna(v)) else _num(v, d)
                for v, d, r in zip(table[col].tolist(), decimals, reported)]

    one = [1] * len(table)
    return pd.DataFrame({
        "指标名称": table["indicator_name"].tolist(),
        "计量单位": table["unit"].tolist(),
        "本月": values("month_value", dec, True),
        "1-本月累计": values("ytd_value", dec, True),
        "去年同期": values("prior_ytd_value", dec, False),
        "同比±%": values("yoy_pct", one, False),
        "年度任务": values("annual_target", dec, False),
        "完成率%": values("target_pct", one, False),
        "序时进度差": values("schedule_gap_pp", one, False),
        "报送单位": [f"{r}/{e}" for r, e in zip(reported, table["reporters_expected"].tolist())],
    })


def _status_view(status: pd.DataFrame) -> pd.DataFrame:
    fmt = "%Y-%m-%d %H:%M"
    return pd.DataFrame({
        "单位代码": status["reporter_code"], "单位": status["name"],
        "状态": [STATUS_ZH[s] for s in status["status"].tolist()],
        "首次受理时间": ["" if pd.isna(t) else t.strftime(fmt) for t in status["received_at"].tolist()],
        "报送文件数": status["submissions"], "退回": status["rejected"], "待核实提示": status["warnings_open"],
    })


def _changes_view(changes: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    meta = table.set_index("indicator_code")
    codes = changes["indicator_code"].tolist()
    dec = [int(meta.at[c, "decimals"]) for c in codes]
    return pd.DataFrame({
        "指标名称": [meta.at[c, "indicator_name"] for c in codes],
        "原本月": [_num(v, d) for v, d in zip(changes["old_month_value"].tolist(), dec)],
        "新本月": [_num(v, d) for v, d in zip(changes["new_month_value"].tolist(), dec)],
        "原累计": [_num(v, d) for v, d in zip(changes["old_ytd_value"].tolist(), dec)],
        "新累计": [_num(v, d) for v, d in zip(changes["new_ytd_value"].tolist(), dec)],
        "引起变动的报送": (changes["changed_by"] if "changed_by" in changes else changes["submission_ids"])
        .fillna("").tolist(),
    })


def opening_sections(paragraph: str, checks: pd.DataFrame) -> list[Section]:
    """The paragraph (综述), then the failed checks, prominent, if any."""
    sections = [Section("综述", [paragraph or "（本期无可发布的主要指标）"])]
    if not checks.empty:
        sections.append(Section("数据检查未通过（请核实后再引用）", table=checks[["code", "message_zh"]].rename(
            columns={"code": "代码", "message_zh": "说明"}), alert=True))
    return sections


def build_sections(header: ExportHeader, table: pd.DataFrame, paragraph: str, status: pd.DataFrame,
                   follow_ups: pd.DataFrame, checks: pd.DataFrame, changes: pd.DataFrame,
                   charts: list[Chart]) -> list[Section]:
    sections = opening_sections(paragraph, checks)
    notes = ["“未报”表示应报单位未报送，不按0计算；“—”表示无可比基数或不适用。",
             "同比按可比口径计算：只比较本年与上年均报送的单位。"]
    if table["jan_feb_combined"].any():
        notes.append("1-2月为合并报送，本月数即1-2月合计。")
    sections.append(Section("主要指标", notes, table=display_table(table)))
    if header.vintage > 1:
        if changes.empty:
            sections.append(Section(f"与第{header.vintage - 1}版相比", ["各指标本月数与累计数均无变化。"]))
        else:
            sections.append(Section(f"与第{header.vintage - 1}版相比的修订", table=_changes_view(changes, table)))
    counts = status["status"].value_counts()
    summary = (f"应报{len(status)}个单位：按时{counts.get('on_time', 0)}个，迟报{counts.get('late', 0)}个，"
               f"未报{counts.get('missing', 0)}个。")
    sections.append(Section("报送情况（完整性与及时性）", [summary], table=_status_view(status)))
    if follow_ups.empty:
        sections.append(Section("待核实事项", ["无。"]))
    else:
        sections.append(Section("待核实事项（合理性提示）", table=follow_ups.rename(columns={
            "reporter": "单位", "indicator": "指标", "code": "代码", "message_zh": "提示", "note": "备注",
            "file": "文件", "cell": "单元格"})))
    sections.append(Section("图表", charts=charts))
    return sections


def _title(header: ExportHeader) -> str:
    return header.title


def _subtitle(header: ExportHeader) -> str:
    return f"第{header.vintage}版（{header.status_zh}） · 发布时间 {header.published_local} · 内容校验码 {header.content_hash[:16]}"


# Markdown passes raw HTML through and turns [text](url) into links; report.md and the Prefect
# artifacts carry reporters' notes, so those characters are neutralised (they still read as written).
_MD_SPECIAL = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "[": "\\[", "]": "\\]", "|": "\\|",
                             "`": "\\`", "\\": "\\\\", "\n": " ", "\r": " "})


def escape_markdown(v: object) -> str:
    """Text safe inside Markdown (a table cell or a paragraph): no HTML, no links, no table breaks."""
    return str(v).translate(_MD_SPECIAL)


def _footer(header: ExportHeader) -> str:
    """审核人 and 签发时间 of a signed vintage; a draft or unsigned vintage says it is not signed."""
    if not header.signer:
        return "未经审核签发。"
    return (f"审核人：{header.signer} · 签发时间：{header.signed_local} · 签发：{header.decision_zh}"
            + (f" · 意见：{header.comment}" if header.comment else ""))


def _md_cell(v: object) -> str:
    return escape_markdown(v)


def render_markdown(header: ExportHeader, sections: list[Section]) -> str:
    out = [f"# {_title(header)}", "", f"_{_subtitle(header)}_", ""]
    for s in sections:
        out += [f"## {'⚠ ' if s.alert else ''}{s.title}", ""]
        out += [escape_markdown(p) + "\n" for p in s.paragraphs]
        if s.table is not None:
            cols = list(s.table.columns)
            out.append("| " + " | ".join(cols) + " |")
            out.append("|" + "---|" * len(cols))
            for row in zip(*[s.table[c].tolist() for c in cols]):
                out.append("| " + " | ".join(_md_cell(v) for v in row) + " |")
            out.append("")
        out += [f"![{escape_markdown(c.title)}]({c.name})\n" for c in s.charts]
    out += ["---", "", _footer(header)]
    return "\n".join(out).rstrip() + "\n"


CSS = """
body{font-family:"Report CJK","Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei","PingFang SC",sans-serif;
 max-width:1000px;margin:2em auto;padding:0 1em;color:#222;line-height:1.6}
h1{font-size:1.5em;text-align:center;margin-bottom:.2em}
.sub{text-align:center;color:#555;font-size:.9em}
h2{font-size:1.1em;border-left:4px solid #1F5AA6;padding-left:.5em;margin-top:1.6em}
section.alert{border:2px solid #C0504D;background:#FDF1F0;padding:.2em 1em 1em}
section.alert h2{border-color:#C0504D;color:#9C0006}
table{border-collapse:collapse;width:100%;font-size:.85em}
th,td{border:1px solid #999;padding:3px 6px}
th{background:#E8EEF7}
td.n{text-align:right;font-variant-numeric:tabular-nums}
td.miss{color:#9C0006;text-align:center}
figure{margin:.5em 0}figure svg{max-width:100%;height:auto}
@media print{body{margin:0;max-width:none}section{page-break-inside:avoid}}
"""


def _td(v: object) -> str:
    s = str(v)
    cls = "miss" if s == MISSING else ("n" if s[:1].isdigit() or s[:1] == "-" and s[1:2].isdigit() else "")
    return f'<td class="{cls}">{html.escape(s)}</td>' if cls else f"<td>{html.escape(s)}</td>"


def font_face(text: str) -> str:
    """An @font-face carrying the charts' CJK font, cut to the characters of `text`, inline as WOFF2: the page
    reads the same on a machine with no CJK font, and stays one self-contained file."""
    woff2 = base64.b64encode(fonts.woff2_subset(text)).decode("ascii")
    return ('@font-face{font-family:"Report CJK";font-style:normal;font-weight:400;font-display:block;'
            f'src:url(data:font/woff2;base64,{woff2}) format("woff2")}}')


def render_html(header: ExportHeader, sections: list[Section]) -> str:
    body = [f"<h1>{html.escape(_title(header))}</h1>", f'<p class="sub">{html.escape(_subtitle(header))}</p>']
    for s in sections:
        cls = ' class="alert"' if s.alert else ""
        body.append(f"<section{cls}><h2>{html.escape(s.title)}</h2>")
        body += [f"<p>{html.escape(p)}</p>" for p in s.paragraphs]
        if s.table is not None:
            cols = list(s.table.columns)
            body.append("<table><thead><tr>" + "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
                        + "</tr></thead><tbody>")
            body += ["<tr>" + "".join(_td(v) for v in row) + "</tr>"
                     for row in zip(*[s.table[c].tolist() for c in cols])]
            body.append("</tbody></table>")
        # Inline: the chart's text is set in the page's own font (below), as the tables are.
        body += [f'<figure>{c.svg(inline=True)}</figure>' for c in s.charts]
        body.append("</section>")
    body.append(f'<footer class="sub">{html.escape(_footer(header))}</footer>')
    text = "\n".join(body)
    # Bold headings use the same regular face (synthesised bold): one font file, no second subset.
    return ("<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(_title(header))}</title><style>{font_face(html.unescape(text))}\n{CSS}</style>"
            "</head><body>\n" + text + "\n</body></html>\n")


def write_report(folder: Path, header: ExportHeader, sections: list[Section]) -> list[Path]:
    """report.md, report.html and report.pdf in the vintage folder, and the sections' charts as SVG files beside
    them (report.md shows those)."""
    from tasks.report_pdf import write_pdf

    for s in sections:
        for c in s.charts:
            c.write(folder)
    md, page = folder / "report.md", folder / "report.html"
    md.write_text(render_markdown(header, sections), encoding="utf-8")
    page.write_text(render_html(header, sections), encoding="utf-8")
    return [md, page, write_pdf(folder, header, sections)]
