"""The Prefect API a command's flows report to: PREFECT_API_URL when set, else a temporary server tied to us.

Whether one is configured is read without importing Prefect (`configured_api_url`, ~1 ms against ~1.5 s for
`prefect.settings`): a command that needs no orchestration (`township intake` with no API configured)
then never pays for Prefect at all.

Prefect starts its temporary ("ephemeral") server as a child process and stops it at a normal exit; a
`kill -9` (a supervisor stopping a stuck run) skips that and left a ~220 MB server behind on every kill.
Here the server is started up front, from the main thread, with the kernel told to SIGTERM it when we die
(Linux PR_SET_PDEATHSIG); Prefect's own clients then find it running and use it.
"""

from __future__ import annotations

import ctypes
import os
import tomllib
import signal
import subprocess
import sys
from functools import partial
from pathlib import Path
from typing import Any
from unittest import mock

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}


def _dotenv(path: Path, name: str) -> str | None:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    for line in lines:
        key, sep, value = line.strip().removeprefix("export ").partition("=")
        if sep and key.strip() == name:
            return value.strip().strip("'\"") or None
    return None


def configured_api_url(cwd: Path | None = None) -> str | None:
    """The Prefect API URL this process would use, read from the places Prefect 3 reads it, in its order:
    the environment, a `.env` file, `prefect.toml` ([api] url), pyproject.toml ([tool.prefect.api] url),
    then the active profile of profiles.toml (PREFECT_PROFILES_PATH, or PREFECT_HOME/profiles.toml,
    default ~/.prefect). None: no server is configured."""
    cwd = cwd or Path.cwd()
    if os.environ.get("PREFECT_API_URL"):
        return os.environ["PREFECT_API_URL"]
    if url := _dotenv(cwd / ".env", "PREFECT_API_URL"):
        return url
    if url := _toml(cwd / "prefect.toml").get("api", {}).get("url"):
        return url
    if url := _toml(cwd / "pyproject.toml").get("tool", {}).get("prefect", {}).get("api", {}).get("url"):
        return url
    home = Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()
    profiles = _toml(Path(os.environ.get("PREFECT_PROFILES_PATH") or home / "profiles.toml").expanduser())
    active = os.environ.get("PREFECT_PROFILE") or profiles.get("active") or "ephemeral"
    return profiles.get("profiles", {}).get(active, {}).get("PREFECT_API_URL") or None


def _die_with(parent: int, libc: Any):  # noqa: ANN401, ANN202
    def preexec() -> None:  # runs in the child between fork and exec
        # The child inherits our signal mask, and cli/stopping.py blocks SIGTERM in the CLI (a thread
        # waits for it): unblocked here, or the death signal (and any SIGTERM) would never reach the server.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)
    return preexec


def use_prefect_api() -> str:
    """The API URL flows will use: PREFECT_API_URL, or a temporary server started now that cannot outlive
    this process. Call from the main thread (the death signal follows the thread that started the child)."""
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value():
        return PREFECT_API_URL.value()
    from prefect.server.api import server as prefect_server

    server = prefect_server.SubprocessASGIServer()  # the instance Prefect's clients use (one per process)
    if not server.running:
        if sys.platform.startswith("linux"):
            libc = ctypes.CDLL(None, use_errno=True)
            tied = partial(subprocess.Popen, preexec_fn=_die_with(os.getpid(), libc))
            with mock.patch.object(prefect_server.subprocess, "Popen", tied):
                server.start()
        else:
            server.start()  # elsewhere Prefect's own stop at exit is all there is
    return server.api_url
