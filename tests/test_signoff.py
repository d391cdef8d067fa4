"""Sign-off (审核签发) and the period lock, on SQLite and PostgreSQL: a vintage names who signed it, as what
and when (warehouse view, manifest, report footer); a draft freezes nothing; once a month is final (定报),
a correction waits as a pending revision until someone signs the revision (修订)."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import text

import cli.app
from tasks import intake_pipeline
from tasks.pipeline import PlainRunner
from tasks.publication import preview_township, publish_township, write_draft
from tasks.signoff import Signature
from tests.intake_helpers import run_intake, write_csv
from tests.test_snapshot import seed_october
from tests.values_factory import at
from township.periods import Period

OCT = Period(2021, 10)
CST = dt.timezone(dt.timedelta(hours=8))
SEPT_ROWS = [("investment_funds", 1.0, 8.0), ("investment_funds_yrd", 0.5, 3.0), ("projects_signed", 2, 15)]
OCT_ROWS = [("investment_funds", 1.2, 9.2), ("investment_funds_yrd", 0.4, 3.4), ("projects_signed", 1, 16)]
FIXED_ROWS = [("investment_funds", 1.5, 9.5), ("investment_funds_yrd", 0.4, 3.4), ("projects_signed", 1, 16)]


def rows(engine, sql: str, **params) -> list[tuple]:  # noqa: ANN001
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params).all()]


def folder_hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_a_signed_vintage_names_its_signer_in_the_view_the_manifest_and_the_report(runtime):
    seed_october(runtime.engine)
    sig = Signature("李明", final=False, comment="按时发布", signed_at=at(2021, 11, 10, 2))
    r = publish_township(runtime, "taoyuan", OCT, final=False, published_at=at(2021, 11, 10, 2), signature=sig)
    assert (r.vintage, r.status, r.decision, r.signer) == (1, "preliminary", "preliminary", "李明")
    got = set(rows(runtime.engine, "SELECT vintage, decision, signer, sign_comment FROM snapshot_history "
                                   "WHERE township_code = 'taoyuan' AND period = '2021-10'"))
    assert got == {(1, "preliminary", "李明", "按时发布")}
    assert rows(runtime.engine, "SELECT DISTINCT signer FROM monthly_indicators WHERE period = '2021-10'") == [("李明",)]
    manifest = json.loads((r.folder / "manifest.json").read_text(encoding="utf-8"))
    assert (manifest["signer"], manifest["decision"], manifest["sign_comment"]) == ("李明", "preliminary", "按时发布")
    assert manifest["signed_at"] == "2021-11-10 10:00（Asia/Shanghai）"
    for name in ("report.html", "report.md"):
        page = (r.folder / name).read_text(encoding="utf-8")
        assert "审核人：李明" in page and "签发时间：2021-11-10 10:00" in page and "签发：快报" in page, name


def test_a_draft_is_marked_and_freezes_nothing(runtime):
    seed_october(runtime.engine)
    preview = preview_township(runtime, "taoyuan", OCT)
    folder = write_draft(runtime, preview)
    assert folder == Path(runtime.settings.publish_dir) / "taoyuan" / "2021-10" / "draft"
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert "草稿" in page and "未经审核签发" in page and "52,345" in page
    assert not (folder / "manifest.json").exists()  # never mistaken for a published vintage
    assert rows(runtime.engine, "SELECT COUNT(*) FROM snapshot") == [(0,)]
    assert sorted(p.name for p in folder.parent.iterdir()) == ["draft"]
    write_draft(runtime, preview)  # replaced, not accumulated
    assert sorted(p.name for p in folder.parent.iterdir()) == ["draft"]


def test_a_revision_of_a_final_month_needs_a_signer(runtime):
    """The pipeline itself refuses to make a final month's pending correction current without a name."""
    write_csv(Path(runtime.settings.inbox), "invest", "sept.csv", SEPT_ROWS, period="2021-09")
    write_csv(Path(runtime.settings.inbox), "invest", "oct.csv", OCT_ROWS)
    run_intake(runtime)
    publish_township(runtime, "taoyuan", OCT, final=True, signature=Signature("王芳", final=True))
    write_csv(Path(runtime.settings.inbox), "invest", "oct-v2.csv", FIXED_ROWS,
              received=dt.datetime(2021, 12, 20, 10, tzinfo=CST))
    run_intake(runtime, today=Period(2021, 12))
    with pytest.raises(ValueError, match="need a signer"):
        publish_township(runtime, "taoyuan", OCT, final=False)
    assert rows(runtime.engine, "SELECT COUNT(*) FROM snapshot") == [(1,)]


class SignFinalBeforeLoad(PlainRunner):
    """Runs the intake steps, but signs the month off as final just before the load: a 定报 committed
    between the review (which read the locks) and the load."""

    def __init__(self, rt) -> None:  # noqa: ANN001
        super().__init__()
        self.rt = rt

    def __call__(self, step, *args):  # noqa: ANN001, ANN204
        if step is intake_pipeline.LOAD:
            publish_township(self.rt, "taoyuan", OCT, final=True, signature=Signature("王芳", final=True))
        return super().__call__(step, *args)


def test_a_final_signed_between_review_and_load_still_locks_the_month(runtime):
    inbox = Path(runtime.settings.inbox)
    write_csv(inbox, "invest", "sept.csv", SEPT_ROWS, period="2021-09")
    write_csv(inbox, "invest", "oct.csv", OCT_ROWS)
    run_intake(runtime)
    write_csv(inbox, "invest", "oct-v2.csv", FIXED_ROWS, received=dt.datetime(2021, 12, 20, 10, tzinfo=CST))
    s = intake_pipeline.run_intake(runtime, SignFinalBeforeLoad(runtime), today=Period(2021, 12))
    assert [r["status"] for r in s.receipts] == ["accepted_pending_revision"]
    assert [c["code"] for c in s.receipts[0]["conflicts"]] == ["W_PERIOD_FINAL"]
    assert rows(runtime.engine, "SELECT ytd_value FROM indicator_values WHERE reporter_code = 'invest' AND "
                                "period = '2021-10' AND indicator_code = 'investment_funds'") == [(pytest.approx(9.2),)]
    assert rows(runtime.engine, "SELECT COUNT(*) FROM pending_value WHERE applied_at IS NULL") == [(3,)]


@pytest.fixture
def township(monkeypatch, prefect_server):  # noqa: ARG001 - the flows report to this process's one server
    """The `township` command's functions, called as the command line calls them, their output recorded.
    (Not through CliRunner: it swaps sys.stdout under Prefect's log handlers, which then fail.) Through the
    `prefect_server` fixture, the temporary server the command starts is this process's one, started from the
    run's migrated Prefect database rather than migrating one of its own (~7 CPU-s)."""
    def invoke(command: str, **options) -> str:  # noqa: ANN003
        console = Console(width=250, no_color=True, record=True, file=io.StringIO())
        monkeypatch.setattr(cli.app, "console", console)
        getattr(cli.app, command)(**options)
        return console.export_text()
    return invoke


def test_a_correction_after_the_final_waits_until_a_revision_is_signed(runtime, township):
    inbox, published = Path(runtime.settings.inbox), Path(runtime.settings.publish_dir)
    write_csv(inbox, "invest", "sept.csv", SEPT_ROWS, period="2021-09")
    write_csv(inbox, "invest", "oct.csv", OCT_ROWS)
    run_intake(runtime)
    out = township("publish", period="2021-10", sign_off="王芳", final=True)
    assert "v1 final" in out
    v1 = published / "taoyuan" / "2021-10" / "v1"
    before = folder_hashes(v1)

    # The correction arrives after the 定报: stored, told so, not current.
    write_csv(inbox, "invest", "oct-v2.csv", FIXED_ROWS, received=dt.datetime(2021, 12, 20, 10, tzinfo=CST))
    s = run_intake(runtime, today=Period(2021, 12))
    receipt = s.receipts[0]
    assert receipt["status"] == "accepted_pending_revision"
    assert [c["code"] for c in receipt["conflicts"]] == ["W_PERIOD_FINAL"]
    assert "已定报" in receipt["conflicts"][0]["message_zh"] and "pending revision" in receipt["conflicts"][0]["message_en"]
    current = "SELECT month_value, ytd_value FROM indicator_values WHERE reporter_code = 'invest' " \
              "AND period = '2021-10' AND indicator_code = 'investment_funds'"
    assert rows(runtime.engine, current) == [(pytest.approx(1.2), pytest.approx(9.2))]
    assert rows(runtime.engine, "SELECT status FROM submissions WHERE file_name = 'oct-v2.csv'") == [
        ("accepted_pending_revision",)]

    status = township("status", period="2021-10")
    assert "pending revisions" in status and "oct-v2.csv" in status and "investment_funds" in status

    # Publishing without a signer: a draft showing the revision, nothing frozen, v1 untouched.
    out = township("publish", period="2021-10")
    assert "草稿" in out and "3 pending revisions" in out  # one file, three values
    draft = (published / "taoyuan" / "2021-10" / "draft" / "report.html").read_text(encoding="utf-8")
    assert "草稿" in draft and "9.50" in draft
    assert rows(runtime.engine, "SELECT COUNT(*) FROM snapshot") == [(1,)]
    assert rows(runtime.engine, current) == [(pytest.approx(1.2), pytest.approx(9.2))]
    assert folder_hashes(v1) == before

    # Signed: the correction becomes current and vintage 2 is a signed revision with its diff.
    out = township("publish", period="2021-10", sign_off="王芳", comment="县局同意修订")
    assert "v2 final" in out and "pending revisions made current" in out
    assert rows(runtime.engine, current) == [(pytest.approx(1.5), pytest.approx(9.5))]
    assert rows(runtime.engine, "SELECT vintage, status, decision, signer, comment FROM snapshot "
                                "ORDER BY vintage") == [(1, "final", "final", "王芳", None),
                                                        (2, "final", "revision", "王芳", "县局同意修订")]
    changed = rows(runtime.engine, "SELECT c.indicator_code, c.new_ytd_value, c.submission_ids FROM snapshot_change c "
                                   "JOIN snapshot s ON s.id = c.snapshot_id WHERE s.vintage = 2 "
                                   "AND c.indicator_code = 'investment_funds'")
    fixed_id = rows(runtime.engine, "SELECT id FROM submission WHERE file_name = 'oct-v2.csv'")[0][0]
    assert changed == [("investment_funds", pytest.approx(9.5), str(fixed_id))]
    v2 = (published / "taoyuan" / "2021-10" / "v2" / "report.html").read_text(encoding="utf-8")
    assert "定报（修订）" in v2 and "审核人：王芳" in v2 and "签发：修订" in v2
    assert folder_hashes(v1) == before
    assert "pending revisions" not in township("status", period="2021-10")
