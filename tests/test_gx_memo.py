"""Great Expectations gives the same verdicts with each expectation's configuration built once per validation
(tasks/gx_memo.py) as without: every rule of tests/test_rules.py, expectation by expectation, failing rows included."""

from __future__ import annotations

import pandas as pd
import pytest

import tasks.gx
from great_expectations import expectations as gxe
from tasks.gx import _context_and_suite, read_suite_file, result_format
from tasks.gx_memo import CHECKED_VERSION, is_active, memoised_configurations
from tests.review_helpers import CONTEXT_COLUMNS, incoming, receipts
from tests.test_rules import CASES


def _results(df: pd.DataFrame, suite_name: str, id_column, parameters: dict) -> list[dict]:  # noqa: ANN001
    _context, suite, batch_def = _context_and_suite(suite_name)
    batch = batch_def.get_batch(batch_parameters={"dataframe": df})
    result = batch.validate(suite, result_format=result_format(id_column), expectation_parameters=parameters)
    return [r.to_json_dict() for r in result.results]


def test_every_rule_gets_the_same_gx_results_with_configurations_built_once(catalog, monkeypatch):
    validated = []
    real = tasks.gx.validate_frame

    def keep(df, suite_name, id_column, parameters=None, docs=None):  # noqa: ANN001, ANN202
        validated.append((df.copy(), suite_name, id_column, parameters or {}))
        return real(df, suite_name, id_column, parameters, docs)

    monkeypatch.setattr(tasks.gx, "validate_frame", keep)
    for case in CASES:
        receipts([incoming(folder, name, data) for folder, name, data in case.files], catalog,
                 context=pd.DataFrame(case.context, columns=CONTEXT_COLUMNS))
    assert validated  # the cases the reader does not reject whole went through GX (and through the memo)

    # The cases' frames as ONE frame (each case's row ids kept apart), validated twice, plain and memoised, rather
    # than twice per case: a row's verdict does not depend on the other cases' rows.
    assert {(suite, id_column, repr(parameters)) for _, suite, id_column, parameters in validated} == {
        ("submissions", "source_row", repr(validated[0][3]))}  # one suite, one id column, the same parameters
    suite = _context_and_suite("submissions")[1]
    df = pd.concat([df[tasks.gx.suite_columns(suite, list(df.columns), ["source_row"])].assign(
        source_row=df["source_row"] + 1_000_000 * n) for n, (df, *_) in enumerate(validated)], ignore_index=True)
    plain = _results(df, "submissions", "source_row", validated[0][3])
    with memoised_configurations():
        memoised = _results(df, "submissions", "source_row", validated[0][3])
    assert memoised == plain
    failed = {r["expectation_config"]["meta"].get("code") for r in plain if not r["success"]}
    # the comparison covered every rule of the suite failing, with its failing rows, not only passing ones
    assert failed == {e["meta"]["code"] for e in read_suite_file("submissions")["expectations"]}


def test_a_configuration_is_built_once_inside_and_follows_a_change():
    import great_expectations

    e = gxe.ExpectColumnValuesToBeBetween(column="x", min_value=0, max_value=1)
    assert e.configuration is not e.configuration  # GX's own behaviour outside: built on every read
    assert great_expectations.__version__ == CHECKED_VERSION, "the pinned GX changed: check tasks/gx_memo.py again"
    with memoised_configurations():
        assert is_active()
        first = e.configuration
        assert e.configuration is first
        e.max_value = 2  # a change is seen at once, never the configuration built before it
        assert e.configuration.kwargs["max_value"] == 2 and first.kwargs["max_value"] == 1
    assert not is_active()
    assert e.configuration.kwargs["max_value"] == 2


@pytest.mark.parametrize("rows", [[1.0, 5.0], [0.5]])
def test_validate_frame_names_the_same_failing_rows_as_gx_without_the_memo(rows):
    df = pd.DataFrame({"indicator_code": [f"i{k}" for k in range(len(rows))], "ytd_value": rows,
                       "parent_ytd_value": [None] * len(rows), "reporters_expected": [1] * len(rows),
                       "reporters_reported": [1] * len(rows), "missing_reporters": [None] * len(rows),
                       "indicator_name": ["名"] * len(rows), "yoy_pct": [1.0] * len(rows),
                       "target_pct": [200.0] * len(rows)})
    got = tasks.gx.validate_frame(df, "snapshot", "indicator_code")
    plain = _results(df[tasks.gx.suite_columns(_context_and_suite("snapshot")[1], list(df.columns),
                                               ["indicator_code"])], "snapshot", "indicator_code", {})
    assert [(f.meta.get("code"), f.ids) for f in got] == [
        (r["expectation_config"]["meta"].get("code"), [row["indicator_code"] for row in
                                                       r["result"].get("unexpected_index_list") or []])
        for r in plain if not r["success"]]
