"""The completeness-reminder flow on a real Prefect server sends through the outbox: a reminder mailed to
an SMTP server on loopback once however often the flow runs, and a message whose webhook is down shown
in the run's `outbox` artifact with its error."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from flows.reminder import completeness_reminder
from scripts.serve import free_port
from tests.notify_servers import SMTPServer
from tests.system.support import artifacts_of
from tests.test_reporters_loop import catalog_with
from township.settings import get_settings
from warehouse.runtime import open_runtime

pytestmark = pytest.mark.system

TZ = ZoneInfo("Asia/Shanghai")


def test_the_reminder_flow_mails_once_and_shows_what_it_could_not_send(prefect_api, tmp_path, monkeypatch):
    smtp = SMTPServer().start()
    try:
        down = free_port()  # nothing listens there
        catalog = catalog_with(tmp_path, [
            {"to": "econ", "channel": "mail", "url": smtp.url("jingfa@example.cn")},
            {"to": "finance", "channel": "oa", "url": f"json://127.0.0.1:{down}/finance"}])
        monkeypatch.setenv("TOWNSHIP_CATALOG_DIR", str(catalog))
        get_settings.cache_clear()
        url = f"sqlite:///{tmp_path / 'warehouse.db'}"
        open_runtime(warehouse_url=url).engine.dispose()  # `township init`: the reminder itself never migrates
        two_days_before = dt.datetime(2021, 11, 3, 9, 0, tzinfo=TZ)

        state = completeness_reminder(period="2021-10", warehouse_url=url, now=two_days_before, return_state=True)
        first = state.result()
        again = completeness_reminder(period="2021-10", warehouse_url=url, now=two_days_before)
    finally:
        smtp.stop()
        get_settings.cache_clear()

    assert first["reminder"] == "reminder_due" and first["queued"] == 2
    assert first["outbox"] == {"sent": 1, "failed": 1}
    assert again["queued"] == 0 and again["outbox"] == {"sent": 0, "failed": 0}  # the failed one waits its turn
    assert [m.to for m in smtp.mails] == [["jingfa@example.cn"]] and "报送提醒" in smtp.mails[0].subject
    outbox = artifacts_of(state.state_details.flow_run_id)["outbox"].data
    assert "1 sent, 1 not delivered" in outbox
    assert "| finance | oa | 报送提醒 (reminder_due) | 2021-10 | 1 |" in outbox and "127.0.0.1" in outbox


def test_a_signed_publish_mails_the_report_to_the_leaders_once(prefect_api, tmp_path, monkeypatch):
    """Issue 10: after sign-off the published report goes to the leaders through the outbox, once per vintage."""
    from flows.publish import publish_monthly

    smtp = SMTPServer().start()
    try:
        catalog = catalog_with(tmp_path, [{"to": "taoyuan/leaders", "channel": "mail",
                                           "url": smtp.url("zhenzhang@example.cn")}])
        monkeypatch.setenv("TOWNSHIP_CATALOG_DIR", str(catalog))
        get_settings.cache_clear()
        url = f"sqlite:///{tmp_path / 'warehouse.db'}"
        publish_dir = str(tmp_path / "published")
        first = publish_monthly(period="2021-10", warehouse_url=url, publish_dir=publish_dir, sign_off="王芳")
        again = publish_monthly(period="2021-10", warehouse_url=url, publish_dir=publish_dir, sign_off="王芳")
    finally:
        smtp.stop()
        get_settings.cache_clear()
    assert first["townships"]["taoyuan"]["created"] and not again["townships"]["taoyuan"]["created"]
    assert [m.to for m in smtp.mails] == [["zhenzhang@example.cn"]]  # v1 announced once, the unchanged re-publish not
    assert "第1版" in smtp.mails[0].text and "report.html" in smtp.mails[0].text, smtp.mails[0].text
