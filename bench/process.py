"""What users run, timed whole: the `township` process and a deployment run (`make bench-process`).

bench/measure.py times the pipeline's steps inside one process; here each figure is a process as a user or
a scheduler starts it, from exec to exit (or from trigger to Completed), with Python's start-up, imports,
opening the warehouse, Prefect and Great Expectations included:

- `township intake` of a month (no Prefect API configured: the steps run in the process itself), then the
  same command again with nothing new;
- `township intake --prefect`: the same as a flow run on Prefect's temporary server (started and stopped
  by the command);
- a run of the `intake` deployment through a real Prefect server and a process worker, from
  `run_deployment` to the run's Completed state (worker polling every second);
- `township check FILE`, and the floors under it: `python -c "import great_expectations"`, `import tasks.gx`
  (GX as our processes import it, tasks/gx_lazy.py) and `township --help` (Python + the CLI's imports);
- the limit (bench/measure.py `limit`: calamine + one bulk load, nothing else), in the same run.

Peak memory is the child's `ru_maxrss` and CPU its user + system time, both from wait4 (its own children
included): on a shared machine CPU seconds move less than wall seconds. Each measurement gets a fresh
warehouse, archive, Prefect home and a hard-linked copy of the generated inbox.

    .venv/bin/python -m bench.process --sizes township,county --backends sqlite,postgresql
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.generate import OUT, SIZES, generate
from bench.run import RESULTS, ROOT, Databases, child, machine

TOWNSHIP = Path(sys.executable).with_name("township")
PREFECT_VARS = ("PREFECT_API_URL", "PREFECT_PROFILE", "PREFECT_PROFILES_PATH", "PREFECT_HOME")


def _inbox(ds, work: Path) -> Path:
    """The generated inbox, hard-linked (same files, same mtimes): intake writes receipts back into the
    reporters' 回执 folders, which must not pile up in the generated data."""
    inbox = work / "inbox"
    shutil.copytree(ds.inbox, inbox, copy_function=os.link)
    return inbox


def _env(ds, url: str, work: Path, **extra: str) -> dict[str, str]:
    """A cron job's environment: the township's settings, no Prefect server configured, a fresh Prefect home."""
    env = {k: v for k, v in os.environ.items() if k not in PREFECT_VARS and not k.startswith("TOWNSHIP_")}
    env.update({"TOWNSHIP_WAREHOUSE_URL": url, "TOWNSHIP_CATALOG_DIR": str(ds.catalog_dir),
                "TOWNSHIP_INBOX": str(_inbox(ds, work)), "TOWNSHIP_ARCHIVE": str(work / "archive"),
                "TOWNSHIP_PUBLISH_DIR": str(work / "published"), "TOWNSHIP_CACHE_DIR": str(work / "cache"),
                "PREFECT_HOME": str(work / "prefect-home"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "DO_NOT_TRACK": "1", "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120"})
    env.update(extra)
    return env


def timed(cmd: list[str], env: dict[str, str], cwd: Path) -> dict:
    """One process from exec to exit: wall seconds, exit code, its own peak RSS (from wait4, so the
    figure is this process's and its children's, not the largest of every earlier measurement)."""
    cwd.mkdir(parents=True, exist_ok=True)
    out_path, err_path = cwd / "stdout.txt", cwd / "stderr.txt"
    with out_path.open("w") as out, err_path.open("w") as err:
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=err)
        _pid, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = out_path.read_text(errors="replace")
    summary = next((line for line in reversed(text.splitlines()) if line.startswith("files_listed")), "")
    return {"seconds": round(seconds, 2), "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
            "exit_code": proc.returncode, "peak_mb": round(usage.ru_maxrss / 1024),
            "summary": summary, "stderr_tail": err_path.read_text(errors="replace")[-400:] if proc.returncode else ""}


def _fresh(work: Path) -> Path:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    return work


def cli_runs(ds, dbs: Databases, backend: str, size: str, prefect: bool) -> dict:
    """`township intake [--prefect]` on a fresh warehouse, then again with nothing new."""
    name = f"{size}_cli{'_prefect' if prefect else ''}"
    work = _fresh(OUT / "runs" / size / backend / name)
    url = dbs.url(backend, name, work)
    env = _env(ds, url, work)
    args = [str(TOWNSHIP), "intake", *(["--prefect"] if prefect else [])]
    subprocess.run([str(TOWNSHIP), "init"], env=env, cwd=work, capture_output=True, check=True)
    return {"intake": timed(args, env, work), "nothing new": timed(args, env, work)}


def check_runs(ds, dbs: Databases, backend: str, size: str) -> dict:
    work = _fresh(OUT / "runs" / size / backend / f"{size}_check")
    env = _env(ds, dbs.url(backend, f"{size}_check", work), work)
    form = next(p for p in sorted(ds.inbox.rglob("*.xlsx")))
    first = timed([str(TOWNSHIP), "check", str(form)], env, work)  # parses the catalog into the cache
    return {"check (catalog cached)": timed([str(TOWNSHIP), "check", str(form)], env, work),
            "check (first, catalog parsed)": first,
            "floor: township --help": timed([str(TOWNSHIP), "--help"], env, work),
            "floor: import great_expectations": timed([sys.executable, "-c", "import great_expectations"], env, work),
            # as our processes import it: what GX imports for expectations we never use deferred (tasks/gx_lazy.py)
            "floor: import tasks.gx": timed([sys.executable, "-c", "import tasks.gx"], env, work)}


def deployment_run(ds, dbs: Databases, backend: str, size: str) -> dict:
    """The `intake` deployment of prefect.yaml run once by a process worker, trigger to Completed."""
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from scripts.serve import PrefectStack, free_port

    work = _fresh(OUT / "runs" / size / backend / f"{size}_deployment")
    url = dbs.url(backend, f"{size}_deployment", work)
    env = _env(ds, url, work)
    subprocess.run([str(TOWNSHIP), "init"], env=env, cwd=work, capture_output=True, check=True)
    township_env = {k: v for k, v in env.items() if k.startswith("TOWNSHIP_")}
    stack = PrefectStack(home=work / "prefect-home", port=free_port(), logs=work / "logs",
                         extra_env={**township_env, "PREFECT_WORKER_QUERY_SECONDS": "1"})
    try:
        stack.up(workers=1, new_ports=3)  # free_port()'s port may be taken before the server binds it
        with temporary_settings(updates={PREFECT_API_URL: stack.api_url}):
            t = time.perf_counter()
            run = run_deployment("intake/intake", timeout=0)
            while True:
                with get_client(sync_client=True) as client:
                    run = client.read_flow_run(run.id)
                if run.state and run.state.is_final():
                    break
                time.sleep(0.2)
            seconds = time.perf_counter() - t
            return {"seconds": round(seconds, 2), "state": run.state.name,
                    "run_time": round(run.total_run_time.total_seconds(), 2)}
    finally:
        stack.down()


def limit_run(ds, dbs: Databases, backend: str, size: str) -> dict:
    work = _fresh(OUT / "runs" / size / backend / f"{size}_limit_p")
    return child("limit", size, dbs.url(backend, f"{size}_limit_p", work), work)


def measure(size: str, backend: str, dbs: Databases, deployment: bool, prefect_cli: bool = True) -> dict:
    ds = generate(size)
    print(f"{size} on {backend}: {ds.files} files (read once in {ds.read_once():.1f} s, so every way starts with "
          "them cached)", file=sys.stderr)
    res = {"size": size, "backend": backend, "files": ds.files, "values": ds.values}
    res["limit"] = limit_run(ds, dbs, backend, size)
    res["cli"] = cli_runs(ds, dbs, backend, size, prefect=False)
    print(f"  township intake {res['cli']['intake']['seconds']} s, nothing new "
          f"{res['cli']['nothing new']['seconds']} s", file=sys.stderr)
    if prefect_cli:
        res["cli_prefect"] = cli_runs(ds, dbs, backend, size, prefect=True)
    res["check"] = check_runs(ds, dbs, backend, size)
    if deployment:
        res["deployment"] = deployment_run(ds, dbs, backend, size)
    return res


TARGETS = {  # (size, what): (target seconds, how it is read)
    ("township", "nothing new"): 3, ("county", "nothing new"): 3, ("province", "nothing new"): 5,
    ("county", "intake"): 5,
}


def report(results: list[dict], started: dt.datetime, commit: str) -> str:
    lines = [f"## Whole processes, {started:%Y-%m-%d %H:%M} (commit {commit})", "", f"Machine: {machine()}", "",
             "| size | backend | what users run | seconds | CPU s | target | met | peak MB | note |",
             "|---|---|---|---|---|---|---|---|---|"]

    def row(r: dict, what: str, m: dict, target: str = "—", met: str = "", note: str = "") -> None:
        peak, secs = m.get("peak_mb", ""), m.get("seconds")
        secs = "—" if secs is None or secs != secs else f"{secs:.2f}"
        lines.append(f"| {r['size']} | {r['backend']} | {what} | {secs} | {m.get('cpu_seconds', '')} | {target} | "
                     f"{met} | {peak if peak == peak else ''} | {note} |")

    for r in results:
        lim = r["limit"]["seconds"]
        for key, label in (("cli", "`township intake`"), ("cli_prefect", "`township intake --prefect`")):
            if key not in r:
                continue
            for what in ("intake", "nothing new"):
                m = r[key][what]
                t = TARGETS.get((r["size"], what))
                if key == "cli" and what == "intake" and r["size"] == "province":
                    t = round(3 * lim, 1)
                met = "" if t is None or key != "cli" else ("yes" if m["seconds"] <= t else "no")
                note = f"exit {m['exit_code']}; {lim and m['seconds'] / lim:.1f} × the limit" if what == "intake" \
                    else f"exit {m['exit_code']}"
                row(r, f"{label}{' (nothing new)' if what == 'nothing new' else ''}", m,
                    f"≤ {t}" if t is not None and key == "cli" else "—", met, note)
        row(r, "limit (calamine + bulk load, in-process)", r["limit"])
        for what, m in r["check"].items():
            t = 3 if what.startswith("check") else None
            row(r, f"`township {what}`" if what.startswith("check") else what, m, f"≤ {t}" if t else "—",
                ("yes" if m["seconds"] <= t else "no") if t else "", f"exit {m['exit_code']}")
        if "deployment" in r:
            d = r["deployment"]
            row(r, "`intake` deployment run: trigger → Completed (process worker)", d, note=
                f"{d['state']}; the flow run itself {d['run_time']} s")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="township,county")
    p.add_argument("--backends", default="sqlite")
    p.add_argument("--no-deployment", action="store_true", help="skip the deployment run (a Prefect stack)")
    p.add_argument("--no-prefect-cli", action="store_true", help="skip `township intake --prefect`")
    p.add_argument("--no-record", action="store_true", help="print only; do not append to RESULTS.md")
    a = p.parse_args()
    sizes, backends = a.sizes.split(","), a.backends.split(",")
    if bad := [s for s in sizes if s not in SIZES] + [b for b in backends if b not in ("sqlite", "postgresql")]:
        p.error(f"unknown size or backend: {bad}")
    started = dt.datetime.now().astimezone()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=ROOT).stdout.strip()
    for s in sizes:
        generate(s)
    dbs = Databases(backends)
    try:
        results = [measure(s, b, dbs, not a.no_deployment, not a.no_prefect_cli) for s in sizes for b in backends]
    finally:
        dbs.close()
    text = report(results, started, commit)
    print(text)
    (OUT / f"process-{started:%Y%m%d-%H%M}.json").write_text(json.dumps(results, default=str, indent=1))
    if not a.no_record:
        with RESULTS.open("a", encoding="utf-8") as f:
            f.write("\n" + text)


if __name__ == "__main__":
    main()
