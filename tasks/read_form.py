"""Read one submitted form (Excel 报表 or CSV) into the reader frame: what is written, and in which cell.

Nothing here judges the content (unknown codes, units, ownership): intake's validation does that.
A file that is not a form at all raises FormError with a coded conflict.
"""

from __future__ import annotations

import csv
import io
import math
import re
from pathlib import PurePath

import charset_normalizer
import pandas as pd
from python_calamine import CalamineWorkbook, PasswordError, SheetTypeEnum, SheetVisibleEnum

from township.conflicts import Conflict, FormError
from township.settings import get_settings
from tasks.form_limits import Limits, check_csv, check_grid, check_size, check_workbook
from tasks.frame import conform
from tasks.values import cell_text, parse_cells, parse_unit, parse_value
from township.text import compact, normalize_text

EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls")
CSV_SUFFIXES = (".csv",)
CSV_ENCODINGS = ["utf_8", "gb18030", "utf_16"]  # gb18030 reads GBK and GB2312 too; utf_8 with or without BOM
FORM_SHEET = "报表"
HEADER_SEARCH_ROWS = 50  # title and header block sit above the table, within the first rows

# table header label (compacted, lower case, bracketed text dropped, dashes unified) -> column role
_HEADER_ROLES = {
    **dict.fromkeys(["指标代码", "指标编码", "indicator_code", "code"], "code"),
    **dict.fromkeys(["指标名称", "指标", "indicator_name", "name"], "name"),
    **dict.fromkeys(["计量单位", "单位", "unit"], "unit"),
    **dict.fromkeys(["本月", "本月数", "本月值", "当月", "本期", "month_value"], "month"),
    **dict.fromkeys(["1-本月累计", "本月止累计", "1-本月止累计", "累计", "本年累计", "ytd_value"], "ytd"),
    **dict.fromkeys(["备注", "说明", "note"], "note"),
    **dict.fromkeys(["单位代码", "reporter_code"], "reporter"),
    **dict.fromkeys(["报告期", "period"], "period"),
}
_YTD_N_MONTHS = re.compile(r"1-\d{1,2}月止?累计")
_DASHES = re.compile(r"[—–~至到－]")
_BRACKETED = re.compile(r"\(.*?\)|\[.*?\]|【.*?】")

# header block labels above the table: "报告期：2021年1-10月" in one cell, or "报告期" then the value
_BLOCK_LABELS = {"填报单位": "reporter_name", "单位代码": "reporter", "报告期": "period",
                 "计量单位": "unit", "单位": "unit"}
_BLOCK_LABEL = re.compile(r"(填报单位|单位代码|报告期|计量单位|单位):")

_FOOTERS = ("单位负责人", "统计负责人", "填报人", "填表人", "制表人", "审核人", "联系电话", "报出日期",
            "填报日期")
_NOTE_ROW = re.compile(r"^(?:注|说明|填报说明)\d*:")
_FOOTER_INITIALS = frozenset(w[0] for w in (*_FOOTERS, "注", "说明"))
_TOTALS = frozenset({"合计", "总计", "小计"})
_CODE_LIKE = re.compile(r"[A-Za-z0-9]")


def read_form(data: bytes, file_name: str) -> pd.DataFrame:
    """The rows of one form, with the cell of every value (columns: tasks.frame.READ_COLUMNS)."""
    return conform(pd.DataFrame(read_form_columns(data, file_name)))


def read_form_columns(data: bytes, file_name: str, limits: Limits | None = None) -> dict[str, list]:
    """read_form as plain column lists (READ_COLUMNS): intake joins a whole batch's files into one
    frame at once, which is far cheaper than a DataFrame per file (32,000 a province month).
    limits: what a file may hold before it is parsed (default: the settings TOWNSHIP_MAX_*)."""
    limits = limits or Limits.of(get_settings())
    name = PurePath(file_name).name
    suffix = PurePath(name).suffix.lower()
    if suffix in EXCEL_SUFFIXES:
        if suffix == ".xls":
            check_size(data, name, limits)  # no compression: its size bounds what the reader holds
        else:
            check_workbook(data, name, limits)
        sheet, rows, lines = _excel_grid(data, name, limits)
    elif suffix in CSV_SUFFIXES:
        check_csv(data, name, limits)
        sheet, (rows, lines) = name, _csv_grid(data, name, limits)
    else:
        raise FormError(Conflict("E_FILE_TYPE", file_name=name, found=suffix or name))
    # in a 报表 an empty row ends the table (notes may follow); a CSV from another system has no
    # such layout, and a stray blank line there must not silently drop the rows after it
    return _read_table(rows, lines, sheet, name, blank_ends_table=suffix in EXCEL_SUFFIXES)


# --- files to grids: lists of rows of cells, with the 1-based row (Excel) or line (CSV) of each ---

def _unreadable(file_name: str, why: str) -> FormError:
    return FormError(Conflict("E_FILE_UNREADABLE", file_name=file_name, found=why[:200]))


def _excel_grid(data: bytes, file_name: str, limits: Limits) -> tuple[str, list[list], list[int]]:
    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        sheet = _form_sheet(book)
        grid = book.get_sheet_by_name(sheet)
        # before building Python rows (the costly part): a .xls has had no other check of its grid
        check_grid(grid.total_height, grid.total_width, sheet, file_name, limits)
        # skip_empty_area=False: rows[0][0] is A1 even when the sheet's first cell is lower down
        rows = grid.to_python(skip_empty_area=False)
    except FormError:
        raise
    except PasswordError:
        raise _unreadable(file_name, "the workbook is password protected") from None
    except Exception as e:  # calamine raises many types (zip, xml, cfb, encoding) for a damaged file
        raise _unreadable(file_name, f"not a readable Excel workbook ({type(e).__name__}: {e})") from None
    return sheet, rows, list(range(1, len(rows) + 1))


def _form_sheet(book: CalamineWorkbook) -> str:
    """The sheet named 报表, else the first visible worksheet (a notes sheet may come first but hidden)."""
    meta = book.sheets_metadata
    for m in meta:
        if compact(m.name) == FORM_SHEET:
            return m.name
    for m in meta:
        if m.typ == SheetTypeEnum.WorkSheet and m.visible == SheetVisibleEnum.Visible:
            return m.name
    return meta[0].name


def _csv_grid(data: bytes, file_name: str, limits: Limits) -> tuple[list[list], list[int]]:
    # one detection over the whole file, among the encodings Chinese offices actually save in:
    # unrestricted, short GBK files are taken for Big5 or CP949 ("无" read as "轟")
    match = charset_normalizer.from_bytes(data, cp_isolation=CSV_ENCODINGS).best() if data.strip() else None
    if match is None:
        if data.strip():
            raise _unreadable(file_name, "not text in any known encoding")
        return [], []
    text = str(match).lstrip("\ufeff")
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows, lines = [], []
    try:
        for row in reader:
            if len(row) > limits.max_columns:
                check_grid(len(rows), len(row), f"line {reader.line_num}", file_name, limits)  # exact: that row
            rows.append(row)
            lines.append(reader.line_num)  # the line a record ends on: exact unless a cell spans lines
    except csv.Error as e:
        raise _unreadable(file_name, f"not a well-formed CSV (line {reader.line_num}: {e})") from None
    return rows, lines


# --- grids to the reader frame ---

def _read_table(rows: list[list], lines: list[int], sheet: str, file_name: str, *,
                blank_ends_table: bool) -> dict[str, list]:
    head = rows[:HEADER_SEARCH_ROWS + 1]
    found = _find_header(head)
    if found is None:
        raise FormError(Conflict("E_NO_TABLE", file_name=file_name, sheet=sheet))
    header_row, first_data_row, roles = found
    block = _header_block(head[:header_row], lines)
    start, stop = _table_bounds(rows, first_data_row, blank_ends_table)
    return _frame(rows[start:stop], lines[start:stop], roles, block, sheet, file_name)


def _header_role(value: object) -> str | None:
    s = _DASHES.sub("-", _BRACKETED.sub("", compact(value).lower()))
    if not s:
        return None
    return _HEADER_ROLES.get(s) or ("ytd" if _YTD_N_MONTHS.fullmatch(s) else None)


def _roles(row: list) -> dict[str, int]:
    roles: dict[str, int] = {}
    for j, value in enumerate(row):
        role = _header_role(value) if isinstance(value, str) else None
        if role:
            roles.setdefault(role, j)  # the leftmost column of a role wins
    return roles


def _find_header(head: list[list]) -> tuple[int, int, dict[str, int]] | None:
    """(header row, first data row, role -> column) of the first row naming 指标代码 and a value column."""
    for i, row in enumerate(head):
        roles = _roles(row)
        if "code" not in roles:
            continue
        start = i + 1
        if start < len(head) and _is_subheader(head[start], roles["code"]):
            # a two-row header: "本年" over "本月 | 1-本月累计", or "本月" over "数值"
            for role, j in _roles(head[start]).items():
                roles.setdefault(role, j)
            start += 1
        if "month" in roles or "ytd" in roles:
            return i, start, roles
    return None


def _is_subheader(row: list, code_col: int) -> bool:
    cells = [v for v in row if cell_text(v)]
    return (not cell_text(_cell(row, code_col)) and bool(cells)
            and all(isinstance(v, str) and (_header_role(v) or not re.search(r"\d", v)) for v in cells))


def _header_block(rows: list[list], lines: list[int]) -> dict[str, tuple[str, str]]:
    """label -> (value, cell) for 单位代码, 报告期 and the default unit, from the rows above the table."""
    found: dict[str, tuple[str, str]] = {}
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            text = compact(value) if isinstance(value, str) else ""
            if not text:
                continue
            label = _BLOCK_LABELS.get(text.rstrip(":"))
            if label:  # the value is in the next non-empty cell to the right, unless that is a label
                k = next((k for k in range(j + 1, len(row)) if cell_text(row[k])), None)
                written = compact(cell_text(row[k])) if k is not None else ""
                if written and not _is_block_label(written):
                    found.setdefault(label, (written, f"{column_letter(k)}{lines[i]}"))
                continue
            matches = list(_BLOCK_LABEL.finditer(text))
            for m, nxt in zip(matches, matches[1:] + [None]):
                written = text[m.end(): nxt.start() if nxt else None]
                if written:
                    found.setdefault(_BLOCK_LABELS[m[1]], (written, f"{column_letter(j)}{lines[i]}"))
    return found


def _is_block_label(text: str) -> bool:
    return text.rstrip(":") in _BLOCK_LABELS or bool(_BLOCK_LABEL.match(text))


def _table_bounds(rows: list[list], first: int, blank_ends_table: bool) -> tuple[int, int]:
    """The table's rows: from the first non-empty row to the first footer (or empty) row."""
    start = first
    while start < len(rows) and _is_empty(rows[start]):
        start += 1
    stop = start
    while stop < len(rows) and not (blank_ends_table and _is_empty(rows[stop])) and not _is_footer(rows[stop]):
        stop += 1
    return start, stop


def _is_empty(row: list) -> bool:
    return not any(cell_text(v) for v in row)


def _is_footer(row: list) -> bool:
    # footers start with their label in the row's first non-empty cell: look only there (cheap)
    first = next((v for v in row if cell_text(v)), "")
    if not isinstance(first, str) or first.lstrip()[:1] not in _FOOTER_INITIALS:
        return False
    text = compact(first)
    return text.startswith(_FOOTERS) or bool(_NOTE_ROW.match(text))


def _cell(row: list, j: int) -> object:
    return row[j] if j < len(row) else ""


def _frame(body: list[list], lines: list[int], roles: dict[str, int], block: dict,
           sheet: str, file_name: str) -> dict[str, list]:
    keep = [_is_data_row(r, roles) for r in body]
    body = [r for r, k in zip(body, keep) if k]
    lines = [n for n, k in zip(lines, keep) if k]
    n = len(body)
    blank = [""] * n
    cells = {role: [_cell(r, j) for r in body] for role, j in roles.items()}
    texts = {role: [cell_text(v) for v in column] for role, column in cells.items()}

    def text_of(role: str) -> list[str]:
        return texts.get(role, blank)

    def where(role: str) -> list[str]:
        if role not in roles:
            return blank
        letter = column_letter(roles[role])
        return [f"{letter}{line}" for line in lines]

    def written_or_block(role: str) -> tuple[list[str], list[str]]:
        if role in roles:
            return _normalized(text_of(role)), where(role)
        value, cell = block.get(role, ("", ""))
        return [value] * n, [cell] * n

    month_value, month_error = parse_cells(cells.get("month", blank))
    ytd_value, ytd_error = parse_cells(cells.get("ytd", blank))
    unit, unit_cell = _units(text_of("unit"), where("unit"), block.get("unit"))
    reporter, reporter_cell = written_or_block("reporter")
    period, period_cell = written_or_block("period")
    return {
        "file_name": [file_name] * n, "sheet": [sheet] * n, "row_number": lines,
        "declared_reporter": reporter, "declared_reporter_cell": reporter_cell,
        "period_raw": period, "period_cell": period_cell,
        "indicator_code": _normalized(text_of("code")), "code_cell": where("code"),
        "indicator_name": text_of("name"),
        "month_raw": text_of("month"), "month_value": month_value, "month_cell": where("month"),
        "month_error": month_error,
        "ytd_raw": text_of("ytd"), "ytd_value": ytd_value, "ytd_cell": where("ytd"), "ytd_error": ytd_error,
        "unit": unit, "unit_cell": unit_cell, "note": text_of("note"),
    }


def _normalized(texts: list[str]) -> list[str]:
    """normalize_text of each text, once per distinct text (codes and periods repeat down a CSV)."""
    done = {t: normalize_text(t) for t in set(texts)}
    return [done[t] for t in texts]


def _is_data_row(row: list, roles: dict[str, int]) -> bool:
    """False for a 合计 row and for a section heading ("一、工业": no code-like text, nothing reported)."""
    code = compact(_cell(row, roles["code"]))
    name = compact(_cell(row, roles["name"])) if "name" in roles else ""
    if code in _TOTALS or (not code and name in _TOTALS):
        return False
    if _CODE_LIKE.search(code):
        return True
    # rows with values but no code are kept, so that validation rejects them as unknown codes
    return any(_reported(_cell(row, roles[r])) for r in ("month", "ytd") if r in roles)


def _reported(cell: object) -> bool:
    value, error = parse_value(cell)
    return bool(error) or not math.isnan(value)


def _units(written: list[str], cells: list[str], default: tuple[str, str] | None):
    """Each row's own 计量单位, else the header's 单位：…, else '' (= the catalog's unit)."""
    parsed = {u: parse_unit(u) for u in set(written)}
    default_unit, default_cell = (parse_unit(default[0]), default[1]) if default else ("", "")
    if not default_unit:
        default_cell = ""
    units = [parsed[u] or default_unit for u in written]
    where = [c if parsed[u] else default_cell for u, c in zip(written, cells)]
    return units, where


def column_letter(j: int) -> str:
    """0 -> 'A', 25 -> 'Z', 26 -> 'AA'."""
    letters = ""
    j += 1
    while j:
        j, r = divmod(j - 1, 26)
        letters = chr(65 + r) + letters
    return letters
