"""The warehouse schema: migrations, catalog load, immutability, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from warehouse.catalog_sync import sync_catalog
from warehouse.engine import current_revision, head_revision, make_engine, upgrade
from warehouse.views import VIEWS


def test_upgrade_creates_every_table_and_view_on_an_empty_database(warehouse_url):
    engine = make_engine(warehouse_url)
    upgrade(engine)
    insp = inspect(engine)
    assert {"submission", "value_history", "snapshot", "snapshot_value", "conflict"} <= set(insp.get_table_names())
    assert {v.name for v in VIEWS} <= set(insp.get_view_names())
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_upgrade_from_previous_revision_keeps_data(warehouse_url, catalog):
    engine = make_engine(warehouse_url)
    upgrade(engine, "0001")
    sync_catalog(engine, catalog)
    now = dt.datetime(2021, 11, 3, 9, tzinfo=dt.timezone.utc)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO submission (sha256, inbox_folder, reporter_code, township_code, period, file_name, "
            "archive_path, received_at, processed_at, status, imported, updated, unchanged, rejected) "
            "VALUES ('abc', 'econ', 'econ', 'taoyuan', '2021-10', 'f.xlsx', 'a/f.xlsx', :t, :t, 'accepted', 1,0,0,0)"),
            {"t": now})
    assert "snapshot" not in inspect(engine).get_table_names()
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT reporter_code, period, file_name FROM submissions")).all()
        receipts = conn.execute(text("SELECT path, receipt_written_at IS NOT NULL FROM submission")).all()
    assert rows == [("econ", "2021-10", "f.xlsx")]
    # loaded before receipts were committed with the load: its receipt was written then, not pending now
    assert [tuple(r) for r in receipts] == [("econ/f.xlsx", True)]
    engine.dispose()


def test_catalog_sync_is_idempotent(warehouse_url, catalog):
    engine = make_engine(warehouse_url)
    upgrade(engine)
    first = sync_catalog(engine, catalog)
    assert first.inserted["indicator"] == 22 and first.inserted["reporter"] == 18
    second = sync_catalog(engine, catalog)
    assert not second.changed
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM indicator")).scalar_one() == 22
        unit = conn.execute(text("SELECT unit FROM indicator WHERE code='investment_funds'")).scalar_one()
    assert unit == "亿元"
    engine.dispose()


def test_current_value_is_unique_per_reporter_period_indicator(runtime):
    now = dt.datetime(2021, 11, 3, tzinfo=dt.timezone.utc)
    with runtime.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO submission (id, sha256, inbox_folder, reporter_code, file_name, archive_path, "
            "received_at, processed_at, status, imported, updated, unchanged, rejected) "
            "VALUES (1, 'x', 'econ', 'econ', 'f', 'a', :t, :t, 'accepted', 0,0,0,0)"), {"t": now})
        conn.execute(text(
            "INSERT INTO value_history (reporter_code, period, indicator_code, ytd_value, submission_id, valid_from)"
            " VALUES ('econ', '2021-10', 'trade_sales', 1, 1, :t)"), {"t": now})
    with pytest.raises(DBAPIError):
        with runtime.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO value_history (reporter_code, period, indicator_code, ytd_value, submission_id, "
                "valid_from) VALUES ('econ', '2021-10', 'trade_sales', 2, 1, :t)"), {"t": now})


def test_published_snapshot_rows_refuse_update_and_delete(runtime):
    now = dt.datetime(2021, 11, 10, tzinfo=dt.timezone.utc)
    with runtime.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO snapshot (id, township_code, period, vintage, status, period_label, published_at, "
            "content_hash) VALUES (1, 'taoyuan', '2021-10', 1, 'preliminary', '1-10月', :t, 'h')"), {"t": now})
    for stmt in ("UPDATE snapshot SET status='final' WHERE id=1", "DELETE FROM snapshot WHERE id=1"):
        with pytest.raises(DBAPIError, match="immutable"):
            with runtime.engine.begin() as conn:
                conn.execute(text(stmt))
    with runtime.engine.connect() as conn:
        assert conn.execute(text("SELECT status FROM snapshot WHERE id=1")).scalar_one() == "preliminary"


def test_a_vintage_column_of_a_type_the_bulk_writer_does_not_know_is_refused_not_written_as_text():
    from sqlalchemy import Column, DateTime, MetaData, Table

    from warehouse.publish_io import _kind

    column = Table("snapshot_value_x", MetaData(), Column("checked_at", DateTime)).c.checked_at
    with pytest.raises(TypeError, match="snapshot_value_x.checked_at: no COPY type for datetime"):
        _kind(column)
