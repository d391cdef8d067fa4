"""The snapshot validation can be rendered as a GX Data Docs site, with the same failures found."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tasks.snapshot import check_snapshot


def _table(reported_b: int) -> pd.DataFrame:
    return pd.DataFrame({
        "indicator_code": ["investment_funds", "investment_funds_yrd"],
        "indicator_name": ["招商引资到位资金", "其中：长三角资金"],
        "parent_ytd_value": [np.nan, 9.2], "ytd_value": [9.2, 3.4],
        "reporters_expected": [1, 1], "reporters_reported": [1, reported_b],
        "missing_reporters": [None, None],
        "yoy_pct": [5.0, 2.0], "target_pct": [73.6, 68.0],
    })


def test_data_docs_site_is_written_and_failures_still_reported(tmp_path):
    assert check_snapshot(_table(1), tmp_path / "docs").empty
    failed = check_snapshot(_table(2), tmp_path / "docs")
    assert list(failed["code"]) == ["S_REPORTERS_INCONSISTENT"]
    assert failed["indicator_code"].tolist() == ["investment_funds_yrd"]
    index = (tmp_path / "docs" / "index.html").read_text(encoding="utf-8")
    assert "snapshot" in index
    assert list((tmp_path / "docs" / "validations").rglob("*.html"))
