"""The intake flow: pull new submissions, archive them, read, validate in one batch, load once, answer each.

Deployed from prefect.yaml (every 30 minutes in the day); also `township intake`.
"""

from __future__ import annotations

import datetime as dt

from prefect import flow, get_run_logger, task, unmapped
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from flows.naming import intake_run_name, label_run, period_tag, reporter_tag
from flows.runners import task_runner
from tasks.intake_run import (
    IntakeSteps,
    IntakeSummary,
    Pulled,
    archive_reads,
    load,
    pull,
    run_batches,
    warehouse_context,
    write_receipts,
)
from tasks.intake_steps import FileRead, Reviewed, read_many, review_run
from township.periods import Period
from warehouse.runtime import Runtime, open_runtime

@task(name="pull new files from the inbox", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[5, 30])
def pull_task(rt: Runtime, inbox: str, partition: str | None, received_before: dt.datetime | None) -> Pulled:
    return pull(rt, inbox, partition, received_before)


@task(name="read forms", cache_policy=NO_CACHE)
def read_task(items, catalog, inbox_label: str) -> list[FileRead]:  # noqa: ANN001
    return read_many(items, catalog, inbox_label)


@task(name="archive raw files", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[5, 30])
def archive_task(archive_root: str, reads: list[FileRead]) -> dict[str, str]:
    return archive_reads(archive_root, reads)


@task(name="review the batch (Great Expectations)", cache_policy=NO_CACHE)
def review_task(rt: Runtime, reads: list[FileRead]) -> Reviewed:
    tz = rt.settings.tz
    return review_run(reads, rt.catalog, warehouse_context(rt), Period.current(tz), tz)


@task(name="load into the warehouse", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[5, 30])
def load_task(rt: Runtime, reviewed: Reviewed, archived: dict[str, str], pulled: Pulled):  # noqa: ANN201
    return load(rt, reviewed, archived, pulled)


@task(name="write receipts", cache_policy=NO_CACHE)
def receipts_task(rt, archive_root, reviewed, archived, result, pulled) -> IntakeSummary:  # noqa: ANN001
    return write_receipts(rt, archive_root, reviewed, archived, result, pulled)


def _publish_artifacts(summary: IntakeSummary) -> None:
    if not summary.receipts:
        create_markdown_artifact(key="intake-summary", markdown="Nothing new in the inbox.",
                                 description="intake: nothing new")
        return
    rows = [{"file": r["file"], "reporter": r["reporter"], "period": r["period"] or "", "status": r["status"],
             "imported": r["counts"]["imported"], "updated": r["counts"]["updated"],
             "unchanged": r["counts"]["unchanged"], "rejected": r["counts"]["rejected"],
             "conflicts": len(r["conflicts"])} for r in summary.receipts]
    create_table_artifact(key="intake-receipts", table=rows, description="one row per file this run")
    md = [f"## Intake: {summary.files_new} new files, {summary.duplicates} duplicates",
          f"accepted {summary.accepted}, with warnings {summary.accepted_with_warnings}, "
          f"rejected {summary.rejected}; values imported {summary.imported}, updated {summary.updated}, "
          f"unchanged {summary.unchanged}", ""]
    for r in summary.receipts:
        for c in r["conflicts"][:20]:
            md.append(f"- `{c['code']}` {r['reporter']} {r['file']} {c.get('sheet') or ''}!{c.get('cell') or ''}: "
                      f"{c['message_zh']} / {c['message_en']}")
    create_markdown_artifact(key="intake-conflicts", markdown="\n".join(md), description="conflicts by file")


@flow(name="intake", flow_run_name=intake_run_name, task_runner=task_runner(), log_prints=True)
def intake(inbox: str | None = None, archive: str | None = None, warehouse_url: str | None = None,
           partition: str | None = None, received_before: dt.datetime | None = None) -> dict:
    """Pull new files from the inbox, archive them, validate the batch, load what passes, write receipts.

    partition: only these townships ('a,b') or bucket 'k/n', for parallel workers.
    received_before: only files received before this moment (replaying a past month as it happened)."""
    log = get_run_logger()
    rt = open_runtime(inbox=inbox, archive=archive, warehouse_url=warehouse_url)
    s = rt.settings
    pulled = pull_task(rt, s.inbox, partition, received_before)
    log.info("inbox %s: %d files listed, %d new, %d duplicates", s.inbox, pulled.listing_count,
             len(pulled.new), len(pulled.duplicates))
    steps = IntakeSteps(
        read=lambda chunks: [r for f in read_task.map(chunks, unmapped(rt.catalog), unmapped(s.inbox))
                             for r in f.result()],
        archive=lambda reads: archive_task(s.archive, reads),
        review=lambda reads: review_task(rt, reads),
        load=lambda reviewed, archived, part: load_task(rt, reviewed, archived, part),
        receipts=lambda reviewed, archived, result, part: receipts_task(rt, s.archive, reviewed, archived,
                                                                        result, part),
    )
    summary = run_batches(pulled, steps, batch_files=s.batch_files,
                          on_batch=lambda n, total, files: log.info("batch %d/%d: %d files", n, total, files))
    for r in summary.receipts:
        for c in r["conflicts"]:
            if c["severity"] == "error":
                log.warning("%s %s/%s %s!%s: %s", c["code"], r["reporter"], r["file"], c.get("sheet") or "",
                            c.get("cell") or "", c["message_en"])
    _publish_artifacts(summary)
    seen = {(r["reporter"], r["period"]) for r in summary.receipts if r.get("period")}
    reporters = {reporter_tag(a) for a, _ in seen} if len(seen) <= 20 else set()  # a province: too many
    label_run(tags=sorted(reporters | {period_tag(p) for _, p in seen}))
    rt.engine.dispose()
    return summary.as_dict()
