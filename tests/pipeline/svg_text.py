"""Where the text of a chart drawn by Vega (vl-convert's SVG) sits: one box per visible <text> element, its width
measured by the same engine, so a test can check that no two labels, titles or legend entries overlap."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

SVG = "{http://www.w3.org/2000/svg}"
GAP = 2.0  # px: two texts closer than this read as one string (`0.0%0.1%` on an axis)
# Above / below the baseline, in font sizes: Vega's own offsets (its SVG writes every text at its alphabetic
# baseline; baseline "top" moves it down 0.79 em, "bottom" up 0.21 em).
ASCENT, DESCENT = 0.79, 0.21
SCALE = 100  # text_width measures at 100x the size: Vega's canvas size is whole px, so 0.01 px precision

# An SVG affine transform (a, b, c, d, e, f): x' = a*x + c*y + e, y' = b*x + d*y + f.
Matrix = tuple[float, float, float, float, float, float]
IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


@dataclass(frozen=True)
class TextBox:
    """A text's axis-aligned box in the SVG's pixels (y down)."""
    text: str
    x1: float
    y1: float
    x2: float
    y2: float

    def near(self, other: TextBox, gap: float = GAP) -> bool:
        """The two boxes intersect, or leave less than ``gap`` px between them on both axes."""
        return (self.x1 < other.x2 + gap and other.x1 < self.x2 + gap
                and self.y1 < other.y2 + gap and other.y1 < self.y2 + gap)


def text_width(text: str, family: str, size: float, weight: str) -> float:
    """Width in px of ``text`` as Vega lays it out (vl-convert's bundled fonts): a Vega chart holding only that
    text, at SCALE times the size, padded to fit it; its canvas width is the text's."""
    import vl_convert

    enter = {"text": {"value": text}, "font": {"value": family}, "fontSize": {"value": size * SCALE},
             "fontWeight": {"value": weight}}
    spec = {"autosize": "pad", "padding": 0, "width": 0, "height": 0,
            "marks": [{"type": "text", "encode": {"enter": enter}}]}
    return float(ET.fromstring(vl_convert.vega_to_svg(spec)).get("width")) / SCALE


def _compose(m: Matrix, n: Matrix) -> Matrix:
    """m after n: the matrix product m @ n."""
    a, b, c, d, e, f = m
    a2, b2, c2, d2, e2, f2 = n
    return (a * a2 + c * b2, b * a2 + d * b2, a * c2 + c * d2, b * c2 + d * d2,
            a * e2 + c * f2 + e, b * e2 + d * f2 + f)


def _parse_transform(attr: str) -> Matrix:
    """The translate(x,y) / rotate(deg) list Vega writes, left to right as SVG applies it to the parent."""
    m = IDENTITY
    for name, args in re.findall(r"(\w+)\(([^)]*)\)", attr):
        v = [float(s) for s in re.split(r"[\s,]+", args.strip())]
        if name == "translate":
            m = _compose(m, (1.0, 0.0, 0.0, 1.0, v[0], v[1] if len(v) > 1 else 0.0))
        elif name == "rotate" and len(v) == 1:
            r = math.radians(v[0])
            m = _compose(m, (math.cos(r), math.sin(r), -math.sin(r), math.cos(r), 0.0, 0.0))
        else:  # Vega writes neither; guessing would give wrong boxes
            raise ValueError(f"unsupported SVG transform {name}({args})")
    return m


def _box(el: ET.Element, m: Matrix, text: str) -> TextBox:
    """The box of one <text> at its baseline origin (Vega sets no x/y/dy, only the transform)."""
    if any(el.get(k) for k in ("x", "y", "dx", "dy")) or len(el):
        raise ValueError(f"a <text> positioned other than by its transform (or with tspans): {text!r}")
    size = float(el.get("font-size", "11").removesuffix("px"))
    w = text_width(text, el.get("font-family", "sans-serif"), size, el.get("font-weight", "normal"))
    left = {"start": 0.0, "middle": -w / 2, "end": -w}[el.get("text-anchor", "start")]
    corners = [(x, y) for x in (left, left + w) for y in (-ASCENT * size, DESCENT * size)]
    a, b, c, d, e, f = m
    xs = [a * x + c * y + e for x, y in corners]
    ys = [b * x + d * y + f for x, y in corners]
    return TextBox(text, min(xs), min(ys), max(xs), max(ys))


def text_boxes(svg: str) -> list[TextBox]:
    """Every visible text of the chart: not in a hidden group, opacity not 0 (Vega's label-overlap removal
    hides a label by opacity 0), not empty."""
    boxes: list[TextBox] = []

    def walk(el: ET.Element, m: Matrix) -> None:
        if el.get("display") == "none" or float(el.get("opacity", "1")) == 0:
            return
        m = _compose(m, _parse_transform(el.get("transform", "")))
        if el.tag == f"{SVG}text":
            if text := "".join(el.itertext()).strip():
                boxes.append(_box(el, m, text))
            return
        for child in el:
            walk(child, m)

    walk(ET.fromstring(svg), IDENTITY)
    return boxes


def crowded_pairs(boxes: list[TextBox], gap: float = GAP) -> list[tuple[TextBox, TextBox]]:
    """Every pair of texts that overlap or sit closer than ``gap`` px."""
    return [(p, q) for i, p in enumerate(boxes) for q in boxes[i + 1:] if p.near(q, gap)]
