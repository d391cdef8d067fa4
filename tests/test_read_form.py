"""Reading real submitted files: messy Excel 报表 and CSVs in every encoding, down to the exact cell."""

from __future__ import annotations

import datetime as dt
import io
import math

import openpyxl
import pandas as pd
import pytest
import xlsxwriter

from township.conflicts import FormError
from tasks.frame import READ_COLUMNS
from tasks.read_form import read_form
from tasks.values import parse_unit, parse_values
from tests.forms import put_rows, simple_form, workbook_bytes
from township.periods import Period


def _row(df: pd.DataFrame, code: str) -> pd.Series:
    rows = df[df["indicator_code"] == code]
    assert len(rows) == 1, f"{code}: {len(rows)} rows"
    return rows.iloc[0]


def _conflict(data: bytes, name: str):
    with pytest.raises(FormError) as e:
        read_form(data, name)
    return e.value.conflict


# --- cell values ---

@pytest.mark.parametrize("cell, number", [
    (1234.5, 1234.5), (0, 0.0), ("0", 0.0), ("１２３", 123.0), (" 1,234.5 ", 1234.5), ("１，２３４", 1234.0),
    ("-5", -5.0), ("－5", -5.0), ("(5)", -5.0), ("1e3", 1000.0), (".5", 0.5),
])
def test_numbers_in_every_spelling(cell, number):
    values, errors = parse_values(pd.Series([cell], dtype=object))
    assert values.iloc[0] == number
    assert errors.iloc[0] == ""


@pytest.mark.parametrize("cell", ["—", "-", "–", "/", "无", "", "  ", None, "——", "－"])
def test_not_reported_is_nan_without_error(cell):
    values, errors = parse_values(pd.Series([cell], dtype=object))
    assert math.isnan(values.iloc[0])
    assert errors.iloc[0] == ""


@pytest.mark.parametrize("cell, reason", [
    ("12%", "percent sign"), ("１２％", "percent sign"), ("约100", "words"), ("abc", "words"),
    ("100万", "words"), ("100 200", "two numbers"), ("100/200", "two numbers"), ("100、200", "two numbers"),
    ("1,23", "misplaced thousands separator"), (dt.datetime(2021, 10, 1), "date"), (True, "not a number"),
])
def test_not_a_number_has_a_reason(cell, reason):
    values, errors = parse_values(pd.Series([cell], dtype=object))
    assert math.isnan(values.iloc[0])
    assert errors.iloc[0] == reason


def test_numeric_and_text_columns_parse_alike():
    numeric = parse_values(pd.Series([1.0, 0.0, float("nan")]))
    text = parse_values(pd.Series(["1", "0", ""], dtype="str"))
    pd.testing.assert_series_equal(numeric[0], text[0])
    assert list(numeric[1]) == list(text[1]) == ["", "", ""]


@pytest.mark.parametrize("written, unit", [
    ("单位：亿元", "亿元"), ("计量单位:万元", "万元"), ("(万元)", "万元"), ("（单位：万元）", "万元"), ("万 元", "万元"),
    ("亩", "亩"), ("", ""), (None, ""),
])
def test_units_are_normalised(written, unit):
    assert parse_unit(written) == unit


# --- Excel 报表 ---

def _messy_workbook() -> bytes:
    wb = openpyxl.Workbook()
    notes = wb.active
    notes.title = "说明"  # a notes sheet first: the reader must still pick 报表
    notes["A1"] = "指标代码 本月 本年累计 都不是表头"
    ws = wb.create_sheet("报表")
    put_rows(ws, [
        ["桃源镇主要指标月报表（2021年1-10月）"],
        ["填报单位：经济发展办", None, "单位代码", "econ", None, "报告期：2021年1-10月"],
        ["单位：亿元"],
        ["序号", "指标代码", "指标名称", "计量单位", "本月", "1-10月\n累计", "备注"],
        [1, "fixed_asset_investment", "固定资产投资", "万元", "１２３４", "1,234.5", None],
        [2, "industrial_output", "工业生产总值", None, "—", 0, "停产检修"],
        [3, "services_revenue", "服务业营业收入", "万元", " 12 ", "/", None],
        [4, "trade_sales", "贸易销售额", "万元", "无", None, None],
        [5, "fiscal_revenue", "公共财政预算收入", "万元", "12%", "约100", None],
        [6, "investment_funds", "招商引资到位资金", "亿元", "100 200", "100/200", "=SUM(A1)"],
        [None, "合计", None, None, 9999, 9999],
        [None, None, "一、其他指标"],
        [7, None, "其他", "万元", 5, None],
        [8, " ｐｒｏｊｅｃｔｓ_signed ", "签约项目数", "个", "-5", "(5)"],
        [],
        ["单位负责人：张三", None, "填报人：李四", None, "联系电话：123"],
        [9, "after_footer", "不应读取", "万元", 1, 1],
    ])
    ws.merge_cells("A1:G1")
    ws.merge_cells("A2:B2")
    ws.column_dimensions["A"].hidden = True
    ws.row_dimensions[7].hidden = True  # services_revenue: hidden rows are still read
    return workbook_bytes(wb)


@pytest.fixture(scope="module")
def messy():
    return read_form(_messy_workbook(), "econ_2021-10.xlsx")


def test_reader_returns_the_frame_contract(messy):
    assert list(messy.columns) == list(READ_COLUMNS)
    assert set(messy["sheet"]) == {"报表"}
    assert set(messy["file_name"]) == {"econ_2021-10.xlsx"}


def test_header_block_is_read_from_label_cells(messy):
    first = messy.iloc[0]
    assert (first["declared_reporter"], first["declared_reporter_cell"]) == ("econ", "D2")
    assert (first["period_raw"], first["period_cell"]) == ("2021年1-10月", "F2")
    assert Period.parse(first["period_raw"]) == Period(2021, 10)


def test_table_rows_in_order_skipping_total_heading_and_footer(messy):
    assert list(messy["indicator_code"]) == [
        "fixed_asset_investment", "industrial_output", "services_revenue", "trade_sales", "fiscal_revenue",
        "investment_funds", "", "projects_signed"]
    assert list(messy["row_number"]) == [5, 6, 7, 8, 9, 10, 13, 14]


def test_messy_numbers_and_their_cells(messy):
    fai = _row(messy, "fixed_asset_investment")
    assert (fai["month_value"], fai["month_raw"], fai["month_cell"]) == (1234.0, "１２３４", "E5")
    assert (fai["ytd_value"], fai["ytd_raw"], fai["ytd_cell"]) == (1234.5, "1,234.5", "F5")
    assert (fai["code_cell"], fai["unit"], fai["unit_cell"]) == ("B5", "万元", "D5")
    hidden = _row(messy, "services_revenue")
    assert hidden["month_value"] == 12.0 and math.isnan(hidden["ytd_value"]) and hidden["ytd_error"] == ""
    neg = _row(messy, "projects_signed")
    assert (neg["month_value"], neg["ytd_value"]) == (-5.0, -5.0)
    assert neg["indicator_code"] == "projects_signed"  # full-width letters and spaces normalised


def test_blank_dash_and_zero_are_different_answers(messy):
    output = _row(messy, "industrial_output")
    assert math.isnan(output["month_value"]) and output["month_raw"] == "—" and output["month_error"] == ""
    assert output["ytd_value"] == 0.0 and output["ytd_raw"] == "0"
    trade = _row(messy, "trade_sales")
    assert math.isnan(trade["month_value"]) and math.isnan(trade["ytd_value"])
    assert (trade["month_raw"], trade["ytd_raw"]) == ("无", "")


def test_values_that_are_not_numbers_keep_their_reason(messy):
    fiscal = _row(messy, "fiscal_revenue")
    assert (fiscal["month_error"], fiscal["ytd_error"]) == ("percent sign", "words")
    funds = _row(messy, "investment_funds")
    assert (funds["month_error"], funds["ytd_error"]) == ("two numbers", "two numbers")
    assert (funds["month_cell"], funds["month_raw"]) == ("E10", "100 200")


def test_header_unit_applies_to_rows_without_their_own(messy):
    output = _row(messy, "industrial_output")
    assert (output["unit"], output["unit_cell"]) == ("亿元", "A3")
    assert _row(messy, "investment_funds")["unit"] == "亿元"


def test_a_row_with_values_but_no_code_is_kept_for_validation(messy):
    nameless = _row(messy, "")
    assert (nameless["indicator_name"], nameless["month_value"], nameless["code_cell"]) == ("其他", 5.0, "B13")


def test_notes_are_text_as_written(messy):
    assert _row(messy, "industrial_output")["note"] == "停产检修"
    # openpyxl stores "=SUM(A1)" as a formula without a cached value: the note reads as blank
    assert _row(messy, "investment_funds")["note"] == ""


def test_formula_cells_give_their_cached_values():
    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True})
    ws = book.add_worksheet("报表")
    for j, h in enumerate(["单位代码：finance", "", "报告期：2021-10"]):
        ws.write_string(0, j, h)
    for j, h in enumerate(["指标代码", "指标名称", "本月", "1-本月累计"]):
        ws.write_string(1, j, h)
    ws.write_string(2, 0, "fiscal_revenue")
    ws.write_number(2, 2, 120)
    ws.write_formula(2, 3, "=C3+500", None, 620)
    book.close()
    row = _row(read_form(buf.getvalue(), "f.xlsx"), "fiscal_revenue")
    assert (row["ytd_value"], row["ytd_cell"], row["ytd_error"]) == (620.0, "D3", "")
    assert row["unit"] == "" and row["unit_cell"] == ""  # no unit anywhere: the catalog's unit applies


def test_cells_are_exact_when_the_form_starts_away_from_a1():
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Sheet1"  # no 报表 sheet: the first sheet is the form
    put_rows(ws, [
        ["报告期", dt.datetime(2021, 10, 1), "单位代码：", "invest"],
        [None],
        ["指标代码", "本月止累计", "本月", "计量单位"],
        ["investment_funds", 3.5, 0.5, "（亿元）"],
    ], top=3, left=2)
    df = read_form(workbook_bytes(wb), "invest.xlsx")
    row = _row(df, "investment_funds")
    assert row["sheet"] == "Sheet1"
    assert (row["period_raw"], row["period_cell"]) == ("2021-10-01", "C3")
    assert (row["declared_reporter"], row["declared_reporter_cell"]) == ("invest", "E3")
    assert (row["code_cell"], row["ytd_cell"], row["month_cell"], row["unit_cell"]) == ("B6", "C6", "D6", "E6")
    assert (row["row_number"], row["ytd_value"], row["month_value"], row["unit"]) == (6, 3.5, 0.5, "亿元")


def test_a_hidden_first_sheet_is_not_the_form():
    wb = openpyxl.Workbook()
    wb.active.title = "数据源"
    put_rows(wb.active, [["指标代码", "本月"], ["wrong_sheet", 1]])
    wb.active.sheet_state = "hidden"
    put_rows(wb.create_sheet("Sheet2"), [["指标代码", "本月"], ["bee_colonies", 860]])
    df = read_form(workbook_bytes(wb), "agri.xlsx")
    assert (df.loc[0, "sheet"], df.loc[0, "indicator_code"], df.loc[0, "month_cell"]) == ("Sheet2", "bee_colonies", "B2")


@pytest.mark.parametrize("label", ["1-本月累计", "本月止累计", "1-10月累计", "累计", "１－本月\n累计", "1—10月止累计",
                                   "1-本月累计\n（万元）"])
def test_cumulative_header_variants(label):
    df = read_form(simple_form([["fiscal_revenue", "公共财政预算收入", "万元", 10, 90]],
                               header=["指标代码", "指标名称", "计量单位", "本月", label]), "f.xlsx")
    assert (df.loc[0, "ytd_value"], df.loc[0, "ytd_cell"]) == (90.0, "E3")


def test_two_row_header_is_read_as_one():
    wb = openpyxl.Workbook()
    ws = wb.active
    put_rows(ws, [
        ["报告期：2021年10月"],
        ["指标代码", "指标名称", "本年", None],
        [None, None, "本月", "1-本月累计"],
        ["tourist_visits", "接待游客", 2.5, 70.25],
    ])
    ws.merge_cells("A2:A3")
    ws.merge_cells("C2:D2")
    row = read_form(workbook_bytes(wb), "t.xlsx").iloc[0]
    assert (row["month_cell"], row["month_value"], row["ytd_cell"], row["ytd_value"]) == ("C4", 2.5, "D4", 70.25)


def test_value_caption_row_under_the_header_is_skipped():
    df = read_form(simple_form([[None, None, None, "数值", "数值"], ["party_lectures", "专题宣讲", "次", 3, 30]]),
                   "p.xlsx")
    assert list(df["indicator_code"]) == ["party_lectures"]
    assert df.loc[0, "month_cell"] == "D4"


def test_only_a_month_column():
    df = read_form(simple_form([["herb_area", "中草药种植面积", "亩", 1200]],
                               header=["指标代码", "指标名称", "计量单位", "本月"]), "a.xlsx")
    row = df.iloc[0]
    assert row["month_value"] == 1200.0
    assert (row["ytd_raw"], row["ytd_cell"], row["ytd_error"]) == ("", "", "")
    assert math.isnan(row["ytd_value"])


def test_a_form_without_rows_reads_as_empty():
    df = read_form(simple_form([]), "empty.xlsx")
    assert df.empty and list(df.columns) == list(READ_COLUMNS)


# --- CSV ---

CSV_ZH = ("单位代码,报告期,指标代码,指标名称,本月,1-本月累计,计量单位,备注\n"
          "V01,2021年10月,village_collective_income,村集体经营性收入,\"1,234.5\",１２３４５,万元,含土地流转收入\n"
          "\n"
          "V01,2021年10月,coop_households,合作社入社农户,—,,户,\n"
          "V01,2021年10月,合计,,9,9,,\n")
CSV_EN = ("reporter_code,period,indicator_code,month_value,ytd_value,unit,note\n"
          "V02,2021-10,village_collective_income,0,56.5,万元,无\n"
          "V02,2021-10,coop_households,12%,,户,\n")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_with_chinese_headers_in_every_encoding(encoding):
    df = read_form(CSV_ZH.encode(encoding), f"V01_{encoding}.csv")
    assert list(df["indicator_code"]) == ["village_collective_income", "coop_households"]
    income, coops = df.iloc[0], df.iloc[1]
    assert income["sheet"] == f"V01_{encoding}.csv"
    assert (income["declared_reporter"], income["declared_reporter_cell"]) == ("V01", "A2")
    assert (income["period_raw"], income["period_cell"]) == ("2021年10月", "B2")
    assert (income["month_value"], income["month_cell"], income["ytd_value"], income["ytd_cell"]) == (
        1234.5, "E2", 12345.0, "F2")
    assert (income["unit"], income["unit_cell"], income["note"]) == ("万元", "G2", "含土地流转收入")
    # the blank line 3 does not end a CSV; line numbers stay the file's own
    assert (coops["row_number"], coops["code_cell"], coops["month_raw"]) == (4, "C4", "—")
    assert math.isnan(coops["month_value"]) and math.isnan(coops["ytd_value"])


@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
def test_csv_with_english_headers(encoding):
    df = read_form(CSV_EN.encode(encoding), "V02.csv")
    income, coops = df.iloc[0], df.iloc[1]
    assert (income["month_value"], income["ytd_value"], income["note"]) == (0.0, 56.5, "无")
    assert (income["indicator_name"], income["period_raw"], income["declared_reporter"]) == ("", "2021-10", "V02")
    assert (coops["month_error"], coops["month_cell"], coops["row_number"]) == ("percent sign", "D3", 3)


def test_tab_separated_utf16_as_excel_saves_unicode_text():
    text = "单位代码\t报告期\t指标代码\t本月\nV03\t2021-10\tcoop_households\t１２\n"
    row = read_form(text.encode("utf-16"), "V03.csv").iloc[0]
    assert (row["indicator_code"], row["month_value"], row["month_cell"]) == ("coop_households", 12.0, "D2")


def test_csv_saved_from_an_excel_form_keeps_its_header_block():
    text = ("桃源镇主要指标月报表（2021年1-10月）,,,\n单位代码：party,,报告期：2021-10,\n"
            "指标代码,指标名称,本月,1-本月累计\nparty_lectures,专题宣讲,3,30\n,,,\n单位负责人：,,,\n")
    row = read_form(text.encode("gbk"), "party.csv").iloc[0]
    assert (row["declared_reporter"], row["declared_reporter_cell"], row["period_cell"]) == ("party", "A2", "C2")
    assert (row["month_value"], row["month_cell"], row["ytd_cell"]) == (3.0, "C4", "D4")


# --- files that are not forms ---

@pytest.mark.parametrize("name, found", [("report.pdf", ".pdf"), ("报表.docx", ".docx"), ("README", "README")])
def test_unsupported_file_type(name, found):
    conflict = _conflict(b"anything", name)
    assert (conflict.code, conflict.found, conflict.file_name) == ("E_FILE_TYPE", found, name)


@pytest.mark.parametrize("name", ["broken.xlsx", "broken.xls", "broken.xlsm"])
def test_corrupt_workbook_is_unreadable(name):
    conflict = _conflict(b"PK\x03\x04 not really a zip" * 20, name)
    assert conflict.code == "E_FILE_UNREADABLE" and conflict.file_name == name
    assert "Excel" in conflict.message_en


def test_binary_garbage_csv_is_unreadable():
    assert _conflict(bytes(range(256)) * 16, "x.csv").code == "E_FILE_UNREADABLE"


@pytest.mark.parametrize("data, name", [
    (simple_form([["fiscal_revenue", "x", "万元", 1, 1]], header=["代码", "名称", "单位", "数值"]), "a.xlsx"),
    (b"", "empty.csv"),
    ("名称,数值\n收入,1\n".encode("gbk"), "b.csv"),
], ids=["xlsx", "empty-csv", "gbk-csv"])  # not ids from the bytes: a workbook's bytes hold the time it was written,
# so two xdist workers collecting a second apart would name the test differently and refuse to run at all
def test_a_sheet_without_a_table_header(data, name):
    conflict = _conflict(data, name)
    assert conflict.code == "E_NO_TABLE" and conflict.file_name == name


def test_header_with_code_but_no_value_column_is_no_table():
    data = simple_form([["fiscal_revenue", "x"]], header=["指标代码", "指标名称"])
    assert _conflict(data, "n.xlsx").sheet == "报表"
