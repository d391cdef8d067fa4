"""The county publish pipeline, written once: load the townships' latest signed vintages → compute the county
figures and the ranking → compare → check (the preview), then, once signed off, freeze → export.

A county vintage is a `snapshot` row whose org unit is the county, frozen, sealed and diffed by the township
machinery (tasks/snapshot.py); its `county_source` rows name the township vintage behind every township and are
part of its content hash, so a new township vintage makes a new county vintage and an unchanged input none.
Files go to `<publish_dir>/<county>/<period>/v<N>/` (the draft to `.../draft/`) like a township's.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from tasks import charts, exports, report, verify
from tasks.compute import period_label
from tasks.county import compute_county, township_figures, township_ranking
from tasks.county_charts import ranking_chart
from tasks.county_exports import lineage_manifest, write_ranking_exports
from tasks.county_report import county_sections
from tasks.narrative import narrative
from tasks.pipeline import PLAIN, Step, StepRunner
from tasks.gx_docs import DocsRun, snapshot_run_name
from tasks.publication import (PublishResult, checked_vintage, compare_step, data_docs_dir, draft_header,
                               export_header, publish_result)
from tasks.signoff import Signature
from tasks.snapshot import FrozenVintage, check_snapshot, content_hash, freeze_vintage
from township.errors import UserError
from township.periods import Period
from warehouse import county_io, publish_io, signoff_io
from warehouse.runtime import Runtime

# A county vintage changes because township vintages did, never by submissions (its reporters are townships).
NO_SUBMISSIONS = pd.DataFrame({"indicator_code": pd.Series(dtype=str), "submission_id": pd.Series(dtype="int64")})


@dataclass
class CountyPreview:
    """A county month computed from its townships' signed vintages and checked, not frozen."""

    county: str
    period: Period
    sources: pd.DataFrame  # one row per township: the signed vintage used, or NULLs (未报)
    values: pd.DataFrame  # those vintages' snapshot_value rows
    table: pd.DataFrame  # the county figures
    ranking: pd.DataFrame  # 各乡镇主要指标完成情况表 (headline indicators)
    label: str
    checks: pd.DataFrame
    content_hash: str
    latest: publish_io.VintageRow | None
    changes: pd.DataFrame  # against the last county vintage

    @property
    def next_vintage(self) -> int:
        return self.latest.vintage + 1 if self.latest else 1

    @property
    def missing(self) -> list[str]:
        return self.sources.loc[self.sources["source_snapshot_id"].isna(), "township_code"].tolist()


@dataclass
class CountyResult(PublishResult):
    """What one county publish produced (or found already published), with the preview it froze (sources,
    ranking)."""

    preview: CountyPreview | None = None


def county_townships(rt: Runtime, county: str) -> list[str]:
    if county not in rt.catalog.county_by_code:
        known = ", ".join(rt.catalog.county_by_code)
        raise UserError(f"目录中没有县 {county}（已知：{known}）", f"no county {county!r} in the catalog (known: {known})",
                        "--county")
    return [t.code for t in rt.catalog.townships_of(county)]


def load_step(rt: Runtime, county: str, period: Period) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each township's latest signed vintage of the month and its figures; never raw values."""
    sources = county_io.read_signed_sources(rt.engine, county_townships(rt, county), str(period))
    ids = [int(i) for i in sources["source_snapshot_id"].dropna().tolist()]
    return sources, county_io.read_source_values(rt.engine, ids)


def compute_step(rt: Runtime, county: str, period: Period, sources: pd.DataFrame,
                 values: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    return (compute_county(sources, values, rt.catalog, county, period),
            township_ranking(sources, values, rt.catalog), period_label(period))


def check_step(rt: Runtime, table: pd.DataFrame, docs: DocsRun | None = None) -> pd.DataFrame:
    """The snapshot suite, as for a township; a non-additive indicator's empty total is by design, not S_YTD_MISSING."""
    checks = check_snapshot(table, docs)
    not_additive = {i.code for i in rt.catalog.indicators if i.county_aggregation == "none"}
    return checks[~(checks["code"].eq("S_YTD_MISSING") & checks["indicator_code"].isin(not_additive))] \
        .reset_index(drop=True)


def freeze_step(rt: Runtime, preview: CountyPreview, final: bool, signature: Signature | None,
                published_at: dt.datetime | None = None) -> FrozenVintage:
    return freeze_vintage(rt.engine, preview.county, preview.period, preview.table, preview.label, preview.checks,
                          final, published_at, signature, preview.sources[publish_io.SOURCE_COLUMNS])


def changed_by(rt: Runtime, changes: pd.DataFrame, old_sources: pd.DataFrame,
               preview: CountyPreview) -> pd.DataFrame:
    """The changes with `changed_by`: per changed county figure, the townships whose signed figure moved, as
    "桃源镇 第1版→第2版" (未报 where a township had no signed vintage)."""
    old = township_figures(old_sources, county_io.read_source_values(
        rt.engine, [int(i) for i in old_sources["source_snapshot_id"].dropna().tolist()]),
        changes["indicator_code"].tolist())
    new = township_figures(preview.sources, preview.values, changes["indicator_code"].tolist())
    m = old.merge(new, on=["indicator_code", "township_code"], suffixes=("_old", "_new"))
    moved = pd.Series(False, index=m.index)
    for c in ("month_value", "ytd_value", "source_vintage"):
        a, b = m[f"{c}_old"].astype("float64"), m[f"{c}_new"].astype("float64")
        moved |= ~((a == b) | (a.isna() & b.isna()))
    def version(v: object) -> str:  # noqa: E306
        return "未报" if pd.isna(v) else f"第{int(v)}版"
    m = m[moved]
    text = {code: "；".join(f"{rt.catalog.org_unit_name(t)} {version(a)}→{version(b)}"
                           for t, a, b in zip(g["township_code"], g["source_vintage_old"], g["source_vintage_new"]))
            for code, g in m.groupby("indicator_code")}
    return changes.assign(changed_by=changes["indicator_code"].map(text).fillna(""))


def _write_files(rt: Runtime, preview: CountyPreview, header: exports.ExportHeader, checks: pd.DataFrame,
                 changes: pd.DataFrame, folder: Path, published_at: pd.Timestamp) -> None:
    """The county's tables, ranking, charts and report into `folder` (a vintage's staging folder, or the draft's)."""
    exports.write_table_exports(preview.table, header, folder, published_at)
    write_ranking_exports(preview.ranking, header, folder, published_at)
    drawn = [charts.ytd_vs_last_year(preview.table, preview.label),
             charts.completion_vs_schedule(preview.table, preview.period.month),
             ranking_chart(preview.ranking, preview.label, preview.period.month)]
    names = {t.code: t.name for t in rt.catalog.townships}
    sections = county_sections(header, preview.table, narrative(preview.table, preview.label), preview.ranking,
                               preview.sources, names, checks, changes, [c for c in drawn if c is not None],
                               rt.settings.tz)
    report.write_report(folder, header, sections)


def export_step(rt: Runtime, preview: CountyPreview, frozen: FrozenVintage) -> tuple[Path, list[Path], pd.DataFrame,
                                                                                      pd.DataFrame]:
    """Write the county vintage's folder once (a complete, intact folder is left as it is): tables, ranking,
    charts, report, and a manifest naming the township vintages behind every figure."""
    folder = exports.vintage_folder(rt.settings.publish_dir, preview.county, str(preview.period), frozen.vintage)
    _head, _values, changes, checks = publish_io.read_vintage(rt.engine, frozen.snapshot_id)
    if frozen.vintage > 1:
        with rt.engine.connect() as conn:
            before = county_io.read_county_vintage_sources(conn, preview.county, str(preview.period),
                                                           frozen.vintage - 1)
        changes = changed_by(rt, changes, before, preview)
    if verify.published_intact(folder):  # raises VintageDamaged if the folder was altered
        return folder, sorted(p for p in folder.iterdir() if p.is_file()), changes, checks
    header = export_header(rt, preview.county, preview.period, frozen)
    stage = exports.staging_folder(folder)
    _write_files(rt, preview, header, checks, changes, stage, frozen.published_at)
    figures = township_figures(preview.sources, preview.values, preview.table["indicator_code"].tolist())
    exports.write_manifest(stage, header, {"org_unit": "county", **lineage_manifest(preview.sources, figures)})
    exports.move_into_place(stage, folder)
    return folder, sorted(p for p in folder.iterdir() if p.is_file()), changes, checks


def write_county_draft(rt: Runtime, preview: CountyPreview) -> Path:
    """The unsigned county preview as files in `<publish_dir>/<county>/<period>/draft/` (replaced each time, no
    manifest; every page says 草稿). Nothing is frozen."""
    folder, header, now = draft_header(rt, preview.county, preview.period, preview.label, preview.next_vintage,
                                       preview.content_hash)
    changes = preview.changes
    if preview.latest is not None and not changes.empty:
        with rt.engine.connect() as conn:
            changes = changed_by(rt, changes, county_io.read_county_sources(conn, preview.latest.id), preview)
    stage = exports.staging_folder(folder)
    _write_files(rt, preview, header, preview.checks, changes, stage, now)
    shutil.rmtree(folder, ignore_errors=True)
    stage.rename(folder)
    return folder


LOAD = Step("load the townships' signed vintages", load_step, retries=2)
COMPUTE = Step("compute county figures and ranking", compute_step)
COMPARE = Step("compare with the last county vintage", compare_step, retries=2)
CHECK = Step("check the county snapshot (Great Expectations)", check_step)
FREEZE = Step("freeze the county vintage", freeze_step, retries=1)
EXPORT = Step("write county files and report", export_step, retries=2)


def preview_county(rt: Runtime, county: str, period: Period, run: StepRunner = PLAIN, *,
                   data_docs: bool = False) -> CountyPreview:
    """Compute and check a county's month from its townships' latest signed vintages; freezes nothing."""
    sources, values = run(LOAD, rt, county, period)
    table, ranking, label = run(COMPUTE, rt, county, period, sources, values)
    latest, changes = run(COMPARE, rt, county, period, table, NO_SUBMISSIONS)
    digest = content_hash(table, label, sources[publish_io.SOURCE_COLUMNS])
    docs = DocsRun(data_docs_dir(rt), snapshot_run_name(county, str(period), checked_vintage(latest, digest))) \
        if data_docs else None
    checks = run(CHECK, rt, table, docs)
    return CountyPreview(county, period, sources, values, table, ranking, label, checks, digest, latest, changes)


def sign_county(rt: Runtime, preview: CountyPreview, final: bool, signature: Signature | None,
                run: StepRunner = PLAIN, *, published_at: dt.datetime | None = None) -> CountyResult:
    """Freeze the previewed county month signed by `signature` (a new vintage only if a figure or a township
    vintage changed) and write its folder."""
    frozen = run(FREEZE, rt, preview, final, signature, published_at)
    result = publish_result(frozen, preview.table, run(EXPORT, rt, preview, frozen), signature)
    result.decision = signoff_io.read_signature(rt.engine, frozen.snapshot_id).decision
    return CountyResult(**vars(result), preview=preview)


def publish_county(rt: Runtime, county: str, period: Period, final: bool, signature: Signature | None,
                   run: StepRunner = PLAIN, *, published_at: dt.datetime | None = None) -> CountyResult:
    """Preview and sign a county's month at once (tests, scripts)."""
    return sign_county(rt, preview_county(rt, county, period, run), final, signature, run, published_at=published_at)
