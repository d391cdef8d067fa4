"""Who reported a period, on time or late, and which soft warnings await follow-up.

Timeliness uses the real receipt time of the first accepted file (not the publish time); a reporter
whose every file was rejected is still missing.
"""

from __future__ import annotations

from collections import Counter
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import Engine

from township.catalog import Catalog
from township.periods import Period
from warehouse import publish_io

STATUS_COLUMNS = ["reporter_code", "name", "status", "received_at", "deadline", "submissions", "rejected",
                  "warnings_open"]
STATUS_ZH = {"on_time": "按时", "late": "迟报", "missing": "未报"}


def reporting_status(engine: Engine, catalog: Catalog, township: str, period: Period, tz: ZoneInfo) -> pd.DataFrame:
    """One row per expected reporter: status (on_time | late | missing), first accepted receipt (local
    time), the deadline, how many files it sent, how many were rejected, and open warnings."""
    subs = publish_io.read_submissions(engine, township, str(period))
    follow = publish_io.read_follow_ups(engine, township, str(period))
    return status_table(catalog, township, period, tz, subs, follow)


def status_table(catalog: Catalog, township: str, period: Period, tz: ZoneInfo, subs: pd.DataFrame,
                 follow_ups: pd.DataFrame) -> pd.DataFrame:
    """The pure part of `reporting_status`."""
    reps = catalog.expected_reporters(township)
    deadline = pd.Timestamp(catalog.deadline_for(period, tz))
    # Counted in plain Python: some tens of reporters and files, where each pandas groupby costs a millisecond.
    first: dict = {}
    files, rejected = Counter(), Counter()
    for code, status, received in zip(subs["reporter_code"].tolist(), subs["status"].tolist(),
                                      subs["received_at"].tolist()):
        files[code] += 1
        rejected[code] += status == "rejected"
        if status in publish_io.ACCEPTED and (code not in first or received < first[code]):
            first[code] = received
    warnings = Counter(follow_ups["reporter_code"].tolist())
    codes = [r.code for r in reps]
    # Built as lists, the frame made once: a township has some tens of reporters, and each pandas column operation
    # costs more than the list. received_at: from an object Series, as pandas cannot map an empty datetime Series
    # (a month nobody has reported yet).
    received = pd.to_datetime(pd.Series([first.get(c) for c in codes], dtype=object), utc=True).dt.tz_convert(tz)
    return pd.DataFrame({
        "reporter_code": codes, "name": [r.name for r in reps],
        "status": ["missing" if t is pd.NaT else "on_time" if t <= deadline else "late" for t in received.tolist()],
        "received_at": received, "deadline": deadline,
        "submissions": pd.Series([files[c] for c in codes], dtype="int64"),
        "rejected": pd.Series([rejected[c] for c in codes], dtype="int64"),
        "warnings_open": pd.Series([warnings[c] for c in codes], dtype="int64"),
    }, columns=STATUS_COLUMNS)


def follow_up_list(engine: Engine, township: str, period: Period | str) -> pd.DataFrame:
    """Soft warnings on current values: reporter, indicator, code, message_zh, note, file, cell."""
    return follow_up_view(publish_io.read_follow_ups(engine, township, str(period)))


def follow_up_view(df: pd.DataFrame) -> pd.DataFrame:
    """The pure part of `follow_up_list`, from publish_io.read_follow_ups' rows."""
    cell = [f"{s}!{c}" if s and c else (c or s or "") for s, c in zip(df["sheet"].tolist(), df["cell"].tolist())]
    return pd.DataFrame({
        "reporter": df["reporter_code"], "indicator": df["indicator_code"], "code": df["code"],
        "message_zh": df["message_zh"], "note": df["note"].fillna(""), "file": df["file_name"], "cell": cell,
    })
