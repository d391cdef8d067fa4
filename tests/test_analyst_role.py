"""On PostgreSQL, `township init` creates an `analyst` role that can read the views and nothing else."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from cli.app import app
from warehouse.engine import make_engine


@pytest.fixture
def pg_url(postgres_admin_url):
    from tests.conftest import _new_pg_database

    return _new_pg_database(postgres_admin_url)


def test_init_twice_changes_nothing_and_analyst_can_only_read_views(pg_url):
    runner = CliRunner()
    first = runner.invoke(app, ["init", "--warehouse", pg_url])
    assert first.exit_code == 0, first.output
    assert "indicator: 22 inserted" in first.output
    second = runner.invoke(app, ["init", "--warehouse", pg_url])
    assert second.exit_code == 0 and "catalog already up to date" in second.output
    engine = make_engine(pg_url)
    with engine.connect() as conn:
        conn.execute(text("SET ROLE analyst"))
        assert conn.execute(text("SELECT COUNT(*) FROM monthly_indicators")).scalar_one() == 0
        assert conn.execute(text("SELECT COUNT(*) FROM submissions")).scalar_one() == 0
    for stmt in ("SELECT * FROM value_history",  # tables are not for analysts
                 "INSERT INTO reporter (code, township_code, kind, name) VALUES ('x', 'taoyuan', 'econ', 'x')",
                 "DELETE FROM indicator", "CREATE TABLE mine (x int)",
                 "CREATE TEMP TABLE mine (x int)"):  # read-only: no temp tables either
        with engine.connect() as conn:
            conn.execute(text("SET ROLE analyst"))
            with pytest.raises(DBAPIError, match="permission denied"):
                conn.execute(text(stmt))
            conn.rollback()
    engine.dispose()
