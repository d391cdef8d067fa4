"""The deployed completeness reminder only reads: run through its deployment by the stack's worker on a
warehouse that is behind, it chases the missing reporters and leaves revision and catalog rows alone."""

from __future__ import annotations

import pytest
from prefect.deployments import run_deployment

from tests.conftest import _new_pg_database
from tests.read_only_helpers import make_behind, state
from tests.system.support import artifacts_of, assert_completed, wait_for

pytestmark = pytest.mark.system


@pytest.fixture(params=["sqlite", "postgresql"])
def behind_url(request, tmp_path) -> str:
    """Not the package's `warehouse_url` (the system runs' own, at head): a warehouse of this test's."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'behind.db'}"
    return _new_pg_database(request.getfixturevalue("postgres_admin_url"))


def test_the_deployed_reminder_leaves_a_warehouse_that_is_behind_unchanged(prefect_stack, behind_url):
    engine, before = make_behind(behind_url)
    try:
        run = run_deployment("completeness-reminder/completeness-reminder",
                             parameters={"period": "2021-10", "warehouse_url": behind_url}, timeout=0)
        (done,) = wait_for([run.id])
        assert_completed(done)
        assert "| econ | 经济发展办 |" in artifacts_of(done.id)["completeness-taoyuan-2021-10"].data
        assert state(engine) == before
    finally:
        engine.dispose()
