"""Reading the files of a batch: each inbox item becomes its rows (column lists) or the conflict that
stopped it. The read step of the intake pipeline; a reader crash rejects one file, never the run."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from tasks.inbox import Incoming
from tasks.read_form import read_form_columns
from township.catalog import Catalog
from township.conflicts import Conflict, FormError
from township.periods import Period

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


def read_one(item: Incoming, catalog: Catalog) -> FileRead:
    """Read one file; a file outside a known reporter's folder is refused, saying where it belongs
    (relative to the inbox: a receipt does not reveal the server's folders)."""
    if item.refused is not None:  # refused before reading (tasks.inbox.fetch): not a regular file, too large
        return FileRead(item, None, item.refused)
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
        return FileRead(item, None, Conflict("E_WRONG_FOLDER", file_name=item.name,
                                             expected=f"{INBOX}/{declared or '<单位代码>'}/",
                                             found=f"{INBOX}/{item.path}"), period)
    if not columns["indicator_code"]:
        return FileRead(item, None, Conflict("E_EMPTY", file_name=item.name), period)
    return FileRead(item, columns, None, period)


def _period_or_empty(text: str) -> str:
    try:
        return str(Period.parse(text)) if text else ""
    except ValueError:
        return ""


def read_many(items: list[Incoming], catalog: Catalog) -> list[FileRead]:
    return [read_one(i, catalog) for i in items]
