"""What the people of the monthly cycle are told, as short Chinese texts (pure: no IO).

A rejection names each cell and how to fix it; a reminder names the month, the deadline and the
folder; a sign-off request links the run waiting for the statistician; the published report goes to
the leaders with its paragraph. Messages are read on a phone (DingTalk, WeCom, mail): keep them short.
"""

from __future__ import annotations

from township.periods import Period

REJECTION = "rejection"
REMINDER_DUE = "reminder_due"  # before the deadline: nothing accepted yet
REMINDER_OVERDUE = "reminder_overdue"  # after the deadline: still nothing accepted
SIGNOFF_REQUEST = "signoff_request"
PUBLISHED_REPORT = "published_report"
KIND_ZH = {REJECTION: "退回通知", REMINDER_DUE: "报送提醒", REMINDER_OVERDUE: "逾期催报",
           SIGNOFF_REQUEST: "审核签发", PUBLISHED_REPORT: "月报发布"}

MAX_CELLS = 5  # a rejection lists this many cells; the receipt in the reporter's folder has them all

# How to fix each hard error, in the reporter's words (the message itself says what was found).
FIX_ZH = {
    "E_WRONG_FOLDER": "把文件放到本单位的收件夹 {expected}/ 中",
    "E_FILE_TYPE": "另存为 .xlsx 或 .csv 后重新报送",
    "E_FILE_UNREADABLE": "用 Excel 打开确认文件完好，另存为 .xlsx 后重新报送",
    "E_NO_TABLE": "使用统计站下发的报表模板，保留“指标代码”“本月”“1-本月累计”表头",
    "E_NO_PERIOD": "在“报告期”一栏填写月份，如 2021-10",
    "E_EMPTY": "填写指标行后重新报送",
    "E_REPORTER_MISMATCH": "单位代码填写为 {expected}",
    "E_REPORTER_UNKNOWN": "单位代码填写为本单位代码",
    "E_PERIOD_BAD": "报告期写作 2021-10 或 2021年10月",
    "E_PERIOD_FUTURE": "月份结束后再报送",
    "E_PERIOD_TOO_EARLY": "检查报告期的年份",
    "E_PERIOD_MIXED": "一个文件只填一个月",
    "E_INDICATOR_UNKNOWN": "使用模板中的指标代码",
    "E_INDICATOR_NOT_OWNED": "删除此行（由 {expected} 填报）",
    "E_VALUE_NOT_NUMBER": "填写数字；未发生填 0，无法提供请留空",
    "E_UNIT_UNKNOWN": "计量单位改为 {expected}（或可换算的单位，如 万元/亿元/元）",
    "E_NEGATIVE": "填写非负数",
    "E_DUPLICATE_ROW": "删除重复的行，只保留一行",
    "E_PART_EXCEEDS_TOTAL": "其中项不能大于合计 {expected}，请核对",
    "E_YTD_DECREASED": "本月累计不能小于上月累计 {expected}；如上月有误，请先报送上月更正",
    "E_IDENTITY": "本月累计应为 {expected}（上月累计 + 本月）",
    "E_STOCK_YTD_DIFFERS": "期末数的“1-本月累计”留空或填 {expected}",
}


def period_zh(period: Period | str) -> str:
    p = Period.parse(period) if isinstance(period, str) else period
    return f"{p.year}年{p.month}月"


def _where(c: dict) -> str:
    sheet, cell = c.get("sheet"), c.get("cell")
    return f"{sheet}!{cell}" if sheet and cell else (cell or sheet or "")


def _fix(c: dict) -> str:
    hint = FIX_ZH.get(c["code"])
    expected = c.get("expected") or ""
    if hint:
        return hint.format(expected=expected)
    return f"应为 {expected}" if expected else ""


def rejection_message(receipt: dict, township_name: str, reporter_name: str, receipt_path: str) -> tuple[str, str]:
    """Title and body telling a reporter its file was sent back: each cell, what is wrong, the fix."""
    period = receipt.get("period")
    month = f"（{period_zh(period)}）" if period else ""
    errors = [c for c in receipt["conflicts"] if c.get("severity") == "error"] or receipt["conflicts"]
    lines = [f"【{township_name}统计站】{reporter_name}：您报送的《{receipt['file']}》{month}未通过审核，已退回。"
             "请改正后重新放入收件夹："]
    for n, c in enumerate(errors[:MAX_CELLS], 1):
        where = _where(c)
        fix = _fix(c)
        lines.append(f"{n}. {where + ' ' if where else ''}{c['message_zh']}" + (f"。改正：{fix}" if fix else ""))
    if len(errors) > MAX_CELLS:
        lines.append(f"……共 {len(errors)} 处。")
    lines.append(f"完整回执：{receipt_path}")
    return f"{township_name} 报表退回：{receipt['file']}", "\n".join(lines)


def reminder_message(kind: str, township_name: str, reporter_name: str, period: Period, deadline: str,
                     folder: str, resubmit: bool) -> tuple[str, str]:
    """Title and body of a reminder: before the deadline (REMINDER_DUE) or after it (REMINDER_OVERDUE)."""
    month = period_zh(period)
    what = "报表已退回，尚未收到改正后的报表" if resubmit else "报表尚未收到"
    if kind == REMINDER_DUE:
        body = (f"【{township_name}统计站】{reporter_name}：{month}{what}，报送截止时间为 {deadline}。"
                f"请按时放入收件夹 {folder}/。")
        return f"{township_name} {month}报表报送提醒", body
    body = (f"【{township_name}统计站】{reporter_name}：{month}{what}，已超过截止时间 {deadline}。"
            f"请尽快放入收件夹 {folder}/，逾期报送将记为迟报。")
    return f"{township_name} {month}报表逾期催报", body


def signoff_request_message(township_name: str, period: Period, run_url: str, summary: str = "") -> tuple[str, str]:
    """Title and body asking the statistician to review and sign off a month (the run waits for it)."""
    month = period_zh(period)
    body = (f"【{township_name}】{month}主要指标已生成，等待审核签发。"
            + (f"{summary}" if summary else "")
            + f"\n请打开并签发（快报 / 定报 / 退回）：{run_url}")
    return f"{township_name} {month}数据待审核签发", body


def published_message(township_name: str, period: Period, vintage: int, status_zh: str, paragraph: str,
                      report_url: str) -> tuple[str, str]:
    """Title and body sending the leaders the month's published paragraph and where the report is."""
    month = period_zh(period)
    revised = "（修订）" if vintage > 1 else ""
    body = (f"【{township_name}】{month}主要指标{status_zh}{revised}（第{vintage}版）：\n{paragraph}\n"
            f"完整报告：{report_url}")
    return f"{township_name} {month}主要指标{status_zh}{revised}", body
