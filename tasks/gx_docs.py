"""The Data Docs site of the publish folder: every intake batch's and every snapshot check's validation, kept and
named for people (`intake 2021-10 batch 1 of 1`, `snapshot taoyuan 2021-10 v2`), readable with no internet.

One GX context per site, whose validation results live on disk in the site (`.results/`), so the index a run
writes lists every validation ever kept there, not only those of its own process. Pages are rendered by the
offline views of tasks/gx_offline.py and load the browser assets copied into the site's `static/vendor/`.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

from township.settings import DATA_DOCS_VENDOR_DIR, EXPECTATIONS_DIR

SITE = "township"
RESULTS = ".results"  # the validation results the index is built from (GX JSON), beside the pages
# The index lists the newest validations only: rebuilding it reads each listed result, and intake adds one
# per batch every half hour of a reporting month, so an unbounded index grew slower with every run. Older
# results stay in .results/.
INDEX_LIMIT = 400
_VIEWS = "tasks.gx_offline"


@dataclass(frozen=True)
class DocsRun:
    """A validation to keep in the Data Docs site at `site`, listed under the run name `name`."""

    site: Path
    name: str


def site_dir(publish_dir: str | Path) -> Path:
    """The Data Docs site of a publish folder (served with it by `make serve`)."""
    return Path(publish_dir) / "data_docs"


def intake_run_name(periods: Iterable[str], batch: int, batches: int) -> str:
    """`intake 2021-10 batch 1 of 2`: the months the batch's files report (none readable: `no period`)."""
    months = sorted({p for p in periods if p})
    return f"intake {' '.join(months) or 'no period'} batch {batch} of {batches}"


def snapshot_run_name(township: str, period: str, vintage: int) -> str:
    """`snapshot taoyuan 2021-10 v2`: the vintage whose figures were checked."""
    return f"snapshot {township} {period} v{vintage}"


def snapshots_run_name(period: str, vintages: dict[str, int], units: str = "townships") -> str:
    """One check of several org units' tables (one GX run): `snapshot 2021-10 20 townships` (or counties); of
    one, as above."""
    if len(vintages) == 1:
        [(unit, vintage)] = vintages.items()
        return snapshot_run_name(unit, period, vintage)
    return f"snapshot {period} {len(vintages)} {units}"


def _site_config(site: Path) -> dict:
    page = {"module_name": _VIEWS, "class_name": "OfflinePageView"}
    return {
        "class_name": "SiteBuilder",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(site)},
        "show_how_to_buttons": False,  # GX's "how to create a checkpoint" links are for GX users, not ours
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder", "validation_results_limit": INDEX_LIMIT,
                               "view": {"module_name": _VIEWS, "class_name": "OfflineIndexPageView"}},
        "site_section_builders": {s: {"view": page} for s in ("expectations", "validations", "profiling")},
    }


@lru_cache(maxsize=8)
def _site_context(site: str):  # noqa: ANN202
    """The GX context of one site: its results store on disk, every suite of township/data/expectations (so the
    index lists them all whichever process writes it), and the site with offline views."""
    from tasks.gx import build_suite, quiet_context

    root = Path(site)
    context = quiet_context()
    for other in context.get_site_names():  # GX's default site of an ephemeral context: a temporary folder
        context.delete_data_docs_site(other)
    context.add_store("township_validation_results", {
        "class_name": "ValidationResultsStore",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(root / RESULTS)}})
    context.variables.validation_results_store_name = "township_validation_results"
    for path in sorted(EXPECTATIONS_DIR.glob("*.json")):
        context.suites.add(build_suite(path.stem))
    root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(DATA_DOCS_VENDOR_DIR, root / "static" / "vendor", dirs_exist_ok=True)
    context.add_data_docs_site(SITE, _site_config(root))
    return context


@lru_cache(maxsize=16)
def _checkpoint(site: str, suite_name: str, id_column: str | tuple[str, ...]):  # noqa: ANN202
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction

    from tasks.gx import add_frame_batches, result_format

    context = _site_context(site)
    vd = context.validation_definitions.add(gx.ValidationDefinition(
        name=suite_name, data=add_frame_batches(context, suite_name), suite=context.suites.get(suite_name)))
    return context.checkpoints.add(gx.Checkpoint(
        name=suite_name, validation_definitions=[vd], result_format=result_format(id_column),
        actions=[UpdateDataDocsAction(name="docs", site_names=[SITE])]))


def validate_into_site(df: pd.DataFrame, suite_name: str, id_column: str | list[str], parameters: dict,
                       docs: DocsRun):  # noqa: ANN201
    """Validate `df` once, keep the result in the site under `docs.name` and re-render its page and the index."""
    from great_expectations.core.run_identifier import RunIdentifier

    key = id_column if isinstance(id_column, str) else tuple(id_column)  # cached by it: hashable
    checkpoint = _checkpoint(str(docs.site.resolve()), suite_name, key)
    run = checkpoint.run(batch_parameters={"dataframe": df}, expectation_parameters=parameters,
                         run_id=RunIdentifier(run_name=docs.name, run_time=dt.datetime.now(dt.timezone.utc)))
    return next(iter(run.run_results.values()))
