"""The Data Docs in Debian's Chromium with the internet cut off, as an analyst on the intranet opens them: over HTTP
from the file server `make serve` runs (the link the Prefect artifact carries) and as a file. Every request goes
to that server (or the disk) and succeeds; the pages are styled by bootstrap, the index's table is filled by its
scripts (jquery, bootstrap-table), icons come from font-awesome. No Prefect server is needed. Screenshots go to
test-output/system/."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect, sync_playwright

from scripts.serve import FileServer
from tasks.gx_docs import DocsRun, site_dir
from tasks.links import published_url
from tasks.snapshot import check_snapshot
from tests.system.conftest import OUTPUT
from tests.system.test_report_browser import CHROMIUM, CHROMIUM_ARGS
from tests.test_data_docs import snapshot_table
from township.settings import Settings

# One worker runs both, so the module's Data Docs site is built once.
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("data-docs-site")]

RUNS = ["snapshot taoyuan 2021-10 v1", "snapshot taoyuan 2021-10 v2"]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The Data Docs of a publish folder: one check that passed (v1), one that failed (v2)."""
    publish = tmp_path_factory.mktemp("published")
    check_snapshot(snapshot_table(1), DocsRun(site_dir(publish), RUNS[0]))
    check_snapshot(snapshot_table(2), DocsRun(site_dir(publish), RUNS[1]))
    return site_dir(publish)


@pytest.fixture(params=["http", "file"])
def index_url(request, site):
    """The index's URL: from the file server of `make serve` (the artifact's link), or the file itself."""
    if request.param == "file":
        yield (site / "index.html").as_uri()
        return
    files = FileServer(site.parent).start()
    try:
        yield published_url(Settings(publish_dir=str(site.parent), publish_base_url=files.url), site / "index.html")
    finally:
        files.stop()


@pytest.fixture
def offline_page(tmp_path, index_url):
    """A Chromium page that may reach only the folder's own server (or the disk); every other request is
    refused and recorded, as is every request that fails or answers an error."""
    assert Path(CHROMIUM).is_file(), "install Debian's chromium (.ci/run does): apt-get install chromium"
    home = urlsplit(index_url)
    refused, failed = [], []

    def only_home(route) -> None:  # noqa: ANN001
        url = urlsplit(route.request.url)
        if (url.scheme, url.netloc) == (home.scheme, home.netloc) or url.scheme == "data":
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort("internetdisconnected")

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, env=dict(os.environ))
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.route("**/*", only_home)
        page.on("requestfailed", lambda r: failed.append(f"{r.url} {r.failure}"))
        page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.url} {r.status}"))
        try:
            yield page, refused, failed
        finally:
            browser.close()


def _styled(page) -> None:  # noqa: ANN001
    """What bootstrap and font-awesome do to a page, as a reader sees it."""
    page.evaluate("document.fonts.ready")
    assert page.evaluate("getComputedStyle(document.querySelector('nav.navbar')).display") == "flex"  # bootstrap
    assert page.evaluate("getComputedStyle(document.body).fontFamily").startswith("-apple-system")  # its reboot
    assert page.evaluate("[...document.fonts].some(f => f.family.includes('Font Awesome') && f.status == 'loaded')")
    assert page.evaluate("document.querySelector('.navbar-brand img').naturalWidth") > 0  # the logo, from the site


def test_data_docs_render_styled_with_no_internet(site, index_url, offline_page):
    page, refused, failed = offline_page
    kind = urlsplit(index_url).scheme
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.goto(index_url)
    for name in RUNS:  # the validations' table is built by the page's scripts from its data
        expect(page.locator("table tbody tr", has_text=name).first).to_be_visible(timeout=30_000)
    _styled(page)
    page.screenshot(path=OUTPUT / f"data-docs-index-{kind}.png", full_page=True)

    page.locator("table tbody tr", has_text=RUNS[1]).first.click()  # rows link to their validation page
    expect(page.get_by_text("Unsuccessful Expectations").first).to_be_visible(timeout=30_000)
    assert "/validations/snapshot/" in page.url and page.get_by_text(RUNS[1]).count() >= 1
    _styled(page)
    page.screenshot(path=OUTPUT / f"data-docs-validation-{kind}.png", full_page=True)
    assert refused == [] and failed == []
