"""The documentation of the warehouse is generated from the models and must be current."""

from pathlib import Path

from warehouse.docs import render
from warehouse.views import VIEWS

ROOT = Path(__file__).resolve().parent.parent


def test_docs_warehouse_md_is_generated_and_current():
    assert (ROOT / "docs" / "warehouse.md").read_text(encoding="utf-8") == render(), "run `make docs`"


def test_every_view_documents_its_grain_and_columns():
    for v in VIEWS:
        assert v.grain and v.columns, v.name
        assert f"### `{v.name}`" in render()
