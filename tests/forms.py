"""Build real, messy submitted files for reader tests: openpyxl workbooks placed anywhere on a sheet."""

from __future__ import annotations

import io

import openpyxl


def put_rows(ws, rows: list[list], top: int = 1, left: int = 1) -> None:
    """Write rows of cells with the first one at (top, left), 1-based; None leaves a cell empty."""
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            if value is not None:
                ws.cell(top + i, left + j, value)


def workbook_bytes(wb: openpyxl.Workbook) -> bytes:
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def simple_form(rows: list[list], *, header: list[str] | None = None, block: list[list] | None = None,
                sheet: str = "报表") -> bytes:
    """A plain 报表: optional block rows from A1, then a header row, then `rows`."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    block = block if block is not None else [["单位代码：econ", None, "报告期：2021-10"]]
    header = header or ["指标代码", "指标名称", "计量单位", "本月", "1-本月累计", "备注"]
    put_rows(ws, [*block, header, *rows])
    return workbook_bytes(wb)
