"""How the Python API and `textrec predict` name what they log: a model file's name and version."""

from __future__ import annotations

import hashlib
from pathlib import Path

VERSION_CHARS = 12  # of a model file's sha256: a version for models that are not in a registry


def file_version(path: Path) -> str:
    """The start of the sha256 of a model file (of its weights for an exported directory): the same file
    logs under the same version wherever it is."""
    target = path / "inference.pdiparams" if path.is_dir() else path
    h = hashlib.sha256()
    with target.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:VERSION_CHARS]


def identity(rec) -> tuple[str, str]:
    """(name, version) a Recognizer logs under: the model file's name, and the start of its sha256 followed
    by its calibration's (a new calibration changes every confidence: it is another version to monitor)."""
    if rec.model is None or not rec.model.exists():
        return "unnamed", "unversioned"
    version = file_version(rec.model)
    if rec.calibration is not None:
        version += "+cal" + hashlib.sha256(rec.calibration.to_json().encode()).hexdigest()[:6]
    return rec.model.name, version
