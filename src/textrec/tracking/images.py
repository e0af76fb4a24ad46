"""Turning what a client sends to the served model into checked image bytes (no MLflow here).

One image may arrive as raw ``bytes`` or a base64 string (optionally a ``data:image/...;base64,`` URI).
A path to a file on the machine that runs the model is read only with ``allow_paths=True``, which only a
trusted local caller may set (see ``recognizer.py``): otherwise any client could probe which files exist and
how big they are. Every image is checked against byte and pixel limits *before* it is decoded in full, so
one oversized upload cannot exhaust the server. Error messages never quote what the client sent.
"""

from __future__ import annotations

import base64
import binascii
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from textrec.preprocess import IMAGE_SHAPE, ImageDecodeError, decode_image, normalize_resize

IMAGE_COLUMN = "image"
# how the served model's refusals start (recognizer.py): `textrec serve` passes only such messages on to
# the client, having replaced every other error (MLflow's quote the request) with a fixed sentence
MODEL_REFUSAL = "bad input: "
_MAX_PATH_LEN = 4096


class ImageInputError(ValueError):
    """A request the model refuses: the message says which row and why (serving turns it into a 4xx)."""


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int = 10_000_000  # encoded size of one image
    max_pixels: int = 16_000_000  # width * height of one image
    max_images: int = 1024  # images in one request
    allow_paths: bool = False  # read file paths on this machine: only for a trusted local caller


def _from_string(s: str, limits: ImageLimits) -> bytes:
    if limits.allow_paths and 0 < len(s) < _MAX_PATH_LEN and "\n" not in s:
        p = Path(s)
        try:
            if p.is_file():
                size = p.stat().st_size
                if size > limits.max_bytes:
                    raise ImageInputError(f"file {s} has {size} bytes, more than the limit {limits.max_bytes}")
                return p.read_bytes()
        except OSError:
            pass  # not a usable path (e.g. a long base64 string): decode as base64 below
    if s.startswith("data:"):
        header, sep, s = s.partition(",")
        if not sep or not header.endswith(";base64"):
            raise ImageInputError("a data URI must look like data:image/png;base64,<data>")
    s = "".join(s.split())  # base64 may be wrapped in lines
    # 4 base64 characters carry 3 bytes: refuse before decoding anything bigger than the limit
    if len(s) // 4 * 3 > limits.max_bytes + 2:
        raise ImageInputError(f"image of about {len(s) // 4 * 3} bytes is larger than the limit {limits.max_bytes}")
    try:
        return base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        if limits.allow_paths:
            raise ImageInputError(f"string of {len(s)} characters is neither a readable file nor valid base64"
                                  ) from None
        raise ImageInputError(f"string of {len(s)} characters is not valid base64 (send the encoded image "
                              "bytes, base64-encoded; file paths are not read)") from None


def to_image_bytes(item: object, limits: ImageLimits) -> bytes:
    """One input item -> encoded image bytes (not yet decoded)."""
    if isinstance(item, bytes | bytearray | memoryview):
        data = bytes(item)
    elif isinstance(item, np.ndarray) and item.dtype == np.uint8 and item.ndim == 1:
        data = item.tobytes()
    elif isinstance(item, str):
        data = _from_string(item, limits)
    else:
        raise ImageInputError(f"expected image bytes or a base64 string, got {type(item).__name__}")
    if not data:
        raise ImageInputError("empty image")
    if len(data) > limits.max_bytes:
        raise ImageInputError(f"image has {len(data)} bytes, more than the limit {limits.max_bytes}")
    return data


def _header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) read from the file header without decoding pixels; None if PIL cannot tell."""
    import warnings

    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # we apply our own limit
            with Image.open(io.BytesIO(data)) as im:
                return im.size
    except Image.DecompressionBombError as e:
        raise ImageInputError(f"image is larger than the pixel limit ({e})") from None
    except (UnidentifiedImageError, OSError, ValueError):
        return None


def decode_checked(data: bytes, limits: ImageLimits) -> np.ndarray:
    """Encoded bytes -> uint8 BGR [H, W, 3], refusing images above ``max_pixels`` before decoding."""
    size = _header_size(data)
    if size is not None and size[0] * size[1] > limits.max_pixels:
        raise ImageInputError(f"image of {size[0]}x{size[1]} pixels is larger than the limit {limits.max_pixels}")
    try:
        img = decode_image(data)
    except ImageDecodeError as e:
        raise ImageInputError(str(e)) from None
    if img.shape[0] * img.shape[1] > limits.max_pixels:  # a format PIL could not read the header of
        raise ImageInputError(f"image of {img.shape[1]}x{img.shape[0]} pixels is larger than the limit "
                              f"{limits.max_pixels}")
    return img


def _names(names: Iterable[object], most: int = 5, width: int = 40) -> str:
    """Field names for a message, shortened: a client could send anything as a name."""
    names = [str(n) for n in names]
    shown = [n if len(n) <= width else n[:width] + "..." for n in sorted(names)[:most]]
    return str(shown) + (f" and {len(names) - most} more" if len(names) > most else "")


def images_from_input(model_input: object) -> Sequence[object]:
    """Accept a DataFrame (column ``image``, or its only column), a Series, a dict or a list of items."""
    import pandas as pd

    if isinstance(model_input, pd.DataFrame):
        if IMAGE_COLUMN in model_input.columns:
            return model_input[IMAGE_COLUMN].tolist()
        if len(model_input.columns) == 1:
            return model_input.iloc[:, 0].tolist()
        if len(model_input.columns) == 0:  # the served model's signature drops fields other than "image"
            raise ImageInputError(f"no field {IMAGE_COLUMN!r} in the request: send the images (bytes or "
                                  f"base64) as {IMAGE_COLUMN!r}")
        raise ImageInputError(f"expected a column {IMAGE_COLUMN!r}, got columns "
                              f"{_names(model_input.columns)}")
    if isinstance(model_input, pd.Series):
        return model_input.tolist()
    if isinstance(model_input, dict):
        if IMAGE_COLUMN not in model_input:
            raise ImageInputError(f"expected the key {IMAGE_COLUMN!r}, got keys {_names(model_input)}")
        value = model_input[IMAGE_COLUMN]
        return list(value) if isinstance(value, list | tuple | np.ndarray) else [value]
    if isinstance(model_input, list | tuple):
        return list(model_input)
    if isinstance(model_input, str | bytes):
        return [model_input]
    raise ImageInputError(f"unsupported input type {type(model_input).__name__}")


def decode_items(items: Iterable[object], limits: ImageLimits) -> list[np.ndarray]:
    """Items -> decoded images, uint8 BGR [H, W, 3] each; the first bad item raises naming its row."""
    items = list(items)
    if not items:
        raise ImageInputError("no images in the request")
    if len(items) > limits.max_images:
        raise ImageInputError(f"{len(items)} images in one request, more than the limit {limits.max_images}")
    out = []
    for i, item in enumerate(items):
        try:
            out.append(decode_checked(to_image_bytes(item, limits), limits))
        except ImageInputError as e:
            raise ImageInputError(f"image {i}: {e}") from None
    return out


def preprocess_items(items: Iterable[object], limits: ImageLimits,
                     image_shape: tuple[int, int, int] = IMAGE_SHAPE) -> np.ndarray:
    """Items -> model input [N, 3, 32, 100] float32 (each image as given); the first bad item raises naming
    its row."""
    return np.stack([normalize_resize(img, image_shape) for img in decode_items(items, limits)])
