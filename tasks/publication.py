"""The publish pipeline, written once: load values → compute → check → freeze → export, for one township's month.

`publish_township` calls the steps in order through a `StepRunner`: directly (tests, bench) or as
Prefect tasks (flows/publish.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from tasks import charts, exports, report, verify
from tasks.compute import compute_township, monthly_ytd, period_label
from tasks.narrative import narrative
from tasks.snapshot import STATUS_ZH, FrozenVintage, check_snapshot, freeze_vintage, name_change_submissions
from tasks.status import follow_up_list, reporting_status
from tasks.pipeline import PLAIN, Step, StepRunner
from township.periods import Period
from warehouse.runtime import Runtime
from warehouse import publish_io


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


def load_values(rt: Runtime, township: str, period: Period) -> pd.DataFrame:
    """Current values from January last year to the period: enough for 同比, derivations and trends."""
    return publish_io.read_current_values(rt.engine, township, f"{period.year - 1}-01", str(period))


def compute_step(rt: Runtime, township: str, period: Period, values: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    return compute_township(values, rt.catalog, township, period), period_label(period)


def data_docs_dir(rt: Runtime) -> Path:
    """The GX Data Docs site of the publish folder: every publish run's snapshot validation."""
    return Path(rt.settings.publish_dir) / "data_docs"


def check_step(table: pd.DataFrame, docs_dir: Path | None = None) -> pd.DataFrame:
    return check_snapshot(table, docs_dir)


def freeze_step(rt: Runtime, township: str, period: Period, table: pd.DataFrame, label: str,
                checks: pd.DataFrame, final: bool, published_at: dt.datetime | None = None) -> FrozenVintage:
    return freeze_vintage(rt.engine, township, period, table, label, checks, final, published_at)


def export_header(rt: Runtime, township: str, period: Period, frozen: FrozenVintage) -> exports.ExportHeader:
    tz = rt.settings.tz
    local = frozen.published_at.tz_convert(tz).strftime("%Y-%m-%d %H:%M")
    return exports.ExportHeader(
        township_code=township, township_name=rt.catalog.township_by_code[township].name, period=str(period),
        period_label=frozen.period_label, vintage=frozen.vintage, status=frozen.status,
        status_zh=STATUS_ZH[frozen.status], published_local=f"{local}（{tz.key}）",
        content_hash=frozen.content_hash)


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
    exports.write_table_exports(table, header, stage, frozen.published_at)
    headline = table[table["headline"].notna()].sort_values("headline")["indicator_code"].tolist()
    trend = monthly_ytd(values, rt.catalog, township, headline[: charts.TREND_INDICATORS])
    drawn = charts.draw_charts(table, trend, frozen.period_label, period.year, period.month, stage)
    status = reporting_status(rt.engine, rt.catalog, township, period, rt.settings.tz)
    sections = report.build_sections(header, table, narrative(table, frozen.period_label), status,
                                     follow_up_list(rt.engine, township, period), checks, changes,
                                     [p.name for p in drawn])
    report.write_report(stage, header, sections)
    exports.write_manifest(stage, header)
    exports.move_into_place(stage, folder)
    return folder, sorted(p for p in folder.iterdir() if p.is_file()), changes, checks


def publish_result(frozen: FrozenVintage, table: pd.DataFrame, exported: tuple) -> PublishResult:
    """Assemble the result from the freeze step and the export step's (folder, files, changes, checks)."""
    folder, files, changes, stored_checks = exported
    return PublishResult(
        snapshot_id=frozen.snapshot_id, vintage=frozen.vintage, status=frozen.status, created=frozen.created,
        folder=folder, files=files, check_failures=stored_checks, narrative=narrative(table, frozen.period_label),
        table=table, period_label=frozen.period_label, content_hash=frozen.content_hash,
        published_at=frozen.published_at, changes=changes)


LOAD = Step("load current values", load_values, retries=2)
COMPUTE = Step("compute township figures", compute_step)
CHECK = Step("check the snapshot (Great Expectations)", check_step)
FREEZE = Step("freeze the vintage", freeze_step, retries=1)
EXPORT = Step("write files and report", export_step, retries=2)
STEPS = (LOAD, COMPUTE, CHECK, FREEZE, EXPORT)  # the order publish_township follows


def publish_township(rt: Runtime, township: str, period: Period, final: bool, run: StepRunner = PLAIN, *,
                     published_at: dt.datetime | None = None, data_docs: bool = False) -> PublishResult:
    """Compute, check, freeze and export one township's month; returns the vintage (new or unchanged).
    data_docs: also render the snapshot validation into the publish folder's GX Data Docs."""
    values = run(LOAD, rt, township, period)
    table, label = run(COMPUTE, rt, township, period, values)
    checks = run(CHECK, table, data_docs_dir(rt) if data_docs else None)
    frozen = run(FREEZE, rt, township, period, table, label, checks, final, published_at)
    return publish_result(frozen, table, run(EXPORT, rt, township, period, frozen, table, values))
