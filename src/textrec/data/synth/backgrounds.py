"""Procedural backgrounds, float32 RGB [H, W, 3] in 0..255: flat, gradients, fractal noise, stripes and
wood grain, blurred blobs (bokeh), and "clutter" that imitates a photo (noise field + shapes + edges).

Every function takes the base colour ``bg`` the text colour was chosen against, so the text keeps its
contrast on average; textures vary around it.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from textrec.data.synth.colors import jitter, random_colour


def fractal_noise(h: int, w: int, rng: np.random.Generator, octaves: int = 5, persistence: float = 0.55,
                  base: int = 2) -> np.ndarray:
    """Sum of up-sampled random grids (value noise), [H, W] float32 in 0..1.

    The octaves are summed at half resolution (at most 128 rows) and up-sampled once: the finest detail
    is a few pixels wide, which is all a background needs, and it keeps this cheap on large canvases.
    """
    sh, sw = max(2, min(h // 2, 128)), max(2, min(w // 2, int(128 * w / max(h, 1))))
    out = np.zeros((sh, sw), np.float32)
    amp, total = 1.0, 0.0
    for k in range(octaves):
        gh = max(2, min(sh, base * 2**k))
        gw = max(2, min(sw, int(round(gh * w / max(h, 1)))))
        grid = rng.random((gh, gw), dtype=np.float32)
        out += amp * cv2.resize(grid, (sw, sh), interpolation=cv2.INTER_LINEAR if k else cv2.INTER_CUBIC)
        total += amp
        amp *= persistence
    out = cv2.resize(out, (w, h), interpolation=cv2.INTER_LINEAR)
    lo, hi = float(out.min()), float(out.max())
    return (out - lo) * (1.0 / max(hi - lo, 1e-6))


def _blend(n: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # [H, W] weights, two colours -> [H, W, 3] float32: a + (b - a) * n
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    return cv2.merge([n * float(d) + float(c) for c, d in zip(a, b - a, strict=True)])


def solid(h: int, w: int, bg: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    img = np.empty((h, w, 3), np.float32)
    img[:] = bg
    return img


def gradient(h: int, w: int, bg: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    theta = rng.uniform(0, np.pi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = xx * np.cos(theta) + yy * np.sin(theta)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    other = jitter(bg, rng, 45.0)
    return _blend(t, jitter(bg, rng, 10.0), other).astype(np.float32)


def fractal(h: int, w: int, bg: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = fractal_noise(h, w, rng, octaves=int(rng.integers(3, 7)), persistence=rng.uniform(0.4, 0.7))
    spread = rng.uniform(15, 60)
    return _blend(n, jitter(bg, rng, 8) - spread / 2, jitter(bg, rng, 8) + spread / 2).clip(0, 255)


def stripes(h: int, w: int, bg: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Straight stripes or, half the time, wood grain (noise stretched along one axis)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if rng.random() < 0.5:
        theta = rng.choice([0.0, np.pi / 2, rng.uniform(0, np.pi)])
        period = rng.uniform(4, max(6.0, h / 2))
        t = np.sin((xx * np.cos(theta) + yy * np.sin(theta)) * 2 * np.pi / period + rng.uniform(0, 6.3))
        n = (t > 0).astype(np.float32) if rng.random() < 0.5 else (t + 1) / 2
    else:
        grain = fractal_noise(max(2, h // 6), max(2, w // 40), rng, octaves=3)
        n = cv2.resize(grain, (w, h), interpolation=cv2.INTER_LINEAR)
        n = (np.sin(n * rng.uniform(12, 40)) + 1) / 2
    return _blend(n.astype(np.float32), jitter(bg, rng, 6), jitter(bg, rng, 40))


def blobs(h: int, w: int, bg: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    img = solid(h, w, bg, rng)
    for _ in range(int(rng.integers(4, 18))):
        c = jitter(bg, rng, 35) if rng.random() < 0.85 else random_colour(rng)
        centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        axes = (int(rng.integers(2, max(3, h))), int(rng.integers(2, max(3, h))))
        cv2.ellipse(img, centre, axes, float(rng.uniform(0, 180)), 0, 360, c.tolist(), -1, cv2.LINE_AA)
    sigma = rng.uniform(1.0, max(1.5, h / 6))
    if sigma < 4:
        return cv2.GaussianBlur(img, (0, 0), sigma)
    # a wide blur is done at a quarter of the size: same look, 16x fewer pixels
    small = cv2.resize(img, (max(1, w // 4), max(1, h // 4)), interpolation=cv2.INTER_AREA)
    return cv2.resize(cv2.GaussianBlur(small, (0, 0), sigma / 4), (w, h), interpolation=cv2.INTER_LINEAR)


def clutter(h: int, w: int, bg: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A photo-like mess: a noise field, then shapes and hard edges, partly out of focus."""
    img = fractal(h, w, bg, rng)
    for _ in range(int(rng.integers(2, 10))):
        c = (jitter(bg, rng, 45) if rng.random() < 0.8 else random_colour(rng)).tolist()
        p1 = (int(rng.integers(-w // 4, w)), int(rng.integers(-h // 4, h)))
        if rng.random() < 0.5:
            p2 = (int(p1[0] + rng.integers(4, w)), int(p1[1] + rng.integers(2, h)))
            cv2.rectangle(img, p1, p2, c, -1 if rng.random() < 0.6 else int(rng.integers(1, 4)))
        else:
            p2 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            cv2.line(img, p1, p2, c, int(rng.integers(1, 5)), cv2.LINE_AA)
    if rng.random() < 0.6:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.6, 3.0))
    return img


KINDS: dict[str, Callable[[int, int, np.ndarray, np.random.Generator], np.ndarray]] = {
    "solid": solid, "gradient": gradient, "fractal": fractal, "stripes": stripes, "blobs": blobs,
    "clutter": clutter,
}


def texture_noise(img: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """Low-frequency grain on a flat surface (paint, paper, metal)."""
    h, w = img.shape[:2]
    n = fractal_noise(h, w, rng, octaves=4) - 0.5
    return img + (amount * n)[..., None]
