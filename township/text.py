"""Text normalisation shared by readers: full-width to half-width, stray spaces, cell values."""

from __future__ import annotations

import math
import unicodedata
from functools import lru_cache


def normalize_text(value: object) -> str:
    """NFKC-fold a cell (full-width digits and letters become ASCII) and strip whitespace."""
    if type(value) is str:
        return _normalized(value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return _normalized(str(value))


def compact(value: object) -> str:
    """normalize_text with every inner space removed (for matching header labels)."""
    return _compacted(value) if type(value) is str else "".join(normalize_text(value).split())


# Forms repeat the same labels, codes and names in every file (32,000 a province month): fold each text once.
@lru_cache(maxsize=65536)
def _normalized(text: str) -> str:
    return unicodedata.normalize("NFKC", text).replace("\u3000", " ").strip()


@lru_cache(maxsize=65536)
def _compacted(text: str) -> str:
    return "".join(_normalized(text).split())


def printable(value: str, keep: str = "") -> str:
    """The text with what cannot be stored or shown safely made visible as escapes: bytes that were not
    UTF-8 (file names come from the OS as surrogates) and control characters (NUL, ESC…) become
    \\xNN. keep: control characters to leave as they are (e.g. "\\t\\n\\r" in a note)."""
    if value.isprintable():  # the common case, one C-level scan
        return value
    if any("\udc80" <= ch <= "\udcff" for ch in value):
        value = value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return "".join(ch if ch.isprintable() or ch in keep or ch == " " or ord(ch) > 0x9F and _visible(ch)
                   else f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}" for ch in value)


def _visible(ch: str) -> bool:
    # isprintable() is False for every separator but the space (U+3000, NBSP…) and for format characters;
    # those are harmless text. Only controls (Cc), surrogates (Cs) and unassigned (Cn) are escaped.
    return unicodedata.category(ch) not in ("Cc", "Cs", "Cn")
