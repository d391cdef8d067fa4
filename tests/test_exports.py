"""The published files read back: the 报表-style xlsx, the BOM csv, the parquet, the manifest."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from tasks.compute import compute_township
from tasks.exports import ExportHeader, write_manifest, write_table_exports
from township.periods import Period

NOTE = "=HYPERLINK(\"http://x\")"


@pytest.fixture
def published(tmp_path, catalog):
    rows = [
        ("econ", "2021-10", "fixed_asset_investment", 5345.0, 52345.0, NOTE),
        ("econ", "2020-10", "fixed_asset_investment", None, 46600.0, ""),
        ("invest", "2021-10", "investment_funds", 1.2, 10.523, "-含追加"),
        ("V01", "2021-10", "village_collective_income", 2.0, 20.0, "@备注"),
    ]
    values = pd.DataFrame(rows, columns=["reporter_code", "period", "indicator_code", "month_value", "ytd_value",
                                         "note"])
    table = compute_township(values, catalog, "taoyuan", Period(2021, 10))
    header = ExportHeader("taoyuan", "桃源镇", "2021-10", "1-10月", 1, "preliminary", "快报",
                          "2021-11-10 09:00（Asia/Shanghai）", "ab" * 32)
    files = write_table_exports(table, header, tmp_path, pd.Timestamp("2021-11-10 01:00", tz="UTC"))
    manifest = write_manifest(tmp_path, header)
    return tmp_path, table, files, manifest


def test_xlsx_is_the_townships_monthly_form(published):
    folder, _table, _files, _manifest = published
    ws = openpyxl.load_workbook(folder / "indicators.xlsx")["报表"]
    assert ws["A1"].value == "桃源镇主要指标月报表（2021年1-10月）快报"
    assert [c.value for c in ws[3]][:9] == ["指标名称", "计量单位", "本月", "1-本月累计", "去年同期", "同比±%",
                                            "年度任务", "完成率%", "序时进度差"]
    by_name = {r[0].value: [c.value for c in r] for r in ws.iter_rows(min_row=4) if r[0].value}
    assert by_name["固定资产投资"][:9] == ["固定资产投资", "万元", 5345, 52345, 46600, 12.3, 52000, 100.7, 17.3]
    assert by_name["招商引资到位资金"][3] == 10.52
    assert by_name["公共财政预算收入"][2:4] == ["未报", "未报"]  # not reported: never 0
    footer = [r[0].value for r in ws.iter_rows(min_row=4) if r[0].value and str(r[0].value).startswith("第1版")]
    assert footer and "2021-11-10 09:00" in footer[0]


def test_notes_that_look_like_formulas_stay_text(published):
    folder, _table, _files, _manifest = published
    ws = openpyxl.load_workbook(folder / "indicators.xlsx")["报表"]
    notes = {r[0].value: r[10] for r in ws.iter_rows(min_row=4) if r[0].value}
    assert notes["固定资产投资"].value == NOTE and notes["固定资产投资"].data_type == "s"
    assert notes["招商引资到位资金"].value == "-含追加" and notes["招商引资到位资金"].data_type == "s"
    csv = pd.read_csv(folder / "indicators.csv", encoding="utf-8-sig").set_index("indicator_code")
    assert csv.at["fixed_asset_investment", "note"] == "'" + NOTE
    assert csv.at["investment_funds", "note"] == "'-含追加"
    assert csv.at["village_collective_income", "note"] == "V01：@备注"  # prefixed by the village: harmless


def test_csv_has_a_bom_and_reads_back_with_missing_as_empty(published):
    folder, table, _files, _manifest = published
    raw = (folder / "indicators.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    csv = pd.read_csv(folder / "indicators.csv", encoding="utf-8-sig").set_index("indicator_code")
    assert csv.at["fixed_asset_investment", "ytd_value"] == 52345
    assert csv.at["investment_funds", "unit"] == "亿元" and csv.at["investment_funds", "ytd_value"] == 10.52
    assert pd.isna(csv.at["fiscal_revenue", "ytd_value"]) and csv.at["fiscal_revenue", "missing_reporters"] == "finance"
    assert csv["vintage"].unique().tolist() == [1] and len(csv) == len(table)


def test_parquet_keeps_types_and_nulls(published):
    folder, table, _files, _manifest = published
    pq = pd.read_parquet(folder / "indicators.parquet").set_index("indicator_code")
    assert pq.at["fixed_asset_investment", "yoy_pct"] == 12.3
    assert pd.isna(pq.at["fiscal_revenue", "month_value"])
    assert pq.at["fixed_asset_investment", "note"] == NOTE  # parquet has no formulas: the note as written
    assert pq["reporters_expected"].dtype == "int64" and len(pq) == len(table)


def test_manifest_hashes_every_file(published):
    folder, _table, files, manifest = published
    doc = json.loads(manifest.read_text(encoding="utf-8"))
    assert doc["content_hash"] == "ab" * 32 and doc["vintage"] == 1
    assert set(doc["files"]) == {p.name for p in files}
    for name, digest in doc["files"].items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest


def _submit_month(runtime, month: int, reporters: list[str], note: str | None) -> None:  # noqa: ANN001
    """Every indicator of these reporters for 2021-<month>, cumulative consistent; one optional note."""
    from tests.values_factory import at, submit

    cat = runtime.catalog
    for code in reporters:
        values = {}
        for ind in cat.indicators_of(code):
            base = float(1 + len(ind.code) % 7)
            if ind.measure == "flow":
                values[ind.code] = (base, base * month)
            else:
                values[ind.code] = (base * 10, None)
        if not values:  # a reporter with nothing to report this township
            continue
        if note:
            first = next(iter(values))
            values[first] = (*values[first], note)
        nxt = Period(2021, month).next()
        submit(runtime.engine, code, f"2021-{month:02d}", values, at(nxt.year, nxt.month, 3))


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)  # the files are the subject here
def test_a_year_of_vintages_reads_as_one_dataset_with_duckdb_and_pyarrow(runtime):
    import duckdb
    import pyarrow as pa
    import pyarrow.dataset as ds

    from tasks.exports import EXPORT_SCHEMA
    from tasks.publication import publish_township
    from tests.values_factory import at, submit

    everyone = [r.code for r in runtime.catalog.reporters if r.township == "taoyuan"]
    for month in range(1, 13):
        # Odd months: every reporter, no notes (missing_reporters all NULL, note all empty);
        # even months: finance and the villages missing, with a note. Month 12: only econ.
        if month == 12:
            reporters, note = ["econ"], None
        elif month % 2:
            reporters, note = everyone, None
        else:
            reporters, note = [c for c in everyone if c != "finance" and not c.startswith("V")], "含追加投资"
        _submit_month(runtime, month, reporters, note)
        nxt = Period(2021, month).next()
        publish_township(runtime, "taoyuan", Period(2021, month), final=False,
                         published_at=at(nxt.year, nxt.month, 10, 1))
    # A second vintage of one month: the glob over v* must take it too.
    submit(runtime.engine, "econ", "2021-03", {"fixed_asset_investment": (9.0, 99.0, "更正")}, at(2021, 4, 15))
    publish_township(runtime, "taoyuan", Period(2021, 3), final=False, published_at=at(2021, 4, 20, 1))

    publish = runtime.settings.publish_dir
    pattern = f"{publish}/taoyuan/2021-*/v*/indicators.parquet"
    files = sorted(Path(publish).glob("taoyuan/2021-*/v*/indicators.parquet"))
    assert len(files) == 13

    con = duckdb.connect()
    per_vintage = con.execute(
        f"SELECT period, vintage, COUNT(*), COUNT(missing_reporters), COUNT(NULLIF(note, '')) "
        f"FROM read_parquet('{pattern}') GROUP BY ALL ORDER BY ALL").fetchall()
    indicators = len(runtime.catalog.indicators)
    assert [(p, v) for p, v, *_ in per_vintage] == [(f"2021-{m:02d}", 1) for m in range(1, 13)][:2] + \
        [("2021-03", 1), ("2021-03", 2)] + [(f"2021-{m:02d}", 1) for m in range(4, 13)]
    assert all(n == indicators for _, _, n, _, _ in per_vintage)
    by_key = {(p, v): (missing, notes) for p, v, _, missing, notes in per_vintage}
    assert by_key[("2021-01", 1)] == (0, 0)  # nobody missing, no notes
    assert by_key[("2021-02", 1)][0] > 0 and by_key[("2021-02", 1)][1] > 0
    econ = len(runtime.catalog.indicators_of("econ"))
    assert by_key[("2021-12", 1)][0] == indicators - econ  # only econ reported
    types = {name: t for name, t, *_ in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{pattern}')").fetchall()}
    assert types["missing_reporters"] == "VARCHAR" and types["note"] == "VARCHAR" and types["vintage"] == "BIGINT"

    dataset = ds.dataset([str(f) for f in files], format="parquet")
    table = dataset.to_table()
    assert table.schema.equals(EXPORT_SCHEMA, check_metadata=False)
    assert table.schema.field("note").type == pa.string() and table.num_rows == 13 * indicators
    for f in files:  # each file on its own, not only the union, has exactly the one schema
        assert ds.dataset(str(f), format="parquet").schema.equals(EXPORT_SCHEMA, check_metadata=False)
    csv = pd.concat([pd.read_csv(f.with_suffix(".csv"), encoding="utf-8-sig") for f in files])
    assert list(csv.columns) == EXPORT_SCHEMA.names and len(csv) == 13 * indicators
