"""The modules Great Expectations imports but our suites never use (tasks/gx_lazy.py) stay unloaded through a real
validation, every expectation of the suite still runs (our custom ones included), and the deferred modules work
when something does use them: GX's own KL-divergence expectation, which needs scipy.stats, and its JSON-schema
expectation, which needs jsonschema.

Each test is a fresh interpreter: in the test process another test may have loaded scipy or altair already.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_file_only_a_custom_expectation_rejects_is_caught_with_the_heavy_modules_never_loaded():
    got = _run("""
        import json, sys
        import pandas as pd
        import tasks.gx
        from tasks.gx import load_suite, read_suite_file
        from tasks.gx_lazy import LAZY, is_deferred
        from tests.review_helpers import CONTEXT_COLUMNS, csv_form, incoming, receipts
        from township.catalog import load_catalog
        from township.settings import DEFAULT_CATALOG_DIR

        catalog = load_catalog(DEFAULT_CATALOG_DIR)
        # September's cumulative 8.0 + October's 1.2 is 9.2, not 9.9: only expect_ytd_identity_to_hold (ours) fails
        sept = pd.DataFrame([("invest", "2021-09", "investment_funds", 1.0, 8.0),
                             ("invest", "2021-09", "investment_funds_yrd", 0.5, 3.0)], columns=CONTEXT_COLUMNS)
        r = receipts([incoming("invest", "f.csv", csv_form([("investment_funds", 1.2, 9.9)]))], catalog,
                     context=sept)["f.csv"]
        suite = load_suite("submissions")
        print(json.dumps({
            "status": r["status"], "conflicts": [(c["code"], c["cell"]) for c in r["conflicts"]],
            "loaded": len(suite.expectations), "declared": len(read_suite_file("submissions")["expectations"]),
            "types": sorted({e.expectation_type for e in suite.expectations}),
            "deferred": {name: is_deferred(name) for name in sorted(LAZY)},
            "scipy.spatial": "scipy.spatial" in sys.modules,
        }))
    """)
    assert got["status"] == "rejected"
    assert got["conflicts"] == [["E_IDENTITY", "E2"]]
    assert got["loaded"] == got["declared"] == 24
    assert "expect_ytd_identity_to_hold" in got["types"] and "expect_month_not_repeated" in got["types"]
    assert got["deferred"] == {"altair": True, "jsonschema": True, "scipy.stats": True}  # imported by GX, never run
    assert got["scipy.spatial"] is False


def test_the_deferred_modules_work_when_touched_and_gx_expectations_that_need_them_still_run():
    got = _run("""
        import json, math
        import pandas as pd
        import tasks.gx
        from great_expectations import expectations as gxe
        from tasks.gx import add_frame_batches, quiet_context
        from tasks.gx_lazy import is_deferred

        before = is_deferred("scipy.stats")
        context = quiet_context()
        batch = add_frame_batches(context, "kl").get_batch(batch_parameters={"dataframe": pd.DataFrame(
            {"x": [1, 2, 1, 2, 1, 2, 1, 1]})})
        kl = lambda threshold: gxe.ExpectColumnKLDivergenceToBeLessThan(  # scipy.stats.entropy inside
            column="x", partition_object={"values": [1, 2], "weights": [0.5, 0.5]}, threshold=threshold)
        close, far = batch.validate(kl(0.1)), batch.validate(kl(0.0001))
        json_before = is_deferred("jsonschema")
        docs = add_frame_batches(context, "json").get_batch(batch_parameters={"dataframe": pd.DataFrame(
            {"j": ['{"a": 1}', '{"b": 2}', '{"a": 3}']})})
        schema = docs.validate(gxe.ExpectColumnValuesToMatchJsonSchema(  # jsonschema.validate inside
            column="j", json_schema={"type": "object", "required": ["a"]}))
        import altair
        print(json.dumps({
            "deferred_before": before, "close": close.success, "far": far.success,
            "observed": close.result["observed_value"], "exception": close.exception_info.get("raised_exception"),
            "entropy": __import__("scipy").stats.entropy([0.5, 0.5]), "chart": altair.Chart.__name__,
            "loaded_after": not is_deferred("scipy.stats") and not is_deferred("altair"),
            "json_before": json_before, "json_success": schema.success,
            "json_unexpected": schema.result.get("unexpected_count"),
            "json_exception": schema.exception_info.get("raised_exception"),
            "json_loaded_after": not is_deferred("jsonschema"),
        }))
    """)
    assert got["deferred_before"] is True
    assert got["exception"] is False
    assert got["close"] is True and got["far"] is False and 0 < got["observed"] < 0.1
    assert abs(got["entropy"] - 0.6931471805599453) < 1e-12
    assert got["chart"] == "Chart" and got["loaded_after"] is True
    # GX's JSON-schema expectation: jsonschema loaded when it validates, the one object without "a" found
    assert got["json_before"] is True and got["json_exception"] is False
    assert got["json_success"] is False and got["json_unexpected"] == 1 and got["json_loaded_after"] is True
