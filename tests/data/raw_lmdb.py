"""A DTRB LMDB written by hand, so that keys can be missing and labels need not be UTF-8 (LmdbWriter always
writes both, checked)."""

from __future__ import annotations

from pathlib import Path

import lmdb

from textrec.data.lmdb_io import image_key, label_key


def write_raw(dst: Path, records: list[tuple[bytes | None, bytes | None]]) -> Path:
    """(image bytes or None, label bytes or None) per record, keys from 1, and num-samples."""
    env = lmdb.open(str(dst), map_size=1 << 26)
    with env.begin(write=True) as txn:
        for i, (img, lab) in enumerate(records, start=1):
            if img is not None:
                txn.put(image_key(i), img)
            if lab is not None:
                txn.put(label_key(i), lab)
        txn.put(b"num-samples", str(len(records)).encode())
    env.close()
    return dst
