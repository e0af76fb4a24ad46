"""Fitting a calibration on labelled words, and choosing the method by cross-validated ECE."""

from __future__ import annotations

from typing import Any

import numpy as np

from textrec.calibration.measure import expected_calibration_error
from textrec.calibration.model import (
    _EPS,
    METHODS,
    Calibration,
    Method,
    _logit,
    _sigmoid,
    raw_confidences,
)
from textrec.ctc import greedy_path


def _log_loss(conf: np.ndarray, correct: np.ndarray) -> float:
    c = np.clip(conf, _EPS, 1 - _EPS)
    return float(-np.mean(np.where(correct, np.log(c), np.log1p(-c))))


def _fit_temperature(probs: np.ndarray, correct: np.ndarray) -> dict[str, float]:
    """T minimising the word log-loss: a log-spaced grid, then a finer one around the best point. Only the
    kept frames matter, so they are gathered once: [K, C] log-ratios for K kept frames."""
    _, keep = greedy_path(probs)
    rows = np.nonzero(keep)[0]  # word of each kept frame [K]
    logp = np.log(np.maximum(probs[keep].astype(np.float64), 1e-30))  # [K, C]
    d = logp - logp.max(axis=1, keepdims=True)
    counts = np.bincount(rows, minlength=len(probs))
    has = counts > 0
    if not has.any():  # every text empty (an untrained model): confidence 0 whatever T is
        return {"temperature": 1.0}

    def loss(t: float) -> float:
        frame = 1.0 / np.exp(d / t).sum(axis=1)  # [K]
        conf = np.bincount(rows, weights=frame, minlength=len(probs))[has] / counts[has]
        return _log_loss(conf, correct[has])

    grid = np.exp(np.linspace(np.log(0.05), np.log(50.0), 61))
    best = grid[int(np.argmin([loss(t) for t in grid]))]
    fine = best * np.exp(np.linspace(-0.12, 0.12, 25))
    return {"temperature": float(fine[int(np.argmin([loss(t) for t in fine]))])}


def _fit_platt(raw: np.ndarray, correct: np.ndarray) -> dict[str, float]:
    """Logistic regression of correctness on logit(raw): Newton's method with step halving (a plain Newton
    step overshoots to a ~1e10 slope on real confidences piled up at 1.0), and a small L2 term that keeps the
    weights finite when the classes separate."""
    x = np.stack([_logit(raw), np.ones_like(raw)], axis=1)  # [N, 2]
    y = correct.astype(np.float64)
    l2 = 1e-4

    def loss(w: np.ndarray) -> float:
        z = x @ w
        return float(np.mean(np.logaddexp(0.0, z) - y * z) + l2 * (w @ w) / 2)

    w = np.array([1.0, 0.0])
    for _ in range(100):
        p = _sigmoid(x @ w)
        grad = x.T @ (p - y) / len(y) + l2 * w
        hess = (x * (p * (1 - p))[:, None]).T @ x / len(y) + l2 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        t = 1.0
        while loss(w - t * step) > loss(w) and t > 1e-8:
            t /= 2
        w = w - t * step
        if np.abs(t * step).max() < 1e-10:
            break
    return {"a": float(w[0]), "b": float(w[1])}


def _fit_isotonic(raw: np.ndarray, correct: np.ndarray) -> dict[str, list[float]]:
    """Pool adjacent violators on correctness sorted by raw confidence; knots at each block's first and last
    confidence, so ``np.interp`` is flat within a block and linear between blocks."""
    order = np.argsort(raw, kind="stable")
    xs, ys = raw[order], correct[order].astype(np.float64)
    blocks: list[list[float]] = []  # [sum of y, count, x_lo, x_hi]
    for x, y in zip(xs, ys, strict=True):
        blocks.append([y, 1.0, x, x])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] >= blocks[-1][0] / blocks[-1][1]:
            s, n, _, hi = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += n
            blocks[-1][3] = hi
    kx: list[float] = []
    ky: list[float] = []
    for s, n, lo, hi in blocks:
        kx += [float(lo), float(hi)]
        ky += [s / n, s / n]
    return {"x": kx, "y": ky}


def _fit_histogram(raw: np.ndarray, correct: np.ndarray, bins: int) -> dict[str, list[float]]:
    """Equal-mass bins (quantiles of raw; repeated quantiles merged), each mapped to its accuracy."""
    inner = np.unique(np.quantile(raw, np.linspace(0, 1, bins + 1)[1:-1]))
    edges = np.concatenate([[0.0], inner, [1.0]])
    idx = np.searchsorted(inner, raw, side="right")
    n = np.bincount(idx, minlength=len(edges) - 1)
    hits = np.bincount(idx, weights=correct.astype(np.float64), minlength=len(edges) - 1)
    # an empty bin (possible only at the ends) takes the mean of its neighbours' accuracy: the overall mean
    values = np.where(n > 0, hits / np.maximum(n, 1), correct.mean())
    return {"edges": edges.tolist(), "values": values.tolist()}


def fit(method: Method, probs: np.ndarray, correct: np.ndarray, bins: int = 15,
        fitted_on: dict[str, Any] | None = None) -> Calibration:
    """Fit one method on labelled predictions: ``probs`` [N, T, C] softmax, ``correct`` [N] bool."""
    probs, correct = np.asarray(probs), np.asarray(correct, dtype=bool)
    if len(probs) != len(correct) or len(probs) < 2:
        raise ValueError(f"need at least 2 predictions with one correctness flag each, got {len(probs)} "
                         f"and {len(correct)}")
    if method == "temperature":
        params: dict[str, Any] = _fit_temperature(probs, correct)
    else:
        raw = raw_confidences(probs)
        params = {"platt": lambda: _fit_platt(raw, correct), "isotonic": lambda: _fit_isotonic(raw, correct),
                  "histogram": lambda: _fit_histogram(raw, correct, bins)}[method]()
    return Calibration(method, params, fitted_on or {})


def _folds(n: int, k: int, seed: int) -> list[np.ndarray]:
    return np.array_split(np.random.default_rng(seed).permutation(n), k)


def cross_validated_ece(method: Method, probs: np.ndarray, correct: np.ndarray, bins: int = 15,
                        folds: int = 5, seed: int = 0) -> float:
    """ECE of out-of-fold calibrated confidences: each fold is calibrated by a fit on the others, so a
    method that memorises its data (isotonic, fine histograms) is not rewarded for it."""
    out = np.empty(len(probs))
    for held in _folds(len(probs), folds, seed):
        train = np.setdiff1d(np.arange(len(probs)), held)
        out[held] = fit(method, probs[train], correct[train], bins).confidences(probs[held])
    return expected_calibration_error(out, correct, bins)


def fit_best(probs: np.ndarray, correct: np.ndarray, methods: tuple[Method, ...] = METHODS, bins: int = 15,
             folds: int = 5, fitted_on: dict[str, Any] | None = None, method: Method | None = None
             ) -> Calibration:
    """Every method's cross-validated ECE; the lowest (or ``method``, when given) is refitted on all the data
    and returned, with the comparison in ``selection`` (``{"ece_uncalibrated", "cv_ece": {method: ece},
    "chosen", "by", "folds", "bins"}``)."""
    probs, correct = np.asarray(probs), np.asarray(correct, dtype=bool)
    if len(probs) < 2 * folds:
        raise ValueError(f"{len(probs)} labelled words are too few to fit a calibration: at least {2 * folds} "
                         f"are needed ({folds} cross-validation folds)")
    scores = {m: cross_validated_ece(m, probs, correct, bins, folds) for m in methods}
    chosen = method or min(scores, key=scores.__getitem__)
    cal = fit(chosen, probs, correct, bins, fitted_on)
    selection = {"chosen": chosen, "by": "configured" if method else "lowest cross-validated ECE",
                 "folds": folds, "bins": bins,
                 "ece_uncalibrated": expected_calibration_error(raw_confidences(probs), correct, bins),
                 "cv_ece": scores}
    return Calibration(cal.method, cal.parameters, cal.fitted_on, selection)
