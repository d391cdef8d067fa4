"""The report's charts as vector drawings (reportlab graphics), labelled in Chinese with the one CJK font of every
artefact (tasks/fonts.py): embedded as vector graphics in report.pdf, inlined as SVG in report.html (its text in the
page's own font), and written as `chart_*.svg` files carrying their font subset.

Three charts per vintage: ytd this year vs last year (headline indicators), completion vs time elapsed, and the
monthly trend of the cumulative for a few headline indicators.

Why not matplotlib PNGs any more: a PNG chart cost ~0.2 CPU-s to lay out and rasterise (half of a township's
publish); the same bars, lines and labels as a Drawing cost a few milliseconds, print sharp at any size, and the
PDF no longer decodes and recompresses images. Layout is done here, in points, from the font's advance widths.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from matplotlib.ticker import MaxNLocator
from reportlab import rl_config

# reportlab checks every attribute set on a shape against its declared type (a debugging aid, on by default): ~40%
# of drawing a township's charts. The charts set only values their tests draw; the drawings are the same.
# Read when reportlab.graphics.shapes is first imported, and by its check at each set.
rl_config.shapeChecking = 0

from reportlab.graphics.shapes import Circle, Drawing, Group, Line, PolyLine, Rect, String  # noqa: E402
from reportlab.lib.colors import HexColor

from tasks import chart_svg, fonts

THIS_YEAR, LAST_YEAR, BEHIND, INK, GREY, MISSING_RED = "#1F5AA6", "#B8C4D6", "#C0504D", "#222222", "#444444", "#9C0006"
TREND_INDICATORS = 4  # how many headline indicators get a trend panel
INCH = 72.0
# The font name the drawings carry; each output names its own (the PDF's registered subset, SVG's CSS stack).
FONT = "ReportCJK"
SVG_FONTS = "'Report CJK','Noto Sans CJK SC','Source Han Sans SC','Microsoft YaHei','PingFang SC',sans-serif"


def cjk_font() -> str:
    """The family name of the charts' font (the report's: mplfonts' Noto Sans CJK SC)."""
    return fonts.FAMILY


@dataclass
class Chart:
    """One chart: its file name in the vintage folder, its title, and the drawing."""

    name: str
    title: str
    drawing: Drawing
    _svg: str | None = field(default=None, repr=False)  # rendered once, for the file and for the page

    def strings(self) -> Iterator[String]:
        stack = list(self.drawing.contents)
        while stack:
            node = stack.pop()
            if isinstance(node, String):
                yield node
            elif isinstance(node, Group):
                stack.extend(node.contents)

    @property
    def text(self) -> str:
        """Every character the chart shows (its font subset is cut to them)."""
        return "".join(s.text for s in self.strings())

    def in_font(self, font: str) -> Drawing:
        """The drawing with its text set in `font` (a reportlab font name registered by the caller)."""
        for s in self.strings():
            s.fontName = font
        return self.drawing

    def svg(self, inline: bool = False) -> str:
        """The chart as SVG. inline: an `<svg>` element for report.html (no XML prolog, no namespace URL, ids
        named after the chart, text in the page's font); else a standalone file that carries its font subset."""
        if self._svg is None:
            self._svg = self._render_svg()
        doc = self._svg
        if inline:
            doc = re.sub(r' xmlns(:xlink)?="[^"]*"', "", doc, count=2)
            return doc.replace("<svg ", f'<svg role="img" aria-label="{chart_svg.escape(self.title)}" ', 1)
        woff2 = base64.b64encode(fonts.woff2_subset(self.text)).decode("ascii")
        style = ('<style>@font-face{font-family:"Report CJK";font-style:normal;font-weight:400;'
                 f'src:url(data:font/woff2;base64,{woff2}) format("woff2")}}</style>')
        head_end = doc.index(">") + 1
        return '<?xml version="1.0" encoding="utf-8"?>\n' + doc[:head_end] + "\n\t" + style + doc[head_end:]

    def _render_svg(self) -> str:
        """The `<svg>` element, ids named after the chart, text in SVG_FONTS: written from the shapes
        (tasks/chart_svg.py), or by reportlab's renderSVG when the drawing holds what that writer does not write."""
        stem = Path(self.name).stem
        drawing = self.in_font(FONT)
        return chart_svg.svg_element(drawing, self.title, stem, {FONT: SVG_FONTS}) \
            or reportlab_svg(drawing, self.title, stem)

    def write(self, folder: Path) -> Path:
        path = folder / self.name
        path.write_text(self.svg(), encoding="utf-8")
        return path


def reportlab_svg(drawing: Drawing, title: str, stem: str) -> str:
    """The `<svg>` element as reportlab's renderSVG writes it (through an xml.dom.minidom tree), ids named after
    the chart, text in SVG_FONTS: what tasks/chart_svg.py writes faster, and the reference its test compares with."""
    from reportlab.graphics import renderSVG

    doc = renderSVG.drawToString(drawing)
    doc = doc[doc.index("<svg"):]
    doc = (doc.replace('id="clip"', f'id="{stem}-clip"').replace("url(#clip)", f"url(#{stem}-clip)")
           .replace('id="group"', f'id="{stem}"').replace(f"font-family: {FONT};", f"font-family: {SVG_FONTS};"))
    return re.sub(r"<title>.*?</title>\s*<desc>.*?</desc>", f"<title>{chart_svg.escape(title)}</title>", doc,
                  count=1, flags=re.S)


# --- drawing primitives, in points, y up ---

def _text(x: float, y: float, s: str, size: float, anchor: str = "start", color: str = INK) -> String:
    """A label whose anchor is resolved here (from the font's widths), so every renderer places it the same."""
    if anchor != "start":
        w = fonts.text_width(s, size)
        x -= w if anchor == "end" else w / 2
    return String(x, y, s, fontName=FONT, fontSize=size, fillColor=HexColor(color))


def _lines(x: float, y: float, lines: Sequence[str], size: float, anchor: str = "middle") -> list[String]:
    """Lines of text downward from y (the first line's baseline)."""
    return [_text(x, y - i * size * 1.2, s, size, anchor) for i, s in enumerate(lines)]


def _legend(right: float, top: float, items: Sequence[tuple[str, str, str]], size: float = 7) -> list:
    """Swatches (bar) or short lines (line) with their words, in one row ending at `right`."""
    out: list = []
    x = right
    for word, color, kind in reversed(items):
        x -= fonts.text_width(word, size)
        out.append(_text(x, top - size, word, size))
        x -= 14
        if kind == "bar":
            out.append(Rect(x, top - size, 10, size * 0.8, fillColor=HexColor(color), strokeColor=None))
        else:
            out.append(Line(x, top - size * 0.6, x + 10, top - size * 0.6, strokeColor=HexColor(color),
                            strokeWidth=1.5))
        x -= 8
    return out


def _headline_rows(table: pd.DataFrame, columns: list[str]) -> list[tuple]:
    """The headline indicators' `columns`, in headline order, as tuples: read off the table's lists, not a filtered
    and sorted copy of the whole frame (pandas' per-call cost was most of drawing a township's charts)."""
    rows = [r for r in zip(table["headline"].tolist(), *(table[c].tolist() for c in columns)) if not pd.isna(r[0])]
    return [r[1:] for r in sorted(rows, key=lambda r: r[0])]


def _fmt_value(v: object, decimals: int) -> str:
    return f"{v:,.{int(decimals)}f}"


# --- the charts ---

def ytd_vs_last_year(table: pd.DataFrame, label: str, name: str = "chart_ytd_vs_last_year.svg") -> Chart:
    """1-本月累计 this year next to the comparable base, one pair of bars per headline indicator.

    The pairs have different units, so each pair is scaled to its own larger bar (no y axis; the values are
    written on the bars)."""
    h = _headline_rows(table, ["indicator_name", "unit", "ytd_value", "prior_ytd_value", "decimals"])
    n = max(len(h), 1)
    width, height = max(1.3 * n + 0.4, 4.0) * INCH, 3.2 * INCH
    left, right, top, bottom = 0.1 * INCH, width - 0.1 * INCH, height - 0.45 * INCH, 0.5 * INCH
    title = f"{label}累计与去年同期对比"
    d = Drawing(width, height)
    slot = (right - left) / n
    bar = slot * 0.38
    for i, (nm, unit, ytd, prior, dec) in enumerate(h):
        vals = [0.0 if pd.isna(prior) else float(prior), 0.0 if pd.isna(ytd) else float(ytd)]
        most = max(vals) or 1.0
        texts = ["—" if pd.isna(prior) else _fmt_value(prior, dec), "未报" if pd.isna(ytd) else _fmt_value(ytd, dec)]
        centre = left + slot * (i + 0.5)
        for x, v, color, t in ((centre - slot * 0.2, vals[0], LAST_YEAR, texts[0]),
                               (centre + slot * 0.2, vals[1], THIS_YEAR, texts[1])):
            bar_h = (top - bottom) / 1.2 * v / most
            d.add(Rect(x - bar / 2, bottom, bar, bar_h, fillColor=HexColor(color), strokeColor=None))
            d.add(_text(x, bottom + bar_h + 2, t, 7, "middle"))
        for s in _lines(centre, bottom - 10, [nm.replace("其中：", ""), f"（{unit}）"], 8):
            d.add(s)
    d.add(Line(left, bottom, right, bottom, strokeColor=HexColor(GREY), strokeWidth=0.8))
    for item in _legend(right, top + 2, [("去年同期", LAST_YEAR, "bar"), ("本年", THIS_YEAR, "bar")]):
        d.add(item)
    d.add(_text(width / 2, height - 0.3 * INCH, title, 11, "middle"))
    return Chart(name, title, d)


def _ticks(lo: float, hi: float, n: int = 4) -> list[float]:
    """Round tick values covering lo..hi (matplotlib's MaxNLocator, as the PNG charts had)."""
    if hi <= lo:
        hi = lo + 1.0
    return [float(t) for t in MaxNLocator(n).tick_values(lo, hi)]


def _hbars(d: Drawing, x0: float, x1: float, y0: float, y1: float, values: Sequence[float],
           colors: Sequence[str], labels: Sequence[str], line: float | None, dashed: bool, lo: float,
           hi: float, size: float) -> float:
    """Horizontal bars, the first on top, across x0..x1 for values lo..hi, each with its label at its end, and a
    vertical line at `line` (solid at zero when None); returns the x of value 0."""
    n = max(len(values), 1)
    row = (y1 - y0) / n

    def at(v: float) -> float:
        return x0 + (x1 - x0) * (v - lo) / (hi - lo)

    zero = at(0.0)
    for i, (v, color, label) in enumerate(zip(values, colors, labels)):
        y = y1 - row * (i + 0.5)
        end = at(v)
        d.add(Rect(min(zero, end), y - row * 0.4, abs(end - zero), row * 0.8, fillColor=HexColor(color),
                   strokeColor=None))
        d.add(_text(max(end, zero) + 2, y - size * 0.35, label, size))
    mark = at(line if line is not None else 0.0)
    d.add(Line(mark, y0, mark, y1, strokeColor=HexColor(GREY), strokeWidth=0.8,
               strokeDashArray=[3, 2] if dashed else None))
    d.add(Line(zero, y0, zero, y1, strokeColor=HexColor(GREY), strokeWidth=0.6))
    return zero


def _bar_range(values: Sequence[float], line: float | None, margin: float) -> tuple[float, float]:
    lo = min([0.0, *values, *([line] if line is not None else [])])
    hi = max([0.0, *values, *([line] if line is not None else [])])
    span = (hi - lo) or 1.0
    return lo - (margin * span if lo < 0 else 0.0), hi + margin * span


def _x_axis(d: Drawing, x0: float, x1: float, y: float, lo: float, hi: float, size: float = 8) -> None:
    d.add(Line(x0, y, x1, y, strokeColor=HexColor(GREY), strokeWidth=0.8))
    for t in _ticks(lo, hi, 5):
        if lo <= t <= hi:
            x = x0 + (x1 - x0) * (t - lo) / (hi - lo)
            d.add(Line(x, y, x, y - 3, strokeColor=HexColor(GREY), strokeWidth=0.6))
            d.add(_text(x, y - 3 - size, f"{t:,.0f}", size, "middle"))


def completion_vs_schedule(table: pd.DataFrame, month: int, name: str = "chart_completion.svg") -> Chart:
    """完成率 of every flow indicator with a target, against 序时进度 (months elapsed / 12)."""
    t = [(nm, p) for nm, target, measure, p in zip(table["indicator_name"].tolist(), table["annual_target"].tolist(),
                                                  table["measure"].tolist(), table["target_pct"].tolist())
         if not pd.isna(target) and str(measure) == "flow"]
    elapsed = month / 12 * 100
    names = [nm for nm, _ in t]
    pct = [0.0 if pd.isna(p) else float(p) for _, p in t]
    width, height = 7 * INCH, (0.32 * max(len(t), 3) + 1) * INCH
    label_width = max([fonts.text_width(nm, 9) for nm in names] or [36.0])
    x0, x1, y0, y1 = label_width + 0.15 * INCH, width - 0.2 * INCH, 0.5 * INCH, height - 0.35 * INCH
    lo, hi = _bar_range(pct, elapsed, 0.15)
    d = Drawing(width, height)
    _hbars(d, x0, x1, y0, y1, pct, [THIS_YEAR if p >= elapsed else BEHIND for p in pct],
           ["未报" if pd.isna(v) else f"{v:.1f}%" for _, v in t], elapsed, True, lo, hi, 8)
    row = (y1 - y0) / max(len(names), 1)
    for i, nm in enumerate(names):
        d.add(_text(x0 - 4, y1 - row * (i + 0.5) - 3, nm, 9, "end"))
    mark = x0 + (x1 - x0) * (elapsed - lo) / (hi - lo)
    d.add(_text(mark + 2, y1 + 2, f"序时进度 {elapsed:.1f}%", 8))
    _x_axis(d, x0, x1, y0, lo, hi)
    d.add(_text((x0 + x1) / 2, 6, "完成年度任务 %", 9, "middle"))
    title = "完成率与序时进度"
    d.add(_text(width / 2, height - 0.2 * INCH, title, 11, "middle"))
    return Chart(name, title, d)


def monthly_trend(trend: pd.DataFrame, table: pd.DataFrame, year: int, name: str = "chart_monthly_trend.svg") -> Chart:
    """1-本月累计 by month, this year against last year, for the first few headline indicators."""
    h = _headline_rows(table, ["indicator_code", "indicator_name", "unit"])[:TREND_INDICATORS]
    # indicator → year → [(month, ytd)] of the months with a figure: one pass over the trend instead of a
    # filtered frame per panel and year (pandas' per-call cost was most of the chart's).
    series: dict[str, dict[int, list[tuple[int, float]]]] = {}
    for code, period, v in zip(trend["indicator_code"].tolist(), trend["period"].tolist(),
                               trend["ytd_value"].tolist()):
        if not pd.isna(v):
            series.setdefault(code, {}).setdefault(int(period[:4]), []).append((int(period[5:7]), float(v)))
    n = max(len(h), 1)
    panel = 2.6 * INCH
    width, height = panel * n, 2.4 * INCH
    y0, y1 = 0.3 * INCH, height - 0.55 * INCH
    title = "累计值逐月走势"
    d = Drawing(width, height)
    for p, (code, nm, unit) in enumerate(h):
        x0, x1 = panel * p + 0.55 * INCH, panel * (p + 1) - 0.1 * INCH
        mine = series.get(code, {})
        d.add(_text((x0 + x1) / 2, y1 + 5, f"{nm}（{unit}）", 9, "middle"))
        d.add(Line(x0, y0, x1, y0, strokeColor=HexColor(GREY), strokeWidth=0.8))
        d.add(Line(x0, y0, x0, y1, strokeColor=HexColor(GREY), strokeWidth=0.8))

        def at_x(m: float) -> float:
            return x0 + (x1 - x0) * (m - 0.5) / 12  # noqa: B023

        for m in range(1, 13, 3):
            d.add(Line(at_x(m), y0, at_x(m), y0 - 3, strokeColor=HexColor(GREY), strokeWidth=0.6))
            d.add(_text(at_x(m), y0 - 11, f"{m}月", 7, "middle"))
        ytd = [v for points in mine.values() for _, v in points]
        if not ytd:
            d.add(_text((x0 + x1) / 2, (y0 + y1) / 2, "未报", 9, "middle", MISSING_RED))
            continue
        ticks = _ticks(min(0.0, min(ytd)), max(ytd))  # a cumulative: from zero up
        lo, hi = ticks[0], ticks[-1]

        def at_y(v: float) -> float:
            return y0 + (y1 - y0) * (v - lo) / (hi - lo)  # noqa: B023

        for tick in ticks:
            d.add(Line(x0 - 3, at_y(tick), x0, at_y(tick), strokeColor=HexColor(GREY), strokeWidth=0.6))
            d.add(_text(x0 - 4, at_y(tick) - 2.5, f"{tick:,.0f}", 7, "end"))
        for y, color in ((year - 1, LAST_YEAR), (year, THIS_YEAR)):
            points = [(at_x(m), at_y(v)) for m, v in sorted(mine.get(y, []))]
            if len(points) > 1:
                d.add(PolyLine(points, strokeColor=HexColor(color), strokeWidth=1.5))
            for x, y_ in points:
                d.add(Circle(x, y_, 1.8, fillColor=HexColor(color), strokeColor=None))
    for item in _legend(panel - 0.15 * INCH, y1 - 2, [(f"{year - 1}年", LAST_YEAR, "line"),
                                                       (f"{year}年", THIS_YEAR, "line")]):
        d.add(item)
    d.add(_text(width / 2, height - 0.25 * INCH, title, 11, "middle"))
    return Chart(name, title, d)


def draw_charts(table: pd.DataFrame, trend: pd.DataFrame, label: str, year: int, month: int) -> list[Chart]:
    """The three charts of a township's month (the report shows them; `write_charts` files them)."""
    return [ytd_vs_last_year(table, label), completion_vs_schedule(table, month), monthly_trend(trend, table, year)]

