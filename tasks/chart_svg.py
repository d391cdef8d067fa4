"""The charts' SVG, written as text straight from their shapes: the bytes reportlab's renderSVG writes for them,
without the xml.dom.minidom tree renderSVG builds and serialises (most of a chart's SVG time: an attribute set
costs more than the shape's whole line here).

It writes what tasks/charts.py and tasks/county_charts.py draw: Rect (square corners), Line, PolyLine, Circle,
String (anchored at its start) and Group, in reportlab's graphics state as renderSVG tracks it (the style of a
shape is the drawing's default style with the shape's own colours, widths, dashes and font laid over it, in the
same order, with the same number formats). Anything else (another shape, a link, a scaled drawing, transparency)
returns None, and the caller lets renderSVG write it. tests/test_charts_svg.py compares the two on every chart
of the reports.
"""

from __future__ import annotations

from reportlab import rl_config
from reportlab.graphics.renderSVG import py_fp_str
from reportlab.graphics.shapes import STATE_DEFAULTS, Circle, Drawing, Group, Line, PolyLine, Rect, String
from reportlab.lib.rl_accel import fp_str

# renderSVG's canvas starts each shape from the drawing's default state (STATE_DEFAULTS): its style keys in the
# order stroke, stroke-linecap, stroke-width, fill, fill-rule; a shape's own font moves the font keys after them, a
# dash adds its key at the end; a shape's width equal to the default's keeps the default's value (1, not 1.0).
_BASE_FONT, _BASE_SIZE = str(STATE_DEFAULTS["fontName"]), STATE_DEFAULTS["fontSize"]
_BASE_WIDTH = STATE_DEFAULTS["strokeWidth"]
_IDENTITY = (1, 0, 0, 1, 0, 0)


class _Unsupported(Exception):
    """A shape or setting this writer does not write as renderSVG would."""


def escape(s: str) -> str:
    """minidom's escaping of text and attribute values (Python 3.11): &, <, " and >."""
    return s.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;").replace(">", "&gt;")


def _rgb(color) -> str:  # noqa: ANN001
    if color.normalizedAlpha != 1:
        raise _Unsupported("transparency")
    return "rgb(%d%%,%d%%,%d%%)" % (color.red * 100, color.green * 100, color.blue * 100)


def _cfp(*args: float) -> str:
    return py_fp_str(*args).replace(" ", ",")


def _lines(shape) -> tuple[str, str, str]:  # noqa: ANN001
    """The stroke, stroke-width and dash entry ('' or '; stroke-dasharray: …') of a shape (its line cap: butt)."""
    if shape.strokeLineCap != 0 or shape.strokeLineJoin != 0:
        raise _Unsupported("line cap or join")
    stroke = "none" if shape.strokeColor is None else _rgb(shape.strokeColor)
    width = shape.strokeWidth
    width = _BASE_WIDTH if width == _BASE_WIDTH else width  # renderSVG keeps the default's 1 when they are equal
    dash = shape.strokeDashArray
    if dash:
        if not isinstance(dash, (list, tuple)) or len(dash) == 2 and isinstance(dash[1], (list, tuple)):
            raise _Unsupported("dash phase")
        dash = "; stroke-dasharray: " + ", ".join(map(str, dash))
    else:
        dash = ""
    return stroke, str(width), dash


def _area(shape) -> str:  # noqa: ANN001
    """renderSVG's AREA_STYLES of a filled shape (keys in the canvas style's order)."""
    stroke, width, dash = _lines(shape)
    fill = "none" if shape.fillColor is None else _rgb(shape.fillColor)
    return f"stroke: {stroke}; stroke-linecap: butt; stroke-width: {width}; fill: {fill}; fill-rule: evenodd{dash};"


def _links(shape) -> None:  # noqa: ANN001
    if getattr(shape, "hrefURL", None) or getattr(shape, "_svgAttrs", None):
        raise _Unsupported("link or SVG attributes")


def _shape(node, indent: str, out: list[str], fonts: dict[str, str]) -> None:  # noqa: ANN001, C901
    """Append node's element (and its children's) as minidom's writexml indents them."""
    _links(node)
    if isinstance(node, String):
        if node.textAnchor not in ("start", "inherited", "left") or getattr(node, "textRenderMode", 0) != 0:
            raise _Unsupported("text anchor or render mode")
        if node.fillColor is None:
            return  # renderSVG draws no text without a fill
        font, size = node.fontName, node.fontSize
        if (font, size) == (_BASE_FONT, _BASE_SIZE):
            raise _Unsupported("the default font")  # renderSVG would keep the canvas' font keys in place
        family = fonts.get(font) or escape(str(font))
        x, y = node.x, node.y
        out.append(f'{indent}<text x="{x}" y="{y}" style="font-family: {family}; font-size: {size}px;fill: '
                   f'{_rgb(node.fillColor)}; stroke:none;" transform="translate(0,{int(2 * y)}) scale(1,-1)">'
                   f"{escape(node.text)}</text>\n")
    elif isinstance(node, Line):
        if node.strokeColor is None:
            return
        stroke, width, dash = _lines(node)
        out.append(f'{indent}<path d="M {_cfp(node.x1, node.y1)} L {_cfp(node.x2, node.y2)} Z" style="stroke: '
                   f'{stroke}; stroke-linecap: butt; stroke-width: {width}{dash};"/>\n')
    elif isinstance(node, Rect):
        if node.rx != 0 or node.ry != 0:
            raise _Unsupported("rounded rectangle")
        x1, y1 = node.x, node.y
        x2, y2 = x1 + node.width, y1 + node.height
        x, y = min(x1, x2), min(y1, y2)
        out.append(f'{indent}<rect x="{x}" y="{y}" width="{max(x1, x2) - x}" height="{max(y1, y2) - y}" '
                   f'style="{_area(node)}"/>\n')
    elif isinstance(node, PolyLine):
        if node.strokeColor is None:
            return
        p = node.points
        points = ", ".join(fp_str(p[i], p[i + 1]) for i in range(0, len(p), 2))
        stroke, width, dash = _lines(node)
        out.append(f'{indent}<polyline points="{points}" style="stroke: {stroke}; stroke-linecap: butt; '
                   f'stroke-width: {width}; fill: None; fill-rule: evenodd{dash};"/>\n')
    elif isinstance(node, Circle):
        out.append(f'{indent}<circle cx="{node.cx}" cy="{node.cy}" r="{node.r}" style="{_area(node)}"/>\n')
    elif type(node) is Group:
        transform = tuple(node.transform)
        attr = "" if transform == _IDENTITY else " matrix(%s)" % _cfp(*transform)
        if not node.contents:
            out.append(f'{indent}<g transform="{attr}"/>\n')
            return
        out.append(f'{indent}<g transform="{attr}">\n')
        for child in node.contents:
            _shape(child, indent + "\t", out, fonts)
        out.append(f"{indent}</g>\n")
    else:
        raise _Unsupported(type(node).__name__)


def svg_element(drawing: Drawing, title: str, group_id: str, fonts: dict[str, str]) -> str | None:
    """The drawing's `<svg>` element as renderSVG writes it (from "<svg" to the end), with `<title>` the escaped
    title and no `<desc>`, the clip path `<group_id>-clip`, the drawing's group `group_id`, and each font name of
    `fonts` written as its value (a CSS font stack). None when the drawing holds what this writer does not write."""
    if (type(drawing) is not Drawing or drawing.renderScale != 1.0 or tuple(drawing.transform) != _IDENTITY
            or rl_config.showBoundary):
        return None
    w, h = drawing.width, drawing.height
    out = [f'<svg width="{w}" height="{h}" preserveAspectRatio="xMinYMin meet" viewBox="0 0 %d %d" '
           'xmlns="http://www.w3.org/2000/svg" version="1.0" fill-rule="evenodd" '
           'xmlns:xlink="http://www.w3.org/1999/xlink">\n' % (w, h),
           f"\t<title>{escape(title)}</title>\n",
           f'\t<clipPath id="{group_id}-clip">\n\t\t<rect x="0" y="0" width="{w}" height="{h}"/>\n\t</clipPath>\n',
           f'\t<g id="{group_id}" transform="scale(1,-1) translate(0,-%d)" style="clip-path: url(#{group_id}-clip)">\n'
           % h]
    try:
        _shape(Group(*drawing.contents), "\t\t", out, fonts)
    except _Unsupported:
        return None
    out.append("\t</g>\n</svg>\n")
    return "".join(out)
