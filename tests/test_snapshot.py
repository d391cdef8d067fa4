"""Vintages: frozen once, never changed, a new one only when the figures change; as-of reads."""

from __future__ import annotations

import hashlib
import threading

import pandas as pd
import pytest
from sqlalchemy import text

from tasks.publication import compute_step, load_values, publish_township
from tasks.snapshot import freeze_vintage, snapshot_as_of
from tests.values_factory import at, submit
from township.periods import Period

OCT = Period(2021, 10)


def seed_october(engine) -> dict[str, int]:  # noqa: ANN001
    """A small October 2021: econ (with last year), invest, two villages."""
    ids = {}
    submit(engine, "econ", "2020-10", {"fixed_asset_investment": (None, 46600.0)}, at(2020, 11, 3))
    submit(engine, "econ", "2021-09", {"fixed_asset_investment": (None, 47000.0)}, at(2021, 10, 3))
    ids["econ"] = submit(engine, "econ", "2021-10", {"fixed_asset_investment": (None, 52345.0),
                                                     "industrial_output": (8000.0, 80000.0)}, at(2021, 11, 3))
    submit(engine, "invest", "2021-10", {"investment_funds": (1.2, 10.52), "investment_funds_yrd": (0.4, 4.1)},
           at(2021, 11, 4))
    submit(engine, "V01", "2021-10", {"village_collective_income": (2.0, 20.0)}, at(2021, 11, 4))
    submit(engine, "V02", "2021-10", {"village_collective_income": (3.0, 30.0)}, at(2021, 11, 5))
    return ids


def rows(engine, sql: str, **params) -> list[tuple]:  # noqa: ANN001
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params).all()]


def folder_hashes(folder) -> dict[str, str]:  # noqa: ANN001
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_first_publish_freezes_vintage_1_with_its_figures(runtime):
    seed_october(runtime.engine)
    r = publish_township(runtime, "taoyuan", OCT, final=False, published_at=at(2021, 11, 10, 1))
    assert (r.vintage, r.status, r.created, r.period_label) == (1, "preliminary", True, "1-10月")
    got = rows(runtime.engine, "SELECT indicator_code, month_value, ytd_value, yoy_pct, reporters_reported "
                               "FROM monthly_indicators WHERE period = '2021-10' AND indicator_code IN "
                               "('fixed_asset_investment', 'village_collective_income') ORDER BY indicator_code")
    assert got == [("fixed_asset_investment", 5345.0, 52345.0, 12.3, 1),
                   ("village_collective_income", 5.0, 50.0, None, 2)]
    assert r.folder.parts[-3:] == ("taoyuan", "2021-10", "v1") and (r.folder / "manifest.json").is_file()
    assert r.narrative.startswith("1-10月完成固定资产投资52,345万元，同比增长12.3%")
    assert r.check_failures.empty


def test_publishing_again_with_no_change_creates_nothing(runtime):
    seed_october(runtime.engine)
    first = publish_township(runtime, "taoyuan", OCT, final=False, published_at=at(2021, 11, 10, 1))
    before = folder_hashes(first.folder)
    again = publish_township(runtime, "taoyuan", OCT, final=False)
    assert (again.snapshot_id, again.vintage, again.created) == (first.snapshot_id, 1, False)
    assert rows(runtime.engine, "SELECT COUNT(*) FROM snapshot") == [(1,)]
    assert folder_hashes(first.folder) == before
    assert sorted(p.name for p in first.folder.parent.iterdir()) == ["v1"]


def test_a_late_correction_makes_vintage_2_with_the_diff_and_vintage_1_never_changes(runtime):
    seed_october(runtime.engine)
    v1 = publish_township(runtime, "taoyuan", OCT, final=False, published_at=at(2021, 11, 10, 1))
    v1_files = folder_hashes(v1.folder)
    v1_rows = rows(runtime.engine, "SELECT * FROM snapshot_value WHERE snapshot_id = :s ORDER BY indicator_code",
                   s=v1.snapshot_id)
    fix = submit(runtime.engine, "econ", "2021-10", {"fixed_asset_investment": (None, 53000.0),
                                                     "industrial_output": (8000.0, 80000.0)}, at(2021, 11, 20))
    v2 = publish_township(runtime, "taoyuan", OCT, final=False, published_at=at(2021, 11, 25, 1))
    assert (v2.vintage, v2.created) == (2, True)
    assert rows(runtime.engine, "SELECT indicator_code, old_month_value, new_month_value, old_ytd_value, "
                                "new_ytd_value, submission_ids FROM snapshot_change WHERE snapshot_id = :s",
                s=v2.snapshot_id) == [("fixed_asset_investment", 5345.0, 6000.0, 52345.0, 53000.0, str(fix))]
    assert folder_hashes(v1.folder) == v1_files
    assert rows(runtime.engine, "SELECT * FROM snapshot_value WHERE snapshot_id = :s ORDER BY indicator_code",
                s=v1.snapshot_id) == v1_rows
    assert rows(runtime.engine, "SELECT vintage, ytd_value FROM monthly_indicators "
                                "WHERE indicator_code = 'fixed_asset_investment'") == [(2, 53000.0)]
    report = (v2.folder / "report.md").read_text(encoding="utf-8")
    assert "与第1版相比的修订" in report and "| 固定资产投资 | 5,345 | 6,000 | 52,345 | 53,000 |" in report


def test_as_of_reads_reproduce_each_publication(runtime):
    seed_october(runtime.engine)
    publish_township(runtime, "taoyuan", OCT, final=False, published_at=at(2021, 11, 10, 1))
    submit(runtime.engine, "econ", "2021-10", {"fixed_asset_investment": (None, 53000.0)}, at(2021, 11, 20))
    publish_township(runtime, "taoyuan", OCT, final=True, published_at=at(2021, 11, 25, 1))

    def fai(as_of) -> list:  # noqa: ANN001
        df = snapshot_as_of(runtime.engine, "taoyuan", OCT, as_of)
        return df.loc[df["indicator_code"].eq("fixed_asset_investment"), ["vintage", "status", "ytd_value"]].values.tolist()

    assert fai(at(2021, 11, 9)) == []
    assert fai(at(2021, 11, 15)) == [[1, "preliminary", 52345.0]]
    assert fai(at(2021, 12, 1)) == [[2, "final", 53000.0]]


def test_final_after_preliminary_with_the_same_figures_is_a_new_vintage_then_stable(runtime):
    seed_october(runtime.engine)
    publish_township(runtime, "taoyuan", OCT, final=False, published_at=at(2021, 11, 10, 1))
    final = publish_township(runtime, "taoyuan", OCT, final=True, published_at=at(2021, 12, 20, 1))
    assert (final.vintage, final.status, final.created) == (2, "final", True)
    assert final.changes.empty
    again = publish_township(runtime, "taoyuan", OCT, final=False)
    assert (again.vintage, again.status, again.created) == (2, "final", False)


def test_a_part_above_its_total_is_stored_as_a_check_failure_and_shown_in_the_report(runtime):
    submit(runtime.engine, "invest", "2021-10", {"investment_funds": (1.0, 4.0), "investment_funds_yrd": (1.0, 4.5)},
           at(2021, 11, 4))
    r = publish_township(runtime, "taoyuan", OCT, final=False, published_at=at(2021, 11, 10, 1))
    assert rows(runtime.engine, "SELECT code, indicator_code FROM snapshot_check WHERE snapshot_id = :s "
                                "AND code = 'S_PART_EXCEEDS_TOTAL'", s=r.snapshot_id) == [
        ("S_PART_EXCEEDS_TOTAL", "investment_funds_yrd")]
    assert "S_PART_EXCEEDS_TOTAL" in r.check_failures["code"].tolist()
    html = (r.folder / "report.html").read_text(encoding="utf-8")
    assert 'class="alert"' in html and "其中项的1-本月累计大于其合计项" in html


def test_two_publishers_at_once_freeze_one_vintage(runtime):
    seed_october(runtime.engine)
    values = load_values(runtime, "taoyuan", OCT)
    table, label, _trend = compute_step(runtime, "taoyuan", OCT, values)
    checks = pd.DataFrame(columns=["code", "indicator_code", "message_zh", "message_en"])
    start, results, errors = threading.Barrier(2), [], []

    def publish() -> None:
        start.wait()
        try:
            results.append(freeze_vintage(runtime.engine, "taoyuan", OCT, table, label, checks, final=False))
        except Exception as e:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=publish) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(r.created for r in results) == [False, True]
    assert {r.vintage for r in results} == {1}
    assert rows(runtime.engine, "SELECT COUNT(*) FROM snapshot") == [(1,)]


@pytest.mark.parametrize("field", ["month_value", "ytd_value"])
def test_stored_vintage_rows_refuse_changes(runtime, field):
    seed_october(runtime.engine)
    r = publish_township(runtime, "taoyuan", OCT, final=False, published_at=at(2021, 11, 10, 1))
    from sqlalchemy.exc import DBAPIError

    with pytest.raises(DBAPIError, match="immutable"):
        with runtime.engine.begin() as conn:
            conn.execute(text(f"UPDATE snapshot_value SET {field} = 0 WHERE snapshot_id = :s"), {"s": r.snapshot_id})


def test_revisions_name_the_submission_loaded_after_the_vintage_even_if_received_before(runtime):
    """As in `township cycle`: vintage 1 is published now; a correction received on 2021-11-20 (before
    now) is loaded afterwards. Its receipt time precedes vintage 1, its load does not."""
    from warehouse.publish_io import now_utc

    seed_october(runtime.engine)
    v1 = publish_township(runtime, "taoyuan", OCT, final=False)
    fix = submit(runtime.engine, "econ", "2021-10", {"fixed_asset_investment": (None, 53000.0)},
                 at(2021, 11, 20), processed_at=now_utc(), file_name="经发办10月更正.xlsx")
    v2 = publish_township(runtime, "taoyuan", OCT, final=False)
    assert (v1.vintage, v2.vintage) == (1, 2)
    assert rows(runtime.engine, "SELECT indicator_code, submission_ids FROM snapshot_change WHERE snapshot_id = :s",
                s=v2.snapshot_id) == [("fixed_asset_investment", str(fix))]
    report = (v2.folder / "report.md").read_text(encoding="utf-8")
    row = next(line for line in report.splitlines() if line.startswith("| 固定资产投资 | 5,345 | 6,000 |"))
    # file, reporter and receipt time in the township's time (09:00 UTC = 17:00 Asia/Shanghai)
    assert row.endswith("| 经发办10月更正.xlsx（econ，2021-11-20 17:00） |")
    assert "经发办10月更正.xlsx（econ，2021-11-20 17:00）" in (v2.folder / "report.html").read_text(encoding="utf-8")


def test_two_corrections_of_one_figure_are_both_named(runtime):
    seed_october(runtime.engine)
    publish_township(runtime, "taoyuan", OCT, final=False, published_at=at(2021, 11, 10, 1))
    first = submit(runtime.engine, "econ", "2021-10", {"fixed_asset_investment": (None, 52900.0)}, at(2021, 11, 15))
    second = submit(runtime.engine, "econ", "2021-10", {"fixed_asset_investment": (None, 53000.0)}, at(2021, 11, 16))
    v2 = publish_township(runtime, "taoyuan", OCT, final=False, published_at=at(2021, 11, 25, 1))
    assert v2.changes["submission_ids"].tolist() == [f"{first},{second}"]
    assert v2.changes["changed_by"].tolist() == ["econ-2021-10.xlsx（econ，2021-11-15 17:00）；"
                                                 "econ-2021-10.xlsx（econ，2021-11-16 17:00）"]


def _published_vintage(runtime) -> int:  # noqa: ANN001
    seed_october(runtime.engine)
    return publish_township(runtime, "taoyuan", OCT, final=False, published_at=at(2021, 11, 10, 1)).snapshot_id


def test_rows_cannot_be_added_to_a_published_vintage(runtime):
    from sqlalchemy.exc import DBAPIError

    sid = _published_vintage(runtime)
    before = rows(runtime.engine, "SELECT COUNT(*) FROM snapshot_value WHERE snapshot_id = :s", s=sid)
    for stmt in (
        "INSERT INTO snapshot_value (snapshot_id, indicator_code, ytd_value, reporters_expected, reporters_reported) "
        "VALUES (:s, 'fiscal_revenue', 1, 1, 1)",
        "INSERT INTO snapshot_change (snapshot_id, indicator_code, new_ytd_value) VALUES (:s, 'fiscal_revenue', 1)",
        "INSERT INTO snapshot_check (snapshot_id, code, message_zh, message_en) VALUES (:s, 'X', 'x', 'x')",
        "DELETE FROM snapshot_seal WHERE snapshot_id = :s",
        "UPDATE snapshot_seal SET snapshot_id = 0 WHERE snapshot_id = :s",
    ):
        with pytest.raises(DBAPIError, match="immutable"):
            with runtime.engine.begin() as conn:
                conn.execute(text(stmt), {"s": sid})
    assert rows(runtime.engine, "SELECT COUNT(*) FROM snapshot_value WHERE snapshot_id = :s", s=sid) == before
    # the next vintage is still possible: a correction freezes vintage 2
    submit(runtime.engine, "econ", "2021-10", {"fixed_asset_investment": (None, 53000.0)}, at(2021, 11, 20))
    assert publish_township(runtime, "taoyuan", OCT, final=False, published_at=at(2021, 11, 25, 1)).vintage == 2


@pytest.mark.parametrize("warehouse_url", ["postgresql"], indirect=True)  # SQLite has no TRUNCATE
@pytest.mark.parametrize("stmt", ["TRUNCATE snapshot_value", "TRUNCATE snapshot_change", "TRUNCATE snapshot_check",
                                  "TRUNCATE snapshot_seal", "TRUNCATE snapshot CASCADE"])
def test_truncate_is_refused_even_for_the_owner(runtime, stmt):
    from sqlalchemy.exc import DBAPIError

    sid = _published_vintage(runtime)
    before = rows(runtime.engine, "SELECT COUNT(*) FROM snapshot_value WHERE snapshot_id = :s", s=sid)
    assert before[0][0] > 0
    with runtime.engine.connect() as conn:  # the test's login owns every table (and is a superuser)
        assert conn.execute(text("SELECT tableowner = current_user FROM pg_tables WHERE tablename = 'snapshot_value'")
                            ).scalar_one()
    with pytest.raises(DBAPIError, match="immutable"):
        with runtime.engine.begin() as conn:
            conn.execute(text(stmt))
    assert rows(runtime.engine, "SELECT COUNT(*) FROM snapshot_value WHERE snapshot_id = :s", s=sid) == before


def test_upgrading_to_0004_seals_the_vintages_already_published(warehouse_url, catalog):
    from sqlalchemy.exc import DBAPIError

    from warehouse.catalog_sync import sync_catalog
    from warehouse.engine import make_engine, upgrade

    engine = make_engine(warehouse_url)
    upgrade(engine, "0002")
    sync_catalog(engine, catalog)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO snapshot (id, township_code, period, vintage, status, period_label, published_at, "
            "content_hash) VALUES (7, 'taoyuan', '2021-10', 1, 'preliminary', '1-10月', :t, 'h')"),
            {"t": at(2021, 11, 10)})
    upgrade(engine)
    assert rows(engine, "SELECT snapshot_id FROM snapshot_seal") == [(7,)]
    with pytest.raises(DBAPIError, match="immutable"):
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO snapshot_value (snapshot_id, indicator_code, ytd_value, reporters_expected, "
                              "reporters_reported) VALUES (7, 'fiscal_revenue', 1, 1, 1)"))
    engine.dispose()
