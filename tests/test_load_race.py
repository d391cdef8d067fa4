"""Two intake runs that read overlapping files load them at the same moment: each file and each value
lands exactly once (SQLite and PostgreSQL). The loads are released together by a Barrier, as two
workers whose runs overlap would be; the database lock decides the order, whatever it is."""

from __future__ import annotations

import datetime as dt
import threading

import pandas as pd
from sqlalchemy import text

from tests.review_helpers import TZ, csv_form, incoming, review_files
from warehouse.intake_io import load_run

SEPT = csv_form([("investment_funds", 1.0, 8.0), ("investment_funds_yrd", 0.5, 3.0), ("projects_signed", 2, 15)],
                period="2021-09")
OCT = csv_form([("investment_funds", 1.2, 9.2), ("investment_funds_yrd", 0.4, 3.4), ("projects_signed", 1, 16)])
FINANCE = csv_form([("fiscal_revenue", 600, 5400)], reporter="finance")


def prepared_load(catalog, files: list) -> dict:  # noqa: ANN001
    """What one run hands to load_run after its review: submissions, conflicts, values, inbox rows."""
    reviewed = review_files(files, catalog)
    assert set(reviewed.submissions["status"]) == {"accepted"}
    subs = reviewed.submissions.assign(archive_path=lambda s: "archive/" + s["path"])
    inbox = pd.DataFrame({"path": [f.path for f in files], "size": [f.size for f in files],
                          "mtime_ns": [f.mtime_ns for f in files], "sha256": [f.sha256 for f in files]})
    return {"submissions": subs, "conflicts": reviewed.conflicts, "values": reviewed.values, "inbox_rows": inbox}


def test_two_overlapping_loads_released_together_load_each_file_and_value_once(runtime):
    received = dt.datetime(2021, 10, 3, 9, tzinfo=TZ)
    sept, oct_ = incoming("invest", "sept.csv", SEPT, received), incoming("invest", "oct.csv", OCT)
    finance = incoming("finance", "oct.csv", FINANCE)
    runs = [prepared_load(runtime.catalog, [sept, oct_]), prepared_load(runtime.catalog, [oct_, finance])]
    start, results, errors = threading.Barrier(2), [None, None], []

    def load(i: int) -> None:
        start.wait()
        try:
            results[i] = load_run(runtime.engine, now=dt.datetime.now(dt.timezone.utc), **runs[i])
        except Exception as e:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=load, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    # the shared file was loaded by exactly one run and skipped by the other
    loaded_by = [oct_.sha256 in r.submission_ids for r in results]
    skipped_by = [oct_.sha256 in r.skipped for r in results]
    assert sorted(loaded_by) == [False, True] and skipped_by == [not x for x in loaded_by]
    with runtime.engine.connect() as conn:
        subs = conn.execute(text("SELECT sha256, COUNT(*) FROM submission GROUP BY sha256")).all()
        assert sorted(n for _, n in subs) == [1, 1, 1]
        assert {s for s, _ in subs} == {sept.sha256, oct_.sha256, finance.sha256}
        values = conn.execute(text(
            "SELECT reporter_code, period, indicator_code, COUNT(*), SUM(CASE WHEN valid_to IS NULL THEN 1 ELSE 0 END) "
            "FROM value_history GROUP BY reporter_code, period, indicator_code")).all()
        assert len(values) == 7  # 3 September + 3 October + finance's 1
        assert {(n, current) for *_, n, current in values} == {(1, 1)}
        ytd = conn.execute(text("SELECT ytd_value FROM value_history WHERE reporter_code = 'invest' "
                                "AND period = '2021-10' AND indicator_code = 'investment_funds'")).scalar_one()
        assert ytd == 9.2
        assert conn.execute(text("SELECT COUNT(*) FROM inbox_file")).scalar_one() == 3
