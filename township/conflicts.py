"""Conflict codes: every problem intake can report, with its severity and its message in Chinese and English.

E_* are hard errors (the submission is rejected whole); W_* are soft warnings (loaded, flagged for
follow-up). Codes are stable: reporters, receipts and analysts' queries rely on them.
Templates use {indicator}, {expected}, {found}, {cell}, {sheet}, {file} and any extra fields given.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

ERROR, WARNING = "error", "warning"

# code: (severity, message_zh, message_en)
CODES: dict[str, tuple[str, str, str]] = {
    # file level
    "E_WRONG_FOLDER": (ERROR, "文件应放在本单位的收件夹 {expected} 中，而不是 {found}",
                       "file must be in the reporter's inbox folder {expected}, not {found}"),
    "E_FILE_TYPE": (ERROR, "不支持的文件类型 {found}，请提交 .xlsx、.xls 或 .csv",
                    "unsupported file type {found}; send .xlsx, .xls or .csv"),
    "E_FILE_NOT_REGULAR": (ERROR, "{file} 不是普通文件（{found}），未读取；请放入报表文件本身",
                           "{file} is not a regular file ({found}) and was not read; put the form file itself"),
    "E_FILE_TOO_LARGE": (ERROR, "文件过大，未读取：{found}，上限为 {expected}",
                         "file too large, not read: {found}; the limit is {expected}"),
    "E_FILE_UNREADABLE": (ERROR, "文件无法读取：{found}", "file cannot be read: {found}"),
    "E_ARCHIVE_FAILED": (ERROR, "文件暂未能存档（{found}），未入库，将在下次运行时自动重试",
                         "file could not be archived ({found}); nothing of it is stored, it is retried on the next run"),
    "E_NO_TABLE": (ERROR, "未找到报表表头（需含“指标代码”和“本月”或“1-本月累计”）",
                   "no table header found (needs 指标代码 and 本月 or 1-本月累计)"),
    "E_NO_PERIOD": (ERROR, "未填写报告期", "the form has no 报告期 (period)"),
    "E_EMPTY": (ERROR, "报表中没有任何指标行", "the form has no indicator rows"),
    # header / identity
    "E_REPORTER_MISMATCH": (ERROR, "单位代码 {found} 与收件夹 {expected} 不一致",
                            "单位代码 {found} does not match the inbox folder {expected}"),
    "E_REPORTER_UNKNOWN": (ERROR, "未知的填报单位 {found}", "unknown reporter {found}"),
    "E_PERIOD_BAD": (ERROR, "报告期 {found} 无法识别，应为如 2021-10 或 2021年10月",
                     "period {found} is not a month (write 2021-10 or 2021年10月)"),
    "E_PERIOD_FUTURE": (ERROR, "报告期 {found} 尚未结束", "period {found} has not ended yet"),
    "E_PERIOD_TOO_EARLY": (ERROR, "报告期 {found} 早于系统起始年份 {expected}",
                           "period {found} is before the first year {expected}"),
    "E_PERIOD_MIXED": (ERROR, "同一文件包含多个报告期：{found}", "one file holds several periods: {found}"),
    # rows
    "E_INDICATOR_UNKNOWN": (ERROR, "未知的指标代码 {found}", "unknown indicator code {found}"),
    "E_INDICATOR_NOT_OWNED": (ERROR, "指标 {indicator} 不由本单位填报（应由 {expected} 填报）",
                              "indicator {indicator} is not reported by this reporter (owner: {expected})"),
    "E_VALUE_NOT_NUMBER": (ERROR, "{cell} 的值 {found} 不是数字", "value {found} in {cell} is not a number"),
    "E_UNIT_UNKNOWN": (ERROR, "计量单位 {found} 无法换算为 {expected}",
                       "unit {found} cannot be converted to {expected}"),
    "E_NEGATIVE": (ERROR, "{indicator} 不能为负数，填报值为 {found}",
                   "{indicator} cannot be negative; found {found}"),
    "E_DUPLICATE_ROW": (ERROR, "指标 {indicator} 重复填报且数值不同", "indicator {indicator} appears twice with different values"),
    "E_PART_EXCEEDS_TOTAL": (ERROR, "{indicator}（其中项）{found} 大于合计 {expected}",
                             "{indicator} (a part) {found} exceeds its total {expected}"),
    "E_YTD_DECREASED": (ERROR, "{indicator} 本月累计 {found} 小于上月累计 {expected}",
                        "{indicator} year-to-date {found} is below last month's {expected}"),
    "E_IDENTITY": (ERROR, "{indicator}：上月累计 + 本月 应等于本月累计 {expected}，填报为 {found}",
                   "{indicator}: last month's ytd + this month should equal {expected}; found {found}"),
    "E_STOCK_YTD_DIFFERS": (ERROR, "{indicator} 为期末数，1-本月累计应留空或与本月相同，填报为 {found}",
                            "{indicator} is a month-end level; ytd must be blank or equal the month value ({expected}); found {found}"),
    # soft
    "W_YOY_SWING": (WARNING, "{indicator} 同比变动 {found}，超过 ±50%，请在备注中说明",
                    "{indicator} changed {found} year on year (beyond ±50%); explain in 备注"),
    "W_OUTLIER": (WARNING, "{indicator} 本月值 {found} 明显偏离历史水平（中位数 {expected}）",
                  "{indicator} month value {found} is far outside its history (median {expected})"),
    "W_UNIT_SHIFT": (WARNING, "{indicator} 本月值 {found} 约为历史水平 {expected} 的一万倍或万分之一，请检查计量单位",
                     "{indicator} month value {found} is about 10,000× off its history ({expected}); check the unit"),
    "W_PERIOD_FINAL": (WARNING, "报告期 {found} 已定报，本次更正已受理并保存，须经审核签发修订后才生效",
                       "period {found} is final (定报): the correction is stored as a pending revision and "
                       "becomes current only when a revision is signed off"),
    "W_REPEATED": (WARNING, "{indicator} 本月值 {found} 与上月完全相同", "{indicator} month value {found} repeats last month's exactly"),
}


@dataclass
class Conflict:
    """One problem in one submission, pointing at the sheet and cell where it is."""

    code: str
    file_name: str = ""
    sheet: str | None = None
    cell: str | None = None
    indicator_code: str | None = None
    expected: str | None = None
    found: str | None = None
    note: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def severity(self) -> str:
        return CODES[self.code][0]

    def _fmt(self, template: str) -> str:
        fields = {"indicator": self.indicator_code or "", "expected": self.expected or "",
                  "found": self.found or "", "cell": self._where(), "sheet": self.sheet or "",
                  "file": self.file_name, **self.extra}
        return template.format(**fields)

    def _where(self) -> str:
        if self.sheet and self.cell:
            return f"{self.sheet}!{self.cell}"
        return self.cell or self.sheet or ""

    @property
    def message_zh(self) -> str:
        return self._fmt(CODES[self.code][1])

    @property
    def message_en(self) -> str:
        return self._fmt(CODES[self.code][2])

    def as_record(self) -> dict:
        d = asdict(self)
        d.pop("extra")
        d.update(severity=self.severity, message_zh=self.message_zh, message_en=self.message_en,
                 location=self._where())
        return d

    def log_line(self) -> str:
        return f"{self.code} {self.file_name} {self._where()}: {self.message_en}"


class FormError(Exception):
    """A file that cannot be read as a form at all (raised by readers, turned into a rejection)."""

    def __init__(self, conflict: Conflict):
        super().__init__(conflict.log_line())
        self.conflict = conflict
