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
from tasks.gx_docs import DocsRun, snapshots_run_name
from tasks.publication import (PublishResult, checked_vintage, compare_step, data_docs_dir, draft_header,
                               export_header, publish_result)
from tasks.signoff import Signature
from tasks.snapshot import FrozenVintage, check_snapshots, content_hash, freeze_vintage
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


def check_step(rt: Runtime, tables: dict[str, pd.DataFrame], docs: DocsRun | None = None) -> dict[str, pd.DataFrame]:
    """The snapshot suite, as for townships: every county's table in ONE Great Expectations run; a non-additive
    indicator's empty total is by design, not S_YTD_MISSING."""
    not_additive = {i.code for i in rt.catalog.indicators if i.county_aggregation == "none"}
    return {county: checks[~(checks["code"].eq("S_YTD_MISSING") & checks["indicator_code"].isin(not_additive))]
            .reset_index(drop=True) for county, checks in check_snapshots(tables, docs).items()}


def freeze_step(rt: Runtime, preview: CountyPreview, final: bool, signature: Signature | None,
                published_at: dt.datetime | None = None) -> FrozenVintage:
    return freeze_vintage(rt.engine, preview.county, preview.period, preview.table, preview.label, preview.checks,
                          final, published_at, signature, preview.sources[publish_io.SOURCE_COLUMNS],
                          digest=preview.content_hash)


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
                 changes: pd.DataFrame, folder: Path, published_at: pd.Timestamp, paragraph: str) -> None:
    """The county's tables, ranking, charts and report (its paragraph: the table's narrative) into `folder` (a
    vintage's staging folder, or the draft's)."""
    exports.write_table_exports(preview.table, header, folder, published_at)
    write_ranking_exports(preview.ranking, header, folder, published_at)
    drawn = [charts.ytd_vs_last_year(preview.table, preview.label),
             charts.completion_vs_schedule(preview.table, preview.period.month),
             ranking_chart(preview.ranking, preview.label, preview.period.month)]
    names = {t.code: t.name for t in rt.catalog.townships}
    sections = county_sections(header, preview.table, paragraph, preview.ranking,
                               preview.sources, names, checks, changes, [c for c in drawn if c is not None],
                               rt.settings.tz)
    report.write_report(folder, header, sections)


def export_step(rt: Runtime, preview: CountyPreview, frozen: FrozenVintage,
                paragraph: str) -> tuple[Path, list[Path], pd.DataFrame, pd.DataFrame]:
    """Write the county vintage's folder once (a complete, intact folder is left as it is): tables, ranking,
    charts, report, and a manifest naming the township vintages behind every figure."""
    folder = exports.vintage_folder(rt.settings.publish_dir, preview.county, str(preview.period), frozen.vintage)
    changes, checks = publish_io.read_vintage_notes(rt.engine, frozen.snapshot_id)
    if frozen.vintage > 1:
        with rt.engine.connect() as conn:
            before = county_io.read_county_vintage_sources(conn, preview.county, str(preview.period),
                                                           frozen.vintage - 1)
        changes = changed_by(rt, changes, before, preview)
    if verify.published_intact(rt.engine, frozen.snapshot_id, folder):  # VintageDamaged if the folder was altered
        return folder, sorted(p for p in folder.iterdir() if p.is_file()), changes, checks
    header = export_header(rt, preview.county, preview.period, frozen)
    stage = exports.staging_folder(folder)
    _write_files(rt, preview, header, checks, changes, stage, frozen.published_at, paragraph)
    figures = township_figures(preview.sources, preview.values, preview.table["indicator_code"].tolist())
    exports.write_manifest(stage, header, {"org_unit": "county", **lineage_manifest(preview.sources, figures)})
    exports.move_into_place(stage, folder)
    verify.record_published(rt.engine, frozen.snapshot_id, folder)
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
    _write_files(rt, preview, header, preview.checks, changes, stage, now, narrative(preview.table, preview.label))
    shutil.rmtree(folder, ignore_errors=True)
    stage.rename(folder)
    return folder


def prepare_step(county: str, rt: Runtime, period: Period) -> tuple:
    """One county's month up to the check, with the runner's item first: its townships' signed vintages and their
    figures, the county figures, ranking and label, the last county vintage and the changes."""
    sources, values = load_step(rt, county, period)
    table, ranking, label = compute_step(rt, county, period, sources, values)
    latest, changes = compare_step(rt, county, period, table, NO_SUBMISSIONS)
    return sources, values, table, ranking, label, latest, changes


def sign_step(preview: CountyPreview, rt: Runtime, final: bool, signature: Signature | None,
              published_at: dt.datetime | None = None) -> CountyResult:
    """One previewed county signed: its vintage frozen (a new one only if a figure or a township vintage changed),
    its folder written. Both parts are idempotent, so the step is retried as one."""
    frozen = freeze_step(rt, preview, final, signature, published_at)
    paragraph = narrative(preview.table, frozen.period_label)  # once, for the report and the result
    result = publish_result(frozen, preview.table, export_step(rt, preview, frozen, paragraph), paragraph, signature)
    result.decision = signoff_io.read_signature(rt.engine, frozen.snapshot_id).decision
    return CountyResult(**vars(result), preview=preview)


# Counties are independent (each reads only its own townships' signed vintages): mapped over the runner like the
# townships (tasks/publication.py), in worker processes, their tables checked in one Great Expectations run.
PREPARE = Step("load, compute and compare a county", prepare_step, retries=2, processes=True)
CHECK = Step("check the county snapshots (Great Expectations)", check_step)
SIGN = Step("freeze and export a county", sign_step, retries=2, processes=True)


def preview_counties(rt: Runtime, counties: list[str], period: Period, run: StepRunner = PLAIN, *,
                     data_docs: bool = False) -> dict[str, CountyPreview]:
    """Compute and check many counties' month from their townships' latest signed vintages; freezes nothing.
    data_docs: also keep the check in the publish folder's GX Data Docs (`snapshot <county> <period> v<vintage>`;
    several: `snapshot <period> <n> counties`)."""
    for county in counties:
        county_townships(rt, county)  # an unknown county fails here, in the caller, with its message
    prepared = run.map(PREPARE, list(counties), rt, period)
    digests = {c: content_hash(p[2], p[4], p[0][publish_io.SOURCE_COLUMNS]) for c, p in zip(counties, prepared)}
    docs = None
    if data_docs:
        vintages = {c: checked_vintage(p[5], digests[c]) for c, p in zip(counties, prepared)}
        docs = DocsRun(data_docs_dir(rt), snapshots_run_name(str(period), vintages, "counties"))
    checks = run(CHECK, rt, {c: p[2] for c, p in zip(counties, prepared)}, docs)
    return {c: CountyPreview(c, period, sources, values, table, ranking, label, checks[c], digests[c], latest, changes)
            for c, (sources, values, table, ranking, label, latest, changes) in zip(counties, prepared)}


def preview_county(rt: Runtime, county: str, period: Period, run: StepRunner = PLAIN, *,
                   data_docs: bool = False) -> CountyPreview:
    """preview_counties for one county."""
    return preview_counties(rt, [county], period, run, data_docs=data_docs)[county]


def sign_counties(rt: Runtime, previews: list[CountyPreview], final: bool, signature: Signature | None,
                  run: StepRunner = PLAIN, *, published_at: dt.datetime | None = None) -> list[CountyResult]:
    """Freeze each previewed county month signed by `signature` and write its folder, counties in parallel through
    `run.map`; results in the previews' order."""
    return run.map(SIGN, list(previews), rt, final, signature, published_at)


def sign_county(rt: Runtime, preview: CountyPreview, final: bool, signature: Signature | None,
                run: StepRunner = PLAIN, *, published_at: dt.datetime | None = None) -> CountyResult:
    """sign_counties for one county."""
    return sign_counties(rt, [preview], final, signature, run, published_at=published_at)[0]


def publish_counties(rt: Runtime, counties: list[str], period: Period, final: bool, signature: Signature | None,
                     run: StepRunner = PLAIN, *, published_at: dt.datetime | None = None) -> dict[str, CountyResult]:
    """Preview and sign many counties' month at once (the bench, scripts); results by county."""
    previews = preview_counties(rt, counties, period, run)
    return dict(zip(previews, sign_counties(rt, list(previews.values()), final, signature, run,
                                            published_at=published_at)))


def publish_county(rt: Runtime, county: str, period: Period, final: bool, signature: Signature | None,
                   run: StepRunner = PLAIN, *, published_at: dt.datetime | None = None) -> CountyResult:
    """Preview and sign a county's month at once (tests, scripts)."""
    return publish_counties(rt, [county], period, final, signature, run, published_at=published_at)[county]
