"""The township figures against hand-worked examples (pure: DataFrames in, DataFrame out)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tasks.compute import compute_township, monthly_ytd, period_label
from township.periods import Period

COLUMNS = ["reporter_code", "period", "indicator_code", "month_value", "ytd_value", "note"]


def values(*rows: tuple) -> pd.DataFrame:
    """Rows of (reporter, period, indicator, month, ytd[, note])."""
    return pd.DataFrame([(*r, "") if len(r) == 5 else r for r in rows], columns=COLUMNS)


def row(table: pd.DataFrame, code: str) -> dict:
    return table.set_index("indicator_code").loc[code].to_dict()


def missing(v: object) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def test_month_is_derived_from_the_cumulatives_and_growth_against_last_year(catalog):
    t = compute_township(values(
        ("econ", "2021-09", "fixed_asset_investment", None, 47000.0),
        ("econ", "2021-10", "fixed_asset_investment", None, 52345.0),
        ("econ", "2020-10", "fixed_asset_investment", None, 46600.0),
    ), catalog, "taoyuan", Period(2021, 10))
    r = row(t, "fixed_asset_investment")
    assert r["month_value"] == 5345 and r["ytd_value"] == 52345 and r["prior_ytd_value"] == 46600
    assert r["yoy_pct"] == 12.3  # 52345 / 46600 − 1 = 12.33%
    assert r["annual_target"] == 52000 and r["target_pct"] == 100.7  # 52345 / 52000
    assert r["schedule_gap_pp"] == 17.3  # 100.66 − 10/12 × 100
    assert (r["reporters_expected"], r["reporters_reported"]) == (1, 1) and missing(r["missing_reporters"])


def test_ytd_is_derived_from_last_month_plus_this_month(catalog):
    t = compute_township(values(
        ("econ", "2021-09", "industrial_output", None, 72000.0),
        ("econ", "2021-10", "industrial_output", 8000.0, None),
    ), catalog, "taoyuan", Period(2021, 10))
    assert row(t, "industrial_output")["ytd_value"] == 80000


def test_negative_growth_and_behind_schedule(catalog):
    t = compute_township(values(
        ("econ", "2021-10", "industrial_output", 8000.0, 80000.0),
        ("econ", "2020-10", "industrial_output", 9000.0, 90000.0),
    ), catalog, "taoyuan", Period(2021, 10))
    r = row(t, "industrial_output")
    assert r["yoy_pct"] == -11.1  # 80000 / 90000 − 1 = −11.11%
    assert r["target_pct"] == 81.6  # 80000 / 98000 = 81.63%
    assert r["schedule_gap_pp"] == -1.7  # 81.63 − 83.33


def test_february_cumulative_without_january_is_the_combined_1_2_month_figure(catalog):
    t = compute_township(values(
        ("econ", "2021-02", "fixed_asset_investment", None, 8000.0),
        ("econ", "2020-01", "fixed_asset_investment", 2000.0, 2000.0),
        ("econ", "2020-02", "fixed_asset_investment", 3000.0, 5000.0),
    ), catalog, "taoyuan", Period(2021, 2))
    r = row(t, "fixed_asset_investment")
    assert r["ytd_value"] == 8000 and r["month_value"] == 8000 and r["jan_feb_combined"]
    assert r["prior_ytd_value"] == 5000 and r["yoy_pct"] == 60.0
    assert period_label(Period(2021, 2)) == "1-2月"
    assert r["schedule_gap_pp"] == round(8000 / 52000 * 100 - 2 / 12 * 100, 1)


def test_january_month_and_cumulative_are_the_same(catalog):
    t = compute_township(values(("finance", "2021-01", "fiscal_revenue", 520.0, None)),
                         catalog, "taoyuan", Period(2021, 1))
    r = row(t, "fiscal_revenue")
    assert r["month_value"] == 520 and r["ytd_value"] == 520 and not r["jan_feb_combined"]
    assert period_label(Period(2021, 1)) == "1月"


def test_a_missing_village_is_left_out_of_the_sum_and_of_the_comparable_base(catalog):
    t = compute_township(values(
        ("V01", "2021-10", "village_collective_income", 2.0, 20.0),
        ("V02", "2021-10", "village_collective_income", 3.0, 30.0),
        ("V03", "2021-10", "village_collective_income", 1.5, 15.5),  # new: no figure last year
        ("V01", "2020-10", "village_collective_income", 1.0, 16.0),
        ("V02", "2020-10", "village_collective_income", 2.0, 24.0),
        ("V04", "2020-10", "village_collective_income", 9.0, 90.0),  # did not report this year
    ), catalog, "taoyuan", Period(2021, 10))
    r = row(t, "village_collective_income")
    assert r["ytd_value"] == 65.5 and r["month_value"] == 6.5
    assert (r["reporters_expected"], r["reporters_reported"]) == (10, 3)
    assert r["missing_reporters"] == "V04,V05,V06,V07,V08,V09,V10"
    # The base holds only villages that reported both years: V01 + V02 = 40, against 50 this year.
    assert r["prior_ytd_value"] == 40 and r["yoy_pct"] == 25.0
    assert r["target_pct"] == 25.2  # 65.5 / 260


def test_ten_villages_in_hundredths_add_up_as_on_paper(catalog):
    # Each village: 1-9月 0.07, 1-10月 0.10 (万元), last year 0.05; a float sum of ten 0.1 is 0.9999999999999999.
    rows = []
    for n in range(1, 11):
        v = f"V{n:02d}"
        rows += [(v, "2021-09", "village_collective_income", None, 0.07),
                 (v, "2021-10", "village_collective_income", None, 0.1),
                 (v, "2020-10", "village_collective_income", None, 0.05)]
    r = row(compute_township(values(*rows), catalog, "taoyuan", Period(2021, 10)), "village_collective_income")
    assert r["ytd_value"] == 1.0 and r["month_value"] == 0.3  # 10 × 0.10; 10 × (0.10 − 0.07)
    assert r["prior_ytd_value"] == 0.5 and r["yoy_pct"] == 100.0  # 1.00 / 0.50 − 1
    assert (r["reporters_expected"], r["reporters_reported"]) == (10, 10) and missing(r["missing_reporters"])


def test_a_reporter_that_sent_nothing_is_missing_never_zero(catalog):
    t = compute_township(values(("econ", "2021-10", "trade_sales", 10.0, 100.0)), catalog, "taoyuan",
                         Period(2021, 10))
    r = row(t, "fiscal_revenue")
    assert missing(r["month_value"]) and missing(r["ytd_value"]) and missing(r["yoy_pct"])
    assert missing(r["target_pct"]) and r["reporters_reported"] == 0 and r["missing_reporters"] == "finance"
    coop = row(t, "coop_households")
    assert missing(coop["ytd_value"]) and coop["reporters_expected"] == 10


def test_an_indicator_in_yi_yuan_keeps_its_unit_and_two_decimals(catalog):
    t = compute_township(values(
        ("invest", "2021-10", "investment_funds", 1.2, 10.523),
        ("invest", "2021-10", "investment_funds_yrd", 0.4, 4.1),
        ("invest", "2020-10", "investment_funds", 1.0, 8.0),
    ), catalog, "taoyuan", Period(2021, 10))
    r = row(t, "investment_funds")
    assert r["unit"] == "亿元" and r["ytd_value"] == 10.52 and r["yoy_pct"] == 31.5  # 10.523 / 8 − 1
    assert r["target_pct"] == 84.2  # 10.52 / 12.5
    part = row(t, "investment_funds_yrd")
    assert part["parent_ytd_value"] == 10.52 and part["ytd_value"] == 4.1 and missing(part["yoy_pct"])


def test_a_stock_indicator_is_the_month_end_level_compared_with_the_same_month(catalog):
    t = compute_township(values(
        ("agri", "2021-09", "herb_area", 280.0, None),
        ("agri", "2021-10", "herb_area", None, 300.0),  # the level written under 1-本月累计 is tolerated
        ("agri", "2020-10", "herb_area", 250.0, 250.0),
    ), catalog, "taoyuan", Period(2021, 10))
    r = row(t, "herb_area")
    assert r["month_value"] == 300 and r["ytd_value"] == 300 and r["prior_ytd_value"] == 250
    assert r["yoy_pct"] == 20.0 and missing(r["schedule_gap_pp"])


def test_sum_of_village_stock_levels(catalog):
    t = compute_township(values(
        ("V01", "2021-10", "coop_households", 120.0, None),
        ("V02", "2021-10", "coop_households", 80.0, None),
    ), catalog, "taoyuan", Period(2021, 10))
    r = row(t, "coop_households")
    assert r["ytd_value"] == 200 and r["reporters_reported"] == 2


def test_monthly_trend_sums_villages_per_month(catalog):
    trend = monthly_ytd(values(
        ("V01", "2021-01", "village_collective_income", 1.0, 1.0),
        ("V02", "2021-01", "village_collective_income", 2.0, 2.0),
        ("V01", "2021-02", "village_collective_income", 1.0, 2.0),
    ), catalog, "taoyuan", ["village_collective_income"])
    assert trend["period"].tolist() == ["2021-01", "2021-02"] and trend["ytd_value"].tolist() == [3.0, 2.0]


@pytest.mark.parametrize("value, decimals, expected", [(84.25, 1, 84.3), (1.005, 2, 1.01), (-2.45, 1, -2.5)])
def test_rounding_is_half_up_as_in_statistical_tables(value, decimals, expected):
    from tasks.compute import round_half_up

    assert round_half_up(np.array([value, np.nan]), decimals)[0] == expected
    assert np.isnan(round_half_up(np.array([value, np.nan]), decimals)[1])  # NaN stays NaN


def test_a_month_with_no_values_yet_is_every_reporter_missing(catalog):
    # What the warehouse returns before any form is loaded: the columns, no rows (typed float by pandas).
    empty = pd.DataFrame({c: [] for c in COLUMNS})
    t = compute_township(empty, catalog, "taoyuan", Period(2021, 10))
    assert list(t["indicator_code"]) == [i.code for i in catalog.indicators]
    assert t["ytd_value"].isna().all() and t["month_value"].isna().all()
    assert (t["reporters_reported"] == 0).all() and (t["reporters_expected"] > 0).all()
    r = row(t, "village_collective_income")
    assert r["missing_reporters"].split(",") == [v.code for v in catalog.expected_reporters("taoyuan")
                                                 if v.kind == "village"]
    assert monthly_ytd(empty, catalog, "taoyuan", ["fixed_asset_investment"]).empty
