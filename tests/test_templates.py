"""The 报表 writer: blank templates for every reporter, and filled forms that the reader reads back exactly."""

from __future__ import annotations

import datetime as dt
import math

import openpyxl
import pytest

from tasks.read_form import read_form
from tasks.templates import FormRow, form_rows, write_csv_form, write_form, write_templates
from township.periods import Period

OCT = Period(2021, 10)


def _read(path):
    return read_form(path.read_bytes(), path.name)


def test_form_rows_are_the_reporters_indicators_with_catalog_units(catalog):
    rows = form_rows(catalog, "invest")
    assert [(r.code, r.name, r.unit) for r in rows] == [
        ("investment_funds", "招商引资到位资金", "亿元"),
        ("investment_funds_yrd", "其中：长三角资金", "亿元"),
        ("projects_signed", "签约项目数", "个")]
    assert all(r.month is None and r.ytd is None and r.note == "" for r in rows)


def test_blank_templates_for_every_expected_reporter(catalog, tmp_path):
    paths = write_templates(tmp_path, catalog, OCT)
    expected = [r.code for r in catalog.expected_reporters("taoyuan")]
    assert [p.parent.name for p in paths] == expected
    assert "stats" not in expected  # the statistics station owns no indicator: no form to fill
    for path, reporter in zip(paths, expected):
        df = _read(path)
        assert list(df["indicator_code"]) == [i.code for i in catalog.indicators_of(reporter)]
        assert set(df["declared_reporter"]) == {reporter}
        assert set(df["period_raw"]) == {"2021年1-10月"}
        assert df["month_value"].isna().all() and df["ytd_value"].isna().all()
        assert (df["month_error"] == "").all() and (df["ytd_error"] == "").all()


def test_template_layout_a_reporter_sees(catalog, tmp_path):
    path = write_form(tmp_path / "econ.xlsx", catalog, "econ", OCT, form_rows(catalog, "econ"),
                      reported_on=dt.date(2021, 11, 3))
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["报表", "填报说明"]
    ws = wb["报表"]
    assert ws["A1"].value == "桃源镇主要指标月报表（2021年1-10月）"
    assert "A1:F1" in {str(r) for r in ws.merged_cells.ranges}
    assert [ws.cell(2, j).value for j in range(1, 7)] == ["填报单位：", "经济发展办", "单位代码：", "econ",
                                                          "报告期：", "2021年1-10月"]
    assert [c.value for c in ws[4]] == ["指标代码", "指标名称", "计量单位", "本月", "1-本月累计", "备注"]
    assert [ws.cell(r, 1).value for r in range(5, 9)] == [
        "fixed_asset_investment", "industrial_output", "services_revenue", "trade_sales"]
    assert ws["A9"].value is None  # the blank row that ends the table
    assert (ws["A10"].value, ws["C10"].value, ws["E10"].value) == ("单位负责人：", "填报人：", "联系电话：")
    assert (ws["A11"].value, ws["B11"].value) == ("报出日期：", "2021-11-03")
    guide = " ".join(str(c.value) for c in wb["填报说明"]["A"])
    assert "不要填0" in guide and "计量单位" in guide and "5日" in guide


def test_filled_form_round_trips_exactly(catalog, tmp_path):
    rows = form_rows(catalog, "invest")
    rows[0].month, rows[0].ytd, rows[0].note = 1.25, 10.5, "含省外资金"
    rows[1].month, rows[1].ytd = "—", "1,234.5"  # text as a reporter types it
    rows[2].month, rows[2].ytd = 0, None  # zero is an answer, None is blank
    path = write_form(tmp_path / "invest.xlsx", catalog, "invest", OCT, rows)
    df = _read(path)
    assert list(df["indicator_code"]) == ["investment_funds", "investment_funds_yrd", "projects_signed"]
    assert list(df["code_cell"]) == ["A5", "A6", "A7"]
    assert list(df["month_cell"]) == ["D5", "D6", "D7"] and list(df["ytd_cell"]) == ["E5", "E6", "E7"]
    assert (df.loc[0, "month_value"], df.loc[0, "ytd_value"], df.loc[0, "note"]) == (1.25, 10.5, "含省外资金")
    assert math.isnan(df.loc[1, "month_value"]) and df.loc[1, "month_raw"] == "—"
    assert (df.loc[1, "ytd_value"], df.loc[1, "ytd_raw"]) == (1234.5, "1,234.5")
    assert df.loc[2, "month_value"] == 0.0 and math.isnan(df.loc[2, "ytd_value"])
    assert list(df["unit"]) == ["亿元", "亿元", "个"] and list(df["unit_cell"]) == ["C5", "C6", "C7"]
    assert set(df["declared_reporter_cell"]) == {"D2"} and set(df["period_cell"]) == {"F2"}


def test_header_unit_period_text_and_declared_reporter(catalog, tmp_path):
    rows = [FormRow("fixed_asset_investment", "固定资产投资", "", 1.5, 3.0),
            FormRow("industrial_output", "工业生产总值", "万元", 800, 1600)]
    path = write_form(tmp_path / "feb.xlsx", catalog, "econ", Period(2021, 2), rows, period_text="2021年1-2月",
                      declared_reporter="finance", header_unit="亿元")
    df = _read(path)
    assert set(df["period_raw"]) == {"2021年1-2月"} and Period.parse(df.loc[0, "period_raw"]) == Period(2021, 2)
    assert set(df["declared_reporter"]) == {"finance"}
    assert (df.loc[0, "unit"], df.loc[0, "unit_cell"]) == ("亿元", "A3")
    assert (df.loc[1, "unit"], df.loc[1, "unit_cell"]) == ("万元", "C6")
    assert openpyxl.load_workbook(path)["报表"]["A1"].value == "桃源镇主要指标月报表（2021年1-2月）"


@pytest.mark.parametrize("note", ["=1+1", "+86 123", "-5 见说明", "@SUM(A1)", "=HYPERLINK(\"http://x\")"])
def test_notes_that_look_like_formulas_stay_text(catalog, tmp_path, note):
    rows = form_rows(catalog, "party")
    rows[0].note = note
    path = write_form(tmp_path / "party.xlsx", catalog, "party", OCT, rows)
    cell = openpyxl.load_workbook(path)["报表"]["F5"]
    assert (cell.value, cell.data_type) == (note, "s")
    assert _read(path).loc[0, "note"] == note


def test_the_same_form_is_the_same_bytes(catalog, tmp_path):
    rows = form_rows(catalog, "finance")
    a = write_form(tmp_path / "a.xlsx", catalog, "finance", OCT, rows, reported_on=dt.date(2021, 11, 4))
    b = write_form(tmp_path / "b.xlsx", catalog, "finance", OCT, rows, reported_on=dt.date(2021, 11, 4))
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize("encoding, chinese", [("utf-8-sig", False), ("utf-8", True), ("gbk", True),
                                               ("gb18030", False)])
def test_csv_form_round_trips(encoding, chinese, tmp_path):
    rows = [FormRow("village_collective_income", "村集体经营性收入", "万元", 12.5, 100.25, "含分红"),
            FormRow("coop_households", "合作社入社农户", "户", None, "—")]
    path = write_csv_form(tmp_path / "V01.csv", "V01", OCT, rows, encoding=encoding, chinese_headers=chinese)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf") == (encoding == "utf-8-sig")
    df = _read(path)
    assert list(df["indicator_code"]) == ["village_collective_income", "coop_households"]
    assert set(df["declared_reporter"]) == {"V01"} and set(df["period_raw"]) == {"2021-10"}
    assert (df.loc[0, "month_value"], df.loc[0, "ytd_value"], df.loc[0, "note"]) == (12.5, 100.25, "含分红")
    assert math.isnan(df.loc[1, "month_value"]) and math.isnan(df.loc[1, "ytd_value"])
    assert (df.loc[1, "ytd_raw"], df.loc[1, "ytd_error"], df.loc[1, "unit"]) == ("—", "", "户")
    assert list(df["row_number"]) == [2, 3] and df.loc[0, "month_cell"] == "E2"


def test_template_takes_numbers_only_in_value_cells_and_protects_its_labels(catalog, tmp_path):
    path = write_templates(tmp_path, catalog, OCT)[0]  # econ: 4 indicators, rows 5-8
    ws = openpyxl.load_workbook(path)["报表"]
    assert ws.protection.sheet  # Excel refuses edits of locked cells
    for cell in ("A1", "B2", "D2", "A4", "D4", "A5", "B5", "C5", "A8", "C8", "A10"):
        assert ws[cell].protection.locked, cell  # title, header block, table header, codes, names, units
    for cell in ("D5", "E5", "F5", "D8", "E8", "F8", "B10", "D10", "F10", "B11"):
        assert not ws[cell].protection.locked, cell  # values, notes, the footer's answers
    [rule] = ws.data_validations.dataValidation
    assert str(rule.sqref) == "D5:E8" and rule.type == "custom" and rule.showErrorMessage
    assert rule.formula1 == 'OR(ISNUMBER(D5),D5="—")' and rule.errorStyle in (None, "stop")
    assert "只能填一个数字" in rule.error
    assert openpyxl.load_workbook(path)["填报说明"].protection.sheet
    # Still read exactly as before: protection and validation change nothing the reader sees.
    assert list(_read(path)["indicator_code"]) == [i.code for i in catalog.indicators_of("econ")]
