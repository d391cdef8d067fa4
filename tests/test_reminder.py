"""The completeness reminder: who still has to submit, and what the Markdown artifact tells the station."""

from __future__ import annotations

import datetime as dt

from zoneinfo import ZoneInfo

import pandas as pd

from flows.reminder import deadline_text, reminder_markdown, still_to_submit
from tasks.status import status_table
from township.periods import Period

OCT = Period(2021, 10)
TZ = ZoneInfo("Asia/Shanghai")


def _status(catalog, rows):  # noqa: ANN001, ANN202
    """status_table over received files given as (reporter, status, local receipt time)."""
    subs = pd.DataFrame(rows, columns=["reporter_code", "status", "received_at"])
    subs["received_at"] = pd.to_datetime(subs["received_at"]).dt.tz_localize(TZ).dt.tz_convert("UTC")
    return status_table(catalog, "taoyuan", OCT, TZ, subs, pd.DataFrame(columns=["reporter_code"]))


def test_reporters_with_no_accepted_form_are_listed_with_why(catalog):
    status = _status(catalog, [
        ("econ", "accepted", "2021-11-03 10:00"),
        ("finance", "accepted_with_warnings", "2021-11-07 09:00"),  # after the 5th 24:00: late
        ("invest", "rejected", "2021-11-04 11:00"),                 # only a rejected file: must resubmit
    ])
    before_deadline = dt.datetime(2021, 11, 5, 9, 0, tzinfo=TZ)
    todo = still_to_submit(status, before_deadline)

    expected = {r.code for r in catalog.expected_reporters("taoyuan")}
    assert set(todo["reporter_code"]) == expected - {"econ", "finance"}
    why = dict(zip(todo["reporter_code"], todo["reminder_state"]))
    assert why["invest"] == "resubmit"
    assert why["tourism"] == "missing"

    after = still_to_submit(status, dt.datetime(2021, 11, 8, 9, 0, tzinfo=TZ))
    assert dict(zip(after["reporter_code"], after["reminder_state"]))["tourism"] == "overdue"


def test_markdown_names_deadline_missing_and_late_reporters(catalog):
    status = _status(catalog, [("econ", "accepted", "2021-11-07 09:30")])
    todo = still_to_submit(status, dt.datetime(2021, 11, 8, tzinfo=TZ))
    md = reminder_markdown("桃源镇", OCT, status, todo)

    assert "2021-11-05 24:00" in md  # the catalog's rule, as people say it
    assert "| finance | 财政所 | 逾期未报 (overdue) | 0 |" in md
    assert "| econ |" not in md.split("## 迟报")[0]  # econ reported, only late
    assert "| econ | 经济发展办 | 2021-11-07 09:30 |" in md


def test_deadline_text_reads_24_00():
    assert deadline_text(dt.datetime(2021, 11, 6, 0, 0, tzinfo=TZ)) == "2021-11-05 24:00"
    assert deadline_text(dt.datetime(2021, 11, 5, 18, 0, tzinfo=TZ)) == "2021-11-05 18:00"


def test_a_month_with_no_submissions_reminds_every_reporter(catalog):
    status = _status(catalog, [])
    todo = still_to_submit(status, dt.datetime(2021, 11, 3, tzinfo=TZ))
    assert set(todo["reporter_code"]) == {r.code for r in catalog.expected_reporters("taoyuan")}
    md = reminder_markdown("桃源镇", OCT, status, todo)
    assert f"未报 missing {len(todo)}" in md and "| V10 | 上旺村 | 未报 (missing) | 0 |" in md


def test_a_month_with_no_submission_yet_lists_every_reporter_as_missing(catalog):
    status = _status(catalog, [])  # the 1st of the month: nothing has arrived

    assert set(status["status"]) == {"missing"} and status["received_at"].isna().all()
    assert len(still_to_submit(status, dt.datetime(2021, 11, 3, tzinfo=TZ))) == len(status)
