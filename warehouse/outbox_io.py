"""The outbox's reads and writes: enqueue once, claim what is due, record how each attempt went.

Several runs (intake, the reminder, publish) may send at once: a run sends only the messages it
claimed, by moving their next attempt past a lease in one conditional UPDATE, so two runs never send
the same message together; a run that dies mid-send leaves its claims to expire and be sent again.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Engine, and_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from warehouse.engine import has_table
from warehouse.models import OutboxMessage

QUEUED, SENT, FAILED = "queued", "sent", "failed"
CLAIM_LEASE = dt.timedelta(minutes=10)  # longer than any one send; then a dead run's claim expires
OUTBOX_COLUMNS = ["id", "recipient", "channel", "kind", "period", "subject_key", "title", "status", "attempts",
                  "last_error", "created_at", "next_attempt_at", "sent_at"]


def _utc(t: dt.datetime) -> dt.datetime:
    # SQLite keeps the wall time it is given: store UTC everywhere so comparisons hold on both databases
    return t.astimezone(dt.timezone.utc)


def enqueue_messages(engine: Engine, messages: list[dict], now: dt.datetime) -> int:
    """Insert messages (recipient, channel, kind, period, subject_key, title, body) that are not in the
    outbox yet; one already there (sent or not) is left alone. Returns how many were new."""
    if not messages or not has_table(engine, OutboxMessage.__tablename__):
        return 0
    now = _utc(now)
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    new = 0
    with engine.begin() as conn:
        for m in messages:  # a handful per run: one statement each tells exactly which were new
            stmt = dialect.insert(OutboxMessage).values(
                **m, status=QUEUED, attempts=0, created_at=now, next_attempt_at=now,
            ).on_conflict_do_nothing(index_elements=["recipient", "channel", "kind", "period", "subject_key"])
            new += len(conn.execute(stmt.returning(OutboxMessage.id)).all())  # rowcount: -1 on PostgreSQL
    return new


def claim_due(engine: Engine, now: dt.datetime, lease: dt.timedelta = CLAIM_LEASE) -> list[dict]:
    """The unsent messages due now, each claimed by this run (others skip it until the lease ends)."""
    if not has_table(engine, OutboxMessage.__tablename__):
        return []
    now = _utc(now)
    due = and_(OutboxMessage.status != SENT, OutboxMessage.next_attempt_at <= now)
    with engine.connect() as conn:
        rows = conn.execute(select(OutboxMessage.id).where(due).order_by(OutboxMessage.id)).scalars().all()
    claimed = []
    for mid in rows:
        with engine.begin() as conn:
            got = conn.execute(update(OutboxMessage).where(OutboxMessage.id == mid, due)
                               .values(next_attempt_at=now + lease)).rowcount
            if got:
                cols = OUTBOX_COLUMNS + ["body"]
                row = conn.execute(select(*(getattr(OutboxMessage, c) for c in cols))
                                   .where(OutboxMessage.id == mid)).one()
                claimed.append(dict(zip(cols, row)))
    return claimed


def record_sent(engine: Engine, message_id: int, now: dt.datetime) -> None:
    with engine.begin() as conn:
        conn.execute(update(OutboxMessage).where(OutboxMessage.id == message_id).values(
            status=SENT, sent_at=_utc(now), attempts=OutboxMessage.attempts + 1, last_error=None))


def record_failed(engine: Engine, message_id: int, error: str, next_attempt_at: dt.datetime) -> None:
    with engine.begin() as conn:
        conn.execute(update(OutboxMessage).where(OutboxMessage.id == message_id).values(
            status=FAILED, attempts=OutboxMessage.attempts + 1, last_error=error[:4000],
            next_attempt_at=_utc(next_attempt_at)))


def read_outbox(engine: Engine, *, period: str | None = None, status: str | None = None) -> pd.DataFrame:
    """Outbox rows (without bodies), oldest first; optionally one period's or one status's."""
    if not has_table(engine, OutboxMessage.__tablename__):
        return pd.DataFrame(columns=OUTBOX_COLUMNS)
    q = select(*(getattr(OutboxMessage, c) for c in OUTBOX_COLUMNS)).order_by(OutboxMessage.id)
    if period:
        q = q.where(OutboxMessage.period == period)
    if status:
        q = q.where(OutboxMessage.status == status)
    with engine.connect() as conn:
        rows = conn.execute(q).all()
    df = pd.DataFrame([tuple(r) for r in rows], columns=OUTBOX_COLUMNS)
    for c in ("created_at", "next_attempt_at", "sent_at"):  # naive UTC on SQLite, aware on PostgreSQL
        df[c] = pd.to_datetime(df[c], utc=True)
    return df
