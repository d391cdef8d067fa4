"""One measurement per process: ours, the limit, the tutorial way, a nothing-new rerun, a dry-run check.

`python -m bench.measure WAY --size S --url URL --work DIR` prints one JSON line; bench/run.py starts
each in a fresh process so that peak memory (maxrss) belongs to that measurement alone.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import resource
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from bench.generate import PERIOD, generate

TUTORIAL_EXPECTATIONS = 4


def _peak_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, kids) / 1024, 1)  # Linux reports KiB


def _cpu_seconds() -> float:
    """CPU time (user + system) of this process and of its children that have exited: what a measurement cost
    the machine, whatever else it was running."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _inbox_files(inbox: Path) -> list[Path]:
    """The forms: not the receipts an intake wrote back into the reporters' 回执 folders."""
    from tasks.receipts import REPLY_FOLDER

    return sorted(p for p in inbox.rglob("*") if p.is_file() and REPLY_FOLDER not in p.relative_to(inbox).parts)


# --- ours: the intake steps in-process (as tests/intake_helpers.run_intake), then publish ---

def ours(ds, url: str, work: Path, publish_townships: int | None, rerun: bool = False) -> dict:
    from tasks.intake_pipeline import run_intake
    from tasks.pipeline import TimedRunner
    from warehouse.runtime import open_runtime

    t0 = time.perf_counter()
    rt = open_runtime(warehouse_url=url, inbox=str(ds.inbox), archive=str(work / "archive"),
                      publish_dir=str(work / "published"), catalog_dir=str(ds.catalog_dir))
    opened = time.perf_counter() - t0
    timed = TimedRunner()  # the flow's pipeline and batch loop, steps called directly (no Prefect server timed)
    started = time.perf_counter()
    summary = run_intake(rt, timed)
    steps = {"init (migrate + catalog sync)": opened, **timed.seconds,
             **{f"{k} (in flight beside the others)": v for k, v in timed.in_flight().items()}}
    intake_s = time.perf_counter() - started
    out = {"seconds": intake_s, "steps": steps, "summary": summary.as_dict()}
    if not rerun and publish_townships != 0:
        from tasks.publication import publish_townships as publish

        towns = [t.code for t in rt.catalog.townships][:publish_townships or None]
        print(json.dumps(out, default=str), file=sys.stderr)  # intake's figures survive a failing publish
        # The month of every township at once, as the flow publishes it: prepared and signed in parallel (worker
        # processes), their snapshot tables checked in one GX run. Worker start-up is timed with it.
        from tasks.pipeline import stop_worker_processes

        from tasks.county_publication import publish_counties
        from tasks.signoff import Signature

        pub_timed = TimedRunner()
        signed = Signature("基准审核人")  # signed, as the county roll-up reads only signed township vintages
        t, cpu = time.perf_counter(), _cpu_seconds()
        try:
            publish(rt, towns, PERIOD, final=False, run=pub_timed, signature=signed)
            towns_s = time.perf_counter() - t
            # then every county's roll-up, ranking and report, from its townships' signed vintages (counties in
            # parallel, as the publish-county flow maps them)
            counties = [c.code for c in rt.catalog.counties
                        if publish_townships is None or {x.code for x in rt.catalog.townships_of(c.code)} <= set(towns)]
            publish_counties(rt, counties, PERIOD, False, signed, pub_timed)
            stop_worker_processes()  # their CPU time counts once they have exited
        except Exception as e:  # noqa: BLE001 - report it with the intake figures, not instead of them
            out["publish_error"] = f"{type(e).__name__}: {e}"[:300]
        else:
            out["publish_seconds"] = time.perf_counter() - t
            out["publish_townships_seconds"] = towns_s
            out["publish_cpu_seconds"] = _cpu_seconds() - cpu
            out["published_townships"] = len(towns)
            out["published_counties"] = len(counties)
            out["publish_steps"] = pub_timed.seconds
            # what a reader finds: one complete vintage folder (its manifest written last) per township
            out["published_manifests"] = sum(1 for _ in (work / "published").glob("*/*/v*/manifest.json"))
    rt.engine.dispose()
    return out


# --- the limit: the fastest reader plus the database's fastest bulk path, nothing else ---

_CSV_ROLES = {"reporter_code": 0, "单位代码": 0, "indicator_code": 1, "指标代码": 1, "month_value": 2, "本月": 2,
              "ytd_value": 3, "1-本月累计": 3}


def _number(v: object) -> float | None:
    from tasks.values import parse_value

    if type(v) is float or type(v) is int:
        return float(v)
    n = parse_value(v)[0]
    return None if n != n else n


def _limit_rows(path: Path) -> list[tuple]:
    """(reporter, period, indicator, month, ytd) of one file, knowing the layout; no checks at all."""
    from python_calamine import CalamineWorkbook

    reporter = path.parent.name
    if path.suffix == ".csv":
        data = path.read_bytes()
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("gb18030")
        it = csv.reader(io.StringIO(text))
        head = next(it)
        col = {_CSV_ROLES[h]: j for j, h in enumerate(head) if h in _CSV_ROLES}
        return [(reporter, str(PERIOD), r[col[1]], _number(r[col[2]]), _number(r[col[3]])) for r in it if r]
    grid = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("报表").to_python()
    top = next(i for i, r in enumerate(grid) if r and r[0] == "指标代码")
    rows = []
    for r in grid[top + 1:]:
        if not r or r[0] == "":
            break
        rows.append((reporter, str(PERIOD), r[0], _number(r[3]), _number(r[4])))
    return rows


def limit(ds, url: str, work: Path) -> dict:
    t = time.perf_counter()
    rows = [row for p in _inbox_files(ds.inbox) for row in _limit_rows(p)]
    read_s = time.perf_counter() - t
    t = time.perf_counter()
    ddl = ("CREATE TABLE limit_values (reporter_code text, period text, indicator_code text, "
           "month_value double precision, ytd_value double precision)")
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        conn.execute("DROP TABLE IF EXISTS limit_values")
        conn.execute(ddl)
        with conn:
            conn.executemany("INSERT INTO limit_values VALUES (?, ?, ?, ?, ?)", rows)
        conn.close()
    else:
        import psycopg

        with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn, conn.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS limit_values")
            cur.execute(ddl)
            with cur.copy("COPY limit_values FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["text", "text", "text", "float8", "float8"])
                for row in rows:
                    copy.write_row(row)
    load_s = time.perf_counter() - t
    return {"seconds": read_s + load_s, "steps": {"read (calamine)": read_s, "bulk load": load_s},
            "loaded": len(rows)}


# --- the tutorial way: pandas.read_excel(openpyxl), one GX validation per file, DataFrame.to_sql ---

def tutorial(ds, url: str, work: Path, sample: int) -> dict:
    import great_expectations as gx
    import pandas as pd
    from sqlalchemy import create_engine

    from township.catalog import load_catalog

    t = time.perf_counter()
    files = _inbox_files(ds.inbox)
    step = max(1, len(files) // sample)
    files = files[::step][:sample]
    codes = [i.code for i in load_catalog(ds.catalog_dir).indicators]
    engine = create_engine(url)
    context = gx.get_context(mode="ephemeral")
    batch_def = (context.data_sources.add_pandas("forms").add_dataframe_asset("form")
                 .add_batch_definition_whole_dataframe("file"))
    suite = context.suites.add(gx.ExpectationSuite(name="form"))
    for e in (gx.expectations.ExpectColumnValuesToNotBeNull(column="indicator_code"),
              gx.expectations.ExpectColumnValuesToBeInSet(column="indicator_code", value_set=codes),
              gx.expectations.ExpectColumnValuesToBeBetween(column="month_value", min_value=0),
              gx.expectations.ExpectColumnValuesToBeBetween(column="ytd_value", min_value=0)):
        suite.add_expectation(e)
    setup_s = time.perf_counter() - t
    names = {"指标代码": "indicator_code", "本月": "month_value", "1-本月累计": "ytd_value", "单位代码": "reporter_code",
             "报告期": "period", "计量单位": "unit", "备注": "note", "指标名称": "indicator_name"}
    accepted = 0
    t = time.perf_counter()
    for path in files:
        if path.suffix == ".csv":
            try:
                df = pd.read_csv(path, encoding="utf-8-sig", dtype=str)
            except UnicodeDecodeError:
                df = pd.read_csv(path, encoding="gbk", dtype=str)
        else:
            df = pd.read_excel(path, sheet_name="报表", header=3, engine="openpyxl")
            df = df.iloc[: int(df["指标代码"].isna().to_numpy().argmax()) or len(df)]  # a blank row ends it
        df = df.rename(columns=names)
        df["reporter_code"], df["period"] = path.parent.name, str(PERIOD)
        for c in ("month_value", "ytd_value"):
            df[c] = pd.to_numeric(df[c].astype(str).str.replace(",", ""), errors="coerce")
        df = df[["reporter_code", "period", "indicator_code", "month_value", "ytd_value"]]
        result = batch_def.get_batch(batch_parameters={"dataframe": df}).validate(suite)
        if result.success:
            df.to_sql("tutorial_values", engine, if_exists="append", index=False)
            accepted += 1
    loop_s = time.perf_counter() - t
    engine.dispose()
    return {"seconds": loop_s, "sample_files": len(files), "setup_seconds": setup_s, "accepted": accepted,
            "steps": {"setup (GX context, once)": setup_s}}


# --- township check FILE: a dry run, in its own process as a user would run it ---

def check(ds, url: str, work: Path) -> dict:
    path = next(p for p in _inbox_files(ds.inbox) if p.suffix == ".xlsx")
    env = {**os.environ, "TOWNSHIP_WAREHOUSE_URL": url, "TOWNSHIP_CATALOG_DIR": str(ds.catalog_dir),
           "TOWNSHIP_INBOX": str(ds.inbox), "TOWNSHIP_ARCHIVE": str(work / "archive")}
    exe = Path(sys.executable).with_name("township")
    cmd = [str(exe), "check", str(path)]
    t = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - t
    return {"seconds": seconds, "command": "township check",
            "exit_code": done.returncode, "stderr_tail": done.stderr[-300:]}


# --- the Prefect flow itself, once (server start-up included) ---

def flow(ds, url: str, work: Path) -> dict:
    env = {**os.environ, "TOWNSHIP_CATALOG_DIR": str(ds.catalog_dir), "PREFECT_HOME": str(work / "prefect"),
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}
    code = ("from flows.intake import intake; import json; "
            f"print(json.dumps(intake(inbox={str(ds.inbox)!r}, archive={str(work / 'archive')!r}, "
            f"warehouse_url={url!r}, publish_dir={str(work / 'published')!r})))")
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - t
    lines = done.stdout.strip().splitlines()
    return {"seconds": seconds, "exit_code": done.returncode,
            "summary": json.loads(lines[-1]) if done.returncode == 0 and lines else done.stderr[-500:]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("way", choices=["ours", "rerun", "limit", "tutorial", "check", "flow"])
    p.add_argument("--size", required=True)
    p.add_argument("--url", required=True)
    p.add_argument("--work", required=True, type=Path)
    p.add_argument("--sample", type=int, default=200)
    p.add_argument("--publish-townships", type=int, default=None)
    a = p.parse_args()
    ds = generate(a.size)
    a.work.mkdir(parents=True, exist_ok=True)
    if a.way == "ours":
        out = ours(ds, a.url, a.work, a.publish_townships)
    elif a.way == "rerun":
        out = ours(ds, a.url, a.work, 0, rerun=True)
    elif a.way == "tutorial":
        out = tutorial(ds, a.url, a.work, a.sample)
    else:
        out = {"limit": limit, "check": check, "flow": flow}[a.way](ds, a.url, a.work)
    out["peak_mb"] = _peak_mb()
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main()
