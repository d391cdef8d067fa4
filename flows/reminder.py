"""The completeness reminder: which expected reporters have no accepted form yet for a period, and on the
reminder days a message to each of them through the outbox (tasks/reminders.py).

Scheduled daily from the 1st to the 10th; posts a Markdown artifact, logs one line per missing reporter,
and posts the outbox's undelivered messages as an artifact.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from flows.naming import label_run, period_tag, reminder_run_name
from flows.runners import PrefectRunner
from tasks.outbox import failed_messages, outbox_markdown
from tasks.reminders import deadline_text, run_reminders, still_to_submit
from township.periods import Period
from warehouse.runtime import open_runtime

__all__ = ["completeness_reminder", "deadline_text", "reminder_markdown", "still_to_submit"]

STATE_ZH = {"missing": "未报", "overdue": "逾期未报", "resubmit": "已退回，待重报", "late": "迟报"}


def reminder_markdown(township_name: str, period: Period, status: pd.DataFrame, todo: pd.DataFrame) -> str:
    """The artifact: reporters still to submit, then those whose form came after the deadline."""
    deadline = deadline_text(status["deadline"].iloc[0]) if len(status) else ""
    late = status[status["status"] == "late"]
    lines = [f"# {township_name} {period} 报表催报 / completeness reminder", "",
             f"截止时间 deadline: **{deadline}** · 应报 expected {len(status)} · "
             f"已报 received {len(status) - len(todo)} · 未报 missing {len(todo)}", ""]
    if len(todo):
        lines += ["## 未报 / not yet submitted", "", "| 单位代码 | 填报单位 | 状态 | 退回文件数 |", "|---|---|---|---|"]
        lines += [f"| {c} | {n} | {STATE_ZH[s]} ({s}) | {r} |" for c, n, s, r in
                  zip(todo["reporter_code"], todo["name"], todo["reminder_state"], todo["rejected"])]
    else:
        lines.append("全部单位已报送。All expected reporters have submitted.")
    if len(late):
        lines += ["", "## 迟报 / received after the deadline", "", "| 单位代码 | 填报单位 | 收到时间 |", "|---|---|---|"]
        lines += [f"| {c} | {n} | {t:%Y-%m-%d %H:%M} |"
                  for c, n, t in zip(late["reporter_code"], late["name"], late["received_at"])]
    return "\n".join(lines) + "\n"


@flow(name="completeness-reminder", flow_run_name=reminder_run_name, log_prints=False)
def completeness_reminder(period: str | None = None, township: str | None = None,
                          warehouse_url: str | None = None, now: dt.datetime | None = None) -> dict:
    """List the reporters that have not yet sent an accepted form for `period` (default: last month); on
    the reminder days, message each of them (once per period and kind) and send the outbox.
    now: the moment to act as of (default: the current time)."""
    logger = get_run_logger()
    rt = open_runtime(migrate=False, warehouse_url=warehouse_url)  # reading: never migrate or sync the catalog
    try:
        tz = rt.settings.tz
        month = Period.parse(period) if period else Period.previous_month(tz)
        out = run_reminders(rt, month, PrefectRunner(), township=township, now=now)
        deadline = out["deadline"]
        result: dict = {"period": str(month), "deadline": deadline.isoformat(), "reminder": out["kind"],
                        "queued": out["queued"], "outbox": out["sent"].as_dict(), "townships": {}}
        for code, t in out["townships"].items():
            name = rt.catalog.township_by_code[code].name
            status, todo = t["status"], t["todo"]
            for c, n, why in zip(todo["reporter_code"], todo["name"], todo["reminder_state"]):
                logger.warning("%s %s: %s %s has not sent an accepted form yet (%s); deadline %s",
                               code, month, c, n, why, deadline_text(deadline))
            create_markdown_artifact(reminder_markdown(name, month, status, todo),
                                     key=f"completeness-{code}-{month}".lower(),
                                     description=f"{name} {month}: reporters still to submit")
            result["townships"][code] = {
                "expected": len(status),
                "missing": todo["reporter_code"].tolist(),
                "late": status.loc[status["status"] == "late", "reporter_code"].tolist(),
            }
        failed = failed_messages(rt)
        if len(failed) or out["sent"].sent:
            create_markdown_artifact(outbox_markdown(failed, out["sent"].sent), key="outbox",
                                     description="messages sent, and those not delivered yet")
        label_run(tags=[period_tag(month)])
        return result
    finally:
        rt.engine.dispose()
