"""What the prediction log keeps of an image: its sha256, a perceptual hash, its size, and its bytes.

The perceptual hash is dHash (difference hash): the image in grey, shrunk to 9x8, one bit per pair of
horizontal neighbours (left brighter than right) -> 64 bits. Re-encoding, rescaling or a little noise leave
it within a few bits, so ``select`` drops near-duplicates that an exact hash would keep; the sha256 catches
the identical ones.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ImageRef = bytes | np.ndarray | str | os.PathLike  # what a prediction was made from


@dataclass(frozen=True)
class Fingerprint:
    sha256: str
    dhash: int | None  # signed 64-bit (SQLite's integer); None when the image could not be decoded
    height: int | None
    width: int | None
    data: bytes | None  # the encoded image, when kept


def dhash(bgr: np.ndarray) -> int:
    """uint8 [H, W, 3] BGR (or [H, W] grey) -> 64-bit difference hash as a signed int64."""
    import cv2

    grey = bgr if bgr.ndim == 2 else cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    small = cv2.resize(grey, (9, 8), interpolation=cv2.INTER_AREA).astype(np.int16)  # [8, 9]
    bits = (small[:, :-1] > small[:, 1:]).ravel()  # [64]
    value = int(np.packbits(bits).view(">u8")[0])
    return value - (1 << 64) if value >= 1 << 63 else value


def hamming(a: int, b: int) -> int:
    return ((a ^ b) & ((1 << 64) - 1)).bit_count()


def _as_bgr(a: np.ndarray, bgr: bool) -> np.ndarray:
    """A uint8 array as the Recognizer accepts it -> HxWx3 BGR."""
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim == 2:
        return np.repeat(a[:, :, None], 3, axis=2)
    a = a[:, :, :3]
    return a if bgr else a[:, :, ::-1]


def fingerprint(image: ImageRef, keep: bool, max_size: int, bgr: bool = False) -> Fingerprint:
    """The fingerprint of one image; ``keep``: with its encoded bytes (PNG for an array) when they are at
    most ``max_size`` bytes. Raises OSError for a path that cannot be read."""
    import cv2

    from textrec.preprocess import ImageDecodeError, decode_image

    if isinstance(image, np.ndarray):
        pixels = np.ascontiguousarray(_as_bgr(image, bgr))
        digest = hashlib.sha256(repr(pixels.shape).encode() + pixels.tobytes()).hexdigest()
        data = None
        if keep:
            ok, png = cv2.imencode(".png", pixels)
            data = png.tobytes() if ok else None
    else:
        data = Path(image).read_bytes() if isinstance(image, str | os.PathLike) else bytes(image)
        digest = hashlib.sha256(data).hexdigest()
        try:
            pixels = decode_image(data)
        except ImageDecodeError:
            pixels = None
    data = data if keep and data is not None and len(data) <= max_size else None
    if pixels is None:
        return Fingerprint(digest, None, None, None, data)
    return Fingerprint(digest, dhash(pixels), int(pixels.shape[0]), int(pixels.shape[1]), data)
