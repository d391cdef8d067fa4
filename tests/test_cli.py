"""The `township` command as a user runs it: check a form before sending, write templates, see status."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tasks.templates import form_rows, template_path, write_form
from cli.app import app
from township.errors import UserError
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


def test_check_of_a_fifo_answers_not_a_regular_file_without_opening_it(runtime, tmp_path):
    """A named pipe as the argument: the receipt the inbox would give, at once (reading it would wait forever)."""
    (tmp_path / "invest").mkdir()
    os.mkfifo(tmp_path / "invest" / "oct.csv")
    result = CliRunner().invoke(app, ["check", str(tmp_path / "invest" / "oct.csv")])
    assert result.exit_code == 1, result.output
    assert "E_FILE_NOT_REGULAR" in result.output and "命名管道 FIFO" in result.output


def test_check_of_a_file_over_the_limit_answers_too_large_without_reading_it(runtime, tmp_path, monkeypatch):
    """A file larger than memory (sparse: it takes no disk) is refused from its size, never read whole."""
    monkeypatch.setenv("TOWNSHIP_MAX_FILE_MB", "1")
    huge = tmp_path / "invest" / "oct.csv"
    huge.parent.mkdir()
    with huge.open("wb") as f:
        f.truncate(2**40)  # 1 TiB
    result = CliRunner().invoke(app, ["check", str(huge)])
    assert result.exit_code == 1, result.output
    assert "E_FILE_TOO_LARGE" in result.output and "1,099,511,627,776 bytes" in result.output
    assert "TOWNSHIP_MAX_FILE_MB" in result.output


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
    assert not db.exists() and not db.parent.exists()  # a dry run changes nothing, not even creates the file


# --- errors: one line naming the problem and what to change, exit 2, no traceback (--debug shows it) ---

UNREACHABLE = "postgresql://clerk:s3cret@127.0.0.1:1/warehouse"  # nothing listens on port 1


def _one_line_error(result, *needles: str) -> str:
    """The command failed with exactly one line of output, which names each needle; returns it."""
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output and lines[0].startswith("错误 error:")
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


@pytest.mark.parametrize("command", [["status"], ["init"], ["intake"], ["publish", "--period", "2021-10"],
                                     ["rebuild"]])
def test_an_unreachable_warehouse_is_one_line_naming_the_setting(command, tmp_path, monkeypatch):
    monkeypatch.setenv("TOWNSHIP_ARCHIVE", str(tmp_path))
    line = _one_line_error(CliRunner().invoke(app, [*command, "--warehouse", UNREACHABLE]),
                           "无法打开数据仓库", "cannot open the warehouse", "127.0.0.1", "TOWNSHIP_WAREHOUSE_URL",
                           "--warehouse")
    assert "s3cret" not in line  # the password is never shown


@pytest.mark.parametrize("command", [["status", "--period", "2021-13"], ["publish", "--period", "2021-13"],
                                     ["templates", "--period", "2021-13"]])
def test_a_month_that_is_not_a_month_is_one_line_naming_the_option(command, tmp_path, monkeypatch):
    monkeypatch.setenv("TOWNSHIP_WAREHOUSE_URL", f"sqlite:///{tmp_path / 'warehouse.db'}")
    _one_line_error(CliRunner().invoke(app, command), "2021-13", "不是月份", "is not a month", "--period 2021-10")


def test_check_of_a_missing_file_is_one_line_naming_it(tmp_path):
    _one_line_error(CliRunner().invoke(app, ["check", str(tmp_path / "econ" / "oct.xlsx")]),
                    "找不到", "no such file", "oct.xlsx", "FILES")


def test_an_invalid_catalog_is_one_line_naming_the_file_and_setting(tmp_path):
    (tmp_path / "township.yaml").write_text("county: [unclosed\n", encoding="utf-8")
    _one_line_error(CliRunner().invoke(app, ["catalog", "--catalog", str(tmp_path)]),
                    "目录", "township.yaml", "TOWNSHIP_CATALOG_DIR")


def test_a_user_error_from_a_lower_layer_is_its_own_one_line(runtime, monkeypatch):
    import tasks.status

    def refuse(*_a, **_k):
        raise UserError("收件箱文件夹不存在：/srv/inbox", "the inbox folder does not exist: /srv/inbox",
                        fix="TOWNSHIP_INBOX")
    monkeypatch.setattr(tasks.status, "reporting_status", refuse)
    _one_line_error(CliRunner().invoke(app, ["status", "--period", "2021-10"]),
                    "收件箱文件夹不存在：/srv/inbox", "the inbox folder does not exist", "fix: TOWNSHIP_INBOX")
    debug = CliRunner().invoke(app, ["--debug", "status", "--period", "2021-10"])
    assert debug.exit_code != 0 and isinstance(debug.exception, UserError)  # --debug: the real exception


def test_the_installed_command_prints_one_line_and_debug_the_traceback(tmp_path):
    township = Path(sys.executable).with_name("township")
    env = {**os.environ, "TOWNSHIP_WAREHOUSE_URL": f"sqlite:///{tmp_path / 'w.db'}"}
    plain = subprocess.run([township, "status", "--period", "2021-13"], capture_output=True, text=True, env=env,
                           timeout=120)
    assert plain.returncode == 2 and plain.stdout == ""
    assert plain.stderr.count("\n") == 1 and "--period 2021-10" in plain.stderr, plain.stderr
    debug = subprocess.run([township, "--debug", "status", "--period", "2021-13"], capture_output=True, text=True,
                           env=env, timeout=120)
    assert debug.returncode != 0 and "Traceback" in debug.stderr + debug.stdout


def test_check_keeps_each_markdown_table_row_on_one_line_in_a_narrow_terminal(runtime, catalog, tmp_path,
                                                                                monkeypatch):
    import cli.app

    monkeypatch.setattr(cli.app.console, "width", 40)
    form = _filled_invest_form(tmp_path / "invest" / "oct.xlsx", catalog, 99.0)
    result = CliRunner().invoke(app, ["check", str(form)])
    rows = [line for line in result.output.splitlines() if line.startswith("|")]
    assert rows and all(line.rstrip().endswith("|") for line in rows), result.output
    assert any(len(line) > 40 for line in rows)  # wider than the terminal, yet whole


def test_templates_help_names_the_files_it_writes():
    result = CliRunner().invoke(app, ["templates", "--help"], env={"COLUMNS": "200", "TERMINAL_WIDTH": "200"})
    assert "<reporter>_<period>_报表.xlsx" in result.output, result.output
    assert template_path(Path("out"), "econ", Period(2021, 10)).name == "econ_2021-10_报表.xlsx"
