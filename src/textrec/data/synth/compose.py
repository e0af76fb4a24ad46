"""Lay a text mask onto a background: plate, frame, distractor lines, fill, outline, shadow, extrusion.

The canvas is much larger than the text so that the later warp and a loose crop find real background
around it. Works in float32 RGB 0..255; masks are float32 0..1.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from textrec.data.synth import backgrounds, colors
from textrec.data.synth.profiles import Profile
from textrec.data.synth.text import TextMask


@dataclass(frozen=True)
class Scene:
    image: np.ndarray  # [H, W, 3] float32 RGB 0..255
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 of the labelled word's ink
    text_height: float  # ink height of the word in px
    centres: np.ndarray  # [L, 2] float32: each character's centre, canvas pixels


def _choice(weights: dict[str, float], rng: np.random.Generator) -> str:
    keys = sorted(weights)
    w = np.array([weights[k] for k in keys], dtype=np.float64)
    return keys[min(int(np.searchsorted(np.cumsum(w / w.sum()), rng.random(), side="right")), len(keys) - 1)]


def _shift(mask: np.ndarray, dx: float, dy: float) -> np.ndarray:
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(mask, m, (mask.shape[1], mask.shape[0]), flags=cv2.INTER_LINEAR)


def _paint(img: np.ndarray, mask: np.ndarray, colour: np.ndarray, alpha: float = 1.0) -> None:
    """In place: img = img * (1 - a) + colour * a, with a = alpha * mask; colour [3] or [H, W, 3].

    Only the bounding rectangle of the mask is touched (most of the canvas is background).
    """
    x, y, w, h = cv2.boundingRect((mask > 0.002).astype(np.uint8))
    if w == 0 or h == 0:
        return
    roi = img[y:y + h, x:x + w]
    a = (np.float32(alpha) * mask[y:y + h, x:x + w])[..., None]
    c = colour[y:y + h, x:x + w] if colour.ndim == 3 else np.asarray(colour, np.float32)
    tmp = np.subtract(c, roi)
    tmp *= a
    roi += tmp


def compose(word: TextMask, distractors: list[TextMask], profile: Profile, rng: np.random.Generator,
            neighbour: TextMask | None = None) -> Scene:
    x0, y0, x1, y1 = word.box
    th, tw = y1 - y0, x1 - x0
    pad_y, pad_x = int(0.9 * th) + 6, int(0.5 * th) + 6
    h, w = th + 2 * pad_y, tw + 2 * pad_x
    fill = np.zeros((h, w), np.float32)
    fill[pad_y:pad_y + th, pad_x:pad_x + tw] = word.mask[y0:y1, x0:x1] / 255.0
    box = (float(pad_x), float(pad_y), float(pad_x + tw), float(pad_y + th))
    for d in distractors:  # other lines of text above or below, usually cut by the crop
        dx0, dy0, dx1, dy1 = d.box
        dm = d.mask[dy0:dy1, dx0:dx1] / 255.0
        gap = int(rng.uniform(0.15, 0.5) * th)
        top = pad_y - gap - dm.shape[0] if rng.random() < 0.5 else pad_y + th + gap
        left = pad_x + int(rng.uniform(-0.5, 0.8) * tw)
        ys, xs = slice(max(top, 0), min(top + dm.shape[0], h)), slice(max(left, 0), min(left + dm.shape[1], w))
        if ys.stop > ys.start and xs.stop > xs.start:
            part = dm[ys.start - top:ys.stop - top, xs.start - left:xs.stop - left]
            np.maximum(fill[ys, xs], part, out=fill[ys, xs])
    if neighbour is not None:  # the next word on the line, a word space away (its sliver shows at the edge)
        nx0, ny0, nx1, ny1 = neighbour.box
        on_right = bool(rng.random() < 0.5)
        # [nh, <= pad_x]: only the part of it next to the word can fall inside the canvas
        nm = neighbour.mask[ny0:ny1, nx0:nx1][:, :pad_x] if on_right else neighbour.mask[ny0:ny1, nx0:nx1][:, -pad_x:]
        gap = int(rng.uniform(0.02, 0.3) * th)
        left = pad_x + tw + gap if on_right else pad_x - gap - nm.shape[1]
        top = pad_y + th - nm.shape[0]  # the same baseline, roughly
        ys, xs = slice(max(top, 0), min(top + nm.shape[0], h)), slice(max(left, 0), min(left + nm.shape[1], w))
        if ys.stop > ys.start and xs.stop > xs.start:
            part = nm[ys.start - top:ys.stop - top, xs.start - left:xs.stop - left] / 255.0
            np.maximum(fill[ys, xs], part, out=fill[ys, xs])

    floor = 1.8 if rng.random() < profile.p_low_contrast else rng.uniform(*profile.min_contrast)
    fg, bg = colors.pair(floor, rng)
    kind = _choice(profile.backgrounds, rng)
    if kind == "plate":  # a sign board behind the word inside a busier scene
        outer = colors.random_colour(rng)
        img = backgrounds.KINDS["clutter" if rng.random() < 0.6 else "fractal"](h, w, outer, rng)
        px, py = rng.uniform(0.1, 0.6) * th, rng.uniform(0.08, 0.5) * th
        p0 = (int(box[0] - px), int(box[1] - py))
        p1 = (int(box[2] + px), int(box[3] + py))
        plate = np.zeros((h, w), np.float32)
        cv2.rectangle(plate, p0, p1, 1.0, -1)
        plate_img = backgrounds.texture_noise(backgrounds.solid(h, w, bg, rng), rng, rng.uniform(0, 25))
        _paint(img, plate, plate_img)
        if rng.random() < 0.5:
            edge = colors.jitter(fg if rng.random() < 0.5 else (0, 0, 0), rng, 20)
            cv2.rectangle(img, p0, p1, edge.tolist(), max(1, int(rng.uniform(0.03, 0.12) * th)), cv2.LINE_AA)
    else:
        img = backgrounds.KINDS[kind](h, w, bg, rng)
        if rng.random() < 0.5:
            img = backgrounds.texture_noise(img, rng, rng.uniform(5, 30))

    # The floor was met against the base colour; textures, gradients and plates move the local colour, so
    # check it again against the mean background under the word and re-pick the text colour if needed.
    under = img[int(box[1]):int(box[3]), int(box[0]):int(box[2])].reshape(-1, 3).mean(axis=0)
    if colors.contrast(fg, under) < floor:
        fg = colors.text_colour(under, floor, rng)

    if rng.random() < profile.p_border:  # a frame or a single edge line near the word
        c = colors.jitter(fg, rng, 30).tolist()
        thick = max(1, int(rng.uniform(0.04, 0.15) * th))
        m = rng.uniform(0.15, 0.7) * th
        if rng.random() < 0.5:
            cv2.rectangle(img, (int(box[0] - m), int(box[1] - m)), (int(box[2] + m), int(box[3] + m)), c, thick)
        else:
            yline = int(box[1] - m) if rng.random() < 0.5 else int(box[3] + m)
            cv2.line(img, (0, yline), (w, yline), c, thick)

    if rng.random() < profile.p_shadow:
        r = rng.uniform(0.03, 0.12) * th
        ang = rng.uniform(0, 2 * np.pi)
        sh = _shift(fill, r * np.cos(ang), r * np.sin(ang))
        if rng.random() < 0.6:
            sh = cv2.GaussianBlur(sh, (0, 0), rng.uniform(0.5, 0.15 * th + 0.6))
        _paint(img, sh, colors.jitter((10, 10, 10), rng, 10), rng.uniform(0.4, 0.9))
    if rng.random() < profile.p_extrude:
        depth = max(2, int(rng.uniform(0.04, 0.12) * th))
        dx, dy = rng.choice([-1.0, 1.0]), rng.choice([-1.0, 1.0])
        block = np.zeros_like(fill)
        for k in range(1, depth + 1):
            np.maximum(block, _shift(fill, dx * k, dy * k), out=block)
        _paint(img, block, colors.jitter(fg * 0.45, rng, 15))
    if rng.random() < profile.p_outline:
        r = max(1, int(rng.uniform(0.03, 0.1) * th))
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        out_c = colors.text_colour(fg, 2.0, rng)
        _paint(img, cv2.dilate(fill, k), out_c)
    if rng.random() < profile.p_fill_gradient:
        fg_img = backgrounds.gradient(h, w, fg, rng)
        _paint(img, fill, fg_img)
    else:
        _paint(img, fill, fg)
    centres = word.centres + np.float32([pad_x - x0, pad_y - y0])  # mask -> canvas
    return Scene(np.clip(img, 0, 255), box, float(th), centres)
