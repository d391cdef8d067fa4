"""Test helper: a small two-county catalog (four townships of 东县 with one econ office each, one of 西县) and the
hand-worked October 2021 the county tests publish; see tests/test_county.py for the figures."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from township.settings import DEFAULT_CATALOG_DIR

EAST, WEST = "east", "west"
TOWNS = {"ta": "甲镇", "tb": "乙镇", "tc": "丙镇", "td": "丁镇"}
INDICATORS = [
    {"code": "fixed_asset_investment", "name": "固定资产投资", "name_en": "Fixed-asset investment", "unit": "万元",
     "measure": "flow", "owner": "econ", "headline": 1},
    {"code": "industrial_output", "name": "工业生产总值", "name_en": "Industrial output", "unit": "万元",
     "measure": "flow", "owner": "econ", "headline": 2},
    {"code": "wage_level", "name": "职工月平均工资", "name_en": "Average monthly wage", "unit": "元",
     "measure": "stock", "owner": "econ", "county_aggregation": "none"},
]


def write_county_catalog(folder: Path) -> Path:
    """The catalog files in `folder`: counties east (ta, tb, tc, td) and west (tw); targets for the townships of
    east and for east itself (its own 年度任务)."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(DEFAULT_CATALOG_DIR / "units.yaml", folder / "units.yaml")
    files = {
        "township.yaml": {
            "counties": [{"code": EAST, "name": "东县"}, {"code": WEST, "name": "西县"}], "first_year": 2020,
            "townships": [*({"code": c, "name": n, "county": EAST} for c, n in TOWNS.items()),
                          {"code": "tw", "name": "戊镇", "county": WEST}]},
        "reporters.yaml": {"reporters": [{"code": f"{t}_econ", "township": t, "kind": "econ", "name": "经济发展办"}
                                         for t in [*TOWNS, "tw"]]},
        "indicators.yaml": {"indicators": INDICATORS},
        "targets.yaml": {"targets": [
            {"township": "ta", "year": 2021, "values": {"fixed_asset_investment": 65000}},
            {"township": "tb", "year": 2021, "values": {"fixed_asset_investment": 32500}},
            {"township": "tc", "year": 2021, "values": {"fixed_asset_investment": 40000}},
            {"township": EAST, "year": 2021, "values": {"fixed_asset_investment": 125000}},
        ]},
    }
    for name, doc in files.items():
        (folder / name).write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return folder
