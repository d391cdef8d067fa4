"""The completeness reminder: which expected reporters have no accepted form yet for a period.

Scheduled daily from the 1st to the 10th; posts a Markdown artifact and logs one line per missing reporter.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from sqlalchemy import Engine

from flows.naming import label_run, period_tag, reminder_run_name
from tasks.status import reporting_status
from township.catalog import Catalog
from township.periods import Period
from warehouse.runtime import open_runtime

STATE_ZH = {"missing": "未报", "overdue": "逾期未报", "resubmit": "已退回，待重报", "late": "迟报"}


@task(name="check who has reported", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[2, 10])
def status_task(engine: Engine, catalog: Catalog, township: str, period: Period, tz: ZoneInfo) -> pd.DataFrame:
    return reporting_status(engine, catalog, township, period, tz)


def still_to_submit(status: pd.DataFrame, now: dt.datetime) -> pd.DataFrame:
    """The reporters with no accepted form yet, each with why (pure).

    reminder_state: resubmit (every file so far was rejected) | overdue (deadline passed) | missing.
    """
    todo = status[status["status"] == "missing"].copy()
    overdue = todo["deadline"] < pd.Timestamp(now)
    todo["reminder_state"] = "missing"
    todo.loc[overdue, "reminder_state"] = "overdue"
    todo.loc[todo["rejected"] > 0, "reminder_state"] = "resubmit"
    return todo


def deadline_text(deadline: dt.datetime) -> str:
    """Deadlines read the way the catalog writes them: the 5th at 24:00, not the 6th at 00:00."""
    if (deadline.hour, deadline.minute) == (0, 0):
        return f"{deadline - dt.timedelta(days=1):%Y-%m-%d} 24:00"
    return f"{deadline:%Y-%m-%d %H:%M}"


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
                          warehouse_url: str | None = None) -> dict:
    """List the reporters that have not yet sent an accepted form for `period` (default: last month)."""
    logger = get_run_logger()
    rt = open_runtime(migrate=False, warehouse_url=warehouse_url)  # reading: never migrate or sync the catalog
    try:
        tz = rt.settings.tz
        month = Period.parse(period) if period else Period.previous_month(tz)
        deadline = rt.catalog.deadline_for(month, tz)
        now = dt.datetime.now(tz)
        codes = [township] if township else [t.code for t in rt.catalog.townships]
        result: dict = {"period": str(month), "deadline": deadline.isoformat(), "townships": {}}
        for code in codes:
            name = rt.catalog.township_by_code[code].name
            status = status_task(rt.engine, rt.catalog, code, month, tz)
            todo = still_to_submit(status, now)
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
        label_run(tags=[period_tag(month)])
        return result
    finally:
        rt.engine.dispose()
