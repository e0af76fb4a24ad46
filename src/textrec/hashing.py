"""The sha256 of a file: checkpoints (the init check, a calibration's provenance), archives (downloads) and
model files (model cards). Its own module so that what hashes a file does not depend on the downloader."""

from __future__ import annotations

import hashlib
from pathlib import Path

BLOCK = 1 << 20  # read 1 MiB at a time: flat memory for multi-GB archives


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of the file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(BLOCK):
            h.update(block)
    return h.hexdigest()
