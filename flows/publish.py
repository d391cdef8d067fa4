"""The publish flow: compute a month's township figures, check them, and — once signed off (审核签发) —
freeze a vintage and write its files and report.

Deployed from prefect.yaml (the 10th at 09:00, for last month): the run posts the preview as artifacts and
suspends until the statistician signs it off in the Prefect UI (`SignOff`: 快报 / 定报 / 退回). From the
CLI, `township publish --period 2021-10 --sign-off NAME` signs without waiting; without a signer the CLI
writes a draft (草稿) and freezes nothing.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Literal

from prefect import flow, get_run_logger
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.flow_runs import suspend_flow_run
from prefect.input import RunInput
from prefect.states import Completed, State
from pydantic import Field

from flows.naming import label_run, period_tag, publish_run_name
from flows.runners import PrefectRunner, task_runner
from tasks.links import published_url
from tasks.outbox import announce_published, enqueue, request_signoff, send_outbox
from tasks.publication import Preview, PublishResult, preview_townships, sign_townships, write_drafts
from tasks.report import escape_markdown
from tasks.signoff import SEND_BACK, Signature
from tasks.snapshot import STATUS_ZH
from tasks.status import reporting_status
from township.periods import Period
from township.settings import get_settings
from warehouse.runtime import Runtime, open_runtime

TABLE_COLUMNS = ["indicator_code", "indicator_name", "unit", "month_value", "ytd_value", "prior_ytd_value", "yoy_pct",
                 "annual_target", "target_pct", "schedule_gap_pp", "reporters_expected", "reporters_reported"]
SENT_BACK_STATE = "退回 Sent back"


class SignOff(RunInput):
    """审核签发 / Sign-off of the month's figures (the form the Prefect UI shows on the suspended run)."""

    decision: Literal["快报", "定报", "退回"] = Field(
        title="审核意见 Decision",
        description="快报：批准为快报发布；定报：批准为定报发布（此后更正须经修订签发）；退回：不发布，退回报送单位更正。"
                    " / 快报 approve as preliminary; 定报 approve as final (later changes need a signed revision); "
                    "退回 send back: nothing is published.")
    signer: str = Field(
        title="审核人 Signer", min_length=1, max_length=128,
        description="审核人姓名，按输入原样记录在发布版本中。 / Your name, recorded with the vintage as entered.")
    comment: str = Field(
        "", title="意见 Comment", max_length=2000,
        description="审核意见；退回时写明需要更正的内容。 / Comment; for a send-back, what must be corrected.")


def send_queued(rt: Runtime, log: logging.Logger | logging.LoggerAdapter) -> None:
    """Send what the sign-off queued (a recipient without contacts in the catalog gets nothing); a failure
    stays in the outbox, shown by `township status`, and is retried by the next run that sends."""
    result = send_outbox(rt)
    if result.sent or result.failed:
        log.info("outbox: %d sent, %d failed", result.sent, len(result.failed))


def request_sign_off(rt: Runtime, month: Period, townships: list[str], summary: str, run_key: str,
                     log: logging.Logger | logging.LoggerAdapter) -> None:
    """The sign-off request to each township's statistician, linking this suspended run (once per run)."""
    from prefect.runtime import flow_run

    url = flow_run.ui_url or ""
    for code in townships:
        request_signoff(rt, code, month, url, summary=summary[:1500], subject_key=f"{flow_run.id}-{run_key}")
    send_queued(rt, log)


def tell_reporters_sent_back(rt: Runtime, month: Period, townships: list[str], text: str, run_key: str,
                             log: logging.Logger | logging.LoggerAdapter) -> None:
    """A send-back's comment to the reporters concerned: every reporter expected for the month in the
    townships sent back, since the month is reopened for all of them (once per sign-off)."""
    for code in townships:
        for reporter in rt.catalog.expected_reporters(code):
            enqueue(rt, reporter.code, "send_back", month, f"{month} 报表退回修改", text, subject_key=run_key)
    send_queued(rt, log)


def _key(township: str, period: Period) -> str:
    return f"{township}-{period}".replace("_", "-").lower()


def _records(df):  # noqa: ANN001, ANN202
    return df.astype(object).where(df.notna(), None).to_dict("records")


def _artifacts(township: str, period: Period, r: PublishResult) -> None:
    key = _key(township, period)
    table = r.table[[c for c in TABLE_COLUMNS if c in r.table.columns]]
    create_table_artifact(key=f"snapshot-{key}", table=_records(table),
                          description=f"{township} {period} v{r.vintage} ({r.status})")
    md = [f"# {township} {r.period_label} v{r.vintage} ({r.status})", "", escape_markdown(r.narrative)]
    if r.signer:
        md += ["", f"审核人 signer: {escape_markdown(r.signer)} · 签发 decision: {r.decision}"]
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


def preview_markdown(rt: Runtime, p: Preview) -> str:
    """The preview a signer reads: paragraph, check failures, changes, pending revisions, completeness."""
    from tasks.narrative import narrative

    md = [f"# 草稿 draft: {p.township} {p.period} ({p.label}) → 第{p.next_vintage}版 vintage {p.next_vintage}", "",
          narrative(p.table, p.label) or "（本期无可发布的主要指标）", ""]
    md += ["## 数据检查未通过 check failures", ""]
    md += [f"- `{c}` {zh}" for c, zh in zip(p.checks["code"], p.checks["message_zh"])] or ["- 无 none"]
    md += ["", f"## 与第{p.latest.vintage}版相比 changes against vintage {p.latest.vintage}" if p.latest
           else "## 首次发布 first vintage", ""]
    if p.latest is not None and p.changes.empty:
        md.append("- 无变化 no change: signing creates nothing new")
    for r in p.changes.to_dict("records"):
        md.append(f"- {r['indicator_code']}: 本月 {r['old_month_value']} → {r['new_month_value']}, "
                  f"累计 {r['old_ytd_value']} → {r['new_ytd_value']} (报送 {r['submission_ids'] or '—'})")
    if not p.pending.empty:
        md += ["", f"## 待签发修订 pending revisions ({len(p.pending)})", "",
               "本月已定报；签发后以下更正生效并形成修订版。 The month is final; signing makes these current.", ""]
        md += [f"- {r['reporter_code']} {r['indicator_code']}: {r['month_value']} / {r['ytd_value']} "
               f"({r['file_name']}, 报送 {r['submission_id']})" for r in p.pending.to_dict("records")]
    st = reporting_status(rt.engine, rt.catalog, p.township, p.period, rt.settings.tz)
    counts = st["status"].value_counts()
    md += ["", "## 报送情况 completeness", "",
           f"应报 expected {len(st)} · 按时 on time {counts.get('on_time', 0)} · 迟报 late {counts.get('late', 0)}"
           f" · 未报 missing {counts.get('missing', 0)}"]
    missing = st.loc[st["status"] == "missing", "reporter_code"].tolist()
    if missing:
        md.append(f"- 未报 missing: {', '.join(missing)}")
    return "\n".join(md)


def _preview_artifacts(rt: Runtime, p: Preview, draft_folder) -> str:  # noqa: ANN001
    key = _key(p.township, p.period)
    table = p.table[[c for c in TABLE_COLUMNS if c in p.table.columns]]
    create_table_artifact(key=f"preview-{key}", table=_records(table),
                          description=f"草稿 draft {p.township} {p.period} → v{p.next_vintage} (not signed)")
    md = preview_markdown(rt, p)
    create_markdown_artifact(key=f"preview-report-{key}", markdown=md, description="草稿 the preview to sign off")
    create_link_artifact(key=f"draft-{key}", link=(draft_folder / "report.html").resolve().as_uri(),
                         link_text=f"草稿 draft report {p.period}", description="the unsigned draft report")
    return md


def _sign_off_key(previews: dict[str, Preview]) -> str:
    """The suspension's key: the previewed figures. Resumed with the same figures, the answer applies; if
    they changed meanwhile (a late file), the run suspends again and asks for a new sign-off."""
    doc = "|".join(f"{c}:{p.content_hash}:{','.join(str(i) for i in sorted(set(p.pending['submission_id'])))}"
                   for c, p in sorted(previews.items()))
    return "signoff-" + hashlib.sha256(doc.encode()).hexdigest()[:16]


def _wait_for_sign_off(rt: Runtime, month: Period, previews: dict[str, Preview], summaries: list[str],
                       log) -> SignOff:  # noqa: ANN001
    body = "\n\n".join(summaries)
    label_run(name=f"publish {month} awaiting sign-off", tags=[period_tag(month)])
    request_sign_off(rt, month, list(previews), body, _sign_off_key(previews), log)
    form = SignOff.with_initial_data(description=(
        f"## 审核签发 {month} / Sign-off\n\n请阅读本次运行的 Artifacts（草稿、变动、检查、报送情况）后选择："
        "快报、定报或退回，并填写审核人。\n\nRead the run's artifacts (draft, changes, checks, completeness), "
        "then choose 快报 / 定报 / 退回 and enter your name.\n\n" + body))
    return suspend_flow_run(wait_for_input=form, timeout=rt.settings.signoff_timeout_seconds,
                            key=_sign_off_key(previews))


def _sent_back(rt: Runtime, month: Period, previews: dict[str, Preview], answer: SignOff, log) -> State:  # noqa: ANN001
    text = f"退回 {month}，审核人 {answer.signer}：{answer.comment or '（无说明）'}"
    create_markdown_artifact(key=f"sent-back-{str(month)}", markdown=(
        f"# 退回 Sent back: {month}\n\n- 审核人 signer: {answer.signer}\n- 意见 comment: {answer.comment or '—'}\n"
        f"- 未发布任何版本 nothing was frozen ({', '.join(previews)})"), description="sent back, nothing published")
    tell_reporters_sent_back(rt, month, list(previews), text, _sign_off_key(previews), log)
    label_run(name=f"publish {month} sent back", tags=[period_tag(month)])
    log.info("%s: sent back by %s, nothing frozen", month, answer.signer)
    return Completed(name=SENT_BACK_STATE, message=text)


@flow(name="publish-monthly", flow_run_name=publish_run_name, task_runner=task_runner(), log_prints=True)
def publish_monthly(period: str | None = None, final: bool = False, township: str | None = None,
                    warehouse_url: str | None = None, publish_dir: str | None = None,
                    sign_off: str | None = None, comment: str | None = None, draft: bool = False) -> dict | State:
    """Publish `period` (default: last month in the township's timezone) for one or every township.

    sign_off: the signer's name (the CLI, scripts): freeze at once, as 定报 if `final`, else 快报.
    draft: only write the unsigned preview (草稿) to `<publish_dir>/<township>/<period>/draft/`.
    Neither (a deployment run): post the preview and suspend for the `SignOff` form in the Prefect UI."""
    log = get_run_logger()
    rt = open_runtime(warehouse_url=warehouse_url, publish_dir=publish_dir)
    month = Period.parse(period) if period else Period.previous_month(rt.settings.tz)
    townships = [township] if township else [t.code for t in rt.catalog.townships]
    runner = PrefectRunner()
    # Townships in parallel over the task runner; their snapshot tables checked in one GX run.
    previews = preview_townships(rt, townships, month, runner, data_docs=True)
    if draft or not sign_off:
        drafts = dict(zip(previews, write_drafts(rt, list(previews.values()), runner)))
        summaries = [_preview_artifacts(rt, p, drafts[code]) for code, p in previews.items()]
    if draft:
        rt.engine.dispose()
        label_run(name=f"publish {month} draft", tags=[period_tag(month)])
        return {"period": str(month), "draft": True, "townships": {
            code: {"vintage": p.next_vintage, "folder": str(drafts[code]), "pending": len(p.pending),
                   "changes": len(p.changes), "checks_failed": len(p.checks)} for code, p in previews.items()}}
    if sign_off:
        signature = Signature(sign_off, final, comment or "")
    else:
        answer = _wait_for_sign_off(rt, month, previews, summaries, log)
        if answer.decision == SEND_BACK:
            state = _sent_back(rt, month, previews, answer, log)
            rt.engine.dispose()
            return state
        final = answer.decision == "定报"
        signature = Signature(answer.signer, final, answer.comment)
    out = {}
    # With --sign-off the signer signs what is current: a township a batch changed meanwhile is previewed again;
    # signed in the form, its figures are those the person read (else PreviewOutdated, nothing frozen).
    results = sign_townships(rt, [previews[code] for code in townships], final, signature, runner,
                             refresh=bool(sign_off))
    for code, r in zip(townships, results):
        log.info("%s %s: vintage %d (%s)%s, signed by %s, %s", code, month, r.vintage, r.status,
                 "" if r.created else " unchanged, nothing new", signature.signer, r.folder)
        for c, i, en in zip(r.check_failures["code"], r.check_failures["indicator_code"],
                            r.check_failures["message_en"]):
            log.warning("snapshot check %s %s: %s", c, i or "", en)
        _artifacts(code, month, r)
        if r.created:
            announce_published(rt, code, month, r.vintage, STATUS_ZH.get(r.status, r.status), r.narrative,
                               published_url(rt.settings, r.folder / "report.html"))
        out[code] = {"vintage": r.vintage, "status": r.status, "created": r.created, "folder": str(r.folder),
                     "checks_failed": len(r.check_failures), "decision": r.decision, "signer": r.signer,
                     "revisions_applied": len(r.applied)}
    send_queued(rt, log)
    if len(townships) == 1:
        label_run(name=f"publish {month} v{out[townships[0]]['vintage']}", tags=[period_tag(month)])
    else:
        label_run(tags=[period_tag(month)])
    rt.engine.dispose()
    return {"period": str(month), "townships": out}
