"""The publish pipeline, written once: load values → compute → compare → check (the preview), then, once
signed off, apply pending revisions → freeze → export, for one township's month.

`preview_township` and `sign_township` (or both at once, `publish_township`) call the steps in order through
a `StepRunner`: directly (tests, bench) or as Prefect tasks (flows/publish.py). Between the two, the flow
waits for the statistician's sign-off; `write_draft` writes the unsigned preview (草稿) for reading.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from tasks import charts, exports, report, verify
from tasks.compute import compute_township, monthly_ytd, period_label
from tasks.gx_docs import DocsRun, site_dir, snapshot_run_name
from tasks.narrative import narrative
from tasks.signoff import DECISION_ZH, Signature, apply_pending_revisions
from tasks.snapshot import (STATUS_ZH, FrozenVintage, check_snapshot, content_hash, freeze_vintage,
                            name_change_submissions, vintage_changes)
from tasks.status import follow_up_list, reporting_status
from tasks.pipeline import PLAIN, Step, StepRunner
from township.periods import Period
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

    @property
    def next_vintage(self) -> int:
        return self.latest.vintage + 1 if self.latest else 1


def load_values(rt: Runtime, township: str, period: Period) -> pd.DataFrame:
    """Current values from January last year to the period: enough for 同比, derivations and trends."""
    return publish_io.read_current_values(rt.engine, township, f"{period.year - 1}-01", str(period))


def load_step(rt: Runtime, township: str, period: Period) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The current values with the month's pending revisions laid over them (what signing would make
    current), and the pending revisions themselves."""
    values = load_values(rt, township, period)
    pending = signoff_io.read_pending(rt.engine, township, str(period))
    if pending.empty:
        return values, pending
    key = ["reporter_code", "period", "indicator_code"]
    last = signoff_io.latest_pending(pending).assign(valid_from=publish_io.utc(publish_io.now_utc()))
    kept = values.merge(last[key], on=key, how="left", indicator=True)["_merge"].eq("left_only").to_numpy()
    overlay = pd.concat([values[kept], last[publish_io.VALUE_COLUMNS]], ignore_index=True)
    return overlay, pending


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


def compute_step(rt: Runtime, township: str, period: Period, values: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    return compute_township(values, rt.catalog, township, period), period_label(period)


def data_docs_dir(rt: Runtime) -> Path:
    """The GX Data Docs site of the publish folder: every snapshot check and intake batch validation."""
    return site_dir(rt.settings.publish_dir)


def checked_vintage(latest: publish_io.VintageRow | None, digest: str) -> int:
    """The vintage whose figures a check sees: the latest if the figures are unchanged, else the next."""
    if latest is None:
        return 1
    return latest.vintage if latest.content_hash == digest else latest.vintage + 1


def check_step(table: pd.DataFrame, docs: DocsRun | None = None) -> pd.DataFrame:
    return check_snapshot(table, docs)


def apply_step(rt: Runtime, township: str, period: Period) -> list[int]:
    return apply_pending_revisions(rt.engine, township, period)


def freeze_step(rt: Runtime, township: str, period: Period, table: pd.DataFrame, label: str,
                checks: pd.DataFrame, final: bool, published_at: dt.datetime | None = None,
                signature: Signature | None = None) -> FrozenVintage:
    return freeze_vintage(rt.engine, township, period, table, label, checks, final, published_at, signature)


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
                 values: pd.DataFrame, checks: pd.DataFrame, changes: pd.DataFrame, folder: Path,
                 published_at: pd.Timestamp) -> None:
    """Tables, charts and report of a month into `folder` (a vintage's staging folder, or the draft's)."""
    exports.write_table_exports(table, header, folder, published_at)
    headline = table[table["headline"].notna()].sort_values("headline")["indicator_code"].tolist()
    trend = monthly_ytd(values, rt.catalog, township, headline[: charts.TREND_INDICATORS])
    drawn = charts.draw_charts(table, trend, header.period_label, period.year, period.month, folder)
    status = reporting_status(rt.engine, rt.catalog, township, period, rt.settings.tz)
    sections = report.build_sections(header, table, narrative(table, header.period_label), status,
                                     follow_up_list(rt.engine, township, period), checks, changes,
                                     [p.name for p in drawn])
    report.write_report(folder, header, sections)


def export_step(rt: Runtime, township: str, period: Period, frozen: FrozenVintage, table: pd.DataFrame,
                values: pd.DataFrame) -> tuple[Path, list[Path], pd.DataFrame, pd.DataFrame]:
    """Write the vintage's folder once: tables, charts, report, manifest. A folder already complete
    (an unchanged re-publish) is left exactly as it is. Returns the folder, its files, and the
    vintage's stored changes and check failures."""
    folder = exports.vintage_folder(rt.settings.publish_dir, township, str(period), frozen.vintage)
    _head, _values, changes, checks = publish_io.read_vintage(rt.engine, frozen.snapshot_id)
    changes = name_change_submissions(rt.engine, changes, rt.settings.tz)
    if verify.published_intact(folder):  # raises VintageDamaged if the folder was altered
        return folder, sorted(p for p in folder.iterdir() if p.is_file()), changes, checks
    header = export_header(rt, township, period, frozen)
    stage = exports.staging_folder(folder)
    _write_files(rt, township, period, header, table, values, checks, changes, stage, frozen.published_at)
    exports.write_manifest(stage, header)
    exports.move_into_place(stage, folder)
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


def write_draft(rt: Runtime, preview: Preview) -> Path:
    """The unsigned preview as files, `<publish_dir>/<township>/<period>/draft/` (beside the vintage folders,
    replaced each time, no manifest): every page and sheet says 草稿. Nothing is frozen."""
    township, period = preview.township, preview.period
    folder, header, now = draft_header(rt, township, period, preview.label, preview.next_vintage,
                                       preview.content_hash)
    stage = exports.staging_folder(folder)
    _write_files(rt, township, period, header, preview.table, preview.values, preview.checks, preview.changes,
                 stage, now)
    shutil.rmtree(folder, ignore_errors=True)
    stage.rename(folder)
    return folder


def publish_result(frozen: FrozenVintage, table: pd.DataFrame, exported: tuple,
                   signature: Signature | None = None, applied: list[int] | None = None) -> PublishResult:
    """Assemble the result from the freeze step and the export step's (folder, files, changes, checks)."""
    folder, files, changes, stored_checks = exported
    return PublishResult(
        snapshot_id=frozen.snapshot_id, vintage=frozen.vintage, status=frozen.status, created=frozen.created,
        folder=folder, files=files, check_failures=stored_checks, narrative=narrative(table, frozen.period_label),
        table=table, period_label=frozen.period_label, content_hash=frozen.content_hash,
        published_at=frozen.published_at, changes=changes, signer=signature.signer if signature else None,
        applied=applied or [])


LOAD = Step("load current values", load_step, retries=2)
COMPUTE = Step("compute township figures", compute_step)
COMPARE = Step("compare with the last vintage", compare_step, retries=2)
CHECK = Step("check the snapshot (Great Expectations)", check_step)
APPLY = Step("make signed revisions current", apply_step, retries=1)
FREEZE = Step("freeze the vintage", freeze_step, retries=1)
EXPORT = Step("write files and report", export_step, retries=2)
STEPS = (LOAD, COMPUTE, COMPARE, CHECK, APPLY, FREEZE, EXPORT)  # the order preview + sign follow


def preview_township(rt: Runtime, township: str, period: Period, run: StepRunner = PLAIN, *,
                     data_docs: bool = False) -> Preview:
    """Compute and check one township's month (with its pending revisions) and compare it with the last
    vintage; freezes nothing. data_docs: also keep the validation in the publish folder's GX Data Docs, named
    `snapshot <township> <period> v<vintage>`."""
    values, pending = run(LOAD, rt, township, period)
    table, label = run(COMPUTE, rt, township, period, values)
    latest, changes = run(COMPARE, rt, township, period, table, pending)
    digest = content_hash(table, label)
    docs = DocsRun(data_docs_dir(rt), snapshot_run_name(township, str(period), checked_vintage(latest, digest))) \
        if data_docs else None
    checks = run(CHECK, table, docs)
    return Preview(township, period, values, table, label, checks, digest, latest, changes, pending)


def sign_township(rt: Runtime, preview: Preview, final: bool, signature: Signature | None,
                  run: StepRunner = PLAIN, *, published_at: dt.datetime | None = None) -> PublishResult:
    """Freeze the previewed month signed by `signature` (pending revisions become current first) and export it.
    A revision of a final month is never frozen without a signer."""
    township, period = preview.township, preview.period
    applied: list[int] = []
    if not preview.pending.empty:
        if signature is None:
            raise ValueError(f"{township} {period} is final (定报): its pending revisions need a signer")
        applied = run(APPLY, rt, township, period)
    frozen = run(FREEZE, rt, township, period, preview.table, preview.label, preview.checks, final, published_at,
                 signature)
    result = publish_result(frozen, preview.table, run(EXPORT, rt, township, period, frozen, preview.table,
                                                       preview.values), signature, applied)
    result.decision = signoff_io.read_signature(rt.engine, frozen.snapshot_id).decision
    return result


def publish_township(rt: Runtime, township: str, period: Period, final: bool, run: StepRunner = PLAIN, *,
                     published_at: dt.datetime | None = None, data_docs: bool = False,
                     signature: Signature | None = None) -> PublishResult:
    """Compute, check, freeze (signed by `signature`) and export one township's month; returns the vintage
    (new or unchanged)."""
    preview = preview_township(rt, township, period, run, data_docs=data_docs)
    return sign_township(rt, preview, final, signature, run, published_at=published_at)
