"""The first day (and the first hours of every month): a fresh warehouse and an empty inbox.

Every command a new user tries ends cleanly and says what it found: nothing new, every reporter missing,
a vintage of 未报, a reminder to everyone, a rebuild identical to the (empty) live warehouse.
The flows run on a real Prefect server named by PREFECT_API_URL, as under `make serve` (tests/conftest.py's
`prefect_api`).
"""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from cli.app import app
from flows.reminder import completeness_reminder
from tests.system.support import write_test_inbox


@pytest.fixture
def fresh(warehouse_url, tmp_path, monkeypatch):
    """Settings for a new install: an empty inbox, archive and publish folder, and a warehouse never opened."""
    from township.settings import get_settings

    for name in ("inbox", "archive", "published"):
        (tmp_path / name).mkdir()
        monkeypatch.setenv(f"TOWNSHIP_{name.upper()}" if name != "published" else "TOWNSHIP_PUBLISH_DIR",
                           str(tmp_path / name))
    monkeypatch.setenv("TOWNSHIP_WAREHOUSE_URL", warehouse_url)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def _ok(args: list[str], exit_code: int = 0) -> str:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == exit_code, f"township {' '.join(args)}:\n{result.output}"
    assert "Traceback" not in result.output and "错误 error" not in result.output, result.output
    return result.output


def test_every_command_on_the_first_day_ends_cleanly(prefect_api, fresh, catalog):
    expected = [r.code for r in catalog.expected_reporters("taoyuan")]

    assert "revision" in _ok(["init"])
    out = _ok(["intake"])
    assert "nothing new in the inbox" in out and "files_new 0" in out

    out = _ok(["status", "--period", "2021-10"])
    assert out.count("missing") == len(expected) and "on_time" not in out

    form = write_test_inbox(fresh / "to-check")[0]  # a good form checked before sending: no context, accepted
    assert "accepted" in _ok(["check", str(form)])

    draft = _ok(["publish", "--period", "2021-10"])  # without a signer: the draft (草稿), nothing frozen
    assert "草稿" in draft and not (fresh / "published" / "taoyuan" / "2021-10" / "v1").exists()
    out = _ok(["publish", "--period", "2021-10", "--sign-off", "王芳"])
    assert "taoyuan 2021-10: v1 preliminary" in out
    vintage = fresh / "published" / "taoyuan" / "2021-10" / "v1"
    table = pd.read_csv(vintage / "indicators.csv")
    assert len(table) == len(catalog.indicators)
    assert "未报" in (vintage / "report.md").read_text(encoding="utf-8")

    reminded = completeness_reminder(period="2021-10")
    assert sorted(reminded["townships"]["taoyuan"]["missing"]) == sorted(expected)

    out = _ok(["rebuild", "--target", f"sqlite:///{fresh / 'rebuilt.db'}"])
    assert "'identical': True" in out


def test_a_user_error_inside_a_flow_reaches_the_terminal_as_one_line(prefect_api, tmp_path, monkeypatch):
    """E.g. a missing inbox, found by the pull step: Prefect logs the failure, the CLI prints the one line,
    and no traceback reaches the terminal (the Prefect server keeps it for the UI)."""
    import io
    import logging

    from prefect.logging.handlers import PrefectConsoleHandler

    import tasks.intake_pipeline
    from tasks.pipeline import Step
    from township.errors import UserError

    def pull(*_args):
        raise UserError("收件箱文件夹不存在：/srv/inbox", "the inbox folder does not exist: /srv/inbox",
                        fix="TOWNSHIP_INBOX")
    monkeypatch.setattr(tasks.intake_pipeline, "PULL", Step("pull new files from the inbox", pull))
    prefect_terminal = io.StringIO()  # what Prefect's console handler writes (it holds the stderr of import time)
    [console] = [h for h in logging.getLogger().handlers if isinstance(h, PrefectConsoleHandler)]
    monkeypatch.setattr(console.console, "file", prefect_terminal)
    result = CliRunner().invoke(app, ["intake", "--warehouse", f"sqlite:///{tmp_path / 'w.db'}",
                                      "--inbox", str(tmp_path)])
    terminal = result.output + prefect_terminal.getvalue()
    assert result.exit_code == 2, terminal
    assert "Finished in state Failed" in terminal  # Prefect's own lines are there, one line each
    assert "Traceback" not in terminal and 'File "' not in terminal, terminal
    [line] = [s for s in result.output.splitlines() if s.startswith("错误 error:")]
    assert "the inbox folder does not exist: /srv/inbox" in line and line.endswith("fix: TOWNSHIP_INBOX")


def test_status_of_a_month_with_no_submissions_is_every_reporter_missing(runtime):
    """On each warehouse backend: no submissions at all, so every expected reporter is missing."""
    from tasks.status import follow_up_list, reporting_status
    from township.periods import Period

    oct_ = Period(2021, 10)
    s = reporting_status(runtime.engine, runtime.catalog, "taoyuan", oct_, runtime.settings.tz)
    assert len(s) == 17 and set(s["status"]) == {"missing"}
    assert s["received_at"].isna().all() and (s["submissions"] == 0).all()
    assert follow_up_list(runtime.engine, "taoyuan", oct_).empty
