"""How the front ends name what they log: a model file's name and version, and a logger for it."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from textrec.config import PredictionLogConfig
from textrec.monitoring.store import PredictionLogger

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


def recognizer_logger(path: str | os.PathLike, model_path: Path | None, model: str | None = None,
                      version: str | None = None, cfg: PredictionLogConfig | None = None,
                      source: str = "api") -> PredictionLogger:
    """A logger for a Recognizer: ``model`` defaults to the model file's name, ``version`` to its hash."""
    if model is None:
        model = model_path.name if model_path is not None else "unnamed"
    if version is None:
        version = file_version(model_path) if model_path is not None and model_path.exists() else "unversioned"
    return PredictionLogger(path, model, version, cfg, source)
