"""One real Prefect stack for the whole session: `prefect server start`, the `township` work pool,
`prefect deploy --all` of the repo's prefect.yaml, and a process worker; the same code `make serve` runs.
On it, the runs the tests look at: two overlapping intakes of a test inbox, then a publish and a reminder.

Package-scoped: the stack stops (and this process's client points back where it did) once the system tests
are done, so the rest of the suite runs without it. Logs of every part go to test-output/system/logs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.settings import PREFECT_API_URL, temporary_settings

from scripts.serve import PrefectStack, free_port
from tests.prefect_drain import drain_prefect_workers
from tests.system.support import ROOT, wait_for, write_test_inbox

OUTPUT = ROOT / "test-output" / "system"


@pytest.fixture(scope="package")
def prefect_stack(tmp_path_factory, prefect_database):
    """The stack, with this test process's Prefect client pointed at it."""
    logs = OUTPUT / "logs"
    for old in logs.glob("*.log"):
        old.unlink()
    stack = PrefectStack(
        home=tmp_path_factory.mktemp("prefect-home"),
        database=prefect_database,
        port=free_port(),
        logs=logs,
        extra_env={
            # Quicker turns than production's defaults, so the suite stays short on two cores.
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            "PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS": "2",
            # The tests trigger every run themselves. With the scheduler on, prefect.yaml's intake schedule
            # (every 30 min, 08:00-20:00 Shanghai) would start runs in the middle of the suite, on the default
            # data/ folders of the checkout.
            "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
            # The browser test's selectors are written for the UI Prefect serves by default at /runs (V1).
            "PREFECT_SERVER_UI_V2_ENABLED": "false",
        },
    )
    try:
        stack.up(workers=1, new_ports=3)  # free_port()'s port may be taken before the server binds it
        with temporary_settings(updates={PREFECT_API_URL: stack.api_url}):
            yield stack
            drain_prefect_workers()  # before the server goes: see tests/prefect_drain.py
    finally:
        stack.down()


@pytest.fixture(scope="package")
def system_dirs(tmp_path_factory) -> dict[str, Path]:
    """Inbox (with real forms), archive, publish folder and SQLite warehouse of the system runs."""
    base = tmp_path_factory.mktemp("system")
    dirs = {name: base / name for name in ("inbox", "archive", "published")}
    for d in dirs.values():
        d.mkdir()
    dirs["warehouse"] = base / "warehouse.db"
    write_test_inbox(dirs["inbox"])
    return dirs


@pytest.fixture(scope="package")
def warehouse_url(system_dirs) -> str:
    return f"sqlite:///{system_dirs['warehouse']}"


@pytest.fixture(scope="package")
def intake_runs(prefect_stack, system_dirs, warehouse_url) -> list[FlowRun]:
    """Two intake runs of the same inbox, triggered together through the API; both waited for."""
    params = {"inbox": str(system_dirs["inbox"]), "archive": str(system_dirs["archive"]),
              "warehouse_url": warehouse_url, "publish_dir": str(system_dirs["published"])}
    runs = [run_deployment("intake/intake", parameters=params, timeout=0) for _ in range(2)]
    return wait_for([r.id for r in runs])


@pytest.fixture(scope="package")
def publish_run(intake_runs, system_dirs, warehouse_url) -> FlowRun:
    # Signed by a parameter, as a script would: this run does not wait for the UI (tests/system/test_signoff.py does).
    params = {"period": "2021-10", "warehouse_url": warehouse_url, "publish_dir": str(system_dirs["published"]),
              "sign_off": "系统测试审核人"}
    run = run_deployment("publish-monthly/publish-monthly", parameters=params, timeout=0)
    return wait_for([run.id])[0]


@pytest.fixture(scope="package")
def reminder_run(intake_runs, warehouse_url) -> FlowRun:
    params = {"period": "2021-10", "warehouse_url": warehouse_url}
    run = run_deployment("completeness-reminder/completeness-reminder", parameters=params, timeout=0)
    return wait_for([run.id])[0]
