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
