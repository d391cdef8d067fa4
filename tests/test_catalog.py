"""The catalog loads, and a broken catalog is refused with a message naming the file and the problem."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from township.catalog import CatalogError, load_catalog
from township.periods import Period
from township.settings import DEFAULT_CATALOG_DIR



@pytest.fixture
def catalog_dir(tmp_path):
    d = tmp_path / "catalog"
    shutil.copytree(DEFAULT_CATALOG_DIR, d)
    return d


def _edit_indicators(folder: Path, change) -> None:
    path = folder / "indicators.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data["indicators"])
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def test_default_catalog_has_the_contracted_codes(catalog):
    assert [t.code for t in catalog.townships] == ["taoyuan"]
    assert len(catalog.indicators) == 22
    assert catalog.indicator_by_code["investment_funds_yrd"].parent == "investment_funds"
    assert catalog.indicator_by_code["investment_funds"].unit == "亿元"
    assert catalog.indicator_by_code["village_collective_income"].aggregation == "sum_villages"
    assert [r.code for r in catalog.reporters if r.kind == "village"] == [f"V{i:02d}" for i in range(1, 11)]
    assert [i.code for i in catalog.indicators_of("invest")] == [
        "investment_funds", "investment_funds_yrd", "projects_signed"]
    # stats owns no indicator, so it is not expected to submit
    assert "stats" not in {r.code for r in catalog.expected_reporters("taoyuan")}
    assert len(catalog.expected_reporters("taoyuan")) == 17


def test_deadline_is_end_of_the_fifth_of_next_month(catalog):
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("Asia/Shanghai")
    due = catalog.deadline_for(Period(2021, 12), tz)
    assert due.isoformat() == "2022-01-06T00:00:00+08:00"


def test_units_convert_within_a_family_only(catalog):
    assert catalog.convert_factor("万元", "亿元") == pytest.approx(1e-4)
    assert catalog.convert_factor("公顷", "亩") == 15
    assert catalog.convert_factor("人次", "万人次") == pytest.approx(1e-4)
    assert catalog.convert_factor("万元", "亩") is None
    assert catalog.convert_factor("美元", "万元") is None


def test_duplicate_indicator_code_is_refused(catalog_dir):
    _edit_indicators(catalog_dir, lambda inds: inds.append(dict(inds[0])))
    with pytest.raises(CatalogError, match=r"indicators\.yaml: duplicate indicator code 'fixed_asset_investment'"):
        load_catalog(catalog_dir)


def test_unknown_parent_is_refused(catalog_dir):
    def change(inds):
        next(i for i in inds if i["code"] == "investment_funds_yrd")["parent"] = "investment_fundz"
    _edit_indicators(catalog_dir, change)
    with pytest.raises(CatalogError, match=r"'investment_funds_yrd' has unknown parent 'investment_fundz'"):
        load_catalog(catalog_dir)


def test_unknown_unit_is_refused(catalog_dir):
    def change(inds):
        inds[0]["unit"] = "万美元"
    _edit_indicators(catalog_dir, change)
    with pytest.raises(CatalogError, match=r"'fixed_asset_investment' has unknown unit '万美元'"):
        load_catalog(catalog_dir)


def test_parent_in_another_unit_family_is_refused(catalog_dir):
    def change(inds):
        next(i for i in inds if i["code"] == "investment_funds_yrd")["unit"] = "亩"
    _edit_indicators(catalog_dir, change)
    with pytest.raises(CatalogError, match=r"cannot be part of 'investment_funds'.*different unit families"):
        load_catalog(catalog_dir)


def test_bad_field_names_the_file_and_field(catalog_dir):
    def change(inds):
        inds[0]["measure"] = "flowing"
    _edit_indicators(catalog_dir, change)
    with pytest.raises(CatalogError, match=r"indicators\.yaml: indicators\.0\.measure"):
        load_catalog(catalog_dir)


def test_every_problem_is_listed_at_once(catalog_dir):
    def change(inds):
        inds[0]["unit"] = "X"
        inds[1]["parent"] = "nope"
    _edit_indicators(catalog_dir, change)
    with pytest.raises(CatalogError) as e:
        load_catalog(catalog_dir)
    assert "unknown unit 'X'" in str(e.value) and "unknown parent 'nope'" in str(e.value)


@pytest.mark.parametrize("text", ["2021-10", "2021年10月", "202110", "2021.10", "2021年1-10月", "２０２１年１０月",
                                  "2021/10", "2021年1—10月"])
def test_periods_in_every_form_mean_the_same_month(text):
    assert Period.parse(text) == Period(2021, 10)


@pytest.mark.parametrize("text", ["2021-13", "10月", "2021", "abc", "2021年10月15日x"])
def test_bad_periods_are_refused(text):
    with pytest.raises(ValueError):
        Period.parse(text)


# --- the parsed-catalog cache (a province catalog parses in ~3 s, reads back in ~0.1 s) ---

def test_a_cached_catalog_is_the_catalog_and_follows_every_edit(catalog_dir, tmp_path):
    from township.catalog import load_catalog_cached

    cache = tmp_path / "cache"
    first = load_catalog_cached(catalog_dir, cache)
    assert first == load_catalog(catalog_dir)
    assert len(list(cache.glob("catalog-*.json"))) == 1
    assert load_catalog_cached(catalog_dir, cache) == first  # read back, the same catalog

    _edit_indicators(catalog_dir, lambda inds: inds[0].update(name="改过的名称"))
    edited = load_catalog_cached(catalog_dir, cache)
    assert edited.indicators[0].name == "改过的名称"  # a new content hash: parsed again, never the stale copy

    _edit_indicators(catalog_dir, lambda inds: inds.append(dict(inds[0])))  # now a duplicate code
    with pytest.raises(CatalogError, match="duplicate"):
        load_catalog_cached(catalog_dir, cache)  # an invalid catalog is refused whatever the cache holds


def test_a_damaged_or_unwritable_cache_is_no_cache(catalog_dir, tmp_path):
    from township.catalog import catalog_digest, load_catalog_cached

    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / f"catalog-{catalog_digest(catalog_dir)}.json").write_text("{not json", encoding="utf-8")
    assert load_catalog_cached(catalog_dir, cache) == load_catalog(catalog_dir)

    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    assert load_catalog_cached(catalog_dir, blocked / "cache") == load_catalog(catalog_dir)
