"""The deployments of prefect.yaml, run for real: server, work pool, `prefect deploy --all`, a process worker.

Checked as an operator would: through the Prefect API (state, run name, tags, artifacts) and through SQL
(the warehouse holds the forms' values, each once, even though two intakes were triggered together).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from prefect import get_client
from sqlalchemy import create_engine, text

from tests.system.support import FORMS, artifacts_of, assert_completed, logs_once_written

pytestmark = pytest.mark.system

ACCEPTED = {"accepted", "accepted_with_warnings"}


def _rows(url: str, sql: str, **params) -> list[dict]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(text(sql), params)]
    finally:
        engine.dispose()


def test_two_overlapping_intake_runs_both_complete(intake_runs):
    for run in intake_runs:
        assert_completed(run)
        assert run.name.startswith("intake 20"), run.name  # `intake 2021-11-03 09:00`: says what ran
        assert {"township", "intake"} <= set(run.tags)


def test_each_run_is_the_engine_started_directly_with_the_deploying_python(intake_runs):
    """prefect.yaml records the Python that deployed (the checkout's virtualenv) as the worker's command, so each
    run is one process (no workspace-supervisor process before it), and the runs completed with it."""
    assert all(run.state.is_completed() for run in intake_runs)
    with get_client(sync_client=True) as client:
        commands = {d.name: d.job_variables.get("command") for d in client.read_deployments()}
    assert set(commands) == {"intake", "publish-monthly", "publish-county", "completeness-reminder", "rebuild"}
    for name, command in commands.items():
        python, engine = command.split(" ", 1)
        assert (Path(python).parent, engine) == (Path(sys.executable).parent, "-m prefect.engine"), name


def test_the_second_intake_waited_for_the_first(intake_runs):
    """prefect.yaml's concurrency limit on intake: the overlapping run is held back, not run alongside."""
    with get_client(sync_client=True) as client:
        waited = [any(s.name == "AwaitingConcurrencySlot" for s in client.read_flow_run_states(run.id))
                  for run in intake_runs]
    assert sorted(waited) == [False, True]


def test_each_file_is_accepted_once_across_both_runs(intake_runs):
    """One run loads the files; the other, waiting for its slot, finds nothing new (or only duplicates)."""
    receipts = []
    for run in intake_runs:
        table = artifacts_of(run.id).get("intake-receipts")
        if table is not None:
            receipts += json.loads(table.data)
    accepted = sorted(r["reporter"] for r in receipts if r["status"] in ACCEPTED)
    assert accepted == sorted(FORMS)
    assert {r["status"] for r in receipts} <= ACCEPTED | {"duplicate"}
    imported = sum(r["imported"] for r in receipts if r["status"] in ACCEPTED)
    assert imported == sum(len(v) for v in FORMS.values())


def test_warehouse_holds_each_value_once(intake_runs, warehouse_url):
    subs = _rows(warehouse_url, "SELECT reporter_code, period, status, on_time FROM submissions")
    assert sorted(s["reporter_code"] for s in subs) == sorted(FORMS)
    assert all(s["period"] == "2021-10" and s["status"] in ACCEPTED and s["on_time"] for s in subs)

    history = _rows(warehouse_url, "SELECT reporter_code, indicator_code, COUNT(*) AS n FROM value_history "
                                   "GROUP BY reporter_code, indicator_code")
    assert all(h["n"] == 1 for h in history), history  # no double load, no phantom revision
    current = {(v["reporter_code"], v["indicator_code"]): (v["month_value"], v["ytd_value"]) for v in
               _rows(warehouse_url, "SELECT * FROM indicator_values WHERE period = '2021-10'")}
    expected = {(rep, ind): vals for rep, inds in FORMS.items() for ind, vals in inds.items()}
    assert current.keys() == expected.keys()
    for key, (month, ytd) in expected.items():
        assert current[key][0] == pytest.approx(month), key
        if ytd is not None:
            assert current[key][1] == pytest.approx(ytd), key


def test_reminder_lists_the_reporters_still_missing(reminder_run, intake_runs):
    assert_completed(reminder_run)
    assert reminder_run.name == "reminder 2021-10"
    markdown = artifacts_of(reminder_run.id)["completeness-taoyuan-2021-10"].data
    assert "2021-11-05 24:00" in markdown
    assert "| finance | 财政所 |" in markdown and "| V03 |" in markdown
    for reporter in FORMS:  # those that reported are not chased
        assert f"| {reporter} |" not in markdown
    logs = logs_once_written(reminder_run.id, "Finished in state")
    assert "finance 财政所 has not sent an accepted form yet" in logs
    assert "econ 经济发展办 has not" not in logs


def test_publish_run_completes_with_its_artifacts(publish_run, system_dirs):
    assert_completed(publish_run)
    assert publish_run.name == "publish 2021-10 v1"
    assert "period:2021-10" in publish_run.tags
    artifacts = artifacts_of(publish_run.id)
    table = json.loads(artifacts["snapshot-taoyuan-2021-10"].data)
    fai = next(r for r in table if r["indicator_code"] == "fixed_asset_investment")
    assert fai["ytd_value"] == pytest.approx(41000) and fai["month_value"] == pytest.approx(5200)
    assert "固定资产投资" in artifacts["narrative-taoyuan-2021-10"].data
    link = artifacts["report-taoyuan-2021-10"].data  # stored as Markdown: [text](file:///...)
    report = Path(unquote(urlparse(re.search(r"\((file://[^)]+)\)", link).group(1)).path))
    assert report.name == "report.html" and report.is_file()
    assert report.parent.name == "v1" and report.is_relative_to(system_dirs["published"].resolve())
    for name in ("indicators.xlsx", "indicators.csv", "indicators.parquet", "report.md", "manifest.json"):
        assert (report.parent / name).is_file(), name


def test_published_snapshot_in_the_warehouse(publish_run, warehouse_url):
    rows = {r["indicator_code"]: r for r in _rows(
        warehouse_url, "SELECT * FROM monthly_indicators WHERE township_code = 'taoyuan' AND period = '2021-10'")}
    assert rows["fixed_asset_investment"]["ytd_value"] == pytest.approx(41000)
    assert rows["investment_funds"]["ytd_value"] == pytest.approx(9.5)  # 亿元, as reported
    villages = rows["village_collective_income"]
    assert villages["ytd_value"] == pytest.approx(190 + 160)  # the township figure sums the villages
    assert (villages["reporters_reported"], villages["reporters_expected"]) == (2, 10)
    assert rows["fiscal_revenue"]["ytd_value"] is None  # finance did not report: missing, never 0
    assert {r["vintage"] for r in rows.values()} == {1}
