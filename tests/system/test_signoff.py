"""Sign-off (审核签发) of a deployed publish run, for real: the run computes, posts its preview and suspends;
the statistician's answer (here through the API, as the UI sends it) resumes it. Approve → a vintage signed
by that name (SQL, report footer, manifest: checked through the UI itself in test_signoff_browser.py); send back
→ nothing frozen, and the run says so; figures changed while it waited → a new preview and sign-off."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from prefect.deployments import run_deployment
from prefect.flow_runs import resume_flow_run
from sqlalchemy import create_engine, text

from tests.system.support import artifacts_of, assert_completed, loaded_warehouse, wait_for, wait_for_state

pytestmark = pytest.mark.system


def _rows(url: str, sql: str) -> list[tuple]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql)).all()]
    finally:
        engine.dispose()


def suspended_publish(base: Path):  # noqa: ANN201
    """A scheduled-style publish run (no signer given) of a fresh warehouse, once it waits for its sign-off."""
    params = {"period": "2021-10", **loaded_warehouse(base)}
    run = run_deployment("publish-monthly/publish-monthly", parameters=params, timeout=0)
    return wait_for_state(run.id, "Suspended"), params


def test_send_back_freezes_nothing_and_the_run_says_so(prefect_stack, tmp_path):
    run, params = suspended_publish(tmp_path)
    resume_flow_run(run.id, run_input={"decision": "退回", "signer": "张统计", "comment": "V03 未报，请补报后再发布"})
    done = wait_for([run.id])[0]
    assert done.state.is_completed() and done.state.name == "退回 Sent back", done.state
    assert "V03 未报" in done.state.message
    assert _rows(params["warehouse_url"], "SELECT COUNT(*) FROM snapshot") == [(0,)]
    assert not (Path(params["publish_dir"]) / "taoyuan" / "2021-10" / "v1").exists()
    sent_back = artifacts_of(run.id)["sent-back-2021-10"].data
    assert "张统计" in sent_back and "V03 未报，请补报后再发布" in sent_back


def test_figures_changed_while_waiting_ask_for_a_new_sign_off(prefect_stack, tmp_path):
    """The answer applies to the figures that were previewed: if a late file changed them while the run
    waited, resuming previews again and waits for a new sign-off instead of freezing unseen figures."""
    from prefect import get_client

    from tests.values_factory import at, submit
    from warehouse.engine import make_engine

    run, params = suspended_publish(tmp_path)
    engine = make_engine(params["warehouse_url"])
    submit(engine, "finance", "2021-10", {"fiscal_revenue": (800.0, 7600.0)}, at(2021, 11, 9))
    engine.dispose()
    resume_flow_run(run.id, run_input={"decision": "快报", "signer": "张统计", "comment": ""})
    with get_client(sync_client=True) as client:
        deadline = time.monotonic() + 240
        while sum(s.name == "Suspended" for s in client.read_flow_run_states(run.id)) < 2:
            assert time.monotonic() < deadline, "the run did not suspend again"
            assert not client.read_flow_run(run.id).state.is_final(), client.read_flow_run(run.id).state
            time.sleep(1)
    assert _rows(params["warehouse_url"], "SELECT COUNT(*) FROM snapshot") == [(0,)]
    resume_flow_run(run.id, run_input={"decision": "快报", "signer": "张统计", "comment": "已含财政所报表"})
    assert_completed(wait_for([run.id])[0])
    assert _rows(params["warehouse_url"], "SELECT s.signer, v.ytd_value FROM snapshot s JOIN snapshot_value v "
                                          "ON v.snapshot_id = s.id WHERE v.indicator_code = 'fiscal_revenue'") == [
        ("张统计", 7600.0)]
