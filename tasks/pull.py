"""Pulling the inbox: list it, skip what was seen unchanged, hash the rest, tell new content from duplicates."""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass

import pandas as pd

from tasks.inbox import Incoming, fetch, list_inbox, unseen
from township.catalog import Catalog
from warehouse.intake_io import known_hashes, seen_files
from warehouse.runtime import Runtime


@dataclass
class Pulled:
    listing_count: int
    new: list[Incoming]  # content not seen before: to be read
    duplicates: list[Incoming]  # content already processed (under any name)
    inbox_rows: pd.DataFrame  # path, size, mtime_ns, sha256 of every file fetched

    @classmethod
    def of(cls, items: list[Incoming]) -> Pulled:
        """Files that are all new (a rebuild replaying the archive), with no inbox rows to record."""
        return cls(len(items), items, [], pd.DataFrame(columns=["path", "size", "mtime_ns", "sha256"]))


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


def pull(rt: Runtime, partition: str | None = None, received_before: dt.datetime | None = None) -> Pulled:
    """New files of the inbox (of one partition; received before a moment, to replay the past)."""
    inbox = rt.settings.inbox
    listing = in_partition(list_inbox(inbox), rt.catalog, partition)
    if received_before is not None:
        listing = listing[listing["mtime_ns"] < int(received_before.timestamp() * 1e9)]
    todo = unseen(listing, seen_files(rt.engine))
    items = fetch(inbox, todo, rt.settings.max_file_bytes)
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


def batch_of(pulled: Pulled, batch: list[Incoming], last: bool) -> Pulled:
    """The part of a pull one batch records: its files' inbox rows (so a crash after an earlier batch
    leaves later files unseen, to be taken next run), and the duplicates once, with the last batch."""
    dups = pulled.duplicates if last else []
    paths = {i.path for i in batch} | {i.path for i in dups}
    return Pulled(pulled.listing_count, batch, dups, pulled.inbox_rows[pulled.inbox_rows["path"].isin(paths)])
