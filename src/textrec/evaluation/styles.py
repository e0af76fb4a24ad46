"""Measurable style attributes of a word crop and its label: what accuracy is broken down by
(``bench/failures.py``) and what a synthetic word mix copies from real scene text (case, punctuation).

Label attributes read the label as annotated (case and punctuation kept). Image attributes are cheap proxies:
height (low resolution), sharpness (variance of the Laplacian, lower = blurrier) and contrast measured on the
crop as the model sees it (grayscale, resized to height 32 as ``textrec.preprocess`` resizes), width per
character (tight vs loose crops, or text that is not horizontal) and the skew of the ink's principal axis.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from textrec.preprocess import IMAGE_SHAPE, resized_width

CaseStyle = Literal["lower", "title", "upper", "mixed", "no_letters"]
CASE_STYLES: tuple[CaseStyle, ...] = ("lower", "title", "upper", "mixed", "no_letters")
_LETTER_RUNS = re.compile(r"[^\W\d_]+")  # runs of letters (any script), split by digits, punctuation, spaces

# bin edges: a value v falls in the first bin whose upper edge exceeds it (see ``bin_of``)
HEIGHT_EDGES = (16, 24, 32, 48, 64)  # px; the model sees height 32, so below it the crop is up-sampled
# crop width / height / characters: ~0.5 for a horizontal word cropped tightly; well below it the text is
# rotated, vertical, in perspective or condensed; well above it the crop is loose or the letters wide
WIDTH_PER_CHAR_EDGES = (0.2, 0.3, 0.45, 0.6, 0.8)
SHARPNESS_EDGES = (100.0, 300.0, 1000.0, 3000.0)  # variance of the Laplacian at height 32 (uint8 scale)
CONTRAST_EDGES = (0.08, 0.15, 0.25)  # std of the grayscale at height 32, on a 0-1 scale
SKEW_EDGES = (3.0, 8.0, 15.0)  # |degrees| of the ink's principal axis from horizontal
LENGTH_EDGES = (3, 5, 7, 10)  # characters of the label (ends stripped)
SKEW_MIN_ELONGATION = 2.0  # the ink's axis ratio below which its direction means nothing (one letter, "ok")


def case_style(label: str) -> CaseStyle:
    """lower ("exit"), upper ("EXIT", "A"), title (the first letter upper, and upper letters only where a run
    of letters starts: "Exit", "Car Park", "Top-up", "It's", "O'Neil"), mixed ("iPhone", "McDonald"), or
    no_letters ("$4.00")."""
    runs = _LETTER_RUNS.findall(label)
    if not runs:
        return "no_letters"
    letters = "".join(runs)
    if letters.islower():
        return "lower"
    if letters.isupper():
        return "upper"
    if runs[0][0].isupper() and all(not any(c.isupper() for c in r[1:]) for r in runs):
        return "title"
    return "mixed"


def punctuation(label: str) -> str:
    """The characters of ``label`` that are neither letters, digits nor whitespace, in order."""
    return "".join(c for c in label if not c.isalnum() and not c.isspace())


def composition(label: str) -> Literal["letters", "digits", "letters+digits", "neither"]:
    letters, digits = any(c.isalpha() for c in label), any(c.isdigit() for c in label)
    return ("letters+digits" if digits else "letters") if letters else ("digits" if digits else "neither")


def bin_of(value: float, edges: Sequence[float], integer: bool = False) -> str:
    """The bin of ``value`` between ascending ``edges``: "<e0", "e0-e1" (e0 <= v < e1), ..., ">=eN"; NaN is
    "n/a". ``integer``: whole-number bins read inclusively, "16-23" (or "5" for a bin of one value)."""
    if math.isnan(value):
        return "n/a"
    for i, edge in enumerate(edges):
        if value < edge:
            if i == 0:
                return f"<{edge:g}"
            low, high = edges[i - 1], edge
            if integer:
                return f"{low:g}" if high - 1 == low else f"{low:g}-{high - 1:g}"
            return f"{low:g}-{high:g}"
    return f">={edges[-1]:g}"


def bin_order(edges: Sequence[float], integer: bool = False) -> list[str]:
    """Every bin ``bin_of`` can return for ``edges``, in ascending order (then "n/a")."""
    return [bin_of(v, edges, integer) for v in (edges[0] - 1, *edges)] + ["n/a"]


@dataclass(frozen=True)
class ImageMeasures:
    height: int
    width: int
    sharpness: float  # variance of the Laplacian of the grayscale at model height (lower = blurrier)
    contrast: float  # std of that grayscale, 0-1
    skew: float  # degrees of the ink's principal axis from horizontal (NaN: ink too round to tell)


def gray_at_model_height(img: np.ndarray, squeeze: bool = True) -> np.ndarray:
    """uint8 BGR [H, W, 3] -> uint8 grayscale [32, w']: resized as the model's preprocessing resizes it
    (``squeeze``: width at most 100, so a long word is as narrow as the model sees it), or keeping the
    aspect ratio (angles stay angles)."""
    import cv2

    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    h, w = img.shape[:2]
    width = resized_width(h, w) if squeeze else max(1, math.ceil(IMAGE_SHAPE[1] * w / h))
    return cv2.resize(gray, (width, IMAGE_SHAPE[1]))


def ink_skew(gray: np.ndarray) -> float:
    """Angle in degrees of the principal axis of the ink (Otsu's threshold; ink is the class that touches the
    border less), positive when the text rises to the right; NaN when the ink is not elongated."""
    import cv2

    _, mask = cv2.threshold(gray, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    border = np.concatenate([mask[0], mask[-1], mask[:, 0], mask[:, -1]])
    ink = mask == (0 if border.mean() > 0.5 else 1)  # [h, w] bool
    ys, xs = np.nonzero(ink)
    if xs.size < 10:
        return float("nan")
    cov = np.cov(np.stack([xs, -ys]).astype(np.float64))  # y flipped: image rows grow downwards
    eig = np.linalg.eigvalsh(cov)  # ascending
    if eig[0] <= 0 or eig[1] / eig[0] < SKEW_MIN_ELONGATION**2:
        return float("nan")
    return 0.5 * math.degrees(math.atan2(2 * cov[0, 1], cov[0, 0] - cov[1, 1]))  # in (-90, 90]


def measure_image(img: np.ndarray) -> ImageMeasures:
    """uint8 BGR [H, W, 3] (``textrec.preprocess.decode_image``) -> its measures."""
    import cv2

    gray = gray_at_model_height(img)
    sharpness = float(cv2.Laplacian(gray, cv2.CV_64F).var())
    return ImageMeasures(int(img.shape[0]), int(img.shape[1]), sharpness, float(gray.std() / 255),
                         ink_skew(gray_at_model_height(img, squeeze=False)))


def style_bins(m: ImageMeasures, label: str) -> dict[str, str]:
    """Attribute -> bin of one crop and its label (the label as annotated; its ends stripped)."""
    text = label.strip()
    chars = max(1, len(text))
    puncts = punctuation(text)
    return {
        "height_px": bin_of(m.height, HEIGHT_EDGES, integer=True),
        "sharpness": bin_of(m.sharpness, SHARPNESS_EDGES),
        "contrast": bin_of(m.contrast, CONTRAST_EDGES),
        "width_per_char": bin_of(m.width / m.height / chars, WIDTH_PER_CHAR_EDGES),
        "orientation": "portrait" if m.height > m.width else "landscape",
        "skew_deg": bin_of(abs(m.skew), SKEW_EDGES),
        "case": case_style(text),
        "punctuation": "has punctuation" if puncts else "none",
        "space": "has space" if any(c.isspace() for c in text) else "none",
        "composition": composition(text),
        "length": bin_of(len(text), LENGTH_EDGES, integer=True),
    }


def attribute_orders() -> dict[str, list[str]]:
    """The bins of each attribute of ``style_bins`` in a readable order (for tables)."""
    return {
        "height_px": bin_order(HEIGHT_EDGES, integer=True), "sharpness": bin_order(SHARPNESS_EDGES),
        "contrast": bin_order(CONTRAST_EDGES), "width_per_char": bin_order(WIDTH_PER_CHAR_EDGES),
        "orientation": ["landscape", "portrait"], "skew_deg": bin_order(SKEW_EDGES),
        "case": list(CASE_STYLES), "punctuation": ["none", "has punctuation"], "space": ["none", "has space"],
        "composition": ["letters", "digits", "letters+digits", "neither"], "length": bin_order(LENGTH_EDGES, integer=True),
    }


def label_statistics(labels: Iterable[str]) -> dict:
    """Shares of case styles, digits, punctuation and spaces among ``labels`` (as annotated), and the count of
    each punctuation character: the proportions a synthetic word mix can copy from real scene text."""
    labels = [lab.strip() for lab in labels]
    n = len(labels)
    cases = Counter(case_style(lab) for lab in labels)
    chars = Counter(c for lab in labels for c in punctuation(lab))
    share = (lambda k: round(k / n, 4)) if n else (lambda k: 0.0)
    return {
        "labels": n,
        "case": {c: {"count": cases[c], "share": share(cases[c])} for c in CASE_STYLES},
        "with_digits": share(sum(any(c.isdigit() for c in lab) for lab in labels)),
        "digits_only": share(sum(composition(lab) == "digits" for lab in labels)),
        "with_punctuation": share(sum(bool(punctuation(lab)) for lab in labels)),
        "with_space": share(sum(any(c.isspace() for c in lab) for lab in labels)),
        "punctuation_characters": dict(chars.most_common()),
        "mean_length": round(sum(map(len, labels)) / n, 2) if n else 0.0,
    }
