"""The Prefect API a command's flows report to: PREFECT_API_URL when set, else a temporary server tied to us.

Prefect starts its temporary ("ephemeral") server as a child process and stops it at a normal exit; a
`kill -9` (a supervisor stopping a stuck run) skips that and left a ~220 MB server behind on every kill.
Here the server is started up front, from the main thread, with the kernel told to SIGTERM it when we die
(Linux PR_SET_PDEATHSIG); Prefect's own clients then find it running and use it.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from functools import partial
from typing import Any
from unittest import mock

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


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
