"""Every rule, produced: each conflict code (township/conflicts.py) from a submitted file and each
snapshot check (the `snapshot` suite) from a table, naming the cell or indicator it is about.

Pure and fast: files go through the review `township check` runs (no warehouse, no archive); the
warehouse's history is given as a small context frame. The last tests fail when a code or a check
exists that no case here produces, so a new rule cannot land untested.
"""

from __future__ import annotations

import json
from pathlib import Path
from dataclasses import dataclass, field

import pandas as pd
import pytest

from tasks.compute import compute_township
from tasks.gx import suite_path
from tasks.snapshot import check_snapshot, check_snapshots
from tests.forms import simple_form
from tests.review_helpers import CONTEXT_COLUMNS, archive_conflicts, codes_and_cells, csv_form, incoming, receipts
from township.conflicts import CODES
from township.periods import Period
from township.settings import DEFAULT_CATALOG_DIR

SEPT_INVEST = [("invest", "2021-09", "investment_funds", 1.0, 8.0),
               ("invest", "2021-09", "investment_funds_yrd", 0.5, 3.0)]


def context(*rows: tuple) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=CONTEXT_COLUMNS)


def fiscal_history(months: list[float]) -> list[tuple]:
    """finance's fiscal_revenue from 2020-01, one month value each (cumulatives restart each January)."""
    rows, ytd, p = [], 0.0, Period(2020, 1)
    for m in months:
        ytd = m if p.month == 1 else ytd + m
        rows.append(("finance", str(p), "fiscal_revenue", m, ytd))
        p = p.next()
    return rows


# 21 months 2020-01..2021-09 around 10 (median 10, MAD 1); September 2021 is 11 and its cumulative 92.
STEADY = fiscal_history([9.0, 10.0, 11.0] * 7)
STEADY_SEPT_YTD = STEADY[-1][4]
# last year's October cumulative: the base of the year-on-year rule
STEADY_LY_OCT_YTD = STEADY[9][4]


@dataclass
class Case:
    """A file (or files) that must produce `code`, naming `cell` (None: a file-level conflict)."""

    code: str
    files: list  # [(folder, name, bytes)]
    cell: str | None
    status: str = "rejected"
    context: list = field(default_factory=list)
    file: str | None = None  # which file's receipt; default the last one
    found: str | None = None


def fiscal(month: float, ytd: float) -> bytes:
    return csv_form([("fiscal_revenue", month, ytd)], reporter="finance")


MIXED = ("reporter_code,period,indicator_code,month_value,ytd_value\n"
         "invest,2021-09,investment_funds,1.0,8.0\ninvest,2021-10,investment_funds_yrd,0.4,3.4\n").encode()
NO_PERIOD = ("reporter_code,period,indicator_code,month_value,ytd_value\n"
             "invest,,investment_funds,1.2,9.2\n").encode()

CASES = [
    # file level: no cell to name
    Case("E_WRONG_FOLDER", [("nobody", "x.csv", csv_form([("investment_funds", 1.2, 9.2)]))], None),
    Case("E_FILE_TYPE", [("invest", "report.pdf", b"%PDF-1.4")], None, found=".pdf"),
    Case("E_FILE_UNREADABLE", [("invest", "broken.xlsx", b"PK\x03\x04 not a workbook")], None),
    Case("E_NO_TABLE", [("invest", "notes.csv", "说明,无\n本月无数据,\n".encode())], None),
    Case("E_EMPTY", [("econ", "blank.xlsx", simple_form([]))], None),
    # header and identity
    Case("E_NO_PERIOD", [("invest", "f.csv", NO_PERIOD)], "B2"),
    Case("E_REPORTER_MISMATCH", [("invest", "f.csv", csv_form([("investment_funds", 1.2, 9.2)], reporter="econ"))],
         "A2", found="econ"),
    Case("E_REPORTER_UNKNOWN", [("invest", "f.csv", csv_form([("investment_funds", 1.2, 9.2)], reporter="invset"))],
         "A2", found="invset"),
    Case("E_PERIOD_BAD", [("invest", "f.csv", csv_form([("investment_funds", 1.2, 9.2)], period="2021-13"))], "B2"),
    Case("E_PERIOD_FUTURE", [("invest", "f.csv", csv_form([("investment_funds", 1.2, 9.2)], period="2021-11"))],
         "B2"),
    Case("E_PERIOD_TOO_EARLY", [("invest", "f.csv", csv_form([("investment_funds", 1.2, 9.2)], period="2019-12"))],
         "B2"),
    Case("E_PERIOD_MIXED", [("invest", "f.csv", MIXED)], "B3", found="2021-10"),
    # rows
    Case("E_INDICATOR_UNKNOWN", [("invest", "f.csv", csv_form([("investment_fund", 1.2, 9.2)]))], "C2"),
    Case("E_INDICATOR_NOT_OWNED", [("invest", "f.csv", csv_form([("trade_sales", 1.2, 9.2)]))], "C2"),
    Case("E_VALUE_NOT_NUMBER", [("invest", "f.csv", csv_form([("investment_funds", "1.2亿", 9.2)]))], "D2"),
    Case("E_UNIT_UNKNOWN", [("invest", "f.csv", csv_form([("investment_funds", 1.2, 9.2, "美元")]))], "F2"),
    Case("E_NEGATIVE", [("invest", "f.csv", csv_form([("projects_signed", -1, 14)]))], "D2"),
    Case("E_DUPLICATE_ROW", [("invest", "f.csv", csv_form([("investment_funds", 1.2, 9.2),
                                                            ("investment_funds", 1.3, 9.3)]))], "C2"),
    Case("E_PART_EXCEEDS_TOTAL", [("invest", "f.csv", csv_form([("investment_funds", 1.2, 9.2),
                                                                ("investment_funds_yrd", 1.5, 9.9)]))],
         "E3", context=SEPT_INVEST),
    Case("E_YTD_DECREASED", [("invest", "f.csv", csv_form([("investment_funds", 1.2, 7.0)]))], "E2",
         context=SEPT_INVEST),
    Case("E_IDENTITY", [("invest", "f.csv", csv_form([("investment_funds", 1.2, 9.9)]))], "E2", context=SEPT_INVEST),
    Case("E_STOCK_YTD_DIFFERS", [("agri", "f.csv", csv_form([("herb_area", 100, 120)], reporter="agri"))], "E2",
         found="120"),
    # soft: loaded, flagged
    Case("W_YOY_SWING", [("finance", "f.csv", fiscal(1000, 9000))], "E2", status="accepted_with_warnings",
         context=[("finance", "2020-10", "fiscal_revenue", 500.0, 5000.0),
                  ("finance", "2021-09", "fiscal_revenue", 900.0, 8000.0)], found="+80.0%"),
    # 30 against a steady ~10 (MAD 1): 13 robust z-scores out, but only 3× (no unit slip)
    Case("W_OUTLIER", [("finance", "f.csv", fiscal(30, STEADY_SEPT_YTD + 30))], "D2",
         status="accepted_with_warnings", context=STEADY, found="30"),
    # 10,000× its usual level: 万元 written as 元
    Case("W_UNIT_SHIFT", [("finance", "f.csv", fiscal(100000, STEADY_SEPT_YTD + 100000))], "D2",
         status="accepted_with_warnings", context=STEADY, found="100,000"),
    # September was 11 as well: a copied form
    Case("W_REPEATED", [("finance", "f.csv", fiscal(11, STEADY_SEPT_YTD + 11))], "D2",
         status="accepted_with_warnings", context=STEADY, found="11"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.code for c in CASES])
def test_each_conflict_code_is_raised_naming_its_cell(case, catalog):
    files = [incoming(folder, name, data) for folder, name, data in case.files]
    got = receipts(files, catalog, context=pd.DataFrame(case.context, columns=CONTEXT_COLUMNS))
    r = got[case.file or files[-1].name]
    assert r["status"] == case.status
    assert (case.code, case.cell) in codes_and_cells(r)
    conflict = next(c for c in r["conflicts"] if (c["code"], c["cell"]) == (case.code, case.cell))
    assert conflict["severity"] == CODES[case.code][0]
    assert conflict["message_zh"] and conflict["message_en"] and "{" not in conflict["message_en"]
    if case.found is not None:
        assert conflict["found"] == case.found


# Raised by the archive step, before the review: the file is deferred whole, so no cell.
ARCHIVE_CODES = {"E_ARCHIVE_FAILED"}


def test_a_file_the_archive_refuses_is_deferred_naming_why(catalog, tmp_path):
    (tmp_path / "invest").write_text("not a folder")  # invest's archive folder cannot be created
    files = [incoming("invest", "oct.csv", csv_form([("investment_funds", 1.2, 9.2)])),
             incoming("finance", "fin.csv", csv_form([("fiscal_revenue", 600, 5400)], reporter="finance"))]
    failed = archive_conflicts(files, catalog, str(tmp_path))
    assert list(failed) == ["oct.csv"]  # finance's file was archived
    c = failed["oct.csv"]
    assert (c["code"], c["severity"], c["cell"]) == ("E_ARCHIVE_FAILED", "error", None)
    assert "Error" in c["found"] and c["found"] in c["message_en"] and c["message_zh"]


def test_an_unknown_reporter_code_is_not_also_called_a_mismatch(catalog):
    f = incoming("invest", "f.csv", csv_form([("investment_funds", 1.2, 9.2)], reporter="invset"))
    r = receipts([f], catalog)["f.csv"]
    assert [c["code"] for c in r["conflicts"]] == ["E_REPORTER_UNKNOWN"]
    assert "invset" in r["conflicts"][0]["message_zh"]


def test_steady_history_alone_raises_no_warning(catalog):
    """The soft cases' context is clean: the warning comes from the value under test, not the history."""
    f = incoming("finance", "f.csv", fiscal(10, STEADY_SEPT_YTD + 10))
    r = receipts([f], catalog, context=pd.DataFrame(STEADY, columns=CONTEXT_COLUMNS))["f.csv"]
    assert (r["status"], r["conflicts"]) == ("accepted", [])


# --- snapshot checks: a clean computed table, then one thing wrong at a time ---

OCT = Period(2021, 10)
SNAPSHOT_SUITE = suite_path("snapshot")


@pytest.fixture(scope="module")
def clean_table() -> pd.DataFrame:
    from township.catalog import load_catalog

    catalog = load_catalog(DEFAULT_CATALOG_DIR)
    values = pd.DataFrame([
        ("econ", "2021-10", "fixed_asset_investment", None, 52345.0, ""),
        ("econ", "2020-10", "fixed_asset_investment", None, 46600.0, ""),
        ("invest", "2021-10", "investment_funds", 1.2, 10.52, ""),
        ("invest", "2021-10", "investment_funds_yrd", 0.4, 4.1, ""),
        ("V01", "2021-10", "village_collective_income", 2.0, 20.0, ""),
    ], columns=["reporter_code", "period", "indicator_code", "month_value", "ytd_value", "note"])
    return compute_township(values, catalog, "taoyuan", OCT)


def _set(t: pd.DataFrame, code: str, **values) -> pd.DataFrame:
    t = t.copy()
    for col, v in values.items():
        t.loc[t["indicator_code"] == code, col] = v
    return t


def _as_text(t: pd.DataFrame, col: str, code: str) -> pd.DataFrame:
    t = t.copy()
    t[col] = t[col].astype(object)
    t.loc[t["indicator_code"] == code, col] = "12.3%"
    return t


SNAPSHOT_CASES = {
    "S_PART_EXCEEDS_TOTAL": lambda t: _set(t, "investment_funds_yrd", ytd_value=11.0),
    "S_REPORTERS_INCONSISTENT": lambda t: _set(t, "fixed_asset_investment", reporters_reported=2),
    "S_NO_REPORTER": lambda t: _set(t, "trade_sales", reporters_expected=0, reporters_reported=0,
                                    missing_reporters=None),
    "S_MISSING_NOT_LISTED": lambda t: _set(t, "village_collective_income", missing_reporters=None),
    "S_MISSING_LISTED_WRONGLY": lambda t: _set(t, "fixed_asset_investment", missing_reporters="econ"),
    "S_YTD_MISSING": lambda t: _set(t, "industrial_output", reporters_reported=1, missing_reporters=None,
                                    ytd_value=float("nan")),
    "S_YOY_NOT_NUMERIC": lambda t: _as_text(t, "yoy_pct", "fixed_asset_investment"),
    "S_TARGET_PCT_NOT_NUMERIC": lambda t: _as_text(t, "target_pct", "fixed_asset_investment"),
}
SNAPSHOT_INDICATOR = {"S_PART_EXCEEDS_TOTAL": "investment_funds_yrd", "S_REPORTERS_INCONSISTENT": "fixed_asset_investment",
                      "S_NO_REPORTER": "trade_sales", "S_MISSING_NOT_LISTED": "village_collective_income",
                      "S_MISSING_LISTED_WRONGLY": "fixed_asset_investment", "S_YTD_MISSING": "industrial_output",
                      "S_YOY_NOT_NUMERIC": "fixed_asset_investment",
                      "S_TARGET_PCT_NOT_NUMERIC": "fixed_asset_investment"}


def test_the_clean_table_passes_every_snapshot_check(clean_table):
    assert check_snapshot(clean_table).empty


@pytest.mark.parametrize("code", list(SNAPSHOT_CASES))
def test_each_snapshot_check_fails_on_the_indicator_it_names(code, clean_table):
    checks = check_snapshot(SNAPSHOT_CASES[code](clean_table))
    assert list(zip(checks["code"], checks["indicator_code"])) == [(code, SNAPSHOT_INDICATOR[code])]
    assert checks["message_zh"].iloc[0] and checks["message_en"].iloc[0].startswith(SNAPSHOT_INDICATOR[code])


def test_many_townships_checked_in_one_run_each_get_their_own_failures(clean_table):
    """Townships publish together: their tables are validated in one GX run, and each failure lands on the
    township whose table has it (a column typed as text fails that township alone), as if checked alone."""
    tables = {f"t_{code}": SNAPSHOT_CASES[code](clean_table) for code in SNAPSHOT_CASES} | {"t_clean": clean_table}
    together = check_snapshots(tables)
    assert list(together) == list(tables) and together["t_clean"].empty
    for code in SNAPSHOT_CASES:
        checks = together[f"t_{code}"]
        assert list(zip(checks["code"], checks["indicator_code"])) == [(code, SNAPSHOT_INDICATOR[code])]
        assert checks.to_dict("records") == check_snapshot(tables[f"t_{code}"]).to_dict("records")


# --- the meta-tests: no rule without a case above ---

# Codes produced outside the review, by tests that need a real file system or a signed month: the
# test module that produces each, where an assertion on the code must stand.
PRODUCED_IN = {"E_FILE_NOT_REGULAR": "test_hostile_files.py", "E_FILE_TOO_LARGE": "test_hostile_files.py",
               "W_PERIOD_FINAL": "test_signoff.py"}


def test_every_conflict_code_has_a_producing_case():
    for code, module in PRODUCED_IN.items():
        source = (Path(__file__).parent / module).read_text(encoding="utf-8")
        assert any(code in line and "assert" in line for line in source.splitlines()), (code, module)
    produced = {c.code for c in CASES} | ARCHIVE_CODES | set(PRODUCED_IN)
    assert sorted(set(CODES) - produced) == [], "conflict codes no test produces"
    assert sorted(produced - set(CODES)) == []


def test_every_snapshot_check_has_a_producing_case():
    declared = {e["meta"]["code"] for e in json.loads(SNAPSHOT_SUITE.read_text(encoding="utf-8"))["expectations"]}
    assert len(declared) >= 8
    assert sorted(declared ^ set(SNAPSHOT_CASES)) == [], "snapshot checks without a case (or cases of no check)"
    assert set(SNAPSHOT_INDICATOR) == set(SNAPSHOT_CASES)
