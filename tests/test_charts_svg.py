"""The charts' SVG writer (tasks/chart_svg.py) writes the same bytes as reportlab's renderSVG, on every chart a
township's and a county's report draws, and renderSVG still writes what the writer does not know."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from reportlab.graphics.shapes import Drawing, Ellipse, Group, Line, PolyLine, Rect, String
from reportlab.lib.colors import HexColor

from tasks import chart_svg, charts
from tasks.compute import compute_township, monthly_ytd
from tasks.county_charts import ranking_chart
from township.periods import Period


def _same_as_reportlab(chart: charts.Chart) -> str:
    drawing, stem = chart.in_font(charts.FONT), Path(chart.name).stem
    ours = chart_svg.svg_element(drawing, chart.title, stem, {charts.FONT: charts.SVG_FONTS})
    assert ours == charts.reportlab_svg(drawing, chart.title, stem), chart.name
    return ours


def _values(rows) -> pd.DataFrame:  # noqa: ANN001
    values = pd.DataFrame(rows, columns=["reporter_code", "period", "indicator_code", "month_value", "ytd_value"])
    values["note"] = ""
    return values


@pytest.mark.parametrize("case", ["trend", "one month", "falling", "nothing reported"])
def test_township_charts_are_written_as_reportlab_writes_them(catalog, case):
    rows = {
        # two years of a rising cumulative, and a second indicator this year only
        "trend": [("econ", f"{y}-{m:02d}", "fixed_asset_investment", None, 5000.0 * m + y) for y in (2020, 2021)
                  for m in range(1, 11)] + [("econ", "2021-10", "industrial_output", None, 80000.5)],
        "one month": [("econ", "2021-10", "fixed_asset_investment", None, 52345.0),
                      ("invest", "2021-10", "investment_funds", 1.0, 10.52)],
        # growth below last year, a target far ahead of the schedule, a negative cumulative
        "falling": [("econ", "2020-10", "fixed_asset_investment", None, 90000.0),
                    ("econ", "2021-10", "fixed_asset_investment", None, 1234.5),
                    ("finance", "2021-10", "budget_revenue", None, -20.0),
                    ("econ", "2021-10", "trade_sales", None, 999999.0)],
        "nothing reported": [],
    }[case]
    values = _values(rows)
    table = compute_township(values, catalog, "taoyuan", Period(2021, 10))
    trend = monthly_ytd(values, catalog, "taoyuan", ["fixed_asset_investment", "industrial_output"])
    drawn = charts.draw_charts(table, trend, "1-10月", 2021, 10)
    svgs = [_same_as_reportlab(c) for c in drawn]
    assert "<title>1-10月累计与去年同期对比</title>" in svgs[0] and "未报" in svgs[1]
    # What the published file and the page are made of.
    assert [c._render_svg() for c in drawn] == svgs


def test_the_county_ranking_chart_is_written_as_reportlab_writes_it():
    ranking = pd.DataFrame({
        "indicator_code": ["fixed_asset_investment"] * 4, "indicator_name": ["固定资产投资"] * 4,
        "township_name": ["桃源镇", "柳溪镇 & <新区>", "\"石门\"乡", "青山镇"],
        "ytd_value": [52345.0, 41000.0, 12.5, None], "yoy_pct": [12.3, -4.5, 12.3, None],
        "yoy_rank": [1, 3, 1, None], "target_pct": [85.2, 40.0, 101.0, None], "target_rank": [2, 3, 1, None]})
    chart = ranking_chart(ranking, "1-10月", 10)
    svg = _same_as_reportlab(chart)
    assert "柳溪镇 &amp; &lt;新区&gt;" in svg and "青山镇（未报）" in svg


def test_every_shape_and_setting_the_writer_takes_matches_reportlab():
    d = Drawing(200.5, 100)
    d.add(Rect(10, 10, -5.25, 20.1, fillColor=HexColor("#1F5AA6"), strokeColor=HexColor("#222222"), strokeWidth=2))
    d.add(Rect(0, 0, 3, 3, fillColor=None, strokeColor=None))
    d.add(Line(0, 0, 100.123456789, 50, strokeColor=HexColor("#444444"), strokeWidth=0.6,
               strokeDashArray=[3, 2]))
    d.add(Line(0, 0, 1, 1, strokeColor=None))  # drawn by neither
    d.add(PolyLine([(1, 2), (3.3333333, 4), (5, -6.5)], strokeColor=HexColor("#B8C4D6"), strokeWidth=1.5))
    d.add(String(-3.5, 7.25, "a&b <c> \"d\" 未报", fontName=charts.FONT, fontSize=8.5, fillColor=HexColor("#9C0006")))
    d.add(String(1, 1, "no fill", fontName=charts.FONT, fontSize=7, fillColor=None))  # drawn by neither
    d.add(Group(Rect(1, 1, 2, 2, fillColor=HexColor("#C0504D"), strokeColor=None), Group(),
                transform=(0.5, 0, 0, 0.5, 10, 20)))
    chart = charts.Chart("chart_shapes.svg", "形状 & 样式", d)
    assert chart_svg.svg_element(d, chart.title, "chart_shapes", {}) is not None
    _same_as_reportlab(chart)


def test_a_shape_the_writer_does_not_know_is_left_to_reportlab():
    d = Drawing(100, 50)
    d.add(Ellipse(50, 25, 20, 10, fillColor=HexColor("#1F5AA6")))
    d.add(String(5, 5, "椭圆", fontName=charts.FONT, fontSize=9))
    chart = charts.Chart("chart_ellipse.svg", "椭圆", d)
    assert chart_svg.svg_element(d, chart.title, "chart_ellipse", {charts.FONT: charts.SVG_FONTS}) is None
    assert chart.svg(inline=True).count("<ellipse ") == 1
    assert chart._render_svg() == charts.reportlab_svg(chart.in_font(charts.FONT), chart.title, "chart_ellipse")
