"""Write a vintage's files: the 报表-style indicators.xlsx, indicators.csv (BOM), indicators.parquet,
and manifest.json. A vintage folder is built aside and renamed into place, then never touched again.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

MISSING = "未报"  # the reporter did not report: never 0
NOT_APPLICABLE = "—"  # no base, no target, or not a flow
FORMULA_START = ("=", "+", "-", "@")

# The one schema of the machine-readable files (parquet, csv), declared once: every vintage of every
# month has exactly these columns and types, so a year of vintages reads as one dataset (DuckDB,
# pyarrow.dataset). Text is always `string` (never large_string, never double when all-null).
EXPORT_SCHEMA = pa.schema([
    ("township_code", pa.string()), ("period", pa.string()), ("period_label", pa.string()),
    ("vintage", pa.int64()), ("status", pa.string()), ("indicator_code", pa.string()),
    ("indicator_name", pa.string()), ("unit", pa.string()), ("month_value", pa.float64()),
    ("ytd_value", pa.float64()), ("prior_ytd_value", pa.float64()), ("yoy_pct", pa.float64()),
    ("annual_target", pa.float64()), ("target_pct", pa.float64()), ("schedule_gap_pp", pa.float64()),
    ("reporters_expected", pa.int64()), ("reporters_reported", pa.int64()), ("missing_reporters", pa.string()),
    ("note", pa.string()),
])
EXPORT_COLUMNS = EXPORT_SCHEMA.names

# The 报表's columns: header, table column, kind of cell.
SHEET_COLUMNS = [
    ("指标名称", "indicator_name", "text"),
    ("计量单位", "unit", "text"),
    ("本月", "month_value", "value"),
    ("1-本月累计", "ytd_value", "value"),
    ("去年同期", "prior_ytd_value", "value"),
    ("同比±%", "yoy_pct", "pct"),
    ("年度任务", "annual_target", "value"),
    ("完成率%", "target_pct", "pct"),
    ("序时进度差", "schedule_gap_pp", "pct"),
    ("报送单位", "reported_of_expected", "text"),
    ("备注", "note", "text"),
]


@dataclass(frozen=True)
class ExportHeader:
    """What the files say about the vintage besides the figures."""

    township_code: str
    township_name: str
    period: str
    period_label: str
    vintage: int
    status: str  # preliminary | final
    status_zh: str  # 快报 | 定报
    published_local: str  # e.g. 2021-11-10 09:00 (Asia/Shanghai)
    content_hash: str
    # The sign-off (tasks/signoff.py); empty for an unsigned vintage or a draft.
    decision: str = ""  # preliminary | final | revision
    decision_zh: str = ""  # 快报 | 定报 | 修订
    signer: str = ""  # 审核人, as entered
    signed_local: str = ""  # 签发时间
    comment: str = ""

    @property
    def title(self) -> str:
        return f"{self.township_name}主要指标月报表（{self.period[:4]}年{self.period_label}）{self.status_zh}"


def vintage_folder(publish_dir: str | Path, township: str, period: str, vintage: int) -> Path:
    return Path(publish_dir) / township / period / f"v{vintage}"


def is_published(folder: Path) -> bool:
    """A vintage folder is complete once its manifest exists (it is written last, then renamed in)."""
    return (folder / "manifest.json").is_file()


def staging_folder(folder: Path) -> Path:
    """A fresh sibling folder to build the vintage in, so that readers never see half a vintage.
    Staging folders left by publishers that died (their process is gone) are removed first."""
    remove_stale_staging(folder.parent)
    stage = folder.with_name(f".{folder.name}.staging-{os.getpid()}")
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    return stage


def remove_stale_staging(period_dir: Path) -> list[Path]:
    """Remove `.vN.staging-<pid>` folders whose process no longer runs (a publisher killed mid-write);
    a live publisher's staging folder is left alone. Returns what was removed."""
    removed = []
    for stage in period_dir.glob(".v*.staging-*") if period_dir.is_dir() else []:
        pid = stage.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and _process_alive(int(pid)):
            continue
        shutil.rmtree(stage, ignore_errors=True)
        removed.append(stage)
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def move_into_place(stage: Path, folder: Path) -> Path:
    """Rename the finished staging folder to the vintage folder; if another publisher got there
    first, keep theirs (the content is the same vintage) and drop ours. The staging folder never
    outlives this call."""
    try:
        stage.rename(folder)
    except OSError:
        shutil.rmtree(stage, ignore_errors=True)
        if not is_published(folder):
            raise
    return folder


def safe_text(value: object) -> str:
    """Text a spreadsheet will not run: a leading =, +, -, @ gets a single quote (for CSV)."""
    s = "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
    return "'" + s if s.startswith(FORMULA_START) else s


def export_frame(table: pd.DataFrame, header: ExportHeader) -> pd.DataFrame:
    """The machine-readable table (csv/parquet): one row per indicator, NULL where not reported,
    typed by EXPORT_SCHEMA (text as str or None, numbers as float64 with NaN, counts as int64)."""
    # Column by column into arrays (the table's rows in order), not a copy of the table with the header's columns
    # added: pandas' per-call cost was most of it.
    n = len(table)
    fixed = {"township_code": header.township_code, "period": header.period, "period_label": header.period_label,
             "vintage": header.vintage, "status": header.status}
    typed = {}
    for f in EXPORT_SCHEMA:
        if pa.types.is_string(f.type):
            values = [fixed[f.name]] * n if f.name in fixed else table[f.name].tolist()
            typed[f.name] = pd.Series([None if _blank(v) else str(v) for v in values], dtype=object)
        else:
            col = pd.Series([fixed[f.name]] * n) if f.name in fixed else table[f.name]
            number = pd.to_numeric(col)
            typed[f.name] = number.to_numpy(dtype="int64") if pa.types.is_integer(f.type) \
                else number.to_numpy(dtype="float64", na_value=float("nan"))
    return pd.DataFrame(typed)


def export_arrow(frame: pd.DataFrame) -> pa.Table:
    """The export frame as an Arrow table of exactly EXPORT_SCHEMA (fails loudly if a type drifts)."""
    return pa.Table.from_pandas(frame[EXPORT_COLUMNS], schema=EXPORT_SCHEMA, preserve_index=False, safe=True)


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """The export frame as CSV, byte for byte what pandas' to_csv writes (floats as repr, NULL empty, minimal
    quoting, os.linesep), with the csv module on the columns' lists: half the time for a few hundred rows."""
    cols = [frame[c].tolist() for c in EXPORT_COLUMNS]
    for k, c in enumerate(EXPORT_COLUMNS):
        if c in ("indicator_name", "missing_reporters", "note"):
            cols[k] = [None if v is None else safe_text(v) for v in cols[k]]
    with open(path, "w", encoding="utf-8-sig", newline="") as f:  # BOM: Excel then reads UTF-8
        w = csv.writer(f, lineterminator=os.linesep)
        w.writerow(EXPORT_COLUMNS)
        w.writerows([["" if v is None or v != v else repr(v) if type(v) is float else v for v in row]
                     for row in zip(*cols)])
    return path


def write_parquet(frame: pd.DataFrame, path: Path) -> Path:
    pq.write_table(export_arrow(frame), path)
    return path


def write_xlsx(table: pd.DataFrame, header: ExportHeader, path: Path, published_at) -> Path:  # noqa: ANN001
    """The township's monthly 报表: title, unit row, the table (未报 where missing), footer."""
    import xlsxwriter

    # in_memory: the sheet's XML parts are zipped from memory, not written to temporary files first (~10 ms a
    # township), and stamped 1980-01-01 whatever the machine's time zone.
    wb = xlsxwriter.Workbook(str(path), {"in_memory": True})
    # A fixed creation time keeps the file a pure function of the vintage.
    wb.set_properties({"title": header.title, "created": published_at.to_pydatetime().replace(tzinfo=None)})
    ws = wb.add_worksheet("报表")
    f = _formats(wb)
    ncol = len(SHEET_COLUMNS)
    ws.merge_range(0, 0, 0, ncol - 1, header.title, f["title"])
    ws.write_string(1, 0, f"编制单位：{header.township_name}统计站", f["left"])
    ws.write_string(1, ncol - 3, f"第{header.vintage}版 {header.status_zh}", f["right"])
    for col, (label, _, _) in enumerate(SHEET_COLUMNS):
        ws.write_string(2, col, label, f["head"])
    t = table.assign(reported_of_expected=[f"{r}/{e}" for r, e in zip(table["reporters_reported"],
                                                                         table["reporters_expected"])])
    columns = {name: t[name].tolist() for _, name, _ in SHEET_COLUMNS}
    decimals, reported = t["decimals"].tolist(), t["reporters_reported"].tolist()
    for i in range(len(t)):
        row = 3 + i
        for col, (_, name, kind) in enumerate(SHEET_COLUMNS):
            v = columns[name][i]
            if kind == "text":
                # write_string: a note such as "=SUM(A1)" stays text, never a formula.
                ws.write_string(row, col, "" if _blank(v) else str(v), f["text"])
            elif _blank(v):
                missing = name in ("month_value", "ytd_value") and reported[i] == 0
                ws.write_string(row, col, MISSING if missing else NOT_APPLICABLE, f["missing"])
            else:
                fmt = f["pct"] if kind == "pct" else f[f"num{min(int(decimals[i]), 4)}"]
                ws.write_number(row, col, float(v), fmt)
    foot = 3 + len(t) + 1
    ws.write_string(foot, 0, f"第{header.vintage}版（{header.status_zh}），发布时间：{header.published_local}；"
                             f"内容校验码：{header.content_hash[:16]}"
                             + (f"；审核人：{header.signer}，签发时间：{header.signed_local}" if header.signer else ""),
                   f["left"])
    ws.write_string(foot + 1, 0, "注：“未报”表示应报单位未报送，不按0计；“—”表示无可比基数或不适用；"
                                 "报送单位为已报/应报单位数。", f["left"])
    widths = [26, 9, 12, 13, 13, 9, 11, 9, 11, 9, 30]
    for col, w in enumerate(widths):
        ws.set_column(col, col, w)
    ws.freeze_panes(3, 1)
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(2)
    wb.close()
    return path


def _blank(v: object) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and pd.isna(v))


def _formats(wb) -> dict:  # noqa: ANN001
    base = {"font_name": "宋体", "font_size": 10, "border": 1, "valign": "vcenter"}
    f = {
        "title": wb.add_format({"font_name": "黑体", "font_size": 16, "bold": True, "align": "center"}),
        "left": wb.add_format({"font_name": "宋体", "font_size": 10}),
        "right": wb.add_format({"font_name": "宋体", "font_size": 10, "align": "right"}),
        "head": wb.add_format({**base, "bold": True, "align": "center", "bg_color": "#E8EEF7", "text_wrap": True}),
        "text": wb.add_format(base),
        "missing": wb.add_format({**base, "align": "center", "font_color": "#9C0006"}),
        "pct": wb.add_format({**base, "num_format": "0.0"}),
    }
    for d in range(5):
        f[f"num{d}"] = wb.add_format({**base, "num_format": "#,##0" + ("." + "0" * d if d else "")})
    return f


def write_table_exports(table: pd.DataFrame, header: ExportHeader, folder: Path, published_at) -> list[Path]:  # noqa: ANN001
    """indicators.xlsx, indicators.csv and indicators.parquet for one vintage."""
    frame = export_frame(table, header)
    return [write_xlsx(table, header, folder / "indicators.xlsx", published_at),
            write_csv(frame, folder / "indicators.csv"),
            write_parquet(frame, folder / "indicators.parquet")]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_manifest(folder: Path, header: ExportHeader, extra: dict | None = None) -> Path:
    """manifest.json: the vintage, the snapshot's content hash, and the sha256 of every other file;
    extra: more keys (a county vintage's lineage: the township vintages it was built from)."""
    files = {p.relative_to(folder).as_posix(): sha256_file(p)
             for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "manifest.json"}
    doc = {"township": header.township_code, "period": header.period, "period_label": header.period_label,
           "vintage": header.vintage, "status": header.status, "published_at": header.published_local,
           "content_hash": header.content_hash, "decision": header.decision or None,
           "signer": header.signer or None, "signed_at": header.signed_local or None,
           "sign_comment": header.comment or None, **(extra or {}), "files": files}
    path = folder / "manifest.json"
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path
