"""Measuring calibration: ECE, the reliability diagram's bins, the auto-accept threshold and its coverage."""

from __future__ import annotations

from typing import Any

import numpy as np


def _bin_index(conf: np.ndarray, bins: int) -> np.ndarray:
    """Equal-width bins over [0, 1]; a confidence of exactly 1 goes in the last bin."""
    return np.minimum((np.clip(conf, 0, 1) * bins).astype(int), bins - 1)


def reliability(conf: np.ndarray, correct: np.ndarray, bins: int = 15) -> list[dict[str, float]]:
    """The reliability diagram's data: per non-empty equal-width bin ``{"lo", "hi", "count", "confidence",
    "accuracy"}`` (mean confidence and accuracy of the words in it)."""
    conf, correct = np.asarray(conf, dtype=np.float64), np.asarray(correct, dtype=bool)
    idx = _bin_index(conf, bins)
    rows = []
    for b in range(bins):
        sel = idx == b
        if sel.any():
            rows.append({"lo": b / bins, "hi": (b + 1) / bins, "count": int(sel.sum()),
                         "confidence": float(conf[sel].mean()), "accuracy": float(correct[sel].mean())})
    return rows


def expected_calibration_error(conf: np.ndarray, correct: np.ndarray, bins: int = 15) -> float:
    """ECE (Guo et al. 2017): sum over equal-width bins of (share of words in the bin) x |accuracy - mean
    confidence|; 0 for a perfectly calibrated model, 0.0 for no words."""
    n = len(conf)
    return float(sum(r["count"] / n * abs(r["accuracy"] - r["confidence"])
                     for r in reliability(conf, correct, bins))) if n else 0.0


def auto_accept_threshold(conf: np.ndarray, correct: np.ndarray, target_precision: float = 0.99
                          ) -> tuple[float | None, float]:
    """(threshold, coverage): the lowest confidence t such that the words with confidence >= t are right at
    least ``target_precision`` of the time, and the share of words at or above it. Words with equal
    confidence are accepted or refused together. (None, 0.0) when no threshold reaches the target."""
    conf, correct = np.asarray(conf, dtype=np.float64), np.asarray(correct, dtype=bool)
    if not len(conf):
        return None, 0.0
    order = np.argsort(-conf, kind="stable")
    c, y = conf[order], correct[order]
    precision = np.cumsum(y) / np.arange(1, len(y) + 1)  # of the top k words, k = 1..N
    last_of_tie = np.append(c[1:] != c[:-1], True)  # a cut may fall only after the last of equal values
    ok = np.nonzero((precision >= target_precision) & last_of_tie)[0]
    if not len(ok):
        return None, 0.0
    k = int(ok[-1])
    return float(c[k]), (k + 1) / len(c)


def calibration_summary(raw: np.ndarray, calibrated: np.ndarray | None, correct: np.ndarray,
                        bins: int = 15, target_precision: float = 0.99) -> dict[str, Any]:
    """What a report shows for one set of words: ECE before (raw) and after (calibrated; None without a
    calibration), and the auto-accept threshold at ``target_precision`` with its coverage, on the calibrated
    confidence when there is one."""
    shown = raw if calibrated is None else calibrated
    threshold, coverage = auto_accept_threshold(shown, correct, target_precision)
    return {"count": len(raw), "accuracy": float(np.mean(correct)) if len(raw) else 0.0,
            "bins": bins, "ece_before": expected_calibration_error(raw, correct, bins),
            "ece_after": None if calibrated is None else expected_calibration_error(calibrated, correct, bins),
            "target_precision": target_precision, "threshold": threshold, "coverage": coverage,
            "reliability_before": reliability(raw, correct, bins),
            "reliability_after": None if calibrated is None else reliability(calibrated, correct, bins)}
