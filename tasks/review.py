"""Review (审核): run the submissions suite once over the run's frame and turn failures into conflicts.

Every failure maps back to its file, sheet and cell through the frame's `source_row`; a submission
with any hard error (E_*) is rejected whole, one with only warnings (W_*) is accepted with warnings.
"""

from __future__ import annotations

import math

import pandas as pd

from tasks.gx_docs import DocsRun
from township.conflicts import CODES, Conflict
from township.catalog import Catalog
from township.periods import Period

SUITE = "submissions"
CONFLICT_COLUMNS = ["file_key", "code", "severity", "sheet", "cell", "indicator_code", "expected", "found",
                    "note", "message_zh", "message_en"]


def suite_parameters(catalog: Catalog, today: Period) -> dict:
    """Run-time values for the suite's $PARAMETERs: the catalog's codes and the clock."""
    last_closed = today.prev()
    return {
        "indicator_codes": [i.code for i in catalog.indicators],
        "last_closed_period_index": last_closed.year * 12 + last_closed.month - 1,
        "first_period_index": catalog.first_year * 12,
    }


def _text(value: object, fmt: str | None = None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        if fmt == "percent":
            return f"{value * 100:+.1f}%"
        return f"{value:,.6f}".rstrip("0").rstrip(".")
    return str(value)


def conflicts_from_failures(df: pd.DataFrame, failures: list, catalog: Catalog) -> pd.DataFrame:
    """One row per (file, code, cell): the same failing cell is reported once."""
    by_row = df.set_index("source_row")
    records = []
    for f in failures:
        meta = f.meta
        rows = by_row.loc[f.ids]
        for _, r in rows.iterrows():  # failures are few; this loop is over failing rows only
            if meta.get("expected_text"):
                expected = meta["expected_text"]
            elif meta.get("expected"):
                expected = _text(r.get(meta["expected"]))
            else:
                expected = None
            c = Conflict(
                code=meta["code"], file_name=r["file_name"], sheet=r["sheet"], cell=r.get(meta.get("cell"), ""),
                indicator_code=r["indicator_code"] or None,
                found=_text(r.get(meta.get("found")), meta.get("format")),
                expected=expected,
                note=r["note"] or None,
            )
            if c.code == "E_PERIOD_TOO_EARLY":
                c.expected = str(catalog.first_year)
            rec = c.as_record()
            rec["file_key"] = r["file_key"]
            records.append(rec)
    out = pd.DataFrame(records, columns=[*CONFLICT_COLUMNS])
    if out.empty:
        return out
    out = out.drop_duplicates(["file_key", "code", "sheet", "cell"])
    order = {code: i for i, code in enumerate(CODES)}
    return out.sort_values(["file_key", "severity", "code"], key=lambda s: s.map(order) if s.name == "code"
                           else s).reset_index(drop=True)


def review(df: pd.DataFrame, catalog: Catalog, today: Period, docs: DocsRun | None = None) -> pd.DataFrame:
    """Validate the whole enriched frame in one GX validation (kept in the Data Docs per `docs`); return the
    conflicts found."""
    from tasks.gx import validate_frame  # Great Expectations loads in seconds: only when there is a batch to check

    failures = validate_frame(df, SUITE, "source_row", suite_parameters(catalog, today), docs)
    return conflicts_from_failures(df, failures, catalog)

