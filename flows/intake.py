"""The intake flow: pull new submissions, archive them, read, validate in one batch, load once, answer each.

Deployed from prefect.yaml (every 30 minutes in the day); also `township intake`.
"""

from __future__ import annotations

import datetime as dt

from prefect import flow, get_run_logger
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact

from flows.naming import intake_run_name, label_run, period_tag, reporter_tag
from flows.runners import PrefectRunner, task_runner
from tasks.gx_docs import site_dir
from tasks.intake_pipeline import run_intake
from tasks.links import published_url
from tasks.outbox import failed_messages, outbox_markdown
from tasks.receipts import IntakeSummary, rejection_lines
from warehouse.runtime import open_runtime


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
           partition: str | None = None, received_before: dt.datetime | None = None,
           publish_dir: str | None = None) -> dict:
    """Pull new files from the inbox, archive them, validate the batch, load what passes, write receipts.

    partition: only these townships ('a,b') or bucket 'k/n', for parallel workers.
    received_before: only files received before this moment (replaying a past month as it happened).
    publish_dir: the publish folder whose data_docs/ keeps each batch's validation."""
    log = get_run_logger()
    rt = open_runtime(inbox=inbox, archive=archive, warehouse_url=warehouse_url, publish_dir=publish_dir)
    summary = run_intake(rt, PrefectRunner(), partition=partition, received_before=received_before, logger=log,
                         data_docs=True)
    for line in rejection_lines(summary):
        log.warning("%s", line)
    _publish_artifacts(summary)
    docs = site_dir(rt.settings.publish_dir) / "index.html"
    if summary.receipts and docs.exists():
        create_link_artifact(key="data-docs-intake", link=published_url(rt.settings, docs),
                             link_text="Great Expectations Data Docs", description="this run's batch validations")
    if summary.messages_sent or summary.messages_failed:
        create_markdown_artifact(outbox_markdown(failed_messages(rt), summary.messages_sent), key="outbox",
                                 description="messages sent, and those not delivered yet")
    seen = {(r["reporter"], r["period"]) for r in summary.receipts if r.get("period")}
    reporters = {reporter_tag(a) for a, _ in seen} if len(seen) <= 20 else set()  # a province: too many
    label_run(tags=sorted(reporters | {period_tag(p) for _, p in seen}))
    rt.engine.dispose()
    return summary.as_dict()
