"""Text to a glyph-coverage mask with Pillow: straight, letter-spaced, or along a circular arc.

Straight text is drawn in one call (Raqm layout, kerning). With extra spacing or a curve each character is
drawn alone: its pen position comes from the kerned length of the prefix, and on a curve the glyph is
rotated to the arc's tangent and placed along it.

Every mask carries the centre of each character's advance box (x at the middle of the advance, y at about
half the x-height), in mask pixels: the renderer maps them through the scene, warp and crop, and training
uses them as per-frame targets (``textrec.training.loss``).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont


@dataclass(frozen=True)
class TextMask:
    mask: np.ndarray  # [H, W] uint8 glyph coverage, with a zero border
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 of the ink (exclusive end)
    height: int  # em height of the font in px (size), for scaling effects
    centres: np.ndarray  # [L, 2] float32: (x, y) of each character's centre, mask pixels


def _ink_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys = np.flatnonzero(mask.any(axis=1))
    xs = np.flatnonzero(mask.any(axis=0))
    if not len(xs):
        raise ValueError("text rendered no ink")
    return int(xs[0]), int(ys[0]), int(xs[-1]) + 1, int(ys[-1]) + 1


def _draw(text: str, font: ImageFont.FreeTypeFont) -> tuple[np.ndarray, float, float]:
    """Draw ``text`` with its pen origin at (x, y) in a mask sized from the font metrics, not from
    ``getbbox`` (which would lay the text out and load every glyph a second time)."""
    asc, desc = font.getmetrics()
    size = float(font.size)
    padx, pady = int(0.4 * size) + 2, int(0.3 * size) + 2  # room for overhangs (italics, swashes)
    img = Image.new("L", (int(font.getlength(text)) + 2 * padx, asc + desc + 2 * pady), 0)
    ImageDraw.Draw(img).text((padx, pady + asc), text, font=font, fill=255, anchor="ls")
    return np.asarray(img), float(padx), float(pady + asc)


def render_straight(text: str, font: ImageFont.FreeTypeFont) -> TextMask:
    mask, ox, oy = _draw(text, font)
    # after drawing (FreeType's results for a font object may depend on the order of calls): the centre of
    # character i is halfway between the kerned pen positions before and after it
    pens = [font.getlength(text[:i]) for i in range(len(text) + 1)]
    xs = [ox + (a + b) / 2 for a, b in zip(pens[:-1], pens[1:], strict=True)]
    centres = np.array([(x, oy - 0.35 * font.size) for x in xs], np.float32).reshape(-1, 2)
    return TextMask(mask, _ink_box(mask), int(font.size), centres)


def render_chars(text: str, font: ImageFont.FreeTypeFont, spacing_px: float = 0.0, curve: float = 0.0
                 ) -> TextMask:
    """Per-character layout. ``curve``: arc depth / text width, > 0 bulges up, < 0 sags (a smile)."""
    size = float(font.size)
    # Characters in first-appearance order, never set() order: FreeType's results for a font object depend on
    # the order of earlier calls, and set order changes with the per-process hash seed.
    adv = {c: font.getlength(c) for c in dict.fromkeys(text)}
    advances = [adv[c] for c in text]
    pens, x = [], 0.0
    for i, c in enumerate(text):
        pens.append(x)
        if i + 1 < len(text):  # kerning = length of the pair minus its two advances
            kern = font.getlength(text[i:i + 2]) - adv[c] - adv[text[i + 1]]
            x += adv[c] + kern + spacing_px
    width = pens[-1] + advances[-1]
    mid = 0.35 * size  # about half the x-height/cap-height: the point that sits on the arc's normal
    sag = abs(curve) * width if abs(curve) > 1e-3 else 0.0  # depth of the arc in px
    radius = (width**2 / 4 + sag**2) / (2 * sag) * np.sign(curve) if sag else 0.0
    margin = int(size * 0.6) + 4
    canvas = np.zeros((int(size * 1.6 + sag) + 2 * margin, int(width) + 2 * margin), np.uint8)
    # the ends of the arc drop by ``sag`` (radius > 0) or rise by it (radius < 0): room below or above
    base_y = margin + size * 1.1 + (sag if radius < 0 else 0.0)
    glyphs = {c: _draw(c, font) for c in dict.fromkeys(text)}
    centres = []
    for ch, pen, a in zip(text, pens, advances, strict=True):
        g, ox, oy = glyphs[ch]
        cx, cy = ox + a / 2, oy - mid  # glyph centre, glyph image coordinates
        s = pen + a / 2 - width / 2  # arc length from the middle of the text
        if radius:
            phi = s / radius
            # circle centre below (radius > 0) or above the middle of the baseline
            px = margin + width / 2 + radius * np.sin(phi)
            py = base_y + radius - radius * np.cos(phi)
            nx, ny = np.sin(phi), -np.cos(phi)  # the text's "up" direction at that point
            tx, ty = px + nx * mid, py + ny * mid
        else:
            phi = 0.0
            tx, ty = margin + width / 2 + s, base_y - mid
        centres.append((tx, ty))  # where the glyph centre lands
        c, si = np.cos(phi), np.sin(phi)
        m = np.array([[c, -si, tx - (c * cx - si * cy)], [si, c, ty - (si * cx + c * cy)]], np.float32)
        gh, gw = g.shape
        corners = np.array([[0, 0, 1], [gw, 0, 1], [0, gh, 1], [gw, gh, 1]], np.float32) @ m.T
        x0, y0 = np.floor(corners.min(0)).astype(int)
        x1, y1 = np.ceil(corners.max(0)).astype(int)
        x0, y0 = max(x0, 0), max(y0, 0)
        x1, y1 = min(x1, canvas.shape[1]), min(y1, canvas.shape[0])
        if x1 <= x0 or y1 <= y0:  # the canvas is sized for the whole text: this is a layout bug
            raise ValueError(f"glyph {ch!r} of {text!r} fell outside the canvas")
        m[:, 2] -= (x0, y0)
        # rotation about the glyph centre plus a sub-pixel shift, into the destination region only
        roi = cv2.warpAffine(g, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR)
        np.maximum(canvas[y0:y1, x0:x1], roi, out=canvas[y0:y1, x0:x1])
    return TextMask(canvas, _ink_box(canvas), int(size), np.array(centres, np.float32).reshape(-1, 2))


def render(text: str, font: ImageFont.FreeTypeFont, spacing_px: float = 0.0, curve: float = 0.0) -> TextMask:
    if spacing_px == 0.0 and curve == 0.0:
        return render_straight(text, font)
    return render_chars(text, font, spacing_px, curve)


def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width of the ink in px: a stroke of width w and length L has area w*L and an outline of
    about 2*L, so w ~ 2 * area / outline."""
    ink = mask > 127
    inner = ink[1:-1, 1:-1] & ink[:-2, 1:-1] & ink[2:, 1:-1] & ink[1:-1, :-2] & ink[1:-1, 2:]
    area = int(ink.sum())
    outline = area - int(inner.sum())
    return 2.0 * area / max(outline, 1)


def embolden(tm: TextMask, px: int) -> TextMask:
    """Thicken every stroke by ``px`` on each side (a dilation)."""
    if px <= 0:
        return tm
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1, 2 * px + 1))
    mask = cv2.dilate(np.pad(tm.mask, px), k)
    return TextMask(mask, _ink_box(mask), tm.height, tm.centres + np.float32(px))

