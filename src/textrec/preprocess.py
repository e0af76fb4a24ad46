"""The single image preprocessing used by training, evaluation, export checks, prediction and serving.

It is PaddleOCR's Eval transform (DecodeImage BGR -> RecResizeImg with padding), reproduced bit for bit
(see shared/reference/paddleocr-parity/README.md):
  decode with cv2 to uint8 HxWx3 **BGR** -> resize to height 32 and width min(100, ceil(32*w/h)) with
  cv2 INTER_LINEAR on uint8 -> (u/255 - 0.5)/0.5 in float32 -> zero-pad on the right to width 100.
Unlike PaddleOCR's predict_rec.py we never widen the input beyond 100 px at inference: the model sees
exactly what it was trained on.
"""

from __future__ import annotations

import math

import numpy as np

from textrec.config.model import IMAGE_SHAPE


class ImageDecodeError(ValueError):
    """Bytes that are not a decodable image (corrupt, truncated, empty or zero-sized)."""


def decode_image(data: bytes) -> np.ndarray:
    """Encoded bytes -> uint8 [H, W, 3] in BGR order (grayscale becomes 3 equal channels, alpha dropped)."""
    import cv2

    if not data:
        raise ImageDecodeError("empty image bytes")
    img = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if img is None or img.size == 0 or img.shape[0] == 0 or img.shape[1] == 0:
        raise ImageDecodeError(f"cannot decode image ({len(data)} bytes)")
    return img


def resized_width(h: int, w: int, image_shape: tuple[int, int, int] = IMAGE_SHAPE) -> int:
    """PaddleOCR: ``min(W, ceil(H * w / h))`` computed as ``math.ceil(H * (w / float(h)))``."""
    _, height, max_w = image_shape
    return min(max_w, int(math.ceil(height * (w / float(h)))))


def normalize_resize(img: np.ndarray, image_shape: tuple[int, int, int] = IMAGE_SHAPE) -> np.ndarray:
    """uint8 BGR [H, W, 3] -> float32 [3, 32, 100] in [-1, 1], zero padded on the right."""
    import cv2

    c, height, max_w = image_shape
    rw = resized_width(img.shape[0], img.shape[1], image_shape)
    resized = cv2.resize(img, (rw, height))  # INTER_LINEAR on uint8: the result is rounded by OpenCV
    x = resized.astype(np.float32).transpose(2, 0, 1) / 255  # [3, 32, rw]
    x -= 0.5
    x /= 0.5
    out = np.zeros((c, height, max_w), dtype=np.float32)
    out[:, :, :rw] = x
    return out


def preprocess_bytes(data: bytes, image_shape: tuple[int, int, int] = IMAGE_SHAPE) -> np.ndarray:
    """Encoded image bytes -> model input [3, 32, 100] float32."""
    return normalize_resize(decode_image(data), image_shape)


def preprocess_batch(images: list[bytes], image_shape: tuple[int, int, int] = IMAGE_SHAPE) -> np.ndarray:
    """List of encoded images -> [N, 3, 32, 100] float32."""
    return np.stack([preprocess_bytes(b, image_shape) for b in images]) if images else np.zeros(
        (0, *image_shape), np.float32)
