"""Fault campaign: kill, crash and starve `township intake`, then check that nothing was lost or doubled.

`make faults` (never part of `make test`). For each trial: a fresh warehouse and archive, a fault, then
one clean run; the result is compared with an undisturbed run of the same inbox. Faults:
- kill -9 of the `township intake` process (Prefect included) at a random moment, on SQLite and
  PostgreSQL; a load hook (warehouse.intake_io.LOAD_HOOKS, the documented seam) pauses a random
  0–1.5 s inside the load's transaction so that many kills land there;
- kill -9 between the load and the receipts (the run dies as it reaches the receipts step);
- PostgreSQL stopped at once (`pg_ctl stop -m immediate`) in the middle of a load, then restarted;
- the archive on a small tmpfs that fills up (files deferred, receipts pending), then space freed.
Counts per fault: partial submissions, duplicate current values, lost inbox files, missing receipts,
orphan processes, and whether the final warehouse equals the undisturbed one. Writes bench/FAULTS.md.

    python -m bench.faults [--kills-sqlite 20] [--kills-pg 10] [--size county]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.generate import generate

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "FAULTS.md"
TOWNSHIP = Path(sys.executable).with_name("township")

# A child that runs the real CLI (`township intake ...`) with the load paused a random moment inside
# its transaction, so that a kill at a random time often lands mid-load.
KILL_CHILD = """
import random, sys, time
from warehouse import intake_io
intake_io.LOAD_HOOKS.append(lambda conn: time.sleep(random.uniform(0, 1.5)))
from cli.app import main
sys.argv = ["township", *sys.argv[1:]]
main()
"""

# A child that dies (kill -9 of itself) as the intake pipeline reaches its receipts step: loaded, unanswered.
RECEIPT_KILL_CHILD = """
import os, signal, sys
from tasks import intake_pipeline
from tasks.pipeline import PLAIN
from warehouse.runtime import open_runtime

class DieAtReceipts:
    def __call__(self, step, *args):
        if step is intake_pipeline.RECEIPTS:
            os.kill(os.getpid(), signal.SIGKILL)
        return PLAIN(step, *args)
    def map(self, step, items, *args):
        return PLAIN.map(step, items, *args)

rt = open_runtime(warehouse_url=sys.argv[1], inbox=sys.argv[2], archive=sys.argv[3], catalog_dir=sys.argv[4])
intake_pipeline.run_intake(rt, DieAtReceipts())
"""

# A child whose load pauses 3 s inside its transaction after writing a marker, so the server can be stopped then.
PAUSE_CHILD = """
import pathlib, sys, time
from warehouse import intake_io
from warehouse.runtime import open_runtime
from tasks.intake_pipeline import run_intake

def pause(conn):
    pathlib.Path(sys.argv[5]).touch()
    time.sleep(3)

intake_io.LOAD_HOOKS.append(pause)
rt = open_runtime(warehouse_url=sys.argv[1], inbox=sys.argv[2], archive=sys.argv[3], catalog_dir=sys.argv[4])
run_intake(rt)
"""


def _env(work: Path) -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "PREFECT_HOME": str(work / "prefect-home"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1",
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120"}


def _session_alive(sid: int) -> list[int]:
    """Processes still in a session (the killed run's children: a Prefect server, workers)."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":  # fields: state ppid pgrp session ...
            alive.append(int(stat.parent.name))
    return alive


class Bench:
    def __init__(self, size: str) -> None:
        self.ds = generate(size)
        self.base = Path(tempfile.mkdtemp(prefix="township-faults-"))
        self.pg = None

    def pg_url(self, name: str) -> str:
        if self.pg is None:
            from tests.pg_server import start_postgres

            self.pg = start_postgres()
        import psycopg

        admin = self.pg.url.replace("postgresql+psycopg", "postgresql")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.pg.url.rsplit("/", 1)[0] + f"/{name}"

    def trial_dirs(self, name: str, backend: str) -> tuple[Path, str]:
        work = self.base / name
        shutil.rmtree(work, ignore_errors=True)
        (work / "archive").mkdir(parents=True)
        url = f"sqlite:///{work / 'warehouse.db'}" if backend == "sqlite" else self.pg_url(name.replace("-", "_"))
        return work, url

    def args(self, work: Path, url: str) -> list[str]:
        return [url, str(self.ds.inbox), str(work / "archive"), str(self.ds.catalog_dir)]

    def clean_run(self, work: Path, url: str) -> dict:
        from tasks.intake_pipeline import run_intake
        from warehouse.runtime import open_runtime

        rt = open_runtime(warehouse_url=url, inbox=str(self.ds.inbox), archive=str(work / "archive"),
                          catalog_dir=str(self.ds.catalog_dir))
        try:
            return run_intake(rt).as_dict()
        finally:
            rt.engine.dispose()

    def cli_intake(self, work: Path, url: str, kill_after: float | None) -> tuple[bool, int]:
        """`township intake` in its own session, killed -9 after `kill_after` s; (was killed, orphans)."""
        cmd = [sys.executable, "-c", KILL_CHILD, "intake", "--inbox", str(self.ds.inbox), "--archive",
               str(work / "archive"), "--warehouse", url]
        env = {**_env(work), "TOWNSHIP_CATALOG_DIR": str(self.ds.catalog_dir)}
        child = subprocess.Popen(cmd, env=env, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        killed = False
        try:
            child.wait(timeout=kill_after)
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGKILL)
            child.wait()
            killed = True
        # A child told to stop when its parent died (the temporary Prefect server) may take a few seconds to
        # shut down; what is still alive after 15 s has outlived the run: an orphan.
        deadline = time.monotonic() + 15
        while _session_alive(child.pid) and time.monotonic() < deadline:
            time.sleep(0.5)
        orphans = _session_alive(child.pid)
        for pid in orphans:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return killed, len(orphans)


def inspect_warehouse(url: str, archive: Path, inbox_hashes: set[str]) -> dict:
    """What a user would check after a fault and a clean run."""
    engine = create_engine(url)
    with engine.connect() as conn:
        partial = conn.execute(text(
            "SELECT COUNT(*) FROM submission s WHERE s.status <> 'rejected' AND s.imported + s.updated > 0 "
            "AND NOT EXISTS (SELECT 1 FROM value_history v WHERE v.submission_id = s.id)")).scalar_one()
        dups = conn.execute(text(
            "SELECT COUNT(*) FROM (SELECT reporter_code, period, indicator_code FROM value_history "
            "WHERE valid_to IS NULL GROUP BY reporter_code, period, indicator_code HAVING COUNT(*) > 1) d")).scalar_one()
        loaded = set(conn.execute(text("SELECT sha256 FROM submission")).scalars())
        archived = conn.execute(text("SELECT archive_path FROM submission")).scalars().all()
        pending = conn.execute(text("SELECT COUNT(*) FROM submission WHERE receipt_written_at IS NULL")).scalar_one()
    engine.dispose()
    missing_receipts = pending + sum(not (archive / f"{p}.receipt.json").is_file() for p in archived)
    empty_receipts = sum(1 for p in archive.rglob("*.receipt.json") if p.is_file() and p.stat().st_size == 0)
    return {"partial": partial, "duplicates": dups, "lost": len(inbox_hashes - loaded),
            "missing_receipts": missing_receipts + empty_receipts}


def equal_to(reference_url: str, url: str) -> bool:
    from tasks.rebuild import compare_warehouses

    a, b = create_engine(reference_url), create_engine(url)
    try:
        return compare_warehouses(a, b)["identical"]
    finally:
        a.dispose()
        b.dispose()


def inbox_hashes(inbox: Path) -> set[str]:
    import hashlib

    # the forms, not the receipts intake returns into each reporter's 回执 folder (never read as submissions)
    return {hashlib.sha256(p.read_bytes()).hexdigest() for p in inbox.rglob("*")
            if p.is_file() and "回执" not in p.relative_to(inbox).parts}


def campaign(args: argparse.Namespace) -> list[dict]:
    b = Bench(args.size)
    hashes = inbox_hashes(b.ds.inbox)
    rows = []
    refs: dict[str, str] = {}
    durations: dict[str, float] = {}
    for backend in args.backends:
        work, url = b.trial_dirs(f"reference-{backend}", backend)
        t = time.perf_counter()
        b.cli_intake(work, url, kill_after=None)  # undisturbed, as a user runs it: also gives the kill window
        durations[backend] = time.perf_counter() - t
        refs[backend] = url
        print(f"reference {backend}: {durations[backend]:.1f} s", file=sys.stderr)

    def record(fault: str, backend: str, trials: list[dict]) -> None:
        row = {"fault": fault, "backend": backend, "trials": len(trials),
               "faults hit": sum(t["hit"] for t in trials)}
        for k in ("partial", "duplicates", "lost", "missing_receipts", "orphans"):
            row[k] = sum(t[k] for t in trials)
        row["equal to undisturbed"] = "yes" if all(t["equal"] for t in trials) else "NO"
        rows.append(row)
        print(json.dumps(row, ensure_ascii=False), file=sys.stderr)

    rng = random.Random(args.seed)
    for backend, n in (("sqlite", args.kills_sqlite), ("postgresql", args.kills_pg)):
        if backend not in args.backends or not n:
            continue
        trials = []
        for i in range(n):
            work, url = b.trial_dirs(f"kill-{backend}-{i}", backend)
            killed, orphans = b.cli_intake(work, url, kill_after=rng.uniform(0.5, durations[backend]))
            b.clean_run(work, url)
            trials.append({"hit": killed, "orphans": orphans, "equal": equal_to(refs[backend], url),
                           **inspect_warehouse(url, work / "archive", hashes)})
        record("kill -9 of `township intake` at a random moment", backend, trials)

    for backend in args.backends:
        trials = []
        for i in range(args.receipt_kills):
            work, url = b.trial_dirs(f"receipts-{backend}-{i}", backend)
            out = subprocess.run([sys.executable, "-c", RECEIPT_KILL_CHILD, *b.args(work, url)], env=_env(work),
                                 cwd=ROOT, capture_output=True)
            hit = out.returncode == -signal.SIGKILL
            b.clean_run(work, url)
            trials.append({"hit": hit, "orphans": 0, "equal": equal_to(refs[backend], url),
                           **inspect_warehouse(url, work / "archive", hashes)})
        record("kill -9 between the load and the receipts", backend, trials)

    if "postgresql" in args.backends:
        trials = []
        for i in range(args.pg_stops):
            work, url = b.trial_dirs(f"pgstop-{i}", "postgresql")
            marker = work / "in-load"
            child = subprocess.Popen([sys.executable, "-c", PAUSE_CHILD, *b.args(work, url), str(marker)],
                                     env=_env(work), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.time() + 300
            while not marker.exists() and child.poll() is None and time.time() < deadline:
                time.sleep(0.1)
            hit = marker.exists()
            b.pg.crash()
            child.wait(timeout=120)
            b.pg.start()
            b.clean_run(work, url)
            trials.append({"hit": hit and child.returncode != 0, "orphans": 0, "equal": equal_to(refs["postgresql"], url),
                           **inspect_warehouse(url, work / "archive", hashes)})
        record("PostgreSQL stopped (immediate) mid-load, restarted", "postgresql", trials)

    trials = []
    for i in range(args.full_disks):
        work, url = b.trial_dirs(f"fulldisk-{i}", "sqlite")
        archive = work / "archive"
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={args.full_disk_kb}k", "tmpfs", str(archive)], check=True)
        try:
            first = b.clean_run(work, url)  # the archive fills up: files deferred, receipts left pending
            hit = first["deferred"] + first["receipts_pending"] > 0
            subprocess.run(["mount", "-o", "remount,size=512m", str(archive)], check=True)  # space freed
            b.clean_run(work, url)
            trials.append({"hit": hit, "orphans": 0, "equal": equal_to(refs["sqlite"], url),
                           **inspect_warehouse(url, archive, hashes)})
        finally:
            subprocess.run(["umount", "-l", str(archive)], check=False)
    if trials:
        record(f"archive on a full tmpfs ({args.full_disk_kb} KB), then space freed", "sqlite", trials)

    if b.pg:
        b.pg.stop()
    shutil.rmtree(b.base, ignore_errors=True)
    return rows


def write_results(rows: list[dict], args: argparse.Namespace, seconds: float) -> None:
    cols = ["fault", "backend", "trials", "faults hit", "partial", "duplicates", "lost", "missing_receipts",
            "orphans", "equal to undisturbed"]
    lines = [f"# Fault campaign ({dt.date.today()}, {args.size} month: {generate(args.size).files} files, "
             f"{os.cpu_count()} cores, {seconds / 60:.0f} min)", "",
             "`make faults` (bench/faults.py). Each trial: a fresh warehouse and archive, the fault, then one clean "
             "run, compared with an undisturbed `township intake` of the same inbox. *faults hit*: trials where "
             "the fault struck before the run ended (a kill after the end proves less). *partial*: a loaded "
             "submission missing its values; *duplicates*: keys with two current values; *lost*: inbox files "
             "with no submission; *missing_receipts*: submissions without a (non-empty) receipt file; "
             "*orphans*: processes of the killed run (its temporary Prefect server) still alive 15 s later.", "",
             "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="county")
    ap.add_argument("--kills-sqlite", type=int, default=20)
    ap.add_argument("--kills-pg", type=int, default=10)
    ap.add_argument("--receipt-kills", type=int, default=3)
    ap.add_argument("--pg-stops", type=int, default=3)
    ap.add_argument("--full-disks", type=int, default=2)
    ap.add_argument("--full-disk-kb", type=int, default=96, help="archive tmpfs size: less than the month's forms")
    ap.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    ap.add_argument("--seed", type=int, default=2021)
    args = ap.parse_args()
    t = time.perf_counter()
    rows = campaign(args)
    write_results(rows, args, time.perf_counter() - t)
    print(RESULTS.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
