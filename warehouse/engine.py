"""Engines for the warehouse: SQLite (WAL, busy timeout, foreign keys) or PostgreSQL (psycopg 3)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SCHEMA_LOCK_KEY = 0x73636D61  # arbitrary constant: "migrating or syncing the catalog" advisory lock


def normalize_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever driver the URL names."""
    u = make_url(url)
    if u.get_backend_name() == "postgresql" and u.drivername != "postgresql+psycopg":
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def make_engine(url: str) -> Engine:
    """An engine for the warehouse URL; creates the SQLite file's folder if needed."""
    url = normalize_url(url)
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # noqa: ANN001
            # Autocommit at the driver level; SQLAlchemy's "begin" event below issues BEGIN itself,
            # so that writers take the lock up front (BEGIN IMMEDIATE) instead of deadlocking later.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # noqa: ANN001
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("write") else "BEGIN")

        return engine
    # A server that does not answer (a firewall dropping packets) fails in 10 s with a clear error, not
    # after the operating system's TCP timeout of minutes; a URL's own connect_timeout wins.
    args = {} if "connect_timeout" in u.query else {"connect_timeout": 10}
    return create_engine(url, pool_pre_ping=True, connect_args=args)


def alembic_config(engine: Engine) -> Config:
    # alembic (with mako and pygments, ~0.3 s) is imported by the paths that migrate, not by those that only read
    # (`township check`, the reminder)
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the warehouse schema to `revision` (default: the newest). Safe to run repeatedly."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


@contextmanager
def schema_lock(engine: Engine) -> Iterator[None]:
    """On PostgreSQL, one process at a time migrates and syncs the catalog: workers starting together on a
    fresh warehouse would otherwise both create the tables (or insert the same catalog rows) and one would fail."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as conn:  # a session lock on a connection of its own, held across their transactions
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": SCHEMA_LOCK_KEY})
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": SCHEMA_LOCK_KEY})


@contextmanager
def connected(source: Engine | Connection) -> Iterator[Connection]:
    """A connection to read with: the given one (inside its caller's transaction), or a new one of the engine."""
    if isinstance(source, Connection):
        yield source
        return
    with source.connect() as conn:
        yield conn


@contextmanager
def one_snapshot(engine: Engine) -> Iterator[Connection]:
    """A connection whose reads, until the block ends, all see one state of the warehouse: a transaction, on
    PostgreSQL REPEATABLE READ (READ COMMITTED would let each statement see a batch committed in between),
    on SQLite a read transaction (WAL: a snapshot from its first read)."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield conn


def has_table(engine: Engine, name: str) -> bool:
    """Whether the warehouse has this table yet. Read-only paths (status, the reminder) do not migrate: on a
    warehouse not yet upgraded by `township init` (or an intake run) they skip what needs a newer table."""
    from sqlalchemy import inspect

    found = inspect(engine).has_table(name)
    if not found:
        logging.getLogger(__name__).warning("the warehouse has no table %s yet: run `township init` to upgrade it",
                                            name)
    return found


def head_revision() -> str:
    """The newest migration's revision: what `upgrade` brings a warehouse to."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def copy_rows(conn: Connection, table: str, cols: list[str], types: list[str], rows: Iterable[tuple]) -> None:
    """Binary COPY of rows into a PostgreSQL table: no text formatting of numbers and times on either side, and one
    statement however many rows (an INSERT per row costs the server a parse, plan and execute each)."""
    raw = conn.connection.driver_connection
    with raw.cursor() as cur:
        with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(types)
            for row in rows:
                copy.write_row(row)
