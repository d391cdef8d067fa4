"""Artifact links: HTTP under TOWNSHIP_PUBLISH_BASE_URL when it is set, file:// otherwise."""

from __future__ import annotations

from tasks.exports import vintage_folder
from tasks.links import published_url
from township.settings import Settings


def test_a_vintage_report_links_under_the_base_url(tmp_path):
    s = Settings(publish_dir=str(tmp_path / "published"), publish_base_url="http://127.0.0.1:4201")
    report = vintage_folder(s.publish_dir, "taoyuan", "2021-10", 2) / "report.html"
    assert published_url(s, report) == "http://127.0.0.1:4201/taoyuan/2021-10/v2/report.html"
    docs = tmp_path / "published" / "data_docs" / "index.html"
    assert published_url(s.model_copy(update={"publish_base_url": "https://reports.example/pub/"}), docs) == \
        "https://reports.example/pub/data_docs/index.html"


def test_without_a_base_url_or_outside_the_publish_folder_the_link_is_the_file(tmp_path):
    report = tmp_path / "published" / "桃源" / "report.html"
    assert published_url(Settings(publish_dir=str(tmp_path / "published")), report) == report.as_uri()
    served = Settings(publish_dir=str(tmp_path / "other"), publish_base_url="http://127.0.0.1:4201/")
    assert published_url(served, report) == report.as_uri()
    assert published_url(Settings(publish_dir=str(tmp_path / "published"), publish_base_url="http://h/"),
                         report) == "http://h/%E6%A1%83%E6%BA%90/report.html"
