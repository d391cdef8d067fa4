"""Rebuild a warehouse from the archive alone, and compare it with the live one.

The archive holds every raw file with its receipt (which records where and when it was received, and
whether it arrived while its month was final: a pending revision), so replaying it through the same
review and load gives the same current values. The sign-offs are not in the archive: the signed
revisions that made pending corrections current are read from the live warehouse and replayed between
the files in the order they happened there (each file when it was loaded, each revision when signed).
"""

from __future__ import annotations

import bisect
import json

import pandas as pd
from sqlalchemy import Engine, text

from tasks.batch_review import PENDING
from tasks.inbox import Incoming, list_archive, read_archived, refused_items
from tasks.intake_pipeline import intake_batches
from tasks.pipeline import PLAIN, Step, StepRunner
from tasks.pull import Pulled
from tasks.receipts import IntakeSummary
from tasks.signoff import apply_pending_revisions
from township.periods import Period
from warehouse import signoff_io
from warehouse.runtime import Runtime


def archived_items(archive_root: str) -> list[Incoming]:
    """Every archived raw file as it arrived: original folder, name and receipt time (from its receipt)."""
    return _read_archive(archive_root)[0]


def _read_archive(archive_root: str) -> tuple[list[Incoming], frozenset[str]]:
    """archived_items, and the files (sha256) their receipts say were held as pending revisions."""
    items, held = [], set()
    for rel, folder, sha, name in list_archive(archive_root).itertuples(index=False):  # one per file
        try:
            receipt = json.loads(read_archived(archive_root, rel + ".receipt.json"))
            path = receipt.get("path") or f"{folder}/{name}"
            received = pd.Timestamp(receipt["received_at"])
            if receipt.get("status") == PENDING:
                held.add(sha)
        except FileNotFoundError:
            path, received = f"{folder}/{name}", None
        if received is None:
            continue  # never loaded (the run stopped before its receipt): the next intake replays it
        data = read_archived(archive_root, rel)
        parts = path.split("/")
        items.append(Incoming(path=path, folder=parts[0] if len(parts) > 1 else "", name=parts[-1],
                              size=len(data), mtime_ns=int(received.value), sha256=sha, data=data))
    items += refused_items(archive_root)  # refused unread: replayed from their receipts
    return sorted(items, key=lambda i: (i.mtime_ns, i.path)), frozenset(held)


def rebuild_into(target: Runtime, archive_root: str, today: Period, run: StepRunner = PLAIN,
                 signoffs_of: Engine | None = None) -> IntakeSummary:
    """Replay the archive into an empty warehouse through the intake pipeline's batches (archiving is
    write-once, so nothing changes there; receipts are not rewritten). A file its receipt says was held
    for a final month (定报) is held again as a pending revision. signoffs_of: the live warehouse, whose
    signed revisions are replayed between the files, so what they made current is current again (none:
    every held correction stays pending)."""
    items, held = _read_archive(archive_root)
    revisions = signoff_io.signed_revisions(signoffs_of) if signoffs_of is not None else None
    if revisions is None or revisions.empty:
        return intake_batches(target, Pulled.of(items), run, today=today, receipts_root=REBUILD_RECEIPTS, held=held)
    # Each file goes before the first revision signed after the live warehouse loaded it; a file the live
    # warehouse does not know goes last (the comparison reports it).
    loaded = signoff_io.processed_times(signoffs_of)
    times = revisions["applied_at"].tolist()
    segments: list[list[Incoming]] = [[] for _ in range(len(times) + 1)]
    for item in items:
        at = loaded.get(item.sha256)
        segments[len(times) if at is None else bisect.bisect_left(times, at)].append(item)
    summary = IntakeSummary(files_listed=len(items), files_new=len(items))
    for n, segment in enumerate(segments):
        if segment:
            summary.merge(intake_batches(target, Pulled.of(segment), run, today=today,
                                         receipts_root=REBUILD_RECEIPTS, held=held))
        if n < len(times):
            r = revisions.iloc[n]
            run(APPLY, target.engine, r["township_code"], r["period"], r["applied_at"].to_pydatetime())
    return summary


REBUILD_RECEIPTS = "memory://rebuild-receipts"  # a rebuild rewrites no receipt and answers nobody
APPLY = Step("replay a signed revision", apply_pending_revisions)


def compare_warehouses(live: Engine, rebuilt: Engine) -> dict:
    """Differences in current values, in submission outcomes and in the values held as pending revisions
    (and whether a signed revision applied them) between two warehouses."""
    q_values = ("SELECT reporter_code, period, indicator_code, month_value, ytd_value FROM indicator_values")
    q_subs = "SELECT sha256, status, imported + updated + unchanged AS loaded, rejected FROM submissions"
    q_pending = ("SELECT s.sha256, p.indicator_code, p.month_value, p.ytd_value, "
                 "CASE WHEN p.applied_at IS NULL THEN 0 ELSE 1 END AS applied "
                 "FROM pending_value p JOIN submission s ON s.id = p.submission_id")
    out = {}
    for name, q, key in (("values", q_values, ["reporter_code", "period", "indicator_code"]),
                         ("submissions", q_subs, ["sha256"]), ("pending", q_pending, ["sha256", "indicator_code"])):
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
    summary = rebuild_into(target, live.settings.archive, today, run, signoffs_of=live.engine)
    return summary, run(COMPARE, live.engine, target.engine)
