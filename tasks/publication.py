"""The publish pipeline, written once: load values → compute → compare → check (the preview), then, once
signed off, apply pending revisions → freeze → export, for a month of one township or many.

`preview_townships` and `sign_townships` (or both at once, `publish_townships`; `*_township` for one) call the
steps through a `StepRunner`: directly (tests, bench) or as Prefect tasks (flows/publish.py). Townships are
independent except for the check, which validates all their tables in ONE Great Expectations run, so the rest is
mapped over the runner (in parallel). Between preview and sign, the flow waits for the statistician's sign-off;
`write_draft` writes the unsigned preview (草稿) for reading.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from sqlalchemy import Connection

from tasks import charts, exports, report, verify
from tasks.compute import period_label, township_month
from tasks.gx_docs import DocsRun, site_dir, snapshots_run_name
from tasks.narrative import narrative
from tasks.signoff import DECISION_ZH, Signature
from tasks.snapshot import (STATUS_ZH, FrozenVintage, check_snapshots, content_hash, freeze_vintage,
                            name_change_submissions, vintage_changes)
from tasks.status import follow_up_view, status_table
from tasks.pipeline import PLAIN, Step, StepRunner
from township.errors import UserError
from township.periods import Period
from warehouse.engine import one_snapshot
from warehouse.runtime import Runtime
from warehouse import publish_io, signoff_io


@dataclass
class PublishResult:
    """What one publish produced (or found already published)."""

    snapshot_id: int
    vintage: int
    status: str
    created: bool
    folder: Path
    files: list[Path]
    check_failures: pd.DataFrame
    narrative: str
    table: pd.DataFrame
    period_label: str
    content_hash: str
    published_at: pd.Timestamp
    changes: pd.DataFrame = field(default_factory=pd.DataFrame)
    decision: str | None = None  # preliminary | final | revision; None if frozen unsigned
    signer: str | None = None
    applied: list[int] = field(default_factory=list)  # pending revisions this sign-off made current


@dataclass
class Preview:
    """A month computed and checked but not frozen: what the statistician signs off (or sends back)."""

    township: str
    period: Period
    values: pd.DataFrame
    table: pd.DataFrame
    label: str
    checks: pd.DataFrame
    content_hash: str
    latest: publish_io.VintageRow | None  # the last vintage, if any
    changes: pd.DataFrame  # against the last vintage
    pending: pd.DataFrame  # corrections to a final month waiting for this sign-off (tasks/signoff.py)
    trend: pd.DataFrame  # the report's trend chart: ytd by period of the first headline indicators

    @property
    def next_vintage(self) -> int:
        return self.latest.vintage + 1 if self.latest else 1


def load_values(rt: Runtime, township: str, period: Period) -> pd.DataFrame:
    """Current values from January last year to the period: enough for 同比, derivations and trends."""
    return publish_io.read_current_values(rt.engine, township, f"{period.year - 1}-01", str(period))


def load_step(rt: Runtime, township: str, period: Period) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The current values with the month's pending revisions laid over them (what signing would make
    current), and the pending revisions themselves."""
    with one_snapshot(rt.engine) as conn:  # never part of a batch committed between the two reads
        return _read_month(conn, township, period)


def _read_month(conn: Connection, township: str, period: Period) -> tuple[pd.DataFrame, pd.DataFrame]:
    values = publish_io.read_current_values(conn, township, f"{period.year - 1}-01", str(period))
    pending = signoff_io.read_pending(conn, township, str(period))
    if pending.empty:
        return values, pending
    key = ["reporter_code", "period", "indicator_code"]
    last = signoff_io.latest_pending(pending).assign(valid_from=publish_io.utc(publish_io.now_utc()))
    kept = values.merge(last[key], on=key, how="left", indicator=True)["_merge"].eq("left_only").to_numpy()
    overlay = pd.concat([values[kept], last[publish_io.VALUE_COLUMNS]], ignore_index=True)
    return overlay, pending


class PreviewOutdated(UserError):
    """A batch was loaded (or a revision signed) between a township's preview and its sign-off: the figures
    signed would not be the warehouse's. Nothing was applied or frozen; preview again."""

    def __init__(self, township: str, period: Period) -> None:
        super().__init__(f"{township} {period}：预览之后又载入了新的报表，本次未发布任何版本，请重新预览后签发",
                         f"{township} {period}: submissions were loaded after the preview; nothing was frozen, "
                         "preview and sign again")
        self.township, self.period = township, period

    def __reduce__(self) -> tuple:
        # Raised in a worker process (townships sign in parallel), it is pickled back to the caller.
        return (type(self), (self.township, self.period))


def _versions(values: pd.DataFrame, pending: pd.DataFrame) -> tuple[frozenset, frozenset]:
    """What a preview was computed from: each value's version (its submission) and the pending submissions."""
    ids = zip(values["reporter_code"], values["period"], values["indicator_code"], values["submission_id"].astype(int))
    return frozenset(ids), frozenset(pending["submission_id"].astype(int))


def compare_step(rt: Runtime, township: str, period: Period, table: pd.DataFrame,
                 pending: pd.DataFrame) -> tuple[publish_io.VintageRow | None, pd.DataFrame]:
    """The last vintage and what the computed table changes against it (with the submissions behind it)."""
    with rt.engine.connect() as conn:
        latest = publish_io.latest_vintage(conn, township, str(period))
        if latest is None:
            return None, pd.DataFrame()
        old = publish_io.read_vintage_values(conn, latest.id)
        moved = publish_io.value_changes_since(conn, township, [str(period), str(period.prev())],
                                               latest.published_at)
    moved = pd.concat([moved[["indicator_code", "submission_id"]], pending[["indicator_code", "submission_id"]]],
                      ignore_index=True)
    return latest, vintage_changes(old, table, moved)


def compute_step(rt: Runtime, township: str, period: Period,
                 values: pd.DataFrame) -> tuple[pd.DataFrame, str, pd.DataFrame]:
    """The township's table, its label and its trend (the figures resolved once for both)."""
    table, trend = township_month(values, rt.catalog, township, period, charts.TREND_INDICATORS)
    return table, period_label(period), trend


def data_docs_dir(rt: Runtime) -> Path:
    """The GX Data Docs site of the publish folder: every snapshot check and intake batch validation."""
    return site_dir(rt.settings.publish_dir)


def checked_vintage(latest: publish_io.VintageRow | None, digest: str) -> int:
    """The vintage whose figures a check sees: the latest if the figures are unchanged, else the next."""
    if latest is None:
        return 1
    return latest.vintage if latest.content_hash == digest else latest.vintage + 1


def check_step(tables: dict[str, pd.DataFrame], docs: DocsRun | None = None) -> dict[str, pd.DataFrame]:
    """Every township's table checked in ONE Great Expectations run (tasks/snapshot.check_snapshots)."""
    return check_snapshots(tables, docs)


def freeze_step(rt: Runtime, preview: Preview, final: bool, published_at: dt.datetime | None = None,
                signature: Signature | None = None) -> tuple[FrozenVintage, list[int]]:
    """Freeze the previewed figures, in one transaction under the intake lock: check the preview is still
    the warehouse's current state (else PreviewOutdated), make its pending revisions current, freeze."""
    township, period = preview.township, preview.period
    applied: list[int] = []
    if not preview.pending.empty and signature is None:
        raise ValueError(f"{township} {period} is final (定报): its pending revisions need a signer")

    def in_lock(conn: Connection) -> None:
        if _current_versions(conn, township, period) != _versions(preview.values, preview.pending):
            raise PreviewOutdated(township, period)
        if not preview.pending.empty:
            applied[:] = signoff_io.apply_pending_locked(conn, township, str(period), publish_io.now_utc())

    frozen = freeze_vintage(rt.engine, township, period, preview.table, preview.label, preview.checks, final,
                            published_at, signature, in_lock=in_lock, digest=preview.content_hash)
    return frozen, applied


def _current_versions(conn: Connection, township: str, period: Period) -> tuple[frozenset, frozenset]:
    """_versions of what _read_month reads now; with no pending revision (nearly always) only the values'
    versions are read, not the values."""
    if signoff_io.has_pending(conn, township, str(period)):
        return _versions(*_read_month(conn, township, period))
    return publish_io.read_current_versions(conn, township, f"{period.year - 1}-01", str(period)), frozenset()


def _local(rt: Runtime, t: pd.Timestamp) -> str:
    tz = rt.settings.tz
    return f"{t.tz_convert(tz).strftime('%Y-%m-%d %H:%M')}（{tz.key}）"


def export_header(rt: Runtime, township: str, period: Period, frozen: FrozenVintage) -> exports.ExportHeader:
    signed = signoff_io.read_signature(rt.engine, frozen.snapshot_id)
    status_zh = STATUS_ZH[frozen.status] + ("（修订）" if signed.decision == "revision" else "")
    return exports.ExportHeader(
        township_code=township, township_name=rt.catalog.org_unit_name(township), period=str(period),
        period_label=frozen.period_label, vintage=frozen.vintage, status=frozen.status,
        status_zh=status_zh, published_local=_local(rt, frozen.published_at),
        content_hash=frozen.content_hash, decision=signed.decision or "",
        decision_zh=DECISION_ZH.get(signed.decision or "", ""), signer=signed.signer or "",
        signed_local=_local(rt, signed.signed_at) if signed.signed_at is not None else "",
        comment=signed.comment or "")


def _write_files(rt: Runtime, township: str, period: Period, header: exports.ExportHeader, table: pd.DataFrame,
                 trend: pd.DataFrame, checks: pd.DataFrame, changes: pd.DataFrame, folder: Path,
                 published_at: pd.Timestamp, paragraph: str) -> None:
    """Tables, charts and report of a month into `folder` (a vintage's staging folder, or the draft's);
    paragraph: the report's narrative of the table."""
    exports.write_table_exports(table, header, folder, published_at)
    drawn = charts.draw_charts(table, trend, header.period_label, period.year, period.month)
    # The follow-ups are read once, for the status table's counts and for their own section.
    follow = publish_io.read_follow_ups(rt.engine, township, str(period))
    status = status_table(rt.catalog, township, period, rt.settings.tz,
                          publish_io.read_submissions(rt.engine, township, str(period)), follow)
    sections = report.build_sections(header, table, paragraph, status,
                                     follow_up_view(follow), checks, changes,
                                     drawn)
    report.write_report(folder, header, sections)


def export_step(rt: Runtime, township: str, period: Period, frozen: FrozenVintage, table: pd.DataFrame,
                trend: pd.DataFrame, paragraph: str) -> tuple[Path, list[Path], pd.DataFrame, pd.DataFrame]:
    """Write the vintage's folder once: tables, charts, report, manifest. A folder already complete
    (an unchanged re-publish) is left exactly as it is. Returns the folder, its files, and the
    vintage's stored changes and check failures. paragraph: the table's narrative (the report's paragraph)."""
    folder = exports.vintage_folder(rt.settings.publish_dir, township, str(period), frozen.vintage)
    changes, checks = publish_io.read_vintage_notes(rt.engine, frozen.snapshot_id)
    changes = name_change_submissions(rt.engine, changes, rt.settings.tz)
    if verify.published_intact(rt.engine, frozen.snapshot_id, folder):  # VintageDamaged if the folder was altered
        return folder, sorted(p for p in folder.iterdir() if p.is_file()), changes, checks
    header = export_header(rt, township, period, frozen)
    stage = exports.staging_folder(folder)
    _write_files(rt, township, period, header, table, trend, checks, changes, stage, frozen.published_at, paragraph)
    exports.write_manifest(stage, header)
    exports.move_into_place(stage, folder)
    verify.record_published(rt.engine, frozen.snapshot_id, folder)
    return folder, sorted(p for p in folder.iterdir() if p.is_file()), changes, checks


def draft_header(rt: Runtime, org_unit: str, period: Period, label: str, next_vintage: int,
                 digest: str) -> tuple[Path, exports.ExportHeader, pd.Timestamp]:
    """The draft folder `<publish_dir>/<org unit>/<period>/draft/`, its header (every page says 草稿), and now."""
    now = publish_io.utc(publish_io.now_utc())
    header = exports.ExportHeader(
        township_code=org_unit, township_name=rt.catalog.org_unit_name(org_unit), period=str(period),
        period_label=label, vintage=next_vintage, status="draft",
        status_zh="草稿（未经审核签发，不得引用）", published_local=f"未签发，草稿生成于{_local(rt, now)}",
        content_hash=digest)
    return Path(rt.settings.publish_dir) / org_unit / str(period) / "draft", header, now


def draft_step(preview: Preview, rt: Runtime) -> Path:
    return write_draft(rt, preview)


def write_draft(rt: Runtime, preview: Preview) -> Path:
    """The unsigned preview as files, `<publish_dir>/<township>/<period>/draft/` (beside the vintage folders,
    replaced each time, no manifest): every page and sheet says 草稿. Nothing is frozen."""
    township, period = preview.township, preview.period
    folder, header, now = draft_header(rt, township, period, preview.label, preview.next_vintage,
                                       preview.content_hash)
    stage = exports.staging_folder(folder)
    _write_files(rt, township, period, header, preview.table, preview.trend, preview.checks, preview.changes,
                 stage, now, narrative(preview.table, preview.label))
    shutil.rmtree(folder, ignore_errors=True)
    stage.rename(folder)
    return folder


def publish_result(frozen: FrozenVintage, table: pd.DataFrame, exported: tuple,
                   paragraph: str, signature: Signature | None = None,
                   applied: list[int] | None = None) -> PublishResult:
    """Assemble the result from the freeze step and the export step's (folder, files, changes, checks);
    paragraph: the table's narrative (the report's paragraph, made once by the caller)."""
    folder, files, changes, stored_checks = exported
    return PublishResult(
        snapshot_id=frozen.snapshot_id, vintage=frozen.vintage, status=frozen.status, created=frozen.created,
        folder=folder, files=files, check_failures=stored_checks,
        narrative=paragraph,
        table=table, period_label=frozen.period_label, content_hash=frozen.content_hash,
        published_at=frozen.published_at, changes=changes, signer=signature.signer if signature else None,
        applied=applied or [])


def prepare_step(township: str, rt: Runtime, period: Period) -> tuple:
    """One township's month up to the check, with the runner's item first: its values (with pending revisions
    laid over), the pending revisions, the computed table and label, the last vintage, the changes, the trend and
    the content hash (hashed here, in parallel, not one township after another by the caller)."""
    values, pending = load_step(rt, township, period)
    table, label, trend = compute_step(rt, township, period, values)
    latest, changes = compare_step(rt, township, period, table, pending)
    return values, pending, table, label, latest, changes, trend, content_hash(table, label)


REFRESH_ATTEMPTS = 3  # previews of a township a sign-off with `refresh` tries while intakes keep loading


def sign_step(preview: Preview, rt: Runtime, final: bool, signature: Signature | None,
              published_at: dt.datetime | None = None, refresh: bool = False) -> PublishResult:
    """One previewed township signed: pending revisions made current, the vintage frozen, its folder written.
    Each part is idempotent (nothing pending is applied twice, the same figures freeze to the same vintage, a
    complete folder is left alone), so the whole step is retried as one. If a batch was loaded since the
    preview: PreviewOutdated (nothing applied or frozen), or with `refresh` (the signer signs whatever is
    current: `--sign-off`) the township is previewed again and signed."""
    for attempt in range(1, REFRESH_ATTEMPTS + 1):
        try:
            frozen, applied = freeze_step(rt, preview, final, published_at, signature)
            break
        except PreviewOutdated:
            if not refresh or attempt == REFRESH_ATTEMPTS:
                raise
            preview = preview_township(rt, preview.township, preview.period)
    township, period = preview.township, preview.period
    paragraph = narrative(preview.table, frozen.period_label)  # once, for the report and the result
    exported = export_step(rt, township, period, frozen, preview.table, preview.trend, paragraph)
    result = publish_result(frozen, preview.table, exported, paragraph, signature, applied)
    result.decision = signoff_io.read_signature(rt.engine, frozen.snapshot_id).decision
    return result


# Townships are independent until the check and after it: each is one item mapped over the runner (threads, or
# the flow's task runner: threads, processes or Dask), with the runtime passed along (tasks are handed it as is in
# threads; pickled, it reopens in the worker: warehouse/runtime.py).
PREPARE = Step("load, compute and compare a township", prepare_step, retries=2, processes=True)
CHECK = Step("check the snapshots (Great Expectations)", check_step)
SIGN = Step("make revisions current, freeze and export a township", sign_step, retries=2, processes=True)
DRAFT = Step("write a township's draft", draft_step, retries=2, processes=True)
STEPS = (PREPARE, CHECK, SIGN)  # the order preview + sign follow (DRAFT: between them, for reading)


def preview_townships(rt: Runtime, townships: list[str], period: Period, run: StepRunner = PLAIN, *,
                      data_docs: bool = False) -> dict[str, Preview]:
    """Compute, check and compare many townships' month (with their pending revisions); freezes nothing.
    Each township is prepared independently (in parallel through `run.map`); their tables are then validated
    in one Great Expectations run. data_docs: also keep that validation in the publish folder's GX Data Docs, named
    `snapshot <township> <period> v<vintage>` (several: `snapshot <period> <n> townships`)."""
    prepared = run.map(PREPARE, list(townships), rt, period)
    tables = {t: p[2] for t, p in zip(townships, prepared)}
    docs = None
    if data_docs:
        vintages = {t: checked_vintage(p[4], p[7]) for t, p in zip(townships, prepared)}
        docs = DocsRun(data_docs_dir(rt), snapshots_run_name(str(period), vintages))
    checks = run(CHECK, tables, docs)
    return {t: Preview(t, period, values, table, label, checks[t], digest, latest, changes, pending, trend)
            for t, (values, pending, table, label, latest, changes, trend, digest) in zip(townships, prepared)}


def preview_township(rt: Runtime, township: str, period: Period, run: StepRunner = PLAIN, *,
                     data_docs: bool = False) -> Preview:
    """preview_townships for one township."""
    return preview_townships(rt, [township], period, run, data_docs=data_docs)[township]


def write_drafts(rt: Runtime, previews: list[Preview], run: StepRunner = PLAIN) -> list[Path]:
    """write_draft for each preview, townships in parallel through `run.map`; folders in the previews' order."""
    return run.map(DRAFT, list(previews), rt)


def sign_townships(rt: Runtime, previews: list[Preview], final: bool, signature: Signature | None,
                   run: StepRunner = PLAIN, *, published_at: dt.datetime | None = None,
                   refresh: bool = False) -> list[PublishResult]:
    """Freeze each previewed month signed by `signature` (pending revisions become current first) and export it,
    townships in parallel through `run.map`; results in the previews' order. A revision of a final month is never
    frozen without a signer. A vintage holds exactly what its preview read: a township whose values changed
    since is refused (PreviewOutdated), or with `refresh` previewed again (see sign_step)."""
    return run.map(SIGN, list(previews), rt, final, signature, published_at, refresh)


def sign_township(rt: Runtime, preview: Preview, final: bool, signature: Signature | None,
                  run: StepRunner = PLAIN, *, published_at: dt.datetime | None = None,
                  refresh: bool = False) -> PublishResult:
    """sign_townships for one township."""
    return sign_townships(rt, [preview], final, signature, run, published_at=published_at, refresh=refresh)[0]


def publish_townships(rt: Runtime, townships: list[str], period: Period, final: bool, run: StepRunner = PLAIN, *,
                      published_at: dt.datetime | None = None, data_docs: bool = False,
                      signature: Signature | None = None) -> dict[str, PublishResult]:
    """Compute, check, freeze (signed by `signature`) and export many townships' month; returns each vintage
    (new or unchanged) by township."""
    previews = preview_townships(rt, townships, period, run, data_docs=data_docs)
    results = sign_townships(rt, list(previews.values()), final, signature, run, published_at=published_at,
                             refresh=True)
    return dict(zip(previews, results))


def publish_township(rt: Runtime, township: str, period: Period, final: bool, run: StepRunner = PLAIN, *,
                     published_at: dt.datetime | None = None, data_docs: bool = False,
                     signature: Signature | None = None) -> PublishResult:
    """publish_townships for one township."""
    return publish_townships(rt, [township], period, final, run, published_at=published_at, data_docs=data_docs,
                             signature=signature)[township]
