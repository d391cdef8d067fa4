"""The report's paragraph wording, the report pages, and the charts (Chinese labels, no missing glyphs)."""

from __future__ import annotations

import base64
import io
import re

import pandas as pd
import pytest
from fontTools.ttLib import TTFont

from tasks import charts
from tasks.compute import compute_township
from tasks.narrative import figure_clause, narrative, schedule_phrase, yoy_phrase
from tasks.publication import publish_township
from tests.values_factory import at, submit
from township.periods import Period


@pytest.mark.parametrize("yoy, words", [(12.34, "同比增长12.3%"), (-4.5, "同比下降4.5%"), (0.0, "与上年同期持平"),
                                        (-0.04, "与上年同期持平"), (None, "")])
def test_growth_wording(yoy, words):
    assert yoy_phrase(yoy) == words


@pytest.mark.parametrize("gap, words", [(2.0, "超序时进度2.0个百分点"), (-3.1, "低于序时进度3.1个百分点"),
                                        (0.0, "与序时进度持平"), (float("nan"), "")])
def test_schedule_wording(gap, words):
    assert schedule_phrase(gap) == words


def test_a_figure_with_growth_target_and_schedule_reads_like_the_seed():
    clause = figure_clause("fixed_asset_investment", "固定资产投资", "万元", 0, 52345.0, 12.3, 85.2, 2.0)
    assert clause == "完成固定资产投资52,345万元，同比增长12.3%，完成年度任务的85.2%，超序时进度2.0个百分点"


def test_a_missing_figure_says_not_reported_and_has_no_growth():
    assert figure_clause("industrial_output", "工业生产总值", "万元", 0, None, None, None, None) == "工业生产总值（未报）"


def test_paragraph_in_headline_order_with_the_part_joined_to_its_total(catalog):
    rows = [("econ", "2021-10", "fixed_asset_investment", None, 52345.0), ("econ", "2020-10", "fixed_asset_investment", None, 46600.0),
            ("econ", "2021-10", "industrial_output", None, 80000.0), ("econ", "2020-10", "industrial_output", None, 90000.0),
            ("econ", "2021-10", "services_revenue", None, 30000.0), ("econ", "2020-10", "services_revenue", None, 30000.0),
            ("econ", "2021-10", "trade_sales", None, 41000.0),
            ("invest", "2021-10", "investment_funds", None, 10.52), ("invest", "2021-10", "investment_funds_yrd", None, 4.1)]
    values = pd.DataFrame(rows, columns=["reporter_code", "period", "indicator_code", "month_value", "ytd_value"])
    values["note"] = ""
    text = narrative(compute_township(values, catalog, "taoyuan", Period(2021, 10)), "1-10月")
    assert text == (
        "1-10月完成固定资产投资52,345万元，同比增长12.3%，完成年度任务的100.7%，超序时进度17.3个百分点；"
        "工业生产总值80,000万元，同比下降11.1%，完成年度任务的81.6%，低于序时进度1.7个百分点；"
        "服务业完成营业收入30,000万元，与上年同期持平，完成年度任务的83.3%，与序时进度持平；"
        "完成贸易销售额41,000万元，完成年度任务的91.1%，超序时进度7.8个百分点；"
        "实现公共财政预算收入（未报）；"
        "招商引资到位资金10.52亿元，完成年度任务的84.2%，超序时进度0.8个百分点，"
        "其中长三角资金4.10亿元，完成年度任务的82.0%，低于序时进度1.3个百分点。")


def test_report_has_every_section_and_self_contained_html(runtime):
    e = runtime.engine
    submit(e, "econ", "2021-10", {"fixed_asset_investment": (None, 52345.0, "=1+1")}, at(2021, 11, 3),
           status="accepted_with_warnings",
           warnings=[{"code": "W_YOY_SWING", "indicator": "fixed_asset_investment", "cell": "E7",
                      "message_zh": "固定资产投资同比变动超过±50%", "note": "=1+1"}])
    submit(e, "invest", "2021-10", {"investment_funds": (1.0, 10.52)}, at(2021, 11, 8))
    r = publish_township(runtime, "taoyuan", Period(2021, 10), final=False, published_at=at(2021, 11, 10, 1))
    md = (r.folder / "report.md").read_text(encoding="utf-8")
    assert md.startswith("# 桃源镇主要指标月报表（2021年1-10月）快报")
    assert r.narrative in md and "第1版（快报）" in md
    assert "| econ | 经济发展办 | 按时 | 2021-11-03 17:00 |" in md
    assert "| invest | 招商服务中心 | 迟报 | 2021-11-08 17:00 |" in md
    assert "| finance | 财政所 | 未报 |" in md
    assert "固定资产投资同比变动超过±50%" in md and "报表!E7" in md
    assert "| 公共财政预算收入 | 万元 | 未报 | 未报 |" in md
    html = (r.folder / "report.html").read_text(encoding="utf-8")
    # The charts: inline in the page (their text in the page's font), and as SVG files beside it for report.md.
    for svg, title in (("chart_ytd_vs_last_year.svg", "1-10月累计与去年同期对比"), ("chart_completion.svg", "完成率与序时进度"),
                       ("chart_monthly_trend.svg", "累计值逐月走势")):
        assert f'<svg role="img" aria-label="{title}"' in html and f"]({svg})" in md
        assert f"<title>{title}</title>" in (r.folder / svg).read_text(encoding="utf-8")
    assert html.count("<svg ") == 3 and "<img" not in html
    assert "<script" not in html and "http" not in html  # self-contained: nothing loaded from elsewhere


def test_charts_render_chinese_without_missing_glyphs(tmp_path, catalog):
    rows = [("econ", f"{y}-{m:02d}", "fixed_asset_investment", None, 5000.0 * m) for y in (2020, 2021) for m in range(1, 11)]
    values = pd.DataFrame(rows, columns=["reporter_code", "period", "indicator_code", "month_value", "ytd_value"])
    values["note"] = ""
    table = compute_township(values, catalog, "taoyuan", Period(2021, 10))
    from tasks.compute import monthly_ytd

    trend = monthly_ytd(values, catalog, "taoyuan", ["fixed_asset_investment", "industrial_output"])
    drawn = charts.draw_charts(table, trend, "1-10月", 2021, 10)
    assert [c.name for c in drawn] == ["chart_ytd_vs_last_year.svg", "chart_completion.svg", "chart_monthly_trend.svg"]
    # Every character a chart shows is a glyph of the font each chart file carries (no box for a missing glyph).
    for chart in drawn:
        doc = chart.write(tmp_path).read_text(encoding="utf-8")
        woff2 = re.search(r'src:url\(data:font/woff2;base64,([A-Za-z0-9+/=]+)\)', doc)
        font = TTFont(io.BytesIO(base64.b64decode(woff2.group(1))))
        assert font["name"].getDebugName(1).startswith(charts.cjk_font())
        shown = {ch for ch in chart.text if not ch.isspace()}
        assert "固定资产投资" in chart.text or chart.name == "chart_completion.svg"
        assert shown - {chr(u) for u in font.getBestCmap()} == set(), chart.name
        assert "font-family: 'Report CJK'" in doc
    assert "固定资产投资（万元）" in drawn[2].text and "未报" in drawn[2].text  # a panel without figures says so
    assert charts.cjk_font() == "Noto Sans CJK SC"


def test_html_carries_its_own_cjk_font_holding_every_character_it_shows(runtime):
    """A machine with no CJK font still reads the report: the charts' font, cut to the page's characters, is
    inlined as WOFF2; publishing the same vintage again writes the same bytes."""
    import base64
    import io
    import re

    from fontTools.ttLib import TTFont

    from tasks import report

    submit(runtime.engine, "econ", "2021-10", {"fixed_asset_investment": (None, 52345.0)}, at(2021, 11, 3))
    r = publish_township(runtime, "taoyuan", Period(2021, 10), final=False, published_at=at(2021, 11, 10, 1))
    page = (r.folder / "report.html").read_text(encoding="utf-8")
    woff2 = re.search(r'src:url\(data:font/woff2;base64,([A-Za-z0-9+/=]+)\) format\("woff2"\)', page)
    assert woff2 and 'font-family:"Report CJK"' in page and 'body{font-family:"Report CJK"' in page
    font = TTFont(io.BytesIO(base64.b64decode(woff2.group(1))))
    assert font.flavor == "woff2" and font["name"].getDebugName(1).startswith("Noto Sans CJK SC")
    shown = re.sub(r"<[^>]+>", "", page.split("<body>", 1)[1])
    assert {c for c in shown if ord(c) > 0x2E80} - {chr(u) for u in font.getBestCmap()} == set()
    assert len(woff2.group(1)) < 200_000  # a subset, not the 16 MB font
    header = report.ExportHeader("taoyuan", "桃源镇", "2021-10", "1-10月", 1, "preliminary", "快报", "x", "0" * 64)
    sections = [report.Section("综述", [r.narrative])]
    assert report.render_html(header, sections) == report.render_html(header, sections)
