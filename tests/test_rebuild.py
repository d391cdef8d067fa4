"""The warehouse can be rebuilt from the archive alone, with the same result."""

from __future__ import annotations

import datetime as dt

from tests.intake_helpers import run_intake, write_csv
from tasks.rebuild import compare_warehouses, rebuild_into
from township.periods import Period
from warehouse.runtime import open_runtime

CST = dt.timezone(dt.timedelta(hours=8))


def test_rebuild_from_archive_matches_live(runtime, tmp_path):
    inbox = runtime.settings.inbox
    from pathlib import Path

    write_csv(Path(inbox), "invest", "sept.csv", [("investment_funds", 1.0, 8.0), ("projects_signed", 2, 15)],
              period="2021-09")
    write_csv(Path(inbox), "invest", "oct.csv", [("investment_funds", 1.2, 9.2), ("projects_signed", 1, 16)])
    write_csv(Path(inbox), "econ", "bad.csv", [("trade_sales", "12%", 100)])
    run_intake(runtime)
    write_csv(Path(inbox), "invest", "oct-fix.csv", [("investment_funds", 1.3, 9.3), ("projects_signed", 1, 16)],
              received=dt.datetime(2021, 11, 12, tzinfo=CST))
    run_intake(runtime)

    target = open_runtime(warehouse_url=f"sqlite:///{tmp_path / 'rebuilt.db'}")
    summary = rebuild_into(target, runtime.settings.archive, Period(2021, 11))
    assert summary.files_new == 4 and summary.rejected == 1
    diff = compare_warehouses(runtime.engine, target.engine)
    assert diff["identical"], diff
    assert diff["values"]["live"] == 4 and diff["submissions"]["live"] == 4
    target.engine.dispose()


def test_compare_reports_a_difference(runtime, tmp_path):
    from pathlib import Path

    write_csv(Path(runtime.settings.inbox), "invest", "sept.csv", [("investment_funds", 1.0, 8.0)], period="2021-09")
    run_intake(runtime)
    empty = open_runtime(warehouse_url=f"sqlite:///{tmp_path / 'empty.db'}")
    diff = compare_warehouses(runtime.engine, empty.engine)
    assert not diff["identical"] and diff["values"]["only_live"] == 1
    empty.engine.dispose()


def test_a_rebuild_keeps_the_period_lock_of_the_signed_months(runtime, tmp_path):
    """After a 定报, a correction waits as a pending revision; a signed revision made one current; a later
    correction waits again; November's cumulative follows the revised October. A rebuild of this untouched
    warehouse replays the sign-offs with the files: nothing differs, and the waiting correction still waits."""
    from pathlib import Path

    from tasks.publication import publish_township
    from tasks.signoff import Signature

    inbox = Path(runtime.settings.inbox)
    oct_ = [("investment_funds", 1.2, 9.2), ("projects_signed", 1, 16)]
    write_csv(inbox, "invest", "sept.csv", [("investment_funds", 1.0, 8.0), ("projects_signed", 2, 15)],
              period="2021-09")
    write_csv(inbox, "invest", "oct.csv", oct_)
    run_intake(runtime)
    publish_township(runtime, "taoyuan", Period(2021, 10), final=True, signature=Signature("王芳", final=True))
    write_csv(inbox, "invest", "oct-v2.csv", [("investment_funds", 1.5, 9.5), ("projects_signed", 1, 16)],
              received=dt.datetime(2021, 12, 2, 10, tzinfo=CST))
    run_intake(runtime, today=Period(2021, 12))
    publish_township(runtime, "taoyuan", Period(2021, 10), final=True, signature=Signature("王芳"))  # 修订
    write_csv(inbox, "invest", "nov.csv", [("investment_funds", 1.0, 10.5), ("projects_signed", 1, 17)],
              period="2021-11", received=dt.datetime(2021, 12, 3, 10, tzinfo=CST))
    write_csv(inbox, "invest", "oct-v3.csv", [("investment_funds", 1.7, 9.7), ("projects_signed", 1, 16)],
              received=dt.datetime(2021, 12, 4, 10, tzinfo=CST))
    s = run_intake(runtime, today=Period(2021, 12))
    assert sorted(r["status"] for r in s.receipts) == ["accepted", "accepted_pending_revision"], [c["code"] + c["message_en"] for r in s.receipts for c in r["conflicts"]]

    target = open_runtime(warehouse_url=f"sqlite:///{tmp_path / 'rebuilt.db'}")
    summary = rebuild_into(target, runtime.settings.archive, Period(2021, 12), signoffs_of=runtime.engine)
    assert (summary.files_new, summary.rejected, summary.accepted_pending_revision) == (5, 0, 2)
    diff = compare_warehouses(runtime.engine, target.engine)
    assert diff["identical"], diff
    assert diff["pending"] == {"live": 4, "rebuilt": 4, "only_live": 0, "only_rebuilt": 0, "different": 0}
    with target.engine.connect() as conn:
        from sqlalchemy import text

        current = conn.execute(text("SELECT ytd_value FROM indicator_values WHERE period = '2021-10' "
                                    "AND indicator_code = 'investment_funds'")).scalar_one()
        waiting = conn.execute(text("SELECT p.ytd_value FROM pending_value p JOIN submission s "
                                    "ON s.id = p.submission_id WHERE s.file_name = 'oct-v3.csv' AND "
                                    "p.indicator_code = 'investment_funds' AND p.applied_at IS NULL")).scalar_one()
    assert (current, waiting) == (9.5, 9.7)  # the signed revision is current, the later correction waits
    target.engine.dispose()
