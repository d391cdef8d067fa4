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
        out[it.sha256] = archive(archive_root, archive_relpath(reporter, r.period, it.sha256, it.name), it.data)
    return out
