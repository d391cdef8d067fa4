"""The county roll-up against hand-worked figures, on SQLite and PostgreSQL: built from the townships' latest
signed vintages only, 同比 on a comparable base, ranks with ties and 未报, lineage, county vintages.

东县 (east) has four townships, one econ office each; October 2021 (1-10月, 序时进度 83.3%):

| township | 1-10月 固定资产投资 | 去年同期 | 同比 | 任务 | 完成率 | signed |
|---|---|---|---|---|---|---|
| 甲镇 ta | 52,000 (本月 5,000) | 40,000 | 30.0% | 65,000 | 80.0% | yes |
| 乙镇 tb | 26,000 (本月 2,000) | 25,000 | 4.0% | 32,500 | 80.0% | yes |
| 丙镇 tc | 22,000 (本月 1,500) | — | — | 40,000 | 55.0% | yes |
| 丁镇 td | 9,000 | — | — | — | — | frozen without a signer: 未报 |

County: 1-10月 100,000 (ta+tb+tc, never td's unsigned 9,000), 本月 8,500; comparable base ta+tb: 78,000 against
65,000 → 同比 20.0% (with tc wrongly in: 53.8%); county target 125,000 → 完成率 80.0%, 序时进度差 −3.3.
位次 by 同比: ta 1, tb 2, tc and td unranked; by 完成率: ta 1, tb 1, tc 3 (a tie shares the rank), td unranked.
"""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from pypdf import PdfReader
from sqlalchemy import text

import flows.publish_county  # noqa: F401  Prefect configures its terminal logging on import: here, at collection,
# with the real stderr; first imported inside a CliRunner (tests/test_cli.py) it would keep CliRunner's closed one.
from tasks.county_publication import publish_counties, publish_county, preview_county, write_county_draft
from tasks.publication import publish_township
from tasks.publication import publish_townships as publish_many
from tasks.signoff import Signature
from tasks.verify import verify_publish_dir
from tests.county_catalog import EAST, WEST, write_county_catalog
from tests.test_reporters_loop import webhook  # noqa: F401  (the fixture: a webhook server on loopback)
from tests.test_signoff import township  # noqa: F401  (the fixture: the CLI's functions, output recorded)
from tests.values_factory import at, submit
from township.catalog import CatalogError, load_catalog
from township.periods import Period

OCT = Period(2021, 10)
STATISTICIAN, BUREAU = Signature("李统计"), Signature("县统计局王审核")


@pytest.fixture
def county_rt(warehouse_url, tmp_path, monkeypatch, request):
    """conftest's `runtime` (a migrated warehouse on each backend, folders in tmp) with the two-county catalog."""
    monkeypatch.setenv("TOWNSHIP_CATALOG_DIR", str(write_county_catalog(tmp_path / "catalog")))
    return request.getfixturevalue("runtime")


def seed_october(engine) -> None:  # noqa: ANN001
    submit(engine, "ta_econ", "2020-10", {"fixed_asset_investment": (None, 40000.0)}, at(2020, 11, 3))
    submit(engine, "tb_econ", "2020-10", {"fixed_asset_investment": (None, 25000.0)}, at(2020, 11, 3))
    submit(engine, "ta_econ", "2021-10", {"fixed_asset_investment": (5000.0, 52000.0),
                                          "industrial_output": (1000.0, 9000.0), "wage_level": (5000.0, 5000.0)},
           at(2021, 11, 3))
    submit(engine, "tb_econ", "2021-10", {"fixed_asset_investment": (2000.0, 26000.0),
                                          "wage_level": (4000.0, 4000.0)}, at(2021, 11, 3))
    submit(engine, "tc_econ", "2021-10", {"fixed_asset_investment": (1500.0, 22000.0)}, at(2021, 11, 4))
    submit(engine, "td_econ", "2021-10", {"fixed_asset_investment": (900.0, 9000.0)}, at(2021, 11, 4))


def publish_townships(rt) -> dict[str, int]:  # noqa: ANN001
    """ta, tb, tc signed by their statistician (in one run, as the monthly publish does); td frozen without a
    signer (it must not reach the county)."""
    signed = publish_many(rt, ["ta", "tb", "tc"], OCT, final=False, signature=STATISTICIAN,
                          published_at=at(2021, 11, 10, 1))
    publish_township(rt, "td", OCT, final=False, published_at=at(2021, 11, 10, 1))
    return {t: r.snapshot_id for t, r in signed.items()}


def rows(engine, sql: str, **params) -> list[tuple]:  # noqa: ANN001
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params).all()]


@pytest.fixture
def october(county_rt):
    seed_october(county_rt.engine)
    return publish_townships(county_rt)


def test_county_total_and_comparable_base_from_signed_vintages_only(county_rt, october):
    r = publish_county(county_rt, EAST, OCT, final=False, signature=BUREAU, published_at=at(2021, 11, 12, 1))
    assert (r.vintage, r.status, r.created, r.decision, r.signer) == (1, "preliminary", True, "preliminary",
                                                                       "县统计局王审核")
    got = rows(county_rt.engine, "SELECT indicator_code, month_value, ytd_value, prior_ytd_value, yoy_pct, "
               "annual_target, target_pct, schedule_gap_pp, townships_expected, townships_reported, missing_townships "
               "FROM county_indicators WHERE county_code = 'east' AND period = '2021-10' ORDER BY indicator_code")
    assert got == [
        ("fixed_asset_investment", 8500.0, 100000.0, 65000.0, 20.0, 125000.0, 80.0, -3.3, 4, 3, "td"),
        ("industrial_output", 1000.0, 9000.0, None, None, None, None, None, 4, 1, "tb,tc,td"),
        # not additive (county_aggregation: none): no county total, but who reported is still counted
        ("wage_level", None, None, None, None, None, None, None, 4, 2, "tc,td"),
    ]
    assert r.narrative == ("1-10月完成固定资产投资100,000万元，同比增长20.0%，完成年度任务的80.0%，低于序时进度3.3个百分点；"
                           "工业生产总值9,000万元。")
    assert r.check_failures.empty
    assert r.folder.parts[-3:] == ("east", "2021-10", "v1")
    csv = pd.read_csv(r.folder / "indicators.csv")
    assert csv.set_index("indicator_code").loc["fixed_asset_investment", "ytd_value"] == 100000.0
    report = (r.folder / "report.md").read_text(encoding="utf-8")
    assert "东县主要指标月报表（2021年1-10月）快报" in report and "应报4个乡镇：已签发3个，未报1个。" in report
    assert "| td | 丁镇 | 未报 |" in report
    pdf = "".join("".join(page.extract_text().split()) for page in PdfReader(r.folder / "report.pdf").pages)
    assert "1-10月完成固定资产投资100,000万元，同比增长20.0%" in pdf and "各乡镇主要指标完成情况表" in pdf


def test_ranks_share_ties_and_leave_unreported_townships_unranked(county_rt, october):
    r = publish_county(county_rt, EAST, OCT, final=False, signature=BUREAU)
    view = rows(county_rt.engine, "SELECT township_code, ytd_value, yoy_pct, yoy_rank, target_pct, target_rank "
                "FROM township_ranking WHERE county_code = 'east' AND period = '2021-10' "
                "AND indicator_code = 'fixed_asset_investment' ORDER BY township_code")
    assert view == [("ta", 52000.0, 30.0, 1, 80.0, 1), ("tb", 26000.0, 4.0, 2, 80.0, 1),
                    ("tc", 22000.0, None, None, 55.0, 3), ("td", None, None, None, None, None)]
    # The report's table says the same as the analysts' view.
    table = r.preview.ranking[r.preview.ranking["indicator_code"].eq("fixed_asset_investment")]
    assert [None if pd.isna(v) else int(v) for v in table["target_rank"]] == [1, 1, 3, None]
    assert [None if pd.isna(v) else int(v) for v in table["yoy_rank"]] == [1, 2, None, None]
    report = (r.folder / "report.md").read_text(encoding="utf-8")
    assert "| 甲镇 | 52,000 | 30.0 | 1 | 80.0 | 1 | 第1版 |" in report
    assert "| 丁镇 | 未报 | — | — | — | — | — |" in report
    sheet = openpyxl.load_workbook(r.folder / "ranking.xlsx").active  # the printed table, as the bureau hands it out
    assert [c.value for c in sheet[2][:2]] == ["乡镇", "固定资产投资（万元）"]
    assert [[c.value for c in sheet[row][:6]] for row in (4, 6, 7)] == [
        ["甲镇", 52000, 30, 1, 80, 1], ["丙镇", 22000, "—", "—", 55, 3], ["丁镇", "未报", "—", "—", "—", "—"]]
    ranking = pd.read_parquet(r.folder / "ranking.parquet")
    assert ranking.loc[ranking["township_code"].eq("tc") & ranking["indicator_code"].eq("fixed_asset_investment"),
                       "target_rank"].tolist() == [3]


def test_every_county_figure_names_the_township_vintages_it_came_from(county_rt, october):
    r = publish_county(county_rt, EAST, OCT, final=False, signature=BUREAU)
    lineage = rows(county_rt.engine, "SELECT township_code, township_snapshot_id, township_vintage, ytd_value, "
                   "comparable FROM county_lineage WHERE county_code = 'east' AND county_vintage = 1 AND "
                   "(indicator_code = 'fixed_asset_investment' OR indicator_code IS NULL) ORDER BY township_code")
    assert lineage == [("ta", october["ta"], 1, 52000.0, 1), ("tb", october["tb"], 1, 26000.0, 1),
                       ("tc", october["tc"], 1, 22000.0, 0), ("td", None, None, None, 0)]
    manifest = json.loads((r.folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["org_unit"] == "county" and manifest["signer"] == "县统计局王审核"
    assert [(s["township"], s["snapshot_id"], s["vintage"], s["missing"]) for s in manifest["sources"]] == [
        ("ta", october["ta"], 1, False), ("tb", october["tb"], 1, False), ("tc", october["tc"], 1, False),
        ("td", None, None, True)]
    assert manifest["lineage"]["fixed_asset_investment"] == ["ta v1", "tb v1", "tc v1"]
    assert manifest["lineage"]["industrial_output"] == ["ta v1"]
    assert {"report.pdf", "ranking.xlsx", "chart_ranking.svg"} <= set(manifest["files"])
    ranking_svg = (r.folder / "chart_ranking.svg").read_text(encoding="utf-8")
    assert "（第1位）" in ranking_svg and "（未报）" in ranking_svg  # ranked townships, and the one without a vintage
    folders, damages = verify_publish_dir(county_rt.settings.publish_dir)  # `township verify` checks it too
    assert r.folder in folders and damages == []


def test_a_new_township_vintage_makes_county_v2_with_its_diff(county_rt, october):
    v1 = publish_county(county_rt, EAST, OCT, final=False, signature=BUREAU, published_at=at(2021, 11, 12, 1))
    v1_rows = rows(county_rt.engine, "SELECT * FROM snapshot_value WHERE snapshot_id = :s ORDER BY indicator_code",
                   s=v1.snapshot_id)
    submit(county_rt.engine, "tb_econ", "2021-10", {"fixed_asset_investment": (3000.0, 27000.0),
                                                   "wage_level": (4000.0, 4000.0)}, at(2021, 11, 15))
    tb2 = publish_township(county_rt, "tb", OCT, final=False, signature=STATISTICIAN, published_at=at(2021, 11, 16))
    assert tb2.vintage == 2
    v2 = publish_county(county_rt, EAST, OCT, final=False, signature=BUREAU, published_at=at(2021, 11, 17))
    assert (v2.vintage, v2.created) == (2, True)
    assert rows(county_rt.engine, "SELECT indicator_code, old_month_value, new_month_value, old_ytd_value, "
                "new_ytd_value FROM snapshot_change WHERE snapshot_id = :s", s=v2.snapshot_id) == [
        ("fixed_asset_investment", 8500.0, 9500.0, 100000.0, 101000.0)]
    assert v2.changes["changed_by"].tolist() == ["乙镇 第1版→第2版"]
    # 同比 79,000 / 65,000 − 1 = 21.5%
    assert rows(county_rt.engine, "SELECT ytd_value, yoy_pct, vintage FROM county_indicators WHERE county_code = "
                "'east' AND indicator_code = 'fixed_asset_investment'") == [(101000.0, 21.5, 2)]
    assert rows(county_rt.engine, "SELECT county_vintage, township_vintage FROM county_lineage WHERE "
                "township_code = 'tb' AND indicator_code = 'fixed_asset_investment' ORDER BY county_vintage") == [
        (1, 1), (2, 2)]
    assert rows(county_rt.engine, "SELECT * FROM snapshot_value WHERE snapshot_id = :s ORDER BY indicator_code",
                s=v1.snapshot_id) == v1_rows  # county v1 never changes
    assert "乙镇 第1版→第2版" in (v2.folder / "report.md").read_text(encoding="utf-8")
    again = publish_county(county_rt, EAST, OCT, final=False, signature=BUREAU)
    assert (again.vintage, again.created) == (2, False)  # unchanged inputs: no new county vintage
    assert rows(county_rt.engine, "SELECT COUNT(*) FROM snapshot WHERE township_code = 'east'") == [(2,)]


def test_a_township_signed_again_as_final_is_a_new_county_vintage_though_no_figure_moved(county_rt, october):
    publish_county(county_rt, EAST, OCT, final=False, signature=BUREAU)
    assert publish_township(county_rt, "ta", OCT, final=True, signature=STATISTICIAN).vintage == 2
    v2 = publish_county(county_rt, EAST, OCT, final=False, signature=BUREAU)
    assert (v2.vintage, v2.created) == (2, True) and v2.changes.empty
    assert "各指标本月数与累计数均无变化" in (v2.folder / "report.md").read_text(encoding="utf-8")


def test_county_vintages_are_immutable_like_township_ones(county_rt, october):
    r = publish_county(county_rt, EAST, OCT, final=False, signature=BUREAU)
    for sql in ("UPDATE county_source SET source_vintage = 9 WHERE snapshot_id = :s",
                "DELETE FROM county_source WHERE snapshot_id = :s",
                "INSERT INTO county_source (snapshot_id, township_code) VALUES (:s, 'tw')"):
        with pytest.raises(Exception, match="immutable"):
            with county_rt.engine.begin() as conn:
                conn.execute(text(sql), {"s": r.snapshot_id})


def test_a_draft_freezes_nothing(county_rt, october):
    folder = write_county_draft(county_rt, preview_county(county_rt, EAST, OCT))
    assert folder.parts[-3:] == ("east", "2021-10", "draft")
    assert "草稿" in (folder / "report.html").read_text(encoding="utf-8")
    assert not (folder / "manifest.json").exists()
    assert rows(county_rt.engine, "SELECT COUNT(*) FROM snapshot WHERE township_code = 'east'") == [(0,)]
    assert not (Path(county_rt.settings.publish_dir) / "east" / "2021-10" / "v1").exists()


def test_a_month_no_township_signed_is_all_unreported_never_zero(county_rt):
    r = publish_county(county_rt, EAST, OCT, final=False, signature=BUREAU)
    assert rows(county_rt.engine, "SELECT ytd_value, townships_reported, missing_townships FROM county_indicators "
                "WHERE indicator_code = 'fixed_asset_investment'") == [(None, 0, "ta,tb,tc,td")]
    assert r.narrative == "1-10月完成固定资产投资（未报）；工业生产总值（未报）。"


# --- the command line: `township publish --county` ---

def test_counties_publish_in_parallel_each_from_its_own_townships(county_rt, october):
    """Both counties at once (mapped over worker processes, one GX check): each its own vintage and folder, from its
    own townships only (west's one township has no signed vintage: 未报, never 0); again: nothing new."""
    results = publish_counties(county_rt, [EAST, WEST], OCT, False, BUREAU, published_at=at(2021, 11, 12, 1))
    assert [(c, r.vintage, r.created, r.folder.parts[-3:]) for c, r in results.items()] == [
        (EAST, 1, True, ("east", "2021-10", "v1")), (WEST, 1, True, ("west", "2021-10", "v1"))]
    got = rows(county_rt.engine, "SELECT county_code, ytd_value, townships_reported, missing_townships "
               "FROM county_indicators WHERE indicator_code = 'fixed_asset_investment' ORDER BY county_code")
    assert got == [("east", 100000.0, 3, "td"), ("west", None, 0, "tw")]
    assert results[EAST].check_failures.empty
    again = publish_counties(county_rt, [EAST, WEST], OCT, False, BUREAU)
    assert [(r.vintage, r.created) for r in again.values()] == [(1, False), (1, False)]


def test_publish_county_writes_a_draft_without_a_signer_and_a_signed_vintage_with_one(county_rt, october, township):
    published = Path(county_rt.settings.publish_dir)
    out = township("publish", period="2021-10", county=EAST)
    assert "east 2021-10: 草稿 draft of county v1, not signed, nothing frozen" in out and "未报 1: td" in out
    assert (published / "east" / "2021-10" / "draft" / "report.pdf").is_file()
    assert rows(county_rt.engine, "SELECT COUNT(*) FROM snapshot WHERE township_code = 'east'") == [(0,)]
    out = township("publish", period="2021-10", county=EAST, sign_off="县统计局王审核", final=True)
    assert "east 2021-10: county v1 final →" in out
    assert rows(county_rt.engine, "SELECT vintage, status, decision, signer FROM snapshot "
                "WHERE township_code = 'east'") == [(1, "final", "final", "县统计局王审核")]
    assert "(unchanged)" in township("publish", period="2021-10", county=EAST, sign_off="县统计局王审核", final=True)


def test_publish_names_an_unknown_county(county_rt, township):
    from township.errors import UserError

    with pytest.raises(UserError, match="no county 'north' in the catalog"):
        township("publish", period="2021-10", county="north", sign_off="王")


@pytest.fixture
def county_leaders_rt(warehouse_url, tmp_path, monkeypatch, request, webhook):
    """county_rt, with a contact for the county bureau's leaders (a webhook on loopback)."""
    import yaml

    folder = write_county_catalog(tmp_path / "catalog")
    contacts = [{"to": f"{EAST}/leaders", "channel": "wecom", "url": webhook.url("east-leaders")}]
    (folder / "contacts.yaml").write_text(yaml.safe_dump({"contacts": contacts}, allow_unicode=True),
                                          encoding="utf-8")
    monkeypatch.setenv("TOWNSHIP_CATALOG_DIR", str(folder))
    return request.getfixturevalue("runtime")


def test_the_county_bureaus_leaders_get_the_county_report_once(county_leaders_rt, township, webhook):
    seed_october(county_leaders_rt.engine)
    publish_townships(county_leaders_rt)
    for _ in range(2):  # the second publish finds the vintage unchanged: nothing new to tell
        township("publish", period="2021-10", county=EAST, sign_off="县统计局王审核", final=True)
    assert [h.path for h in webhook.hooks] == ["/east-leaders"]
    message = webhook.hooks[0].payload
    assert message["title"] == "东县 2021年10月主要指标定报"
    assert "1-10月完成固定资产投资" in message["message"] and "east/2021-10/v1/report.html" in message["message"]


# --- the catalog: several counties ---

def _catalog_files(tmp_path, edit) -> Path:  # noqa: ANN001
    import yaml

    folder = write_county_catalog(tmp_path / "c")
    doc = yaml.safe_load((folder / "township.yaml").read_text(encoding="utf-8"))
    targets = yaml.safe_load((folder / "targets.yaml").read_text(encoding="utf-8"))
    edit(doc, targets)
    (folder / "township.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    (folder / "targets.yaml").write_text(yaml.safe_dump(targets, allow_unicode=True), encoding="utf-8")
    return folder


def test_a_catalog_with_several_counties_puts_each_township_under_its_own(tmp_path, county_rt):
    c = load_catalog(write_county_catalog(tmp_path / "c"))
    assert c.county is None and [k.code for k in c.counties] == ["east", "west"]
    assert [t.code for t in c.townships_of("east")] == ["ta", "tb", "tc", "td"]
    assert c.target("east", 2021, "fixed_asset_investment") == 125000
    assert rows(county_rt.engine, "SELECT code, kind, parent_code FROM org_unit WHERE code IN ('east', 'tw', 'ta') "
                "ORDER BY code") == [("east", "county", None), ("ta", "township", "east"), ("tw", "township", "west")]


def test_the_one_county_catalog_still_works(catalog):
    assert catalog.county.code == "demo_county" and [k.code for k in catalog.counties] == ["demo_county"]
    assert [t.county for t in catalog.townships] == ["demo_county"]


@pytest.mark.parametrize("edit, problem", [
    (lambda d, t: d["townships"][0].update(county="north"), "township 'ta' names unknown county 'north'"),
    (lambda d, t: d["townships"][0].pop("county"), "township 'ta' names no county"),
    (lambda d, t: d["counties"].append({"code": "ta", "name": "甲县"}), "'ta' is both a county and a township code"),
    (lambda d, t: d["counties"].append({"code": "east", "name": "东县"}), "duplicate county code 'east'"),
    (lambda d, t: d["counties"].append({"code": "south", "name": "南县"}), "county 'south' has no township"),
    (lambda d, t: t["targets"].append({"township": "north", "year": 2021, "values": {}}),
     "targets for unknown township or county 'north'"),
])
def test_a_wrong_county_is_refused_naming_the_file(tmp_path, edit, problem):
    folder = _catalog_files(tmp_path, edit)
    with pytest.raises(CatalogError) as e:
        load_catalog(folder)
    assert problem in str(e.value)
    where = "targets.yaml" if "targets" in problem else "township.yaml"
    assert f"{folder / where}: " in str(e.value)


def test_migration_0007_goes_back_to_0006_and_up_again(warehouse_url):
    from alembic import command
    from sqlalchemy import inspect

    from warehouse.engine import alembic_config, make_engine, upgrade

    engine = make_engine(warehouse_url)
    upgrade(engine)
    command.downgrade(alembic_config(engine), "0006")
    views = set(inspect(engine).get_view_names())
    assert "monthly_indicators" in views and not views & {"county_indicators", "county_lineage", "township_ranking"}
    assert "county_source" not in inspect(engine).get_table_names()
    upgrade(engine)
    assert {"county_indicators", "county_lineage", "township_ranking"} <= set(inspect(engine).get_view_names())
    engine.dispose()
