"""Intake reads forms in worker processes (tasks/intake_pipeline.read_files): what a reporter gets back is the
same as when read in the intake's own process: coded conflicts naming the file and the cell, a reader crash
rejecting that file only, the limits of the run's settings (not the worker's environment)."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

import tasks.intake_pipeline
import tasks.read_files
from tasks.pipeline import stop_worker_processes
from tests.intake_helpers import HEADER, run_intake, write_csv
from tests.test_hostile_files import SHEET, _filler, _good_form, _rezip

SEPT = [("investment_funds", 1.0, 8.0), ("investment_funds_yrd", 0.5, 3.0), ("projects_signed", 2, 15)]


@pytest.fixture
def forked_reads(monkeypatch, tmp_path):
    """One file per read call, so that a run of a few files reads in the worker processes; the workers are
    forked after the test's own monkeypatches (a fork inherits them) and stopped after the test (so no later
    test inherits them). Yields a function giving the process ids that parsed each file."""
    monkeypatch.setattr(tasks.intake_pipeline, "READ_CHUNK", 1)
    stop_worker_processes()
    pids = tmp_path / "parsed-by"
    real = tasks.read_files.parse_one

    def recorded(item, limits):  # noqa: ANN001, ANN202
        with open(pids, "a", encoding="utf-8") as f:
            f.write(f"{item.name}\t{os.getpid()}\n")
        return real(item, limits)

    monkeypatch.setattr(tasks.read_files, "parse_one", recorded)
    yield lambda: dict(line.split("\t") for line in pids.read_text(encoding="utf-8").splitlines())
    stop_worker_processes()


def _receipt(summary, name: str) -> dict:
    return next(r for r in summary.receipts if r["file"] == name)


def test_files_are_parsed_in_worker_processes_and_answered_as_before(runtime, forked_reads):
    inbox = Path(runtime.settings.inbox)
    write_csv(inbox, "invest", "sept.csv", SEPT, period="2021-09")
    write_csv(inbox, "finance", "typo.csv", [("fiscal_revenue", "1O0", 500)], period="2021-09")
    (inbox / "econ").mkdir()
    (inbox / "econ" / "good.xlsx").write_bytes(_good_form())
    (inbox / "econ" / "bomb.xlsx").write_bytes(_rezip(_good_form(), {SHEET: _filler(250 * 2**20)}))
    write_csv(inbox, "nobody", "lost.csv", [("projects_signed", 3, 18)], reporter="invest", period="2021-09")

    s = run_intake(runtime)

    parsed_by = forked_reads()
    assert set(parsed_by) == {"sept.csv", "typo.csv", "good.xlsx", "bomb.xlsx", "lost.csv"}
    assert str(os.getpid()) not in parsed_by.values()
    assert _receipt(s, "sept.csv")["status"] == "accepted" and _receipt(s, "good.xlsx")["status"] == "accepted"
    typo = _receipt(s, "typo.csv")["conflicts"]
    assert [(c["code"], c["cell"]) for c in typo if c["severity"] == "error"] == [("E_VALUE_NOT_NUMBER", "D2")]
    bomb = _receipt(s, "bomb.xlsx")["conflicts"]
    assert [c["code"] for c in bomb] == ["E_FILE_TOO_LARGE"] and "TOWNSHIP_MAX_UNCOMPRESSED_MB" in bomb[0]["expected"]
    # placed against the catalog in the intake's process: the folder names no reporter
    lost = _receipt(s, "lost.csv")["conflicts"]
    assert [c["code"] for c in lost] == ["E_WRONG_FOLDER"] and lost[0]["expected"] == "<inbox>/invest/"


def test_a_reader_crash_in_a_worker_rejects_that_file_only_and_names_it(runtime, forked_reads, monkeypatch):
    real = tasks.read_files.read_form_columns

    def flaky(data, name, limits):  # noqa: ANN001, ANN202
        if name == "boom.csv":
            raise RuntimeError("unexpected layout")
        return real(data, name, limits)

    monkeypatch.setattr(tasks.read_files, "read_form_columns", flaky)  # before the workers are forked
    write_csv(Path(runtime.settings.inbox), "invest", "sept.csv", SEPT, period="2021-09")
    write_csv(Path(runtime.settings.inbox), "finance", "boom.csv", [("fiscal_revenue", 1, 2)], period="2021-09")
    s = run_intake(runtime)
    assert str(os.getpid()) not in forked_reads().values()
    assert _receipt(s, "sept.csv")["status"] == "accepted"
    boom = _receipt(s, "boom.csv")
    assert boom["status"] == "rejected" and boom["conflicts"][0]["code"] == "E_FILE_UNREADABLE"
    assert "unexpected layout" in boom["conflicts"][0]["message_en"]


def test_workers_read_with_the_runs_limits_not_their_environment(runtime, forked_reads, monkeypatch):
    monkeypatch.setenv("TOWNSHIP_MAX_ROWS", "5000")  # what a worker would find, were it to look
    rt = replace(runtime, settings=runtime.settings.model_copy(update={"max_rows": 10}))
    inbox = Path(rt.settings.inbox)
    write_csv(inbox, "invest", "sept.csv", SEPT, period="2021-09")
    tall = inbox / "finance" / "tall.csv"
    tall.parent.mkdir()
    tall.write_text(HEADER + "finance,2021-09,fiscal_revenue,1,1,,\n" * 20, encoding="utf-8")
    s = run_intake(rt)
    assert str(os.getpid()) not in forked_reads().values()
    assert _receipt(s, "sept.csv")["status"] == "accepted"
    c = _receipt(s, "tall.csv")["conflicts"]
    assert [x["code"] for x in c] == ["E_FILE_TOO_LARGE"] and "10 rows (TOWNSHIP_MAX_ROWS)" in c[0]["expected"]
