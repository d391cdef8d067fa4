"""The installed `township` command as a cron job or a shell runs it: a clean environment, a real process.

With no Prefect API configured, `township intake` runs its steps without Prefect (no server at all);
`township intake --prefect` runs the flow on Prefect's temporary server, started as its child process.
Processes are found by parent pid, never by name: other servers run on this machine.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from scripts.serve import seed_prefect_home
from tests.system.support import FORMS, write_test_inbox

TOWNSHIP = Path(sys.executable).with_name("township")


def _clean_env(tmp_path: Path) -> dict[str, str]:
    """Only what a cron job has, plus the township's folders: none of the test process's Prefect settings."""
    for d in ("inbox", "archive", "published", "home"):
        (tmp_path / d).mkdir(exist_ok=True)
    write_test_inbox(tmp_path / "inbox")
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path / "home"), "LANG": "C.UTF-8",
        "PREFECT_HOME": str(tmp_path / "prefect"),  # its own temporary server database, not ~/.prefect
        "TOWNSHIP_WAREHOUSE_URL": f"sqlite:///{tmp_path / 'warehouse.db'}",
        "TOWNSHIP_INBOX": str(tmp_path / "inbox"), "TOWNSHIP_ARCHIVE": str(tmp_path / "archive"),
        "TOWNSHIP_PUBLISH_DIR": str(tmp_path / "published"),
    }


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a live process; None once it is gone (or only a zombie awaiting its reaper)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    state, ppid = text.rsplit(")", 1)[1].split()[:2]
    return None if state in ("Z", "X") else (state, int(ppid))


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (st := _stat(int(entry.name))) and st[1] == pid:
            found.append(int(entry.name))
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except FileNotFoundError:
        return ""


def _server_child(pid: int, timeout: float = 180) -> tuple[int, int]:
    """(pid, port) of the Prefect server that process `pid` started, once it answers /api/health."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in _children(pid):
            cmd = _cmdline(child)
            if "uvicorn" in cmd and (port := re.search(r"--port (\d+)", cmd)):
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port[1]}/api/health", timeout=2) as r:
                        if r.status == 200:
                            return child, int(port[1])
                except OSError:
                    pass
        time.sleep(0.5)
    raise AssertionError(f"no Prefect server child of {pid} answered within {timeout:.0f}s")


def test_a_killed_intake_leaves_no_prefect_server_behind(tmp_path, prefect_database):
    env = _clean_env(tmp_path)
    seed_prefect_home(tmp_path / "prefect", prefect_database)  # a home used before (the first day's: below)
    proc = subprocess.Popen([TOWNSHIP, "intake", "--prefect"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    server = None
    try:
        server, _port = _server_child(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)  # what a supervisor does to a stuck run: no cleanup code runs
        proc.wait(30)
        deadline = time.monotonic() + 30
        while _stat(server) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _stat(server) is None, f"the temporary server {server} outlived its killed CLI: {_cmdline(server)}"
    finally:
        if proc.poll() is None:
            proc.kill()
        if server and _stat(server):
            os.kill(server, signal.SIGKILL)


@pytest.mark.parametrize("how", [[], ["--prefect"]], ids=["plain", "prefect-flow"])
def test_an_intake_run_prints_no_traceback_and_no_telemetry(tmp_path, how):
    done = subprocess.run([TOWNSHIP, "intake", *how], env=_clean_env(tmp_path), capture_output=True, text=True,
                          timeout=600)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "Traceback" not in out and "telemetry" not in out.lower() and "database is locked" not in out, out
    assert f"files_new {len(FORMS)}" in out
    receipts = sorted(p.relative_to(tmp_path / "archive") for p in (tmp_path / "archive").rglob("*.receipt.json"))
    assert len(receipts) == len(FORMS), out  # the same receipts either way: one per form, beside its archived file


def test_with_no_prefect_api_configured_intake_starts_no_server(tmp_path):
    """A cron job's `township intake` with no server configured: the steps run in the process itself, no
    Prefect server is started (no uvicorn child, no Prefect database written), and the rejected file's
    error is on the terminal."""
    env = _clean_env(tmp_path)
    bad = tmp_path / "inbox" / next(iter(FORMS)) / "坏表.csv"
    bad.write_bytes("指标代码,本月\nx,1%\n".encode())
    proc = subprocess.Popen([TOWNSHIP, "intake"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    seen = set()
    while proc.poll() is None:
        seen.update(_cmdline(c) for c in _children(proc.pid))
        time.sleep(0.05)
    out = proc.stdout.read()
    assert proc.returncode == 0, out
    assert not [c for c in seen if "uvicorn" in c or "prefect" in c], seen
    assert not (tmp_path / "prefect").exists()  # PREFECT_HOME: no temporary server's database
    assert f"files_new {len(FORMS) + 1}" in out and "rejected 1" in out
    assert "坏表.csv" in out and "E_" in out, out
