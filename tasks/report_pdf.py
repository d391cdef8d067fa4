"""report.pdf: the vintage's report for print (A4), from the same sections as report.html and report.md.

Rendered with reportlab (pure pip wheels), not headless Chromium (`make run` cannot assume a browser on a fresh
machine) nor WeasyPrint (needs the system's pango). The CJK font is the charts' Noto Sans CJK SC, subset to the
report's characters (tasks/fonts.py) and embedded. Tables split only between rows and repeat their header row.
`invariant=1` keeps the bytes a function of the content (no creation date, a fixed document id), so
republishing a vintage gives the same manifest.
"""

from __future__ import annotations

import hashlib
import io
import threading
import weakref
from functools import lru_cache
from pathlib import Path

from tasks import fonts
from tasks.exports import MISSING, ExportHeader
from tasks.report import Section, _subtitle, _title

FONT = "NotoSansCJKsc"
ALERT, HEAD_BG, GRID = "#9C0006", "#E8EEF7", "#999999"
_REGISTRY = threading.Lock()  # reportlab's font registry is global to the process


def _report_text(header: ExportHeader, sections: list[Section]) -> str:
    parts = [_title(header), _subtitle(header), "第页共0123456789"]
    for s in sections:
        parts += [s.title, "⚠", *s.paragraphs, *(c.text for c in s.charts)]
        if s.table is not None:
            parts += [str(c) for c in s.table.columns]
            parts += [str(v) for c in s.table.columns for v in s.table[c].tolist()]
    return "".join(parts)


def _register_font(text: str) -> str:
    """Register the subset for this report's text under a name of its own and return the name.

    reportlab's font registry is global and reuses a font registered earlier with the same PostScript name: one
    name per charset keeps reports drawn in one process (or in threads, publishing townships in parallel) from
    sharing a font that lacks their glyphs."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    charset = "".join(sorted(set(text)))
    name = f"{FONT}-{hashlib.sha256(charset.encode('utf-8')).hexdigest()[:12]}"
    with _REGISTRY:  # check and register as one: two threads never build the same font twice
        if name not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(name, io.BytesIO(fonts.truetype_subset(charset, ps_name=name))))
    return name


def _styles(font: str) -> dict:
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_CENTER
    from reportlab.lib.styles import ParagraphStyle

    # wordWrap CJK: Chinese lines break between any two characters, as in print.
    base = ParagraphStyle("base", fontName=font, fontSize=10, leading=15, wordWrap="CJK")
    return {
        "title": ParagraphStyle("title", base, fontSize=15, leading=21, alignment=TA_CENTER, spaceAfter=2),
        "sub": ParagraphStyle("sub", base, fontSize=8, leading=11, alignment=TA_CENTER,
                              textColor=colors.HexColor("#555555"), spaceAfter=6),
        "h2": ParagraphStyle("h2", base, fontSize=12, leading=17, spaceBefore=10, spaceAfter=4,
                             textColor=colors.HexColor("#1F5AA6")),
        "alert": ParagraphStyle("alert", base, fontSize=12, leading=17, spaceBefore=10, spaceAfter=4,
                                textColor=colors.HexColor(ALERT)),
        "p": ParagraphStyle("p", base, spaceAfter=4),
        "cell": ParagraphStyle("cell", base, fontSize=7.5, leading=9.5),
        "num": ParagraphStyle("num", base, fontSize=7.5, leading=9.5, alignment=2),
        "miss": ParagraphStyle("miss", base, fontSize=7.5, leading=9.5, alignment=TA_CENTER,
                               textColor=colors.HexColor(ALERT)),
    }


def _kind(s: str) -> str:
    return "miss" if s == MISSING else ("num" if s[:1].isdigit() or s[:1] == "-" and s[1:2].isdigit() else "cell")


# A cell drawn as plain text takes its font, size, leading, alignment and colour from its cell style
# (_cell_styles), the same as its Paragraph style in _styles: platypus lays a plain string out in microseconds and
# a Paragraph in a tenth of a millisecond, and a township's report has thousands of cells.
_PLAIN_ALIGN = {"cell": "LEFT", "num": "RIGHT", "miss": "CENTER"}
_PAD = 3  # LEFTPADDING = RIGHTPADDING
_VPAD = 2  # TOPPADDING = BOTTOMPADDING


def _table(section: Section, st: dict, width: float):  # noqa: ANN202
    from reportlab.lib import colors
    from reportlab.platypus import Paragraph, TableStyle
    from xml.sax.saxutils import escape

    t = section.table
    cols = list(t.columns)
    text = [[str(v) for v in t[c].tolist()] for c in cols]
    # Column widths by the longest text in each column, so names get room and numbers stay on one line.
    longest = [max([len(str(c))] + [len(v) for v in col]) for c, col in zip(cols, text)]
    weights = [min(max(n, 3), 24) for n in longest]
    widths = [width * w / sum(weights) for w in weights]
    cell = st["cell"]
    font, size = cell.fontName, cell.fontSize
    styles = _cell_styles(font, size, cell.leading)
    limits = [w - 2 * _PAD for w in widths]
    one_line = cell.leading + 2 * _VPAD
    rows, cell_styles, heights = [], [], []
    # Row by row, in one pass: text that fits its column on one line is a plain string; text that must wrap stays a
    # Paragraph (CJK line breaks between any two characters). Each cell gets the shared style of its kind (a
    # Paragraph cell: "cell", its own style aligns it), instead of style commands that platypus applies cell by
    # cell to a CellStyle of each cell's own. A row of plain strings is one line high, as platypus would measure
    # it; rows with a Paragraph it measures.
    for i, row in enumerate([[str(c) for c in cols], *zip(*text)]):
        cells, kinds, one = [], [], True
        for v, limit in zip(row, limits):
            kind = "cell" if i == 0 else _kind(v)
            if "\n" not in v and _string_width(v, font, size) <= limit:
                cells.append(v)
                kinds.append(styles[kind])
            else:
                cells.append(Paragraph(escape(v), st[kind]))
                kinds.append(styles["cell"])
                one = False
        rows.append(cells)
        cell_styles.append(kinds)
        heights.append(one_line if one else None)
    # repeatRows=1: a table continued on the next page starts with its header row; platypus splits between rows.
    # normalizedData: the cells are already str or Paragraph, none None (platypus would check each one).
    table = _table_class()(rows, colWidths=widths, rowHeights=heights, repeatRows=1, hAlign="LEFT",
                           cellStyles=cell_styles, normalizedData=1)
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor(GRID)),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor(HEAD_BG))]))
    return table


@lru_cache(maxsize=1 << 16)
def _string_width(text: str, font: str, size: float) -> float:
    """pdfmetrics.stringWidth, memoised: each cell is measured to place it and, aligned right or centred, again to
    draw it, and a month's tables repeat their words and units. A font's name is cut to its charset
    (_register_font), so a name always has the same widths."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    return stringWidth(text, font, size)


def _cell_styles(font: str, size: float, leading: float) -> dict:
    """The table cells' styles by kind: the report's font, padding, vertically centred; numbers right, 未报
    centred in red. platypus never changes them here (no per-cell style commands), so cells share them."""
    from reportlab.lib import colors
    from reportlab.platypus.tables import CellStyle

    base = CellStyle("cell")
    base.fontname, base.fontsize, base.leading, base.valign = font, size, leading, "MIDDLE"
    base.topPadding = base.bottomPadding = _VPAD
    base.leftPadding = base.rightPadding = _PAD
    out = {"cell": base}
    for kind, align in _PLAIN_ALIGN.items():
        if kind != "cell":
            out[kind] = CellStyle(kind, base)
            out[kind].alignment = align
    out["miss"].color = colors.HexColor(ALERT)
    return out


@lru_cache(maxsize=1)
def _table_class() -> type:
    """platypus' Table, its plain-string cells written into one PDF text object per page of the table.

    Table draws each plain cell with canvas.drawString: a text object of its own (BT … ET) built and formatted per
    cell, which was most of the PDF's cost (a township's ~2,900 cells). Here each cell only moves the text origin
    (Tm) and shows its string in the page's shared text object; position, font, size and colour are exactly what
    drawString would use. Cells holding a Paragraph (wrapped text) are drawn by Table as before, and the shared
    text object goes onto the page after the table's backgrounds and cells and before its grid lines are drawn
    over them, as platypus orders them (a Paragraph cell closes the text object first: the page keeps the cells'
    order)."""
    from reportlab.platypus import Table

    class PlainTextTable(Table):
        _text = None

        def _flush(self) -> None:
            if self._text is not None:
                self.canv.drawText(self._text)
                self._text = None

        def _drawLines(self) -> None:
            self._flush()
            super()._drawLines()

        def _drawCell(self, cellval, cellstyle, pos, size) -> None:  # noqa: ANN001
            # Whether a style's cells can go into the shared text object is asked once per style of the table
            # (cells share their kind's style, _cell_styles; platypus changes no style while it draws).
            plain = self.__dict__.setdefault("_plain", {})
            ok = plain.get(cellstyle)
            if ok is None:
                ok = plain[cellstyle] = cellstyle.alignment in _ALIGNS and cellstyle.valign == "MIDDLE" \
                    and not (cellstyle.href or cellstyle.destination or cellstyle.direction or cellstyle.shaping)
            if not ok or not isinstance(cellval, str) or "\n" in cellval or not self.canv.bottomup:
                self._flush()  # the page keeps the cells' order (what a reader's text extraction follows)
                super()._drawCell(cellval, cellstyle, pos, size)
                return
            text = self._text
            if text is None:
                text = self._text = self.canv.beginText()
                text._font = text._color = None
                self._runs = _RUNS.setdefault(self.canv._doc, {})
            # Font and colour as Table._drawCell sets them on the canvas, only when they change: each cell has a
            # CellStyle object of its own, nearly all alike.
            if text._font != (cellstyle.fontname, cellstyle.fontsize, cellstyle.leading):
                text._font = (cellstyle.fontname, cellstyle.fontsize, cellstyle.leading)
                text.setFont(*text._font)
                font = getFont(cellstyle.fontname)
                # Only a TrueType font's strings are shown by _show: others as textOut shows them.
                text._ttf = font if font._dynamicFont else None
                text._tf = f"{fp_str(cellstyle.fontsize)} Tf {fp_str(cellstyle.leading)} TL"
            if text._color != cellstyle.color:
                text._color = cellstyle.color
                text.setFillColor(cellstyle.color)
            (colpos, rowpos), (colwidth, rowheight) = pos, size
            # x and y as Table._drawCell computes them for one line, valign MIDDLE
            y = rowpos + (cellstyle.bottomPadding + rowheight - cellstyle.topPadding + cellstyle.leading) / 2.0 \
                - cellstyle.fontsize
            if cellstyle.alignment == "LEFT":
                x = colpos + cellstyle.leftPadding
            else:  # RIGHT, CENTER: as canvas.drawRightString and drawCentredString place them
                w = _string_width(cellval, cellstyle.fontname, cellstyle.fontsize)
                x = colpos + colwidth - cellstyle.rightPadding - w if cellstyle.alignment == "RIGHT" \
                    else colpos + (colwidth + cellstyle.leftPadding - cellstyle.rightPadding - w) * 0.5
            if text._ttf is None:
                text.setTextOrigin(x, y)
                text._textOut(cellval)  # textOut without measuring the string again to advance the cursor
            else:
                # text.setTextOrigin(x, y) (bottom-up), its operator written with the string's
                text._x0 = text._x = x
                text._y0 = text._y = y
                text._code.append(f"1 0 0 1 {fp_str(x, y)} Tm {self._show(text, cellval)}")

        def _show(self, text, cellval: str) -> str:  # noqa: ANN001
            """The operators text._textOut(cellval) writes for a TrueType font: the string's runs per font subset
            (the subset's code of each character, assigned once per document and never changed) are formatted
            once per document and string; a township's tables repeat —, 未报, units and counts."""
            font = text._ttf
            runs = self._runs.get((font.fontName, cellval))
            if runs is None:
                doc = self.canv._doc
                runs = self._runs[font.fontName, cellval] = [(subset, f"({self.canv._escape(t)}) Tj")
                                                             for subset, t in _split_string(font, cellval, doc)]
            if len(runs) == 1 and runs[0][0] == text._curSubset:
                return runs[0][1]
            ops = []
            for subset, op in runs:
                if subset != text._curSubset:
                    ops.append(f"{font.getSubsetInternalName(subset, self.canv._doc)} {text._tf}")
                    text._curSubset = subset
                ops.append(op)
            return " ".join(ops)

    from reportlab.lib.rl_accel import fp_str
    from reportlab.pdfbase.pdfmetrics import getFont

    return PlainTextTable


def _split_string(font, text: str, doc) -> list[tuple[int, bytes]]:  # noqa: ANN001
    """font.splitString(text, doc): the string's runs of one subset each, as (subset, codes). When every character
    already has its code, all in the first subset (ASCII, digits and the first ~130 other characters the document
    shows: nearly every number after the first few cells), the one run is read off the codes in one pass;
    otherwise reportlab's splitString assigns the new codes, character by character."""
    state = font.state.get(doc)
    if state is not None and text and "\xa0" not in text:
        codes = state.assignments
        points = list(map(ord, text))
        if all(map(codes.__contains__, points)):
            n = list(map(codes.__getitem__, points))
            if max(n) < 256:
                return [(0, bytes(n))]
    return font.splitString(text, doc)


_RUNS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # PDF document → (font, string) → formatted runs


_ALIGNS = ("LEFT", "RIGHT", "CENTER", "CENTRE")  # the alignments the shared text object draws


def _chart(chart, font: str, width: float, max_height: float):  # noqa: ANN001, ANN202
    """The chart's drawing as a vector flowable in the report's font, scaled down to fit (never up)."""
    from reportlab.graphics.shapes import Drawing, Group

    drawing = chart.in_font(font)
    scale = min(width / drawing.width, max_height / drawing.height, 1.0)
    fitted = Drawing(drawing.width * scale, drawing.height * scale, Group(*drawing.contents,
                                                                          transform=(scale, 0, 0, scale, 0, 0)))
    fitted.hAlign = "CENTER"
    return fitted


def render_pdf(header: ExportHeader, sections: list[Section]) -> bytes:
    """The PDF's bytes; the sections' charts are drawn into it as vector graphics."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer
    from xml.sax.saxutils import escape

    font = _register_font(_report_text(header, sections))
    st = _styles(font)
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
                            bottomMargin=18 * mm, title=_title(header), author=f"{header.township_name}统计站",
                            creator="township-indicators", invariant=1)

    def page_number(canvas, doc) -> None:  # noqa: ANN001
        canvas.saveState()
        canvas.setFont(font, 8)
        canvas.drawCentredString(A4[0] / 2, 9 * mm, f"第{doc.page}页")
        canvas.restoreState()

    story = [Paragraph(escape(_title(header)), st["title"]), Paragraph(escape(_subtitle(header)), st["sub"])]
    for s in sections:
        head = Paragraph(escape(("⚠ " if s.alert else "") + s.title), st["alert" if s.alert else "h2"])
        body = [Paragraph(escape(p), st["p"]) for p in s.paragraphs]
        if s.table is not None:
            body.append(_table(s, st, doc.width))
        body += [_chart(c, font, doc.width, doc.height * 0.45) for c in s.charts]
        # The heading stays with what follows it; a long table still splits (between rows).
        story += [KeepTogether([head, *body[:1]]), *body[1:], Spacer(1, 2 * mm)]
    doc.build(story, onFirstPage=page_number, onLaterPages=page_number)
    return out.getvalue()


def write_pdf(folder: Path, header: ExportHeader, sections: list[Section]) -> Path:
    path = folder / "report.pdf"
    path.write_bytes(render_pdf(header, sections))
    return path
