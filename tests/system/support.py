"""Helpers for the system tests: the test inbox, and waiting for and reading flow runs through the Prefect API."""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from prefect import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, LogFilter, LogFilterFlowRunId
from prefect.client.schemas.objects import Artifact, FlowRun
from prefect.client.schemas.sorting import LogSort

from tasks.templates import form_rows, write_form
from township.catalog import load_catalog
from township.periods import Period
from township.settings import DEFAULT_CATALOG_DIR

ROOT = Path(__file__).resolve().parents[2]
TZ = ZoneInfo("Asia/Shanghai")
OCT = Period(2021, 10)
RUN_TIMEOUT = 240  # a guard against a hung run, not a performance assertion

# What the test inbox holds: reporter -> {indicator: (本月, 1-本月累计)}, in the catalog's units.
FORMS = {
    "econ": {"fixed_asset_investment": (5200, 41000), "industrial_output": (9800, 80000),
             "services_revenue": (3600, 30000), "trade_sales": (4100, 38000)},
    "invest": {"investment_funds": (1.2, 9.5), "investment_funds_yrd": (0.4, 3.1), "projects_signed": (3, 20)},
    "V01": {"village_collective_income": (22, 190), "coop_households": (130, None)},
    "V02": {"village_collective_income": (18, 160), "coop_households": (95, None)},
}


def write_test_inbox(inbox: Path) -> list[Path]:
    """Real 报表 for 2021-10, received on 2021-11-03 10:00 local (before the deadline)."""
    catalog = load_catalog(DEFAULT_CATALOG_DIR)
    received = dt.datetime(2021, 11, 3, 10, 0, tzinfo=TZ).timestamp()
    paths = []
    for reporter, values in FORMS.items():
        rows = form_rows(catalog, reporter)
        for row in rows:
            row.month, row.ytd = values.get(row.code, (None, None))
        path = write_form(inbox / reporter / f"{reporter}-2021年10月.xlsx", catalog, reporter, OCT, rows,
                          reported_on=dt.date(2021, 11, 3))
        os.utime(path, (received, received))  # intake takes the receipt time from the mtime
        paths.append(path)
    return paths


def wait_for(run_ids: list[UUID], timeout: float = RUN_TIMEOUT) -> list[FlowRun]:
    """Poll until every run is final; on a hang, fail with each run's state and its last log lines."""
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            runs = [client.read_flow_run(i) for i in run_ids]
            if all(r.state and r.state.is_final() for r in runs):
                return runs
            if time.monotonic() > deadline:
                states = "; ".join(f"{r.name}: {r.state.name if r.state else '?'}\n{run_logs(r.id)[-2000:]}"
                                   for r in runs)
                pytest.fail(f"flow runs not finished after {timeout:.0f}s: {states}")
            time.sleep(1)


def run_logs(run_id: UUID) -> str:
    with get_client(sync_client=True) as client:
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])),
                                sort=LogSort.TIMESTAMP_ASC, limit=200)
    return "\n".join(f"{log.level} {log.message}" for log in logs)


def logs_once_written(run_id: UUID, needle: str, timeout: float = 60) -> str:
    """The run's logs, once `needle` is among them: the server stores shipped logs a moment after the run ends.
    Returns whatever is there after `timeout`, for the caller's assertion to show."""
    deadline = time.monotonic() + timeout
    while needle not in (logs := run_logs(run_id)) and time.monotonic() < deadline:
        time.sleep(1)
    return logs


def artifacts_of(run_id: UUID) -> dict[str, Artifact]:
    """The run's artifacts by key (or by type, for the unkeyed ones such as links)."""
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id])))
    return {a.key or f"{a.type}:{a.id}": a for a in found}


def assert_completed(run: FlowRun) -> None:
    assert run.state is not None and run.state.is_completed(), (
        f"{run.name} ended {run.state.name if run.state else '?'}: {run.state.message if run.state else ''}\n"
        f"{run_logs(run.id)[-3000:]}")


def wait_for_state(run_id: UUID, name: str, timeout: float = RUN_TIMEOUT) -> FlowRun:
    """Poll until the run is in the state called `name` (e.g. "Suspended"); fail with its logs otherwise."""
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            run = client.read_flow_run(run_id)
            if run.state and run.state.name == name:
                return run
            if (run.state and run.state.is_final()) or time.monotonic() > deadline:
                pytest.fail(f"{run.name} is {run.state.name if run.state else '?'}, not {name}: "
                            f"{run.state.message if run.state else ''}\n{run_logs(run_id)[-3000:]}")
            time.sleep(1)


def loaded_warehouse(base: Path) -> dict[str, str]:
    """A fresh warehouse (SQLite) holding the test inbox's October, and an empty publish folder: the
    parameters of a publish run that nothing else touches."""
    from tasks.intake_pipeline import run_intake
    from warehouse.runtime import open_runtime

    dirs = {name: base / name for name in ("inbox", "archive", "published")}
    for d in dirs.values():
        d.mkdir(parents=True)
    write_test_inbox(dirs["inbox"])
    url = f"sqlite:///{base / 'warehouse.db'}"
    rt = open_runtime(warehouse_url=url, inbox=str(dirs["inbox"]), archive=str(dirs["archive"]),
                      publish_dir=str(dirs["published"]))
    run_intake(rt, today=Period(2021, 11))
    rt.engine.dispose()
    return {"warehouse_url": url, "publish_dir": str(dirs["published"])}

