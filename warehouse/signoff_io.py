"""Warehouse reads and writes of the sign-off: final (locked) months, pending revisions, signatures.

A month whose latest vintage is final (定报) is locked: an accepted correction for it is stored in
`pending_value` (not current) until a signed revision applies it (`apply_pending`) and the next
vintage is frozen. Every datetime leaves this module timezone-aware in UTC.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Connection, Engine, func, inspect, insert, select, update

from township.conflicts import Conflict as ConflictCode
from warehouse.engine import connected, has_table
from warehouse.models import PendingValue, Reporter, Snapshot, Submission
from warehouse.publish_io import utc

PENDING_COLUMNS = ["submission_id", "reporter_code", "period", "indicator_code", "month_value", "ytd_value",
                   "note", "received_at"]


def final_periods(engine: Engine) -> set[tuple[str, str]]:
    """(township, period) pairs whose latest vintage is final: their current values are locked."""
    if "snapshot" not in inspect(engine).get_table_names():
        return set()  # a dry run on an empty warehouse: nothing is locked
    with engine.connect() as conn:
        return _final_periods(conn)


def lock_final_periods(conn: Connection, subs: pd.DataFrame, conflicts: pd.DataFrame,
                       pending_status: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Inside the load, under its lock: files accepted for a month that became final after the review read
    the locks (a sign-off committed meanwhile) become pending revisions too, with their W_PERIOD_FINAL."""
    locked = _final_periods(conn)
    hit = pd.Series([(t, p) in locked and s in ("accepted", "accepted_with_warnings") for t, p, s in
                     zip(subs["township_code"], subs["period"], subs["status"])], index=subs.index, dtype=bool)
    if not hit.any():
        return subs, conflicts
    subs = subs.copy()
    subs.loc[hit, "status"] = pending_status
    rows = []
    for sha, name, period in subs.loc[hit, ["sha256", "file_name", "period"]].itertuples(index=False):
        rec = ConflictCode("W_PERIOD_FINAL", file_name=name, found=period).as_record()
        rows.append({"sha256": sha, **{c: rec.get(c) for c in conflicts.columns if c != "sha256"}})
    return subs, pd.concat([conflicts, pd.DataFrame(rows, columns=conflicts.columns)], ignore_index=True)


def _final_periods(conn: Connection) -> set[tuple[str, str]]:
    s = Snapshot
    latest = (select(s.township_code, s.period, func.max(s.vintage).label("v"))
              .group_by(s.township_code, s.period).subquery())
    stmt = (select(s.township_code, s.period)
            .join(latest, (latest.c.township_code == s.township_code) & (latest.c.period == s.period)
                  & (latest.c.v == s.vintage))
            .where(s.status == "final"))
    return {(t, p) for t, p in conn.execute(stmt).all()}


def insert_pending(conn: Connection, values: pd.DataFrame, ids: dict[str, int]) -> int:
    """Store accepted values of corrections to locked months (inside the load's transaction)."""
    if values.empty:
        return 0
    rows = []
    for r in values.to_dict("records"):
        rows.append({
            "submission_id": ids[r["sha256"]], "reporter_code": r["reporter_code"], "period": r["period"],
            "indicator_code": r["indicator_code"],
            "month_value": None if pd.isna(r["month_value"]) else float(r["month_value"]),
            "ytd_value": None if pd.isna(r["ytd_value"]) else float(r["ytd_value"]),
            "note": r["note"] if isinstance(r["note"], str) and r["note"] else None,
            "received_at": pd.Timestamp(r["received_at"]).to_pydatetime()})
    conn.execute(insert(PendingValue), rows)
    return len(rows)


def read_pending(source: Engine | Connection, township: str, period: str) -> pd.DataFrame:
    """Values still pending for a township's month, one row each, in receipt order, with the file.
    source: the engine, or a connection (read inside its transaction)."""
    if isinstance(source, Engine) and not has_table(source, PendingValue.__tablename__):
        return pd.DataFrame(columns=["submission_id", "reporter_code", "period", "indicator_code", "month_value",
                                     "ytd_value", "note", "received_at", "file_name"])
    p = PendingValue
    stmt = (select(p.submission_id, p.reporter_code, p.period, p.indicator_code, p.month_value, p.ytd_value,
                   p.note, p.received_at, Submission.file_name)
            .join(Reporter, Reporter.code == p.reporter_code)
            .join(Submission, Submission.id == p.submission_id)
            .where(Reporter.township_code == township, p.period == period, p.applied_at.is_(None))
            .order_by(p.received_at, p.submission_id, p.indicator_code))
    cols = [*PENDING_COLUMNS, "file_name"]
    with connected(source) as conn:
        rows = conn.execute(stmt).all()
    df = pd.DataFrame(rows, columns=cols) if rows else pd.DataFrame({c: [] for c in cols})
    df["month_value"] = df["month_value"].astype("float64")
    df["ytd_value"] = df["ytd_value"].astype("float64")
    df["received_at"] = pd.to_datetime(df["received_at"], utc=True) if len(df) else df["received_at"]
    return df


def has_pending(conn: Connection, township: str, period: str) -> bool:
    """Whether any value of a township's month is still pending (read_pending without reading them)."""
    p = PendingValue
    stmt = (select(p.id).join(Reporter, Reporter.code == p.reporter_code)
            .where(Reporter.township_code == township, p.period == period, p.applied_at.is_(None)).limit(1))
    return conn.execute(stmt).first() is not None


def latest_pending(pending: pd.DataFrame) -> pd.DataFrame:
    """The last pending version of each reporter × indicator: what becomes current when signed."""
    return pending.drop_duplicates(["reporter_code", "period", "indicator_code"], keep="last")


def apply_pending(engine: Engine, township: str, period: str, now: dt.datetime) -> list[int]:
    """Make a township's pending values of a month current (valid_from = now, the signing), in one
    transaction under the intake lock; returns the submissions applied."""
    from warehouse.intake_io import intake_lock

    with engine.connect() as conn:
        conn.info["write"] = True
        try:
            with conn.begin():
                intake_lock(conn)
                return apply_pending_locked(conn, township, period, now)
        finally:
            conn.info.pop("write", None)


def apply_pending_locked(conn: Connection, township: str, period: str, now: dt.datetime) -> list[int]:
    """apply_pending inside the caller's transaction, which holds the intake lock (a freeze: tasks/snapshot.py)."""
    from warehouse.intake_io import _current_for, _plan_values, _write_values

    pending = read_pending(conn, township, period)
    if pending.empty:
        return []
    last = latest_pending(pending)
    vals = last.assign(sha256=last["submission_id"].astype("int64").astype(str),
                       received_at=pd.Timestamp(now))
    ids = {str(int(i)): int(i) for i in pending["submission_id"].unique()}
    plan = _plan_values(vals, _current_for(conn, vals))
    _write_values(conn, plan, ids)
    p = PendingValue
    conn.execute(update(p).where(p.submission_id.in_(list(ids.values())), p.period == period,
                                 p.applied_at.is_(None)).values(applied_at=now))
    return sorted(ids.values())


@dataclass(frozen=True)
class SignatureRow:
    """Who signed a vintage off, as what, when (all None for an unsigned vintage)."""

    decision: str | None
    signer: str | None
    comment: str | None
    signed_at: pd.Timestamp | None


def read_signature(engine: Engine, snapshot_id: int) -> SignatureRow:
    s = Snapshot
    with engine.connect() as conn:
        row = conn.execute(select(s.decision, s.signer, s.comment, s.signed_at).where(s.id == snapshot_id)).one()
    at = None if row.signed_at is None else pd.Timestamp(row.signed_at)
    if at is not None:
        at = at.tz_localize("UTC") if at.tzinfo is None else at.tz_convert("UTC")
    return SignatureRow(row.decision, row.signer, row.comment, at)


def signed_revisions(engine: Engine) -> pd.DataFrame:
    """Every signed revision that made pending values current: township, period, applied_at (UTC), one row
    each, oldest first (what a rebuild replays between the files)."""
    p = PendingValue
    stmt = (select(Reporter.township_code, p.period, p.applied_at).join(Reporter, Reporter.code == p.reporter_code)
            .where(p.applied_at.is_not(None)).distinct())
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    out = pd.DataFrame(rows, columns=["township_code", "period", "applied_at"])
    out["applied_at"] = [utc(t) for t in out["applied_at"]]
    return out.sort_values(["applied_at", "township_code", "period"], ignore_index=True)


def processed_times(engine: Engine) -> dict[str, pd.Timestamp]:
    """When each submission (by sha256) was loaded (UTC): the order a rebuild replays files and revisions in."""
    with engine.connect() as conn:
        return {sha: utc(t) for sha, t in conn.execute(select(Submission.sha256, Submission.processed_at))}
