"""Shared fixtures: every warehouse test runs on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import prefect.main  # noqa: F401 - sets up Prefect's logging now: its console handler keeps the stderr of that moment (the real one, not a CliRunner's that is closed after the call)
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.pg_server import start_postgres

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
# as `make test` exports it: on two busy cores Prefect's temporary server can take more than its default 20 s
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
# the parsed-catalog cache of this run, not the user's ~/.cache (subprocess tests with their own HOME get theirs)
os.environ.setdefault("TOWNSHIP_CACHE_DIR", tempfile.mkdtemp(prefix="township-cache-"))

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "test-output"


@pytest.fixture(scope="session")
def postgres_admin_url():
    """A PostgreSQL server for the whole run: TOWNSHIP_TEST_POSTGRES_URL, or one started here.
    If neither works the tests fail: they never silently skip PostgreSQL."""
    url = os.environ.get("TOWNSHIP_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    server = start_postgres()
    try:
        yield server.url
    finally:
        server.stop()


def _new_pg_database(admin_url: str) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse_url(request, tmp_path):
    """An empty warehouse database (not yet migrated), on each backend in turn."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'warehouse.db'}"
    return _new_pg_database(request.getfixturevalue("postgres_admin_url"))


@pytest.fixture
def catalog():
    from township.catalog import load_catalog

    from township.settings import DEFAULT_CATALOG_DIR

    return load_catalog(DEFAULT_CATALOG_DIR)


@pytest.fixture
def runtime(warehouse_url, tmp_path, monkeypatch):
    """A migrated warehouse with the default catalog, and inbox/archive/publish folders in tmp."""
    from warehouse.runtime import open_runtime
    from township.settings import get_settings

    for name, sub in [("INBOX", "inbox"), ("ARCHIVE", "archive"), ("PUBLISH_DIR", "published")]:
        (tmp_path / sub).mkdir(exist_ok=True)
        monkeypatch.setenv(f"TOWNSHIP_{name}", str(tmp_path / sub))
    monkeypatch.setenv("TOWNSHIP_WAREHOUSE_URL", warehouse_url)
    get_settings.cache_clear()
    rt = open_runtime()
    yield rt
    rt.engine.dispose()
    get_settings.cache_clear()


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the marker to group the tests
def pytest_collection_modifyitems(config, items):  # noqa: ANN001, ARG001
    """Under `pytest -n N --dist loadgroup` (make test), the tests on the package's one Prefect stack (those that
    use the `prefect_stack` fixture, directly or through another) go to one worker together, so the stack starts
    once; every other test, system tests with their own servers included, is spread over the workers."""
    for item in items:
        if "prefect_stack" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("prefect-stack"))
