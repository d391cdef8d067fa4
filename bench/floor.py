"""The floor of an intake: each duty it must do, done the cheapest way this stack allows, on the same inbox.

`python -m bench.floor --size province` times, in one process and one run: the limit (bench.measure.limit), then
each duty of ours alone, done bare: listing and hashing the inbox, reading it with the limit's reader on every core,
copying it with `cp -a` and flushing that (the archive), writing four receipt files a form with a bare loop (plain
and atomic) and flushing them, one Great Expectations run of the submissions suite over the whole month's frame and
over its batches, and COPY of the submissions and values into the warehouse's own tables (with their foreign keys
and indexes, and without the keys). It prints each and their sum against the limit (bench/README.md). It writes
only under --work and into a throwaway PostgreSQL server, never into bench/out.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from bench.generate import PERIOD, generate
from bench.measure import _inbox_files, _limit_rows, limit

# a receipt's two files as the intake writes them (bytes, an accepted form's: 505 JSON, 412 Markdown)
RECEIPT_JSON, RECEIPT_MD = "{" + " " * 503 + "}", "#" + "." * 410 + "\n"


def timed(fn, *args):  # noqa: ANN001, ANN002, ANN201
    t = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t, out


def sync_folder(folder: Path) -> None:
    """syncfs(2) of the folder's filesystem, as tasks.inbox.make_durable does once a batch."""
    subprocess.run(["sync", "-f", str(folder)], check=True)


def pull_floor(files: list[Path]) -> int:
    """List and hash every form (what pull must do to tell new content from duplicates)."""
    return sum(len(hashlib.sha256(p.read_bytes()).digest()) for p in files)


def _rows_of(paths: list[Path]) -> list[tuple]:
    return [row for p in paths for row in _limit_rows(p)]


def read_floor(files: list[Path]) -> list[tuple]:
    """The limit's reader (calamine, knowing the layout) on every core: chunks in worker processes."""
    chunks = [files[i:i + 200] for i in range(0, len(files), 200)]
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        return [row for part in pool.map(_rows_of, chunks) for row in part]


def write_receipts_bare(files: list[Path], inbox: Path, root: Path, atomic: bool) -> int:
    """Four files a form, as many bytes as the intake's: JSON and Markdown beside the archived copy and in the
    reporter's 回执 folder. atomic: written to a temporary name and renamed (a reader never sees half a file)."""
    made: set[str] = set()
    n = 0
    for p in files:
        rel = p.relative_to(inbox)
        for folder in (f"{root}/archive/{rel.parent}", f"{root}/inbox/{rel.parent}/回执"):
            if folder not in made:
                os.makedirs(folder, exist_ok=True)
                made.add(folder)
            for suffix, text in ((".receipt.json", RECEIPT_JSON), (".receipt.md", RECEIPT_MD)):
                full = f"{folder}/{p.name}{suffix}"
                target = f"{full}.tmp" if atomic else full
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
                os.write(fd, text.encode())
                os.close(fd)
                if atomic:
                    os.replace(target, full)
                n += 1
    return n


def review_floor(inbox: Path, catalog_dir: Path, batches: int) -> dict:
    """One Great Expectations run of the submissions suite over the month's enriched frame, and one per batch.
    The frame is a batch's (1/batches of the forms, read and enriched by ours, not timed) repeated `batches`
    times with its own source rows: the rows the month's validation sees, in number and kind."""
    t = time.perf_counter()
    import tasks.gx  # noqa: F401 - Great Expectations' import, reported apart

    imported = time.perf_counter() - t
    from tasks.batch_review import run_frame
    from tasks.enrich import CONTEXT_COLUMNS, enrich
    from tasks.gx import validate_frame
    from tasks.inbox import fetch, list_inbox
    from tasks.read_files import read_many
    from tasks.review import suite_parameters
    from township.catalog import load_catalog
    from township.periods import Period
    from township.settings import get_settings

    catalog = load_catalog(catalog_dir)
    listing = list_inbox(str(inbox))
    part = listing.iloc[: -(-len(listing) // batches)]
    frame = enrich(run_frame(read_many(fetch(str(inbox), part), catalog)), catalog,
                   pd.DataFrame(columns=CONTEXT_COLUMNS))
    month = pd.concat([frame.assign(source_row=frame["source_row"] + i * len(frame)) for i in range(batches)],
                      ignore_index=True)
    params = suite_parameters(catalog, Period.current(get_settings().tz))  # as a run today
    validate_frame(frame.head(50), "submissions", "source_row", params)  # the suite loaded, GX warm
    one_s, failed = timed(validate_frame, month, "submissions", "source_row", params)
    per_batch = []
    for _ in range(batches):
        per_batch.append(timed(validate_frame, frame, "submissions", "source_row", params)[0])
    return {"import great_expectations (tasks.gx)": imported, "rows": len(month),
            "one validation of the month": one_s, f"{batches} validations of a batch": sum(per_batch),
            "failing rows": sum(len(f.ids) for f in failed)}


def load_floor(url: str, catalog_dir: Path, work: Path, files: list[Path], rows: list[tuple], batches: int) -> dict:
    """Binary COPY of the month's submissions and values into a migrated warehouse, in `batches` transactions as
    the batches load: into value_history as it is (foreign keys to reporter, indicator and submission; its unique
    current-value index and period index), into copies with the same indexes and no foreign keys (what the key
    checks cost) or only those to the catalog, and into one with neither."""
    import psycopg

    from warehouse.runtime import open_runtime

    rt = open_runtime(warehouse_url=url, inbox=str(work / "inbox"), archive=str(work / "archive"),
                      publish_dir=str(work / "published"), catalog_dir=str(catalog_dir))
    reporters, indicators = set(rt.catalog.reporter_by_code), set(rt.catalog.indicator_by_code)
    rt.engine.dispose()
    values: dict[tuple, tuple] = {}
    for reporter, period, indicator, month, ytd in rows:  # the loadable ones, one per key (the rejected forms out)
        if reporter in reporters and indicator in indicators:
            values[(reporter, period, indicator)] = (month, ytd)
    sub_of = {p.parent.name: i for i, p in enumerate(files, 1)}  # a reporter sends one form a month
    now = pd.Timestamp.now(tz="UTC").to_pydatetime()
    subs = [(sub_of[p.parent.name], hashlib.sha256(str(p).encode()).hexdigest(), p.parent.name, p.parent.name, None,
             str(PERIOD), p.name, f"{p.parent.name}/{PERIOD}/{p.name}", f"{p.parent.name}/{p.name}", now, "accepted",
             True, 25, 0, 0, 0, now) for p in files]
    vals = [(r, p, ind, None if m != m else m, None if y != y else y, None, sub_of[r], now, None)
            for (r, p, ind), (m, y) in values.items()]
    vcols = "reporter_code, period, indicator_code, month_value, ytd_value, note, submission_id, valid_from, valid_to"
    vtypes = ["text", "text", "text", "float8", "float8", "text", "int4", "timestamptz", "timestamptz"]
    out = {"values": len(vals), "transactions": batches}
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn, conn.cursor() as cur:
        def copy(table: str, cols: str, types: list[str], data: list[tuple]) -> float:
            t = time.perf_counter()
            size = -(-len(data) // batches)
            for i in range(0, len(data), size):
                with cur.copy(f"COPY {table} ({cols}) FROM STDIN (FORMAT BINARY)") as cp:
                    cp.set_types(types)
                    for row in data[i:i + size]:
                        cp.write_row(row)
                conn.commit()
            return time.perf_counter() - t

        out["COPY submissions"] = copy(
            "submission", "id, sha256, inbox_folder, reporter_code, township_code, period, file_name, archive_path, "
            "path, received_at, status, on_time, imported, updated, unchanged, rejected, processed_at",
            ["int4", "text", "text", "text", "text", "text", "text", "text", "text", "timestamptz", "text", "bool",
             "int4", "int4", "int4", "int4", "timestamptz"], subs)
        cur.execute("CREATE TABLE value_nofk (LIKE value_history INCLUDING DEFAULTS INCLUDING INDEXES)")
        cur.execute("CREATE TABLE value_plain (LIKE value_history INCLUDING DEFAULTS)")
        cur.execute("CREATE TABLE value_catalog_fk (LIKE value_history INCLUDING DEFAULTS INCLUDING INDEXES, "
                    "FOREIGN KEY (reporter_code) REFERENCES reporter (code), "
                    "FOREIGN KEY (indicator_code) REFERENCES indicator (code))")
        conn.commit()
        out["COPY values, no keys, no indexes"] = copy("value_plain", vcols, vtypes, vals)
        out["COPY values, indexes, no foreign keys"] = copy("value_nofk", vcols, vtypes, vals)
        out["COPY values, indexes, keys to reporter and indicator only"] = copy("value_catalog_fk", vcols, vtypes, vals)
        out["COPY values into value_history (foreign keys, indexes)"] = copy("value_history", vcols, vtypes, vals)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--size", default="province")
    p.add_argument("--work", type=Path, default=Path("/tmp/township-bench-floor"))
    p.add_argument("--batches", type=int, default=None, help="batches of the month (default: files / TOWNSHIP_BATCH_FILES)")
    a = p.parse_args()
    from tests.pg_server import start_postgres
    from township.settings import Settings

    ds = generate(a.size)
    shutil.rmtree(a.work, ignore_errors=True)
    inbox = a.work / "inbox"
    forms = _inbox_files(ds.inbox)
    for f in forms:  # a private copy of the forms (bench/out is shared, and its 回执 folders are not forms)
        dst = inbox / f.relative_to(ds.inbox)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, dst)
    files = sorted(inbox.rglob("*.*"))
    batches = a.batches or -(-len(files) // Settings().batch_files)
    sync_folder(a.work)
    pg = start_postgres()
    res: dict = {"size": a.size, "files": len(files), "batches": batches, "cpus": os.cpu_count()}
    try:
        admin = pg.url.replace("postgresql+psycopg", "postgresql")
        import psycopg

        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("CREATE DATABASE floor_limit")
            conn.execute("CREATE DATABASE floor_load")
        base = pg.url.rsplit("/", 1)[0]
        res["limit"] = limit(ds, f"{base}/floor_limit", a.work)
        print(f"limit {res['limit']['seconds']:.1f} s", file=sys.stderr)
        res["pull: list and hash"] = timed(pull_floor, files)[0]
        res["read: the limit's reader on every core"], rows = timed(read_floor, files)
        archive = a.work / "archive"
        res["archive: cp -a"] = timed(subprocess.run, ["cp", "-a", str(inbox), str(archive)])[0]
        res["archive: flush (sync -f)"] = timed(sync_folder, archive)[0]
        print("archive done", file=sys.stderr)
        for atomic in (False, True):
            kind = "atomic (temporary name, rename)" if atomic else "plain"
            root = a.work / ("receipts-atomic" if atomic else "receipts-plain")
            res[f"receipts: 4 files a form, {kind}"] = timed(write_receipts_bare, files, inbox, root, atomic)[0]
            res[f"receipts: flush, {kind}"] = timed(sync_folder, root)[0]
        print("receipts done", file=sys.stderr)
        res["review"] = review_floor(inbox, ds.catalog_dir, batches)
        print("review done", file=sys.stderr)
        res["load"] = load_floor(f"{base}/floor_load", ds.catalog_dir, a.work, files, rows, batches)
    finally:
        pg.stop()
    floor = {
        "pull": res["pull: list and hash"],
        "read": res["read: the limit's reader on every core"],
        "archive": res["archive: cp -a"] + res["archive: flush (sync -f)"],
        "review": res["review"][f"{batches} validations of a batch"],
        "load": res["load"]["COPY submissions"] + res["load"]["COPY values into value_history (foreign keys, indexes)"],
        "receipts": res["receipts: 4 files a form, atomic (temporary name, rename)"]
        + res["receipts: flush, atomic (temporary name, rename)"],
    }
    res["floor"] = {**floor, "sum": sum(floor.values()), "limit": res["limit"]["seconds"],
                    "sum / limit": sum(floor.values()) / res["limit"]["seconds"]}
    print(json.dumps(res, indent=1, default=str))
    shutil.rmtree(a.work, ignore_errors=True)


if __name__ == "__main__":
    main()
