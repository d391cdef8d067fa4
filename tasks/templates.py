"""Write the monthly 报表 in the submission contract's layout: blank templates for reporters, filled forms for demos.

What `write_form` writes, `tasks.read_form.read_form` reads back exactly (tests hold both to it).
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path

import xlsxwriter

from tasks.values import cell_text
from township.catalog import Catalog
from township.periods import Period

FORM_SHEET, GUIDE_SHEET = "报表", "填报说明"
TABLE_HEADER = ("指标代码", "指标名称", "计量单位", "本月", "1-本月累计", "备注")
CSV_HEADER = ("reporter_code", "period", "indicator_code", "indicator_name", "month_value", "ytd_value",
              "unit", "note")
CSV_HEADER_ZH = ("单位代码", "报告期", "指标代码", "指标名称", "本月", "1-本月累计", "计量单位", "备注")
FOOTER = ("单位负责人：", "填报人：", "联系电话：")
TABLE_FIRST_ROW = 4  # 0-based: title, header block, unit line, then the table header

GUIDE = [
    "填报说明",
    "1. 每月5日24:00前将本表放入本单位收件夹（文件夹名即单位代码）；逾期视为迟报。",
    "2. 只在“本月”“1-本月累计”“备注”列填写；不要修改指标代码、增删行列或改动表头。",
    "3. 未发生或无数据请留空或填“—”，不要填0；填0表示本月确实为零。",
    "4. 数值按“计量单位”列填写（亿元、万元、人次等）；单位不同请改写该行计量单位，不要换算后混填。",
    "5. 只填一个数字：不要带百分号、文字或两个数。千分位逗号、全角数字可以识别。",
    "6. 期末数指标（如种植面积、存栏数）在“本月”填月末数，“1-本月累计”留空。",
    "7. 数值变化较大（同比超过±50%等）请在“备注”中说明原因。",
]


@dataclass
class FormRow:
    """One indicator row of a form; month/ytd are a number, text as a reporter typed it, or None (blank)."""

    code: str
    name: str
    unit: str
    month: object = None
    ytd: object = None
    note: str = ""


def form_rows(catalog: Catalog, reporter_code: str) -> list[FormRow]:
    """One empty row per indicator the reporter owns, in catalog order, with the catalog's unit."""
    return [FormRow(i.code, i.name, i.unit) for i in catalog.indicators_of(reporter_code)]


def title_of(catalog: Catalog, reporter_code: str, period_text: str) -> str:
    township = catalog.township_by_code[catalog.reporter_by_code[reporter_code].township]
    return f"{township.name}主要指标月报表（{period_text}）"


def write_form(path: Path, catalog: Catalog, reporter_code: str, period: Period, rows: list[FormRow], *,
               period_text: str | None = None, declared_reporter: str | None = None,
               reported_on: dt.date | None = None, header_unit: str | None = None) -> Path:
    """Write one 报表 (.xlsx) for a reporter and period; returns the path written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    period_text = period_text or period.title_zh()
    reporter = catalog.reporter_by_code[reporter_code]
    # strings stay strings: a note "=1+1" or "@x" must never become a formula
    book = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_numbers": False,
                                           "strings_to_urls": False})
    # a fixed creation time: the same form written twice is the same bytes (same sha256 at intake)
    created = reported_on or dt.date(period.next().year, period.next().month, 1)
    book.set_properties({"title": title_of(catalog, reporter_code, period_text),
                         "created": dt.datetime.combine(created, dt.time(0, 0))})
    fmt = _formats(book)
    sheet = book.add_worksheet(FORM_SHEET)
    last_col = len(TABLE_HEADER) - 1

    sheet.merge_range(0, 0, 0, last_col, title_of(catalog, reporter_code, period_text), fmt["title"])
    sheet.set_row(0, 30)
    block = [("填报单位：", reporter.name), ("单位代码：", declared_reporter if declared_reporter is not None
                                          else reporter_code), ("报告期：", period_text)]
    for k, (label, value) in enumerate(block):
        sheet.write_string(1, 2 * k, label, fmt["label"])
        sheet.write_string(1, 2 * k + 1, value, fmt["text"])
    if header_unit:
        sheet.write_string(2, 0, f"单位：{header_unit}", fmt["text"])

    top = TABLE_FIRST_ROW - 1
    for j, label in enumerate(TABLE_HEADER):
        sheet.write_string(top, j, label, fmt["header"])
    for i, row in enumerate(rows, start=TABLE_FIRST_ROW):
        indicator = catalog.indicator_by_code.get(row.code)
        number = fmt["number"][indicator.decimals if indicator else 2]
        sheet.write_string(i, 0, row.code, fmt["cell"])
        sheet.write_string(i, 1, row.name, fmt["cell"])
        sheet.write_string(i, 2, row.unit, fmt["cell"])
        _write_value(sheet, i, 3, row.month, number, fmt["input"])
        # a stock indicator is a month-end level: its cumulative cell is shaded as "leave blank"
        stock = indicator is not None and indicator.measure == "stock"
        _write_value(sheet, i, 4, row.ytd, number, fmt["shaded"] if stock else fmt["input"])
        sheet.write_string(i, 5, row.note or "", fmt["input"])

    if rows:
        _numbers_only(sheet, TABLE_FIRST_ROW, TABLE_FIRST_ROW + len(rows) - 1)

    footer = TABLE_FIRST_ROW + len(rows) + 1  # one blank row ends the table
    for k, label in enumerate(FOOTER):
        sheet.write_string(footer, 2 * k, label, fmt["label"])
        sheet.write_blank(footer, 2 * k + 1, None, fmt["fill"])
    sheet.write_string(footer + 1, 0, "报出日期：", fmt["label"])
    if reported_on:
        sheet.write_string(footer + 1, 1, reported_on.isoformat(), fmt["fill"])
    else:
        sheet.write_blank(footer + 1, 1, None, fmt["fill"])

    sheet.set_column(0, 0, 26)
    sheet.set_column(1, 1, 24)
    sheet.set_column(2, 2, 10)
    sheet.set_column(3, 4, 14)
    sheet.set_column(5, 5, 30)
    sheet.freeze_panes(TABLE_FIRST_ROW, 0)
    sheet.activate()
    # No password: protection keeps codes, names and units from being edited by accident (the reader relies
    # on them); a station that needs to change a form can unprotect it. Columns stay resizable.
    sheet.protect("", {"format_columns": True, "format_rows": True})
    _write_guide(book, fmt)
    book.close()
    return path


def _formats(book: xlsxwriter.Workbook) -> dict:
    border = {"border": 1, "font_name": "宋体", "font_size": 11}
    return {
        "title": book.add_format({"bold": True, "font_size": 16, "align": "center", "valign": "vcenter"}),
        "label": book.add_format({"bold": True}),
        "text": book.add_format({}),
        "header": book.add_format({**border, "bold": True, "align": "center", "bg_color": "#DDEBF7",
                                   "text_wrap": True}),
        "cell": book.add_format(border),
        # what a reporter fills is unlocked; everything else is locked once the sheet is protected
        "fill": book.add_format({"locked": False}),
        "input": book.add_format({**border, "bg_color": "#FFFFE0", "locked": False}),
        "shaded": book.add_format({**border, "bg_color": "#D9D9D9", "locked": False}),
        "number": {d: book.add_format({**border, "bg_color": "#FFFFE0", "locked": False,
                                       "num_format": "#,##0" + ("." + "0" * d if d else "")})
                   for d in range(7)},
    }


def _numbers_only(sheet, first: int, last: int) -> None:
    """Excel refuses anything but a number (or blank, or "—" for nothing, as the guide allows) in 本月 and
    1-本月累计: a typo is caught while typing instead of coming back as a rejection days later."""
    top = f"D{first + 1}"  # the formula is written for the range's top-left cell and shifts with each cell
    sheet.data_validation(first, 3, last, 4, {
        "validate": "custom", "value": f'=OR(ISNUMBER({top}),{top}="—")', "ignore_blank": True,
        "error_title": "只能填数字", "error_type": "stop",
        "error_message": "本月、1-本月累计只能填一个数字；无数据请留空或填“—”。",
        "input_title": "填数字", "input_message": "按“计量单位”列的单位填写；无数据请留空或填“—”。",
    })


def _write_value(sheet, row: int, col: int, value: object, number_fmt, blank_fmt) -> None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        sheet.write_blank(row, col, None, blank_fmt)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        sheet.write_number(row, col, value, number_fmt)
    else:
        sheet.write_string(row, col, str(value), blank_fmt)  # as typed: "1,234", "—", "约100"


def _write_guide(book: xlsxwriter.Workbook, fmt: dict) -> None:
    guide = book.add_worksheet(GUIDE_SHEET)
    guide.protect("", {"format_columns": True, "format_rows": True})
    guide.set_column(0, 0, 100)
    guide.write_string(0, 0, GUIDE[0], fmt["title"])
    for i, line in enumerate(GUIDE[1:], start=1):
        guide.write_string(i, 0, line)


def write_csv_form(path: Path, reporter_code: str, period: Period, rows: list[FormRow], *,
                   encoding: str = "utf-8-sig", chinese_headers: bool = False) -> Path:
    """Write a form as the CSV other systems send: one line per indicator, period as YYYY-MM."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding=encoding, newline="") as f:
        out = csv.writer(f)
        out.writerow(CSV_HEADER_ZH if chinese_headers else CSV_HEADER)
        for r in rows:
            out.writerow([reporter_code, str(period), r.code, r.name, cell_text(r.month), cell_text(r.ytd),
                          r.unit, r.note or ""])
    return path


def template_path(folder: Path, reporter_code: str, period: Period) -> Path:
    return Path(folder) / reporter_code / f"{reporter_code}_{period}_报表.xlsx"


def write_templates(folder: Path, catalog: Catalog, period: Period) -> list[Path]:
    """One blank 报表 per expected reporter of every township, into folder/<reporter>/."""
    return [write_form(template_path(folder, r.code, period), catalog, r.code, period, form_rows(catalog, r.code))
            for t in catalog.townships for r in catalog.expected_reporters(t.code)]
