"""Receipts: the answer each file gets (DHIS2-style import summary), as JSON and Markdown, and the run's summary."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import pandas as pd

from tasks.archiving import Archived
from tasks.batch_review import ACCEPTED, DEFERRED, DUPLICATE, PENDING, REJECTED, WITH_WARNINGS
from tasks.inbox import io_map, make_durable, write_beside
from tasks.outbox import enqueue_rejections
from tasks.pull import Pulled
from township.catalog import Catalog
from warehouse.intake_io import LoadResult, mark_receipts_written, pending_receipts
from warehouse.publish_io import now_utc
from warehouse.runtime import Runtime

log = logging.getLogger(__name__)


def _utc(t) -> pd.Timestamp:  # noqa: ANN001 - a datetime from either database (SQLite's are naive UTC)
    ts = pd.Timestamp(t)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _indicator(conflict: dict) -> str:
    """签约项目数 (projects_signed): the name a reporter knows, with the code the form carries."""
    code, name = conflict.get("indicator_code") or "", conflict.get("indicator_name")
    return f"{name} ({code})" if name and code else code


def conflicts_by_file(conflicts: pd.DataFrame) -> dict[str, list[dict]]:
    """Each file's conflicts as receipt entries, grouped in one pass (not one filter per file)."""
    cols = [c for c in conflicts.columns if c != "sha256"]
    out: dict[str, list[dict]] = {}
    for sha, *values in zip(conflicts["sha256"], *(conflicts[c].tolist() for c in cols)):
        out.setdefault(sha, []).append(
            {k: (None if isinstance(v, float) and v != v else v) for k, v in zip(cols, values)})
    return out


def receipt(sub: dict, conflicts: pd.DataFrame | list[dict], counts: dict | None = None,
            catalog: Catalog | None = None, tz: ZoneInfo | None = None) -> dict:
    """The import summary a reporter gets back (DHIS2 style): status, counts, each conflict.
    `conflicts`: the run's conflicts frame, or this file's entries from conflicts_by_file. With the
    catalog and timezone, conflicts carry the indicator's name and the receipt the local time."""
    mine = conflicts if isinstance(conflicts, list) else conflicts_by_file(
        conflicts[conflicts["sha256"] == sub["sha256"]]).get(sub["sha256"], [])
    if catalog is not None:
        names = catalog.indicator_by_code
        mine = [dict(c, indicator_name=names[c["indicator_code"]].name if c.get("indicator_code") in names else None)
                for c in mine]
    counts = counts or {}
    on_time = sub.get("on_time")
    received = _utc(sub["received_at"])
    return {
        "file": sub["file_name"], "path": sub.get("path", ""), "sha256": sub["sha256"],
        "reporter": sub["reporter_code"] or sub["inbox_folder"], "period": sub["period"] or None,
        "received_at": received.isoformat(),
        "received_local": f"{received.tz_convert(tz):%Y-%m-%d %H:%M}（{tz.key}）" if tz else None,
        "status": sub["status"],
        "on_time": None if on_time is None or on_time != on_time else bool(on_time),
        "counts": {"imported": int(counts.get("imported", 0)), "updated": int(counts.get("updated", 0)),
                   "unchanged": int(counts.get("unchanged", 0)), "rejected": int(sub.get("rejected", 0))},
        "conflicts": mine,
    }


STATUS_ZH = {ACCEPTED: "已接收", WITH_WARNINGS: "已接收（有提示）", REJECTED: "已退回", DUPLICATE: "重复文件",
             DEFERRED: "暂缓（下次重试）", PENDING: "已受理，待审核签发修订后生效"}


def receipt_markdown(r: dict) -> str:
    """The receipt as Markdown: Chinese first (for the reporter), codes and English for the log."""
    c = r["counts"]
    lines = [
        f"# 报表回执 / Import receipt: {r['file']}",
        "",
        f"- 状态 status: **{STATUS_ZH.get(r['status'], r['status'])}** ({r['status']})",
        f"- 填报单位 reporter: {r['reporter']}   报告期 period: {r['period'] or '—'}",
        f"- 收到时间 received: {r.get('received_local') or r['received_at']}"
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
                         f"{_indicator(k)} | {k.get('expected') or ''} | {k.get('found') or ''} | "
                         f"{k['message_zh']} |")
    return "\n".join(lines) + "\n"



@dataclass
class IntakeSummary:
    files_listed: int = 0
    files_new: int = 0
    duplicates: int = 0
    accepted: int = 0
    accepted_with_warnings: int = 0
    accepted_pending_revision: int = 0  # corrections to a final month, stored until a signed revision
    rejected: int = 0
    skipped_other_run: int = 0
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    receipts_completed: int = 0  # receipts an earlier run committed but did not write, written now
    receipts_pending: int = 0  # receipts that could not be written now (the next run writes them)
    deferred: int = 0  # files that could not be archived: nothing stored, taken again next run
    messages_sent: int = 0  # outbox messages sent at the end of the run (rejections, retries)
    messages_failed: int = 0  # outbox messages that could not be sent (kept, tried again later)
    receipts: list[dict] = field(default_factory=list)

    def merge(self, other: IntakeSummary) -> None:
        """Add a batch's outcome (the listing counts stay the run's)."""
        for k in ("accepted", "accepted_with_warnings", "accepted_pending_revision", "rejected", "skipped_other_run",
                  "imported", "updated", "unchanged", "receipts_completed", "receipts_pending", "deferred"):
            setattr(self, k, getattr(self, k) + getattr(other, k))
        self.receipts.extend(other.receipts)

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "receipts"}


def rejection_lines(summary: IntakeSummary) -> list[str]:
    """One log line per hard error of the run: code, reporter/file, sheet!cell and what is wrong."""
    return [f"{c['code']} {r['reporter']}/{r['file']} {c.get('sheet') or ''}!{c.get('cell') or ''}: {c['message_en']}"
            for r in summary.receipts for c in r["conflicts"] if c["severity"] == "error"]


REPLY_FOLDER = "回执"  # in each reporter's inbox folder; tasks/inbox.list_inbox never takes it as a submission


def reply_relpath(sub: dict) -> str:
    """Where a file's receipt goes back to its reporter, relative to the inbox root:
    `<folder>/回执/<file name>.<first 8 of its sha256>` (two files of one name keep two receipts)."""
    folder = sub["inbox_folder"]
    return f"{folder + '/' if folder else ''}{REPLY_FOLDER}/{sub['file_name']}.{sub['sha256'][:8]}"


def return_to_reporter(inbox: str, relpath: str, receipt_json: str, receipt_md: str) -> None:
    """The receipt, Markdown (Chinese first) and JSON, in the reporter's 回执 folder (made if missing);
    atomic, rewritten whole when written again."""
    write_beside(inbox, relpath, ".receipt.md", receipt_md)
    write_beside(inbox, relpath, ".receipt.json", receipt_json)


def write_receipts(rt: Runtime, receipts_root: str, result: LoadResult, pulled: Pulled,
                   reporters_root: str | None = None, upto: int | None = None) -> IntakeSummary:
    """Write every pending receipt (JSON + Markdown beside the archived file) from the warehouse, where
    the load committed it, and mark it written; summarise this batch. Pending includes receipts a
    stopped run or a full disk left unwritten: every run completes them. A receipt that cannot be
    written now stays pending (logged), and the rest are written.
    reporters_root (the inbox): each receipt also goes back into its reporter's 回执 folder, and a
    rejected file's reporter is messaged through the outbox, before the receipt counts as written
    (so a stopped run's receipts reach their reporters on the next run); None (a rebuild): neither.
    upto: the pending receipts of submissions up to this id only (see pending_receipts): a batch's receipts
    written while the run's next batch is loaded (tasks/intake_pipeline.py) leave that batch's to it."""
    s = IntakeSummary(files_listed=pulled.listing_count, files_new=len(pulled.new),
                      duplicates=len(pulled.duplicates), skipped_other_run=len(result.skipped))
    this_batch = set(result.submission_ids.values())
    subs, conflicts = pending_receipts(rt.engine, this_batch, upto)
    by_sub: dict[int, list[dict]] = {}
    cols = [c for c in conflicts.columns if c != "submission_id"]
    for sid, *values in zip(conflicts["submission_id"], *(conflicts[c].tolist() for c in cols)):
        by_sub.setdefault(sid, []).append({k: (None if v is None or v != v else v) for k, v in zip(cols, values)})
    written, rejected, replies = [], [], {}
    answers = []  # (sub, receipt, json, markdown): built here, written in threads (the writes wait on the disk)
    for sub in subs.to_dict("records"):  # one per file: small
        sub["path"] = sub["path"] or sub["file_name"]
        r = receipt(sub, by_sub.get(sub["id"], []), sub, rt.catalog, rt.settings.tz)
        r["submission_id"] = int(sub["id"])
        answers.append((sub, r, json.dumps(r, ensure_ascii=False, indent=1, default=str), receipt_markdown(r)))
        if reporters_root is not None:
            replies[sub["sha256"]] = reply_relpath(sub) + ".receipt.md"

    def write(answer: tuple) -> None:
        sub, _, as_json, as_md = answer
        write_beside(receipts_root, sub["archive_path"], ".receipt.json", as_json)
        write_beside(receipts_root, sub["archive_path"], ".receipt.md", as_md)
        if reporters_root is not None:
            return_to_reporter(reporters_root, reply_relpath(sub), as_json, as_md)

    for (sub, r, _, _), failed in zip(answers, io_map(write, answers)):
        if failed is not None:
            log.warning("receipt of %s not written, kept pending for the next run: %s", sub["path"], failed)
            s.receipts_pending += 1
        else:
            written.append(int(sub["id"]))
            if sub["status"] == REJECTED:
                rejected.append(r)
            s.receipts_completed += int(sub["id"]) not in this_batch
        if int(sub["id"]) not in this_batch:
            continue
        s.receipts.append(r)
        setattr(s, sub["status"], getattr(s, sub["status"]) + 1)
        for c in ("imported", "updated", "unchanged"):
            setattr(s, c, getattr(s, c) + r["counts"][c])
    try:  # on disk before they count as written: one flush per root for the whole batch
        for root in {receipts_root, reporters_root} - {None}:
            make_durable(root)
    except OSError as e:
        log.warning("receipts could not be flushed to disk, all kept pending for the next run: %s", e)
        s.receipts_pending += len(written)
        s.receipts_completed = 0
        written, rejected = [], []
    if reporters_root is not None:
        enqueue_rejections(rt, rejected, replies)  # idempotent: a receipt written again is not re-sent
    mark_receipts_written(rt.engine, written, now_utc())
    for it in pulled.duplicates:
        s.receipts.append({"file": it.name, "path": it.path, "sha256": it.sha256, "status": DUPLICATE,
                           "reporter": it.folder, "period": None, "conflicts": [],
                           "counts": {"imported": 0, "updated": 0, "unchanged": 0, "rejected": 0}})
    return s


def deferred_summary(reads: list, archived: Archived) -> IntakeSummary:
    """The files a batch could not archive, as run-summary entries (there is no archived copy to put
    a receipt beside; the next run that archives them writes their receipts)."""
    s = IntakeSummary()
    for r in reads:
        c = archived.failed.get(r.item.sha256)
        if c is None:
            continue
        s.deferred += 1
        s.receipts.append({"file": r.item.name, "path": r.item.path, "sha256": r.item.sha256, "status": DEFERRED,
                           "reporter": r.item.folder, "period": r.period, "conflicts": [c.as_record()],
                           "counts": {"imported": 0, "updated": 0, "unchanged": 0, "rejected": 0}})
    return s
