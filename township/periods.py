"""Reporting periods: one calendar month, written `YYYY-MM` everywhere, parsed from what forms say."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from township.text import normalize_text

# Forms write periods many ways; all of these mean October 2021:
# 2021-10, 2021年10月, 202110, 2021.10, 2021/10, 2021年1-10月, 2021年1—10月, 2021-10-31
_PATTERNS = [
    re.compile(r"^(?P<y>\d{4})年(?:1\s*[-—–~至到]\s*)?(?P<m>\d{1,2})月(?:份)?$"),
    re.compile(r"^(?P<y>\d{4})\s*[-./](?P<m>\d{1,2})(?:\s*[-./]\d{1,2})?$"),
    re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})$"),
]


class PeriodError(ValueError):
    """Text that is not a month."""


@dataclass(frozen=True, order=True)
class Period:
    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise PeriodError(f"month {self.month} is not between 1 and 12")

    @classmethod
    def parse(cls, text: object) -> Period:
        if isinstance(text, Period):
            return text
        if isinstance(text, (dt.date, dt.datetime)):
            return cls(text.year, text.month)
        s = normalize_text(text).replace(" ", "")
        for pat in _PATTERNS:
            m = pat.match(s)
            if m:
                return cls(int(m["y"]), int(m["m"]))
        raise PeriodError(f"{text!r} is not a period (write it as 2021-10 or 2021年10月)")

    @classmethod
    def current(cls, tz: ZoneInfo) -> Period:
        now = dt.datetime.now(tz)
        return cls(now.year, now.month)

    @classmethod
    def previous_month(cls, tz: ZoneInfo) -> Period:
        return cls.current(tz).prev()

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def prev(self) -> Period:
        return Period(self.year - 1, 12) if self.month == 1 else Period(self.year, self.month - 1)

    def next(self) -> Period:
        return Period(self.year + 1, 1) if self.month == 12 else Period(self.year, self.month + 1)

    def same_month_last_year(self) -> Period:
        return Period(self.year - 1, self.month)

    @property
    def label_zh(self) -> str:
        """How reports name the cumulative span: 1-10月, 1月."""
        return "1月" if self.month == 1 else f"1-{self.month}月"

    def title_zh(self) -> str:
        return f"{self.year}年{self.label_zh}"
