"""Sign-off (审核签发): who approves a month's vintage and as what; the pending revisions of final months.

A vintage is frozen signed by a named person: 快报 (preliminary) or 定报 (final); once a month is final,
a later change is a 修订 (revision) that someone signs too. 退回 (send back) freezes nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Engine

from township.periods import Period
from warehouse import signoff_io

DECISION_ZH = {"preliminary": "快报", "final": "定报", "revision": "修订"}
SEND_BACK = "退回"
DEMO_SIGNER = "演示审核人"  # who signs `township cycle`'s replay (make run)


@dataclass(frozen=True)
class Signature:
    """A sign-off: the signer's name as entered, final or not, a comment, and when (default: at freezing)."""

    signer: str
    final: bool = False
    comment: str = ""
    signed_at: dt.datetime | None = None

    def __post_init__(self) -> None:
        if not self.signer.strip():
            raise ValueError("a sign-off needs the signer's name (审核人)")


def signed_status(final: bool, latest_status: str | None) -> tuple[str, str]:
    """(status, decision) of a new vintage: a month once final stays final, and a change to it is a revision."""
    if latest_status == "final":
        return "final", "revision"
    return ("final", "final") if final else ("preliminary", "preliminary")


def signature_columns(signature: Signature | None, decision: str, when: pd.Timestamp) -> dict:
    """The snapshot row's sign-off columns (all NULL when frozen without a signer)."""
    if signature is None:
        return {"decision": None, "signer": None, "comment": None, "signed_at": None}
    at = pd.Timestamp(signature.signed_at).tz_convert("UTC") if signature.signed_at else when
    return {"decision": decision, "signer": signature.signer.strip(), "comment": signature.comment or None,
            "signed_at": at.to_pydatetime()}


PENDING_VIEW_COLUMNS = ["submission_id", "reporter_code", "indicator_code", "month_value", "ytd_value",
                        "received_at", "file_name"]


def pending_revisions(engine: Engine, township: str, period: Period | str) -> pd.DataFrame:
    """Corrections to a final month waiting for a signed revision: one row per pending value."""
    return signoff_io.read_pending(engine, township, str(period))[PENDING_VIEW_COLUMNS]


def apply_pending_revisions(engine: Engine, township: str, period: Period | str,
                            now: dt.datetime | None = None) -> list[int]:
    """Make the pending values of a final month current (the revision is being signed); their submissions."""
    return signoff_io.apply_pending(engine, township, str(period), now or dt.datetime.now(dt.timezone.utc))
