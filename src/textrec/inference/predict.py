"""Recognise the text in image files: ``predict_paths(...) -> [(path, text, confidence)]``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from textrec.charset import Charset
from textrec.evaluation.ctc import ctc_greedy_decode
from textrec.inference.engines import Engine
from textrec.preprocess import ImageDecodeError, preprocess_bytes

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif"}


@dataclass(frozen=True)
class ImageResult:
    path: Path
    text: str
    confidence: float
    error: str | None = None  # set (and text empty) when the file could not be read as an image


def list_images(path: str | Path) -> list[Path]:
    """An image file, or every image file under a folder (sorted, recursive)."""
    p = Path(path)
    if p.is_dir():
        return sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
    if not p.exists():
        raise FileNotFoundError(f"no such file or folder: {p}")
    return [p]


def predict_arrays(engine: Engine, x: np.ndarray, charset: Charset) -> list[tuple[str, float]]:
    return [(p.text, p.confidence) for p in ctc_greedy_decode(engine(x), charset)]


def predict_paths(engine: Engine, paths: Iterable[Path], charset: Charset, batch_size: int = 32
                  ) -> list[ImageResult]:
    out: list[ImageResult] = []
    batch: list[tuple[Path, np.ndarray]] = []

    def flush() -> None:
        if batch:
            preds = predict_arrays(engine, np.stack([x for _, x in batch]), charset)
            out.extend(ImageResult(p, t, c) for (p, _), (t, c) in zip(batch, preds, strict=True))
            batch.clear()

    for p in paths:
        try:
            batch.append((p, preprocess_bytes(p.read_bytes())))
        except (ImageDecodeError, OSError) as e:
            flush()  # keep the output in input order
            out.append(ImageResult(p, "", 0.0, error=str(e)))
            continue
        if len(batch) == batch_size:
            flush()
    flush()
    return out
