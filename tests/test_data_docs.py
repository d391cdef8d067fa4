"""GX Data Docs for people: every intake batch's and snapshot check's validation is kept in the publish folder's
site under a name that says what it was (`intake 2021-10 batch 1 of 1`, `snapshot taoyuan 2021-10 v1`), and
every page loads its scripts, stylesheets, fonts and images from the site itself: it renders with no internet."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import numpy as np
import pandas as pd
import pytest

from tasks import intake_pipeline
from tasks.gx_docs import DocsRun
from tasks.publication import data_docs_dir, publish_township
from tasks.snapshot import check_snapshot
from tests.intake_helpers import write_csv
from tests.test_intake import OCT, SEPT
from township.periods import Period

SQLITE = pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)  # the site, not the warehouse, is tested


def snapshot_table(reported_b: int) -> pd.DataFrame:
    return pd.DataFrame({
        "indicator_code": ["investment_funds", "investment_funds_yrd"],
        "indicator_name": ["招商引资到位资金", "其中：长三角资金"],
        "parent_ytd_value": [np.nan, 9.2], "ytd_value": [9.2, 3.4],
        "reporters_expected": [1, 1], "reporters_reported": [1, reported_b],
        "missing_reporters": [None, None],
        "yoy_pct": [5.0, 2.0], "target_pct": [73.6, 68.0],
    })


class _Assets(HTMLParser):
    """The URLs a page makes the browser fetch: scripts, stylesheets, icons, images; and its inline styles."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag in ("script", "img") and a.get("src"):
            self.urls.append(a["src"])
        if tag == "link" and a.get("href"):
            self.urls.append(a["href"])
        self._in_style = tag == "style"

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)


def _css_urls(css: str) -> list[str]:
    return [u for u in re.findall(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)", css) if not u.startswith("data:")]


def _external(url: str) -> bool:
    return bool(urlsplit(url).scheme) or url.startswith("//")


def _local(page: Path, url: str) -> Path:
    return (page.parent / unquote(urlsplit(url).path)).resolve()


def assert_loads_nothing_from_outside(site: Path) -> int:
    """Every asset of every page (and every url() of its stylesheets) is a file in the site; returns the pages."""
    pages = sorted(site.rglob("*.html"))
    for page in pages:
        parser = _Assets()
        parser.feed(page.read_text(encoding="utf-8"))
        urls = parser.urls + [u for css in parser.styles for u in _css_urls(css)]
        assert urls, page
        for url in urls:
            assert not _external(url), f"{page.relative_to(site)} loads {url}"
            target = _local(page, url)
            assert target.is_file() and site.resolve() in target.parents, f"{page.relative_to(site)}: {url} missing"
            if target.suffix == ".css":
                for inner in _css_urls(target.read_text(encoding="utf-8")):
                    assert not _external(inner), f"{target.relative_to(site)} loads {inner}"
                    assert _local(target, inner).is_file(), f"{target.relative_to(site)}: {inner} missing"
    return len(pages)


def index_run_names(site: Path) -> set[str]:
    """The run names the site's index lists (its table data, as the page's script receives it)."""
    return set(re.findall(r"'run_name': '([^']+)'", (site / "index.html").read_text(encoding="utf-8")))


def test_the_snapshot_site_is_written_with_failures_still_reported_and_nothing_from_outside(tmp_path):
    site = tmp_path / "docs"
    assert check_snapshot(snapshot_table(1), DocsRun(site, "snapshot taoyuan 2021-10 v1")).empty
    failed = check_snapshot(snapshot_table(2), DocsRun(site, "snapshot taoyuan 2021-10 v2"))
    assert list(failed["code"]) == ["S_REPORTERS_INCONSISTENT"]
    assert failed["indicator_code"].tolist() == ["investment_funds_yrd"]
    assert index_run_names(site) == {"snapshot taoyuan 2021-10 v1", "snapshot taoyuan 2021-10 v2"}
    assert len(list((site / "validations").rglob("*.html"))) == 2
    assert assert_loads_nothing_from_outside(site) >= 4  # index, two validations, the suite


@SQLITE
def test_an_intake_and_a_publish_are_kept_in_the_site_under_their_names(runtime):
    site = data_docs_dir(runtime)
    inbox = Path(runtime.settings.inbox)
    write_csv(inbox, "invest", "sept.csv", SEPT, period="2021-09")
    write_csv(inbox, "invest", "oct.csv", OCT)
    intake_pipeline.run_intake(runtime, today=Period(2021, 11), data_docs=True)
    publish_township(runtime, "taoyuan", Period(2021, 10), final=False, data_docs=True)
    write_csv(inbox, "invest", "oct-fixed.csv", [("investment_funds", 1.3, 9.3), *OCT[1:]])
    intake_pipeline.run_intake(runtime, today=Period(2021, 11), data_docs=True)
    publish_township(runtime, "taoyuan", Period(2021, 10), final=False, data_docs=True)

    names = index_run_names(site)
    assert "intake 2021-09 2021-10 batch 1 of 1" in names
    assert "intake 2021-10 batch 1 of 1" in names
    assert {"snapshot taoyuan 2021-10 v1", "snapshot taoyuan 2021-10 v2"} <= names
    assert len(names) == 4
    # Kept: each validation has its page, and a later process's index still lists them (results on disk).
    assert len(list((site / "validations").rglob("*.html"))) == 4
    assert assert_loads_nothing_from_outside(site) >= 7


def _undated(page: Path) -> str:
    """A page without the build time GX appends to its links (`?d=20261129T180429.641923Z`)."""
    return re.sub(r"\?d=\d{8}T\d{6}\.\d+Z", "", page.read_text(encoding="utf-8"))


def _count_compiles(monkeypatch) -> list[str]:  # noqa: ANN001
    from jinja2 import Environment

    compiled: list[str] = []
    compile_source = Environment.compile
    monkeypatch.setattr(Environment, "compile", lambda env, source, name=None, *a, **kw: compiled.append(name)
                        or compile_source(env, source, name, *a, **kw))
    return compiled


def test_a_later_site_build_reuses_the_compiled_templates_and_writes_the_same_pages(tmp_path, monkeypatch):
    """GX makes a new Jinja environment for every page it renders; the offline views share Jinja's compiled
    templates (tasks/gx_offline.compiled_templates), kept in the cache folder for later processes (a flow run is
    a new process): only the first build ever compiles them."""
    from tasks import gx_offline
    from township.settings import get_settings

    monkeypatch.setenv("TOWNSHIP_CACHE_DIR", str(tmp_path / "cache"))
    get_settings.cache_clear()
    gx_offline.compiled_templates.cache_clear()  # this process, as if it were a new one
    first, later, next_process = tmp_path / "first", tmp_path / "later", tmp_path / "next"
    try:
        check_snapshot(snapshot_table(1), DocsRun(first, "snapshot taoyuan 2021-10 v1"))
        assert list((tmp_path / "cache" / "data-docs-templates").iterdir())
        compiled = _count_compiles(monkeypatch)
        check_snapshot(snapshot_table(1), DocsRun(later, "snapshot taoyuan 2021-10 v1"))
        assert compiled == []
        gx_offline.compiled_templates.cache_clear()  # a new process: nothing in memory, the files on disk
        check_snapshot(snapshot_table(1), DocsRun(next_process, "snapshot taoyuan 2021-10 v1"))
        assert compiled == []
    finally:
        get_settings.cache_clear()
        gx_offline.compiled_templates.cache_clear()
    suite_page = Path("expectations") / "snapshot.html"
    assert _undated(later / suite_page) == _undated(next_process / suite_page) == _undated(first / suite_page)
    assert index_run_names(next_process) == {"snapshot taoyuan 2021-10 v1"}
    assert assert_loads_nothing_from_outside(next_process) >= 3


def test_a_cache_folder_that_cannot_be_made_costs_speed_never_a_page(tmp_path, monkeypatch, caplog):
    from tasks import gx_offline
    from township.settings import get_settings

    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("TOWNSHIP_CACHE_DIR", str(blocked))
    get_settings.cache_clear()
    gx_offline.compiled_templates.cache_clear()
    try:
        failed = check_snapshot(snapshot_table(2), DocsRun(tmp_path / "docs", "snapshot taoyuan 2021-10 v2"))
        assert gx_offline.compiled_templates().on_disk is False
    finally:
        get_settings.cache_clear()
        gx_offline.compiled_templates.cache_clear()
    assert list(failed["code"]) == ["S_REPORTERS_INCONSISTENT"]
    assert index_run_names(tmp_path / "docs") == {"snapshot taoyuan 2021-10 v2"}
    assert "cached in memory only" in caplog.text
