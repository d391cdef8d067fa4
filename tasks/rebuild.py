"""Rebuild a warehouse from the archive alone, and compare it with the live one.

The archive holds every raw file with its receipt (which records where and when it was received),
so replaying it through the same review and load gives the same current values.
"""

from __future__ import annotations

import json

import pandas as pd
from sqlalchemy import Engine, text

from tasks.inbox import Incoming, list_archive, read_archived, refused_items
from tasks.intake_pipeline import intake_batches
from tasks.pipeline import PLAIN, Step, StepRunner
from tasks.pull import Pulled
from tasks.receipts import IntakeSummary
from township.periods import Period
from warehouse.runtime import Runtime


def archived_items(archive_root: str) -> list[Incoming]:
    """Every archived raw file as it arrived: original folder, name and receipt time (from its receipt)."""
    items = []
    for rel, folder, sha, name in list_archive(archive_root).itertuples(index=False):  # one per file
        try:
            receipt = json.loads(read_archived(archive_root, rel + ".receipt.json"))
            path = receipt.get("path") or f"{folder}/{name}"
            received = pd.Timestamp(receipt["received_at"])
        except FileNotFoundError:
            path, received = f"{folder}/{name}", None
        if received is None:
            continue  # never loaded (the run stopped before its receipt): the next intake replays it
        data = read_archived(archive_root, rel)
        parts = path.split("/")
        items.append(Incoming(path=path, folder=parts[0] if len(parts) > 1 else "", name=parts[-1],
                              size=len(data), mtime_ns=int(received.value), sha256=sha, data=data))
    items += refused_items(archive_root)  # refused unread: replayed from their receipts
    return sorted(items, key=lambda i: (i.mtime_ns, i.path))


def rebuild_into(target: Runtime, archive_root: str, today: Period, run: StepRunner = PLAIN) -> IntakeSummary:
    """Replay the archive into an empty warehouse through the intake pipeline's batches (archiving is
    write-once, so nothing changes there; receipts are not rewritten)."""
    return intake_batches(target, Pulled.of(archived_items(archive_root)), run, today=today,
                          receipts_root="memory://rebuild-receipts")


def compare_warehouses(live: Engine, rebuilt: Engine) -> dict:
    """Differences in current values and in submission outcomes between two warehouses."""
    q_values = ("SELECT reporter_code, period, indicator_code, month_value, ytd_value FROM indicator_values")
    q_subs = "SELECT sha256, status, imported + updated + unchanged AS loaded, rejected FROM submissions"
    out = {}
    for name, q, key in (("values", q_values, ["reporter_code", "period", "indicator_code"]),
                         ("submissions", q_subs, ["sha256"])):
        with live.connect() as a, rebuilt.connect() as b:
            res_a, res_b = a.execute(text(q)), b.execute(text(q))
            left = pd.DataFrame(res_a.all(), columns=list(res_a.keys()))
            right = pd.DataFrame(res_b.all(), columns=list(res_b.keys()))
        cols = list(left.columns)
        m = left.merge(right, on=key, how="outer", suffixes=("_live", "_rebuilt"), indicator=True)
        only_live = int((m["_merge"] == "left_only").sum())
        only_rebuilt = int((m["_merge"] == "right_only").sum())
        both = m[m["_merge"] == "both"]
        differ = 0
        for c in (c for c in cols if c not in key):
            lv, rv = both[f"{c}_live"], both[f"{c}_rebuilt"]
            differ_mask = ~((lv == rv) | (lv.isna() & rv.isna()))
            differ += int(differ_mask.sum())
        out[name] = {"live": len(left), "rebuilt": len(right), "only_live": only_live,
                     "only_rebuilt": only_rebuilt, "different": differ}
    out["identical"] = all(v["only_live"] == v["only_rebuilt"] == v["different"] == 0
                           for k, v in out.items() if isinstance(v, dict))
    return out


COMPARE = Step("compare with the live warehouse", compare_warehouses)


def rebuild_and_compare(live: Runtime, target: Runtime, today: Period, run: StepRunner = PLAIN
                        ) -> tuple[IntakeSummary, dict]:
    """The rebuild pipeline: replay the live archive into `target`, then compare the two warehouses."""
    summary = rebuild_into(target, live.settings.archive, today, run)
    return summary, run(COMPARE, live.engine, target.engine)
