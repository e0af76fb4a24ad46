"""Small word images and log rows for the monitoring tests, made in memory."""

from __future__ import annotations

import cv2
import numpy as np


def word_png(text: str, height: int = 32, width: int = 100, seed: int = 0, noise: float = 0.0) -> bytes:
    """A dark word on a light background, optionally with Gaussian noise (sigma ``noise`` grey levels)."""
    rng = np.random.default_rng(seed)
    img = np.full((height, width, 3), 235, np.uint8)
    cv2.putText(img, text, (4, int(height * 0.75)), cv2.FONT_HERSHEY_SIMPLEX, height / 40, (20, 20, 20), 2)
    if noise:
        img = np.clip(img + rng.normal(0, noise, img.shape), 0, 255).astype(np.uint8)
    return cv2.imencode(".png", img)[1].tobytes()


def random_png(seed: int, height: int = 32, width: int = 100) -> bytes:
    """An image of random blocks: every seed gives a different image (and dHash)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (4, 8, 3), dtype=np.uint8)
    return cv2.imencode(".png", cv2.resize(small, (width, height), interpolation=cv2.INTER_NEAREST))[1].tobytes()
