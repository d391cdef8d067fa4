"""Errors a user can fix (a missing folder, a wrong setting or argument), told in Chinese and English."""

from __future__ import annotations


class UserError(Exception):
    """A problem the user fixes, not a bug: the CLI prints it as one line, with no traceback.

    fix: the setting or argument to change (e.g. "TOWNSHIP_INBOX"), when there is one."""

    def __init__(self, message_zh: str, message_en: str, fix: str | None = None) -> None:
        super().__init__(message_en)
        self.message_zh = message_zh
        self.message_en = message_en
        self.fix = fix
