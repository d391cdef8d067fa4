"""The reporters' loop: each receipt back in the reporter's own 回执 folder, and messages through the
outbox against real servers on loopback, an SMTP server (aiosmtpd) and a JSON webhook (http.server).
A rejection is mailed with its cells and fixes; reminders go out once however often the flow runs; a
server that is down leaves the message failed with its error, and the next run sends it; secrets stay
in the environment."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from typer.testing import CliRunner

from cli.app import app
from tasks.messages import PUBLISHED_REPORT, REMINDER_DUE, REMINDER_OVERDUE, SIGNOFF_REQUEST
from tasks.outbox import announce_published, request_signoff, send_outbox
from tasks.reminders import reminder_kind, run_reminders
from tests.intake_helpers import run_intake, write_csv
from tests.notify_servers import SMTPServer, WebhookServer, free_port
from township.catalog import CatalogError, load_catalog
from township.periods import Period
from township.settings import Settings, get_settings
from warehouse import outbox_io
from warehouse.runtime import open_runtime

TZ = ZoneInfo("Asia/Shanghai")
OCT = Period(2021, 10)
DEFAULT_CATALOG = Path(Settings.model_fields["catalog_dir"].default)
NOV_3 = dt.datetime(2021, 11, 3, 9, 0, tzinfo=TZ)  # two days before the deadline (the 5th, 24:00)
NOV_6 = dt.datetime(2021, 11, 6, 9, 0, tzinfo=TZ)  # the day after it


def catalog_with(tmp_path: Path, contacts: list[dict]) -> Path:
    folder = tmp_path / "catalog"
    shutil.copytree(DEFAULT_CATALOG, folder, dirs_exist_ok=True)
    (folder / "contacts.yaml").write_text(yaml.safe_dump({"contacts": contacts}, allow_unicode=True),
                                          encoding="utf-8")
    return folder


@pytest.fixture
def smtp():
    server = SMTPServer().start()
    yield server
    server.stop()


@pytest.fixture
def webhook():
    server = WebhookServer().start()
    yield server
    server.stop()


@pytest.fixture
def open_with(warehouse_url, tmp_path, monkeypatch):
    """open_with(contacts): a migrated warehouse and a catalog giving these contacts; folders in tmp."""
    for name, sub in [("INBOX", "inbox"), ("ARCHIVE", "archive"), ("PUBLISH_DIR", "published")]:
        (tmp_path / sub).mkdir(exist_ok=True)
        monkeypatch.setenv(f"TOWNSHIP_{name}", str(tmp_path / sub))
    monkeypatch.setenv("TOWNSHIP_WAREHOUSE_URL", warehouse_url)
    opened = []

    def open_(contacts: list[dict], **settings: str):
        monkeypatch.setenv("TOWNSHIP_CATALOG_DIR", str(catalog_with(tmp_path, contacts)))
        for k, v in settings.items():
            monkeypatch.setenv(f"TOWNSHIP_{k.upper()}", v)
        get_settings.cache_clear()
        rt = open_runtime()
        opened.append(rt)
        return rt

    yield open_
    for rt in opened:
        rt.engine.dispose()
    get_settings.cache_clear()


def outbox(rt):  # noqa: ANN001, ANN201
    return outbox_io.read_outbox(rt.engine)


# The catalog's contacts -------------------------------------------------------------------------------

def test_a_catalog_without_contacts_loads_and_messages_nobody(catalog):
    assert catalog.contacts == []
    assert catalog.contacts_for("econ") == []


def test_contacts_name_reporters_or_township_roles_and_keep_secrets_out(tmp_path):
    ok = load_catalog(catalog_with(tmp_path / "a", [
        {"to": "econ", "channel": "mail", "url": "mailtos://${SMTP_USER}:${SMTP_PASSWORD}@smtp.example.cn"},
        {"to": "taoyuan/statistician", "channel": "dingtalk", "url": "dingtalk://${DINGTALK_TOKEN}"}]))
    assert [c.channel for c in ok.contacts_for("econ")] == ["mail"]
    with pytest.raises(CatalogError, match=r"contacts\.yaml: contact for 'nobody'"):
        load_catalog(catalog_with(tmp_path / "b", [{"to": "nobody", "channel": "mail", "url": "json://x"}]))
    with pytest.raises(CatalogError, match=r"contacts\.yaml: .*password .* must be written \$\{ENV_NAME\}"):
        load_catalog(catalog_with(tmp_path / "c", [
            {"to": "econ", "channel": "mail", "url": "mailtos://me:hunter2@smtp.example.cn"}]))
    with pytest.raises(CatalogError, match=r"'econ' has two contacts named 'mail'"):
        load_catalog(catalog_with(tmp_path / "d", [{"to": "econ", "channel": "mail", "url": "json://a"},
                                                   {"to": "econ", "channel": "mail", "url": "json://b"}]))


# Reminders --------------------------------------------------------------------------------------------

def test_reminder_days_are_two_before_the_deadline_and_the_day_after():
    deadline = dt.datetime(2021, 11, 6, 0, 0, tzinfo=TZ)  # 'the 5th, 24:00'

    def kind(day: int, hour: int = 9):  # noqa: ANN202
        return reminder_kind(deadline, dt.datetime(2021, 11, day, hour, tzinfo=TZ), 2, 1)

    assert [kind(d) for d in (1, 2)] == [None, None]
    assert [kind(d) for d in (3, 4, 5)] == [REMINDER_DUE] * 3
    assert kind(6) == REMINDER_OVERDUE and kind(9) == REMINDER_OVERDUE


def test_reminder_is_mailed_and_posted_once_however_often_it_runs(open_with, smtp, webhook):
    rt = open_with([{"to": "econ", "channel": "mail", "url": smtp.url("econ@example.cn")},
                    {"to": "V01", "channel": "wecom", "url": webhook.url("v01")}])

    first = run_reminders(rt, OCT, now=NOV_3)
    second = run_reminders(rt, OCT, now=NOV_3 + dt.timedelta(hours=5))

    assert first["queued"] == 2 and first["sent"].sent == 2
    assert second["queued"] == 0 and second["sent"].sent == 0
    assert [m.to for m in smtp.mails] == [["econ@example.cn"]]
    mail = smtp.mails[0]
    assert "报送提醒" in mail.subject
    assert "经济发展办" in mail.text and "2021年10月报表尚未收到" in mail.text and "2021-11-05 24:00" in mail.text
    assert [h.path for h in webhook.hooks] == ["/v01"]
    assert "笊篱坪村" in webhook.hooks[0].payload["message"]

    after = run_reminders(rt, OCT, now=NOV_6)  # the day after the deadline: the second reminder, once
    run_reminders(rt, OCT, now=NOV_6 + dt.timedelta(hours=1))
    assert after["sent"].sent == 2
    assert "逾期催报" in smtp.mails[1].subject and "已超过截止时间" in smtp.mails[1].text
    assert len(smtp.mails) == 2 and len(webhook.hooks) == 2
    ob = outbox(rt)
    assert sorted(zip(ob["recipient"], ob["kind"], ob["status"])) == [
        ("V01", REMINDER_DUE, "sent"), ("V01", REMINDER_OVERDUE, "sent"),
        ("econ", REMINDER_DUE, "sent"), ("econ", REMINDER_OVERDUE, "sent")]


def test_reporters_with_an_accepted_form_are_not_reminded(open_with, webhook):
    rt = open_with([{"to": "invest", "channel": "hook", "url": webhook.url("invest")},
                    {"to": "econ", "channel": "hook", "url": webhook.url("econ")}])
    write_csv(Path(rt.settings.inbox), "invest", "oct.csv",
              [("investment_funds", 1.2, 9.2), ("investment_funds_yrd", 0.4, 3.4), ("projects_signed", 1, 16)])
    assert run_intake(rt).rejected == 0
    run_reminders(rt, OCT, now=NOV_3)
    assert [h.path for h in webhook.hooks] == ["/econ"]


# Failures and retries ---------------------------------------------------------------------------------

def test_a_server_that_is_down_leaves_the_message_failed_and_the_next_run_sends_it(open_with):
    port = free_port()  # nothing listens here yet
    rt = open_with([{"to": "econ", "channel": "hook", "url": f"json://127.0.0.1:{port}/econ"}],
                   outbox_retry_seconds="600")
    run_reminders(rt, OCT, now=NOV_3)
    ob = outbox(rt)
    assert list(ob["status"]) == ["failed"] and list(ob["attempts"]) == [1]
    assert "127.0.0.1" in ob["last_error"][0]

    result = CliRunner().invoke(app, ["status", "--period", "2021-10"])
    assert result.exit_code == 0, result.output
    assert "outbox" in result.output and "reminder_due 2021-10 to econ via hook" in result.output
    assert "not delivered after 1 attempt(s)" in result.output

    server = WebhookServer(port=port).start()
    try:
        assert send_outbox(rt, NOV_3 + dt.timedelta(minutes=5)).sent == 0  # waits out the 10 minutes
        again = run_reminders(rt, OCT, now=NOV_3 + dt.timedelta(minutes=11))
    finally:
        server.stop()
    assert again["sent"].sent == 1 and [h.path for h in server.hooks] == ["/econ"]
    ob = outbox(rt)
    assert list(ob["status"]) == ["sent"] and list(ob["attempts"]) == [2] and ob["last_error"].isna().all()
    assert "outbox" not in CliRunner().invoke(app, ["status", "--period", "2021-10"]).output


def test_secrets_are_expanded_at_send_time_and_never_stored(open_with, webhook, monkeypatch):
    rt = open_with([{"to": "taoyuan/leaders", "channel": "wecom", "url": webhook.url("${TEST_HOOK_TOKEN}")}])
    monkeypatch.delenv("TEST_HOOK_TOKEN", raising=False)
    announce_published(rt, "taoyuan", OCT, 1, "快报", "1-10月完成固定资产投资12345万元。", "http://x/report.html")
    assert send_outbox(rt).sent == 0
    ob = outbox(rt)
    assert ob["last_error"][0] == "environment variable TEST_HOOK_TOKEN is not set (named in the contact URL)"

    monkeypatch.setenv("TEST_HOOK_TOKEN", "s3cret-token")
    assert send_outbox(rt, dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)).sent == 1
    assert [h.path for h in webhook.hooks] == ["/s3cret-token"]
    with rt.engine.connect() as conn:
        from sqlalchemy import text

        stored = " ".join(str(v) for row in conn.execute(text("SELECT * FROM outbox_message")).all() for v in row)
    assert "s3cret-token" not in stored and "wecom" in stored


# Sign-off request and the published report -------------------------------------------------------------

def test_sign_off_request_and_published_report_go_to_the_statistician_and_leaders_once(open_with, smtp, webhook):
    rt = open_with([{"to": "taoyuan/statistician", "channel": "mail", "url": smtp.url("tongji@example.cn")},
                    {"to": "taoyuan/leaders", "channel": "wecom", "url": webhook.url("leaders")}])
    run_url = "http://127.0.0.1:4200/runs/flow-run/0f1e2d3c"
    for _ in range(2):
        request_signoff(rt, "taoyuan", OCT, run_url, summary="应报17家，已报16家。", subject_key="0f1e2d3c")
        announce_published(rt, "taoyuan", OCT, 1, "快报", "1-10月完成固定资产投资12345万元，同比增长12.3%。",
                           "http://reports.example.cn/taoyuan/2021-10/v1/report.html")
        send_outbox(rt)
    assert len(smtp.mails) == 1 and len(webhook.hooks) == 1
    assert "待审核签发" in smtp.mails[0].subject and run_url in smtp.mails[0].text
    leaders = webhook.hooks[0].payload
    assert "2021年10月主要指标快报" in leaders["title"]
    assert "同比增长12.3%" in leaders["message"] and "v1/report.html" in leaders["message"]
    assert sorted(outbox(rt)["kind"]) == [PUBLISHED_REPORT, SIGNOFF_REQUEST]


# Receipts back to the reporter, and the rejection message ---------------------------------------------

GOOD = [("investment_funds", 1.2, 9.2), ("investment_funds_yrd", 0.4, 3.4), ("projects_signed", 1, 16)]
BAD = [("investment_funds", 1.2, 9.2), ("investment_funds_yrd", 0.4, 3.4), ("projects_signed", -1, 16)]


def test_every_receipt_goes_back_into_the_reporters_folder_and_is_never_taken_in(open_with):
    rt = open_with([])
    inbox = Path(rt.settings.inbox)
    good = write_csv(inbox, "invest", "oct.csv", GOOD)
    bad = write_csv(inbox, "econ", "十月.csv", [("trade_sales", "12%", 100)])
    first = run_intake(rt)
    assert (first.accepted + first.accepted_with_warnings, first.rejected) == (1, 1)

    sha = {r["file"]: r["sha256"] for r in first.receipts}
    md = inbox / "econ" / "回执" / f"十月.csv.{sha['十月.csv'][:8]}.receipt.md"
    assert md.read_text(encoding="utf-8").startswith("# 报表回执 / Import receipt: 十月.csv")
    assert "已退回" in md.read_text(encoding="utf-8") and "E_VALUE_NOT_NUMBER" in md.read_text(encoding="utf-8")
    answer = json.loads(md.with_suffix(".json").read_text(encoding="utf-8"))
    assert answer["status"] == "rejected" and answer["conflicts"][0]["cell"] == "D2"
    ok = inbox / "invest" / "回执" / f"oct.csv.{sha['oct.csv'][:8]}.receipt.json"
    assert json.loads(ok.read_text(encoding="utf-8"))["status"] in ("accepted", "accepted_with_warnings")

    again = run_intake(rt)  # the receipts are in the inbox now: not listed, not read, not answered
    assert (again.files_listed, again.files_new, again.rejected) == (2, 0, 0)
    assert sorted(p.name for p in (inbox / "econ" / "回执").iterdir()) == [md.with_suffix(".json").name, md.name]
    assert good.exists() and bad.exists()


def test_receipts_reach_reporters_when_the_inbox_is_a_url(open_with, monkeypatch):
    import fsspec

    fs = fsspec.filesystem("memory")
    fs.pipe("/loop-inbox/econ/oct.csv", (
        "reporter_code,period,indicator_code,month_value,ytd_value\n"
        "econ,2021-10,trade_sales,12%,100\n").encode())
    monkeypatch.setenv("TOWNSHIP_INBOX", "memory://loop-inbox")
    monkeypatch.setenv("TOWNSHIP_ARCHIVE", "memory://loop-archive")
    try:
        rt = open_with([])
        s = run_intake(rt)
        assert s.rejected == 1
        replies = fs.find("/loop-inbox/econ/回执")
        assert sorted(p.rsplit(".", 2)[-2:][0] for p in replies) == ["receipt", "receipt"]
        assert fs.cat_file(next(p for p in replies if p.endswith(".md"))).decode().startswith("# 报表回执")
        assert run_intake(rt).files_new == 0
    finally:
        fs.rm("/loop-inbox", recursive=True)
        fs.rm("/loop-archive", recursive=True)


def test_a_rejected_file_is_mailed_to_its_reporter_with_each_cell_and_its_fix_once(open_with, smtp):
    rt = open_with([{"to": "invest", "channel": "mail", "url": smtp.url("zhaoshang@example.cn")}])
    inbox = Path(rt.settings.inbox)
    write_csv(inbox, "invest", "十月.csv", BAD)
    s = run_intake(rt)
    assert s.rejected == 1 and s.messages_sent == 1

    [mail] = smtp.mails
    assert mail.to == ["zhaoshang@example.cn"] and mail.subject == "桃源镇 报表退回：十月.csv"
    assert mail.text.startswith("【桃源镇统计站】招商服务中心：您报送的《十月.csv》（2021年10月）未通过审核，已退回。")
    assert "十月.csv!D4 projects_signed 不能为负数，填报值为 -1。改正：填写非负数" in mail.text
    assert "invest/回执/十月.csv." in mail.text  # where the full receipt is

    write_csv(inbox, "invest", "十月.csv", BAD, received=dt.datetime(2021, 11, 3, 10, tzinfo=TZ))  # touched
    run_intake(rt)
    assert len(smtp.mails) == 1  # same content: a duplicate, answered once

    write_csv(inbox, "invest", "十月.csv", GOOD, received=dt.datetime(2021, 11, 3, 11, tzinfo=TZ))
    assert run_intake(rt).rejected == 0 and len(smtp.mails) == 1  # the fixed file: nothing to tell


def test_a_file_with_no_readable_period_is_still_answered(open_with, webhook):
    rt = open_with([{"to": "econ", "channel": "hook", "url": webhook.url("econ")}])
    (Path(rt.settings.inbox) / "econ").mkdir()
    (Path(rt.settings.inbox) / "econ" / "说明.docx").write_bytes(b"not a form")
    assert run_intake(rt).rejected == 1
    [hook] = webhook.hooks
    assert "《说明.docx》未通过审核" in hook.payload["message"] and "另存为 .xlsx 或 .csv" in hook.payload["message"]


def test_a_long_title_and_subject_still_fit_and_stay_idempotent(open_with):
    from tasks.outbox import enqueue

    rt = open_with([{"to": "econ", "channel": "hook", "url": "json://127.0.0.1:9/econ"}])
    for _ in range(2):
        enqueue(rt, "econ", "rejection", OCT, "退" * 300, "body", subject_key="https://x/" + "k" * 300)
    ob = outbox(rt)
    assert len(ob) == 1 and len(ob["title"][0]) == 256 and len(ob["subject_key"][0]) == 64


def test_a_receipt_that_could_not_reach_the_reporter_is_delivered_by_the_next_run(open_with, webhook):
    rt = open_with([{"to": "econ", "channel": "hook", "url": webhook.url("econ")}])
    inbox = Path(rt.settings.inbox)
    write_csv(inbox, "econ", "oct.csv", [("trade_sales", "12%", 100)])
    (inbox / "econ" / "回执").write_text("a file where the folder should be", encoding="utf-8")  # blocks it
    first = run_intake(rt)
    assert first.rejected == 1 and first.receipts_pending == 1 and webhook.hooks == []

    (inbox / "econ" / "回执").unlink()
    second = run_intake(rt)
    assert second.receipts_completed == 1
    assert [p.suffix for p in sorted((inbox / "econ" / "回执").iterdir())] == [".json", ".md"]
    assert len(webhook.hooks) == 1 and "oct.csv" in webhook.hooks[0].payload["message"]


def test_a_rebuild_answers_nobody(open_with, webhook, tmp_path):
    from tasks.rebuild import rebuild_into

    rt = open_with([{"to": "econ", "channel": "hook", "url": webhook.url("econ")}])
    inbox = Path(rt.settings.inbox)
    write_csv(inbox, "econ", "oct.csv", [("trade_sales", "12%", 100)])
    run_intake(rt)
    before = sorted(p.relative_to(inbox) for p in inbox.rglob("*"))

    target = open_runtime(warehouse_url=f"sqlite:///{tmp_path / 'rebuilt.db'}")
    try:
        assert rebuild_into(target, rt.settings.archive, Period(2021, 11)).rejected == 1
        assert sorted(p.relative_to(inbox) for p in inbox.rglob("*")) == before
        assert outbox(target).empty and len(webhook.hooks) == 1
    finally:
        target.engine.dispose()
