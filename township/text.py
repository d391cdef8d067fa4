"""Text normalisation shared by readers: full-width to half-width, stray spaces, cell values."""

from __future__ import annotations

import math
import unicodedata


def normalize_text(value: object) -> str:
    """NFKC-fold a cell (full-width digits and letters become ASCII) and strip whitespace."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    s = unicodedata.normalize("NFKC", str(value))
    return s.replace("\u3000", " ").strip()


def compact(value: object) -> str:
    """normalize_text with every inner space removed (for matching header labels)."""
    return "".join(normalize_text(value).split())
