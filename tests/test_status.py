"""Completeness and timeliness of a period's reporters, and the soft warnings awaiting follow-up."""

from __future__ import annotations

from tasks.status import follow_up_list, reporting_status
from tests.values_factory import at, submit
from township.periods import Period

OCT = Period(2021, 10)


def test_on_time_late_missing_and_rejected_only(runtime):
    e = runtime.engine
    # Deadline: 2021-11-05 24:00 Asia/Shanghai = 2021-11-05 16:00 UTC.
    submit(e, "econ", "2021-10", {"trade_sales": (1.0, 10.0)}, at(2021, 11, 5, 15))
    submit(e, "econ", "2021-10", {"trade_sales": (1.0, 11.0)}, at(2021, 11, 9))  # a later correction
    submit(e, "finance", "2021-10", {"fiscal_revenue": (5.0, 50.0)}, at(2021, 11, 5, 17))
    submit(e, "invest", "2021-10", {}, at(2021, 11, 2), status="rejected")
    submit(e, "tourism", "2021-10", {}, at(2021, 11, 2), status="rejected")
    submit(e, "tourism", "2021-10", {"tourist_visits": (1.0, 9.0)}, at(2021, 11, 7), status="accepted_with_warnings")
    s = reporting_status(e, runtime.catalog, "taoyuan", OCT, runtime.settings.tz).set_index("reporter_code")
    assert len(s) == 17 and "stats" not in s.index  # the station owns no indicator: not expected
    assert s.loc["econ", ["status", "submissions", "rejected"]].tolist() == ["on_time", 2, 0]
    assert s.loc["econ", "received_at"].strftime("%Y-%m-%d %H:%M %z") == "2021-11-05 23:00 +0800"
    assert s.loc["finance", "status"] == "late"
    assert s.loc["invest", ["status", "submissions", "rejected"]].tolist() == ["missing", 1, 1]
    assert s.loc["tourism", ["status", "rejected"]].tolist() == ["late", 1]
    assert s.loc["V05", ["status", "submissions"]].tolist() == ["missing", 0]
    assert s.loc["econ", "deadline"].strftime("%Y-%m-%d %H:%M") == "2021-11-06 00:00"


def test_follow_ups_list_warnings_of_current_values_only(runtime):
    e = runtime.engine
    submit(e, "econ", "2021-10", {"trade_sales": (1.0, 10.0), "industrial_output": (2.0, 20.0)}, at(2021, 11, 3),
           status="accepted_with_warnings",
           warnings=[{"code": "W_YOY_SWING", "indicator": "trade_sales", "cell": "E7"}])
    # The corrected file replaces trade_sales: its old warning no longer needs following up.
    submit(e, "econ", "2021-10", {"trade_sales": (1.5, 10.5)}, at(2021, 11, 4), status="accepted_with_warnings",
           file_name="econ-fixed.xlsx",
           warnings=[{"code": "W_REPEATED", "indicator": "trade_sales", "cell": "E8", "note": "=据实填报",
                      "message_zh": "贸易销售额本月值与上月完全相同"}])
    f = follow_up_list(e, "taoyuan", OCT)
    assert f[["reporter", "indicator", "code", "note", "file", "cell"]].values.tolist() == [
        ["econ", "trade_sales", "W_REPEATED", "=据实填报", "econ-fixed.xlsx", "报表!E8"]]
    assert f["message_zh"].tolist() == ["贸易销售额本月值与上月完全相同"]
    s = reporting_status(e, runtime.catalog, "taoyuan", OCT, runtime.settings.tz).set_index("reporter_code")
    assert s.loc["econ", "warnings_open"] == 1
