"""The demo inbox: real files a reporter could have sent, read back through the intake reader."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import zipfile
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from tasks.demo import CORRECTION, LATE, MISTAKE, NORMAL, demo_figures, write_demo_inbox
from tasks.read_form import read_form
from township.catalog import load_catalog
from township.periods import Period
from township.settings import DEFAULT_CATALOG_DIR

TZ = ZoneInfo("Asia/Shanghai")
# One worker runs the module, so its two-year demo inbox is written and read back once.
pytestmark = pytest.mark.xdist_group("demo")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The default demo (2020-01..2021-12) written once for this module, and every file read back."""
    catalog = load_catalog(DEFAULT_CATALOG_DIR)
    inbox = tmp_path_factory.mktemp("demo") / "inbox"
    manifest = write_demo_inbox(inbox, catalog, TZ)
    frames = []
    for f in manifest.files:
        df = read_form(f.path.read_bytes(), f.path.name)
        df.insert(0, "path", str(f.path))
        frames.append(df)
    return catalog, manifest, pd.concat(frames, ignore_index=True)


def _current(manifest, read) -> pd.DataFrame:
    """What each reporter finally said for each period: the read-back rows of its last good file."""
    last = {}
    for f in manifest.files:  # files are in the order received
        if f.kind != MISTAKE:
            last[(f.reporter, str(f.period))] = str(f.path)
    cur = read[read["path"].isin(set(last.values()))].copy()
    by_path = {p: k for k, p in last.items()}
    cur["reporter"] = cur["path"].map(lambda p: by_path[p][0])
    cur["period"] = cur["path"].map(lambda p: by_path[p][1])
    return cur


def test_one_form_per_reporter_and_month_in_its_own_folder(demo):
    catalog, manifest, _ = demo
    on_disk = sorted(p for p in manifest.inbox.rglob("*") if p.is_file())
    assert on_disk == sorted(f.path for f in manifest.files)
    firsts = {(f.reporter, str(f.period)): f.path for f in manifest.files if f.kind in (NORMAL, LATE, MISTAKE)}
    expected = catalog.expected_reporters("taoyuan")
    assert len(expected) == 17
    p = Period(2020, 1)
    while p <= Period(2021, 12):
        for r in expected:
            skipped = p.month == 1 and (r.code == "econ" or (r.code == "finance" and p.year == 2021))
            assert ((r.code, str(p)) in firsts) is not skipped, (r.code, p)
            if not skipped:
                path = firsts[(r.code, str(p))]
                assert path.parent == manifest.inbox / r.code
                assert path.stem == f"{r.code}_{p}"
                assert path.suffix == (".csv" if r.code in ("V04", "V08") else ".xlsx")
        p = p.next()
    assert 400 <= len(manifest.files) <= 420


def test_csv_reporters_send_utf8_with_bom_and_gbk(demo):
    _, manifest, read = demo
    utf8 = manifest.inbox / "V04" / "V04_2021-03.csv"
    gbk = manifest.inbox / "V08" / "V08_2021-03.csv"
    assert utf8.read_bytes().startswith(b"\xef\xbb\xbf")
    with pytest.raises(UnicodeDecodeError):
        gbk.read_bytes().decode("utf-8")
    assert "指标代码" in gbk.read_bytes().decode("gbk")
    rows = read[read["path"] == str(gbk)].set_index("indicator_code")
    assert rows.loc["village_collective_income", "month_value"] > 0


def test_read_back_gives_what_the_generator_wrote(demo):
    _, manifest, read = demo
    want = manifest.values
    got = read.merge(want, on=["path", "indicator_code"], how="outer", suffixes=("", "_want"), indicator=True)
    assert (got["_merge"] == "both").all(), got.loc[got["_merge"] != "both", ["path", "indicator_code"]]
    for col in ("month_value", "ytd_value"):
        np.testing.assert_allclose(got[col], got[f"{col}_want"], rtol=0, atol=1e-9, err_msg=col)
    assert (got["unit"] == got["unit_want"]).all()
    assert (got["note"] == got["note_want"]).all()


def test_cumulatives_add_up_and_reset_in_january(demo):
    catalog, manifest, read = demo
    cur = _current(manifest, read)
    flows = {i.code: i.decimals for i in catalog.indicators if i.measure == "flow"}
    cur = cur[cur["indicator_code"].isin(flows)].sort_values(["reporter", "indicator_code", "period"])
    prev = cur.groupby(["reporter", "indicator_code"])["ytd_value"].shift()
    same_year = cur["period"].str[:4] == cur.groupby(["reporter", "indicator_code"])["period"].shift().str[:4]
    tol = cur["indicator_code"].map(flows).map(lambda d: 0.5 * 10.0**-d + 1e-9)
    january = cur["period"].str.endswith("-01")
    checked = cur[same_year & cur["month_value"].notna()]
    gap = (prev[checked.index] + checked["month_value"] - checked["ytd_value"]).abs()
    assert (gap <= tol[checked.index]).all(), checked[gap > tol[checked.index]]
    assert len(checked) > 500
    jan = cur[january]
    assert len(jan) > 0 and (jan["month_value"] == jan["ytd_value"]).all()
    # cumulatives never fall within a year
    both = same_year & cur["ytd_value"].notna()
    assert (cur.loc[both, "ytd_value"] >= prev[both] - 1e-9).all()


def test_econ_and_finance_send_a_1_2_month_february(demo):
    _, manifest, read = demo
    for reporter, year in [("econ", 2020), ("econ", 2021), ("finance", 2021)]:
        feb = read[read["path"] == str(manifest.inbox / reporter / f"{reporter}_{year}-02.xlsx")]
        assert (feb["period_raw"] == f"{year}年1-2月").all()
        assert Period.parse(feb["period_raw"].iloc[0]) == Period(year, 2)
        assert feb["month_value"].isna().all() and (feb["ytd_value"] > 0).all()
        march = read[read["path"] == str(manifest.inbox / reporter / f"{reporter}_{year}-03.xlsx")]
        both = feb.merge(march, on="indicator_code", suffixes=("_feb", "_mar"))
        assert np.allclose(both["ytd_value_feb"] + both["month_value_mar"], both["ytd_value_mar"])
    finance_2020 = read[read["path"] == str(manifest.inbox / "finance" / "finance_2020-01.xlsx")]
    assert len(finance_2020) == 1  # finance sent its January in 2020


def test_stocks_are_slowly_rising_month_end_levels(demo):
    catalog, manifest, read = demo
    cur = _current(manifest, read)
    stocks = cur[cur["indicator_code"].isin([i.code for i in catalog.indicators if i.measure == "stock"])]
    agri, villages = stocks[stocks["reporter"] == "agri"], stocks[stocks["reporter"] != "agri"]
    reported = agri.dropna(subset=["month_value"])
    assert (reported["ytd_value"] == reported["month_value"]).all()  # agri repeats the level
    assert villages["ytd_value"].isna().all() and villages["month_value"].notna().all()
    for (_, code), s in stocks.sort_values("period").groupby(["reporter", "indicator_code"]):
        levels = s["month_value"].dropna().to_numpy()
        assert (np.diff(levels) >= 0).all(), code
    herb = agri[agri["indicator_code"] == "herb_area"].set_index("period")["month_value"]
    assert 1.03 <= herb["2021-06"] / herb["2020-06"] <= 1.2
    assert set(villages["reporter"]) == {f"V{i:02d}" for i in range(1, 11)}


def test_figures_grow_meet_their_targets_and_peak_in_tourist_seasons(demo):
    catalog, manifest, read = demo
    cur = manifest.current_values()
    dec = cur[cur["period"].isin(["2020-12", "2021-12"])]
    ytd = dec.groupby(["indicator_code", "period"])["ytd_canonical"].sum(min_count=1).unstack()
    growth = (ytd["2021-12"] / ytd["2020-12"]).dropna()
    assert growth["trade_sales"] < 1  # the one that shows 同比下降
    assert (growth.between(1.04, 1.17)).mean() >= 0.7, growth
    for code, target in next(t for t in catalog.targets if t.year == 2021).values.items():
        assert 0.9 <= ytd.loc[code, "2021-12"] / target <= 1.1, code
    money = cur.pivot_table(index="period", columns="indicator_code", values=["month_canonical", "ytd_canonical"])
    for col in ("month_canonical", "ytd_canonical"):
        assert (money[(col, "investment_funds_yrd")] <= money[(col, "investment_funds")]).all()
    visits = cur[cur["indicator_code"] == "tourist_visits"].set_index("period")["month_canonical"]
    for y in (2020, 2021):
        spring, autumn = visits[f"{y}-04"], visits[f"{y}-10"]
        assert min(spring, autumn) > max(visits[f"{y}-01"], visits[f"{y}-06"], visits[f"{y}-12"])


def test_messy_but_valid_cells(demo):
    _, manifest, read = demo

    def at(reporter: str, period: str, code: str) -> pd.Series:
        first_file = read["path"].str.endswith(f"/{reporter}_{period}.xlsx")
        return read[first_file & (read["indicator_code"] == code)].iloc[0]

    text = at("econ", "2021-05", "industrial_output")
    assert "," in text["month_raw"] and text["month_value"] == float(text["month_raw"].replace(",", ""))
    wide = at("tourism", "2021-04", "tourist_visits")
    assert any("０" <= ch <= "９" for ch in wide["month_raw"]) and wide["month_value"] > 0
    assert wide["note"] == "桃花节"
    dash = at("agri", "2020-02", "bee_colonies")
    assert dash["month_raw"] == "—" and np.isnan(dash["month_value"])
    blank = at("party", "2020-12", "party_lectures")
    assert blank["month_raw"] == "" and np.isnan(blank["month_value"]) and np.isnan(blank["ytd_value"])
    header_unit = at("invest", "2020-05", "investment_funds")
    assert header_unit["unit"] == "亿元"
    yuan = at("V02", "2021-05", "village_collective_income")
    cur = manifest.current_values().set_index(["reporter", "period", "indicator_code"])
    assert yuan["unit"] == "元"
    assert yuan["month_value"] == pytest.approx(cur.loc[("V02", "2021-05", "village_collective_income"),
                                                        "month_canonical"] * 10_000)


def test_each_mistake_is_in_its_row_and_fixed_by_a_later_correction(demo):
    _, manifest, read = demo
    assert sorted(manifest.mistakes.values()) == sorted(
        ["E_UNIT_UNKNOWN", "E_PART_EXCEEDS_TOTAL", "E_YTD_DECREASED", "E_INDICATOR_UNKNOWN"])
    cur = _current(manifest, read).set_index(["reporter", "period", "indicator_code"])
    for wrong in manifest.of_kind(MISTAKE):
        fix = next(f for f in manifest.of_kind(CORRECTION) if (f.reporter, f.period) == (wrong.reporter, wrong.period))
        assert fix.received_at > wrong.received_at and fix.path != wrong.path
        bad = read[read["path"] == str(wrong.path)].set_index("indicator_code")
        good = read[read["path"] == str(fix.path)].set_index("indicator_code")
        row = good.loc[wrong.indicator]
        if wrong.expected_error == "E_UNIT_UNKNOWN":
            assert bad.loc[wrong.indicator, "unit"] == "美元" and row["unit"] == "亿元"
        elif wrong.expected_error == "E_INDICATOR_UNKNOWN":
            assert wrong.indicator not in bad.index and "tourist_vists" in bad.index
        elif wrong.expected_error == "E_PART_EXCEEDS_TOTAL":
            for col in ("month_value", "ytd_value"):
                assert bad.loc[wrong.indicator, col] > bad.loc["investment_funds", col]
                assert row[col] <= good.loc["investment_funds", col]
        elif wrong.expected_error == "E_YTD_DECREASED":
            before = cur.loc[(wrong.reporter, str(wrong.period.prev()), wrong.indicator), "ytd_value"]
            assert bad.loc[wrong.indicator, "ytd_value"] < before <= row["ytd_value"]
        assert row["note"].startswith("已更正")


def test_receipt_times_are_mtimes_and_late_files_are_late(demo):
    catalog, manifest, _ = demo
    for f in manifest.files:
        assert os.stat(f.path).st_mtime == f.received_at.timestamp()
        assert f.deadline == catalog.deadline_for(f.period, TZ)
        assert f.received_at > catalog.deadline_for(f.period.prev(), TZ)  # after the month ended
    assert all(f.on_time for f in manifest.of_kind(NORMAL))
    late = manifest.of_kind(LATE)
    assert len(late) >= 3 and not any(f.on_time for f in late)
    assert sum(f.on_time for f in manifest.files) / len(manifest.files) > 0.95

    def published(f) -> bool:  # received after the month was published on the 10th
        return f.received_at.date() > dt.date(f.period.next().year, f.period.next().month, 10)

    revised = [f for f in manifest.of_kind(CORRECTION) if published(f)]
    assert revised, "a correction after the 10th makes a vintage 2"
    first = next(f for f in manifest.files if (f.reporter, f.period) == (revised[0].reporter, revised[0].period))
    assert first.kind == NORMAL
    assert any(published(f) for f in late)  # a file missing at publication


def _content_digest(path: Path) -> str:
    """sha256 of a file, or for an xlsx of its parts except docProps/core.xml (which holds the time written)."""
    if path.suffix != ".xlsx":
        return hashlib.sha256(path.read_bytes()).hexdigest()
    with zipfile.ZipFile(path) as z:
        parts = sorted(n for n in z.namelist() if n != "docProps/core.xml")
        return hashlib.sha256(b"".join(n.encode() + z.read(n) for n in parts)).hexdigest()


def test_same_seed_same_inbox(tmp_path, catalog):
    def run(folder: Path) -> dict:
        m = write_demo_inbox(folder, catalog, TZ, first=Period(2021, 1), last=Period(2021, 2), seed=7)
        return {f.path.relative_to(folder): (_content_digest(f.path), f.received_at) for f in m.files}

    assert run(tmp_path / "a") == run(tmp_path / "b")
    seven, eight = (demo_figures(catalog, "taoyuan", Period(2021, 1), Period(2021, 2), s) for s in (7, 8))
    assert not seven["month_value"].equals(eight["month_value"])


def test_intake_rejects_each_mistake_with_its_code_and_loads_the_rest(runtime):
    from tests.intake_helpers import run_intake
    from warehouse.intake_io import current_values

    inbox = Path(runtime.settings.inbox)
    manifest = write_demo_inbox(inbox, runtime.catalog, TZ, first=Period(2021, 1), last=Period(2021, 9))
    summary = run_intake(runtime, today=Period(2022, 1))
    receipts = {r["file"]: r for r in summary.receipts}
    for f in manifest.files:
        r = receipts[f.path.name]
        errors = {(c["code"], c["indicator_code"]) for c in r["conflicts"] if c["severity"] == "error"}
        if f.kind == MISTAKE:
            wrong_code = "tourist_vists" if f.expected_error == "E_INDICATOR_UNKNOWN" else f.indicator
            assert (r["status"], errors) == ("rejected", {(f.expected_error, wrong_code)}), f.path.name
        else:
            assert r["status"] != "rejected" and not errors, (f.path.name, errors)
    loaded = current_values(runtime.engine, "2021-01", "2021-09").rename(columns={"reporter_code": "reporter"})
    want = manifest.current_values()
    got = want.merge(loaded, on=["reporter", "period", "indicator_code"], how="left")
    np.testing.assert_allclose(got["month_value"], got["month_canonical"], rtol=1e-12)
    flows = got["indicator_code"].map(lambda c: runtime.catalog.indicator_by_code[c].measure == "flow")
    np.testing.assert_allclose(got.loc[flows, "ytd_value"], got.loc[flows, "ytd_canonical"], rtol=1e-12)
