"""Great Expectations plumbing: load a suite from `township/data/expectations/<name>.json`, validate one frame once.

Suites are data: each expectation has a GX `type`, its `kwargs` (values may be
{"$PARAMETER": name}, filled at run time) and a `meta` saying which conflict it raises and which
columns hold the cell, the found and the expected value. Loading fails loudly if GX builds fewer
expectations than the file declares.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pandas as pd

import tasks.custom_expectations  # noqa: F401  - registers our expectation types with GX
from township.settings import EXPECTATIONS_DIR

log = logging.getLogger(__name__)


class SuiteLoadError(RuntimeError):
    """A suite file could not be turned into the expectations it declares."""


@dataclass
class GxFailure:
    """One expectation that failed, with the ids (values of the id column) of the rows that failed it."""

    meta: dict
    expectation_type: str
    kwargs: dict
    ids: list = field(default_factory=list)


def suite_path(name: str) -> Path:
    return EXPECTATIONS_DIR / f"{name}.json"


def read_suite_file(name: str) -> dict:
    return json.loads(suite_path(name).read_text(encoding="utf-8"))


@lru_cache(maxsize=8)
def _context_and_suite(name: str):  # noqa: ANN202
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    spec = read_suite_file(name)
    declared = spec["expectations"]
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    suite = gx.ExpectationSuite(name=spec["name"])
    problems = []
    for i, e in enumerate(declared):
        try:
            cfg = ExpectationConfiguration(type=e["type"], kwargs=e["kwargs"], meta=e.get("meta", {}))
            suite.add_expectation(cfg.to_domain_obj())
        except Exception as exc:  # noqa: BLE001 - reported together below
            problems.append(f"expectation {i} ({e.get('type')}, {e.get('meta', {}).get('code')}): {exc}")
    if problems or len(suite.expectations) != len(declared):
        raise SuiteLoadError(f"{suite_path(name)}: {len(declared)} expectations declared, "
                             f"{len(suite.expectations)} loaded\n  " + "\n  ".join(problems))
    source = context.data_sources.add_pandas(f"{name}_frames")
    batch_def = source.add_dataframe_asset(f"{name}_rows").add_batch_definition_whole_dataframe("run")
    return context, suite, batch_def


def load_suite(name: str):  # noqa: ANN201
    """The suite as GX objects (cached per process); raises SuiteLoadError if any expectation is lost."""
    return _context_and_suite(name)[1]


def validate_frame(df: pd.DataFrame, suite_name: str, id_column: str | list[str],
                   parameters: dict | None = None, docs_dir: str | Path | None = None) -> list[GxFailure]:
    """Validate the whole frame once against the suite; return each failed expectation with failing ids
    (the id column's values; tuples of the id columns' values when `id_column` is a list).

    With `docs_dir`, the same validation runs through a GX Checkpoint that also renders it into a
    Data Docs site in that folder (index.html), for people to browse from the Prefect run."""
    context, suite, batch_def = _context_and_suite(suite_name)
    if df.empty:
        return []
    id_columns = [id_column] if isinstance(id_column, str) else list(id_column)
    result_format = {"result_format": "COMPLETE", "unexpected_index_column_names": id_columns,
                     "return_unexpected_index_query": False, "partial_unexpected_count": 0}
    if docs_dir is None:
        batch = batch_def.get_batch(batch_parameters={"dataframe": df})
        result = batch.validate(suite, result_format=result_format, expectation_parameters=parameters or {})
    else:
        result = _validate_with_docs(context, suite, batch_def, df, result_format, parameters, Path(docs_dir))
    failures = []
    for r in result.results:
        if r.success:
            continue
        cfg = r.expectation_config
        if r.exception_info and r.exception_info.get("raised_exception"):
            raise RuntimeError(f"expectation {cfg.type} ({cfg.meta}) could not run: "
                               f"{r.exception_info.get('exception_message')}")
        rows = r.result.get("unexpected_index_list") or []
        ids = ([row[id_column] for row in rows] if isinstance(id_column, str)
               else [tuple(row[c] for c in id_columns) for row in rows])
        failures.append(GxFailure(meta=dict(cfg.meta or {}), expectation_type=cfg.type,
                                  kwargs=dict(cfg.kwargs), ids=ids))
    return failures


def _validate_with_docs(context, suite, batch_def, df, result_format, parameters, docs_dir: Path):  # noqa: ANN001, ANN202
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction

    site = f"site_{abs(hash(str(docs_dir.resolve())))}"
    if site not in (context.get_site_names() or []):
        docs_dir.mkdir(parents=True, exist_ok=True)
        context.add_data_docs_site(site, {
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                              "base_directory": str(docs_dir.resolve())},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        })
    if not suite.id:  # a Checkpoint works on suites the context stores
        suite = context.suites.add(suite)
    name = f"{suite.name}-{site}"
    try:
        vd = context.validation_definitions.get(name)
    except Exception:  # noqa: BLE001 - not yet defined in this process
        vd = context.validation_definitions.add(gx.ValidationDefinition(name=name, data=batch_def, suite=suite))
    try:
        checkpoint = context.checkpoints.get(name)
    except Exception:  # noqa: BLE001
        checkpoint = context.checkpoints.add(gx.Checkpoint(
            name=name, validation_definitions=[vd], actions=[UpdateDataDocsAction(name="docs", site_names=[site])],
            result_format=result_format))
    run = checkpoint.run(batch_parameters={"dataframe": df}, expectation_parameters=parameters or {})
    return next(iter(run.run_results.values()))
