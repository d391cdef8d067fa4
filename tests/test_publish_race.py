"""A vintage is a consistent cut of the warehouse: publishing while an intake batch loads freezes either the
whole batch or none of it, and a vintage without the batch is older than it (so the next vintage names the
batch's files as what changed it). On SQLite and PostgreSQL, with the two released together by a Barrier."""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text

from tasks import publication
from tasks.pipeline import PlainRunner
from tasks.publication import PreviewOutdated, preview_township, publish_township, sign_township
from tasks.signoff import Signature
from tests.intake_helpers import run_intake, write_csv
from tests.review_helpers import csv_form, incoming, review_files
from township.periods import Period
from warehouse import intake_io
from warehouse.intake_io import load_run

OCT = Period(2021, 10)
SIGNER = Signature("李明")
# One batch of two files: invest corrects October, finance reports it.
BATCH = [incoming("invest", "oct-v2.csv", csv_form([("investment_funds", 1.5, 9.5), ("projects_signed", 1, 16)])),
         incoming("finance", "oct.csv", csv_form([("fiscal_revenue", 600, 5400)], reporter="finance"))]


@pytest.fixture
def october(runtime):
    inbox = Path(runtime.settings.inbox)
    write_csv(inbox, "invest", "sept.csv", [("investment_funds", 1.0, 8.0), ("projects_signed", 2, 15)],
              period="2021-09")
    write_csv(inbox, "invest", "oct.csv", [("investment_funds", 1.2, 9.2), ("projects_signed", 1, 16)])
    run_intake(runtime)
    reviewed = review_files(BATCH, runtime.catalog)
    assert set(reviewed.submissions["status"]) == {"accepted"}
    inbox_rows = pd.DataFrame({"path": [f.path for f in BATCH], "size": [f.size for f in BATCH],
                               "mtime_ns": [f.mtime_ns for f in BATCH], "sha256": [f.sha256 for f in BATCH]})
    return {"submissions": reviewed.submissions.assign(archive_path=lambda s: "archive/" + s["path"]),
            "conflicts": reviewed.conflicts, "values": reviewed.values, "inbox_rows": inbox_rows}


def figures(result) -> tuple:  # noqa: ANN001
    t = result.table.set_index("indicator_code")
    return t.loc["investment_funds", "ytd_value"], t.loc["fiscal_revenue", "ytd_value"]


BEFORE, AFTER = (9.2, None), (9.5, 5400.0)


def as_published(fig: tuple) -> tuple:
    return fig[0], None if pd.isna(fig[1]) else float(fig[1])


def batch_loaded_at(runtime) -> list[pd.Timestamp]:  # noqa: ANN001
    with runtime.engine.connect() as conn:
        rows = conn.execute(text("SELECT processed_at FROM submission WHERE sha256 IN (:a, :b)"),
                            {"a": BATCH[0].sha256, "b": BATCH[1].sha256}).scalars().all()
    return [publication.publish_io.utc(t) for t in rows]


def assert_consistent_cut(runtime, result) -> None:  # noqa: ANN001
    """The vintage holds the whole batch or none of it; without it, it is older than the batch, and the next
    vintage names the batch's files as what changed it."""
    got = as_published(figures(result))
    assert got in (BEFORE, AFTER), got  # never half of the batch
    loaded = batch_loaded_at(runtime)
    assert len(loaded) == 2
    if got == AFTER:
        assert all(t <= result.published_at for t in loaded)
    else:
        assert all(t > result.published_at for t in loaded)
        again = publish_township(runtime, "taoyuan", OCT, final=False, signature=SIGNER)
        assert again.vintage == 2 and as_published(figures(again)) == AFTER
        changed = dict(zip(again.changes["indicator_code"], again.changes["changed_by"]))
        assert "oct-v2.csv" in changed["investment_funds"] and "oct.csv" in changed["fiscal_revenue"]


class WaitBeforeSigning(PlainRunner):
    """Previews (reads the month's values), then waits at the barrier before signing: the load is released
    at the same moment."""

    def __init__(self, barrier: threading.Barrier) -> None:
        super().__init__()
        self.barrier = barrier

    def map(self, step, items, *args):  # noqa: ANN001, ANN201
        if step is publication.SIGN:
            self.barrier.wait()
        return super().map(step, items, *args)


def race(runtime, october, *, mid_load: bool) -> list:  # noqa: ANN001
    """Release a publish (already previewed) and the batch's load together: at the load's start, or (mid_load)
    once the load holds its transaction open after its first insert, which it then keeps a second longer.
    Returns [publish result, load result]."""
    start, results, errors = threading.Barrier(2), [None, None], []

    def hold(conn) -> None:  # noqa: ANN001
        start.wait()
        time.sleep(1.0)

    if mid_load:
        intake_io.LOAD_HOOKS.append(hold)

    def publish() -> None:
        try:
            results[0] = publish_township(runtime, "taoyuan", OCT, final=False, signature=SIGNER,
                                          run=WaitBeforeSigning(start))
        except Exception as e:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(e)

    def load() -> None:
        if not mid_load:
            start.wait()
        try:
            results[1] = load_run(runtime.engine, now=dt.datetime.now(dt.timezone.utc), **october)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=publish), threading.Thread(target=load)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        if mid_load:
            intake_io.LOAD_HOOKS.remove(hold)
    assert errors == []
    return results


def test_a_publish_released_with_a_load_freezes_a_consistent_cut(runtime, october):
    published, _ = race(runtime, october, mid_load=False)
    assert_consistent_cut(runtime, published)


def test_a_publish_while_a_batch_is_loading_waits_for_it_and_freezes_all_of_it(runtime, october):
    """The load holds its transaction open while the publisher, whose preview read the month before the
    batch, signs: the freeze waits for the load, finds its preview outdated, previews again, and freezes
    the whole batch."""
    published, _ = race(runtime, october, mid_load=True)
    assert as_published(figures(published)) == AFTER
    assert_consistent_cut(runtime, published)


def test_a_preview_signed_in_the_form_is_not_frozen_once_a_batch_changed_it(runtime, october):
    """A person signed the figures they read: if a batch loaded since, nothing is frozen, and they are told."""
    preview = preview_township(runtime, "taoyuan", OCT)
    load_run(runtime.engine, now=dt.datetime.now(dt.timezone.utc), **october)
    with pytest.raises(PreviewOutdated, match="loaded after the preview"):
        sign_township(runtime, preview, final=False, signature=SIGNER)
    with runtime.engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM snapshot")).scalar_one() == 0
    signed = sign_township(runtime, preview_township(runtime, "taoyuan", OCT), final=False, signature=SIGNER)
    assert (signed.vintage, as_published(figures(signed))) == (1, AFTER)


def test_an_outdated_preview_raised_in_a_worker_process_reaches_the_caller_whole():
    import pickle

    e = pickle.loads(pickle.dumps(PreviewOutdated("taoyuan", OCT)))
    assert (e.township, e.period, e.fix) == ("taoyuan", OCT, None) and "预览之后又载入了新的报表" in e.message_zh


def test_two_signers_of_one_revision_at_once_apply_it_once(runtime, october):
    """A final month with a pending correction, signed by two people at the same moment (two runs): the
    correction becomes current once, as one revision vintage; the other finds it done."""
    publish_township(runtime, "taoyuan", OCT, final=True, signature=SIGNER)
    load_run(runtime.engine, now=dt.datetime.now(dt.timezone.utc), **october)  # after the 定报: pending
    # Two runs are two processes; threads of one test process would share a staging folder name (it carries the
    # pid), so each run here writes its own publish folder: the warehouse is what they race for.
    runs = [runtime, replace(runtime, settings=runtime.settings.model_copy(
        update={"publish_dir": str(Path(runtime.settings.publish_dir).with_name("published-2"))}))]
    previews = [preview_township(rt, "taoyuan", OCT) for rt in runs]
    assert all(len(p.pending) == 3 for p in previews)
    start, results, errors = threading.Barrier(2), [], []

    def sign(rt, preview) -> None:  # noqa: ANN001
        start.wait()
        try:
            results.append(sign_township(rt, preview, final=True, signature=SIGNER, refresh=True))
        except Exception as e:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=sign, args=(rt, p)) for rt, p in zip(runs, previews)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(r.vintage for r in results) == [2, 2] and sorted(r.created for r in results) == [False, True]
    with runtime.engine.connect() as conn:
        current = conn.execute(text("SELECT reporter_code, indicator_code, COUNT(*) FROM value_history "
                                    "WHERE period = '2021-10' AND valid_to IS NULL "
                                    "GROUP BY reporter_code, indicator_code")).all()
        assert {n for *_, n in current} == {1}  # one current version per figure
        assert conn.execute(text("SELECT COUNT(*) FROM pending_value WHERE applied_at IS NULL")).scalar_one() == 0
    assert as_published(figures(results[0])) == AFTER
