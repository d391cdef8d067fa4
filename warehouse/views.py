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
    created_in: str = "0002"  # the migration that first creates it (its tables exist from there on)


_LATEST_COUNTY = """FROM snapshot c
JOIN org_unit k ON k.code = c.township_code AND k.kind = 'county'"""
_LATEST = """WHERE c.vintage = (SELECT MAX(c2.vintage) FROM snapshot c2
                   WHERE c2.township_code = c.township_code AND c2.period = c.period)"""


def _ranked(column: str) -> str:
    """Competition rank (1, 1, 3) among the county's townships that have the figure; NULL (unranked) without."""
    return (f"CASE WHEN tv.{column} IS NULL THEN NULL ELSE RANK() OVER (\n"
            f"      PARTITION BY c.id, cv.indicator_code, tv.{column} IS NULL ORDER BY tv.{column} DESC) END")


COUNTY_VIEWS: list[View] = [
    View(
        "county_indicators",
        "one row per county × period × indicator, from the county's latest vintage (built from its "
        "townships' latest signed vintages; see county_lineage)",
        f"""SELECT c.township_code AS county_code, k.name AS county_name, c.period, cv.indicator_code,
    i.name AS indicator_name, i.unit, cv.month_value, cv.ytd_value, cv.prior_ytd_value, cv.yoy_pct,
    cv.annual_target, cv.target_pct, cv.schedule_gap_pp, cv.reporters_expected AS townships_expected,
    cv.reporters_reported AS townships_reported, cv.missing_reporters AS missing_townships,
    c.vintage, c.status, c.published_at, c.period_label{_SIGNOFF_COLUMNS.replace("s.", "c.")}
{_LATEST_COUNTY}
JOIN snapshot_value cv ON cv.snapshot_id = c.id
JOIN indicator i ON i.code = cv.indicator_code
{_LATEST}""",
        {
            "county_code": "the county (org unit code)",
            "county_name": "the county's name",
            "period": "the month, 'YYYY-MM'",
            "indicator_code": "the indicator's code",
            "indicator_name": "the indicator's Chinese name",
            "unit": "canonical unit of every value in the row",
            "month_value": "本月: sum over the townships that reported; NULL = none did, or not additive "
                           "(indicator.county_aggregation = 'none')",
            "ytd_value": "1-本月累计: sum over the townships that reported (never counting 未报 as 0)",
            "prior_ytd_value": "去年同期 on the comparable base: only townships with this year's and last "
                               "year's figure",
            "yoy_pct": "同比 %, one decimal: the comparable townships' ytd / their 去年同期 − 1",
            "annual_target": "年度任务: the county's own target (targets.yaml under the county's code)",
            "target_pct": "完成率 %: county ytd / the county's annual target",
            "schedule_gap_pp": "完成率 − 序时进度, percentage points (flows only)",
            "townships_expected": "townships of the county",
            "townships_reported": "townships whose latest signed vintage has the figure",
            "missing_townships": "未报: comma-separated township codes without a signed figure",
            "vintage": "the county vintage (1, 2, ...): a new one whenever a township's signed vintage changes",
            "status": "preliminary (快报) or final (定报)",
            "published_at": "when this county vintage was published",
            "period_label": "1-10月, 1-2月",
            **_SIGNOFF_DOCS,
        },
        created_in="0007",
    ),
    View(
        "county_lineage",
        "one row per county vintage × township × indicator: the township's signed vintage and figure the "
        "county figure was built from (a township with no signed vintage: one row, indicator NULL = 未报)",
        """SELECT c.township_code AS county_code, c.period, c.vintage AS county_vintage,
    c.id AS county_snapshot_id, cs.township_code, cs.source_snapshot_id AS township_snapshot_id,
    cs.source_vintage AS township_vintage, t.status AS township_status, t.signer AS township_signer,
    t.signed_at AS township_signed_at, tv.indicator_code, tv.ytd_value, tv.prior_ytd_value,
    CASE WHEN tv.ytd_value IS NOT NULL AND tv.prior_ytd_value IS NOT NULL THEN 1 ELSE 0 END AS comparable
FROM county_source cs
JOIN snapshot c ON c.id = cs.snapshot_id
LEFT JOIN snapshot t ON t.id = cs.source_snapshot_id
LEFT JOIN snapshot_value tv ON tv.snapshot_id = cs.source_snapshot_id""",
        {
            "county_code": "the county",
            "period": "the month, 'YYYY-MM'",
            "county_vintage": "the county vintage",
            "county_snapshot_id": "its snapshot id",
            "township_code": "a township of the county",
            "township_snapshot_id": "the township's signed vintage used (snapshot id); NULL = 未报",
            "township_vintage": "that vintage's number; NULL = 未报",
            "township_status": "preliminary (快报) or final (定报)",
            "township_signer": "who signed the township's vintage",
            "township_signed_at": "when",
            "indicator_code": "the indicator",
            "ytd_value": "the township's 1-本月累计 in that vintage",
            "prior_ytd_value": "the township's 去年同期 in that vintage",
            "comparable": "1 if the township has both years, i.e. enters the county's 同比 base (additive "
                          "indicators)",
        },
        created_in="0007",
    ),
    View(
        "township_ranking",
        "one row per county × period × township × indicator, from the county's latest vintage: "
        "各乡镇主要指标完成情况表 with the ranks",
        f"""SELECT c.township_code AS county_code, c.period, c.vintage AS county_vintage, cs.township_code,
    o.name AS township_name, cv.indicator_code, i.name AS indicator_name, i.unit, i.headline,
    cs.source_vintage AS township_vintage, tv.ytd_value, tv.yoy_pct, tv.target_pct,
    {_ranked("yoy_pct")} AS yoy_rank,
    {_ranked("target_pct")} AS target_rank
{_LATEST_COUNTY}
JOIN county_source cs ON cs.snapshot_id = c.id
JOIN org_unit o ON o.code = cs.township_code
JOIN snapshot_value cv ON cv.snapshot_id = c.id
JOIN indicator i ON i.code = cv.indicator_code
LEFT JOIN snapshot_value tv ON tv.snapshot_id = cs.source_snapshot_id AND tv.indicator_code = cv.indicator_code
{_LATEST}""",
        {
            "county_code": "the county",
            "period": "the month, 'YYYY-MM'",
            "county_vintage": "the county vintage the ranking belongs to",
            "township_code": "the township",
            "township_name": "its name",
            "indicator_code": "the indicator",
            "indicator_name": "its Chinese name",
            "unit": "canonical unit",
            "headline": "order among the headline indicators (the columns of the printed table); NULL = not one",
            "township_vintage": "the township's signed vintage used; NULL = 未报",
            "ytd_value": "1-本月累计 as the township signed it; NULL = 未报",
            "yoy_pct": "the township's 同比 %",
            "target_pct": "the township's 完成率 %",
            "yoy_rank": "位次 by 同比 among the townships with one, ties sharing a rank (1, 1, 3); NULL = unranked",
            "target_rank": "位次 by 完成率, the same way",
        },
        created_in="0007",
    ),
]


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
            "township_code": "the township (org unit code); a county's roll-up carries the county's code "
                             "(its 'reporters' are its townships; see county_indicators)",
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

VIEWS += COUNTY_VIEWS  # after the township views: they are created later (0007), on the tables of 0002-0006

IMMUTABLE_TABLES = ("snapshot", "snapshot_value", "snapshot_change", "snapshot_check")  # county_source: 0007


def view_sql(view: View, signed: bool = True) -> str:
    """The view's SQL; signed=False: without the sign-off columns (for migrations before 0005)."""
    return view.sql.replace("{signoff}", _SIGNOFF_COLUMNS if signed else "")


def create_views(op, signed: bool = True, upto: str | None = None) -> None:  # noqa: ANN001 - alembic Operations
    """(Re)create the views; upto: only those a migration up to that revision can create (default: all)."""
    for view in VIEWS:
        if upto is not None and view.created_in > upto:
            continue
        op.execute(f"DROP VIEW IF EXISTS {view.name}")
        op.execute(f"CREATE VIEW {view.name} AS\n{view_sql(view, signed)}")


def drop_views(op, views: list[View] | None = None) -> None:  # noqa: ANN001
    for view in reversed(views if views is not None else VIEWS):
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
