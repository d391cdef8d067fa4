"""The publish flow: compute a month's township figures, check them, freeze a vintage, write files and report.

Deployed from prefect.yaml (the 10th at 09:00, for last month); also `township publish --period 2021-10`.
"""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact

from flows.naming import label_run, period_tag, publish_run_name
from flows.runners import PrefectRunner
from tasks.links import published_url
from tasks.publication import PublishResult, publish_township
from tasks.report import escape_markdown
from township.periods import Period
from township.settings import get_settings
from warehouse.runtime import open_runtime

TABLE_COLUMNS = ["indicator_code", "indicator_name", "unit", "month_value", "ytd_value", "prior_ytd_value", "yoy_pct",
                 "annual_target", "target_pct", "schedule_gap_pp", "reporters_expected", "reporters_reported"]


def _artifacts(township: str, period: Period, r: PublishResult) -> None:
    key = f"{township}-{period}".replace("_", "-").lower()
    table = r.table[[c for c in TABLE_COLUMNS if c in r.table.columns]]
    create_table_artifact(key=f"snapshot-{key}", table=table.astype(object).where(table.notna(), None)
                          .to_dict("records"),
                          description=f"{township} {period} v{r.vintage} ({r.status})")
    md = [f"# {township} {r.period_label} v{r.vintage} ({r.status})", "", escape_markdown(r.narrative)]
    if len(r.check_failures):
        md += ["", "## Snapshot checks failed", ""]
        md += [f"- `{c}` {i or ''}: {escape_markdown(zh)} / {escape_markdown(en)}" for c, i, zh, en in
               zip(r.check_failures["code"], r.check_failures["indicator_code"], r.check_failures["message_zh"],
                   r.check_failures["message_en"])]
    create_markdown_artifact(key=f"narrative-{key}", markdown="\n".join(md), description="report paragraph")
    report = r.folder / "report.html"
    create_link_artifact(key=f"report-{key}", link=published_url(get_settings(), report), link_text=f"report {period} v{r.vintage}",
                         description="the published report")
    docs = r.folder.parent.parent.parent / "data_docs" / "index.html"
    if docs.exists():
        create_link_artifact(key=f"data-docs-{key}", link=published_url(get_settings(), docs),
                             link_text="Great Expectations Data Docs", description="snapshot validation results")


@flow(name="publish-monthly", flow_run_name=publish_run_name, log_prints=True)
def publish_monthly(period: str | None = None, final: bool = False, township: str | None = None,
                    warehouse_url: str | None = None, publish_dir: str | None = None) -> dict:
    """Publish `period` (default: last month in the township's timezone) for one or every township."""
    log = get_run_logger()
    rt = open_runtime(warehouse_url=warehouse_url, publish_dir=publish_dir)
    month = Period.parse(period) if period else Period.previous_month(rt.settings.tz)
    townships = [township] if township else [t.code for t in rt.catalog.townships]
    out = {}
    runner = PrefectRunner()
    for code in townships:
        r = publish_township(rt, code, month, final, runner, data_docs=True)
        log.info("%s %s: vintage %d (%s)%s, %s", code, month, r.vintage, r.status,
                 "" if r.created else " unchanged, nothing new", r.folder)
        for c, i, en in zip(r.check_failures["code"], r.check_failures["indicator_code"],
                            r.check_failures["message_en"]):
            log.warning("snapshot check %s %s: %s", c, i or "", en)
        _artifacts(code, month, r)
        out[code] = {"vintage": r.vintage, "status": r.status, "created": r.created, "folder": str(r.folder),
                     "checks_failed": len(r.check_failures)}
    if len(townships) == 1:
        label_run(name=f"publish {month} v{out[townships[0]]['vintage']}", tags=[period_tag(month)])
    else:
        label_run(tags=[period_tag(month)])
    rt.engine.dispose()
    return {"period": str(month), "townships": out}
