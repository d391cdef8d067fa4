"""The outbox: every message to a reporter, the statistician or the leaders is a warehouse row first,
then sent through apprise (mail, DingTalk, WeCom, Feishu, a JSON webhook...).

Enqueuing is idempotent (one row per recipient, channel, kind, period and subject, however often a flow
runs); sending claims what is due, and a failure is kept with its error and retried with a doubling
wait on later runs. Contact URLs come from the catalog; `${ENV_NAME}` in them is expanded from the
environment only here, at send time, and never stored or logged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
from dataclasses import dataclass, field
from typing import Mapping

import pandas as pd

from tasks import messages
from township.catalog import ENV_REF, Catalog
from township.periods import Period
from township.settings import Settings
from warehouse import outbox_io
from warehouse.runtime import Runtime

log = logging.getLogger(__name__)


def statistician(township: str) -> str:
    return f"{township}/statistician"


def leaders(org_unit: str) -> str:
    return f"{org_unit}/leaders"


class MissingSecret(LookupError):
    """A contact URL names an environment variable that is not set where the message is sent."""


def expand(url: str, environ: Mapping[str, str] | None = None) -> str:
    """The contact URL with each ${ENV_NAME} replaced by its value from the environment."""
    env = os.environ if environ is None else environ

    def value(m) -> str:  # noqa: ANN001
        if m.group(1) not in env:
            raise MissingSecret(f"environment variable {m.group(1)} is not set (named in the contact URL)")
        return env[m.group(1)]

    return ENV_REF.sub(value, url)


def _hide_secrets(text: str, url: str, environ: Mapping[str, str] | None = None) -> str:
    """An error text with every expanded secret put back as ${NAME} (errors are stored and shown)."""
    env = os.environ if environ is None else environ
    for name in ENV_REF.findall(url):
        if env.get(name):
            text = text.replace(env[name], "${" + name + "}")
    return text


def deliver(url: str, title: str, body: str) -> str | None:
    """Send one message through apprise; None when it went, else why not (secrets hidden)."""
    try:
        target = expand(url)
    except MissingSecret as e:
        return str(e)
    import apprise  # ~0.15 s with its markdown and pygments: only when a message is sent, not in every intake

    ap = apprise.Apprise(asset=apprise.AppriseAsset(storage_mode="memory"))
    if not ap.add(target):
        return "apprise cannot use this contact URL (unknown scheme or bad options)"
    try:
        result = ap.notify(body=body, title=title, body_format=apprise.NotifyFormat.TEXT)
    except Exception as e:  # noqa: BLE001 - any failure of a channel is kept on the message, not raised
        return _hide_secrets(f"{type(e).__name__}: {e}", url)
    if result:
        return None
    why = "; ".join(e.message for e in result.logs() if e.level in ("WARNING", "ERROR", "CRITICAL"))
    return _hide_secrets(why or f"apprise reported {result.status}", url)


def backoff(attempts: int, settings: Settings) -> dt.timedelta:
    """Wait before the next try after `attempts` failed ones: the base, doubling, capped."""
    seconds = settings.outbox_retry_seconds * 2 ** max(attempts - 1, 0)
    return dt.timedelta(seconds=min(seconds, settings.outbox_retry_max_seconds))


def _now(now: dt.datetime | None) -> dt.datetime:
    return now or dt.datetime.now(dt.timezone.utc)


def enqueue(rt: Runtime, recipient: str, kind: str, period: Period | str, title: str, body: str, *,
            subject_key: str = "", now: dt.datetime | None = None) -> int:
    """Queue a message to a recipient on each of its channels in the catalog. Idempotent: a message with
    the same recipient, channel, kind, period and subject is queued once. Returns how many rows are new
    (0 when the catalog gives the recipient no contact: nobody to send to)."""
    if len(subject_key) > 128:  # e.g. a long URL: its hash keys it as well and fits the column
        subject_key = hashlib.sha256(subject_key.encode()).hexdigest()
    title = title if len(title) <= 256 else title[:255] + "…"  # a file name may be long; the body has it whole
    rows = [{"recipient": recipient, "channel": c.channel, "kind": kind, "period": str(period),
             "subject_key": subject_key, "title": title, "body": body} for c in rt.catalog.contacts_for(recipient)]
    return outbox_io.enqueue_messages(rt.engine, rows, _now(now))


@dataclass
class SendResult:
    sent: int = 0
    failed: list[dict] = field(default_factory=list)  # recipient, channel, kind, period, attempts, error

    def as_dict(self) -> dict:
        return {"sent": self.sent, "failed": len(self.failed)}


def send_outbox(rt: Runtime, now: dt.datetime | None = None) -> SendResult:
    """Send every queued or failed message that is due, each through its channel's URL (looked up in
    the catalog now, so a corrected contact is used on the next try); record each outcome."""
    now = _now(now)
    out = SendResult()
    for m in outbox_io.claim_due(rt.engine, now):
        contact = next((c for c in rt.catalog.contacts_for(m["recipient"]) if c.channel == m["channel"]), None)
        error = (f"no contact {m['channel']!r} for {m['recipient']} in the catalog any more" if contact is None
                 else deliver(contact.url, m["title"], m["body"]))
        if error is None:
            outbox_io.record_sent(rt.engine, m["id"], now)
            out.sent += 1
            continue
        attempts = m["attempts"] + 1
        outbox_io.record_failed(rt.engine, m["id"], error, now + backoff(attempts, rt.settings))
        log.warning("message %s %s to %s via %s not sent (attempt %d): %s", m["kind"], m["period"],
                    m["recipient"], m["channel"], attempts, error)
        out.failed.append({k: m[k] for k in ("recipient", "channel", "kind", "period")}
                          | {"attempts": attempts, "error": error})
    return out


def failed_messages(rt: Runtime, period: Period | str | None = None) -> pd.DataFrame:
    """Messages not delivered (yet): recipient, channel, kind, period, attempts, last_error, next_attempt_at."""
    df = outbox_io.read_outbox(rt.engine, period=str(period) if period else None, status=outbox_io.FAILED)
    return df[["recipient", "channel", "kind", "period", "attempts", "last_error", "next_attempt_at"]]


def outbox_markdown(failed: pd.DataFrame, sent: int) -> str:
    """The run's artifact: how many went, and each message that did not with its error."""
    lines = [f"# 消息发送 / outbox: {sent} sent, {len(failed)} not delivered", ""]
    if len(failed):
        lines += ["| 收件人 recipient | 渠道 channel | 类型 kind | 报告期 | 尝试 attempts | 错误 error | 下次 next try |",
                  "|---|---|---|---|---|---|---|"]
        for r in failed.to_dict("records"):
            nxt = r.get("next_attempt_at")
            lines.append(f"| {r['recipient']} | {r['channel']} | {messages.KIND_ZH.get(r['kind'], '')} "
                         f"({r['kind']}) | {r['period']} | {r['attempts']} | {r.get('last_error') or r.get('error')} "
                         f"| {'' if nxt is None or nxt != nxt else f'{pd.Timestamp(nxt):%Y-%m-%d %H:%M} UTC'} |")
    return "\n".join(lines) + "\n"


# What each step of the cycle queues ---------------------------------------------------------------

def reporter_of(receipt: dict, catalog: Catalog) -> str | None:
    """Who gets a file's answer: the reporter whose folder it was dropped in (else the one it names)."""
    folder = receipt.get("path", "").split("/")[0] if "/" in receipt.get("path", "") else ""
    for code in (folder, receipt.get("reporter")):
        if code in catalog.reporter_by_code:
            return code
    return None


def enqueue_rejections(rt: Runtime, receipts: list[dict], receipt_paths: Mapping[str, str] | None = None,
                       now: dt.datetime | None = None) -> int:
    """A rejection message for each rejected file's reporter (by file, so a file is answered once).
    receipt_paths: sha256 → where the reporter finds the full receipt."""
    n = 0
    for r in receipts:
        if r["status"] != "rejected":
            continue
        code = reporter_of(r, rt.catalog)
        if code is None or not rt.catalog.contacts_for(code):
            continue
        rep = rt.catalog.reporter_by_code[code]
        town = rt.catalog.township_by_code[rep.township].name
        where = (receipt_paths or {}).get(r["sha256"], f"{code}/回执/")
        period = r["period"] if isinstance(r["period"], str) else ""  # a file with no readable period: ''
        title, body = messages.rejection_message(r | {"period": period}, town, rep.name, where)
        n += enqueue(rt, code, messages.REJECTION, period, title, body, subject_key=r["sha256"], now=now)
    return n


def enqueue_reminders(rt: Runtime, kind: str, period: Period, todo: pd.DataFrame, deadline: str,
                      now: dt.datetime | None = None) -> int:
    """A reminder of `kind` to each reporter in `todo` (still_to_submit's rows); once per period and kind."""
    n = 0
    for code, state in zip(todo["reporter_code"], todo["reminder_state"]):
        rep = rt.catalog.reporter_by_code[code]
        town = rt.catalog.township_by_code[rep.township].name
        title, body = messages.reminder_message(kind, town, rep.name, period, deadline, code,
                                                resubmit=state == "resubmit")
        n += enqueue(rt, code, kind, period, title, body, now=now)
    return n


def request_signoff(rt: Runtime, township: str, period: Period, run_url: str, *, summary: str = "",
                    subject_key: str = "", now: dt.datetime | None = None) -> int:
    """Ask the township's statistician to review and sign off a month; `run_url` is the run waiting for
    it. subject_key (e.g. the flow run id): one request per waiting run."""
    town = rt.catalog.township_by_code[township].name
    title, body = messages.signoff_request_message(town, period, run_url, summary)
    return enqueue(rt, statistician(township), messages.SIGNOFF_REQUEST, period, title, body,
                   subject_key=subject_key or run_url, now=now)


def announce_published(rt: Runtime, org_unit: str, period: Period, vintage: int, status_zh: str, paragraph: str,
                       report_url: str, now: dt.datetime | None = None) -> int:
    """Send the leaders of a township (or of a county: its roll-up) a published vintage: its paragraph and where
    the report is (once per vintage)."""
    title, body = messages.published_message(rt.catalog.org_unit_name(org_unit), period, vintage, status_zh,
                                             paragraph, report_url)
    return enqueue(rt, leaders(org_unit), messages.PUBLISHED_REPORT, period, title, body,
                   subject_key=f"v{vintage}", now=now)
