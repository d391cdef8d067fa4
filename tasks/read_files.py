"""Reading the files of a batch: each inbox item becomes its rows (column lists) or the conflict that
stopped it. The read step of the intake pipeline; a reader crash rejects one file, never the run.

Parsing (`parse_many`) needs nothing but the files and the limits, so intake runs it in worker processes
(Python-bound: ~1.3 ms of CPU a form); placing a file against the catalog (`placed`) stays with the caller."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from tasks.inbox import Incoming
from tasks.form_limits import Limits
from tasks.read_form import read_form_columns
from township.catalog import Catalog
from township.conflicts import Conflict, FormError
from township.periods import Period
from township.settings import get_settings

log = logging.getLogger(__name__)


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


INBOX = "<inbox>"  # how receipts name the inbox root: never its real location on the server (issue 16)


def parse_one(item: Incoming, limits: Limits) -> FileRead:
    """The file's rows, or the conflict that stopped reading it (refused unread, not a form, a reader crash).
    No catalog, no settings: the same in any process."""
    if item.refused is not None:  # refused before reading (tasks.inbox.fetch): not a regular file, too large
        return FileRead(item, None, item.refused)
    try:
        columns = read_form_columns(item.data, item.name, limits)
    except FormError as e:
        e.conflict.file_name = item.name
        return FileRead(item, None, e.conflict)
    except Exception as e:  # noqa: BLE001 - a reader bug must reject one file, not crash the run
        log.exception("reading %s/%s failed", item.folder, item.name)
        return FileRead(item, None, Conflict("E_FILE_UNREADABLE", file_name=item.name,
                                             found=f"{type(e).__name__}: {e}"))
    period = next((p for p in map(_period_or_empty, dict.fromkeys(columns["period_raw"])) if p), None)
    return FileRead(item, columns, None, period)


def placed(read: FileRead, catalog: Catalog) -> FileRead:
    """A parsed file checked against the catalog: one outside a known reporter's folder is refused, saying
    where it belongs (relative to the inbox: a receipt does not reveal the server's folders); one with no
    rows is empty."""
    columns, item = read.columns, read.item
    if columns is None:
        return read
    if item.folder not in catalog.reporter_by_code:
        declared = next((d for d in columns["declared_reporter"] if d), "")
        return FileRead(item, None, Conflict("E_WRONG_FOLDER", file_name=item.name,
                                             expected=f"{INBOX}/{declared or '<单位代码>'}/",
                                             found=f"{INBOX}/{item.path}"), read.period)
    if not columns["indicator_code"]:
        return FileRead(item, None, Conflict("E_EMPTY", file_name=item.name), read.period)
    return read


def _period_or_empty(text: str) -> str:
    try:
        return str(Period.parse(text)) if text else ""
    except ValueError:
        return ""


def read_many(items: list[Incoming], catalog: Catalog, limits: Limits | None = None) -> list[FileRead]:
    """Parse and place each file in this process (limits: default the settings' TOWNSHIP_MAX_*); the intake's
    read step is tasks.intake_pipeline.read_files, which parses in worker processes."""
    limits = limits or Limits.of(get_settings())
    return [placed(parse_one(i, limits), catalog) for i in items]


def parse_many(items: list[Incoming], limits: Limits) -> list[tuple]:
    """parse_one of each item, as (columns, conflict, period) without the item: a worker process sends back
    what it read, not the files' bytes (the caller has them, and pairs them again with `as_reads`)."""
    return [(r.columns, r.conflict, r.period) for r in (parse_one(i, limits) for i in items)]


def as_reads(items: list[Incoming], parsed: list[tuple]) -> list[FileRead]:
    return [FileRead(i, *p) for i, p in zip(items, parsed)]
