"""Reading never changes the warehouse: status and check leave a warehouse that is behind (older schema
revision, older catalog rows) exactly as they found it. Only `township init`, intake, publish and
rebuild migrate and sync the catalog. The deployed reminder: tests/system/test_read_only_reminder.py."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cli.app import app
from tests.read_only_helpers import make_behind, state
from tests.review_helpers import csv_form


@pytest.fixture
def behind(warehouse_url, monkeypatch):
    from township.settings import get_settings

    engine, before = make_behind(warehouse_url)
    monkeypatch.setenv("TOWNSHIP_WAREHOUSE_URL", warehouse_url)
    get_settings.cache_clear()
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
