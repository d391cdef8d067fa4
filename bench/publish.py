"""Publish only, again and again on the same warehouse: take a month in once, then time each publish (every
township signed, then every county roll-up, as bench/measure.py's `ours` does) on a fresh copy of it.

    .venv/bin/python -m bench.publish prepare --size county --backend sqlite
    .venv/bin/python -m bench.publish publish --size county --backend sqlite [--serial --profile prof.txt]
    .venv/bin/python -m bench.publish prepare --size province --counties 3 --backend postgresql
    .venv/bin/python -m bench.publish publish --size province --counties 3 --backend postgresql
    .venv/bin/python -m bench.publish pgstop

For before/after comparisons of publish changes in the same minute (run it from a checkout of each version), and
for province subsets (the first N counties' townships; their forms are copied out of bench/out, which stays
read-only). Everything is written under --work (default /tmp/township-bench-publish), never into bench/out, so
runs of several people do not meet. PostgreSQL: one throwaway server (tests/pg_server.py) kept between calls
until `pgstop`; each publish runs on a database copied from the prepared one (CREATE DATABASE … TEMPLATE).
Prints one JSON line: wall seconds (townships, county roll-ups), CPU seconds of all our processes, CPU seconds of the
PostgreSQL server (its backends share the two cores), steps.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import time
from pathlib import Path

W = Path("/tmp/township-bench-publish")


def cpu():
    o, k = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return o.ru_utime + o.ru_stime + k.ru_utime + k.ru_stime


def postgres_cpu():
    """CPU seconds (user + system) the bench's PostgreSQL server has used: the postmaster with its exited backends,
    plus the live ones. Not in cpu(): the server is no child of ours, yet it shares the machine's cores."""
    import os

    if not (W / "pg.json").exists():
        return 0.0
    root = Path(json.loads((W / "pg.json").read_text())["root"])
    pid = int((root / "data" / "postmaster.pid").read_text().split()[0])
    ticks = 0
    for d in Path("/proc").iterdir():
        try:
            stat = (d / "stat").read_text().rsplit(")", 1)[1].split() if d.name.isdigit() else None
        except OSError:
            continue
        if stat and int(d.name) == pid:
            ticks += sum(int(x) for x in stat[11:15])  # utime, stime, cutime, cstime
        elif stat and int(stat[1]) == pid:
            ticks += int(stat[11]) + int(stat[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def pg_url():
    if (W / "pg.json").exists():
        return json.loads((W / "pg.json").read_text())["url"]
    from tests.pg_server import start_postgres
    pg = start_postgres()
    (W / "pg.json").write_text(json.dumps({"url": pg.url, "root": str(pg.root), "port": pg.port, "user": pg.user}))
    return pg.url


def admin(sql_list):
    import psycopg
    url = pg_url().replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(url, autocommit=True) as conn:
        for s in sql_list:
            conn.execute(s)


def db_url(backend, name):
    if backend == "sqlite":
        return f"sqlite:///{W / name}.db"
    return pg_url().rsplit("/", 1)[0] + f"/{name}"


def dataset(size, counties):
    """The generated size and its inbox; province: a copy of the first `counties` counties' forms only."""
    from bench.generate import generate
    ds = generate(size)
    if size != "province":
        return ds, ds.inbox
    from township.catalog import load_catalog
    cat = load_catalog(ds.catalog_dir)
    towns = {t.code for c in cat.counties[:counties] for t in cat.townships_of(c.code)}
    inbox = W / f"province{counties}_inbox"
    if not inbox.exists():
        src = ds.root / "inbox"
        for d in sorted(src.iterdir()):
            if d.name.split("_")[0] in towns:
                dst = inbox / d.name
                dst.mkdir(parents=True)
                for f in d.iterdir():
                    if f.is_file():
                        shutil.copy2(f, dst / f.name)
    return ds, inbox


def tag(a):
    return f"{a.size}{(a.base or a.counties) if a.size == 'province' else ''}_{a.backend}"


def prepare(a):
    """Take the size's month in once (the base every publish copies)."""
    from tasks.intake_pipeline import run_intake
    from tasks.pipeline import PLAIN
    from warehouse.runtime import open_runtime
    W.mkdir(parents=True, exist_ok=True)
    ds, inbox = dataset(a.size, a.counties)
    name = f"base_{tag(a)}"
    work = W / name
    shutil.rmtree(work, ignore_errors=True)
    # a copy of the inbox: the intake writes receipts into it (the bench's shared data is read only)
    shutil.copytree(inbox, work / "inbox", ignore=shutil.ignore_patterns("回执"))
    if a.backend == "sqlite":
        (W / f"{name}.db").unlink(missing_ok=True)
    else:
        admin([f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"'])
    rt = open_runtime(warehouse_url=db_url(a.backend, name), inbox=str(work / "inbox"), archive=str(work / "archive"),
                      publish_dir=str(work / "published"), catalog_dir=str(ds.catalog_dir))
    t = time.perf_counter()
    s = run_intake(rt, PLAIN)
    print("intake", round(time.perf_counter() - t, 1), s.as_dict())
    rt.engine.dispose()


def publish(a):
    """One timed publish on a fresh copy of the prepared warehouse, into a fresh publish folder."""
    from bench.generate import PERIOD, generate
    ds = generate(a.size)
    name = f"base_{tag(a)}"
    trial = f"trial_{tag(a)}"
    if a.backend == "sqlite":
        shutil.copy(W / f"{name}.db", W / f"{trial}.db")
    else:
        admin([f'DROP DATABASE IF EXISTS "{trial}"', f'CREATE DATABASE "{trial}" TEMPLATE "{name}"'])
    pub = W / f"{trial}_published"
    shutil.rmtree(pub, ignore_errors=True)
    t_imp = time.perf_counter()
    import tasks.gx  # noqa: F401  as in the bench, where the intake has imported Great Expectations already
    from tasks.pipeline import PlainRunner, TimedRunner, stop_worker_processes
    from tasks.publication import publish_townships
    from tasks.county_publication import publish_county
    from tasks.signoff import Signature
    from warehouse.runtime import open_runtime
    rt = open_runtime(warehouse_url=db_url(a.backend, trial), inbox=str(W / name / "inbox"),
                      archive=str(W / name / "archive"), publish_dir=str(pub), catalog_dir=str(ds.catalog_dir))
    imp = time.perf_counter() - t_imp
    if a.size == "province":
        counties = [c.code for c in rt.catalog.counties[:a.counties]]
        towns = [t.code for c in counties for t in rt.catalog.townships_of(c)]
    else:
        towns = [t.code for t in rt.catalog.townships]
        counties = [c.code for c in rt.catalog.counties]
    timed = TimedRunner(PlainRunner(1) if a.serial else None)
    signed = Signature("基准审核人")
    prof = None
    if a.profile:
        from pyinstrument import Profiler
        prof = Profiler(interval=0.002)
        prof.start()
    t, c0, pg0 = time.perf_counter(), cpu(), postgres_cpu()
    publish_townships(rt, towns, PERIOD, final=False, run=timed, signature=signed)
    towns_s = time.perf_counter() - t
    from tasks import county_publication
    if hasattr(county_publication, "publish_counties"):
        county_publication.publish_counties(rt, counties, PERIOD, False, signed, timed)
    else:  # a version from before the counties were mapped in parallel
        for c in counties:
            publish_county(rt, c, PERIOD, False, signed, timed)
    total = time.perf_counter() - t
    stop_worker_processes()
    c1, pg1 = cpu() - c0, postgres_cpu() - pg0
    if prof:
        prof.stop()
        Path(a.profile).write_text(prof.output_text(unicode=True, color=False, show_all=False))
    n = sum(1 for _ in pub.glob("*/*/v*/manifest.json"))
    print(json.dumps({"tag": tag(a), "townships": len(towns), "counties": len(counties), "open_s": round(imp, 2),
                      "publish_s": round(total, 2), "townships_s": round(towns_s, 2),
                      "counties_s": round(total - towns_s, 2), "cpu_s": round(c1, 1), "postgres_cpu_s": round(pg1, 1),
                      "per_township_s": round(total / len(towns), 3), "manifests": n,
                      "steps": {k: round(v, 2) for k, v in timed.seconds.items()}}, ensure_ascii=False))
    rt.engine.dispose()


def main() -> None:
    global W
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("what", choices=["prepare", "publish", "pgstop"])
    p.add_argument("--size", default="county", choices=["township", "county", "province"])
    p.add_argument("--backend", default="sqlite", choices=["sqlite", "postgresql"])
    p.add_argument("--counties", type=int, default=3, help="province: publish the first N counties' townships")
    p.add_argument("--profile", help="write a pyinstrument profile of the publish here (with --serial: all of it)")
    p.add_argument("--serial", action="store_true", help="no worker processes: every step in this process")
    p.add_argument("--base", type=int, help="province: the prepared subset to copy (default --counties)")
    p.add_argument("--work", type=Path, default=W)
    a = p.parse_args()
    W = a.work
    W.mkdir(parents=True, exist_ok=True)
    if a.what == "prepare":
        prepare(a)
    elif a.what == "publish":
        publish(a)
    else:
        from tests.pg_server import PostgresServer

        d = json.loads((W / "pg.json").read_text())
        PostgresServer(Path(d["root"]), d["port"], d["user"]).stop()
        (W / "pg.json").unlink()


if __name__ == "__main__":
    main()
