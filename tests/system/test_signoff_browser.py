"""The statistician's sign-off in the Prefect UI, in Debian's Chromium driven by Playwright: open the suspended
publish run, read the preview, fill the sign-off form (快报 / 定报 / 退回, 审核人, 意见) and submit; the vintage
then exists signed by that name (SQL, report footer, manifest). This is the approval case of tests/system/
test_signoff.py, through the UI a statistician uses (each suspend and resume costs two flow-run processes, so
the approval is checked here once, not also through the API). Screenshots of the form and of the completed run go to test-output/system/; the
committed docs/img/signoff-*.png that illustrate docs/operations.md ("The monthly routine") are copied from there by
hand when the UI changes, so a test run leaves the work tree as it was."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.system.conftest import OUTPUT
from tests.system.support import artifacts_of, assert_completed, wait_for
from tests.system.test_signoff import _rows, suspended_publish
from tests.system.test_ui_browser import page  # noqa: F401 - the Chromium page fixture

pytestmark = [pytest.mark.system, pytest.mark.browser]


def field(dialog, label: str):  # noqa: ANN001, ANN201
    """The text box of the form's property titled `label` (its <label> names no input id)."""
    return dialog.locator(".schema-form-property", has_text=label).locator("textarea, input").first


@pytest.fixture
def suspended(prefect_stack, tmp_path):
    """The suspended run, made before the browser starts (Playwright's loop would make Prefect's calls async)."""
    return suspended_publish(tmp_path)


def test_sign_off_in_the_prefect_ui(prefect_stack, suspended, page):  # noqa: F811
    run, params = suspended
    # Suspended, nothing is frozen yet; the preview is there to read.
    assert _rows(params["warehouse_url"], "SELECT COUNT(*) FROM snapshot") == [(0,)]
    artifacts = artifacts_of(run.id)
    assert {"preview-taoyuan-2021-10", "preview-report-taoyuan-2021-10", "draft-taoyuan-2021-10"} <= set(artifacts)
    preview = artifacts["preview-report-taoyuan-2021-10"].data
    assert "固定资产投资" in preview and "未报 missing" in preview and "首次发布" in preview
    draft = Path(params["publish_dir"]) / "taoyuan" / "2021-10" / "draft" / "report.html"
    assert "草稿" in draft.read_text(encoding="utf-8")

    OUTPUT.mkdir(parents=True, exist_ok=True)
    try:
        page.goto(f"{prefect_stack.ui_url}/runs/flow-run/{run.id}")
        expect(page.get_by_text("Suspended").first).to_be_visible(timeout=60_000)
        page.get_by_role("button", name="Resume").first.click()
        dialog = page.get_by_role("dialog")
        expect(dialog.get_by_text("审核签发").first).to_be_visible(timeout=30_000)
        # The decision is a select of 快报 / 定报 / 退回; opened from the keyboard (in headless Chromium a
        # mouse click on it opens and at once auto-closes the list).
        dialog.locator(".p-select-button__control").first.focus()
        page.keyboard.press("ArrowDown")
        page.locator(".p-select-option", has_text="快报").first.click()
        field(dialog, "审核人 Signer").fill("赵审核")
        field(dialog, "意见 Comment").fill("同意按快报发布")
        page.screenshot(path=OUTPUT / "signoff-form.png", full_page=True)
        dialog.get_by_role("button", name="Submit").click()
    except Exception:
        page.screenshot(path=OUTPUT / "signoff-failure.png", full_page=True)
        Path(OUTPUT / "signoff-failure.html").write_text(page.content(), encoding="utf-8")
        raise
    done = wait_for([run.id])[0]
    assert_completed(done)
    assert done.name == "publish 2021-10 v1"
    assert _rows(params["warehouse_url"], "SELECT vintage, status, decision, signer, comment FROM snapshot") == [
        (1, "preliminary", "preliminary", "赵审核", "同意按快报发布")]
    v1 = Path(params["publish_dir"]) / "taoyuan" / "2021-10" / "v1"
    report = (v1 / "report.html").read_text(encoding="utf-8")
    assert "审核人：赵审核" in report and "签发时间：" in report and "签发：快报" in report
    assert json.loads((v1 / "manifest.json").read_text(encoding="utf-8"))["signer"] == "赵审核"
    page.goto(f"{prefect_stack.ui_url}/runs/flow-run/{run.id}")
    expect(page.get_by_text("Completed").first).to_be_visible(timeout=60_000)
    expect(page.get_by_text("publish 2021-10 v1").first).to_be_visible()
    page.screenshot(path=OUTPUT / "signoff-completed.png", full_page=True)
