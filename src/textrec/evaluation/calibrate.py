"""Fit a model's calibration on labelled words: the calibrate stage (the validation set) and
``textrec calibrate`` (your own labelled crops) both come here."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from textrec.calibration import Calibration, fit_best
from textrec.charset import Charset
from textrec.config.calibration import CalibrationConfig
from textrec.evaluation.evaluate import DatasetResult, evaluate_lmdb
from textrec.inference.engines import Engine
from textrec.preprocess import IMAGE_SHAPE


def fit_on_lmdb(engine: Engine, path: str | Path, charset: Charset, cfg: CalibrationConfig,
                fitted_on: dict[str, Any], batch_size: int = 64,
                image_shape: tuple[int, int, int] = IMAGE_SHAPE, progress: bool = False
                ) -> tuple[Calibration, DatasetResult]:
    """Read every word of the LMDB ``path``, fit ``cfg.method`` (auto: the lowest cross-validated ECE) on
    the model's outputs and correctness (DTRB protocol); returns the calibration and the words scored with
    it (``DatasetResult.calibration`` gives their ECE before and after). ``fitted_on``: provenance recorded
    in the calibration (with the count and accuracy added)."""
    outputs: list[np.ndarray] = []
    res = evaluate_lmdb(engine, path, charset, Path(path).name, batch_size, image_shape, progress,
                        desc="calibrate", outputs=outputs)
    if not res.count:
        raise ValueError(f"{path}: no labelled word to calibrate on (rejected: {dict(res.rejected)})")
    probs = np.concatenate(outputs)  # [N, T, C]
    correct = np.array([s.correct for s in res.samples])
    method = None if cfg.method == "auto" else cfg.method
    cal = fit_best(probs, correct, bins=cfg.bins, folds=cfg.folds, method=method,
                   fitted_on=fitted_on | {"count": res.count, "accuracy": res.accuracy})
    scored = DatasetResult(res.name, rejected=res.rejected, rejected_keys=res.rejected_keys)
    scored.samples = [replace(s, calibrated=float(c))
                      for s, c in zip(res.samples, cal.confidences(probs), strict=True)]
    return cal, scored
