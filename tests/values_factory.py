"""Test helper: put submissions and their values straight into a warehouse, as intake would leave them.

Independent of the intake code: one `submission` row, its `value_history` rows (closing the values
they replace), and optional conflicts, in one transaction.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Engine, insert, select, update

from warehouse.models import Conflict, Reporter, Submission, ValueHistory

UTC = dt.timezone.utc


def submit(engine: Engine, reporter: str, period: str, values: dict[str, tuple[float | None, float | None]]
           | dict[str, tuple[float | None, float | None, str]], received_at: dt.datetime,
           status: str = "accepted", processed_at: dt.datetime | None = None,
           warnings: list[dict] | None = None, file_name: str | None = None) -> int:
    """Record one received file; accepted files make `values` ({indicator: (month, ytd[, note])})
    the reporter's current values for the period. Returns the submission id."""
    processed_at = processed_at or received_at
    with engine.begin() as conn:
        township = conn.execute(select(Reporter.township_code).where(Reporter.code == reporter)).scalar_one()
        sid = conn.execute(insert(Submission).returning(Submission.id), [{
            "sha256": uuid.uuid4().hex * 2, "inbox_folder": reporter, "reporter_code": reporter,
            "township_code": township, "period": period,
            "file_name": file_name or f"{reporter}-{period}.xlsx", "archive_path": f"archive/{reporter}",
            "received_at": received_at, "processed_at": processed_at, "status": status,
            "imported": len(values), "updated": 0, "unchanged": 0, "rejected": 0}]).scalar_one()
        if status != "rejected" and values:
            v = ValueHistory
            conn.execute(update(v).where(v.reporter_code == reporter, v.period == period,
                                         v.indicator_code.in_(list(values)), v.valid_to.is_(None))
                         .values(valid_to=processed_at))
            conn.execute(insert(v), [{
                "reporter_code": reporter, "period": period, "indicator_code": code, "month_value": val[0],
                "ytd_value": val[1], "note": val[2] if len(val) > 2 else None, "submission_id": sid,
                "valid_from": processed_at} for code, val in values.items()])
        for w in warnings or []:
            conn.execute(insert(Conflict), [{
                "submission_id": sid, "code": w["code"], "severity": w.get("severity", "warning"),
                "sheet": w.get("sheet", "报表"), "cell": w.get("cell"), "indicator_code": w["indicator"],
                "expected": None, "found": None, "message_zh": w.get("message_zh", w["code"]),
                "message_en": w.get("message_en", w["code"]), "note": w.get("note")}])
    return sid


def at(year: int, month: int, day: int, hour: int = 9) -> dt.datetime:
    """An aware UTC datetime (the warehouse stores UTC)."""
    return dt.datetime(year, month, day, hour, tzinfo=UTC)
