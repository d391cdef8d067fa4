"""The county publish flow: the county's month from its townships' latest signed vintages (roll-up, ranking,
lineage), and — once the county statistics bureau signs it off — a frozen county vintage and its report.

Deployed from prefect.yaml as `publish-county` (the 12th at 09:00, for last month, after the townships have
published on the 10th): the run posts the preview as artifacts and suspends for the same `SignOff` form as the
township publish (快报 / 定报 / 退回). From the CLI, `township publish --county CODE --sign-off NAME` signs
without waiting; without a signer the CLI writes a draft (草稿) and freezes nothing.
"""

from __future__ import annotations

import hashlib

from prefect import flow, get_run_logger
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.flow_runs import suspend_flow_run
from prefect.states import Completed, State

from flows.naming import label_run, period_tag
from flows.publish import SENT_BACK_STATE, TABLE_COLUMNS, SignOff, _records, send_queued
from flows.runners import PrefectRunner
from tasks.county_publication import (CountyPreview, CountyResult, preview_counties, sign_counties,
                                      write_county_draft)
from tasks.links import published_url
from tasks.outbox import announce_published
from tasks.snapshot import STATUS_ZH
from tasks.narrative import narrative
from tasks.report import escape_markdown
from tasks.signoff import SEND_BACK, Signature
from township.periods import Period
from warehouse.runtime import Runtime, open_runtime


def _key(county: str, period: Period) -> str:
    return f"county-{county}-{period}".replace("_", "-").lower()


def preview_markdown(p: CountyPreview) -> str:
    """What the county's signer reads: the paragraph, the townships used (or 未报), checks, changes."""
    md = [f"# 草稿 draft: {p.county} {p.period} ({p.label}) → 第{p.next_vintage}版 vintage {p.next_vintage}", "",
          escape_markdown(narrative(p.table, p.label) or "（本期无可发布的主要指标）"), "",
          "## 乡镇签发版本 township vintages used", ""]
    for r in p.sources.to_dict("records"):
        used = "未报 (no signed vintage)" if r["township_code"] in p.missing \
            else f"v{int(r['source_vintage'])} {r['status']}, 审核人 {escape_markdown(r['signer'])}"
        md.append(f"- {r['township_code']}: {used}")
    md += ["", "## 数据检查未通过 check failures", ""]
    md += [f"- `{c}` {escape_markdown(zh)}" for c, zh in zip(p.checks["code"], p.checks["message_zh"])] or ["- 无 none"]
    if p.latest is not None:
        md += ["", f"## 与第{p.latest.vintage}版相比 changes against vintage {p.latest.vintage}", ""]
        md += [f"- {r['indicator_code']}: 累计 {r['old_ytd_value']} → {r['new_ytd_value']}"
               for r in p.changes.to_dict("records")] or ["- 无变化 no change in the figures"]
    return "\n".join(md)


def _wait_for_sign_off(rt: Runtime, month: Period, previews: dict[str, CountyPreview], body: str) -> SignOff:
    label_run(name=f"publish counties {month} awaiting sign-off", tags=[period_tag(month)])
    form = SignOff.with_initial_data(description=(
        f"## 审核签发 {', '.join(previews)} {month} / County sign-off\n\n请阅读本次运行的 Artifacts 后选择快报、定报或"
        "退回，并填写审核人。 Read the run's artifacts, then choose and enter your name.\n\n" + body))
    # Keyed by the previewed content: figures or township vintages changed meanwhile → a new sign-off.
    digest = hashlib.sha256("|".join(f"{c}:{p.content_hash}" for c, p in sorted(previews.items())).encode())
    return suspend_flow_run(wait_for_input=form, timeout=rt.settings.signoff_timeout_seconds,
                            key=f"county-signoff-{digest.hexdigest()[:16]}")


def _draft(rt: Runtime, p: CountyPreview) -> dict:
    folder = write_county_draft(rt, p)
    key = _key(p.county, p.period)
    create_markdown_artifact(key=f"preview-{key}", markdown=preview_markdown(p), description="草稿 the county preview")
    create_link_artifact(key=f"draft-{key}", link=(folder / "report.html").resolve().as_uri(),
                         link_text=f"草稿 draft county report {p.period}", description="the unsigned draft")
    return {"period": str(p.period), "draft": True, "vintage": p.next_vintage, "folder": str(folder),
            "missing": p.missing, "changes": len(p.changes), "checks_failed": len(p.checks)}


def _signed(rt: Runtime, p: CountyPreview, r: CountyResult, signature: Signature, log) -> dict:  # noqa: ANN001
    log.info("%s %s: county vintage %d (%s)%s, signed by %s, %s", p.county, p.period, r.vintage, r.status,
             "" if r.created else " unchanged, nothing new", signature.signer, r.folder)
    key = _key(p.county, p.period)
    create_table_artifact(key=f"snapshot-{key}", table=_records(p.table[TABLE_COLUMNS]),
                          description=f"{p.county} {p.period} v{r.vintage} ({r.status})")
    url = published_url(rt.settings, r.folder / "report.html")
    create_link_artifact(key=f"report-{key}", link=url, link_text=f"county report {p.period} v{r.vintage}",
                         description="the published county report")
    if r.created:  # the county bureau's leaders get it as a township's leaders get theirs (contacts.yaml)
        announce_published(rt, p.county, p.period, r.vintage, STATUS_ZH.get(r.status, r.status), r.narrative, url)
    return {"period": str(p.period), "vintage": r.vintage, "status": r.status, "created": r.created,
            "folder": str(r.folder), "missing": p.missing, "checks_failed": len(r.check_failures),
            "decision": r.decision, "signer": r.signer}


@flow(name="publish-county", log_prints=True)
def publish_county_month(county: str | None = None, period: str | None = None, final: bool = False,
                         warehouse_url: str | None = None, publish_dir: str | None = None,
                         sign_off: str | None = None, comment: str | None = None, draft: bool = False) -> dict | State:
    """Publish a county's `period` (default: last month) from its townships' latest signed vintages; county None:
    every county of the catalog, under one sign-off.

    sign_off: the signer's name (CLI): freeze at once, 定报 if `final`, else 快报. draft: write the unsigned
    preview (草稿) to `<publish_dir>/<county>/<period>/draft/` only. Neither: suspend for `SignOff` in the UI."""
    log = get_run_logger()
    rt = open_runtime(warehouse_url=warehouse_url, publish_dir=publish_dir)
    month = Period.parse(period) if period else Period.previous_month(rt.settings.tz)
    runner = PrefectRunner()
    counties = [county] if county else [k.code for k in rt.catalog.counties]
    previews = preview_counties(rt, counties, month, runner, data_docs=True)
    for c, p in previews.items():
        log.info("%s %s: %d townships, %d without a signed vintage (未报): %s", c, month, len(p.sources),
                 len(p.missing), ", ".join(p.missing) or "none")
    if draft or not sign_off:
        drafts = {c: _draft(rt, p) for c, p in previews.items()}
    if draft:
        rt.engine.dispose()
        label_run(name=f"publish counties {month} draft", tags=[period_tag(month)])
        return {"period": str(month), "draft": True, "counties": drafts}
    if sign_off:
        signature = Signature(sign_off, final, comment or "")
    else:
        answer = _wait_for_sign_off(rt, month, previews, "\n\n".join(preview_markdown(p) for p in previews.values()))
        if answer.decision == SEND_BACK:
            rt.engine.dispose()
            return Completed(name=SENT_BACK_STATE, message=f"退回 {', '.join(previews)} {month}，审核人 "
                                                            f"{answer.signer}：{answer.comment or '（无说明）'}")
        signature = Signature(answer.signer, answer.decision == "定报", answer.comment)
        final = signature.final
    results = sign_counties(rt, list(previews.values()), final, signature, runner)  # counties in parallel
    out = {c: _signed(rt, p, r, signature, log) for (c, p), r in zip(previews.items(), results)}
    send_queued(rt, log)
    label_run(name=f"publish counties {month}" + (f" v{out[county]['vintage']}" if county else ""),
              tags=[period_tag(month)])
    rt.engine.dispose()
    return {"period": str(month), "counties": out}
