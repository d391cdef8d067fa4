"""Opening the pieces a job needs: settings, catalog and an up-to-date warehouse, in one call."""

from __future__ import annotations

import threading
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

    def __reduce__(self) -> tuple:
        # Sent to another process (a process pool, a Dask worker: townships publish there in parallel), a runtime
        # travels as its settings and is reopened there once per process; an engine cannot be pickled.
        return (reopen_runtime, (self.settings,))


_REOPENED: dict[str, Runtime] = {}
_REOPEN_LOCK = threading.Lock()


def reopen_runtime(settings: Settings) -> Runtime:
    """The runtime of these settings in this process (opened once): catalog and engine, without migrating or
    syncing, which the process that sent it has done."""
    key = settings.model_dump_json()
    with _REOPEN_LOCK:
        if key not in _REOPENED:
            _REOPENED[key] = Runtime(settings, load_catalog_cached(settings.catalog_dir, settings.cache_dir),
                                     make_engine(settings.warehouse_url))
        return _REOPENED[key]


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
