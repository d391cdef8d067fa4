"""A reporter's note never reaches report.md (or a Prefect Markdown artifact) as HTML or a link."""

from __future__ import annotations

import pytest

from tasks.publication import publish_township
from tasks.report import escape_markdown
from tests.test_snapshot import OCT, seed_october
from tests.values_factory import at, submit

SCRIPT = "<script>alert(1)</script>"


def test_escape_markdown_neutralises_html_links_and_table_breaks():
    assert escape_markdown(SCRIPT) == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert escape_markdown("[点此](javascript:alert(1))") == "\\[点此\\](javascript:alert(1))"
    assert escape_markdown("a|b\nc") == "a\\|b c"
    assert escape_markdown("增长12.3%，含追加") == "增长12.3%，含追加"  # ordinary text unchanged


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)  # the report file is the subject
def test_a_script_in_a_reporters_note_is_text_in_report_md_and_html(runtime):
    seed_october(runtime.engine)
    submit(runtime.engine, "tourism", "2021-10", {"tourist_visits": (1.5, 15.0, SCRIPT)}, at(2021, 11, 4),
           warnings=[{"code": "W_YOY_SWING", "indicator": "tourist_visits", "note": SCRIPT,
                      "message_zh": "接待游客同比变动 +80%"}])
    r = publish_township(runtime, "taoyuan", OCT, final=False, published_at=at(2021, 11, 10, 1))
    md = (r.folder / "report.md").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in md  # the note is still there, as text
    assert "<script" not in md.lower()
    assert "<script" not in (r.folder / "report.html").read_text(encoding="utf-8").lower()
