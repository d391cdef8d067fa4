"""Archiving a batch: every read file's raw bytes, write-once, before anything is stored.

A file that cannot be archived (a full disk, a name the archive's filesystem refuses) is deferred
alone: it is not loaded, not marked seen, and the next run takes it again; the rest go on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from tasks.inbox import archive, archive_relpath, io_map, make_durable
from tasks.read_files import FileRead
from township.conflicts import Conflict

log = logging.getLogger(__name__)


@dataclass
class Archived:
    paths: dict[str, str] = field(default_factory=dict)  # sha256 → relpath in the archive
    failed: dict[str, Conflict] = field(default_factory=dict)  # sha256 → why it could not be archived


def archive_reads(archive_root: str, reads: list[FileRead]) -> Archived:
    """Archive every read file's raw bytes (write-once) before anything is stored.
    A file refused for its folder is kept under no reporter (its folder names none)."""
    out = Archived()
    todo = []  # (item, relpath) to write; written in threads, recorded in the reads' order
    for r in reads:
        it = r.item
        reporter = it.folder if r.conflict is None or r.conflict.code != "E_WRONG_FOLDER" else ""
        relpath = archive_relpath(reporter, r.period, it.sha256, it.name)
        out.paths[it.sha256] = relpath
        if it.refused is None:  # refused unread (a link, a FIFO, too large): nothing to keep but its receipt
            todo.append((it, relpath))
    for (it, _), done in zip(todo, io_map(lambda job: archive(archive_root, job[1], job[0].data), todo)):
        if isinstance(done, OSError):
            del out.paths[it.sha256]
            log.warning("%s not archived, deferred to the next run: %s", it.path, done)
            out.failed[it.sha256] = Conflict("E_ARCHIVE_FAILED", file_name=it.name,
                                             found=f"{type(done).__name__}: {done.strerror or done}")
    try:
        make_durable(archive_root)  # on disk before the load records them: one flush for the whole batch
    except OSError as e:  # the disk lost a write, and which one is unknown: none of the batch counts as archived
        log.warning("the archive could not be flushed to disk, the batch is deferred to the next run: %s", e)
        for r in reads:  # a file refused unread has nothing in the archive to lose: its receipt stands
            if r.item.refused is None and out.paths.pop(r.item.sha256, None) is not None:
                out.failed[r.item.sha256] = Conflict("E_ARCHIVE_FAILED", file_name=r.item.name,
                                                     found=f"{type(e).__name__}: {e.strerror or e}")
    return out
