"""Opening the pieces a job needs: settings, catalog and an up-to-date warehouse, in one call."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from township.catalog import Catalog, load_catalog_cached
from township.settings import Settings, settings_with
from warehouse.catalog_sync import SyncCounts, sync_catalog
from warehouse.engine import make_engine, schema_lock, upgrade


@dataclass
class Runtime:
    settings: Settings
    catalog: Catalog
    engine: Engine
    sync: SyncCounts | None = None


def open_runtime(migrate: bool = True, **overrides: str | None) -> Runtime:
    """Settings (env + overrides), the validated catalog, and the warehouse upgraded and synced."""
    settings = settings_with(**overrides)
    catalog = load_catalog_cached(settings.catalog_dir, settings.cache_dir)
    engine = make_engine(settings.warehouse_url)
    sync = None
    if migrate:
        with schema_lock(engine):
            upgrade(engine)
            sync = sync_catalog(engine, catalog)
    return Runtime(settings, catalog, engine, sync)
