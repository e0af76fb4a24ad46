"""Training-image augmentation: ``train.<backbone>.augment``, a list of named transforms with probabilities,
after PaddleOCR's RecAug (TIA perspective, crop, blur, noise, colour jitter, inversion).

    aug = Augmenter(recipe.augment, recipe.seed)
    view = EpochView(train_ds, aug, epoch)     # view[i]: train_ds's sample i, augmented for this epoch

Transforms work on the decoded uint8 BGR image [H, W, 3], before the resize to the network's input, and
only on training batches (validation and evaluation read the dataset directly). They are written with
OpenCV and numpy: albumentations' last release is from 2025 (its successor is AGPL), and each transform
here is a few lines.

Deterministic: transform ``k`` of sample ``i`` in epoch ``e`` draws from ``default_rng([seed, e, i, k])``
and nothing else, so DataLoader workers and a resumed run produce the very same images, and adding a
transform leaves the others' draws unchanged.

Character centres (``char_x``: x of each label character as a fraction of the image width, or None) stay
true: the geometric transforms map them (crop/pad exactly; perspective through its homography at mid-height).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from textrec.config.train import AugmentConfig, AugmentName

Image = np.ndarray  # uint8 [H, W, 3] BGR
CharX = np.ndarray | None  # [L] float32, fractions of the width
Transform = Callable[[Image, CharX, np.random.Generator], tuple[Image, CharX]]


def _clip(x: np.ndarray) -> Image:
    return np.clip(x, 0, 255).astype(np.uint8)


def blur(img: Image, cx: CharX, rng: np.random.Generator) -> tuple[Image, CharX]:
    import cv2

    k = int(rng.choice([3, 5]))
    return cv2.GaussianBlur(img, (k, k), float(rng.uniform(0.5, 1.5))), cx


def motion_blur(img: Image, cx: CharX, rng: np.random.Generator) -> tuple[Image, CharX]:
    """A line kernel of 3-5 px at an angle within 45 degrees of horizontal."""
    import cv2

    n = int(rng.integers(3, 6))
    kernel = np.zeros((n, n), np.float32)
    kernel[n // 2, :] = 1.0
    rot = cv2.getRotationMatrix2D(((n - 1) / 2, (n - 1) / 2), float(rng.uniform(-45, 45)), 1.0)
    kernel = cv2.warpAffine(kernel, rot, (n, n))
    return cv2.filter2D(img, -1, kernel / max(float(kernel.sum()), 1e-6)), cx


def perspective(img: Image, cx: CharX, rng: np.random.Generator) -> tuple[Image, CharX]:
    """TIA-style: the corners move up to 30% of the height vertically (inwards) and 10% sideways."""
    import cv2

    h, w = img.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dy = rng.uniform(0, 0.3 * h, 4) * np.array([1, 1, -1, -1])  # top corners down, bottom ones up
    dx = rng.uniform(-0.1 * h, 0.1 * h, 4)
    dst = (src + np.stack([dx, dy], 1)).astype(np.float32)
    m = cv2.getPerspectiveTransform(src, dst)
    out = cv2.warpPerspective(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if cx is not None:  # the centres sit on the text's mid-line: map (x, h/2)
        pts = np.stack([cx * w, np.full(len(cx), h / 2)], 1).astype(np.float32)[None]  # [1, L, 2]
        cx = (cv2.perspectiveTransform(pts, m)[0, :, 0] / w).astype(np.float32)
    return out, cx


def crop(img: Image, cx: CharX, rng: np.random.Generator) -> tuple[Image, CharX]:
    """Crop or pad the top and bottom (-10%..+15% of the height each), pad the sides (0..25% of the height;
    never cut sideways: that could cut a character off its label)."""
    import cv2

    h, w = img.shape[:2]
    top, bottom = (int(round(v * h)) for v in rng.uniform(-0.10, 0.15, 2))
    left, right = (int(round(v * h)) for v in rng.uniform(0, 0.25, 2))
    if h - max(top, 0) - max(bottom, 0) < max(2, h // 2):
        top = bottom = 0
    img = img[max(top, 0):h - max(bottom, 0)]
    out = cv2.copyMakeBorder(img, max(-top, 0), max(-bottom, 0), left, right, cv2.BORDER_REPLICATE)
    if cx is not None:
        cx = ((cx * w + left) / (w + left + right)).astype(np.float32)
    return out, cx


def noise(img: Image, cx: CharX, rng: np.random.Generator) -> tuple[Image, CharX]:
    return _clip(img + rng.normal(0.0, rng.uniform(3, 15), img.shape)), cx


def color(img: Image, cx: CharX, rng: np.random.Generator) -> tuple[Image, CharX]:
    """Hue shifted by up to 36 degrees, saturation scaled by 0.5..1.5."""
    import cv2

    hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV).astype(np.int16)
    hsv[..., 0] = (hsv[..., 0] + int(rng.integers(-18, 19))) % 180  # OpenCV hue: 0..179
    hsv[..., 1] = np.clip(hsv[..., 1] * rng.uniform(0.5, 1.5), 0, 255)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR), cx


def contrast(img: Image, cx: CharX, rng: np.random.Generator) -> tuple[Image, CharX]:
    """Contrast x0.5..1.5 about the mean, brightness +-40."""
    mean = float(img.mean())
    return _clip((img.astype(np.float32) - mean) * rng.uniform(0.5, 1.5) + mean + rng.uniform(-40, 40)), cx


def invert(img: Image, cx: CharX, rng: np.random.Generator) -> tuple[Image, CharX]:
    return 255 - img, cx


def jpeg(img: Image, cx: CharX, rng: np.random.Generator) -> tuple[Image, CharX]:
    """Re-encoded at JPEG quality 15..60."""
    import cv2

    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(15, 61))])
    if not ok:
        raise RuntimeError(f"JPEG encoding of a {img.shape} image failed")
    return cv2.imdecode(buf, cv2.IMREAD_COLOR), cx


TRANSFORMS: dict[AugmentName, Transform] = {
    "blur": blur, "motion_blur": motion_blur, "perspective": perspective, "crop": crop, "noise": noise,
    "color": color, "contrast": contrast, "invert": invert, "jpeg": jpeg,
}


@dataclass(frozen=True)
class Augmenter:
    """The recipe's transforms under its seed; ``aug(img, cx, epoch, index)`` -> (img, cx)."""

    steps: Sequence[AugmentConfig]
    seed: int

    def __call__(self, img: Image, cx: CharX, epoch: int, index: int) -> tuple[Image, CharX]:
        for k, step in enumerate(self.steps):
            rng = np.random.default_rng([self.seed, epoch, index, k])
            if rng.random() < step.p:
                img, cx = TRANSFORMS[step.name](img, cx, rng)
        return img, cx


class EpochView:
    """A dataset as one training epoch reads it: item ``i`` is ``dataset.sample(i)`` augmented with the
    randomness of (seed, epoch, i). Picklable (DataLoader workers), ``len`` and indices as the dataset's."""

    def __init__(self, dataset, augmenter: Augmenter, epoch: int) -> None:  # dataset: LmdbTextDataset
        self.dataset, self.augmenter, self.epoch = dataset, augmenter, epoch

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int):
        return self.dataset.sample(i, lambda img, cx: self.augmenter(img, cx, self.epoch, int(i)))
