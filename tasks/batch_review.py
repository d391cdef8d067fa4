"""Reviewing a batch of read files: one frame, one enrichment, one validation, one decision per file.

The review step of the intake pipeline (tasks/intake_pipeline.py); `township check` runs it too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field
from itertools import chain
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from tasks.enrich import context_window, enrich, parse_periods
from tasks.frame import READ_COLUMNS, conform
from tasks.gx_docs import DocsRun
from tasks.read_files import FileRead
from tasks.review import CONFLICT_COLUMNS, review
from township.catalog import Catalog
from township.conflicts import Conflict
from township.periods import Period

ACCEPTED, WITH_WARNINGS, REJECTED, DUPLICATE = "accepted", "accepted_with_warnings", "rejected", "duplicate"
DEFERRED = "deferred"  # could not be archived: nothing stored, taken again next run
PENDING = "accepted_pending_revision"  # accepted for a month already final (定报): stored, not current


def run_frame(reads: list[FileRead]) -> pd.DataFrame:
    """All readable files of the run as one long frame (built once, not per file), each row with a
    run-wide source_row and its file's key, reporter folder and receipt time."""
    ok = [r for r in reads if r.columns]
    data: dict[str, object] = {}
    for c in READ_COLUMNS:
        parts = [r.columns[c] for r in ok]
        if c in ("month_value", "ytd_value"):
            data[c] = np.concatenate(parts) if parts else np.array([], dtype="float64")
        else:
            data[c] = list(chain.from_iterable(parts))
    counts = [r.rows for r in ok]
    data["file_key"] = list(chain.from_iterable([r.item.sha256] * n for r, n in zip(ok, counts)))
    data["reporter_code"] = list(chain.from_iterable([r.item.folder] * n for r, n in zip(ok, counts)))
    received = np.repeat(np.array([r.item.mtime_ns // 1000 * 1000 for r in ok], dtype="int64"), counts)
    df = conform(pd.DataFrame({c: data[c] for c in READ_COLUMNS}))
    df["file_key"] = pd.Series(data["file_key"], dtype="str")
    df["reporter_code"] = pd.Series(data["reporter_code"], dtype="str")
    df["received_at"] = pd.to_datetime(received, unit="ns", utc=True)
    df["source_row"] = np.arange(len(df), dtype="int64")
    return df


@dataclass
class Reviewed:
    """A reviewed run: the enriched frame, every conflict, and one outcome per file."""

    frame: pd.DataFrame
    conflicts: pd.DataFrame  # sha256 + CONFLICT_COLUMNS (file-level conflicts included)
    submissions: pd.DataFrame  # one row per file, see warehouse.intake_io.load_run
    values: pd.DataFrame  # accepted values: sha256, received_at, reporter_code, period, indicator_code, ...
    reads: list[FileRead] = field(default_factory=list)


def review_run(reads: list[FileRead], catalog: Catalog, warehouse_values, today: Period,
               tz: ZoneInfo, locked: Collection[tuple[str, str]] = (), docs: DocsRun | None = None,
               held: Collection[str] = ()) -> Reviewed:
    """Enrich and validate the run's rows in one validation, then decide each file.
    locked: (township, period) pairs already final; an acceptable file for one becomes a pending revision.
    held: files (sha256) known to have arrived while their month was final (a rebuild replaying the
    sign-offs: tasks/rebuild.py); an acceptable one becomes a pending revision too.
    docs: where and under which name the validation is kept in the Data Docs (none: not kept)."""
    frame = run_frame(reads)
    if frame.empty:
        enriched, row_conflicts = frame, pd.DataFrame(columns=CONFLICT_COLUMNS)
    else:
        window = context_window(parse_periods(frame["period_raw"]))
        reporters = sorted(frame["reporter_code"].unique())
        context = warehouse_values(window, reporters) if window else None
        if context is None:
            context = pd.DataFrame(columns=["reporter_code", "period", "indicator_code", "month_value",
                                            "ytd_value"])
        enriched = enrich(frame, catalog, context, locked, held)
        row_conflicts = review(enriched, catalog, today, docs)
    file_conflicts = [dict(r.conflict.as_record(), file_key=r.item.sha256) for r in reads if r.conflict]
    conflicts = pd.concat([row_conflicts, pd.DataFrame(file_conflicts, columns=row_conflicts.columns)],
                          ignore_index=True) if file_conflicts else row_conflicts
    conflicts = conflicts.rename(columns={"file_key": "sha256"})[["sha256", *CONFLICT_COLUMNS[1:]]]
    submissions = _decide(reads, enriched, conflicts, catalog, tz)
    submissions, conflicts = _lock_final_periods(submissions, conflicts, locked, held)
    values = _accepted_values(enriched, submissions)
    return Reviewed(enriched, conflicts, submissions, values, reads)


def _decide(reads: list[FileRead], frame: pd.DataFrame, conflicts: pd.DataFrame, catalog: Catalog,
            tz: ZoneInfo) -> pd.DataFrame:
    # plain dicts: a pandas lookup per file costs more than the rest of the loop (32,000 files a province month)
    errors = conflicts.loc[conflicts["severity"] == "error", "sha256"].value_counts().to_dict()
    warnings = conflicts.loc[conflicts["severity"] == "warning", "sha256"].value_counts().to_dict()
    rows_per_file = frame.groupby("file_key").size().to_dict() if not frame.empty else {}
    deadlines: dict[str, dt.datetime] = {}
    out = []
    for r in reads:
        it = r.item
        reporter = catalog.reporter_by_code.get(it.folder)
        status = REJECTED if errors.get(it.sha256, 0) else (WITH_WARNINGS if warnings.get(it.sha256, 0)
                                                            else ACCEPTED)
        on_time = None
        if r.period and reporter:
            if r.period not in deadlines:
                deadlines[r.period] = catalog.deadline_for(Period.parse(r.period), tz)
            on_time = it.received_at <= deadlines[r.period]
        out.append({
            "sha256": it.sha256, "inbox_folder": it.folder, "reporter_code": reporter.code if reporter else "",
            "township_code": reporter.township if reporter else "", "period": r.period or "",
            "file_name": it.name, "path": it.path, "received_at": it.received_at, "status": status,
            "on_time": on_time, "rejected": int(rows_per_file.get(it.sha256, 0)) if status == REJECTED else 0,
            "errors": int(errors.get(it.sha256, 0)), "warnings": int(warnings.get(it.sha256, 0)),
        })
    return pd.DataFrame(out, columns=["sha256", "inbox_folder", "reporter_code", "township_code", "period",
                                      "file_name", "path", "received_at", "status", "on_time", "rejected",
                                      "errors", "warnings"])


def _lock_final_periods(submissions: pd.DataFrame, conflicts: pd.DataFrame,
                        locked: Collection[tuple[str, str]], held: Collection[str] = ()
                        ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Files that would be accepted for a final month (or held): status PENDING and a W_PERIOD_FINAL note each."""
    if not (locked or held) or submissions.empty:
        return submissions, conflicts
    keys, held = set(locked), set(held)
    hit = [((t, p) in keys or sha in held) and s != REJECTED for sha, t, p, s in
           zip(submissions["sha256"], submissions["township_code"], submissions["period"], submissions["status"])]
    if not any(hit):
        return submissions, conflicts
    submissions = submissions.copy()
    hit = pd.Series(hit, index=submissions.index)
    submissions.loc[hit, "status"] = PENDING
    submissions.loc[hit, "warnings"] += 1
    rows = []
    for sha, name, period in submissions.loc[hit, ["sha256", "file_name", "period"]].itertuples(index=False):
        rec = Conflict("W_PERIOD_FINAL", file_name=name, found=period).as_record()
        rows.append({"sha256": sha, **{c: rec.get(c) for c in conflicts.columns if c != "sha256"}})
    return submissions, pd.concat([conflicts, pd.DataFrame(rows, columns=conflicts.columns)], ignore_index=True)


def _accepted_values(frame: pd.DataFrame, submissions: pd.DataFrame) -> pd.DataFrame:
    cols = ["sha256", "received_at", "reporter_code", "period", "indicator_code", "month_value", "ytd_value",
            "note"]
    if frame.empty:
        return pd.DataFrame(columns=cols)
    ok = set(submissions.loc[submissions["status"] != REJECTED, "sha256"])
    v = frame[frame["file_key"].isin(ok)].rename(columns={"file_key": "sha256"})
    # Identical duplicate rows are tolerated (different ones were rejected): keep one.
    v = v.drop_duplicates(["sha256", "indicator_code"])
    # A stock's level is both its month value and its "cumulative".
    stock = v["measure"] == "stock"
    v.loc[stock, "ytd_value"] = v.loc[stock, "month_value"]
    return v[cols].reset_index(drop=True)
