"""The reads and the one write intake makes: seen files, current values, and the run's load.

The load is one transaction under an intake lock (PostgreSQL advisory lock / SQLite BEGIN IMMEDIATE):
submissions whose hash another run already loaded are dropped, the rest are inserted with their
conflicts and values; replaced values are closed (valid_to), never overwritten. A crash anywhere
rolls the whole load back, and the next run does it again.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, String, bindparam, insert, select, text, update

from warehouse.engine import copy_rows
from warehouse.models import Conflict, InboxFile, Submission, ValueHistory
from warehouse.text_fit import fit_column, fit_rows
from warehouse.signoff_io import insert_pending, lock_final_periods

PENDING_REVISION = "accepted_pending_revision"  # a submission's status: see tasks/batch_review.py

INTAKE_LOCK_KEY = 0x70776E73  # arbitrary constant: "the intake load" advisory lock

VALUE_COLUMNS = ["reporter_code", "period", "indicator_code", "month_value", "ytd_value", "note"]


def seen_files(engine: Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        rows = conn.execute(select(InboxFile.path, InboxFile.size, InboxFile.mtime_ns, InboxFile.sha256)).all()
    return pd.DataFrame(rows, columns=["path", "size", "mtime_ns", "sha256"])


IN_CHUNK = 5000  # values per IN list (SQLite allows 32,766 bound values)


def _existing(conn: Connection, column, values: list) -> set:  # noqa: ANN001 - a mapped column
    """Which of `values` the column already holds (asked in chunks: IN lists have limits)."""
    found: set = set()
    for i in range(0, len(values), IN_CHUNK):
        found.update(conn.execute(select(column).where(column.in_(bindparam("v", expanding=True))),
                                  {"v": values[i:i + IN_CHUNK]}).scalars())
    return found


def known_hashes(engine: Engine, hashes: list[str]) -> set[str]:
    """Hashes among `hashes` that are already submissions."""
    with engine.connect() as conn:
        return _existing(conn, Submission.sha256, hashes)


REPORTER_CHUNK = 2000  # reporters per IN list (SQLite allows 32,766 bound values; keep lists modest)


def _current_rows(conn: Connection, columns: str, where: str, params: dict, reporters: list[str]) -> list:
    """Current value rows matching `where`, for these reporters only, asked in reporter chunks: a batch
    of a province must not read every current value of the month (600,000 rows) to keep 200,000."""
    expanding = [bindparam(k, expanding=True) for k, v in params.items() if isinstance(v, list)]
    stmt = text(f"SELECT {columns} FROM value_history WHERE valid_to IS NULL AND {where} "
                f"AND reporter_code IN :r").bindparams(bindparam("r", expanding=True), *expanding)
    rows: list = []
    for i in range(0, len(reporters), REPORTER_CHUNK):
        rows.extend(conn.execute(stmt, {**params, "r": reporters[i:i + REPORTER_CHUNK]}).all())
    return rows


def current_values(engine: Engine, lo: str, hi: str, reporters: list[str] | None = None) -> pd.DataFrame:
    """Current values with lo <= period <= hi, of these reporters (None: of every reporter)."""
    cols = ["reporter_code", "period", "indicator_code", "month_value", "ytd_value"]
    with engine.connect() as conn:
        if reporters is None:
            rows = conn.execute(text(f"SELECT {', '.join(cols)} FROM value_history WHERE valid_to IS NULL "
                                     "AND period BETWEEN :lo AND :hi"), {"lo": lo, "hi": hi}).all()
        else:
            rows = _current_rows(conn, ", ".join(cols), "period BETWEEN :lo AND :hi", {"lo": lo, "hi": hi},
                                 sorted(set(reporters)))
    return pd.DataFrame(rows, columns=cols).astype({"month_value": "float64", "ytd_value": "float64"})


# The fault-injection seam (tests/test_intake_crash.py, bench/faults.py): callables run inside a load's
# transaction right after its submissions are inserted, e.g. to pause there so a test can kill the
# process mid-load. Empty in production; nothing else in the loader knows about faults.
LOAD_HOOKS: list[Callable[[Connection], None]] = []


@dataclass
class LoadResult:
    submission_ids: dict[str, int]  # sha256 -> id
    counts: pd.DataFrame  # sha256, imported, updated, unchanged
    skipped: list[str]  # hashes already loaded by another run


def intake_lock(conn: Connection, shared: bool = False) -> None:
    """The intake lock, held to the end of the transaction: every load takes it, and so does every freeze
    of a vintage, shared (freeze_lock, below): no batch loads while a vintage is frozen, and
    freezes of different townships do not wait for each other."""
    if conn.dialect.name == "postgresql":
        fn = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
        conn.execute(text(f"SELECT {fn}(:k)"), {"k": INTAKE_LOCK_KEY})
    # SQLite: the transaction began with BEGIN IMMEDIATE (engine 'write' flag), the database lock.


FREEZE_LOCK_CLASS = 0x66727A  # arbitrary: the advisory locks (class, org unit) of freezes, a key space of their own


def freeze_lock(conn: Connection, org_unit: str) -> None:
    """Held by a freeze to the end of its transaction: the intake lock, shared (loads wait for the freeze, other
    freezes do not), then its org unit's own lock (two publishers of one township or county one at a time, so a
    pending revision is never applied twice). Always in this order: no deadlock. SQLite: the transaction began
    with BEGIN IMMEDIATE (the database's write lock), which is all of that."""
    intake_lock(conn, shared=True)
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:c, :o)"),
                     {"c": FREEZE_LOCK_CLASS, "o": zlib.crc32(org_unit.encode("utf-8")) - 2**31})


def _none(values: np.ndarray) -> list:
    """float array → list with NaN as None (NULL): blank is not 0."""
    return [None if v != v else float(v) for v in values]


def _datetimes(times: pd.Series) -> list[dt.datetime | None]:
    """Aware UTC timestamps as datetimes (NaT as None) through numpy: a pandas Timestamp per value costs
    ~4 µs, 3 s a province month."""
    naive = times.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[us]").tolist()
    return [None if t is None else t.replace(tzinfo=dt.timezone.utc) for t in naive]


def _sqlite_time(t: dt.datetime | None) -> str | None:
    if t is None:
        return None
    return t.astimezone(dt.timezone.utc).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def _plan_values(values: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """Order versions per key by receipt, compare each with the one before (warehouse current first),
    and keep the ones that change something. Returns the rows to insert with status and valid_to."""
    v = values.sort_values(["received_at", "sha256"], kind="stable").copy()
    key = ["reporter_code", "period", "indicator_code"]
    cur = current.rename(columns={"month_value": "cur_month", "ytd_value": "cur_ytd", "note": "cur_note"})
    v = v.merge(cur[[*key, "id", "cur_month", "cur_ytd", "cur_note"]], on=key, how="left")
    g = v.groupby(key, sort=False)
    prev_month = g["month_value"].shift(1)
    prev_ytd = g["ytd_value"].shift(1)
    prev_note = g["note"].shift(1)
    first = prev_month.isna() & prev_ytd.isna() & (g.cumcount() == 0)
    has_prev = ~first | v["id"].notna()
    pm = prev_month.where(~first, v["cur_month"])
    py = prev_ytd.where(~first, v["cur_ytd"])
    pn = prev_note.where(~first, v["cur_note"]).fillna("")

    def same(a: pd.Series, b: pd.Series) -> pd.Series:
        return (a == b) | (a.isna() & b.isna())

    unchanged = has_prev & same(v["month_value"], pm) & same(v["ytd_value"], py) & (v["note"].fillna("") == pn)
    v["status"] = np.where(unchanged, "unchanged", np.where(has_prev, "updated", "imported"))
    return v


def load_run(engine: Engine, submissions: pd.DataFrame, conflicts: pd.DataFrame, values: pd.DataFrame,
             inbox_rows: pd.DataFrame, now: dt.datetime) -> LoadResult:
    """Load one run in one transaction.

    submissions: sha256, inbox_folder, reporter_code, township_code, period, file_name, archive_path,
      received_at, status, on_time, rejected (values not loaded)
    conflicts: sha256 + CONFLICT columns; values: sha256, received_at + VALUE_COLUMNS (accepted only)
    inbox_rows: path, size, mtime_ns, sha256 (every file looked at this run)
    """
    with engine.connect() as conn:
        conn.info["write"] = True
        try:
            with conn.begin():
                intake_lock(conn)
                # The load happens when it holds the lock: a vintage frozen while it waited is older than it.
                now = max(now, dt.datetime.now(dt.timezone.utc))
                return _load_locked(conn, submissions, conflicts, values, inbox_rows, now)
        finally:
            conn.info.pop("write", None)


def _load_locked(conn: Connection, submissions: pd.DataFrame, conflicts: pd.DataFrame, values: pd.DataFrame,
                 inbox_rows: pd.DataFrame, now: dt.datetime) -> LoadResult:
    _upsert_inbox(conn, inbox_rows, now)
    hashes = submissions["sha256"].tolist()
    already = _existing(conn, Submission.sha256, hashes)
    subs = submissions[~submissions["sha256"].isin(already)]
    vals = values[values["sha256"].isin(set(subs["sha256"]))]
    # Corrections to a month already final (定报) are stored as pending revisions, not made current;
    # the locks are read again here, under the load's lock, in case a 定报 was signed since the review.
    subs, conflicts = lock_final_periods(conn, subs, conflicts, PENDING_REVISION)
    pending_hashes = set(subs.loc[subs["status"] == PENDING_REVISION, "sha256"])
    pending, vals = vals[vals["sha256"].isin(pending_hashes)], vals[~vals["sha256"].isin(pending_hashes)]

    # Current values of the keys this run touches, read under the lock.
    current = _current_for(conn, vals)
    plan = _plan_values(vals, current) if not vals.empty else vals.assign(status=[])
    counts = (plan.groupby(["sha256", "status"]).size().unstack(fill_value=0)
              .reindex(columns=["imported", "updated", "unchanged"], fill_value=0).reset_index()
              if not plan.empty else pd.DataFrame(columns=["sha256", "imported", "updated", "unchanged"]))
    subs = subs.merge(counts, on="sha256", how="left")
    for c in ("imported", "updated", "unchanged"):
        subs[c] = subs[c].fillna(0).astype("int64")

    ids = _insert_submissions(conn, subs, now)
    for hook in LOAD_HOOKS:
        hook(conn)
    _insert_conflicts(conn, conflicts[conflicts["sha256"].isin(ids)], ids)
    if not plan.empty:
        _write_values(conn, plan, ids)
    insert_pending(conn, pending, ids)
    return LoadResult(ids, counts, sorted(already & set(hashes)))


def _current_for(conn: Connection, vals: pd.DataFrame) -> pd.DataFrame:
    cols = ["id", "reporter_code", "period", "indicator_code", "month_value", "ytd_value", "note"]
    if vals.empty:
        return pd.DataFrame(columns=cols)
    rows = _current_rows(conn, ", ".join(cols), "period IN :p",
                         {"p": sorted(vals["period"].unique())}, sorted(vals["reporter_code"].unique()))
    return pd.DataFrame(rows, columns=cols).astype({"month_value": "float64", "ytd_value": "float64"})


def _upsert_inbox(conn: Connection, rows: pd.DataFrame, now: dt.datetime) -> None:
    if rows.empty:
        return
    existing = _existing(conn, InboxFile.path, rows["path"].tolist())
    new = rows[~rows["path"].isin(existing)]
    old = rows[rows["path"].isin(existing)]
    if not new.empty:
        t = InboxFile.__table__
        cols = {"path": fit_column(t.c.path, new["path"].tolist()), "size": [int(v) for v in new["size"]],
                "mtime_ns": [int(v) for v in new["mtime_ns"]], "sha256": fit_column(t.c.sha256, new["sha256"].tolist()),
                "first_seen_at": [now] * len(new)}
        if conn.dialect.name == "postgresql":
            copy_rows(conn, "inbox_file", list(cols), ["text", "int8", "int8", "text", "timestamptz"], zip(*cols.values()))
        else:
            conn.execute(insert(InboxFile), [dict(zip(cols, row)) for row in zip(*cols.values())])
    if not old.empty:
        conn.execute(update(InboxFile).where(InboxFile.path == bindparam("p")).values(
            size=bindparam("s"), mtime_ns=bindparam("m"), sha256=bindparam("h")).execution_options(
            synchronize_session=False), [
            {"p": p, "s": int(s), "m": int(m), "h": h}
            for p, s, m, h in zip(old["path"], old["size"], old["mtime_ns"], old["sha256"])])


def _insert_submissions(conn: Connection, subs: pd.DataFrame, now: dt.datetime) -> dict[str, int]:
    if subs.empty:
        return {}
    cols = ["sha256", "inbox_folder", "reporter_code", "township_code", "period", "file_name", "archive_path",
            "path", "received_at", "status", "on_time", "imported", "updated", "unchanged", "rejected"]
    table = Submission.__table__
    data = {c: subs[c].tolist() for c in cols}
    for c in ("reporter_code", "township_code", "period"):
        data[c] = [v or None for v in data[c]]
    data["on_time"] = [None if v is None or v != v else bool(v) for v in data["on_time"]]
    for c in ("imported", "updated", "unchanged", "rejected"):
        data[c] = [int(v) for v in data[c]]
    data["received_at"] = _datetimes(pd.to_datetime(subs["received_at"], utc=True))
    for c in cols:
        if isinstance(table.c[c].type, String):
            data[c] = fit_column(table.c[c], data[c])
    if conn.dialect.name == "postgresql":
        # ids drawn from the table's own sequence, in the rows' order, then one binary COPY: an INSERT of
        # 8,000 rows through SQLAlchemy's insertmanyvalues spent seconds in psycopg splitting its statements
        ids = sorted(conn.execute(text("SELECT nextval(pg_get_serial_sequence('submission', 'id')) "
                                       "FROM generate_series(1, :n)"), {"n": len(subs)}).scalars())
        copy_rows(conn, "submission", ["id", *cols, "processed_at"],
              ["int4", "text", "text", "text", "text", "text", "text", "text", "text", "timestamptz", "text",
               "bool", "int4", "int4", "int4", "int4", "timestamptz"],
              zip(ids, *(data[c] for c in cols), [now] * len(ids)))
        return dict(zip(data["sha256"], ids))
    rows = [dict(zip(cols, vals), processed_at=now) for vals in zip(*(data[c] for c in cols))]
    result = conn.execute(insert(Submission).returning(Submission.id, Submission.sha256,
                                                       sort_by_parameter_order=True), rows)
    return {sha: sid for sid, sha in result.all()}


RECEIPT_COLUMNS = ["id", "sha256", "inbox_folder", "reporter_code", "period", "file_name", "path", "archive_path",
                   "received_at", "status", "on_time", "imported", "updated", "unchanged", "rejected"]
CONFLICT_COLUMNS = ["submission_id", "code", "severity", "sheet", "cell", "indicator_code", "expected", "found",
                    "note", "message_zh", "message_en"]


def pending_receipts(engine: Engine, batch: Collection[int] = (),
                     upto: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Submissions whose receipt files are not written yet (from this run or one that stopped before
    writing them), and those of `batch` (this run's) even if written: with two runs at once, the other one
    may have written this run's receipts first, and this run's summary still lists every file it loaded.
    upto: only pending submissions with an id up to this one (a batch whose receipts are written while the
    run's next batch loads leaves that batch's to its own receipts). Oldest first, and their conflicts in
    the order found."""
    columns = select(*(getattr(Submission, c) for c in RECEIPT_COLUMNS))
    unwritten = Submission.receipt_written_at.is_(None)
    with engine.connect() as conn:
        rows = conn.execute(columns.where(unwritten if upto is None else unwritten & (Submission.id <= upto))).all()
        answered = sorted(set(batch) - {r[0] for r in rows})
        for i in range(0, len(answered), IN_CHUNK):
            rows += conn.execute(columns.where(Submission.id.in_(answered[i:i + IN_CHUNK]))).all()
        subs = pd.DataFrame(sorted(rows, key=lambda r: r[0]), columns=RECEIPT_COLUMNS)
        if subs.empty:
            return subs, pd.DataFrame(columns=CONFLICT_COLUMNS)
        rows = []
        ids = subs["id"].tolist()
        for i in range(0, len(ids), IN_CHUNK):
            rows += conn.execute(select(*(getattr(Conflict, c) for c in CONFLICT_COLUMNS))
                                 .where(Conflict.submission_id.in_(ids[i:i + IN_CHUNK])).order_by(Conflict.id)).all()
    return subs, pd.DataFrame(rows, columns=CONFLICT_COLUMNS)


def mark_receipts_written(engine: Engine, ids: list[int], at: dt.datetime) -> None:
    """Record that these submissions' receipt files exist (idempotent: rewriting them gives the same files)."""
    if not ids:
        return
    with engine.begin() as conn:
        for i in range(0, len(ids), IN_CHUNK):
            conn.execute(update(Submission).where(Submission.id.in_(ids[i:i + IN_CHUNK]))
                         .values(receipt_written_at=at))


def _insert_conflicts(conn: Connection, conflicts: pd.DataFrame, ids: dict[str, int]) -> None:
    if conflicts.empty:
        return
    cols = ["code", "severity", "sheet", "cell", "indicator_code", "expected", "found", "message_zh",
            "message_en", "note"]
    sub_ids = [ids[h] for h in conflicts["sha256"]]
    data = [conflicts[c].where(conflicts[c].notna(), None).tolist() for c in cols]
    conn.execute(insert(Conflict), fit_rows(Conflict.__table__, [dict(zip(["submission_id", *cols], row))
                                                                 for row in zip(sub_ids, *data)]))


def _write_values(conn: Connection, plan: pd.DataFrame, ids: dict[str, int]) -> None:
    """Close replaced current rows, then bulk-insert the new versions (COPY on PostgreSQL)."""
    changes = plan[plan["status"] != "unchanged"].copy()
    if changes.empty:
        return
    key = ["reporter_code", "period", "indicator_code"]
    changes["valid_from"] = pd.to_datetime(changes["received_at"], utc=True)
    # Within the run, a version is current until the next version of the same key arrives.
    changes["valid_to"] = changes.groupby(key, sort=False)["valid_from"].shift(-1)
    firsts = changes.drop_duplicates(key, keep="first")
    to_close = firsts[firsts["id"].notna()]
    if not to_close.empty:
        conn.execute(
            update(ValueHistory).where(ValueHistory.id == bindparam("vid")).values(valid_to=bindparam("vt"))
            .execution_options(synchronize_session=False),
            [{"vid": int(i), "vt": t.to_pydatetime()} for i, t in zip(to_close["id"], to_close["valid_from"])])
    cols = ["reporter_code", "period", "indicator_code", "month_value", "ytd_value", "note", "submission_id",
            "valid_from", "valid_to"]
    columns = [
        changes["reporter_code"].tolist(), changes["period"].tolist(), changes["indicator_code"].tolist(),
        _none(changes["month_value"].to_numpy(dtype="float64")), _none(changes["ytd_value"].to_numpy(dtype="float64")),
        fit_column(ValueHistory.__table__.c.note, [n or None for n in changes["note"].fillna("").tolist()]),
        [ids[h] for h in changes["sha256"]],
        _datetimes(changes["valid_from"]), _datetimes(changes["valid_to"]),
    ]
    # Insert in ascending valid_from so that no two current rows of a key exist at any moment.
    rows = list(zip(*columns))
    if conn.dialect.name == "postgresql":
        copy_rows(conn, "value_history", cols, ["text", "text", "text", "float8", "float8", "text", "int4",
                                            "timestamptz", "timestamptz"], rows)
    else:
        # SQLAlchemy stores SQLite datetimes as naive UTC text; the raw driver must write the same format.
        rows = [(*r[:7], _sqlite_time(r[7]), _sqlite_time(r[8])) for r in rows]
        placeholders = ", ".join("?" for _ in cols)
        conn.exec_driver_sql(f"INSERT INTO value_history ({', '.join(cols)}) VALUES ({placeholders})", rows)
