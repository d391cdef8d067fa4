"""The completeness reminder, written once: who has no accepted form yet, and, on the reminder days
(`TOWNSHIP_REMIND_DAYS_BEFORE` the deadline and `TOWNSHIP_REMIND_DAYS_AFTER` it), a message to each
of them through the outbox — once per reporter, period and kind however often it runs — then the
outbox is sent (which also retries earlier failures).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from tasks import messages
from tasks.outbox import SendResult, enqueue_reminders, send_outbox
from tasks.pipeline import PLAIN, Step, StepRunner
from tasks.status import reporting_status
from township.periods import Period
from warehouse.runtime import Runtime


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


def reminder_kind(deadline: dt.datetime, now: dt.datetime, days_before: int, days_after: int) -> str | None:
    """Which reminder is due now, if any (pure). The deadline's day is the day people name (the 5th
    for '5th 24:00'); from `days_before` days before it until the deadline: REMINDER_DUE; from
    `days_after` days after it on: REMINDER_OVERDUE. A run that missed the day still sends it, once."""
    local = now.astimezone(deadline.tzinfo)
    day = (deadline - dt.timedelta(microseconds=1)).date()
    if local >= deadline:
        return messages.REMINDER_OVERDUE if local.date() >= day + dt.timedelta(days=days_after) else None
    return messages.REMINDER_DUE if local.date() >= day - dt.timedelta(days=days_before) else None


def _status(rt: Runtime, township: str, period: Period) -> pd.DataFrame:
    return reporting_status(rt.engine, rt.catalog, township, period, rt.settings.tz)


def _enqueue(rt: Runtime, kind: str, period: Period, todo: pd.DataFrame, deadline: str, now: dt.datetime) -> int:
    return enqueue_reminders(rt, kind, period, todo, deadline, now)


def _send(rt: Runtime, now: dt.datetime) -> SendResult:
    return send_outbox(rt, now)


STATUS = Step("check who has reported", _status, retries=2)
ENQUEUE = Step("queue reminders", _enqueue, retries=2)
SEND = Step("send the outbox", _send, retries=2)


def run_reminders(rt: Runtime, period: Period, run: StepRunner = PLAIN, *, township: str | None = None,
                  now: dt.datetime | None = None) -> dict:
    """Per township: the status, the reporters still to submit, the reminders due today queued; then
    the outbox sent. Returns, per township, the status table and the todo list, and what was sent."""
    now = now or dt.datetime.now(rt.settings.tz)
    deadline = rt.catalog.deadline_for(period, rt.settings.tz)
    kind = reminder_kind(deadline, now, rt.settings.remind_days_before, rt.settings.remind_days_after)
    out: dict = {"period": str(period), "deadline": deadline, "kind": kind, "townships": {}, "queued": 0}
    for code in [township] if township else [t.code for t in rt.catalog.townships]:
        status = run(STATUS, rt, code, period)
        todo = still_to_submit(status, now)
        if kind and len(todo):
            out["queued"] += run(ENQUEUE, rt, kind, period, todo, deadline_text(deadline), now)
        out["townships"][code] = {"status": status, "todo": todo}
    out["sent"] = run(SEND, rt, now)
    return out
