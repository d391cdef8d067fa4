"""A warehouse that is behind (first schema revision, catalog rows older than the catalog files), and
what a read-only path must leave as it found it: the revision, the tables and every catalog row."""

from __future__ import annotations

from sqlalchemy import Engine, inspect, text

from township.catalog import load_catalog
from township.settings import DEFAULT_CATALOG_DIR
from warehouse.catalog_sync import sync_catalog
from warehouse.engine import current_revision, make_engine, upgrade

CATALOG_TABLES = ["org_unit", "unit", "indicator", "reporter", "target"]


def state(engine: Engine) -> tuple:
    with engine.connect() as conn:
        rows = {t: sorted(map(tuple, conn.execute(text(f"SELECT * FROM {t}")).all()), key=repr)
                for t in CATALOG_TABLES}
    return current_revision(engine), sorted(inspect(engine).get_table_names()), rows


def make_behind(url: str) -> tuple[Engine, tuple]:
    """Migrate `url` to revision 0001 only and sync the catalog but for V10; returns the engine and its state."""
    engine = make_engine(url)
    upgrade(engine, "0001")
    sync_catalog(engine, load_catalog(DEFAULT_CATALOG_DIR))
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM reporter WHERE code = 'V10'"))
    before = state(engine)
    assert before[0] == "0001"
    return engine, before
