"""Colours with a realistic spread: sign palettes, muted photo colours, and a contrast floor for text."""

from __future__ import annotations

import colorsys

import numpy as np

# (text, background) pairs common on signs, shop fronts and labels; jittered at use.
SIGN_PAIRS = (
    ((255, 255, 255), (200, 30, 35)), ((255, 255, 255), (20, 70, 160)), ((255, 255, 255), (0, 110, 60)),
    ((20, 20, 20), (250, 210, 0)), ((20, 20, 20), (245, 245, 240)), ((245, 245, 245), (25, 25, 25)),
    ((250, 210, 0), (20, 20, 20)), ((200, 30, 35), (250, 250, 250)), ((20, 70, 160), (245, 245, 245)),
    ((255, 255, 255), (110, 70, 40)), ((30, 30, 30), (240, 140, 20)), ((255, 240, 200), (120, 20, 30)),
    ((60, 60, 60), (200, 200, 195)), ((255, 255, 255), (230, 90, 20)), ((0, 60, 120), (230, 230, 225)),
)


def luminance(rgb: np.ndarray) -> np.ndarray:
    """WCAG relative luminance of sRGB colours in 0..255; shape [..., 3] -> [...]."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return lin @ np.array([0.2126, 0.7152, 0.0722])


def contrast(a: np.ndarray, b: np.ndarray) -> float:
    la, lb = float(luminance(a)), float(luminance(b))
    return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)


# Hue anchors (red, orange, yellow, green, teal, blue, purple, pink) and how often they occur in street
# scenes and signage; magenta and purple are rare outside advertising.
_HUES = np.array([0.0, 0.08, 0.14, 0.33, 0.48, 0.61, 0.75, 0.92])
_HUE_CUM = np.cumsum([0.2, 0.15, 0.12, 0.16, 0.07, 0.2, 0.04, 0.06])


def random_colour(rng: np.random.Generator) -> np.ndarray:
    """A photo-like colour: many near-greys, whites and blacks, fewer saturated hues."""
    anchor = _HUES[min(int(np.searchsorted(_HUE_CUM / _HUE_CUM[-1], rng.random())), len(_HUES) - 1)]
    h = (anchor + rng.normal(0, 0.03)) % 1.0
    s = rng.beta(0.8, 2.2) if rng.random() < 0.8 else rng.uniform(0.4, 0.9)
    v = rng.beta(1.4, 1.2)
    return (np.array(colorsys.hsv_to_rgb(h, s, v)) * 255.0).astype(np.float32)


def jitter(rgb: tuple[int, int, int] | np.ndarray, rng: np.random.Generator, amount: float = 18.0) -> np.ndarray:
    return np.clip(np.asarray(rgb, dtype=np.float32) + rng.normal(0, amount, 3).astype(np.float32), 0, 255)


def text_colour(bg: np.ndarray, floor: float, rng: np.random.Generator) -> np.ndarray:
    """A colour whose contrast with ``bg`` is at least ``floor`` (the best of black/white if none is found)."""
    for _ in range(24):
        c = random_colour(rng)
        if contrast(c, bg) >= floor:
            return c
    dark, light = jitter((15, 15, 15), rng, 8), jitter((245, 245, 245), rng, 8)
    return dark if contrast(dark, bg) >= contrast(light, bg) else light


def pair(floor: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(text colour, background colour) with contrast >= floor: a sign palette 35% of the time."""
    if rng.random() < 0.35:
        fg, bg = SIGN_PAIRS[int(rng.integers(len(SIGN_PAIRS)))]
        fg, bg = jitter(fg, rng), jitter(bg, rng)
        if contrast(fg, bg) >= floor:
            return fg, bg
    bg = random_colour(rng)
    return text_colour(bg, floor, rng), bg
