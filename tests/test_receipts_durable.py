"""Receipts are committed with the load and written from the warehouse, so none is ever lost; one file
that cannot be archived or answered never stops the others (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path

from sqlalchemy import text

from tasks import intake_pipeline
from tasks.pipeline import PLAIN, PlainRunner, Step
from tests.intake_helpers import run_intake, write_csv
from township.periods import Period

SEPT = [("investment_funds", 1.0, 8.0), ("projects_signed", 2, 15)]


class StopBefore:
    """A runner that dies when it reaches one step, as a run killed there would (the load committed)."""

    def __init__(self, step: Step) -> None:
        self.step = step

    def __call__(self, step: Step, *args):  # noqa: ANN002, ANN204
        if step is self.step:
            raise KeyboardInterrupt(f"killed before {step.name}")
        return PLAIN(step, *args)

    def map(self, step: Step, items, *args):  # noqa: ANN001, ANN002, ANN201
        return PLAIN.map(step, items, *args)


def receipts_in(archive: Path) -> list[Path]:
    return sorted(p for p in archive.rglob("*.receipt.json") if p.is_file())


def pending(rt) -> int:
    with rt.engine.connect() as conn:
        return conn.execute(text("SELECT COUNT(*) FROM submission WHERE receipt_written_at IS NULL")).scalar_one()


def test_a_run_stopped_after_the_load_leaves_receipts_that_the_next_run_writes(runtime):
    inbox, archive = Path(runtime.settings.inbox), Path(runtime.settings.archive)
    write_csv(inbox, "invest", "sept.csv", SEPT, period="2021-09")
    write_csv(inbox, "finance", "sept.csv", [("fiscal_revenue", 600, 5400)], period="2021-09")
    write_csv(inbox, "agri", "bad.csv", [("fiscal_revenue", 1, 2)], period="2021-09")  # not agri's indicator
    try:
        intake_pipeline.run_intake(runtime, StopBefore(intake_pipeline.RECEIPTS), today=Period(2021, 11))
    except KeyboardInterrupt:
        pass
    assert receipts_in(archive) == [] and pending(runtime) == 3  # loaded, not yet answered

    s = run_intake(runtime)  # nothing new in the inbox: the run completes the missing receipts
    assert (s.files_new, s.receipts_completed, s.receipts_pending) == (0, 3, 0)
    assert pending(runtime) == 0
    got = {json.loads(p.read_text(encoding="utf-8"))["path"]: json.loads(p.read_text(encoding="utf-8"))
           for p in receipts_in(archive)}
    assert set(got) == {"invest/sept.csv", "finance/sept.csv", "agri/bad.csv"}
    assert got["invest/sept.csv"]["status"] == "accepted" and got["invest/sept.csv"]["counts"]["imported"] == 2
    bad = got["agri/bad.csv"]
    assert bad["status"] == "rejected" and bad["conflicts"][0]["code"] == "E_INDICATOR_NOT_OWNED"
    assert bad["conflicts"][0]["cell"]  # names the cell, as a receipt written in the run would
    assert run_intake(runtime).receipts_completed == 0  # written once


def test_a_receipt_that_cannot_be_written_stays_pending_and_the_others_are_written(runtime):
    inbox, archive = Path(runtime.settings.inbox), Path(runtime.settings.archive)
    write_csv(inbox, "invest", "sept.csv", SEPT, period="2021-09")
    write_csv(inbox, "finance", "sept.csv", [("fiscal_revenue", 600, 5400)], period="2021-09")
    try:
        intake_pipeline.run_intake(runtime, StopBefore(intake_pipeline.RECEIPTS), today=Period(2021, 11))
    except KeyboardInterrupt:
        pass
    # Something occupies invest's receipt path (as a full or broken disk would refuse the write).
    raw = next(archive.glob("invest/2021-09/*-sept.csv"))
    blocker = Path(f"{raw}.receipt.json")
    blocker.mkdir()
    s = run_intake(runtime)
    assert (s.receipts_completed, s.receipts_pending) == (1, 1)
    assert [p.parent.parent.name for p in receipts_in(archive)] == ["finance"]
    assert not list(archive.rglob("*.tmp-*"))  # no half-written receipt left behind
    blocker.rmdir()
    assert run_intake(runtime).receipts_completed == 1
    assert json.loads(blocker.read_text(encoding="utf-8"))["status"] == "accepted"
    assert pending(runtime) == 0


def test_a_file_that_cannot_be_archived_is_deferred_alone_and_taken_next_run(runtime):
    inbox, archive = Path(runtime.settings.inbox), Path(runtime.settings.archive)
    write_csv(inbox, "invest", "sept.csv", SEPT, period="2021-09")
    write_csv(inbox, "finance", "sept.csv", [("fiscal_revenue", 600, 5400)], period="2021-09")
    (archive / "invest").write_text("not a folder")  # invest's archive folder cannot be created
    s = run_intake(runtime)
    assert (s.accepted, s.deferred) == (1, 1)
    deferred = next(r for r in s.receipts if r["reporter"] == "invest")
    assert deferred["status"] == "deferred" and deferred["conflicts"][0]["code"] == "E_ARCHIVE_FAILED"
    assert "NotADirectoryError" in deferred["conflicts"][0]["found"] or "FileExistsError" in \
        deferred["conflicts"][0]["found"]
    with runtime.engine.connect() as conn:
        assert conn.execute(text("SELECT reporter_code FROM submission")).scalars().all() == ["finance"]
        assert conn.execute(text("SELECT COUNT(*) FROM inbox_file WHERE path LIKE 'invest/%'")).scalar_one() == 0
    (archive / "invest").unlink()
    again = run_intake(runtime)
    assert (again.files_new, again.accepted, again.deferred) == (1, 1, 0)
    assert (archive / "invest" / "2021-09").is_dir()


def test_a_receipt_names_the_indicator_and_the_local_time_of_receipt(runtime):
    inbox, archive = Path(runtime.settings.inbox), Path(runtime.settings.archive)
    write_csv(inbox, "invest", "oct.csv", [("projects_signed", -1, 15)])  # received 2021-11-03 09:00 +08:00
    run_intake(runtime)
    md = next(archive.rglob("*-oct.csv.receipt.md")).read_text(encoding="utf-8")
    assert "2021-11-03 09:00（Asia/Shanghai）" in md
    assert "签约项目数 (projects_signed)" in md and "E_NEGATIVE" in md
    js = json.loads(next(archive.rglob("*-oct.csv.receipt.json")).read_text(encoding="utf-8"))
    assert js["received_at"] == "2021-11-03T01:00:00+00:00"  # the machine-readable time stays UTC


def test_receipts_the_disk_could_not_flush_stay_pending_and_the_next_run_writes_them(runtime, monkeypatch):
    """Receipt files are flushed to disk once per batch (syncfs) before they count as written: when the
    disk reports a lost write then, none of the batch counts, and the next run writes them all again."""
    import errno

    import tasks.receipts

    inbox, archive = Path(runtime.settings.inbox), Path(runtime.settings.archive)
    write_csv(inbox, "invest", "sept.csv", SEPT, period="2021-09")
    write_csv(inbox, "finance", "sept.csv", [("fiscal_revenue", 600, 5400)], period="2021-09")
    flushed = []

    def lost_write(root: str) -> None:
        flushed.append(root)
        raise OSError(errno.EIO, "syncfs: Input/output error")
    monkeypatch.setattr(tasks.receipts, "make_durable", lost_write)
    s = run_intake(runtime)
    assert s.accepted == 2 and (s.receipts_completed, s.receipts_pending) == (0, 2)
    assert pending(runtime) == 2 and flushed  # loaded (exactly once), answered on the next run
    monkeypatch.undo()
    s = run_intake(runtime)
    assert (s.files_new, s.receipts_completed, s.receipts_pending) == (0, 2, 0) and pending(runtime) == 0
    assert len(receipts_in(archive)) == 2


def test_an_archive_the_disk_could_not_flush_defers_the_batch_and_nothing_is_loaded(runtime, monkeypatch):
    """Raw files are flushed to disk before the load records them; a lost write reported then defers the
    whole batch (which file was lost is unknown): nothing loaded, nothing marked seen, the next run takes it."""
    import errno

    import tasks.archiving

    inbox = Path(runtime.settings.inbox)
    write_csv(inbox, "invest", "sept.csv", SEPT, period="2021-09")
    write_csv(inbox, "finance", "sept.csv", [("fiscal_revenue", 600, 5400)], period="2021-09")

    def lost_write(root: str) -> None:
        raise OSError(errno.EIO, "syncfs: Input/output error")
    monkeypatch.setattr(tasks.archiving, "make_durable", lost_write)
    s = run_intake(runtime)
    assert s.deferred == 2 and s.accepted == 0
    with runtime.engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM value_history")).scalar_one() == 0
    monkeypatch.undo()
    s = run_intake(runtime)
    assert s.files_new == 2 and s.accepted == 2 and s.deferred == 0


class AnotherRunAnswersFirst:
    """A runner that, when this run reaches its receipts, lets another run (with nothing new of its own) write every
    pending receipt first, this run's included, as a run taking other files at that moment does."""

    def __init__(self, rt) -> None:  # noqa: ANN001
        self.rt = rt

    def __call__(self, step: Step, *args):  # noqa: ANN002, ANN204
        if step is intake_pipeline.RECEIPTS:
            assert run_intake(self.rt).receipts_completed == 2  # the other run wrote this run's two receipts
        return PLAIN(step, *args)

    def map(self, step: Step, items, *args):  # noqa: ANN001, ANN002, ANN201
        return PLAIN.map(step, items, *args)


def test_a_run_whose_receipts_another_run_wrote_first_still_lists_each_file_it_loaded(runtime):
    """Two intakes at once (e.g. partitions and a whole inbox): the run that loaded a file reports it accepted, with
    its counts, though the other run wrote the receipt first; the files on disk are the same."""
    inbox, archive = Path(runtime.settings.inbox), Path(runtime.settings.archive)
    write_csv(inbox, "invest", "sept.csv", SEPT, period="2021-09")
    write_csv(inbox, "finance", "sept.csv", [("fiscal_revenue", 600, 5400)], period="2021-09")
    s = intake_pipeline.run_intake(runtime, AnotherRunAnswersFirst(runtime), today=Period(2021, 11))
    assert sorted(r["path"] for r in s.receipts if r["status"] == "accepted") == ["finance/sept.csv", "invest/sept.csv"]
    assert (s.accepted, s.imported, s.receipts_pending) == (2, 3, 0)
    assert len(receipts_in(archive)) == 2 and pending(runtime) == 0


def replies_in(inbox: Path) -> list[Path]:
    return sorted(p for p in inbox.rglob("回执/*.receipt.json") if p.is_file())


def test_a_run_in_batches_answers_each_file_once_while_the_next_batch_loads(runtime):
    """A batch's receipts are written (in a worker process) while the next batch is read and loaded: every file
    is answered once, beside its archived copy and in its reporter's 回执 folder, and a receipt an earlier stopped
    run left pending is completed once, not taken for one of this run's nor written twice."""
    inbox, archive = Path(runtime.settings.inbox), Path(runtime.settings.archive)
    write_csv(inbox, "finance", "aug.csv", [("fiscal_revenue", 500, 4800)], period="2021-08")
    try:
        intake_pipeline.run_intake(runtime, StopBefore(intake_pipeline.RECEIPTS), today=Period(2021, 11))
    except KeyboardInterrupt:
        pass
    assert pending(runtime) == 1
    write_csv(inbox, "invest", "sept.csv", SEPT, period="2021-09")
    write_csv(inbox, "finance", "sept.csv", [("fiscal_revenue", 600, 5400)], period="2021-09")
    write_csv(inbox, "invest", "oct.csv", [("investment_funds", 1.2, 9.2)])
    s = run_intake(runtime, batch_files=1)
    assert (s.files_new, s.accepted, s.imported, s.receipts_completed, s.receipts_pending) == (3, 3, 4, 1, 0)
    assert sorted(r["path"] for r in s.receipts) == ["finance/sept.csv", "invest/oct.csv", "invest/sept.csv"]
    assert pending(runtime) == 0
    assert len(receipts_in(archive)) == 4 and len(replies_in(inbox)) == 4
    oct_receipt = json.loads(next(archive.rglob("*-oct.csv.receipt.json")).read_text(encoding="utf-8"))
    assert oct_receipt["status"] == "accepted" and oct_receipt["counts"]["imported"] == 1
    assert run_intake(runtime).receipts_completed == 0  # each written once


class FailSecondLoad(PlainRunner):
    """A runner whose second batch's load fails (the warehouse gone), the first batch's receipts still in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.loads = 0

    def __call__(self, step: Step, *args):  # noqa: ANN002, ANN204
        if step is intake_pipeline.LOAD:
            self.loads += 1
            if self.loads == 2:
                raise ConnectionError("warehouse unreachable")
        return super().__call__(step, *args)


def test_a_run_that_fails_in_a_later_batch_has_answered_the_batches_it_loaded(runtime):
    """The run waits for a loaded batch's receipts before it fails: its reporters are answered; the file of the
    batch that failed is taken, and answered, by the next run."""
    inbox, archive = Path(runtime.settings.inbox), Path(runtime.settings.archive)
    write_csv(inbox, "invest", "sept.csv", SEPT, period="2021-09")
    write_csv(inbox, "finance", "sept.csv", [("fiscal_revenue", 600, 5400)], period="2021-09")
    settings = runtime.settings.model_copy(update={"batch_files": 1})
    try:
        intake_pipeline.run_intake(replace(runtime, settings=settings), FailSecondLoad(), today=Period(2021, 11))
    except ConnectionError:
        pass
    assert pending(runtime) == 0 and len(receipts_in(archive)) == 1 and len(replies_in(inbox)) == 1
    s = run_intake(runtime)
    assert (s.files_new, s.accepted, s.receipts_completed) == (1, 1, 0)
    assert len(receipts_in(archive)) == 2 and pending(runtime) == 0


def test_a_file_that_cannot_be_archived_while_its_batch_is_reviewed_is_deferred_alone(runtime):
    """In a run of several batches a batch is archived (in a worker process) while it is reviewed: a file the
    archive refuses is deferred alone, and the rest of its batch is reviewed again without it, then stored."""
    inbox, archive = Path(runtime.settings.inbox), Path(runtime.settings.archive)
    write_csv(inbox, "invest", "sept.csv", SEPT, period="2021-09")
    write_csv(inbox, "finance", "sept.csv", [("fiscal_revenue", 600, 5400)], period="2021-09")
    write_csv(inbox, "finance", "oct.csv", [("fiscal_revenue", 700, 6100)],
              received=dt.datetime(2021, 11, 4, 9, 0, tzinfo=dt.timezone.utc))  # the second batch
    (archive / "invest").write_text("not a folder")  # invest's archive folder cannot be created
    s = run_intake(runtime, batch_files=2)
    assert (s.files_new, s.accepted, s.deferred, s.imported) == (3, 2, 1, 2)
    assert next(r for r in s.receipts if r["reporter"] == "invest")["conflicts"][0]["code"] == "E_ARCHIVE_FAILED"
    with runtime.engine.connect() as conn:
        assert sorted(conn.execute(text("SELECT period FROM submission WHERE reporter_code = 'finance'"))
                      .scalars().all()) == ["2021-09", "2021-10"]
        assert conn.execute(text("SELECT COUNT(*) FROM submission WHERE reporter_code = 'invest'")).scalar_one() == 0
    assert len(receipts_in(archive)) == 2 and pending(runtime) == 0
    (archive / "invest").unlink()
    again = run_intake(runtime)
    assert (again.files_new, again.accepted, again.deferred) == (1, 1, 0)
