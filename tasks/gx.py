"""Great Expectations plumbing: load a suite from `township/data/expectations/<name>.json`, validate one frame once.

Suites are data: each expectation has a GX `type`, its `kwargs` (values may be
{"$PARAMETER": name}, filled at run time) and a `meta` saying which conflict it raises and which
columns hold the cell, the found and the expected value. Loading fails loudly if GX builds fewer
expectations than the file declares.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from tasks.gx_lazy import defer_unused_modules

defer_unused_modules()  # before Great Expectations is first imported (by the next line): see tasks/gx_lazy.py

import tasks.custom_expectations  # noqa: E402, F401  - registers our expectation types with GX
from tasks.gx_memo import memoised_configurations  # noqa: E402
from township.settings import EXPECTATIONS_DIR  # noqa: E402

if TYPE_CHECKING:
    from tasks.gx_docs import DocsRun

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


def build_suite(name: str):  # noqa: ANN201
    """A new GX ExpectationSuite from the suite file; raises SuiteLoadError if any expectation is lost."""
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    spec = read_suite_file(name)
    declared = spec["expectations"]
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
    return suite


def quiet_context():  # noqa: ANN201
    """An ephemeral GX context that draws no progress bars in the logs."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return context


def add_frame_batches(context, name: str):  # noqa: ANN001, ANN201
    """The batch definition through which a whole DataFrame is validated against suite `name`."""
    source = context.data_sources.add_pandas(f"{name}_frames")
    return source.add_dataframe_asset(f"{name}_rows").add_batch_definition_whole_dataframe("run")


@lru_cache(maxsize=8)
def _context_and_suite(name: str):  # noqa: ANN202
    context = quiet_context()
    return context, build_suite(name), add_frame_batches(context, name)


def load_suite(name: str):  # noqa: ANN201
    """The suite as GX objects (cached per process); raises SuiteLoadError if any expectation is lost."""
    return _context_and_suite(name)[1]


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def suite_columns(suite, columns: list[str], id_columns: list[str]) -> list[str]:  # noqa: ANN001
    """The frame's columns the suite reads (each expectation's column kwargs and the names in its
    row_condition), plus the id columns, in the frame's order. GX copies and filters its domain per
    expectation, so validating only these costs ~30% less than the enriched frame's 55 columns."""
    used = set(id_columns)
    for e in suite.expectations:
        kw = e.configuration.kwargs
        for k in ("column", "column_A", "column_B"):  # our custom expectations preset theirs as field defaults
            used.update(v for v in (kw.get(k), getattr(e, k, None)) if isinstance(v, str))
        used.update(kw.get("column_list") or getattr(e, "column_list", None) or [])
        if kw.get("row_condition") is not None:  # a string, or GX's parsed form of it: names are names
            used.update(_NAME.findall(str(kw["row_condition"])))
    return [c for c in columns if c in used]


def result_format(id_column: str | list[str]) -> dict:
    """Every failing row, named by its value in `id_column` (or columns; rows are mapped back to cells by it)."""
    return {"result_format": "COMPLETE", "unexpected_index_column_names": _ids(id_column),
            "return_unexpected_index_query": False, "partial_unexpected_count": 0}


def _ids(id_column: str | list[str]) -> list[str]:
    return [id_column] if isinstance(id_column, str) else list(id_column)


def validate_frame(df: pd.DataFrame, suite_name: str, id_column: str | list[str],
                   parameters: dict | None = None, docs: DocsRun | None = None) -> list[GxFailure]:
    """Validate the whole frame once against the suite; return each failed expectation with failing ids
    (the id column's values; tuples of the id columns' values when `id_column` is a list).

    With `docs`, the same validation runs through a GX Checkpoint that also keeps it in the Data Docs site
    `docs.site` (index.html) under the run name `docs.name`, for people to browse (tasks/gx_docs.py)."""
    _context, suite, batch_def = _context_and_suite(suite_name)  # a suite that loses expectations fails loudly
    if df.empty:
        return []
    id_columns = _ids(id_column)
    df = df[suite_columns(suite, list(df.columns), id_columns)]
    with memoised_configurations():  # each expectation's configuration built once, not ~70 times: tasks/gx_memo.py
        if docs is None:
            batch = batch_def.get_batch(batch_parameters={"dataframe": df})
            result = batch.validate(suite, result_format=result_format(id_column),
                                    expectation_parameters=parameters or {})
        else:
            from tasks.gx_docs import validate_into_site

            result = validate_into_site(df, suite_name, id_column, parameters or {}, docs)
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
