"""Start a throwaway PostgreSQL server from Debian's binaries, on a free loopback port, for the tests.

Used by conftest.py (and by the benchmarks) when TOWNSHIP_TEST_POSTGRES_URL is not set.
PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


class PostgresUnavailable(RuntimeError):
    pass


def _bindir() -> Path:
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name))
    if not dirs:
        raise PostgresUnavailable("no PostgreSQL binaries under /usr/lib/postgresql/*/bin "
                                  "(apt-get install postgresql)")
    return Path(dirs[-1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PostgresServer:
    root: Path
    port: int
    user: str

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/postgres"

    def crash(self) -> None:
        """Stop at once, as a power cut would (`pg_ctl stop -m immediate`), keeping the data."""
        _run_as(self.user, [str(_bindir() / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "stop"],
                check=False)

    def start(self) -> None:
        """Start (again) on the same data folder and port."""
        opts = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                f"-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        _run_as(self.user, [str(_bindir() / "pg_ctl"), "-D", str(self.root / "data"), "-o", opts,
                            "-l", str(self.root / "server.log"), "-w", "-t", "60", "start"])

    def stop(self) -> None:
        self.crash()
        shutil.rmtree(self.root, ignore_errors=True)


def _run_as(user: str, cmd: list[str], check: bool = True) -> subprocess.CompletedProcess:
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", user, "--", *cmd]
    return subprocess.run(cmd, check=check, capture_output=True, text=True)


def start_postgres() -> PostgresServer:
    bindir = _bindir()
    user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
    root = Path(tempfile.mkdtemp(prefix="township-pg-"))
    os.chmod(root, 0o755)
    if os.geteuid() == 0:
        shutil.chown(root, user=user)
    port = free_port()
    try:
        _run_as(user, [str(bindir / "initdb"), "-D", str(root / "data"), "-U", user, "-A", "trust",
                       "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])
        PostgresServer(root, port, user).start()
    except subprocess.CalledProcessError as e:
        log = (root / "server.log").read_text() if (root / "server.log").exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        raise PostgresUnavailable(f"PostgreSQL did not start: {e.stderr}\n{log}") from e
    server = PostgresServer(root, port, user)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            time.sleep(0.2)
    server.stop()
    raise PostgresUnavailable("PostgreSQL started but does not accept connections")
