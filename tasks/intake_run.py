"""One intake run from inbox to warehouse, as plain steps the Prefect flow composes.

pull (list, skip unchanged, hash) → read → archive raw bytes → review (one GX validation) →
load (one transaction) → receipts. Every step is a function of what the previous one returned.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pandas as pd

from tasks.inbox import Incoming, archive, archive_relpath, fetch, list_inbox, unseen, write_beside
from tasks.intake_steps import (
    DUPLICATE,
    FileRead,
    Reviewed,
    conflicts_by_file,
    read_many,
    receipt,
    receipt_markdown,
    review_run,
)
from township.periods import Period
from township.catalog import Catalog
from warehouse.runtime import Runtime
from warehouse.publish_io import now_utc
from warehouse.intake_io import LoadResult, current_values, known_hashes, load_run, seen_files


@dataclass
class Pulled:
    listing_count: int
    new: list[Incoming]  # content not seen before: to be read
    duplicates: list[Incoming]  # content already processed (under any name)
    inbox_rows: pd.DataFrame  # path, size, mtime_ns, sha256 of every file fetched


def in_partition(listing: pd.DataFrame, catalog: Catalog, partition: str | None) -> pd.DataFrame:
    """Keep the files of one partition: 'taoyuan,xishan' (townships) or 'k/n' (bucket k of n by township).
    Files outside any known reporter folder belong to partition 1 (or the unpartitioned run)."""
    if not partition:
        return listing
    township = listing["folder"].map(lambda f: catalog.reporter_by_code[f].township
                                     if f in catalog.reporter_by_code else "")
    if "/" in partition:
        k, n = (int(x) for x in partition.split("/"))
        bucket = township.map(lambda t: zlib.crc32(t.encode()) % n + 1 if t else 1)
        return listing[(bucket == k).to_numpy()]
    wanted = {p.strip() for p in partition.split(",")}
    return listing[township.isin(wanted).to_numpy()]


def pull(rt: Runtime, inbox: str, partition: str | None = None,
         received_before: dt.datetime | None = None) -> Pulled:
    """New files of the inbox (of one partition; received before a moment, to replay the past)."""
    listing = in_partition(list_inbox(inbox), rt.catalog, partition)
    if received_before is not None:
        listing = listing[listing["mtime_ns"] < int(received_before.timestamp() * 1e9)]
    todo = unseen(listing, seen_files(rt.engine))
    items = fetch(inbox, todo)
    known = known_hashes(rt.engine, [i.sha256 for i in items])
    new, dups, first = [], [], set()
    for it in sorted(items, key=lambda i: (i.mtime_ns, i.path)):
        if it.sha256 in known or it.sha256 in first:
            dups.append(it)
        else:
            first.add(it.sha256)
            new.append(it)
    rows = pd.DataFrame({"path": [i.path for i in items], "size": [i.size for i in items],
                         "mtime_ns": [i.mtime_ns for i in items], "sha256": [i.sha256 for i in items]})
    return Pulled(len(listing), new, dups, rows)


def archive_reads(archive_root: str, reads: list[FileRead]) -> dict[str, str]:
    """Archive every read file's raw bytes (write-once) before anything is stored; sha256 → relpath."""
    out = {}
    for r in reads:
        it = r.item
        reporter = it.folder if r.conflict is None or r.conflict.code != "E_WRONG_FOLDER" else ""
        out[it.sha256] = archive(archive_root, archive_relpath(reporter, r.period, it.sha256, it.name), it.data)
    return out


def warehouse_context(rt: Runtime):  # noqa: ANN201
    def fetch_context(window: tuple[str, str], reporters: list[str]) -> pd.DataFrame:
        return current_values(rt.engine, window[0], window[1], reporters)
    return fetch_context


def load(rt: Runtime, reviewed: Reviewed, archived: dict[str, str], pulled: Pulled) -> LoadResult:
    subs = reviewed.submissions.assign(archive_path=reviewed.submissions["sha256"].map(archived))
    return load_run(rt.engine, subs, reviewed.conflicts, reviewed.values, pulled.inbox_rows, now_utc())


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
        d = {k: v for k, v in self.__dict__.items() if k != "receipts"}
        return d


def write_receipts(rt: Runtime, archive_root: str, reviewed: Reviewed, archived: dict[str, str],
                   result: LoadResult, pulled: Pulled) -> IntakeSummary:
    """Receipts (JSON + Markdown) beside each archived file, and the run's summary."""
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
        write_beside(archive_root, archived[sub["sha256"]], ".receipt.json",
                     json.dumps(r, ensure_ascii=False, indent=1, default=str))
        write_beside(archive_root, archived[sub["sha256"]], ".receipt.md", receipt_markdown(r))
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



READ_CHUNK = 200  # files per read task
BATCH_FILES = 8000  # files per validation and per load transaction (bounds memory: a province is ~32,000)


@dataclass
class IntakeSteps:
    """The steps a run calls, so the same loop serves the Prefect flow (steps are tasks) and plain
    callers (tests, benchmarks, rebuild)."""

    read: Callable[[list[list[Incoming]]], list[FileRead]]  # chunks of files → their reads, in order
    archive: Callable[[list[FileRead]], dict[str, str]]
    review: Callable[[list[FileRead]], Reviewed]
    load: Callable[[Reviewed, dict[str, str], Pulled], LoadResult]
    receipts: Callable[[Reviewed, dict[str, str], LoadResult, Pulled], IntakeSummary]


def plain_steps(rt: Runtime, today: Period | None = None, workers: int | None = None) -> IntakeSteps:
    """The steps as plain calls, reading in a thread pool (as the flow's default task runner does)."""
    s = rt.settings
    today = today or Period.current(s.tz)

    def read(chunks: list[list[Incoming]]) -> list[FileRead]:
        with ThreadPoolExecutor(max_workers=workers or os.cpu_count()) as pool:
            return [r for part in pool.map(lambda c: read_many(c, rt.catalog, s.inbox), chunks) for r in part]

    return IntakeSteps(
        read=read,
        archive=lambda reads: archive_reads(s.archive, reads),
        review=lambda reads: review_run(reads, rt.catalog, warehouse_context(rt), today, s.tz),
        load=lambda reviewed, archived, part: load(rt, reviewed, archived, part),
        receipts=lambda reviewed, archived, result, part: write_receipts(rt, s.archive, reviewed, archived,
                                                                         result, part),
    )


def batch_of(pulled: Pulled, batch: list[Incoming], last: bool) -> Pulled:
    """The part of a pull one batch records: its files' inbox rows (so a crash after an earlier batch
    leaves later files unseen, to be taken next run), and the duplicates once, with the last batch."""
    dups = pulled.duplicates if last else []
    paths = {i.path for i in batch} | {i.path for i in dups}
    return Pulled(pulled.listing_count, batch, dups, pulled.inbox_rows[pulled.inbox_rows["path"].isin(paths)])


def run_batches(pulled: Pulled, steps: IntakeSteps, batch_files: int | None = None, read_chunk: int | None = None,
                on_batch: Callable[[int, int, int], None] | None = None) -> IntakeSummary:
    """Take the pulled files through in batches, in receipt order: each batch read in parallel chunks,
    archived, validated in ONE validation and loaded in ONE transaction. Memory stays bounded and a
    later batch sees what an earlier one loaded."""
    batch_files, read_chunk = batch_files or BATCH_FILES, read_chunk or READ_CHUNK
    summary = IntakeSummary(files_listed=pulled.listing_count, files_new=len(pulled.new),
                            duplicates=len(pulled.duplicates))
    batches = [pulled.new[i:i + batch_files] for i in range(0, len(pulled.new), batch_files)] or [[]]
    for n, batch in enumerate(batches, 1):
        reads = steps.read([batch[i:i + read_chunk] for i in range(0, len(batch), read_chunk)])
        archived = steps.archive(reads)
        for r in reads:
            r.item.data = b""  # archived and parsed: the raw bytes are no longer needed in memory
        reviewed = steps.review(reads)
        part = batch_of(pulled, batch, last=n == len(batches))
        result = steps.load(reviewed, archived, part)
        summary.merge(steps.receipts(reviewed, archived, result, part))
        if on_batch:
            on_batch(n, len(batches), len(batch))
    return summary
