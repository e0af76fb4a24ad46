"""Recognise the text in image files: ``predict_paths(...) -> [(path, text, confidence)]``; ``decode``: the
one place model outputs become predictions (with the calibrated confidence when a calibration is given)."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable, Sized
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from textrec.calibration import Calibration
from textrec.charset import Charset
from textrec.ctc import Prediction, ctc_greedy_decode
from textrec.inference.engines import Engine
from textrec.inference.orientation import most_confident, views
from textrec.preprocess import ImageDecodeError, decode_image
from textrec.progress import track

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif"}


@dataclass(frozen=True)
class ImageResult:
    path: Path
    text: str
    confidence: float
    error: str | None = None  # set (and text empty) when the file could not be read as an image


def list_images(path: str | Path) -> list[Path]:
    """An image file, or every image file under a folder (sorted, recursive; by suffix, ``IMAGE_SUFFIXES``).

    Symbolic links whose target is missing (or loops) are listed too, so that ``predict_paths`` reports them
    by name rather than skipping them. A folder without any image file is an error (FileNotFoundError)."""
    p = Path(path)
    if p.is_dir():
        found = sorted(f for f in p.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES
                       and (f.is_file() or (f.is_symlink() and not f.exists())))
        if not found:
            raise FileNotFoundError(f"no image files in {p} (looked for {' '.join(sorted(IMAGE_SUFFIXES))})")
        return found
    if not p.exists():
        raise FileNotFoundError(f"no such file or folder: {p}")
    return [p]


def _read_error(p: Path, e: OSError) -> str:
    if e.errno == errno.ELOOP:
        return "symbolic link loop"
    if p.is_symlink() and not p.exists():
        try:
            return f"dangling symbolic link to {os.readlink(p)}"
        except OSError:
            return "dangling symbolic link"
    return f"cannot read file: {e.strerror or e}"


def decode(probs: np.ndarray, charset: Charset, calibration: Calibration | None = None) -> list[Prediction]:
    """Softmax outputs [N, T, C] -> one Prediction each; the confidence is ``calibration``'s (None: raw)."""
    preds = ctc_greedy_decode(probs, charset)
    if calibration is None:
        return preds
    return [Prediction(p.text, float(c)) for p, c in zip(preds, calibration.confidences(probs), strict=True)]


def predict_arrays(engine: Engine, x: np.ndarray, charset: Charset,
                   calibration: Calibration | None = None) -> list[tuple[str, float]]:
    return [(p.text, p.confidence) for p in decode(engine(x), charset, calibration)]


def predict_paths(engine: Engine, paths: Iterable[Path], charset: Charset, batch_size: int = 32,
                  progress: bool = False, calibration: Calibration | None = None,
                  rotate_portrait: bool = True) -> list[ImageResult]:
    """One result per path, in order; ``progress``: a bar counts the files read; ``calibration``: applied to
    the confidences (None: raw); ``rotate_portrait``: see ``textrec.inference.orientation``."""
    out: list[ImageResult] = []
    batch: list[tuple[Path, list[np.ndarray]]] = []  # a file and its views [3, 32, 100]

    def flush() -> None:
        if batch:
            x = np.stack([v for _, vs in batch for v in vs])  # [V, 3, 32, 100]
            preds = most_confident(predict_arrays(engine, x, charset, calibration), [len(vs) for _, vs in batch],
                                   confidence=lambda r: r[1])
            out.extend(ImageResult(p, t, c) for (p, _), (t, c) in zip(batch, preds, strict=True))
            batch.clear()

    total = len(paths) if isinstance(paths, Sized) else None
    for p in track(paths, progress, total=total, desc="predict", unit="img"):
        try:
            batch.append((p, views(decode_image(p.read_bytes()), rotate_portrait)))
        except (ImageDecodeError, OSError) as e:
            flush()  # keep the output in input order
            out.append(ImageResult(p, "", 0.0, error=_read_error(p, e) if isinstance(e, OSError) else str(e)))
            continue
        if len(batch) == batch_size:
            flush()
    flush()
    return out
