"""Intake end to end on SQLite and PostgreSQL: what a reporter drops in its folder ends up loaded, or
comes back with a receipt naming the exact cell and rule; nothing is lost, nothing loads twice."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.intake_helpers import run_intake, write_csv
from township.periods import Period

CST = dt.timezone(dt.timedelta(hours=8))
SEPT = [("investment_funds", 1.0, 8.0), ("investment_funds_yrd", 0.5, 3.0), ("projects_signed", 2, 15)]
OCT = [("investment_funds", 1.2, 9.2), ("investment_funds_yrd", 0.4, 3.4), ("projects_signed", 1, 16)]


def inbox(rt) -> Path:
    return Path(rt.settings.inbox)


def current(rt, reporter: str, period: str) -> dict:
    with rt.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT indicator_code, month_value, ytd_value FROM indicator_values "
            "WHERE reporter_code = :r AND period = :p"), {"r": reporter, "p": period}).all()
    return {code: (m, y) for code, m, y in rows}


def conflicts_of(summary, file_name: str) -> list[tuple]:
    r = next(r for r in summary.receipts if r["file"] == file_name)
    return [(c["code"], c["cell"]) for c in r["conflicts"]]


def status_of(summary, file_name: str) -> str:
    return next(r["status"] for r in summary.receipts if r["file"] == file_name)


def test_accepted_file_is_loaded_in_canonical_units_with_receipt(runtime):
    write_csv(inbox(runtime), "invest", "sept.csv", SEPT, period="2021-09")
    # 万元 converts to the catalog's 亿元; blank means not reported, not 0
    write_csv(inbox(runtime), "invest", "oct.csv",
              [("investment_funds", 12000, 92000, "万元"), ("investment_funds_yrd", 0.4, 3.4), ("projects_signed", "", "")])
    s = run_intake(runtime)
    assert (s.accepted, s.rejected, s.imported) == (2, 0, 6)
    got = current(runtime, "invest", "2021-10")
    assert got["investment_funds"] == pytest.approx((1.2, 9.2))
    assert got["projects_signed"] == (None, None)
    with runtime.engine.connect() as conn:
        sub = conn.execute(text("SELECT status, imported, on_time, received_at FROM submissions "
                                "WHERE file_name = 'oct.csv'")).one()
    assert sub[:3] == ("accepted", 3, True)
    archived = list(Path(runtime.settings.archive).glob("invest/2021-10/*-oct.csv"))
    assert len(archived) == 1
    receipt = json.loads(Path(str(archived[0]) + ".receipt.json").read_text(encoding="utf-8"))
    assert receipt["status"] == "accepted" and receipt["counts"]["imported"] == 3
    assert "已接收" in Path(str(archived[0]) + ".receipt.md").read_text(encoding="utf-8")


def test_same_content_under_another_name_is_a_duplicate_and_changes_nothing(runtime):
    p = write_csv(inbox(runtime), "invest", "sept.csv", SEPT, period="2021-09")
    run_intake(runtime)
    shutil.copy(p, p.with_name("sept-copy.csv"))
    s = run_intake(runtime)
    assert (s.files_new, s.duplicates, s.imported) == (0, 1, 0)
    assert [r["status"] for r in s.receipts] == ["duplicate"]
    with runtime.engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM value_history")).scalar_one() == 3
    again = run_intake(runtime)
    assert (again.files_new, again.duplicates) == (0, 0)  # unchanged files are not even re-read


def test_corrected_resubmission_keeps_old_values_in_history(runtime):
    write_csv(inbox(runtime), "invest", "sept.csv", SEPT, period="2021-09")
    write_csv(inbox(runtime), "invest", "oct.csv", OCT)
    run_intake(runtime)
    fixed = [("investment_funds", 1.3, 9.3), ("investment_funds_yrd", 0.4, 3.4), ("projects_signed", 1, 16)]
    write_csv(inbox(runtime), "invest", "oct-v2.csv", fixed,
              received=dt.datetime(2021, 11, 12, 10, tzinfo=CST))
    s = run_intake(runtime)
    r = s.receipts[0]
    assert r["counts"] == {"imported": 0, "updated": 1, "unchanged": 2, "rejected": 0}
    assert r["on_time"] is False
    assert current(runtime, "invest", "2021-10")["investment_funds"] == pytest.approx((1.3, 9.3))
    with runtime.engine.connect() as conn:
        hist = conn.execute(text(
            "SELECT ytd_value, valid_to IS NULL FROM value_history WHERE reporter_code='invest' "
            "AND period='2021-10' AND indicator_code='investment_funds' ORDER BY valid_from")).all()
    assert [(y, bool(cur)) for y, cur in hist] == [(pytest.approx(9.2), False), (pytest.approx(9.3), True)]


def test_a_hard_error_rejects_the_whole_file_and_stores_the_conflict_with_its_cell(runtime):
    """End to end, once: which rule names which cell is decided by the review alone and proved for
    every code, fast, in tests/test_rules.py."""
    write_csv(inbox(runtime), "invest", "sept.csv", SEPT, period="2021-09")
    run_intake(runtime)
    write_csv(inbox(runtime), "invest", "oct.csv", [("investment_funds", 1.2, 9.2), ("investment_funds_yrd", 1.5, 9.9),
                                                    ("projects_signed", 1, 16)])
    s = run_intake(runtime)
    assert status_of(s, "oct.csv") == "rejected"
    assert ("E_PART_EXCEEDS_TOTAL", "E3") in conflicts_of(s, "oct.csv")
    assert current(runtime, "invest", "2021-10") == {}  # nothing of it is loaded
    with runtime.engine.connect() as conn:
        row = conn.execute(text("SELECT sheet, cell, message_zh, message_en FROM submission_conflicts "
                                "WHERE code = 'E_PART_EXCEEDS_TOTAL' AND cell = 'E3'")).one()
    assert row.sheet == "oct.csv" and row.message_zh and row.message_en


def test_files_outside_a_reporter_folder_are_told_where_to_go(runtime):
    write_csv(inbox(runtime), "", "root.csv", SEPT, reporter="invest", period="2021-09")
    write_csv(inbox(runtime), "nobody", "x.csv", OCT, reporter="invest")
    s = run_intake(runtime)
    for name in ("root.csv", "x.csv"):
        r = next(r for r in s.receipts if r["file"] == name)
        assert r["status"] == "rejected"
        assert r["conflicts"][0]["code"] == "E_WRONG_FOLDER"
        assert r["conflicts"][0]["expected"].endswith("/invest/")
    assert list(Path(runtime.settings.archive).glob("_unknown/2021-09/*-root.csv"))


def test_soft_warning_is_loaded_and_flagged_with_the_note(runtime):
    write_csv(inbox(runtime), "finance", "2020-10.csv", [("fiscal_revenue", 500, 5000)], period="2020-10")
    write_csv(inbox(runtime), "finance", "2021-09.csv", [("fiscal_revenue", 900, 8000)], period="2021-09")
    write_csv(inbox(runtime), "finance", "2021-10.csv", [("fiscal_revenue", 1000, 9000, "", "土地出让一次性收入")])
    s = run_intake(runtime)
    assert status_of(s, "2021-10.csv") == "accepted_with_warnings"
    r = next(r for r in s.receipts if r["file"] == "2021-10.csv")
    swing = next(c for c in r["conflicts"] if c["code"] == "W_YOY_SWING")
    assert swing["found"] == "+80.0%" and swing["note"] == "土地出让一次性收入" and swing["cell"] == "E2"
    assert current(runtime, "finance", "2021-10")["fiscal_revenue"] == (1000, 9000)


def test_gbk_csv_with_chinese_headers_is_read(runtime):
    path = inbox(runtime) / "finance" / "gbk.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes("单位代码,报告期,指标代码,本月,1-本月累计,计量单位,备注\n"
                     "finance,2021年1-10月,fiscal_revenue,\"1,200\",\"6,800\",万元,财政所报送\n".encode("gbk"))
    s = run_intake(runtime)
    assert status_of(s, "gbk.csv") == "accepted"
    assert current(runtime, "finance", "2021-10")["fiscal_revenue"] == (1200, 6800)


def test_a_run_that_read_a_file_another_run_loaded_drops_it_at_load(runtime):
    """The stale run, step by step; two loads racing for real: tests/test_load_race.py."""
    write_csv(inbox(runtime), "invest", "sept.csv", SEPT, period="2021-09")
    run_intake(runtime)
    # A second run that read the same file before the first committed drops it at load time.
    from tasks.archiving import archive_reads
    from tasks.batch_review import review_run
    from tasks.inbox import fetch, list_inbox
    from tasks.load import load, warehouse_context
    from tasks.pull import Pulled
    from tasks.read_files import read_many
    from tasks.receipts import write_receipts

    items = fetch(runtime.settings.inbox, list_inbox(runtime.settings.inbox))
    pulled = Pulled(1, items, [], __import__("pandas").DataFrame(
        {"path": [i.path for i in items], "size": [i.size for i in items],
         "mtime_ns": [i.mtime_ns for i in items], "sha256": [i.sha256 for i in items]}))
    reads = read_many(items, runtime.catalog)
    archived = archive_reads(runtime.settings.archive, reads)
    reviewed = review_run(reads, runtime.catalog, warehouse_context(runtime), Period(2021, 11), runtime.settings.tz)
    result = load(runtime, reviewed, archived, pulled)
    assert result.skipped == [items[0].sha256] and result.submission_ids == {}
    summary = write_receipts(runtime, runtime.settings.archive, result, pulled)
    assert summary.skipped_other_run == 1
    with runtime.engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM submission")).scalar_one() == 1
        assert conn.execute(text("SELECT COUNT(*) FROM value_history")).scalar_one() == 3


def test_a_reader_crash_rejects_that_file_only_and_names_it(runtime, monkeypatch):
    import tasks.read_files as steps

    real = steps.read_form_columns

    def flaky(data, name, limits):  # noqa: ANN001, ANN202
        if name == "boom.csv":
            raise RuntimeError("unexpected layout")
        return real(data, name, limits)

    monkeypatch.setattr(steps, "read_form_columns", flaky)
    write_csv(inbox(runtime), "invest", "sept.csv", SEPT, period="2021-09")
    write_csv(inbox(runtime), "finance", "boom.csv", [("fiscal_revenue", 1, 2)], period="2021-09")
    s = run_intake(runtime)
    assert status_of(s, "sept.csv") == "accepted"
    r = next(r for r in s.receipts if r["file"] == "boom.csv")
    assert r["status"] == "rejected" and r["conflicts"][0]["code"] == "E_FILE_UNREADABLE"
    assert "unexpected layout" in r["conflicts"][0]["message_en"]


def test_inbox_and_archive_can_be_urls(runtime, monkeypatch):
    """fsspec: an s3:// or sftp:// inbox works like a folder; here the in-memory filesystem stands in."""
    import fsspec

    from township.settings import get_settings

    fs = fsspec.filesystem("memory")
    fs.pipe("/inbox/invest/sept.csv", (
        "reporter_code,period,indicator_code,month_value,ytd_value\n"
        "invest,2021-09,investment_funds,1.0,8.0\n").encode())
    monkeypatch.setenv("TOWNSHIP_INBOX", "memory://inbox")
    monkeypatch.setenv("TOWNSHIP_ARCHIVE", "memory://archive")
    get_settings.cache_clear()
    from warehouse.runtime import open_runtime

    rt = open_runtime()
    s = run_intake(rt)
    assert (s.accepted, s.imported) == (1, 1)
    archived = [p for p in fs.find("/archive") if p.endswith("-sept.csv")]
    assert archived and fs.exists(archived[0] + ".receipt.json")
    assert run_intake(rt).files_new == 0
    fs.rm("/inbox", recursive=True)
    fs.rm("/archive", recursive=True)
    rt.engine.dispose()


def test_a_run_in_several_batches_loads_as_one_would(runtime):
    """Batches bound memory; the September batch is loaded before October's is checked against it."""
    write_csv(inbox(runtime), "invest", "sept.csv", SEPT, period="2021-09",
              received=dt.datetime(2021, 10, 3, tzinfo=CST))
    write_csv(inbox(runtime), "invest", "oct.csv", OCT)
    write_csv(inbox(runtime), "finance", "oct.csv", [("fiscal_revenue", 600, 5400)])
    s = run_intake(runtime, batch_files=1)
    assert (s.files_new, s.accepted, s.imported) == (3, 3, 7)
    assert current(runtime, "invest", "2021-10")["investment_funds"] == pytest.approx((1.2, 9.2))
    with runtime.engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM inbox_file")).scalar_one() == 3
