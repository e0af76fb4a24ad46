"""LMDB files in the DTRB / PaddleOCR layout.

Keys: ``num-samples`` -> b"N"; ``image-%09d`` -> encoded image bytes; ``label-%09d`` -> utf-8 label;
indices are 1-based. Synthetic records may also carry ``charx-%09d`` -> little-endian float32 [L]: the
x of each label character's centre as a fraction of the image width (training-only supervision; readers
that do not know the key, PaddleOCR's included, ignore it). A dataset root may hold one LMDB or a tree of them (each leaf directory that
contains ``data.mdb`` is one dataset), as PaddleOCR reads them.

Reading: ``iter_records`` (its own transaction) and ``read_record`` (a caller's, e.g. the dataset's pooled
environment) are the one reader. They return the stored bytes; whether a record is usable is decided in one
place, ``textrec.data.records.check_record``, for training, evaluation, export and conversion alike.

Writers are atomic: they write into ``<dst>.partial-<pid>`` and rename onto ``dst`` only on success, so an
interrupted conversion never leaves a half-written LMDB where a reader would find it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import NamedTuple

import numpy as np

MAP_SIZE = 1 << 40  # virtual maximum; the file only grows as data is written
COMMIT_EVERY = 1000


def image_key(i: int) -> bytes:
    return b"image-%09d" % i


def label_key(i: int) -> bytes:
    return b"label-%09d" % i


def key_index(key: str | bytes) -> int:
    """The record index of an ``image_key`` or ``label_key`` (as the eval results keep them: str)."""
    text = key.decode() if isinstance(key, bytes) else key
    return int(text.rpartition("-")[2])


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


class Record(NamedTuple):
    """One record as stored: the bytes, never interpreted here (``textrec.data.records.check_record`` decides
    whether it is usable, the label's UTF-8 included). Unpacks like ``(index, image, label)``."""

    index: int  # 1-based DTRB index
    image: bytes | None  # None: no image-%09d key
    label: bytes | None  # None: no label-%09d key


def record_count(txn, path: str | Path) -> int:
    """``num-samples`` of the LMDB open in ``txn``; a file without it is not a DTRB LMDB (ValueError)."""
    raw = txn.get(b"num-samples")
    if raw is None:
        raise ValueError(f"{path}: not a DTRB LMDB (no 'num-samples' key)")
    return int(raw)


def read_record(txn, i: int) -> Record:
    """Record ``i`` of the LMDB open in ``txn`` (copies: LMDB buffers die with their transaction)."""
    img, lab = txn.get(image_key(i)), txn.get(label_key(i))
    return Record(i, None if img is None else bytes(img), None if lab is None else bytes(lab))


def read_char_x(txn, i: int) -> np.ndarray | None:
    """The character centres of record ``i`` ([L] float32), None when the record has none."""
    raw = txn.get(char_x_key(i))
    return None if raw is None else decode_char_x(bytes(raw))


def num_samples(path: str | Path) -> int:
    env = open_readonly(path)
    try:
        with env.begin() as txn:
            return record_count(txn, path)
    finally:
        env.close()


def iter_records(path: str | Path, indices: Iterable[int] | None = None) -> Iterator[Record]:
    """Every record 1..num-samples in order (or those of ``indices``), in one read transaction."""
    env = open_readonly(path)
    try:
        with env.begin() as txn:
            n = record_count(txn, path)
            for i in range(1, n + 1) if indices is None else indices:
                yield read_record(txn, i)
    finally:
        env.close()
