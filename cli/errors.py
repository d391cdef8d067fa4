"""Errors for the person at the terminal: one line, in Chinese and English, naming what to change.

Every command runs inside `OneLineErrors`: an exception becomes that line on stderr and exit code 2;
`township --debug ...` lets it through with its traceback instead.
"""

from __future__ import annotations

import copy
import logging

import click
import sqlalchemy.exc
import typer
from rich.console import Console
from typer.core import TyperGroup

from township.catalog import CatalogError
from township.errors import UserError
from township.periods import PeriodError

EXIT_ERROR = 2
WAREHOUSE_FIX = "TOWNSHIP_WAREHOUSE_URL / --warehouse"
stderr = Console(stderr=True)


def _flat(text: object, limit: int = 400) -> str:
    """Several lines as one: 'invalid catalog:\\n  a\\n  b' → 'invalid catalog: a; b'."""
    lines = [s.strip() for s in str(text).splitlines() if s.strip()]
    flat = (lines[0] + " " + "; ".join(lines[1:])).strip() if lines else ""
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


def warehouse_error(exc: sqlalchemy.exc.SQLAlchemyError, url: str | None = None) -> UserError:
    """The warehouse cannot be opened: name it (password hidden) and the driver's first line."""
    where = ""
    if url:
        try:
            where = " " + sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
        except sqlalchemy.exc.ArgumentError:
            where = ""
    reason = _flat(getattr(exc, "orig", None) or exc, 200)
    return UserError(f"无法打开数据仓库{where}", f"cannot open the warehouse{where}: {reason}",
                     WAREHOUSE_FIX)


def as_user_error(exc: BaseException) -> UserError:
    """What the user reads for an exception: its own words for a UserError, else the kind of problem."""
    if isinstance(exc, UserError):
        return exc
    if isinstance(exc, CatalogError):
        return UserError("目录（catalog）有误", _flat(exc), "the catalog files, TOWNSHIP_CATALOG_DIR / --catalog")
    if isinstance(exc, PeriodError):
        return UserError("报告期无效", str(exc), "--period 2021-10")
    if isinstance(exc, (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError,
                        sqlalchemy.exc.ArgumentError, sqlalchemy.exc.NoSuchModuleError)):
        return warehouse_error(exc)
    if isinstance(exc, FileNotFoundError):
        return UserError(f"找不到文件或文件夹 {exc.filename}", f"no such file or folder: {exc.filename}")
    if isinstance(exc, PermissionError):
        return UserError(f"没有权限访问 {exc.filename}", f"permission denied: {exc.filename}")
    kind = type(exc).__name__
    return UserError(f"意外错误 {kind}", f"unexpected error {kind}: {_flat(exc, 300)}",
                     "township --debug ... shows the traceback")


def one_line(err: UserError) -> str:
    line = f"错误 error: {err.message_zh} / {err.message_en}"
    return line + (f" — 请修改 fix: {err.fix}" if err.fix else "")


class OneLineErrors(TyperGroup):
    """The `township` group: an error in any command ends as one line and exit 2 (unless --debug)."""

    def invoke(self, ctx: click.Context):  # noqa: ANN201
        try:
            return super().invoke(ctx)
        except (typer.Exit, click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise  # an exit code, Ctrl-C or a usage error: click already says it briefly
        except Exception as exc:
            if ctx.params.get("debug"):
                raise
            stderr.print(one_line(as_user_error(exc)), soft_wrap=True, markup=False, highlight=False)
            raise typer.Exit(EXIT_ERROR) from None


class _WithoutTraceback(logging.Formatter):
    """A console formatter that writes a record's message but not its traceback (the API handler keeps it)."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        bare = copy.copy(record)  # the record is shared with the other handlers: leave it whole for them
        bare.exc_info, bare.exc_text, bare.stack_info = None, None, None
        return self.inner.format(bare)


def hide_log_tracebacks() -> None:
    """Prefect logs a failing task's or flow's traceback to the terminal before the error reaches the CLI;
    keep only its message line there. Call after Prefect is imported (it configures logging then);
    Prefect's API log handler still sends the whole traceback to the server (the UI shows it)."""
    from prefect.logging.handlers import APILogHandler

    for name in ("", "prefect", "prefect._internal"):
        for handler in logging.getLogger(name).handlers:
            # Prefect's terminal handlers only (not a test's log capture, not the API's)
            if (not type(handler).__module__.startswith("prefect.") or isinstance(handler, APILogHandler)
                    or isinstance(handler.formatter, _WithoutTraceback)):
                continue
            handler.setFormatter(_WithoutTraceback(handler.formatter or logging.Formatter()))
