"""The Prefect UI of the system-test server, in Debian's Chromium driven by Playwright: an operator finds the
publish run and sees its artifacts. Screenshots go to test-output/system/ (never a downloaded browser)."""

from __future__ import annotations

import os
from pathlib import Path

import mplfonts
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect, sync_playwright

from tests.system.conftest import OUTPUT

pytestmark = [pytest.mark.system, pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
KEYS = ["snapshot-taoyuan-2021-10", "narrative-taoyuan-2021-10", "report-taoyuan-2021-10"]


def _fontconfig(folder: Path) -> Path:
    """A fontconfig file adding the CJK fonts the project already ships (mplfonts), so Chinese text in the
    screenshots is legible without installing font packages."""
    fonts = Path(mplfonts.__file__).parent / "fonts"
    conf = folder / "fonts.conf"
    conf.write_text(f"""<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig>
  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>
  <dir>{fonts}</dir>
  <cachedir>{folder / "cache"}</cachedir>
</fontconfig>
""", encoding="utf-8")
    return conf


@pytest.fixture
def page(tmp_path):
    assert Path(CHROMIUM).is_file(), "install Debian's chromium (.ci/run does): apt-get install chromium"
    env = {**os.environ, "FONTCONFIG_FILE": str(_fontconfig(tmp_path))}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, env=env)
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
        try:
            yield page
        finally:
            browser.close()


def test_publish_run_and_its_artifacts_are_visible(prefect_stack, publish_run, page):
    OUTPUT.mkdir(parents=True, exist_ok=True)
    # As an operator would: the runs list, then the publish run carrying its name (other publish runs of the
    # same month, e.g. the sign-off tests', carry the same name: the link to this run's id tells them apart).
    page.goto(f"{prefect_stack.ui_url}/runs")
    link = page.locator(f"a[href*='{publish_run.id}']").first
    expect(link).to_have_text(publish_run.name)
    # The list re-renders as it polls the server: a click can land on a row being replaced and go nowhere (seen
    # once on a busy machine). An operator clicks again; so does the test, a few times at most.
    for attempt in range(3):
        link.click()
        try:
            page.wait_for_url(f"**/runs/flow-run/{publish_run.id}**", timeout=15_000)
            break
        except PlaywrightTimeoutError:
            if attempt == 2:
                raise
    expect(page.get_by_text("Completed").first).to_be_visible()

    page.get_by_text("Artifacts", exact=True).first.click()
    for key in KEYS:
        expect(page.get_by_text(key, exact=True).first).to_be_visible()
    page.screenshot(path=OUTPUT / "publish-run-artifacts.png", full_page=True)

    # The narrative artifact opens and shows the report's paragraph.
    page.get_by_text("narrative-taoyuan-2021-10", exact=True).first.click()
    expect(page.get_by_text("固定资产投资").first).to_be_visible()
    page.screenshot(path=OUTPUT / "publish-narrative-artifact.png", full_page=True)
