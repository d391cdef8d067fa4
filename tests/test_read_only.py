"""Reading never changes the warehouse: status, check and the completeness reminder leave a warehouse
that is behind (older schema revision, older catalog rows) exactly as they found it. Only `township init`,
intake, publish and rebuild migrate and sync the catalog."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from cli.app import app
from tests.review_helpers import csv_form
from township.catalog import load_catalog
from township.settings import DEFAULT_CATALOG_DIR
from warehouse.catalog_sync import sync_catalog
from warehouse.engine import current_revision, make_engine, upgrade

ROOT = Path(__file__).resolve().parent.parent
CATALOG_TABLES = ["org_unit", "unit", "indicator", "reporter", "target"]


def state(engine) -> tuple:  # noqa: ANN001
    """The schema revision, the tables and every catalog row: what a read-only path must not change."""
    from sqlalchemy import inspect

    with engine.connect() as conn:
        rows = {t: sorted(map(tuple, conn.execute(text(f"SELECT * FROM {t}")).all()), key=repr)
                for t in CATALOG_TABLES}
    return current_revision(engine), sorted(inspect(engine).get_table_names()), rows


@pytest.fixture
def behind(warehouse_url, monkeypatch):
    """A warehouse at the first revision whose catalog rows lag the catalog files (V10 not yet synced)."""
    engine = make_engine(warehouse_url)
    upgrade(engine, "0001")
    sync_catalog(engine, load_catalog(DEFAULT_CATALOG_DIR))
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM reporter WHERE code = 'V10'"))
    monkeypatch.setenv("TOWNSHIP_WAREHOUSE_URL", warehouse_url)
    from township.settings import get_settings

    get_settings.cache_clear()
    before = state(engine)
    assert before[0] == "0001"
    yield engine, before
    engine.dispose()
    get_settings.cache_clear()


def test_status_leaves_a_warehouse_that_is_behind_unchanged(behind):
    engine, before = behind
    result = CliRunner().invoke(app, ["status", "--period", "2021-10"])
    assert result.exit_code == 0, result.output
    assert "missing" in result.output  # it did read: nobody has reported
    assert state(engine) == before


def test_check_leaves_a_warehouse_that_is_behind_unchanged(behind, tmp_path):
    engine, before = behind
    form = tmp_path / "finance" / "oct.csv"
    form.parent.mkdir()
    form.write_bytes(csv_form([("fiscal_revenue", 600, 5400)], reporter="finance"))
    result = CliRunner().invoke(app, ["check", str(form)])
    assert result.exit_code == 0, result.output
    assert state(engine) == before


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from scripts.serve import PrefectStack, free_port
    from tests.prefect_drain import drain_prefect_workers

    stack = PrefectStack(home=tmp_path_factory.mktemp("prefect-home"), port=free_port(),
                         logs=ROOT / "test-output" / "read-only" / "logs")
    try:
        stack.start_server()
        with temporary_settings(updates={PREFECT_API_URL: stack.api_url}):
            yield stack
            drain_prefect_workers()  # before the server goes: see tests/prefect_drain.py
    finally:
        stack.down()


@pytest.mark.system
def test_the_reminder_leaves_a_warehouse_that_is_behind_unchanged(behind, prefect_server):
    from flows.reminder import completeness_reminder

    engine, before = behind
    out = completeness_reminder(period="2021-10", township="taoyuan")
    assert "econ" in out["townships"]["taoyuan"]["missing"]
    assert state(engine) == before
