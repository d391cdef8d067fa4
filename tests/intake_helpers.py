"""Helpers for intake tests: write real CSV submissions into an inbox and run intake without a server."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from dataclasses import replace

from tasks import intake_pipeline
from tasks.receipts import IntakeSummary
from township.periods import Period

HEADER = "reporter_code,period,indicator_code,month_value,ytd_value,unit,note\n"


def write_csv(inbox: Path, folder: str, name: str, rows: list[tuple], *, reporter: str | None = None,
              period: str = "2021-10", encoding: str = "utf-8", received: dt.datetime | None = None) -> Path:
    """rows: (indicator_code, month, ytd[, unit[, note]]) with '' for blank."""
    path = inbox / folder / name if folder else inbox / name
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [HEADER]
    for r in rows:
        code, month, ytd, unit, note = (*r, "", "")[:5]
        lines.append(f"{reporter or folder},{period},{code},{month},{ytd},{unit},{note}\n")
    path.write_bytes("".join(lines).encode(encoding))
    received = received or dt.datetime(2021, 11, 3, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    os.utime(path, (received.timestamp(), received.timestamp()))
    return path


def run_intake(rt, today: Period = Period(2021, 11), partition: str | None = None,
               batch_files: int | None = None) -> IntakeSummary:
    """The intake pipeline with plain step calls (the flow itself is tested in the system tests)."""
    if batch_files:
        rt = replace(rt, settings=rt.settings.model_copy(update={"batch_files": batch_files}))
    return intake_pipeline.run_intake(rt, today=today, partition=partition)
