"""Errors a user can fix: raised anywhere, shown by the CLI as one line (zh + en) naming what to change."""

from __future__ import annotations


class UserError(Exception):
    """A problem the user fixes (a setting, an argument, a file), not a bug: no traceback is shown for it."""

    def __init__(self, message_zh: str, message_en: str, fix: str | None = None):
        super().__init__(message_en)
        self.message_zh = message_zh
        self.message_en = message_en
        self.fix = fix
