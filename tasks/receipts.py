"""Receipts: the answer each file gets (DHIS2-style import summary), as JSON and Markdown, and the run's summary."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pandas as pd

from tasks.batch_review import ACCEPTED, DUPLICATE, REJECTED, WITH_WARNINGS, Reviewed
from tasks.inbox import write_beside
from tasks.pull import Pulled
from warehouse.intake_io import LoadResult


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



@dataclass
class IntakeSummary:
    files_listed: int = 0
    files_new: int = 0
    duplicates: int = 0
    accepted: int = 0
    accepted_with_warnings: int = 0
    rejected: int = 0
    skipped_other_run: int = 0
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    receipts: list[dict] = field(default_factory=list)

    def merge(self, other: IntakeSummary) -> None:
        """Add a batch's outcome (the listing counts stay the run's)."""
        for k in ("accepted", "accepted_with_warnings", "rejected", "skipped_other_run", "imported", "updated",
                  "unchanged"):
            setattr(self, k, getattr(self, k) + getattr(other, k))
        self.receipts.extend(other.receipts)

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "receipts"}


def write_receipts(receipts_root: str, reviewed: Reviewed, archived: dict[str, str], result: LoadResult,
                   pulled: Pulled) -> IntakeSummary:
    """Receipts (JSON + Markdown) beside each archived file, and the batch's summary."""
    s = IntakeSummary(files_listed=pulled.listing_count, files_new=len(pulled.new),
                      duplicates=len(pulled.duplicates), skipped_other_run=len(result.skipped))
    counts = result.counts.set_index("sha256").to_dict("index") if not result.counts.empty else {}
    loaded = set(result.submission_ids)
    by_file = conflicts_by_file(reviewed.conflicts)
    for sub in reviewed.submissions.to_dict("records"):  # one per file: small
        if sub["sha256"] not in loaded:
            continue
        r = receipt(sub, by_file.get(sub["sha256"], []), counts.get(sub["sha256"]))
        r["submission_id"] = result.submission_ids[sub["sha256"]]
        write_beside(receipts_root, archived[sub["sha256"]], ".receipt.json",
                     json.dumps(r, ensure_ascii=False, indent=1, default=str))
        write_beside(receipts_root, archived[sub["sha256"]], ".receipt.md", receipt_markdown(r))
        s.receipts.append(r)
        key = sub["status"]
        setattr(s, key, getattr(s, key) + 1)
        for c in ("imported", "updated", "unchanged"):
            setattr(s, c, getattr(s, c) + r["counts"][c])
    for it in pulled.duplicates:
        s.receipts.append({"file": it.name, "path": it.path, "sha256": it.sha256, "status": DUPLICATE,
                           "reporter": it.folder, "period": None, "conflicts": [],
                           "counts": {"imported": 0, "updated": 0, "unchanged": 0, "rejected": 0}})
    return s
