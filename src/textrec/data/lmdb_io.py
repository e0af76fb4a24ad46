"""LMDB files in the DTRB / PaddleOCR layout.

Keys: ``num-samples`` -> b"N"; ``image-%09d`` -> encoded image bytes; ``label-%09d`` -> utf-8 label;
indices are 1-based. Synthetic records may also carry ``charx-%09d`` -> little-endian float32 [L]: the
x of each label character's centre as a fraction of the image width (training-only supervision; readers
that do not know the key, PaddleOCR's included, ignore it). A dataset root may hold one LMDB or a tree of them (each leaf directory that
contains ``data.mdb`` is one dataset), as PaddleOCR reads them.

Writers are atomic: they write into ``<dst>.partial-<pid>`` and rename onto ``dst`` only on success, so an
interrupted conversion never leaves a half-written LMDB where a reader would find it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import numpy as np

MAP_SIZE = 1 << 40  # virtual maximum; the file only grows as data is written
COMMIT_EVERY = 1000


def image_key(i: int) -> bytes:
    return b"image-%09d" % i


def label_key(i: int) -> bytes:
    return b"label-%09d" % i


def char_x_key(i: int) -> bytes:
    return b"charx-%09d" % i


CHAR_X_DTYPE = np.dtype("<f4")


def encode_char_x(char_x: tuple[float, ...] | np.ndarray) -> bytes:
    return np.asarray(char_x, CHAR_X_DTYPE).tobytes()


def decode_char_x(raw: bytes) -> np.ndarray:
    """-> [L] float32 (a copy: LMDB buffers die with their transaction)."""
    return np.frombuffer(raw, CHAR_X_DTYPE).astype(np.float32)


class LmdbWriter:
    """Append (image bytes, label) records; ``num-samples`` is written on close. Use as a context manager."""

    def __init__(self, dst: str | Path, commit_every: int = COMMIT_EVERY) -> None:
        import lmdb

        self.dst = Path(dst)
        self.tmp = self.dst.with_name(f"{self.dst.name}.partial-{os.getpid()}")
        if self.tmp.exists():
            shutil.rmtree(self.tmp)
        self.tmp.mkdir(parents=True)
        self._env = lmdb.open(str(self.tmp), map_size=MAP_SIZE, subdir=True, lock=True)
        self._cache: list[tuple[bytes, bytes]] = []
        self._commit_every = commit_every
        self.count = 0

    def add(self, image: bytes, label: str, char_x: tuple[float, ...] | None = None) -> int:
        """Append one record (``char_x``: per-character centres, see the module docstring); returns its
        1-based index."""
        self.count += 1
        self._cache.append((image_key(self.count), image))
        self._cache.append((label_key(self.count), label.encode("utf-8")))
        if char_x is not None:
            self._cache.append((char_x_key(self.count), encode_char_x(char_x)))
        if len(self._cache) >= 2 * self._commit_every:
            self._flush()
        return self.count

    def _flush(self, final: bool = False) -> None:
        with self._env.begin(write=True) as txn:
            for k, v in self._cache:
                txn.put(k, v)
            if final:
                txn.put(b"num-samples", str(self.count).encode())
        self._cache = []

    def close(self) -> Path:
        """Commit, then atomically move the LMDB into place (replacing an older one)."""
        self._flush(final=True)
        self._env.sync()
        self._env.close()
        if self.dst.exists():
            old = self.dst.with_name(f"{self.dst.name}.old-{os.getpid()}")
            self.dst.rename(old)
            self.tmp.rename(self.dst)
            shutil.rmtree(old)
        else:
            self.dst.parent.mkdir(parents=True, exist_ok=True)
            self.tmp.rename(self.dst)
        return self.dst

    def abort(self) -> None:
        self._env.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> LmdbWriter:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        if et is None:
            self.close()
        else:
            self.abort()


def find_lmdbs(root: str | Path) -> list[Path]:
    """Every LMDB under ``root`` (``root`` itself if it is one), sorted; partial writes are ignored."""
    root = Path(root)
    if (root / "data.mdb").exists():
        return [root]
    found = [p.parent for p in root.rglob("data.mdb") if ".partial-" not in str(p) and ".old-" not in str(p)]
    return sorted(found)


def open_readonly(path: str | Path):  # -> lmdb.Environment
    """Open read-only without locking (safe while nothing writes; see ECOSYSTEM.md on py-lmdb 3.0)."""
    import lmdb

    return lmdb.open(str(path), readonly=True, lock=False, readahead=False, meminit=False, max_readers=128)


def num_samples(path: str | Path) -> int:
    env = open_readonly(path)
    try:
        with env.begin() as txn:
            raw = txn.get(b"num-samples")
    finally:
        env.close()
    if raw is None:
        raise ValueError(f"{path}: not a DTRB LMDB (no 'num-samples' key)")
    return int(raw)


def iter_records(path: str | Path) -> Iterator[tuple[int, bytes | None, str | None]]:
    """Yield (index, image bytes or None, label or None) for 1..num-samples; missing keys give None."""
    env = open_readonly(path)
    try:
        with env.begin() as txn:
            n = int(txn.get(b"num-samples") or b"0")
            for i in range(1, n + 1):
                img = txn.get(image_key(i))
                lab = txn.get(label_key(i))
                yield i, (bytes(img) if img is not None else None), (
                    lab.decode("utf-8", errors="replace") if lab is not None else None)
    finally:
        env.close()
