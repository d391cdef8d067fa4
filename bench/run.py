"""`make bench`: time ours, the limit and the tutorial way on the same generated files, per size and backend.

Each measurement runs in a fresh process (bench/measure.py) so peak memory is its own. Prints a table
and appends it, dated, to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.generate import OUT, SIZES, generate

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
ROOT = Path(__file__).resolve().parent.parent


def machine() -> str:
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
    return (f"{os.cpu_count()} CPUs, {mem_kb / 1024 / 1024:.0f} GB RAM, {platform.platform()}, "
            f"Python {platform.python_version()}, load average at start {os.getloadavg()[0]:.1f}")


def child(way: str, size: str, url: str, work: Path, **opts: object) -> dict:
    """Run one measurement in a fresh process; its last stdout line is its JSON result."""
    cmd = [sys.executable, "-m", "bench.measure", way, "--size", size, "--url", url, "--work", str(work)]
    for k, v in opts.items():
        if v is not None:
            cmd += [f"--{k.replace('_', '-')}", str(v)]
    t = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        print(f"  {way} {size} failed:\n{done.stderr[-2000:]}", file=sys.stderr)
        return {"error": done.stderr[-500:], "seconds": float("nan"), "peak_mb": float("nan"), "wall": wall}
    out = json.loads(lines[-1])
    out["wall"] = wall
    print(f"  {way:<8} {size:<9} {out['seconds']:8.2f} s  peak {out['peak_mb']:.0f} MB", file=sys.stderr)
    return out


class Databases:
    """A fresh database per measurement: a SQLite file, or a database on one throwaway PostgreSQL server."""

    def __init__(self, backends: list[str]) -> None:
        self.pg = None
        if "postgresql" in backends:
            from tests.pg_server import start_postgres

            self.pg = start_postgres()

    def url(self, backend: str, name: str, work: Path) -> str:
        if backend == "sqlite":
            (work / f"{name}.db").unlink(missing_ok=True)
            return f"sqlite:///{work / name}.db"
        import psycopg

        admin = self.pg.url.replace("postgresql+psycopg", "postgresql")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.pg.url.rsplit("/", 1)[0] + f"/{name}"

    def close(self) -> None:
        if self.pg:
            self.pg.stop()


def bench_one(size: str, backend: str, dbs: Databases, sample: int, publish_townships: int | None,
              runs: Path = OUT / "runs") -> dict:
    ds = generate(size)
    work = runs / size / backend
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    print(f"{size} on {backend}: {ds.files} files, {ds.values} values (read once in {ds.read_once():.1f} s, so "
          "every way starts with them cached)", file=sys.stderr)
    res = {"size": size, "backend": backend, "files": ds.files, "values": ds.values, "rejects": ds.rejects,
           "townships": ds.townships}
    res["limit"] = child("limit", size, dbs.url(backend, f"{size}_limit", work), work / "limit")
    ours_url = dbs.url(backend, f"{size}_ours", work)
    res["ours"] = child("ours", size, ours_url, work / "ours", publish_townships=publish_townships)
    res["rerun"] = child("rerun", size, ours_url, work / "ours")
    res["check"] = child("check", size, ours_url, work / "ours")
    res["tutorial"] = child("tutorial", size, dbs.url(backend, f"{size}_tutorial", work), work / "tutorial",
                            sample=sample)
    return res


def flow_once(dbs: Databases, runs: Path = OUT / "runs") -> dict:
    work = runs / "township" / "flow"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    return child("flow", "township", dbs.url("sqlite", "flow", work), work)


# --- the report ---

def _rate(n: float, s: float) -> str:
    return f"{n / s:,.0f}" if s and s == s else "—"


def _f(x: float, spec: str = ".2f") -> str:
    return "—" if x is None or x != x else format(x, spec)


def rows_of(r: dict) -> tuple[list[list[str]], list[str]]:
    """Table rows for one size × backend, and notes (extrapolations, checks of the outcome)."""
    files, values, notes = r["files"], r["values"], []
    o, lim, tut = r["ours"], r["limit"], r["tutorial"]
    intake = o.get("seconds", float("nan"))
    pub = o.get("publish_seconds")
    pub_all = None
    if pub is not None:
        done = o["published_townships"]
        if done < r["townships"]:  # a quick run (--province-publish N): not the month, and not extrapolated
            notes.append(f"publish timed on {done} of {r['townships']} townships only ({pub:.1f} s): a quick "
                         f"run, not the month")
        else:
            pub_all = pub
    if o.get("published_manifests") is not None:
        notes.append(f"publish: {o['published_manifests']} vintage folders with a manifest for "
                     f"{o['published_townships']} townships")
    if o.get("publish_error"):
        notes.append(f"publish failed, so only intake is timed: {o['publish_error']}")
    s = o.get("summary") or {}
    if s:
        notes.append(f"ours: {s.get('accepted', 0) + s.get('accepted_with_warnings', 0)} accepted, "
                     f"{s.get('rejected')} rejected (generated with a mistake: {r['rejects']}), "
                     f"{s.get('imported')} values imported")
    n_tut = tut.get("sample_files") or 0
    tut_per_file = tut["seconds"] / n_tut if n_tut else float("nan")
    tut_all = tut_per_file * files
    if n_tut:
        notes.append(f"tutorial: {n_tut} files timed ({tut['seconds']:.1f} s, {tut_per_file * 1000:.0f} ms a file), "
                     f"extrapolated to {files} files; GX context set-up once {tut.get('setup_seconds', 0):.1f} s "
                     f"not counted")
    mk = lambda way, secs, peak: [r["size"], r["backend"], way, f"{files:,}", f"{values:,}", _f(secs, ",.1f"),  # noqa: E731
                                  _rate(files, secs), _rate(values, secs), _f(peak, ",.0f")]
    total = intake + (pub_all or 0)
    rows = [mk("ours: intake", intake, o.get("peak_mb")),
            *([mk("ours: publish month", pub_all, None), mk("ours: intake + publish", total, o.get("peak_mb"))]
              if pub_all is not None else []),
            mk("limit", lim.get("seconds"), lim.get("peak_mb")),
            mk("tutorial (extrapolated)", tut_all, tut.get("peak_mb"))]
    r["ratios"] = {"intake/limit": intake / lim["seconds"], "total/limit": total / lim["seconds"],
                   "tutorial/ours per file": tut_all / intake}
    return rows, notes


def report(results: list[dict], extras: dict, started: dt.datetime, commit: str) -> str:
    head = ["size", "backend", "way", "files", "values", "seconds", "files/s", "values/s", "peak MB"]
    lines = [f"## {started:%Y-%m-%d %H:%M} (commit {commit})", "", f"Machine: {machine()}", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    notes, ratios = [], []
    for r in results:
        rows, n = rows_of(r)
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        notes += [f"- {r['size']}/{r['backend']}: {x}" for x in n]
        q = r["ratios"]
        ratios.append(f"| {r['size']} | {r['backend']} | {_f(q['intake/limit'], '.1f')} | "
                      f"{_f(q['total/limit'], '.1f')} | {_f(q['tutorial/ours per file'], '.1f')} |")
    lines += ["", "| size | backend | ours intake / limit | ours intake+publish / limit | tutorial / ours (per file) |",
              "|---|---|---|---|---|", *ratios]
    lines += ["", "Other targets:", "", "| size | backend | what | seconds | target | detail |", "|---|---|---|---|---|---|"]
    for r in results:
        rr, ck, o = r["rerun"], r["check"], r["ours"]
        init = (rr.get("steps") or {}).get("init (migrate + catalog sync)", float("nan"))
        lines.append(f"| {r['size']} | {r['backend']} | intake finding nothing new | {_f(rr['seconds'])} | ≤ 5 | "
                     f"plus {_f(init)} s opening the runtime (migrate + catalog sync); peak {_f(rr['peak_mb'], '.0f')} MB |")
        lines.append(f"| {r['size']} | {r['backend']} | check one file | {_f(ck['seconds'])} | ≤ 3 | "
                     f"{ck.get('command', '')}, exit {ck.get('exit_code')} (process start to exit) |")
        target = {"county": "≤ 8", "province": "≤ 300"}.get(r["size"])
        if target and o.get("publish_seconds") is not None:
            lines.append(f"| {r['size']} | {r['backend']} | publish the month ({o['published_townships']} of "
                         f"{r['townships']} townships, then {o.get('published_counties', 0)} county roll-ups; "
                         f"townships alone {_f(o.get('publish_townships_seconds'))} s) | "
                         f"{_f(o['publish_seconds'])} | {target} | every township's and county's "
                         f"files, charts, report.html/md/pdf; CPU {_f(o.get('publish_cpu_seconds'), '.1f')} s "
                         f"(all processes); " + ", ".join(
                             f"{k} {v:.1f}" for k, v in (o.get("publish_steps") or {}).items()) + " |")
    if extras.get("flow"):
        f = extras["flow"]
        lines.append(f"| township | sqlite | the Prefect intake flow, one process | {_f(f['seconds'])} | — | "
                     f"ephemeral Prefect server start-up included; exit {f.get('exit_code')} |")
    lines += ["", "Steps of ours (seconds):", ""]
    for r in results:
        steps = (r["ours"].get("steps") or {})
        lines.append(f"- {r['size']}/{r['backend']}: " + ", ".join(f"{k} {v:.2f}" for k, v in steps.items())
                     + (f", publish {r['ours']['publish_seconds']:.2f}" if r["ours"].get("publish_seconds") else ""))
    lines += ["", "Notes:", "", *notes, ""]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--sizes", default="township,county,province")
    p.add_argument("--backends", default="sqlite,postgresql")
    p.add_argument("--sample", type=int, default=200, help="files timed the tutorial way (then extrapolated)")
    p.add_argument("--province-publish", type=int, default=0,
                   help="townships published at province size: 0 = all (the target); N for a quick run (not "
                        "extrapolated)")
    p.add_argument("--no-publish", action="store_true",
                   help="time the intake only (no publish at any size): the quick way to measure an intake change")
    p.add_argument("--no-flow", action="store_true", help="skip timing the Prefect flow at township size")
    p.add_argument("--no-record", action="store_true", help="print only; do not append to RESULTS.md")
    p.add_argument("--work", type=Path, default=OUT / "runs",
                   help="where the runs' warehouses, archives and published files go (emptied per run; default "
                        "bench/out/runs: give each engineer sharing bench/out a folder of their own)")
    a = p.parse_args()
    sizes = [s for s in a.sizes.split(",") if s]
    backends = [b for b in a.backends.split(",") if b]
    unknown = [s for s in sizes if s not in SIZES] + [b for b in backends if b not in ("sqlite", "postgresql")]
    if unknown:
        p.error(f"unknown size or backend: {unknown}")
    started = dt.datetime.now().astimezone()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=ROOT).stdout.strip()
    for s in sizes:  # generation is not timed
        generate(s)
    dbs = Databases(backends)
    results, extras = [], {}
    try:
        for size in sizes:
            for backend in backends:
                publish = 0 if a.no_publish else (a.province_publish or None) if size == "province" else None
                results.append(bench_one(size, backend, dbs, a.sample, publish, a.work))
        if "township" in sizes and not a.no_flow:
            extras["flow"] = flow_once(dbs, a.work)
    finally:
        dbs.close()
    text = report(results, extras, started, commit)
    print(text)
    (OUT / f"last-{started:%Y%m%d-%H%M}.json").write_text(json.dumps({"results": results, "extras": extras},
                                                                     default=str, indent=1))
    if not a.no_record:
        with RESULTS.open("a", encoding="utf-8") as f:
            f.write("\n" + text)


if __name__ == "__main__":
    main()
