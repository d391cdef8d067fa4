"""Warehouse reads of the county roll-up: its townships' latest signed vintages, their figures, and the
township vintages an earlier county vintage was built from."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Connection, Engine, func, select

from warehouse.models import CountySource, Snapshot, SnapshotValue
from warehouse.publish_io import SNAPSHOT_VALUE_COLUMNS, SOURCE_COLUMNS, _frame, _utc_column

SIGNED_COLUMNS = [*SOURCE_COLUMNS, "status", "signer", "signed_at"]


def _typed_sources(df: pd.DataFrame) -> pd.DataFrame:
    for c in ("source_snapshot_id", "source_vintage"):
        df[c] = df[c].astype("Int64")
    return df


def read_signed_sources(engine: Engine, townships: list[str], period: str) -> pd.DataFrame:
    """One row per township: its latest signed vintage of the month (snapshot id, vintage, status, signer),
    NULLs where it has none (未报). A vintage frozen without a signer never feeds the county."""
    s = Snapshot
    latest = (select(s.township_code, func.max(s.vintage).label("vintage"))
              .where(s.township_code.in_(townships), s.period == period, s.signer.is_not(None))
              .group_by(s.township_code).subquery())
    stmt = (select(s.township_code, s.id, s.vintage, s.status, s.signer, s.signed_at)
            .join(latest, (latest.c.township_code == s.township_code) & (latest.c.vintage == s.vintage))
            .where(s.period == period))
    with engine.connect() as conn:
        found = _frame(conn, stmt, SIGNED_COLUMNS)
    found["signed_at"] = _utc_column(found["signed_at"])
    out = pd.DataFrame({"township_code": townships}).merge(found, how="left", on="township_code")
    return _typed_sources(out)


def read_source_values(engine: Engine, snapshot_ids: list[int]) -> pd.DataFrame:
    """The snapshot_value rows of these township vintages, with their snapshot_id."""
    t = SnapshotValue.__table__
    cols = ["snapshot_id", *SNAPSHOT_VALUE_COLUMNS]
    with engine.connect() as conn:
        df = _frame(conn, select(*[t.c[n] for n in cols]).where(t.c.snapshot_id.in_([int(i) for i in snapshot_ids])),
                    cols)
    for c in ("month_value", "ytd_value", "prior_ytd_value", "yoy_pct", "target_pct"):
        df[c] = df[c].astype("float64")
    df["snapshot_id"] = df["snapshot_id"].astype("int64")
    return df


def read_county_sources(conn: Connection, county_snapshot_id: int) -> pd.DataFrame:
    """The township vintages a county vintage was built from (publish_io.SOURCE_COLUMNS)."""
    c = CountySource
    stmt = (select(c.township_code, c.source_snapshot_id, c.source_vintage)
            .where(c.snapshot_id == county_snapshot_id).order_by(c.township_code))
    return _typed_sources(_frame(conn, stmt, SOURCE_COLUMNS))


def read_county_vintage_sources(conn: Connection, county: str, period: str, vintage: int) -> pd.DataFrame:
    """The township vintages a given county vintage (by number) was built from."""
    sid = conn.execute(select(Snapshot.id).where(Snapshot.township_code == county, Snapshot.period == period,
                                                 Snapshot.vintage == vintage)).scalar_one()
    return read_county_sources(conn, sid)
