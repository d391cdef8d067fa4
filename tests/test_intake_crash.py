"""Killing intake in the middle of a load leaves no partial submission; the next run finishes the job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import text

from tests.intake_helpers import write_csv

ROOT = Path(__file__).resolve().parent.parent
CHILD = """
import pathlib, sys, time
from warehouse import intake_io
from warehouse.runtime import open_runtime
from tests.intake_helpers import run_intake

def pause_mid_load(conn):  # submissions inserted, not committed: say so, then wait to be killed
    pathlib.Path(sys.argv[1]).touch()
    time.sleep(120)

intake_io.LOAD_HOOKS.append(pause_mid_load)
run_intake(open_runtime())
"""


def test_kill_during_load_leaves_nothing_half_done(runtime, tmp_path):
    inbox = Path(runtime.settings.inbox)
    write_csv(inbox, "invest", "sept.csv", [("investment_funds", 1.0, 8.0), ("projects_signed", 2, 15)],
              period="2021-09")
    write_csv(inbox, "finance", "sept.csv", [("fiscal_revenue", 600, 5400)], period="2021-09")
    marker = tmp_path / "paused"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(marker)], env=env, cwd=ROOT)
    try:
        deadline = time.time() + 120
        while not marker.exists():
            assert child.poll() is None, "intake ended before reaching the load"
            assert time.time() < deadline, "intake never reached the load"
            time.sleep(0.2)
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
    with runtime.engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM submission")).scalar_one() == 0
        assert conn.execute(text("SELECT COUNT(*) FROM value_history")).scalar_one() == 0
        assert conn.execute(text("SELECT COUNT(*) FROM inbox_file")).scalar_one() == 0
    # the raw files were archived before the load began, and are kept
    assert len(list(Path(runtime.settings.archive).rglob("*-sept.csv"))) == 2

    from tests.intake_helpers import run_intake

    summary = run_intake(runtime)
    assert (summary.accepted, summary.imported) == (2, 3)
    with runtime.engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM value_history")).scalar_one() == 3
