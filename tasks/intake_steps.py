"""The steps of an intake run, as plain functions: read files, review the batch, decide, build receipts.

flows/intake.py wraps them as Prefect tasks; `township check` calls them directly (no server needed).
"""

from __future__ import annotations

import logging
from itertools import chain
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from township.conflicts import Conflict, FormError
from tasks.enrich import context_window, enrich, parse_periods
from tasks.frame import READ_COLUMNS, conform
from tasks.inbox import Incoming
from tasks.read_form import read_form_columns
from tasks.review import CONFLICT_COLUMNS, review
from township.catalog import Catalog
from township.periods import Period

log = logging.getLogger(__name__)

ACCEPTED, WITH_WARNINGS, REJECTED, DUPLICATE = "accepted", "accepted_with_warnings", "rejected", "duplicate"


@dataclass
class FileRead:
    """What reading one file gave: its rows as column lists (tasks.frame.READ_COLUMNS), or the
    conflict that stopped it; and its period."""

    item: Incoming
    columns: dict[str, list] | None
    conflict: Conflict | None
    period: str | None = None

    @property
    def rows(self) -> int:
        return len(self.columns["indicator_code"]) if self.columns else 0


def read_one(item: Incoming, catalog: Catalog, inbox_label: str = "<inbox>") -> FileRead:
    """Read one file; a file outside a known reporter's folder is refused, saying where it belongs."""
    try:
        columns = read_form_columns(item.data, item.name)
    except FormError as e:
        e.conflict.file_name = item.name
        return FileRead(item, None, e.conflict)
    except Exception as e:  # noqa: BLE001 - a reader bug must reject one file, not crash the run
        log.exception("reading %s/%s failed", item.folder, item.name)
        return FileRead(item, None, Conflict("E_FILE_UNREADABLE", file_name=item.name,
                                             found=f"{type(e).__name__}: {e}"))
    period = next((p for p in map(_period_or_empty, dict.fromkeys(columns["period_raw"])) if p), None)
    if item.folder not in catalog.reporter_by_code:
        declared = next((d for d in columns["declared_reporter"] if d), "")
        where = f"{inbox_label}/{declared or '<单位代码>'}/"
        return FileRead(item, None, Conflict("E_WRONG_FOLDER", file_name=item.name, expected=where,
                                             found=f"{inbox_label}/{item.path}"), period)
    if not columns["indicator_code"]:
        return FileRead(item, None, Conflict("E_EMPTY", file_name=item.name), period)
    return FileRead(item, columns, None, period)


def _period_or_empty(text: str) -> str:
    try:
        return str(Period.parse(text)) if text else ""
    except ValueError:
        return ""


def read_many(items: list[Incoming], catalog: Catalog, inbox_label: str = "<inbox>") -> list[FileRead]:
    return [read_one(i, catalog, inbox_label) for i in items]


def run_frame(reads: list[FileRead]) -> pd.DataFrame:
    """All readable files of the run as one long frame (built once, not per file), each row with a
    run-wide source_row and its file's key, reporter folder and receipt time."""
    ok = [r for r in reads if r.columns]
    data: dict[str, object] = {}
    for c in READ_COLUMNS:
        parts = [r.columns[c] for r in ok]
        if c in ("month_value", "ytd_value"):
            data[c] = np.concatenate(parts) if parts else np.array([], dtype="float64")
        else:
            data[c] = list(chain.from_iterable(parts))
    counts = [r.rows for r in ok]
    data["file_key"] = list(chain.from_iterable([r.item.sha256] * n for r, n in zip(ok, counts)))
    data["reporter_code"] = list(chain.from_iterable([r.item.folder] * n for r, n in zip(ok, counts)))
    received = np.repeat(np.array([r.item.mtime_ns // 1000 * 1000 for r in ok], dtype="int64"), counts)
    df = conform(pd.DataFrame({c: data[c] for c in READ_COLUMNS}))
    df["file_key"] = pd.Series(data["file_key"], dtype="str")
    df["reporter_code"] = pd.Series(data["reporter_code"], dtype="str")
    df["received_at"] = pd.to_datetime(received, unit="ns", utc=True)
    df["source_row"] = np.arange(len(df), dtype="int64")
    return df


@dataclass
class Reviewed:
    """A reviewed run: the enriched frame, every conflict, and one outcome per file."""

    frame: pd.DataFrame
    conflicts: pd.DataFrame  # sha256 + CONFLICT_COLUMNS (file-level conflicts included)
    submissions: pd.DataFrame  # one row per file, see warehouse.intake_io.load_run
    values: pd.DataFrame  # accepted values: sha256, received_at, reporter_code, period, indicator_code, ...
    reads: list[FileRead] = field(default_factory=list)


def review_run(reads: list[FileRead], catalog: Catalog, warehouse_values, today: Period,
               tz: ZoneInfo) -> Reviewed:
    """Enrich and validate the run's rows in one validation, then decide each file."""
    frame = run_frame(reads)
    if frame.empty:
        enriched, row_conflicts = frame, pd.DataFrame(columns=CONFLICT_COLUMNS)
    else:
        window = context_window(parse_periods(frame["period_raw"]))
        reporters = sorted(frame["reporter_code"].unique())
        context = warehouse_values(window, reporters) if window else None
        if context is None:
            context = pd.DataFrame(columns=["reporter_code", "period", "indicator_code", "month_value",
                                            "ytd_value"])
        enriched = enrich(frame, catalog, context)
        row_conflicts = review(enriched, catalog, today)
    file_conflicts = [dict(r.conflict.as_record(), file_key=r.item.sha256) for r in reads if r.conflict]
    conflicts = pd.concat([row_conflicts, pd.DataFrame(file_conflicts, columns=row_conflicts.columns)],
                          ignore_index=True) if file_conflicts else row_conflicts
    conflicts = conflicts.rename(columns={"file_key": "sha256"})[["sha256", *CONFLICT_COLUMNS[1:]]]
    submissions = _decide(reads, enriched, conflicts, catalog, tz)
    values = _accepted_values(enriched, submissions)
    return Reviewed(enriched, conflicts, submissions, values, reads)


def _decide(reads: list[FileRead], frame: pd.DataFrame, conflicts: pd.DataFrame, catalog: Catalog,
            tz: ZoneInfo) -> pd.DataFrame:
    errors = conflicts.loc[conflicts["severity"] == "error", "sha256"].value_counts()
    warnings = conflicts.loc[conflicts["severity"] == "warning", "sha256"].value_counts()
    rows_per_file = frame.groupby("file_key").size() if not frame.empty else pd.Series(dtype="int64")
    out = []
    for r in reads:
        it = r.item
        reporter = catalog.reporter_by_code.get(it.folder)
        status = REJECTED if errors.get(it.sha256, 0) else (WITH_WARNINGS if warnings.get(it.sha256, 0)
                                                            else ACCEPTED)
        on_time = None
        if r.period and reporter:
            on_time = it.received_at <= catalog.deadline_for(Period.parse(r.period), tz)
        out.append({
            "sha256": it.sha256, "inbox_folder": it.folder, "reporter_code": reporter.code if reporter else "",
            "township_code": reporter.township if reporter else "", "period": r.period or "",
            "file_name": it.name, "path": it.path, "received_at": it.received_at, "status": status,
            "on_time": on_time, "rejected": int(rows_per_file.get(it.sha256, 0)) if status == REJECTED else 0,
            "errors": int(errors.get(it.sha256, 0)), "warnings": int(warnings.get(it.sha256, 0)),
        })
    return pd.DataFrame(out, columns=["sha256", "inbox_folder", "reporter_code", "township_code", "period",
                                      "file_name", "path", "received_at", "status", "on_time", "rejected",
                                      "errors", "warnings"])


def _accepted_values(frame: pd.DataFrame, submissions: pd.DataFrame) -> pd.DataFrame:
    cols = ["sha256", "received_at", "reporter_code", "period", "indicator_code", "month_value", "ytd_value",
            "note"]
    if frame.empty:
        return pd.DataFrame(columns=cols)
    ok = set(submissions.loc[submissions["status"] != REJECTED, "sha256"])
    v = frame[frame["file_key"].isin(ok)].rename(columns={"file_key": "sha256"})
    # Identical duplicate rows are tolerated (different ones were rejected): keep one.
    v = v.drop_duplicates(["sha256", "indicator_code"])
    # A stock's level is both its month value and its "cumulative".
    stock = v["measure"] == "stock"
    v.loc[stock, "ytd_value"] = v.loc[stock, "month_value"]
    return v[cols].reset_index(drop=True)


def conflicts_by_file(conflicts: pd.DataFrame) -> dict[str, list[dict]]:
    """Each file's conflicts as receipt entries, grouped in one pass (not one filter per file)."""
    cols = [c for c in conflicts.columns if c != "sha256"]
    out: dict[str, list[dict]] = {}
    for sha, *values in zip(conflicts["sha256"], *(conflicts[c].tolist() for c in cols)):
        out.setdefault(sha, []).append(
            {k: (None if isinstance(v, float) and v != v else v) for k, v in zip(cols, values)})
    return out


def receipt(sub: dict, conflicts: pd.DataFrame | list[dict], counts: dict | None = None) -> dict:
    """The import summary a reporter gets back (DHIS2 style): status, counts, each conflict.
    `conflicts`: the run's conflicts frame, or this file's entries from conflicts_by_file."""
    mine = conflicts if isinstance(conflicts, list) else conflicts_by_file(
        conflicts[conflicts["sha256"] == sub["sha256"]]).get(sub["sha256"], [])
    counts = counts or {}
    return {
        "file": sub["file_name"], "path": sub.get("path", ""), "sha256": sub["sha256"],
        "reporter": sub["reporter_code"] or sub["inbox_folder"], "period": sub["period"] or None,
        "received_at": pd.Timestamp(sub["received_at"]).isoformat(), "status": sub["status"],
        "on_time": None if sub.get("on_time") is None else bool(sub["on_time"]),
        "counts": {"imported": int(counts.get("imported", 0)), "updated": int(counts.get("updated", 0)),
                   "unchanged": int(counts.get("unchanged", 0)), "rejected": int(sub.get("rejected", 0))},
        "conflicts": mine,
    }


STATUS_ZH = {ACCEPTED: "已接收", WITH_WARNINGS: "已接收（有提示）", REJECTED: "已退回", DUPLICATE: "重复文件"}


def receipt_markdown(r: dict) -> str:
    """The receipt as Markdown: Chinese first (for the reporter), codes and English for the log."""
    c = r["counts"]
    lines = [
        f"# 报表回执 / Import receipt: {r['file']}",
        "",
        f"- 状态 status: **{STATUS_ZH.get(r['status'], r['status'])}** ({r['status']})",
        f"- 填报单位 reporter: {r['reporter']}   报告期 period: {r['period'] or '—'}",
        f"- 收到时间 received: {r['received_at']}"
        + ("" if r["on_time"] is None else f"   {'按时' if r['on_time'] else '逾期'} ({'on time' if r['on_time'] else 'late'})"),
        f"- 新增 imported {c['imported']} · 更新 updated {c['updated']} · 未变 unchanged {c['unchanged']}"
        f" · 退回 rejected {c['rejected']}",
        f"- sha256: `{r['sha256']}`",
    ]
    if r["conflicts"]:
        lines += ["", "| 代码 code | 级别 | 位置 cell | 指标 | 期望 expected | 实际 found | 说明 |",
                  "|---|---|---|---|---|---|---|"]
        for k in r["conflicts"]:
            where = f"{k['sheet']}!{k['cell']}" if k.get("sheet") and k.get("cell") else (k.get("cell") or "")
            lines.append(f"| {k['code']} | {'错误' if k['severity'] == 'error' else '提示'} | {where} | "
                         f"{k.get('indicator_code') or ''} | {k.get('expected') or ''} | {k.get('found') or ''} | "
                         f"{k['message_zh']} |")
    return "\n".join(lines) + "\n"

