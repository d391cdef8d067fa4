"""Cell values as reporters write them, turned into numbers and units: pure functions, no IO.

Blank and "—" mean *not reported* (NaN, no error), which is a different answer from 0; text that is
not one number (a percent, words, two numbers) is NaN with a short reason that intake reports.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from functools import lru_cache

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from township.text import compact

# What reporters write for "nothing to report" (after NFKC, so the full-width hyphen is "-").
NOT_REPORTED = frozenset({"", "-", "--", "—", "——", "–", "––", "―", "/", "\\", "无", "N/A", "n/a"})

_DIGITS = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+"
_NUMBER = re.compile(rf"[+-]?(?:{_DIGITS})")
_PARENTHESISED = re.compile(rf"\((?:{_DIGITS})\)")  # accountants' (5) for -5
_COMMA_DIGITS = re.compile(r"[+-]?[\d,]+(?:\.\d+)?")
_DIGIT_RUN = re.compile(r"\d+(?:[.,]\d+)*")
_LETTER = re.compile(r"[^\W\d_]")  # any letter, including CJK
_NUMBER_TYPES = (float, int, np.floating, np.integer)
_DATE_TYPES = (dt.date, dt.datetime, dt.time, pd.Timestamp)

# reasons, kept short and English: intake maps them to E_VALUE_NOT_NUMBER messages
PERCENT, WORDS, TWO_NUMBERS, BAD_COMMAS, DATE, NOT_A_NUMBER = (
    "percent sign", "words", "two numbers", "misplaced thousands separator", "date", "not a number")


def parse_values(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Numbers (float64, NaN = not reported or unreadable) and error reasons ('' = fine) of a column."""
    if is_numeric_dtype(raw.dtype) and not is_bool_dtype(raw.dtype):
        # the common case for Excel columns of real numbers: nothing to parse
        return raw.astype("float64"), pd.Series("", index=raw.index, dtype="str")
    values, errors = parse_cells(raw.to_numpy(dtype=object))
    return pd.Series(values, index=raw.index), pd.Series(errors, index=raw.index, dtype="str")


def parse_cells(cells) -> tuple[np.ndarray, list[str]]:
    """parse_values for a plain sequence of cells (floats, text, dates...), without pandas overhead.

    Text is parsed once per distinct string (cached): CSV columns repeat themselves a lot.
    """
    parsed = [parse_value(v) for v in cells]
    return np.fromiter((p[0] for p in parsed), dtype="float64", count=len(parsed)), [p[1] for p in parsed]


def parse_value(cell: object) -> tuple[float, str]:
    """One cell: (number, '') or (NaN, '') for not reported, or (NaN, reason) when it is not a number."""
    kind = type(cell)
    if kind is float or kind is int:
        return float(cell), ""
    if cell is None:
        return math.nan, ""
    if isinstance(cell, str):
        return _parse_text(cell)
    if isinstance(cell, _NUMBER_TYPES) and not isinstance(cell, (bool, np.bool_)):
        return float(cell), ""
    return math.nan, DATE if isinstance(cell, _DATE_TYPES) else NOT_A_NUMBER


@lru_cache(maxsize=65536)
def _parse_text(text: str) -> tuple[float, str]:
    s = unicodedata.normalize("NFKC", text).strip().replace("\u2212", "-")
    if s in NOT_REPORTED:
        return math.nan, ""
    if _NUMBER.fullmatch(s):
        return float(s.replace(",", "")), ""
    if _PARENTHESISED.fullmatch(s):
        return -float(s[1:-1].replace(",", "")), ""
    if "%" in s or "‰" in s:
        return math.nan, PERCENT
    if _LETTER.search(s):
        return math.nan, WORDS
    if len(_DIGIT_RUN.findall(s)) >= 2:
        return math.nan, TWO_NUMBERS
    if _COMMA_DIGITS.fullmatch(s):
        return math.nan, BAD_COMMAS
    return math.nan, NOT_A_NUMBER


def cell_text(value: object) -> str:
    """A cell as the reporter sees it: 1234.0 -> '1234', a date -> '2021-10-31', text stripped."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return str(value).upper()
    if isinstance(value, _NUMBER_TYPES):
        f = float(value)
        if math.isnan(f):
            return ""
        return str(int(f)) if f.is_integer() and abs(f) < 1e16 else repr(f)
    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        return value.date().isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value).strip()


_BRACKETS = "()[]<>【】〔〕{}"
_UNIT_LABEL = re.compile(r"^(?:计量单位|单位)[:：]?")


def parse_unit(text: object) -> str:
    """'单位：亿元', '(万元)', '万 元' -> '亿元' / '万元'; '' when nothing is written."""
    s = compact(text).strip(_BRACKETS)
    s = _UNIT_LABEL.sub("", s)
    return s.strip(_BRACKETS + ":")
