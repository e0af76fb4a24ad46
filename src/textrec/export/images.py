"""Real images for export checks, calibration and timing, read from DTRB LMDBs and preprocessed once."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from textrec.charset import Charset
from textrec.data.lmdb_io import image_key, iter_records, num_samples
from textrec.data.records import check_record
from textrec.preprocess import IMAGE_SHAPE, normalize_resize


@dataclass
class ImageSample:
    images: np.ndarray  # [N, C, H, W] float32 (model.image_shape), output of textrec.preprocess
    keys: list[str] = field(default_factory=list)  # "<lmdb name>/image-%09d" per row
    rejected: dict[str, list[str]] = field(default_factory=dict)  # reason -> keys not used (check_record)

    def summary(self) -> dict:
        return {"images": len(self.keys), "rejected": {r: len(k) for r, k in self.rejected.items()}}


def sample_lmdb(path: str | Path, limit: int, charset: Charset, spread: bool = True,
                image_shape: tuple[int, int, int] = IMAGE_SHAPE) -> ImageSample:
    """Up to ``limit`` images of one LMDB: evenly spread over the whole file (``spread``) or the first ones.

    Only records training would use (``textrec.data.records.check_record``); the others are counted and
    listed by reason, not replaced.
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
    for rec in iter_records(path, dict.fromkeys(idx)):  # unique, in order
        key = f"{path.name}/{image_key(rec.index).decode()}"
        check = check_record(rec.image, rec.label, charset)
        if not check.ok:
            out.rejected.setdefault(check.reason, []).append(key)
            continue
        xs.append(normalize_resize(check.image, image_shape))
        out.keys.append(key)
    if xs:
        out.images = np.stack(xs)
    return out


def sample_lmdbs(paths: list[Path], per_lmdb: int, charset: Charset,
                 image_shape: tuple[int, int, int] = IMAGE_SHAPE) -> ImageSample:
    """``sample_lmdb`` over several LMDBs, concatenated in the given order."""
    if not paths:
        raise ValueError("no LMDB given")
    parts = [sample_lmdb(p, per_lmdb, charset, image_shape=image_shape) for p in paths]
    rejected: dict[str, list[str]] = {}
    for p in parts:
        for reason, keys in p.rejected.items():
            rejected.setdefault(reason, []).extend(keys)
    return ImageSample(np.concatenate([p.images for p in parts]), [k for p in parts for k in p.keys], rejected)
