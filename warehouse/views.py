"""The analysts' views: stable names and columns over the internal tables, plus immutability guards.

Each view states its grain. Periods are 'YYYY-MM' text; values are in the indicator's canonical unit.
A change to a view's SQL ships as a new migration that calls `create_views` again.
"""

from __future__ import annotations

from dataclasses import dataclass

_SNAPSHOT_COLUMNS = """
    s.township_code, s.period, sv.indicator_code, i.name AS indicator_name, i.unit,
    sv.month_value, sv.ytd_value, sv.prior_ytd_value, sv.yoy_pct, sv.annual_target, sv.target_pct,
    sv.schedule_gap_pp, sv.reporters_expected, sv.reporters_reported, s.vintage, s.status,
    s.published_at, s.period_label"""
# The sign-off columns (migration 0005); views created by earlier migrations leave them out.
_SIGNOFF_COLUMNS = ", s.decision, s.signer, s.comment AS sign_comment, s.signed_at"
_SIGNOFF_DOCS = {
    "decision": "the sign-off: preliminary (快报), final (定报) or revision (修订, a signed change to a final month)",
    "signer": "审核人: who signed the vintage off, as entered",
    "sign_comment": "the signer's comment",
    "signed_at": "签发时间: when it was signed",
}


@dataclass(frozen=True)
class View:
    name: str
    grain: str
    sql: str
    columns: dict[str, str]


VIEWS: list[View] = [
    View(
        "monthly_indicators",
        "one row per township × period × indicator, from the latest published vintage",
        f"""SELECT {_SNAPSHOT_COLUMNS}{{signoff}}
FROM snapshot s
JOIN snapshot_value sv ON sv.snapshot_id = s.id
JOIN indicator i ON i.code = sv.indicator_code
WHERE s.vintage = (SELECT MAX(s2.vintage) FROM snapshot s2
                   WHERE s2.township_code = s.township_code AND s2.period = s.period)""",
        {
            "township_code": "the township (org unit code)",
            "period": "the month, 'YYYY-MM'",
            "indicator_code": "the indicator's code",
            "indicator_name": "the indicator's Chinese name",
            "unit": "canonical unit of every value in the row",
            "month_value": "本月: the month's value (stock: the month-end level); NULL = not reported",
            "ytd_value": "1-本月累计: year to date (stock: the month-end level)",
            "prior_ytd_value": "去年同期: the same period last year from the same reporters",
            "yoy_pct": "同比 %, one decimal",
            "annual_target": "年度任务 (annual target)",
            "target_pct": "完成率 %: ytd / annual target",
            "schedule_gap_pp": "完成率 − 序时进度 (months elapsed / 12), percentage points",
            "reporters_expected": "reporters that should report this indicator",
            "reporters_reported": "reporters that did",
            "vintage": "vintage number (1, 2, ...)",
            "status": "preliminary (快报) or final (定报)",
            "published_at": "when this vintage was published",
            "period_label": "how the report names the span: 1-10月, 1-2月",
            **_SIGNOFF_DOCS,
        },
    ),
    View(
        "snapshot_history",
        "one row per township × period × indicator × vintage, with when it was current (as-of queries)",
        f"""SELECT {_SNAPSHOT_COLUMNS}{{signoff}},
    s.published_at AS valid_from,
    (SELECT MIN(s2.published_at) FROM snapshot s2
      WHERE s2.township_code = s.township_code AND s2.period = s.period
        AND s2.vintage > s.vintage) AS valid_to
FROM snapshot s
JOIN snapshot_value sv ON sv.snapshot_id = s.id
JOIN indicator i ON i.code = sv.indicator_code""",
        {
            "(columns of monthly_indicators)": "as published in that vintage",
            "valid_from": "when the vintage was published",
            "valid_to": "when the next vintage replaced it (NULL = still the latest)",
        },
    ),
    View(
        "indicator_values",
        "one row per reporter × period × indicator: the current value",
        """SELECT r.township_code, v.reporter_code, v.period, v.indicator_code, v.month_value, v.ytd_value,
    i.unit, v.note, v.submission_id, sub.received_at
FROM value_history v
JOIN reporter r ON r.code = v.reporter_code
JOIN indicator i ON i.code = v.indicator_code
JOIN submission sub ON sub.id = v.submission_id
WHERE v.valid_to IS NULL""",
        {
            "township_code": "the reporter's township",
            "reporter_code": "the office or village that reported",
            "period": "the month, 'YYYY-MM'",
            "indicator_code": "the indicator's code",
            "month_value": "本月 in the canonical unit; NULL = not reported (never 0)",
            "ytd_value": "1-本月累计 in the canonical unit; NULL = not reported",
            "unit": "canonical unit",
            "note": "备注 from the form",
            "submission_id": "the submission the value came from",
            "received_at": "when that file was received",
        },
    ),
    View(
        "submissions",
        "one row per received file (distinct content)",
        """SELECT id AS submission_id, reporter_code, township_code, period, file_name, sha256,
    received_at, processed_at, status, on_time, imported, updated, unchanged, rejected
FROM submission""",
        {
            "submission_id": "the submission's id",
            "reporter_code": "the reporter (its inbox folder); NULL if the folder is unknown",
            "township_code": "the reporter's township",
            "period": "the period the file is for; NULL if unreadable",
            "file_name": "the file's name as received",
            "sha256": "content hash; the same content is processed once",
            "received_at": "the file's modification time in the inbox at first sight",
            "processed_at": "when intake processed it",
            "status": "accepted | accepted_with_warnings | rejected",
            "on_time": "received by the catalog's deadline",
            "imported": "values new for that reporter × period × indicator",
            "updated": "values that replaced a different current value",
            "unchanged": "values equal to the current value",
            "rejected": "values not loaded (the whole file when rejected)",
        },
    ),
    View(
        "submission_conflicts",
        "one row per problem found in a submission (hard error or soft warning)",
        """SELECT c.submission_id, c.code, c.severity, c.sheet, c.cell, c.indicator_code, c.expected, c.found,
    c.message_zh, c.message_en, c.note, s.reporter_code, s.period, s.file_name
FROM conflict c JOIN submission s ON s.id = c.submission_id""",
        {
            "submission_id": "the submission",
            "code": "stable code: E_* = hard error (rejected), W_* = soft warning (loaded, follow up)",
            "severity": "error | warning",
            "sheet": "sheet name (Excel) or the CSV file name",
            "cell": "cell reference, e.g. E7",
            "indicator_code": "the indicator concerned",
            "expected": "what the rule expected",
            "found": "what the file had",
            "message_zh": "message for the reporter",
            "message_en": "message for the log",
            "note": "备注 on that row, kept with the flag",
            "reporter_code": "the reporter",
            "period": "the period",
            "file_name": "the file",
        },
    ),
]

IMMUTABLE_TABLES = ("snapshot", "snapshot_value", "snapshot_change", "snapshot_check")


def view_sql(view: View, signed: bool = True) -> str:
    """The view's SQL; signed=False: without the sign-off columns (for migrations before 0005)."""
    return view.sql.replace("{signoff}", _SIGNOFF_COLUMNS if signed else "")


def create_views(op, signed: bool = True) -> None:  # noqa: ANN001 - an alembic Operations object
    for view in VIEWS:
        op.execute(f"DROP VIEW IF EXISTS {view.name}")
        op.execute(f"CREATE VIEW {view.name} AS\n{view_sql(view, signed)}")


def drop_views(op) -> None:  # noqa: ANN001
    for view in reversed(VIEWS):
        op.execute(f"DROP VIEW IF EXISTS {view.name}")


def create_immutability_guards(op, dialect: str) -> None:  # noqa: ANN001
    """Published vintages never change: the database itself refuses UPDATE and DELETE on them."""
    if dialect == "postgresql":
        op.execute("""CREATE OR REPLACE FUNCTION township_refuse_change() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'published snapshots are immutable (table %)', TG_TABLE_NAME; END;
$$ LANGUAGE plpgsql""")
        for t in IMMUTABLE_TABLES:
            op.execute(f"CREATE TRIGGER {t}_immutable BEFORE UPDATE OR DELETE ON {t} "
                       f"FOR EACH ROW EXECUTE FUNCTION township_refuse_change()")
    else:
        for t in IMMUTABLE_TABLES:
            for action in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {t}_no_{action.lower()} BEFORE {action} ON {t} "
                           f"BEGIN SELECT RAISE(ABORT, 'published snapshots are immutable'); END")
