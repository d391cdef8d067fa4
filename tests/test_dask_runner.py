"""Reading on a Dask cluster: with TOWNSHIP_DASK_ADDRESS set, the intake flow's read tasks run on the cluster's
worker processes (checked on the workers themselves), and the warehouse holds the forms' values all the same."""

from __future__ import annotations

import os

import pytest
from distributed import Client, LocalCluster
from prefect import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterId,
    TaskRunFilter,
    TaskRunFilterName,
)
from prefect_dask import DaskTaskRunner
from sqlalchemy import create_engine, text

import tasks.intake_pipeline
from flows.intake import intake
from flows.runners import task_runner
from tests.system.support import FORMS, write_test_inbox

pytestmark = pytest.mark.system  # starts a Prefect server and a Dask cluster


@pytest.fixture
def dask_client(prefect_api, monkeypatch):
    """A local cluster of two worker processes, named to the flows through TOWNSHIP_DASK_ADDRESS."""
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(cluster)
    monkeypatch.setenv("TOWNSHIP_DASK_ADDRESS", cluster.scheduler_address)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def _executed_on_workers(client: Client) -> dict[str, tuple[int, int]]:
    """worker address -> (its process id, how many tasks it executed), asked of each worker."""
    return client.run(lambda dask_worker: (os.getpid(), dask_worker.state.executed_count))


def test_intake_reads_on_the_dask_cluster(dask_client, tmp_path, monkeypatch):
    inbox, archive = tmp_path / "inbox", tmp_path / "archive"
    write_test_inbox(inbox)
    warehouse_url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    # One file per read task, so that the cluster gets several tasks to share out (a province has 160 chunks).
    monkeypatch.setattr(tasks.intake_pipeline, "READ_CHUNK", 1)

    runner = task_runner()
    assert isinstance(runner, DaskTaskRunner)
    before = _executed_on_workers(dask_client)
    state = intake.with_options(task_runner=runner)(inbox=str(inbox), archive=str(archive),
                                                    warehouse_url=warehouse_url,
                                                    publish_dir=str(tmp_path / "published"), return_state=True)
    summary = state.result()

    assert summary["files_new"] == len(FORMS)
    assert summary["accepted"] + summary["accepted_with_warnings"] == len(FORMS)
    assert summary["imported"] == sum(len(v) for v in FORMS.values())

    # The reads ran in the cluster's worker processes, not in this one.
    after = _executed_on_workers(dask_client)
    executed = {w: after[w][1] - before[w][1] for w in after}
    assert sum(executed.values()) == len(FORMS), executed
    assert os.getpid() not in {pid for pid, _ in after.values()}

    # And Prefect saw them: one completed "read forms" task run per file, in this run (the server is shared).
    with get_client(sync_client=True) as client:
        reads = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id])),
            task_run_filter=TaskRunFilter(name=TaskRunFilterName(like_="read forms")))
    assert len(reads) == len(FORMS)
    assert all(r.state is not None and r.state.is_completed() for r in reads)

    engine = create_engine(warehouse_url)
    try:
        with engine.connect() as conn:
            current = {(r.reporter_code, r.indicator_code): (r.month_value, r.ytd_value) for r in conn.execute(
                text("SELECT reporter_code, indicator_code, month_value, ytd_value FROM indicator_values"))}
    finally:
        engine.dispose()
    expected = {(rep, ind): vals for rep, inds in FORMS.items() for ind, vals in inds.items()}
    assert current.keys() == expected.keys()
    for key, (month, ytd) in expected.items():
        assert current[key][0] == pytest.approx(month), key
        if ytd is not None:  # a stock's ytd_value is its month-end level
            assert current[key][1] == pytest.approx(ytd), key
