"""The worker processes a step runs in (tasks/pipeline.py) are forked from the running process: they must not
crash on what the parent leaves behind. A DuckDB connection that had read Parquet files (an analyst's session,
tests/test_exports.py) and became garbage in the parent crashed a worker forked afterwards with a segmentation
fault, as soon as the worker's garbage collector ran its finalizer; the step then failed with BrokenProcessPool.

A fresh interpreter: the pool is per process, and a crash must not take the test process's own pool with it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_a_worker_forked_after_a_duckdb_session_became_garbage_runs_its_step(tmp_path):
    code = textwrap.dedent(f"""
        import gc
        import duckdb, pyarrow as pa, pyarrow.parquet as pq
        from tasks.pipeline import in_worker_process

        def step():  # a worker's first step: an import, then a full collection (as a busy step gets)
            import psycopg  # noqa: F401
            gc.collect()
            return "done"

        pq.write_table(pa.table({{"period": ["2021-10"] * 3, "value": [1.0, 2.0, 3.0]}}), "{tmp_path}/v.parquet")

        class Session:  # a cycle: only the garbage collector frees it, in the parent or in a forked child
            pass

        s = Session()
        s.me, s.con = s, duckdb.connect()
        s.rows = s.con.execute("SELECT period, SUM(value) FROM read_parquet('{tmp_path}/v.parquet') GROUP BY ALL").fetchall()
        assert s.rows == [("2021-10", 6.0)]
        del s
        print(in_worker_process(step))
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "done", out.stderr[-2000:]
    assert "Segmentation fault" not in out.stderr
