"""Loading a reviewed batch into the warehouse (one transaction), and the warehouse values a review needs."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
from sqlalchemy import inspect

from tasks.archiving import Archived
from tasks.batch_review import Reviewed
from tasks.pull import Pulled
from warehouse.intake_io import LoadResult, current_values, load_run
from warehouse.publish_io import now_utc
from warehouse.runtime import Runtime

ContextFn = Callable[[tuple[str, str], list[str]], pd.DataFrame]
CONTEXT_COLUMNS = ["reporter_code", "period", "indicator_code", "month_value", "ytd_value"]


def warehouse_context(rt: Runtime) -> ContextFn:
    """The current values a review compares with (last month's cumulative, last year's figures), read
    for the batch's periods and reporters only. A warehouse with no tables yet (a dry run before
    `township init`) is no context: nothing is created to answer."""
    if "value_history" not in inspect(rt.engine).get_table_names():
        return lambda window, reporters: pd.DataFrame(columns=CONTEXT_COLUMNS)

    def fetch_context(window: tuple[str, str], reporters: list[str]) -> pd.DataFrame:
        return current_values(rt.engine, window[0], window[1], reporters)
    return fetch_context


def load(rt: Runtime, reviewed: Reviewed, archived: Archived, pulled: Pulled) -> LoadResult:
    """Submissions (with their archive paths), conflicts, accepted values and inbox rows, in one transaction."""
    subs = reviewed.submissions.assign(archive_path=reviewed.submissions["sha256"].map(archived.paths))
    return load_run(rt.engine, subs, reviewed.conflicts, reviewed.values, pulled.inbox_rows, now_utc())
