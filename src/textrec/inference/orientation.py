"""Portrait crops: a word photographed turned by 90 degrees, or a crop of text written top to bottom.

The CRNN reads left to right only: a crop whose height is at least 1.5 times its width (the threshold of
PaddleOCR's text system, tools/infer/predict_system.py, which turns such crops one way) is mostly a turned
word it cannot read. Not knowing which way it was turned, the image is read as given and turned 90 degrees
each way, and the most confident of the three readings is kept; a short word or a single character that
is merely tall stays as read when that reading is the most confident. On real-dev IC15-train this took the
bundle from 1.4% to 33.1% of its 145 portrait crops (IIIT5K-train's 10 portrait crops: 90% before and after).

The pipeline's benchmarks (``textrec.evaluation``) read images as given: they measure the model, as the
papers' numbers do; the Python API, ``textrec predict`` and the served model read with this by default.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np

from textrec.preprocess import IMAGE_SHAPE, normalize_resize

PORTRAIT_RATIO = 1.5  # height / width from which a crop is also read turned
_TURNS = (-1, 1)  # np.rot90's k: clockwise, counter-clockwise
T = TypeVar("T")


def is_portrait(img: np.ndarray) -> bool:
    return img.shape[0] >= PORTRAIT_RATIO * img.shape[1]


def turns(img: np.ndarray, rotate: bool) -> list[np.ndarray]:
    """BGR uint8 [H, W, 3] -> the images to read: the image as given first, then for a portrait crop
    (``rotate``) the image turned clockwise and counter-clockwise."""
    if not (rotate and is_portrait(img)):
        return [img]
    return [img, *(np.ascontiguousarray(np.rot90(img, k)) for k in _TURNS)]


def views(img: np.ndarray, rotate: bool, image_shape: tuple[int, int, int] = IMAGE_SHAPE) -> list[np.ndarray]:
    """BGR uint8 [H, W, 3] -> the model inputs [3, 32, 100] of its ``turns``."""
    return [normalize_resize(t, image_shape) for t in turns(img, rotate)]


def most_confident(readings: Sequence[T], counts: Sequence[int], confidence=lambda r: r.confidence) -> list[T]:
    """``readings`` of consecutive views, ``counts[i]`` of them for image i -> the most confident per image
    (the first, i.e. the image as given, on a tie)."""
    out, start = [], 0
    for n in counts:
        group = readings[start:start + n]
        out.append(max(group, key=confidence))  # max keeps the first of equals
        start += n
    if start != len(readings):
        raise ValueError(f"{len(readings)} readings for {start} views")
    return out
