"""Warehouse reads and writes of the publish side: current values, submissions, follow-ups, vintages.

Every datetime leaves this module timezone-aware in UTC (SQLite hands back naive UTC values).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Connection, Engine, and_, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from township.conflicts import WARNING
from warehouse.engine import connected, copy_rows
from warehouse.models import (
    Conflict,
    CountySource,
    Reporter,
    Snapshot,
    SnapshotChange,
    SnapshotCheck,
    SnapshotSeal,
    SnapshotValue,
    Submission,
    ValueHistory,
    VintageManifest,
)

VALUE_COLUMNS = ["reporter_code", "period", "indicator_code", "month_value", "ytd_value", "note",
                 "submission_id", "valid_from"]
SNAPSHOT_VALUE_COLUMNS = [c.name for c in SnapshotValue.__table__.c if c.name != "snapshot_id"]
ACCEPTED = ("accepted", "accepted_with_warnings")


def utc(ts: object) -> pd.Timestamp | None:
    """A stored datetime as an aware UTC timestamp (naive values are stored in UTC)."""
    if ts is None or ts is pd.NaT:
        return None
    t = pd.Timestamp(ts)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def _utc_column(s: pd.Series) -> pd.Series:
    s = pd.to_datetime(s, utc=False)
    if getattr(s.dt, "tz", None) is None:
        return s.dt.tz_localize("UTC")
    return s.dt.tz_convert("UTC")


def _frame(conn: Connection, stmt, columns: list[str]) -> pd.DataFrame:  # noqa: ANN001
    # Rows as plain tuples: pandas asks each Row for attributes it lacks (namedtuple, dataclass…), each miss a
    # SQLAlchemy key lookup and exception; a township's 448 values took 4.6 ms, as tuples 1.8.
    rows = [tuple(r) for r in conn.execute(stmt).all()]
    return pd.DataFrame(rows, columns=columns) if rows else pd.DataFrame({c: [] for c in columns})


def read_current_values(source: Engine | Connection, township: str, first_period: str,
                        last_period: str) -> pd.DataFrame:
    """Current values (valid_to NULL) of a township's reporters for periods first..last inclusive.
    source: the engine, or a connection (read inside its transaction)."""
    stmt = _current(township, first_period, last_period, *VALUE_COLUMNS)
    with connected(source) as conn:
        df = _frame(conn, stmt, VALUE_COLUMNS)
    df["month_value"] = df["month_value"].astype("float64")
    df["ytd_value"] = df["ytd_value"].astype("float64")
    df["valid_from"] = _utc_column(df["valid_from"])
    return df


def read_current_versions(conn: Connection, township: str, first_period: str, last_period: str) -> frozenset:
    """The version of each value read_current_values reads: (reporter_code, period, indicator_code,
    submission_id), without the values (a freeze checks under its lock that they are still those it froze)."""
    key = ("reporter_code", "period", "indicator_code", "submission_id")
    return frozenset((r, p, i, int(s)) for r, p, i, s in conn.execute(_current(township, first_period, last_period, *key)))


def _current(township: str, first_period: str, last_period: str, *columns: str):  # noqa: ANN202 - a Select
    v = ValueHistory
    return (select(*(getattr(v, c) for c in columns))
            .join(Reporter, Reporter.code == v.reporter_code)
            .where(Reporter.township_code == township, v.valid_to.is_(None),
                   v.period >= first_period, v.period <= last_period))


def read_submissions(engine: Engine, township: str, period: str) -> pd.DataFrame:
    """Every submission of a township's reporters for a period (one row per received file)."""
    s = Submission
    cols = ["submission_id", "reporter_code", "file_name", "received_at", "status"]
    stmt = (select(s.id, s.reporter_code, s.file_name, s.received_at, s.status)
            .join(Reporter, Reporter.code == s.reporter_code)
            .where(Reporter.township_code == township, s.period == period))
    with engine.connect() as conn:
        df = _frame(conn, stmt, cols)
    df["received_at"] = _utc_column(df["received_at"])
    return df


def read_follow_ups(engine: Engine, township: str, period: str) -> pd.DataFrame:
    """Soft warnings (W_*) attached to values that are still current: what the station must follow up."""
    c, v, s = Conflict, ValueHistory, Submission
    cols = ["reporter_code", "indicator_code", "code", "message_zh", "note", "file_name", "sheet", "cell"]
    stmt = (select(v.reporter_code, c.indicator_code, c.code, c.message_zh, c.note, s.file_name, c.sheet, c.cell)
            .join(v, and_(v.submission_id == c.submission_id, v.indicator_code == c.indicator_code))
            .join(s, s.id == c.submission_id)
            .join(Reporter, Reporter.code == v.reporter_code)
            .where(Reporter.township_code == township, v.period == period, v.valid_to.is_(None),
                   c.severity == WARNING)
            .order_by(v.reporter_code, c.indicator_code, c.code))
    with engine.connect() as conn:
        return _frame(conn, stmt, cols)


@dataclass(frozen=True)
class VintageRow:
    """One published vintage's header row."""

    id: int
    township: str
    period: str
    vintage: int
    status: str
    period_label: str
    published_at: pd.Timestamp
    content_hash: str


def _vintage(row) -> VintageRow:  # noqa: ANN001
    return VintageRow(row.id, row.township_code, row.period, row.vintage, row.status, row.period_label,
                      utc(row.published_at), row.content_hash)


def latest_vintage(conn: Connection, township: str, period: str) -> VintageRow | None:
    s = Snapshot
    row = conn.execute(select(*s.__table__.c).where(s.township_code == township, s.period == period)
                       .order_by(s.vintage.desc()).limit(1)).first()
    return _vintage(row) if row else None


def read_vintage_values(conn: Connection, snapshot_id: int) -> pd.DataFrame:
    """The snapshot_value rows of one vintage, by indicator_code."""
    t = SnapshotValue.__table__
    stmt = select(*[t.c[n] for n in SNAPSHOT_VALUE_COLUMNS]).where(t.c.snapshot_id == snapshot_id)
    return _frame(conn, stmt, SNAPSHOT_VALUE_COLUMNS)


def value_changes_since(conn: Connection, township: str, periods: list[str],
                        since: pd.Timestamp) -> pd.DataFrame:
    """Value rows of these periods loaded after `since`: which submission changed what.

    "After" is the submission's processed_at (when the warehouse learnt the value), not valid_from:
    valid_from is the receipt time, which for a late correction loaded today can precede a vintage
    published yesterday."""
    v, s = ValueHistory, Submission
    stmt = (select(v.indicator_code, v.submission_id, s.processed_at)
            .join(s, s.id == v.submission_id)
            .join(Reporter, Reporter.code == v.reporter_code)
            .where(Reporter.township_code == township, v.period.in_(periods)))
    df = _frame(conn, stmt, ["indicator_code", "submission_id", "processed_at"])
    # Compared in pandas, not SQL: SQLite stores datetimes as text, where offsets would compare wrongly.
    return df[_utc_column(df["processed_at"]) > since]


def read_submissions_by_id(engine: Engine, ids: list[int]) -> pd.DataFrame:
    """The file, reporter and receipt time (UTC) of these submissions, by submission_id."""
    s = Submission
    cols = ["submission_id", "reporter_code", "file_name", "received_at"]
    with engine.connect() as conn:
        df = _frame(conn, select(s.id, s.reporter_code, s.file_name, s.received_at)
                    .where(s.id.in_([int(i) for i in ids])).order_by(s.id), cols)
    df["received_at"] = _utc_column(df["received_at"])
    return df


SOURCE_COLUMNS = ["township_code", "source_snapshot_id", "source_vintage"]


def insert_vintage(conn: Connection, header: dict, values: pd.DataFrame, changes: pd.DataFrame,
                   checks: pd.DataFrame, sources: pd.DataFrame | None = None) -> int:
    """Insert one vintage with its values, changes and check failures (and, for a county vintage, the township
    vintages it was built from), then seal it; the caller owns the transaction."""
    snapshot_id = conn.execute(insert(Snapshot).returning(Snapshot.id), [header]).scalar_one()
    _insert_rows(conn, SnapshotValue, snapshot_id, values, SNAPSHOT_VALUE_COLUMNS)
    _insert_rows(conn, SnapshotChange, snapshot_id, changes,
                 ["indicator_code", "old_month_value", "new_month_value", "old_ytd_value", "new_ytd_value",
                  "submission_ids"])
    _insert_rows(conn, SnapshotCheck, snapshot_id, checks, ["code", "indicator_code", "message_zh", "message_en"])
    if sources is not None:
        _insert_rows(conn, CountySource, snapshot_id, sources, SOURCE_COLUMNS)
    # Last: from the seal on, the database refuses any further row for this vintage (migration 0004).
    conn.execute(insert(SnapshotSeal), [{"snapshot_id": snapshot_id}])
    return snapshot_id


def _insert_rows(conn: Connection, model, snapshot_id: int, df: pd.DataFrame, columns: list[str]) -> None:  # noqa: ANN001
    if df.empty:
        return
    table = model.__table__
    # NaN must reach the database as NULL; each value as its column's Python type (a count may come as 18.0).
    cols = [_as_column_type(table.c[c], df[c].tolist()) for c in columns]
    if conn.dialect.name == "postgresql":  # one COPY, not an INSERT per row (~180 rows a township's vintage)
        types = ["int4", *(_PG_TYPE[_kind(table.c[c])] for c in columns)]
        copy_rows(conn, table.name, ["snapshot_id", *columns], types, ((snapshot_id, *vals) for vals in zip(*cols)))
    else:
        conn.execute(insert(model), [{"snapshot_id": snapshot_id, **dict(zip(columns, vals))} for vals in zip(*cols)])


_PG_TYPE = {"int": "int4", "float": "float8", "text": "text"}


_KINDS = {int: "int", float: "float", str: "text"}


def _kind(column) -> str:  # noqa: ANN001 - a table column
    """How a vintage table's column is written (COPY type and Python conversion); a column of any other type
    (a date, a flag) needs its own entry here rather than silently becoming text."""
    python_type = column.type.python_type
    if python_type not in _KINDS:
        raise TypeError(f"{column.table.name}.{column.name}: no COPY type for {python_type.__name__}")
    return _KINDS[python_type]


def _as_column_type(column, values: list) -> list:  # noqa: ANN001 - a table column
    convert = {"int": int, "float": float, "text": str}[_kind(column)]
    return [None if v is None or v is pd.NA or v != v else convert(v) for v in values]


def read_vintage(engine: Engine, snapshot_id: int) -> tuple[VintageRow, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """A vintage's header, values, changes and check failures, exactly as frozen."""
    with engine.connect() as conn:
        head = _vintage(conn.execute(select(*Snapshot.__table__.c).where(Snapshot.id == snapshot_id)).one())
        values = read_vintage_values(conn, snapshot_id)
        changes, checks = read_vintage_notes(conn, snapshot_id)
    return head, values, changes, checks


def read_vintage_notes(source: Engine | Connection, snapshot_id: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A vintage's changes and check failures, exactly as frozen (what its report says beside the figures)."""
    with connected(source) as conn:
        ch = SnapshotChange.__table__
        change_cols = [c.name for c in ch.c if c.name != "snapshot_id"]
        changes = _frame(conn, select(*[ch.c[n] for n in change_cols]).where(ch.c.snapshot_id == snapshot_id)
                         .order_by(ch.c.indicator_code), change_cols)
        ck = SnapshotCheck.__table__
        checks = _frame(conn, select(ck.c.code, ck.c.indicator_code, ck.c.message_zh, ck.c.message_en)
                        .where(ck.c.snapshot_id == snapshot_id).order_by(ck.c.id),
                        ["code", "indicator_code", "message_zh", "message_en"])
    return changes, checks


def vintage_count(engine: Engine, township: str, period: str) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(Snapshot).where(
            Snapshot.township_code == township, Snapshot.period == period)).scalar_one()


def read_snapshot_history(engine: Engine, township: str, period: str) -> pd.DataFrame:
    """Every vintage's values of a township's period from the `snapshot_history` view."""
    from sqlalchemy import text

    with engine.connect() as conn:
        result = conn.execute(text(
            "SELECT * FROM snapshot_history WHERE township_code = :t AND period = :p "
            "ORDER BY vintage, indicator_code"), {"t": township, "p": period})
        df = pd.DataFrame([tuple(r) for r in result.all()], columns=list(result.keys()))
    for col in ("published_at", "valid_from", "valid_to"):
        df[col] = _utc_column(df[col]) if not df.empty else df[col]
    return df


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def record_manifest(engine: Engine, snapshot_id: int, manifest_sha256: str) -> None:
    """Record the sha256 of a vintage folder's manifest.json as published; one already recorded is kept
    (write-once: a later call never replaces it)."""
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    with engine.begin() as conn:
        conn.execute(dialect.insert(VintageManifest).values(
            snapshot_id=snapshot_id, manifest_sha256=manifest_sha256, recorded_at=now_utc(),
        ).on_conflict_do_nothing(index_elements=["snapshot_id"]))


def recorded_manifest(engine: Engine, snapshot_id: int) -> str | None:
    """The sha256 recorded for a vintage's manifest.json, if any."""
    with engine.connect() as conn:
        return conn.execute(select(VintageManifest.manifest_sha256)
                            .where(VintageManifest.snapshot_id == snapshot_id)).scalar_one_or_none()


def vintage_ids(engine: Engine) -> dict[tuple[str, str, int], int]:
    """Every vintage's snapshot id by (org unit, period, vintage)."""
    s = Snapshot
    with engine.connect() as conn:
        return {(t, p, v): i for t, p, v, i in conn.execute(select(s.township_code, s.period, s.vintage, s.id))}


def recorded_manifests(engine: Engine) -> dict[tuple[str, str, int], str | None]:
    """Every vintage (org unit, period, vintage) with its recorded manifest sha256 (None: none recorded)."""
    s, m = Snapshot, VintageManifest
    stmt = select(s.township_code, s.period, s.vintage, m.manifest_sha256).outerjoin(m, m.snapshot_id == s.id)
    with engine.connect() as conn:
        return {(t, p, v): h for t, p, v, h in conn.execute(stmt)}
