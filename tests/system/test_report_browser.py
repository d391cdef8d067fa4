"""report.html in Debian's Chromium on a machine with no CJK font (fontconfig sees DejaVu only), opened as an
analyst would from a Prefect artifact: over HTTP from the file server `make serve` runs, at the URL the artifact
carries. The Chinese must render as glyphs (the embedded font), not as boxes. No Prefect server is needed.
Screenshots go to test-output/system/."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from scripts.serve import FileServer
from tasks.exports import ExportHeader, vintage_folder
from tasks.links import published_url
from tasks.report import Section, render_html
from tests.system.conftest import OUTPUT
from township.settings import Settings

pytestmark = [pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
TITLE = "桃源镇主要指标月报表（2021年1-10月）快报"


def _fontconfig_without_cjk(folder: Path) -> Path:
    """Only DejaVu (Latin, no CJK), with a cache of its own: the machine of a reader with no CJK font."""
    conf = folder / "fonts.conf"
    conf.write_text(f"""<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig>
  <dir>/usr/share/fonts/truetype/dejavu</dir>
  <cachedir>{folder / "fc-cache"}</cachedir>
</fontconfig>
""", encoding="utf-8")
    return conf


@pytest.fixture
def served_report(tmp_path):
    """A vintage's report.html in a publish folder served by `make serve`'s file server; its artifact URL."""
    settings = Settings(publish_dir=str(tmp_path / "published"))
    folder = vintage_folder(settings.publish_dir, "taoyuan", "2021-10", 1)
    folder.mkdir(parents=True)
    header = ExportHeader("taoyuan", "桃源镇", "2021-10", "1-10月", 1, "preliminary", "快报", "2021-11-10 09:00",
                          "0" * 64)
    sections = [Section("综述", ["1-10月完成固定资产投资52,345万元，同比增长12.3%。"])]
    page = render_html(header, sections)
    (folder / "report.html").write_text(page, encoding="utf-8")
    # The same page without its @font-face: what every reader saw before, the control of this test.
    (folder / "report-no-font.html").write_text(re.sub(r"@font-face\{[^}]*\}", "", page), encoding="utf-8")
    files = FileServer(Path(settings.publish_dir)).start()
    try:
        served = settings.model_copy(update={"publish_base_url": files.url})
        yield published_url(served, folder / "report.html")
    finally:
        files.stop()


@pytest.fixture
def browser(tmp_path):
    assert Path(CHROMIUM).is_file(), "install Debian's chromium (.ci/run does): apt-get install chromium"
    env = {**os.environ, "FONTCONFIG_FILE": str(_fontconfig_without_cjk(tmp_path))}
    with sync_playwright() as pw:
        # A fresh profile each time: no font or page cached from another run.
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, env=env,
            viewport={"width": 1000, "height": 700}, locale="zh-CN")
        try:
            yield context
        finally:
            context.close()


def _glyph_shots(page, name: str) -> list[bytes]:  # noqa: ANN001
    """Screenshots of three different characters of the title, each alone in the page's font."""
    shots = []
    for n, ch in enumerate("桃源镇"):
        page.evaluate("([id, ch]) => { const s = document.createElement('span'); s.id = id; s.textContent = ch;"
                      " s.style.fontSize = '40px'; document.querySelector('h1').after(s); }", [f"g{n}", ch])
        shots.append(page.locator(f"#g{n}").screenshot(path=OUTPUT / f"{name}-glyph-{n}.png"))
    return shots


def test_the_served_report_shows_chinese_glyphs_without_a_system_cjk_font(served_report, browser):
    OUTPUT.mkdir(parents=True, exist_ok=True)
    assert served_report.startswith("http://127.0.0.1:") and served_report.endswith("/taoyuan/2021-10/v1/report.html")
    page = browser.new_page()
    response = page.goto(served_report)
    assert response is not None and response.status == 200
    page.evaluate("document.fonts.ready")
    assert page.locator("h1").inner_text() == TITLE
    # The embedded face is loaded and covers the title: Chromium will not fall back to a (missing) system font.
    assert page.evaluate(f"document.fonts.check('24px \"Report CJK\"', {TITLE!r})")
    page.screenshot(path=OUTPUT / "report-embedded-font.png", full_page=True)
    with_font = _glyph_shots(page, "report")

    control = browser.new_page()
    control.goto(served_report.replace("report.html", "report-no-font.html"))
    control.evaluate("document.fonts.ready")
    control.screenshot(path=OUTPUT / "report-without-font.png", full_page=True)
    boxes = _glyph_shots(control, "no-font")

    # Without the font this machine draws every character as the same box (so the test's machine truly lacks
    # CJK fonts); with it, three different characters look different, and not like those boxes.
    assert len(set(boxes)) == 1
    assert len(set(with_font)) == 3 and not set(with_font) & set(boxes)
