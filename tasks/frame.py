"""The long frame readers produce: one row per indicator row of a submitted form.

Readers (`tasks/read_form.py`) return exactly these columns, values as written in the form's unit;
intake then enriches the frame (canonical units, warehouse context) and validates it in one batch.
"""

from __future__ import annotations

import pandas as pd

# column: meaning
READ_COLUMNS: dict[str, str] = {
    "file_name": "the file's name as received",
    "sheet": "sheet name (Excel) or the file name (CSV)",
    "row_number": "1-based row in the sheet (Excel) or line in the file (CSV, header = 1)",
    "declared_reporter": "单位代码 written in the file ('' if none)",
    "declared_reporter_cell": "cell of 单位代码, e.g. C3 ('' if none)",
    "period_raw": "报告期 as written ('' if none)",
    "period_cell": "cell of 报告期",
    "indicator_code": "指标代码 as written, normalised (NFKC, stripped)",
    "code_cell": "cell of 指标代码",
    "indicator_name": "指标名称 as written ('' if no such column)",
    "month_raw": "本月 as written ('' if blank)",
    "month_value": "本月 as a number in the form's unit; NaN = not reported",
    "month_cell": "cell of 本月 ('' if no such column)",
    "month_error": "'' or why 本月 is not a number (percent, words, two numbers)",
    "ytd_raw": "1-本月累计 as written",
    "ytd_value": "1-本月累计 as a number in the form's unit; NaN = not reported",
    "ytd_cell": "cell of 1-本月累计",
    "ytd_error": "'' or why 1-本月累计 is not a number",
    "unit": "计量单位 of the row, else the header's 单位：…, else '' (= the catalog's unit)",
    "unit_cell": "cell the unit came from",
    "note": "备注 ('' if none)",
}

STRING_COLUMNS = [c for c in READ_COLUMNS if c not in ("row_number", "month_value", "ytd_value")]


def empty_read_frame() -> pd.DataFrame:
    return conform(pd.DataFrame({c: [] for c in READ_COLUMNS}))


def conform(df: pd.DataFrame) -> pd.DataFrame:
    """Give a reader's frame exactly the READ_COLUMNS, in order, with their types (columns already
    typed are left alone: this runs once per file, 32,000 times a province month)."""
    missing = [c for c in READ_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"reader frame lacks columns {missing}")
    out = df[list(READ_COLUMNS)].copy()
    dtypes, has_na = out.dtypes, out.isna().any()
    for c in STRING_COLUMNS:
        if dtypes[c] != "str" or has_na[c]:
            out[c] = out[c].fillna("").astype("str")
    for c, typ in (("row_number", "int64"), ("month_value", "float64"), ("ytd_value", "float64")):
        if dtypes[c] != typ:
            out[c] = out[c].astype(typ)
    return out
