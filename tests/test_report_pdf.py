"""report.pdf: A4, the CJK font embedded, page numbers, the paragraph as extractable Chinese text, the tables
split between rows with their header repeated, the same bytes when rendered again."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from pypdf import PdfReader

from tasks.exports import ExportHeader
from tasks.publication import publish_township
from tasks.report import Section
from tasks.report_pdf import render_pdf
from tests.values_factory import at, submit
from township.periods import Period

A4 = (595.28, 841.89)  # points


def _text(reader: PdfReader) -> str:
    # Layout may break a paragraph across lines: compare without whitespace.
    return "".join("".join(p.extract_text().split()) for p in reader.pages)


@pytest.fixture
def published(runtime):
    submit(runtime.engine, "econ", "2021-10", {"fixed_asset_investment": (None, 52345.0)}, at(2021, 11, 3))
    submit(runtime.engine, "invest", "2021-10", {"investment_funds": (1.0, 10.52)}, at(2021, 11, 8))
    return publish_township(runtime, "taoyuan", Period(2021, 10), final=False, published_at=at(2021, 11, 10, 1))


def test_pdf_is_a4_with_the_paragraph_page_numbers_and_an_embedded_cjk_font(published):
    pdf = published.folder / "report.pdf"
    reader = PdfReader(pdf)
    assert all((round(float(p.mediabox.width), 2), round(float(p.mediabox.height), 2)) == A4 for p in reader.pages)
    text = _text(reader)
    assert "桃源镇主要指标月报表（2021年1-10月）快报" in text
    assert published.narrative.startswith("1-10月完成固定资产投资52,345万元")
    assert published.narrative in text
    assert "| 公共财政预算收入" not in text and "公共财政预算收入万元未报未报" in text  # the table, as cells
    for n, page in enumerate(reader.pages, start=1):
        assert f"第{n}页" in "".join(page.extract_text().split())
    cjk = [f.get_object() for p in reader.pages for f in p["/Resources"]["/Font"].values()
           if "NotoSansCJK" in str(f.get_object()["/BaseFont"])]
    assert cjk and all("/FontFile2" in f["/FontDescriptor"] for f in cjk)  # embedded, not left to the reader
    # The charts are in it too, as vector drawings whose labels are text (no images to decode).
    for title in ("1-10月累计与去年同期对比", "完成率与序时进度", "累计值逐月走势", "固定资产投资（万元）"):
        assert title in text
    assert sum(len(p.images) for p in reader.pages) == 0
    manifest = json.loads((published.folder / "manifest.json").read_text(encoding="utf-8"))
    assert "report.pdf" in manifest["files"]


def _header() -> ExportHeader:
    return ExportHeader("taoyuan", "桃源镇", "2021-10", "1-10月", 1, "preliminary", "快报", "2021-11-10 09:00", "ab" * 32)


def test_a_long_table_splits_between_rows_with_its_header_repeated():
    rows = pd.DataFrame({"单位": [f"第{i:03d}村民委员会" for i in range(150)], "数值": [f"{i},000" for i in range(150)]})
    pdf = render_pdf(_header(), [Section("报送情况", ["说明。"], table=rows)])
    pages = [ "".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(pdf)).pages]
    assert len(pages) >= 3
    assert all("单位数值" in page for page in pages)  # the header row starts every page of the table
    for i in range(150):  # every row whole, on exactly one page
        assert sum(f"第{i:03d}村民委员会{i},000" in page for page in pages) == 1, (i, pages)


def test_rendering_again_gives_the_same_bytes():
    sections = [Section("综述", ["1-10月完成固定资产投资52,345万元，同比增长12.3%。"])]
    assert render_pdf(_header(), sections) == render_pdf(_header(), sections)


def test_cell_strings_are_coded_as_reportlab_codes_them():
    """The table's fast path for a string whose characters all have their codes gives the runs reportlab's
    splitString gives, in a document where the codes are assigned in the same order (a new character, nbsp, an
    empty string and a second subset go through splitString)."""
    from reportlab.pdfbase.pdfdoc import PDFDocument
    from reportlab.pdfbase.pdfmetrics import getFont

    from tasks.report_pdf import _register_font, _split_string

    chars = "".join(chr(c) for c in range(0x4E00, 0x4E00 + 300))  # more than one subset of 256 codes
    font = getFont(_register_font(chars + "未报同比"))
    cells = ["未报", "12,345.6", "未报", "", "1\xa02", "同比未报12", *chars[:150], "未报" + chars[:40], *chars[150:]]
    ours, theirs = PDFDocument(), PDFDocument()
    assert [_split_string(font, c, ours) for c in cells] == [font.splitString(c, theirs) for c in cells]
    assert font.state[ours].assignments == font.state[theirs].assignments
