"""The CJK font every published artefact uses (mplfonts' Noto Sans CJK SC, SIL OFL), cut down to a report's
characters: WOFF2 for report.html (inlined), TrueType for report.pdf (reportlab embeds TrueType only).

A reader's machine may have no CJK font at all (Debian's Chromium then shows boxes), so the report carries its
own. The subset is built glyph by glyph with fontTools' FontBuilder rather than fontTools.subset: the source has
65,000 CFF glyphs and subsetting it costs seconds per report, while drawing only the glyphs a report uses
(converted once per process to TrueType outlines, then memoised) costs milliseconds, and both files then have
the same outlines. Output is a pure function of the text: no timestamps, glyphs in code-point order.
"""

from __future__ import annotations

import io
import threading
from functools import lru_cache
from pathlib import Path

FAMILY = "Noto Sans CJK SC"
# fontTools' lazy tables are not safe to fill from two threads at once, and the memoised glyphs are compiled
# into each font: one font is built at a time (a few hundred ms) when townships publish in parallel threads.
_LOCK = threading.RLock()
_GLYPHS: dict[str, tuple] = {}
WOFF2_QUALITY = 9  # glyph name in the source → (TrueType glyph, advance width), memoised


def cjk_font_path() -> Path:
    import mplfonts

    return Path(mplfonts.__file__).parent / "fonts" / "NotoSansCJKsc-Regular.otf"


@lru_cache(maxsize=1)
def _source():  # noqa: ANN202
    from fontTools.ttLib import TTFont

    # lazy: only the tables and charstrings a report needs are ever parsed.
    return TTFont(str(cjk_font_path()), lazy=True)


def text_width(text: str, size: float) -> float:
    """Width in points of `text` set in this font at `size` (the glyphs' advance widths; a character the font
    lacks counts one em): what the charts lay their labels out by."""
    with _LOCK:
        if not _ADVANCES:
            src = _source()
            cmap, hmtx, em = src.getBestCmap(), src["hmtx"], src["head"].unitsPerEm
            _ADVANCES.update({"": em})
            _ADVANCES.update({chr(u): hmtx[g][0] for u, g in cmap.items() if u < 0x3100 or 0xFF00 <= u < 0xFFF0})
        em = _ADVANCES[""]
        return sum(_ADVANCES.get(c, em) for c in text) * size / em


_ADVANCES: dict[str, int] = {}  # character → advance (font units) for Latin, punctuation and kana; "" → em


# Every subset also holds printable ASCII (digits, Latin, punctuation: ~95 small glyphs), so that the subsets of a
# month's reports and charts depend on their Chinese characters only and are shared (memoised) across townships.
_ASCII = frozenset(chr(c) for c in range(0x20, 0x7F))


def _charset(text: str) -> list[str]:
    return sorted(c for c in set(text) | _ASCII if c.isprintable())


def _truetype_glyph(name: str) -> tuple:
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen

    if name not in _GLYPHS:
        src = _source()
        pen = TTGlyphPen(None)
        # max_err 1 font unit (em = 1000): invisible in print; reverse_direction: CFF → TrueType winding.
        src.getGlyphSet()[name].draw(Cu2QuPen(pen, max_err=1.0, reverse_direction=True))
        glyph = pen.glyph()
        glyph.__class__ = _compiled_once_class()
        _GLYPHS[name] = (glyph, src["hmtx"][name][0])
    return _GLYPHS[name]


@lru_cache(maxsize=1)
def _compiled_once_class() -> type:
    """fontTools' glyf Glyph whose point data is encoded once: a memoised glyph goes into many fonts, and
    encoding its coordinates (delta packing) was most of the time of saving a subset. The coordinates of a
    memoised glyph never change, so the cached bytes stay right."""
    from fontTools.ttLib.tables._g_l_y_f import Glyph

    class CompiledOnceGlyph(Glyph):
        def compileCoordinates(self, *, optimizeSize: bool = True, extended: bool = True) -> bytes:
            key = (optimizeSize, extended)
            cached = self.__dict__.get("_coordinates_data")
            if cached is None or cached[0] != key:
                cached = self._coordinates_data = (key, super().compileCoordinates(optimizeSize=optimizeSize,
                                                                                   extended=extended))
            return cached[1]

    return CompiledOnceGlyph


def _build(text: str, ps_name: str | None = None):  # noqa: ANN202
    from fontTools.fontBuilder import FontBuilder

    with _LOCK:
        src = _source()
        cmap = src.getBestCmap()
        chars = [c for c in _charset(text) if ord(c) in cmap]
        order = [".notdef"] + [f"uni{ord(c):04X}" if ord(c) <= 0xFFFF else f"u{ord(c):05X}" for c in chars]
        drawn = [_truetype_glyph(".notdef")] + [_truetype_glyph(cmap[ord(c)]) for c in chars]
        hhea, os2, head = src["hhea"], src["OS/2"], src["head"]
        names = {i: src["name"].getDebugName(i) for i in (0, 1, 2, 3, 4, 5, 6, 7, 13, 14)}
    fb = FontBuilder(head.unitsPerEm, isTTF=True)
    fb.font.recalcTimestamp = False  # head.modified stays as set below: the same text gives the same bytes
    fb.setupHead(unitsPerEm=head.unitsPerEm, created=head.created, modified=head.modified,
                 fontRevision=head.fontRevision)
    fb.setupGlyphOrder(order)
    fb.setupCharacterMap({ord(c): g for c, g in zip(chars, order[1:])})
    glyphs = {}
    metrics = {}
    for name, (glyph, advance) in zip(order, drawn):
        glyphs[name] = glyph
        glyph.recalcBounds(None)
        metrics[name] = (advance, getattr(glyph, "xMin", 0))
    fb.setupGlyf(glyphs)
    fb.setupHorizontalMetrics(metrics)
    fb.setupHorizontalHeader(ascent=hhea.ascent, descent=hhea.descent, lineGap=hhea.lineGap)
    # The OFL travels with the font: copyright, licence and licence URL are kept from the source's name table.
    fb.setupNameTable({"copyright": names[0], "familyName": names[1] or FAMILY, "styleName": names[2] or "Regular",
                       "uniqueFontIdentifier": names[3], "fullName": names[4], "version": names[5],
                       "psName": ps_name or names[6], "trademark": names[7], "licenseDescription": names[13],
                       "licenseInfoURL": names[14]})
    fb.setupOS2(sTypoAscender=os2.sTypoAscender, sTypoDescender=os2.sTypoDescender,
                sTypoLineGap=os2.sTypoLineGap, usWinAscent=os2.usWinAscent, usWinDescent=os2.usWinDescent,
                achVendID=os2.achVendID, fsType=0, usWeightClass=os2.usWeightClass,
                ulCodePageRange1=os2.ulCodePageRange1, ulCodePageRange2=os2.ulCodePageRange2)
    fb.setupPost(keepGlyphNames=False)
    return fb.font


def _save(font, flavor: str | None = None) -> bytes:  # noqa: ANN001
    font.flavor = flavor
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


class _Brotli9:
    """The brotli module as fontTools' WOFF2 writer uses it, compressing at quality 9 (deterministic)."""

    @staticmethod
    def compress(data: bytes, mode: int = 0) -> bytes:
        import brotli

        return brotli.compress(data, mode=mode, quality=WOFF2_QUALITY)

    @staticmethod
    def decompress(data: bytes) -> bytes:
        import brotli

        return brotli.decompress(data)

    MODE_FONT = 2  # brotli.MODE_FONT


def woff2_subset(text: str) -> bytes:
    """A WOFF2 font (brotli) with the glyphs of `text`: some tens of KB for a report instead of 16 MB.
    Memoised by the characters (the output depends on nothing else): a month's reports and charts of many
    townships differ mostly in digits, so they share a few subsets, each built once per process."""
    return _woff2_of_charset("".join(_charset(text)))


@lru_cache(maxsize=256)
def _woff2_of_charset(charset: str) -> bytes:
    import brotli
    from fontTools.ttLib import woff2
    from fontTools.ttLib.woff2 import WOFF2FlavorData

    with _LOCK:
        font = _build(charset)
        # No glyf/loca transform: it halves the time to write and costs a few per cent of size at this scale.
        font.flavorData = WOFF2FlavorData(transformedTables=())
        # Brotli quality 9 instead of fontTools' fixed 11: ~15× faster (11 was a fifth of a township's publish)
        # for a font ~2 % larger. fontTools takes no quality, so its module's brotli is swapped for the call
        # (under _LOCK: the only writer of WOFF2 in the process); decompression is unchanged.
        woff2.brotli = _Brotli9
        try:
            return _save(font, "woff2")
        finally:
            woff2.brotli = brotli


def truetype_subset(text: str, ps_name: str | None = None) -> bytes:
    """The same subset as a TrueType font (for reportlab, which then embeds only the glyphs it draws).
    ps_name: a PostScript name of its own (reportlab keys fonts by it: one font per name per process)."""
    with _LOCK:
        return _save(_build(text, ps_name))
