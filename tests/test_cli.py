"""The `township` command as a user runs it: check a form before sending, write templates, see status."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from tasks.templates import form_rows, write_form
from cli.app import app
from township.periods import Period


def _filled_invest_form(path: Path, catalog, yrd_ytd: float) -> Path:
    rows = form_rows(catalog, "invest")
    values = {"investment_funds": (1.2, 9.2), "investment_funds_yrd": (0.4, yrd_ytd), "projects_signed": (1, 16)}
    for r in rows:
        r.month, r.ytd = values[r.code]
    return write_form(path, catalog, "invest", Period(2021, 10), rows)


def test_check_accepts_a_good_form_and_loads_nothing(runtime, catalog, tmp_path):
    form = _filled_invest_form(tmp_path / "invest" / "oct.xlsx", catalog, 3.4)
    result = CliRunner().invoke(app, ["check", str(form)])
    assert result.exit_code == 0, result.output
    assert "已接收" in result.output and "accepted" in result.output
    from sqlalchemy import text

    with runtime.engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM submission")).scalar_one() == 0


def test_check_rejects_with_the_cell_and_code(runtime, catalog, tmp_path):
    form = _filled_invest_form(tmp_path / "invest" / "oct.xlsx", catalog, 99.0)
    result = CliRunner().invoke(app, ["check", str(form)])
    assert result.exit_code == 1
    assert "E_PART_EXCEEDS_TOTAL" in result.output and "报表!E6" in result.output


def test_templates_writes_one_form_per_expected_reporter(tmp_path, catalog):
    result = CliRunner().invoke(app, ["templates", "--period", "2021-10", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    written = sorted(p.parent.name for p in tmp_path.rglob("*.xlsx"))
    assert written == sorted(r.code for r in catalog.expected_reporters("taoyuan"))


def test_check_needs_no_warehouse_and_creates_none(catalog, tmp_path, monkeypatch):
    form = _filled_invest_form(tmp_path / "invest" / "oct.xlsx", catalog, 3.4)
    db = tmp_path / "none" / "warehouse.db"
    result = CliRunner().invoke(app, ["check", str(form), "--warehouse", f"sqlite:///{db}"])
    assert result.exit_code == 0, result.output
    from sqlalchemy import create_engine, inspect

    engine = create_engine(f"sqlite:///{db}")
    assert inspect(engine).get_table_names() == []  # a dry run changes nothing, not even the schema
    engine.dispose()
