"""Intake split across workers: two worker processes on the `township` pool, each serving its own queue, run
partitions '1/2' and '2/2' of a four-township county at once against one PostgreSQL warehouse, and every
file is loaded exactly once. Then both partitions and an unpartitioned intake at once: still no double load.

This module runs its own server and workers (a worker that polls every queue would take both partitions). Its
server is started on a port another process holds, as happens when free_port()'s port is taken before the server
binds it: the stack comes up on a new free port.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import urllib.request
import zlib
from pathlib import Path

import pytest
import yaml
from prefect import get_client
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.deployments import run_deployment
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.utilities.templating import apply_values
from sqlalchemy import create_engine, text

from bench.generate import write_catalog
from flows.deploy_steps import this_python
from flows.intake import intake
from scripts.serve import WORK_POOL, PrefectStack, free_port
from tasks.templates import form_rows, write_form
from tests.conftest import _new_pg_database
from tests.system.support import OCT, ROOT, TZ, artifacts_of, assert_completed, wait_for
from township.catalog import Catalog, load_catalog

# One worker runs both tests, so the module's stack (a server and two workers) starts once.
pytestmark = [pytest.mark.system, pytest.mark.xdist_group("partitions")]

OUTPUT = ROOT / "test-output" / "system"
TOWNSHIPS = 4  # by crc32 of the code, t0001-t0003 fall in bucket 1 of 2 and t0004 in bucket 2
OFFICES = ("econ", "V01")  # the forms each township sends: an office and a village
PARTITIONS = {"1/2": "partition-1", "2/2": "partition-2"}  # partition -> its queue (and worker)
ACCEPTED = {"accepted", "accepted_with_warnings"}


@pytest.fixture(scope="module")
def county_dir(tmp_path_factory) -> Path:
    """The catalog folder of a synthetic county (the benchmark's), given to the workers as TOWNSHIP_CATALOG_DIR."""
    folder = tmp_path_factory.mktemp("county-catalog")
    write_catalog(folder, TOWNSHIPS)
    return folder


@pytest.fixture(scope="module")
def county(county_dir) -> Catalog:
    return load_catalog(county_dir)


@pytest.fixture(scope="module")
def taken_port():
    """A port another process listens on while the partitions' server starts."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", free_port()))
        taken.listen()
        yield taken.getsockname()[1]


@pytest.fixture(scope="module")
def partition_stack(tmp_path_factory, county_dir, prefect_database, taken_port):
    """A server (asked for the taken port first), the `township` pool, one worker per partition queue, and a
    deployment per partition (plus an unpartitioned one), all of the same entrypoint flows/intake.py:intake."""
    logs = OUTPUT / "logs" / "partitions"
    for old in logs.glob("*.log"):
        old.unlink()
    stack = PrefectStack(
        home=tmp_path_factory.mktemp("prefect-home-partitions"),
        database=prefect_database,
        port=taken_port,
        logs=logs,
        extra_env={"PREFECT_WORKER_QUERY_SECONDS": "1", "TOWNSHIP_CATALOG_DIR": str(county_dir)},
    )
    try:
        stack.start_server(new_ports=3)
        stack.create_work_pool()
        for n, queue in enumerate(PARTITIONS.values(), start=1):
            stack.start_worker(f"partition-worker-{n}", queue=queue)
        with temporary_settings(updates={PREFECT_API_URL: stack.api_url}):
            flow = intake.from_source(str(ROOT), "flows/intake.py:intake")
            # prefect.yaml's job variables (the engine started directly), with this checkout's Python
            job_variables = apply_values(yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))[
                "definitions"]["work_pool"]["job_variables"], {"python": this_python()})
            for partition, queue in PARTITIONS.items():
                flow.deploy(f"intake-{queue}", work_pool_name=WORK_POOL, work_queue_name=queue,
                            job_variables=job_variables, parameters={"partition": partition}, concurrency_limit=1,
                            tags=["township", "intake"], build=False, push=False, print_next_steps=False)
            # The whole inbox, served by the first partition's worker beside its own partition.
            flow.deploy("intake-all", work_pool_name=WORK_POOL, work_queue_name=PARTITIONS["1/2"],
                        job_variables=job_variables, concurrency_limit=1, tags=["township", "intake"], build=False,
                        push=False, print_next_steps=False)
            yield stack
    finally:
        stack.down()


def test_a_server_whose_port_another_process_took_started_on_a_new_free_port(partition_stack, taken_port):
    assert partition_stack.port != taken_port
    with urllib.request.urlopen(f"{partition_stack.api_url}/health", timeout=10) as r:
        assert r.status == 200
    assert partition_stack.alive() == ["server", "partition-worker-1", "partition-worker-2"]


def bucket(township: str) -> str:
    return f"{zlib.crc32(township.encode()) % 2 + 1}/2"


def write_county_inbox(inbox: Path, catalog: Catalog) -> dict[tuple[str, str], tuple[int, int | None]]:
    """Real 报表 for 2021-10 from an office and a village of every township; returns (reporter, indicator) ->
    (本月, 1-本月累计) as written. 其中 items are kept below every total; a stock has no 累计."""
    received = dt.datetime(2021, 11, 3, 10, 0, tzinfo=TZ).timestamp()
    written, indicators = {}, catalog.indicator_by_code
    for township in catalog.townships:
        for office in OFFICES:
            reporter = f"{township.code}_{office}"
            rows = form_rows(catalog, reporter)
            for i, row in enumerate(rows):
                ind = indicators[row.code]
                row.month = 1 if ind.parent else 100 + i
                row.ytd = None if ind.measure == "stock" else row.month * 10
                written[(reporter, row.code)] = (row.month, row.ytd)
            path = write_form(inbox / reporter / f"{reporter}-2021年10月.xlsx", catalog, reporter, OCT, rows,
                              reported_on=dt.date(2021, 11, 3))
            os.utime(path, (received, received))
    return written


@pytest.fixture
def intake_dirs(tmp_path, county, postgres_admin_url) -> dict:
    """A fresh PostgreSQL warehouse, an inbox of the county's forms and an empty archive."""
    inbox, archive = tmp_path / "inbox", tmp_path / "archive"
    written = write_county_inbox(inbox, county)
    return {"params": {"inbox": str(inbox), "archive": str(archive), "publish_dir": str(tmp_path / "published"),
                       "warehouse_url": _new_pg_database(postgres_admin_url)},
            "written": written}


def trigger_together(deployments: list[str], params: dict) -> list[FlowRun]:
    runs = [run_deployment(f"intake/{name}", parameters=params, timeout=0) for name in deployments]
    done = wait_for([r.id for r in runs])
    for run in done:
        assert_completed(run)
    return done


def worker_span(run: FlowRun) -> tuple[dt.datetime, dt.datetime]:
    """From the moment the worker took the run (Pending: its process starting) to the run's end.

    Not Running: on two cores a flow-run process spends ~10 s importing and the flow then ~4 s on these
    few forms, so two runs' Running spans can miss each other by a second of start-up jitter."""
    with get_client(sync_client=True) as client:
        states = client.read_flow_run_states(run.id)
    taken = min(s.timestamp for s in states if s.type == StateType.PENDING)
    return taken, run.end_time


def accepted_receipts(run: FlowRun) -> list[dict]:
    table = artifacts_of(run.id).get("intake-receipts")
    return [r for r in json.loads(table.data) if r["status"] in ACCEPTED] if table else []


def assert_loaded_exactly_once(url: str, written: dict) -> None:
    """What an operator would query: one submission per file, one history row per value, the forms' values."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            subs = conn.execute(text("SELECT reporter_code, sha256, status FROM submissions")).all()
            history = conn.execute(text("SELECT reporter_code, indicator_code, COUNT(*) FROM value_history "
                                        "GROUP BY reporter_code, indicator_code HAVING COUNT(*) > 1")).all()
            current = {(r.reporter_code, r.indicator_code): (r.month_value, r.ytd_value) for r in conn.execute(
                text("SELECT reporter_code, indicator_code, month_value, ytd_value FROM indicator_values "
                     "WHERE period = '2021-10'"))}
    finally:
        engine.dispose()
    reporters = sorted({rep for rep, _ in written})
    assert sorted(s.reporter_code for s in subs) == reporters
    assert len({s.sha256 for s in subs}) == len(subs) and {s.status for s in subs} <= ACCEPTED
    assert history == []  # no value loaded twice, no phantom revision
    assert current.keys() == written.keys()
    for key, (month, ytd) in written.items():
        assert current[key][0] == pytest.approx(month), key
        if ytd is not None:  # a stock's ytd_value is its month-end level
            assert current[key][1] == pytest.approx(ytd), key


def test_two_partitions_run_at_once_on_two_workers(partition_stack, intake_dirs, county):
    assert {bucket(t.code) for t in county.townships} == set(PARTITIONS)  # each partition has work
    runs = trigger_together([f"intake-{q}" for q in PARTITIONS.values()], intake_dirs["params"])

    # Each partition's run went to its own worker process and took only its own townships' files.
    for n, (run, partition) in enumerate(zip(runs, PARTITIONS, strict=True), start=1):
        assert run.parameters["partition"] == partition
        assert run.labels["prefect.worker.name"] == f"partition-worker-{n}"
        reporters = {rep for rep, _ in intake_dirs["written"]}
        assert sorted(r["reporter"] for r in accepted_receipts(run)) == sorted(
            rep for rep in reporters if bucket(county.reporter_by_code[rep].township) == partition)
    # At work at the same time: each was handed to its worker's process before the other run ended.
    (start_1, end_1), (start_2, end_2) = (worker_span(r) for r in runs)
    assert start_1 < end_2 and start_2 < end_1, [start_1, end_1, start_2, end_2]

    assert_loaded_exactly_once(intake_dirs["params"]["warehouse_url"], intake_dirs["written"])


def test_partitions_and_a_whole_inbox_run_at_once_load_each_file_once(partition_stack, intake_dirs):
    runs = trigger_together([*(f"intake-{q}" for q in PARTITIONS.values()), "intake-all"],
                            intake_dirs["params"])
    accepted = sorted(r["reporter"] for run in runs for r in accepted_receipts(run))
    assert accepted == sorted({rep for rep, _ in intake_dirs["written"]})  # each file accepted by one run
    assert_loaded_exactly_once(intake_dirs["params"]["warehouse_url"], intake_dirs["written"])
