"""Archiving a batch: every read file's raw bytes, write-once, before anything is stored."""

from __future__ import annotations

from tasks.inbox import archive, archive_relpath
from tasks.read_files import FileRead


def archive_reads(archive_root: str, reads: list[FileRead]) -> dict[str, str]:
    """Archive every read file's raw bytes (write-once) before anything is stored; sha256 → relpath.
    A file refused for its folder is kept under no reporter (its folder names none)."""
    out = {}
    for r in reads:
        it = r.item
        reporter = it.folder if r.conflict is None or r.conflict.code != "E_WRONG_FOLDER" else ""
        relpath = archive_relpath(reporter, r.period, it.sha256, it.name)
        # a file refused unread (a link, a FIFO, too large) has nothing to keep: only its receipt goes here
        out[it.sha256] = relpath if it.refused is not None else archive(archive_root, relpath, it.data)
    return out
