"""Freeze a township's computed month as an immutable vintage: check it, hash it, store it once.

Publishing again with the same content creates nothing; a change creates vintage N+1 with, per
indicator, the old and new figures and the submissions that changed them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from tasks.compute import SNAPSHOT_COLUMNS
from tasks.gx_docs import DocsRun
from tasks.signoff import Signature, signature_columns, signed_status
from township.periods import Period
from warehouse import publish_io
from warehouse.intake_io import freeze_lock

STATUS_ZH = {"preliminary": "快报", "final": "定报"}
CHECK_COLUMNS = ["code", "indicator_code", "message_zh", "message_en"]
CHANGE_COLUMNS = ["indicator_code", "old_month_value", "new_month_value", "old_ytd_value", "new_ytd_value",
                  "submission_ids"]


@dataclass(frozen=True)
class FrozenVintage:
    """What freezing produced: the vintage (new or the unchanged latest) and whether it was created."""

    snapshot_id: int
    vintage: int
    status: str
    period_label: str
    published_at: pd.Timestamp
    content_hash: str
    created: bool


def content_hash(table: pd.DataFrame, label: str, sources: pd.DataFrame | None = None) -> str:
    """sha256 of the canonical JSON of the published figures (rounded, sorted by indicator); for a county
    vintage also of the township vintages it was built from (a new township vintage is a new county vintage,
    even when it changed no figure, e.g. a 快报 signed again as 定报)."""
    content = {"period_label": label, "values": _canonical_rows(table, SNAPSHOT_COLUMNS, "indicator_code")}
    if sources is not None:
        content["sources"] = _canonical_rows(sources, publish_io.SOURCE_COLUMNS, "township_code")
    doc = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(doc.encode("utf-8")).hexdigest()


def _canonical_rows(frame: pd.DataFrame, columns: list[str], key: str) -> list[dict]:
    # Sorted by the key (unique: an indicator, a township) on the columns' lists, not by a sorted copy of the frame.
    keys = frame[key].tolist()
    order = sorted(range(len(keys)), key=keys.__getitem__)
    cols = [_canonical_column([*map(values.__getitem__, order)], frame[c].dtype == "float64")
            for c, values in ((c, frame[c].tolist()) for c in columns)]
    return [dict(zip(columns, vals)) for vals in zip(*cols)]


def _canonical_column(values: list, floats: bool) -> list:
    """_canonical of each value; a float64 column's values are floats (or NaN), canonical in one expression."""
    if not floats:
        return [_canonical(v) for v in values]
    return [None if v != v else (int(r) if (r := round(v, 6)).is_integer() else r) for v in values]


def _canonical(v: object) -> object:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return None
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        # Figures are already rounded to their decimals; 6 places only removes float noise.
        r = round(float(v), 6)
        return int(r) if r.is_integer() else r
    return str(v)


def check_snapshot(table: pd.DataFrame, docs: DocsRun | None = None) -> pd.DataFrame:
    """Run the `snapshot` GX suite; one row per failure and indicator (code, indicator_code, messages).
    With `docs`, the validation is also kept in that Data Docs site under that name (tasks/gx_docs.py)."""
    return check_snapshots({"": table}, docs)[""]


def check_snapshots(tables: Mapping[str, pd.DataFrame], docs: DocsRun | None = None) -> dict[str, pd.DataFrame]:
    """check_snapshot for many townships' tables (keyed by township) in ONE Great Expectations run: the tables
    stacked with a township column, failing rows mapped back by (township, indicator).

    The suite's type checks look at a column's dtype, not at rows: tables are stacked only with tables whose
    checked columns have the same dtypes (in practice all of them), so a township's odd column fails that
    township alone, as it would validated by itself. With `docs`, the run is kept in the Data Docs site under
    `docs.name` (one page for the month's townships, their failing rows named by township)."""
    from tasks.gx import read_suite_file, validate_frame

    typed = sorted({e["kwargs"]["column"] for e in read_suite_file("snapshot")["expectations"]
                    if "_type" in e["type"]})
    out: dict[str, list[tuple]] = {t: [] for t in tables}
    groups: dict[tuple, list[str]] = {}
    for township, table in tables.items():
        groups.setdefault(tuple(str(table[c].dtype) if c in table else "" for c in typed), []).append(township)
    for townships in groups.values():
        stacked = pd.concat([tables[t].assign(snapshot_township=t) for t in townships], ignore_index=True)
        failures = validate_frame(stacked, "snapshot", ["snapshot_township", "indicator_code"], docs=docs)
        names = dict(zip(stacked["indicator_code"], stacked["indicator_name"]))
        for f in failures:
            meta = f.meta
            # A failure without rows (a column's type) holds for every table of the group.
            for township, code in (f.ids or [(t, None) for t in townships]):
                where_zh = f"{names.get(code, code)}：" if code else ""
                where_en = f"{code}: " if code else ""
                out[township].append((meta["code"], code, where_zh + meta["message_zh"],
                                      where_en + meta["message_en"]))
    return {t: pd.DataFrame(rows, columns=CHECK_COLUMNS) for t, rows in out.items()}


def freeze_vintage(engine: Engine, township: str, period: Period, table: pd.DataFrame, label: str,
                   checks: pd.DataFrame, final: bool, published_at: dt.datetime | None = None,
                   signature: Signature | None = None, sources: pd.DataFrame | None = None,
                   in_lock: Callable[[Connection], None] | None = None, digest: str | None = None) -> FrozenVintage:
    """Store the table as the next vintage unless the latest has the same content and status.
    signature: who signed it off (stored with the vintage); a change to a final month is a revision.
    sources: a county vintage's township vintages (publish_io.SOURCE_COLUMNS), stored and hashed with it.
    in_lock: run first inside the freeze's transaction, under the intake lock: a township's sign-off checks
    there that its preview is still the warehouse's current state and applies its pending revisions.
    digest: content_hash(table, label, sources) when the caller has it already (a preview's).

    One transaction per attempt, holding the intake lock like every load (shared; PostgreSQL advisory locks,
    SQLite BEGIN IMMEDIATE: warehouse.intake_io.freeze_lock): no batch loads while a vintage is frozen, and a vintage is older (published_at, taken
    under the lock) than every batch it does not hold. Two publishers racing for the same vintage number meet
    the unique constraint, and the loser retries once (then usually finds the winner's identical vintage).
    """
    status = "final" if final else "preliminary"
    digest = digest or content_hash(table, label, sources)
    args = (engine, township, period, table, label, checks, status, digest, published_at, signature, sources,
            in_lock)
    try:
        return _freeze_once(*args)
    except IntegrityError:
        return _freeze_once(*args)


def _freeze_once(engine: Engine, township: str, period: Period, table: pd.DataFrame, label: str,
                 checks: pd.DataFrame, status: str, digest: str, published_at: dt.datetime | None,
                 signature: Signature | None = None, sources: pd.DataFrame | None = None,
                 in_lock: Callable[[Connection], None] | None = None) -> FrozenVintage:
    with engine.connect() as conn:
        conn.info["write"] = True  # SQLite: take the write lock at BEGIN (see warehouse/engine.py)
        try:
            with conn.begin():
                freeze_lock(conn, township)
                if in_lock is not None:
                    in_lock(conn)
                when = publish_io.utc(published_at or publish_io.now_utc())
                latest = publish_io.latest_vintage(conn, township, str(period))
                status, decision = signed_status(status == "final", latest.status if latest else None)
                # A final vintage is not downgraded by a later preliminary publish of the same figures.
                if latest and latest.content_hash == digest and status in (latest.status, "preliminary"):
                    return FrozenVintage(latest.id, latest.vintage, latest.status, latest.period_label,
                                         latest.published_at, latest.content_hash, created=False)
                changes = pd.DataFrame(columns=CHANGE_COLUMNS)
                if latest:
                    old = publish_io.read_vintage_values(conn, latest.id)
                    moved = publish_io.value_changes_since(conn, township, [str(period), str(period.prev())],
                                                           latest.published_at)
                    changes = vintage_changes(old, table, moved)
                vintage = latest.vintage + 1 if latest else 1
                header = {"township_code": township, "period": str(period), "vintage": vintage,
                          "status": status, "period_label": label, "published_at": when.to_pydatetime(),
                          "content_hash": digest, **signature_columns(signature, decision, when)}
                sid = publish_io.insert_vintage(conn, header, table[publish_io.SNAPSHOT_VALUE_COLUMNS],
                                                changes, checks, sources)
        finally:
            conn.info.pop("write", None)
    return FrozenVintage(sid, vintage, status, label, when, digest, created=True)


def vintage_changes(old: pd.DataFrame, new: pd.DataFrame, moved: pd.DataFrame) -> pd.DataFrame:
    """Indicators whose 本月 or 1-本月累计 differ from the previous vintage, with the submissions
    whose values became current since it was published."""
    cols = ["indicator_code", "month_value", "ytd_value"]
    m = old[cols].merge(new[cols], on="indicator_code", how="outer", suffixes=("_old", "_new"))
    changed = pd.Series(False, index=m.index)
    for c in ("month_value", "ytd_value"):
        a, b = m[f"{c}_old"].astype("float64"), m[f"{c}_new"].astype("float64")
        changed |= ~((a == b) | (a.isna() & b.isna()))
    m = m[changed]
    ids = (moved.drop_duplicates(["indicator_code", "submission_id"]).sort_values("submission_id")
           .groupby("indicator_code")["submission_id"].agg(lambda s: ",".join(str(int(x)) for x in s)))
    return pd.DataFrame({
        "indicator_code": m["indicator_code"],
        "old_month_value": m["month_value_old"], "new_month_value": m["month_value_new"],
        "old_ytd_value": m["ytd_value_old"], "new_ytd_value": m["ytd_value_new"],
        "submission_ids": m["indicator_code"].map(ids),
    }).reset_index(drop=True)


def name_change_submissions(engine: Engine, changes: pd.DataFrame, tz: dt.tzinfo) -> pd.DataFrame:
    """The changes with `changed_by`: per changed figure, the submissions that changed it, as
    "file（reporter，receipt time in tz）" joined by "；" (empty where none is known)."""
    out = changes.copy()
    ids_per_row = [[int(i) for i in str(v).split(",") if i.strip()] if isinstance(v, str) else []
                   for v in out.get("submission_ids", pd.Series(dtype=object)).tolist()]
    wanted = sorted({i for ids in ids_per_row for i in ids})
    subs = publish_io.read_submissions_by_id(engine, wanted) if wanted else pd.DataFrame()
    described = {int(r.submission_id): f"{r.file_name}（{r.reporter_code}，"
                                       f"{r.received_at.tz_convert(tz):%Y-%m-%d %H:%M}）"
                 for r in subs.itertuples(index=False)}
    out["changed_by"] = ["；".join(described.get(i, f"#{i}") for i in ids) for ids in ids_per_row]
    return out


def snapshot_as_of(engine: Engine, township: str, period: str | Period, as_of: dt.datetime) -> pd.DataFrame:
    """The figures of a township's month as they were published at `as_of` (empty before vintage 1)."""
    hist = publish_io.read_snapshot_history(engine, township, str(period))
    t = publish_io.utc(as_of)
    live = (hist["valid_from"] <= t) & (hist["valid_to"].isna() | (hist["valid_to"] > t))
    return hist[live].reset_index(drop=True)
