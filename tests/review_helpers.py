"""The review as `township check` runs it — read, review, receipt — with no warehouse and no archive
(and the archive step alone, for the one rule it raises).

Tests that go through the review import it from here only, so a rename of the pipeline modules is
fixed in this one file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from zoneinfo import ZoneInfo

import pandas as pd

from tasks.archiving import archive_reads
from tasks.batch_review import review_run
from tasks.inbox import Incoming
from tasks.read_files import read_many
from tasks.receipts import receipt
from township.catalog import Catalog
from township.periods import Period

TZ = ZoneInfo("Asia/Shanghai")
RECEIVED = dt.datetime(2021, 11, 3, 9, 0, tzinfo=TZ)
CONTEXT_COLUMNS = ["reporter_code", "period", "indicator_code", "month_value", "ytd_value"]
CSV_HEADER = "reporter_code,period,indicator_code,month_value,ytd_value,unit,note\n"


def csv_form(rows: list[tuple], *, reporter: str = "invest", period: str = "2021-10") -> bytes:
    """A CSV submission; rows: (indicator_code, month, ytd[, unit[, note]]), '' for blank.
    Line 1 is the header, so the first row's cells are A2 (reporter) … G2 (note)."""
    lines = [CSV_HEADER]
    for r in rows:
        code, month, ytd, unit, note = (*r, "", "")[:5]
        lines.append(f"{reporter},{period},{code},{month},{ytd},{unit},{note}\n")
    return "".join(lines).encode("utf-8")


def incoming(folder: str, name: str, data: bytes, received: dt.datetime = RECEIVED) -> Incoming:
    ns = int(received.timestamp()) * 10**9
    path = f"{folder}/{name}" if folder else name
    return Incoming(path, folder, name, len(data), ns, hashlib.sha256(data).hexdigest(), data)


def review_files(files: list[Incoming], catalog: Catalog, *, today: Period = Period(2021, 11),
                 context: pd.DataFrame | None = None):  # noqa: ANN201 - the review's result (Reviewed)
    """Read and review the files as one run; `context` stands in for the warehouse's current values
    (reporter_code, period, indicator_code, month_value, ytd_value)."""
    ctx = context if context is not None else pd.DataFrame(columns=CONTEXT_COLUMNS)
    ctx = ctx.astype({"month_value": "float64", "ytd_value": "float64"})
    reads = read_many(files, catalog)
    return review_run(reads, catalog, lambda window, reporters: ctx, today, TZ)


def receipts(files: list[Incoming], catalog: Catalog, **kw) -> dict[str, dict]:
    """file name -> the receipt `township check` prints for it."""
    reviewed = review_files(files, catalog, **kw)
    return {sub["file_name"]: receipt(sub, reviewed.conflicts) for sub in reviewed.submissions.to_dict("records")}


def archive_conflicts(files: list[Incoming], catalog: Catalog, archive_root: str) -> dict[str, dict]:
    """file name -> the conflict record of each file the archive step could not keep."""
    archived = archive_reads(archive_root, read_many(files, catalog))
    names = {f.sha256: f.name for f in files}
    return {names[sha]: c.as_record() for sha, c in archived.failed.items()}


def codes_and_cells(r: dict) -> list[tuple[str, str | None]]:
    return [(c["code"], c["cell"]) for c in r["conflicts"]]
