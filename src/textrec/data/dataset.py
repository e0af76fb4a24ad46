"""Map-style text-recognition dataset over one LMDB or a tree of LMDBs (DTRB layout).

    ds = LmdbTextDataset("data/lmdb/train", charset)     # index pass: finds every bad record up front
    print(ds.report.summary())                          # counts per reason + keys (DatasetReport)
    image, label, length, char_pos = ds[0]              # [3, 32, 100] float32, [25] int64, int64, [25] float32
    loader = paddle.io.DataLoader(ds, batch_sampler=..., collate_fn=collate_batch, num_workers=2)

The index pass judges every record with ``data.records.check_record`` (the check evaluation, export and
conversion make too): it reads every label (cheap) and, with ``check_images=True``, decodes every image once, so
a corrupt image, a missing key or an unusable label is rejected *before* training and reported with its key;
indices ``0..len-1`` address accepted records only, so no sampler can ever yield a rejected one.
With ``check_images=False`` a corrupt image met in ``__getitem__`` raises ``BadRecordError`` naming the key.

It follows ``paddle.io.Dataset``'s protocol (``__getitem__``/``__len__``) without importing paddle, so
evaluation and data checks can use it without the 5 s paddle import.

One environment per LMDB per process: py-lmdb 3.0 refuses a second ``lmdb.open`` of the same files in
one process (two datasets on one LMDB, e.g. train = val in an overfit run, would collide), and that registry
survives fork. So every dataset of a process borrows from one pool keyed by path and pid (the pool is
module state because py-lmdb's registry is). A process that finds handles inherited from its parent closes
them (read-only, lock-free, no open transaction: the close only unmaps the child's copy) and opens its own.
``close()`` in the parent before starting workers is still the clean way and the trainer does it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from textrec.charset import Charset
from textrec.data.lmdb_io import find_lmdbs, open_readonly, read_char_x, read_record, record_count
from textrec.data.records import check_record
from textrec.data.report import DatasetReport, Rejection
from textrec.preprocess import IMAGE_SHAPE, normalize_resize, resized_width

# decoded uint8 image [H, W, 3] and character centres (or None) -> the same, transformed
Augment = Callable[[np.ndarray, np.ndarray | None], tuple[np.ndarray, np.ndarray | None]]


class BadRecordError(ValueError):
    """A record that cannot be used, met outside the index pass (only with ``check_images=False``)."""


class _EnvPool:
    """This process's open LMDB environments, shared by every dataset (see the module docstring)."""

    def __init__(self) -> None:
        self.pid: int | None = None
        self.envs: dict[str, object] = {}  # resolved path -> lmdb.Environment
        self.users: dict[str, set[int]] = {}  # resolved path -> ids of the datasets holding it

    def acquire(self, path: Path, user: int):  # path: resolved
        if self.pid != os.getpid():  # first use, or handles inherited through fork: drop them
            for env in self.envs.values():
                env.close()
            self.pid, self.envs, self.users = os.getpid(), {}, {}
        key = str(path)
        if key not in self.envs:
            self.envs[key] = open_readonly(path)
        self.users.setdefault(key, set()).add(user)
        return self.envs[key]

    def release(self, path: Path, user: int) -> None:
        if self.pid != os.getpid():
            return
        key = str(path)
        holders = self.users.get(key, set())
        holders.discard(user)
        if not holders and key in self.envs:
            self.envs.pop(key).close()
            self.users.pop(key, None)


_POOL = _EnvPool()


class LmdbTextDataset:
    def __init__(self, root: str | Path, charset: Charset, *, check_images: bool = True,
                 image_shape: tuple[int, int, int] = IMAGE_SHAPE) -> None:
        self.root = Path(root)
        self.paths = [p.resolve() for p in find_lmdbs(self.root)]
        if not self.paths:
            raise FileNotFoundError(f"{self.root}: no LMDB found (no data.mdb in it or below it)")
        self.charset = charset
        self.image_shape = image_shape
        self.check_images = check_images
        self._held: set[int] = set()  # sources this dataset borrowed from the pool, in process self._pid
        self._pid: int | None = None
        self.report = DatasetReport(root=str(self.root), lmdbs=[str(p) for p in self.paths])
        sources, records, lengths = [], [], []
        for s, path in enumerate(self.paths):
            recs, lens = self._index_one(path)
            sources.append(np.full(len(recs), s, np.int32))
            records.append(np.asarray(recs, np.int64))
            lengths.append(np.asarray(lens, np.int16))
        self._source = np.concatenate(sources)  # [N] which LMDB
        self._record = np.concatenate(records)  # [N] 1-based record index in it
        self.lengths = np.concatenate(lengths)  # [N] encoded label length (curriculum, statistics)

    # ---- index pass ---------------------------------------------------------------------------------------
    def _index_one(self, path: Path) -> tuple[list[int], list[int]]:
        env = _POOL.acquire(path, id(self))
        recs: list[int] = []
        lens: list[int] = []
        try:
            with env.begin() as txn:
                n = record_count(txn, path)
                self.report.total += n
                for i in range(1, n + 1):
                    rec = read_record(txn, i)
                    check = check_record(rec.image, rec.label, self.charset, decode=self.check_images)
                    if check.ok:
                        recs.append(i)
                        lens.append(len(check.encoded.ids))
                    else:
                        self.report.rejections.append(Rejection(str(path), i, check.reason, check.detail))
        finally:
            _POOL.release(path, id(self))
        return recs, lens

    # ---- per-process environments ----------------------------------------------------------------------------
    def _env(self, source: int):
        if self._pid != os.getpid():
            self._held, self._pid = set(), os.getpid()
        self._held.add(source)
        return _POOL.acquire(self.paths[source], id(self))

    def close(self) -> None:
        """Give back this process's environments (call before starting DataLoader workers)."""
        if self._pid == os.getpid():
            for source in self._held:
                _POOL.release(self.paths[source], id(self))
        self._held, self._pid = set(), None

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_held"], state["_pid"] = set(), None  # environments never travel by pickle (spawn workers)
        return state

    def content_digests(self) -> dict[str, str]:
        """Per LMDB (relative to the root, "." for the root itself): sha256 over every key and value in key
        order. The same records give the same digest wherever and whenever they were written (~1 s/GB)."""
        import hashlib

        root, out = self.root.resolve(), {}
        for s, path in enumerate(self.paths):
            h = hashlib.sha256()
            with self._env(s).begin() as txn:
                for key, value in txn.cursor():
                    h.update(len(key).to_bytes(4, "little") + bytes(key))
                    h.update(len(value).to_bytes(8, "little") + bytes(value))
            out["." if path == root else str(path.relative_to(root))] = h.hexdigest()
        return out

    # ---- access -------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._record)

    def key(self, i: int) -> str:
        return Rejection(str(self.paths[self._source[i]]), int(self._record[i]), "").key

    def raw(self, i: int) -> tuple[bytes, str]:
        """Encoded image bytes and raw label of accepted record ``i``."""
        img, lab, _ = self._read(i)
        return img, lab.decode("utf-8")

    def _read(self, i: int) -> tuple[bytes, bytes, np.ndarray | None]:
        """Image bytes, stored label and the character centres (fractions of the width) if the record has them."""
        if not 0 <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} records")
        s, r = int(self._source[i]), int(self._record[i])
        with self._env(s).begin() as txn:
            rec = read_record(txn, r)
            if rec.image is None or rec.label is None:
                raise BadRecordError(f"{self.key(i)}: key vanished after indexing (LMDB rewritten?)")
            return rec.image, rec.label, read_char_x(txn, r)

    def text(self, i: int) -> str:
        """Normalised ground-truth text of record ``i`` (what accuracy is measured against)."""
        return self.charset.encode(self.raw(i)[1]).text

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray, np.int64, np.ndarray]:
        """-> image [3, 32, 100] float32, label ids [max_text_length] int64 (0-padded), length, and the x of
        each label character's centre as a fraction of the input width [max_text_length] float32 (NaN where
        unknown: padding, records without centres, or centres that do not match the encoded label 1:1)."""
        return self.sample(i)

    def sample(self, i: int, augment: Augment | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.int64, np.ndarray]:
        """``self[i]``, with ``augment`` (training: ``data.augment.EpochView``) applied to the decoded uint8
        image [H, W, 3] and its character centres (fractions of its width, or None) before the resize."""
        img, label, char_x = self._read(i)
        check = check_record(img, label, self.charset)  # the index pass's verdict, now with the image decoded
        if not check.ok:
            raise BadRecordError(f"{self.key(i)}: {check.reason} ({check.detail})")
        decoded, enc = check.image, check.encoded
        if augment is not None:
            decoded, char_x = augment(decoded, char_x)
        x = normalize_resize(decoded, self.image_shape)
        n = self.charset.max_text_length
        ids = np.zeros(n, np.int64)
        ids[: len(enc.ids)] = enc.ids
        char_pos = np.full(n, np.nan, np.float32)
        if char_x is not None and len(char_x) == len(enc.ids):  # a dropped character breaks the pairing
            # fraction of the stored width -> fraction of the padded input (the image fills rw of its W px)
            rw = resized_width(*decoded.shape[:2], self.image_shape)
            char_pos[: len(char_x)] = char_x * (rw / self.image_shape[2])
        return x, ids, np.int64(len(enc.ids)), char_pos


def collate_batch(samples: list[tuple[np.ndarray, np.ndarray, np.int64, np.ndarray]]) -> tuple[np.ndarray, ...]:
    """-> images [B, 3, 32, 100] float32, labels [B, 25] int64, lengths [B] int64, char_pos [B, 25] float32."""
    images = np.stack([s[0] for s in samples])
    labels = np.stack([s[1] for s in samples])
    lengths = np.asarray([s[2] for s in samples], np.int64)
    char_pos = np.stack([s[3] for s in samples])
    return images, labels, lengths, char_pos
