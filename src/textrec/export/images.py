"""Real images for export checks, calibration and timing, read from DTRB LMDBs and preprocessed once."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from textrec.data.lmdb_io import image_key, num_samples, open_readonly
from textrec.preprocess import IMAGE_SHAPE, ImageDecodeError, preprocess_bytes


@dataclass
class ImageSample:
    images: np.ndarray  # [N, C, H, W] float32 (model.image_shape), output of textrec.preprocess
    keys: list[str] = field(default_factory=list)  # "<lmdb name>/image-%09d" per row
    undecodable: list[str] = field(default_factory=list)  # keys that could not be decoded (not in images)
    missing: list[str] = field(default_factory=list)  # indices without an image record

    def summary(self) -> dict:
        return {"images": len(self.keys), "undecodable": len(self.undecodable), "missing": len(self.missing)}


def sample_lmdb(path: str | Path, limit: int, spread: bool = True,
                image_shape: tuple[int, int, int] = IMAGE_SHAPE) -> ImageSample:
    """Up to ``limit`` images of one LMDB: evenly spread over the whole file (``spread``) or the first ones.

    Records that are missing or cannot be decoded are counted (and listed), not replaced.
    """
    path = Path(path)
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    n = num_samples(path)
    if n == 0:
        raise ValueError(f"{path}: the LMDB is empty")
    count = min(limit, n)
    idx = (np.linspace(1, n, count).round().astype(int) if spread else np.arange(1, count + 1)).tolist()
    out = ImageSample(np.zeros((0, *image_shape), np.float32))
    xs: list[np.ndarray] = []
    env = open_readonly(path)
    try:
        with env.begin() as txn:
            for i in dict.fromkeys(idx):  # unique, in order
                key = f"{path.name}/{image_key(i).decode()}"
                raw = txn.get(image_key(i))
                if raw is None:
                    out.missing.append(key)
                    continue
                try:
                    xs.append(preprocess_bytes(bytes(raw), image_shape))
                except ImageDecodeError:
                    out.undecodable.append(key)
                    continue
                out.keys.append(key)
    finally:
        env.close()
    if xs:
        out.images = np.stack(xs)
    return out


def sample_lmdbs(paths: list[Path], per_lmdb: int, image_shape: tuple[int, int, int] = IMAGE_SHAPE
                 ) -> ImageSample:
    """``sample_lmdb`` over several LMDBs, concatenated in the given order."""
    if not paths:
        raise ValueError("no LMDB given")
    parts = [sample_lmdb(p, per_lmdb, image_shape=image_shape) for p in paths]
    images = np.concatenate([p.images for p in parts])
    return ImageSample(images, [k for p in parts for k in p.keys], [k for p in parts for k in p.undecodable],
                       [k for p in parts for k in p.missing])
