"""`make serve`: a local Prefect server, the `township` work pool, every deployment in prefect.yaml, a worker,
and the publish folder (reports, Data Docs) over HTTP on loopback, which the worker's artifacts link to.

The system tests start the very same stack through `PrefectStack`, so what they test is what `make serve` runs.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK_POOL = "township"

# Nothing in the stack calls the internet: no analytics, no promotional content fetched by the UI.
OFFLINE_ENV = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
    "PREFECT_CLOUD_ENABLE_ORCHESTRATION_TELEMETRY": "false",
}


_REDIRECTING = {"PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_HOME", "PREFECT_PROFILE", "PREFECT_PROFILES_PATH",
                "PREFECT_UI_API_URL", "PREFECT_SERVER_UI_API_URL"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def migrate_prefect_database(home: Path) -> Path:
    """`prefect server database upgrade` into `home`, with no server started; returns the database file, which
    `PrefectStack(database=...)` copies into fresh homes."""
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in _REDIRECTING} | OFFLINE_ENV | {"PREFECT_HOME": str(home)}
    subprocess.run([str(Path(sys.executable).with_name("prefect")), "server", "database", "upgrade", "-y"],
                   env=env, check=True, capture_output=True, timeout=300)
    return home / "prefect.db"


def seed_prefect_home(home: Path, database: Path) -> None:
    """A home with no Prefect database yet gets a copy of `database` (from migrate_prefect_database): its server
    then starts without migrating."""
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "prefect.db").exists():
        shutil.copyfile(database, home / "prefect.db")


class StackError(RuntimeError):
    """A part of the stack did not come up; the message names it and the log to read."""


@dataclass
class PrefectStack:
    """A Prefect server on 127.0.0.1 with its own PREFECT_HOME, plus the workers started on it."""

    home: Path
    port: int = 4200
    logs: Path | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    # A Prefect database already migrated by this Prefect (`migrate_prefect_database`), copied into a home that
    # has none: the server then starts without running its migrations (~7 of its ~13 CPU-s on a fresh home).
    database: Path | None = None
    prefect: str = str(Path(sys.executable).with_name("prefect"))
    _procs: list[tuple[str, subprocess.Popen]] = field(default_factory=list)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """The environment every client of this server needs (CLI, worker, `get_client()`)."""
        # The caller's own Prefect target (a profile, another server) must not leak into this stack.
        env = {k: v for k, v in os.environ.items() if k not in _REDIRECTING}
        env.update(OFFLINE_ENV)
        env.update({
            "PREFECT_HOME": str(self.home),
            "PREFECT_API_URL": self.api_url,
            "PREFECT_SERVER_API_HOST": "127.0.0.1",
            "PREFECT_SERVER_API_PORT": str(self.port),
            # Clients must never fall back to a throwaway ephemeral server if the real one is slow.
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
        })
        env.update(self.extra_env)
        return env

    @contextmanager
    def _output(self, name: str) -> Iterator[dict]:
        """stdout/stderr for a child: its own log file (closed here once the child holds it), or the terminal."""
        if self.logs is None:
            yield {}  # `make serve` shows everything in the terminal
            return
        self.logs.mkdir(parents=True, exist_ok=True)
        with open(self.logs / f"{name}.log", "ab") as out:
            yield {"stdout": out, "stderr": subprocess.STDOUT}

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        with self._output(name) as out:
            proc = subprocess.Popen([self.prefect, *args], cwd=ROOT, env=self.env, start_new_session=True, **out)
        self._procs.append((name, proc))
        return proc

    def _run(self, name: str, args: list[str]) -> None:
        with self._output(name) as out:
            done = subprocess.run([self.prefect, *args], cwd=ROOT, env=self.env, timeout=300, **out)
        if done.returncode != 0:
            raise StackError(f"`prefect {' '.join(args)}` failed (exit {done.returncode}); "
                             f"see {self.logs / (name + '.log') if self.logs else 'the output above'}")

    def start_server(self, timeout: float = 120, new_ports: int = 0) -> None:
        """new_ports: if the server exits while starting, try again this many times on another free port (a port
        found free by free_port() can be taken by any process before the server binds it)."""
        self.home.mkdir(parents=True, exist_ok=True)
        if self.database is not None:
            seed_prefect_home(self.home, self.database)
        proc = self._spawn("server", ["server", "start", "--host", "127.0.0.1", "--port", str(self.port)])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                if new_ports > 0:
                    self._procs.remove(("server", proc))
                    self.port = free_port()
                    return self.start_server(timeout, new_ports - 1)
                raise StackError(f"the Prefect server exited with code {proc.returncode} while starting")
            try:
                with urllib.request.urlopen(f"{self.api_url}/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        raise StackError(f"the Prefect server did not answer {self.api_url}/health within {timeout:.0f}s")

    def create_work_pool(self) -> None:
        # --overwrite makes a second `make serve` on the same PREFECT_HOME harmless.
        self._run("work-pool", ["work-pool", "create", WORK_POOL, "--type", "process", "--overwrite"])

    def deploy(self, prefect_file: Path = ROOT / "prefect.yaml") -> None:
        """Every deployment of prefect.yaml, exactly as written there (run from the repo root)."""
        self._run("deploy", ["--no-prompt", "deploy", "--all", "--prefect-file", str(prefect_file)])

    def start_worker(self, name: str = "township-worker-1", limit: int = 4,
                     queue: str | None = None) -> subprocess.Popen:
        """A process worker on the pool: every queue of it, or only `queue` (a partition's own worker)."""
        return self._spawn(name, ["worker", "start", "--pool", WORK_POOL, "--name", name, "--limit", str(limit),
                                  *(["--work-queue", queue] if queue else [])])

    def up(self, workers: int = 1, prefect_file: Path = ROOT / "prefect.yaml", new_ports: int = 0) -> None:
        self.start_server(new_ports=new_ports)
        self.create_work_pool()
        self.deploy(prefect_file)
        for n in range(1, workers + 1):
            self.start_worker(f"township-worker-{n}")

    def alive(self) -> list[str]:
        return [name for name, p in self._procs if p.poll() is None]

    def down(self, grace: float = 20) -> None:
        """Workers first (they hand back their runs while the server still answers), then the server.

        SIGTERM, not SIGINT: a process started in the background inherits SIGINT ignored; Prefect catches TERM.
        """
        for name, proc in reversed(self._procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(grace)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        self._procs.clear()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # the Prefect logs are what the terminal is for


@dataclass
class FileServer:
    """A read-only HTTP server for one folder on 127.0.0.1 (loopback only: published files are not for the LAN
    until an operator decides so), run in a thread of this process."""

    folder: Path
    port: int = 0
    _httpd: http.server.ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> FileServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        handler = functools.partial(_QuietHandler, directory=str(self.folder))
        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, name="publish-files", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None


def publish_folder() -> Path:
    """TOWNSHIP_PUBLISH_DIR as the worker sees it (it runs from the repo root)."""
    sys.path.insert(0, str(ROOT))
    from township.settings import get_settings

    folder = Path(get_settings().publish_dir)
    return folder if folder.is_absolute() else ROOT / folder


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    # Ctrl-C or a plain `kill` both stop the whole stack cleanly.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("TOWNSHIP_PREFECT_PORT", 4200)))
    parser.add_argument("--home", type=Path, default=ROOT / "data" / "prefect",
                        help="PREFECT_HOME: the server's database and settings (default data/prefect)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--files-port", type=int, default=int(os.environ.get("TOWNSHIP_FILES_PORT", 4201)),
                        help="port of the HTTP server for the publish folder (reports, Data Docs)")
    args = parser.parse_args()

    files = FileServer(publish_folder(), args.files_port).start()
    # An operator's own base URL (a real web server in production) wins over ours.
    extra = {} if os.environ.get("TOWNSHIP_PUBLISH_BASE_URL") else {"TOWNSHIP_PUBLISH_BASE_URL": files.url}
    stack = PrefectStack(home=args.home.resolve(), port=args.port, extra_env=extra)
    try:
        stack.up(workers=args.workers)
        print(f"\nPrefect UI: {stack.ui_url}   (API {stack.api_url})\n"
              f"Published reports and Data Docs: {files.url}  (artifacts link there)\n"
              f"Trigger a run:  PREFECT_API_URL={stack.api_url} .venv/bin/prefect deployment run "
              f"'intake/intake'\nStop: Ctrl-C\n", flush=True)
        while stack.alive():
            time.sleep(1)
        print("a part of the stack exited; stopping the rest", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    finally:
        stack.down()
        files.stop()


if __name__ == "__main__":
    main()
