"""Shared fixtures: every warehouse test runs on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.pg_server import start_postgres


def _throwaway_files_in_memory(shm: Path = Path("/dev/shm"), need: int = 4 << 30) -> None:
    """Every temporary file of the run (pytest's tmp_path, the PostgreSQL cluster, the servers' homes, the
    processes the tests start) goes to the machine's RAM disk, when it has a large one and TMPDIR names no
    other place. On this kind of machine the disk is ext4 mounted with `discard`: each file deleted costs
    ~2 ms, and a run deletes ~100,000 (a test database alone is ~300 files), which cost minutes of wall time
    at the end of every run. Nothing of a test run needs to outlive the machine."""
    if os.environ.get("TMPDIR"):
        return
    try:
        mounts = Path("/proc/mounts").read_text().split("\n")
        stat = os.statvfs(shm)
    except OSError:
        return
    if not any(line.split()[1:3] == [str(shm), "tmpfs"] for line in mounts if line) or \
            stat.f_bavail * stat.f_frsize < need:
        return
    root = shm / f"township-tests-{os.getuid()}"
    root.mkdir(exist_ok=True)
    root.chmod(0o755)  # the PostgreSQL server, run as `postgres` under root, reaches its folder through it
    os.environ["TMPDIR"] = str(root)
    tempfile.tempdir = None  # gettempdir() reads TMPDIR again


assert "prefect" not in sys.modules, "Prefect was imported before the tests' PREFECT_HOME was set"
_throwaway_files_in_memory()
# This test process's own Prefect home (its temporary server's database, profiles): never the user's ~/.prefect,
# and on a fresh machine never one database that two xdist workers migrate at once. Set before Prefect is imported.
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="prefect-home-")
atexit.register(shutil.rmtree, os.environ["PREFECT_HOME"], ignore_errors=True)  # after the server: registered first
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
import prefect.main  # noqa: E402, F401 - after PREFECT_HOME; sets up Prefect's logging now: its console handler keeps the stderr of that moment (the real one, not a CliRunner's that is closed after the call)

# as `make test` exports it: on two busy cores Prefect's temporary server can take more than its default 20 s
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
# the parsed-catalog cache of this run, not the user's ~/.cache (subprocess tests with their own HOME get theirs)
os.environ.setdefault("TOWNSHIP_CACHE_DIR", tempfile.mkdtemp(prefix="township-cache-"))

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "test-output"


@pytest.fixture(scope="session")
def postgres_admin_url():
    """A PostgreSQL server for the whole run: TOWNSHIP_TEST_POSTGRES_URL, or one started here.
    If neither works the tests fail: they never silently skip PostgreSQL."""
    url = os.environ.get("TOWNSHIP_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    server = start_postgres()
    try:
        yield server.url
    finally:
        server.stop()


def _new_pg_database(admin_url: str) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def _drop_pg_database(admin_url: str, url: str) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:  # FORCE: connections a test left open in its engines' pools
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse_url(request, tmp_path):
    """An empty warehouse database (not yet migrated), on each backend in turn; a PostgreSQL one is dropped
    after the test (the cluster would otherwise hold hundreds of databases by the end of the run)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'warehouse.db'}"
        return
    admin_url = request.getfixturevalue("postgres_admin_url")
    url = _new_pg_database(admin_url)
    yield url
    _drop_pg_database(admin_url, url)


@pytest.fixture
def catalog():
    from township.catalog import load_catalog

    from township.settings import DEFAULT_CATALOG_DIR

    return load_catalog(DEFAULT_CATALOG_DIR)


@pytest.fixture
def runtime(warehouse_url, tmp_path, monkeypatch):
    """A migrated warehouse with the default catalog, and inbox/archive/publish folders in tmp."""
    from warehouse.runtime import open_runtime
    from township.settings import get_settings

    for name, sub in [("INBOX", "inbox"), ("ARCHIVE", "archive"), ("PUBLISH_DIR", "published")]:
        (tmp_path / sub).mkdir(exist_ok=True)
        monkeypatch.setenv(f"TOWNSHIP_{name}", str(tmp_path / sub))
    monkeypatch.setenv("TOWNSHIP_WAREHOUSE_URL", warehouse_url)
    get_settings.cache_clear()
    rt = open_runtime()
    yield rt
    rt.engine.dispose()
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def prefect_server(prefect_database):
    """This test process's one Prefect server, shared by every test here that runs flows in-process (through the
    CLI or directly): the temporary server `township` itself starts when no PREFECT_API_URL is set
    (cli/prefect_api.py), so the CLI's own calls in other tests find it running. A real `prefect server`
    subprocess; started once per test process rather than once per module, since each start costs ~15 CPU-s."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from cli.prefect_api import use_prefect_api
    from tests.prefect_drain import drain_prefect_workers

    from scripts.serve import seed_prefect_home

    seed_prefect_home(Path(os.environ["PREFECT_HOME"]), prefect_database)  # migrated once for the run
    with temporary_settings(restore_defaults={PREFECT_API_URL}):  # not a stack some other fixture points us at
        url = use_prefect_api()
    yield url
    drain_prefect_workers()  # before the server stops at the session's end: see tests/prefect_drain.py


def pytest_sessionfinish(session):  # noqa: ANN001, ARG001
    """Stop the temporary Prefect server of this process (the fixture's, or one the CLI started in a test) while
    pytest's output is still open: stopped at exit instead, Prefect logs it to a closed stream, a traceback."""
    if "prefect.server.api.server" in sys.modules:
        from prefect.server.api.server import SubprocessASGIServer

        SubprocessASGIServer().stop()  # the instance Prefect's clients and cli/prefect_api.py use


@pytest.fixture(scope="session")
def prefect_database(tmp_path_factory) -> Path:
    """A Prefect database migrated once for the whole run (the xdist workers share it, made by the first under a
    lock): the test stacks copy it into their fresh homes and start without migrating (~7 CPU-s a server)."""
    import fcntl

    from scripts.serve import migrate_prefect_database

    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # pytest-N/, above each popen-gwN/
    done = shared / "prefect-database" / "prefect.db"
    with open(shared / "prefect-database.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            made = migrate_prefect_database(shared / f"prefect-database.{os.getpid()}")
            made.parent.rename(done.parent)
    return done


@pytest.fixture
def prefect_api(prefect_server, monkeypatch):
    """The test's flows, and the processes it starts (Dask workers inherit the environment), report to the
    shared server, named by PREFECT_API_URL as under `make serve`."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    monkeypatch.setenv("PREFECT_API_URL", prefect_server)
    with temporary_settings(updates={PREFECT_API_URL: prefect_server}):
        yield prefect_server


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the marker to group the tests
def pytest_collection_modifyitems(config, items):  # noqa: ANN001, ARG001
    """Under `pytest -n N --dist loadgroup` (make test), the tests on the package's one Prefect stack (those that
    use the `prefect_stack` fixture, directly or through another) go to one worker together, so the stack starts
    once. Modules whose tests share an expensive module-scoped fixture (a wheel, a stack, the demo inbox) mark
    themselves with an xdist_group of their own for the same reason (a module fixture is built once per worker).
    Every other test is spread over the workers."""
    for item in items:
        if "prefect_stack" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("prefect-stack"))
