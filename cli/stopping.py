"""SIGTERM ends a command within seconds (a supervisor's `timeout`, `systemctl stop`, a cron guard).

Python runs signal handlers only in the main thread and only between bytecodes, and at exit it waits for
every worker thread: a handler (Prefect installs one) can be held off for minutes by a long C call or a
queue of reads. So SIGTERM is taken by a thread of its own: it interrupts the main thread (the run
unwinds: the open load rolls back, Prefect marks the run and stops its temporary server), and if the
process is still there after a grace period it ends it outright. Nothing is half-done either way: the load
is one transaction and archived files are written to a temporary name and renamed.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading

GRACE_SECONDS = 5.0
EXIT_CODE = 128 + signal.SIGTERM

log = logging.getLogger(__name__)
_installed = False


def stop_promptly_on_sigterm(grace: float = GRACE_SECONDS) -> None:
    """Call first thing in a command, before threads start (they inherit the blocked SIGTERM)."""
    global _installed
    if _installed or sys.platform == "win32" or threading.current_thread() is not threading.main_thread():
        return
    _installed = True
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    main = threading.main_thread().ident

    def watch() -> None:
        signal.sigwait({signal.SIGTERM})
        print("SIGTERM: stopping (收到终止信号，正在停止)", file=sys.stderr, flush=True)
        signal.pthread_kill(main, signal.SIGINT)  # a real signal: wakes a sleeping or waiting main thread
        threading.Event().wait(grace)
        print(f"still running after {grace:g} s: exiting now", file=sys.stderr, flush=True)
        os._exit(EXIT_CODE)

    threading.Thread(target=watch, name="sigterm-watch", daemon=True).start()
