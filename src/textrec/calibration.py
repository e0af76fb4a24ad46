"""Calibrated word confidence: a map from what the model says to how often it is right.

The raw word confidence (``textrec.evaluation.ctc``: the mean of the kept frames' max probabilities) is not a
probability: the bundled model says 0.83 on average where it reads half the words right. A ``Calibration``
fitted on labelled predictions (the validation set) turns it into one: of the words given 0.9, about 9 in 10
are right.

    from textrec.calibration import Calibration, fit_best, expected_calibration_error, auto_accept_threshold
    cal, record = fit_best(probs, correct)      # probs [N, T, C] softmax, correct [N] bool (DTRB match)
    conf = cal.confidences(probs)               # [N] calibrated word confidences (every method)
    conf = cal.apply(raw_conf)                  # [N] from raw word confidences (word-level methods only)
    expected_calibration_error(conf, correct)   # 0 = confidence equals accuracy in every bin
    auto_accept_threshold(conf, correct, 0.99)  # (threshold, coverage): accept conf >= threshold
    cal.save(path); Calibration.load(path)      # JSON; a corrupt file is CalibrationError, one line

Methods (``METHODS``):
- ``temperature``: the frame probabilities are sharpened or softened, softmax(log p / T) (log p are the
  logits up to a per-frame constant, which softmax ignores), then the word rule is applied again; T is
  fitted by the binary log-loss of the word confidence against correctness. The text never changes.
- ``platt``: sigmoid(a * logit(raw) + b) on the raw word confidence (logistic regression).
- ``isotonic``: the monotone step function closest to correctness (pool adjacent violators), interpolated
  between blocks.
- ``histogram``: equal-mass bins of the raw confidence, each mapped to its accuracy.
``fit_best`` fits every method, measures each by cross-validated ECE (out-of-fold predictions) and refits the
best on all the data. numpy only: inference imports this module.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np

from textrec.evaluation.ctc import greedy_path, word_confidence

Method = Literal["temperature", "platt", "isotonic", "histogram"]
METHODS: tuple[Method, ...] = get_args(Method)
WORD_METHODS: tuple[Method, ...] = ("platt", "isotonic", "histogram")  # maps of the raw word confidence
FORMAT = "textrec.calibration/1"
FILE_NAME = "calibration.json"  # beside an exported model (exported/<backbone>/), read by Recognizer
_EPS = 1e-7  # keeps logs and logits finite at confidences of exactly 0 or 1


class CalibrationError(ValueError):
    """A calibration file that cannot be used (not JSON, wrong format, bad parameters): one line."""


@dataclass(frozen=True)
class Calibration:
    """A fitted calibration. ``parameters`` by method: temperature ``{"temperature": T}``; platt
    ``{"a", "b"}``; isotonic ``{"x": [...], "y": [...]}`` (knots, x increasing); histogram
    ``{"edges": [...], "values": [...]}`` (len(edges) == len(values) + 1). ``fitted_on``: provenance
    (data, count, accuracy, ...); ``selection``: the cross-validated ECE of every method tried."""

    method: Method
    parameters: dict[str, Any]
    fitted_on: dict[str, Any] = field(default_factory=dict)
    selection: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check(self.method, self.parameters)

    def confidences(self, probs: np.ndarray) -> np.ndarray:
        """Softmax probabilities [N, T, C] (class 0 = blank) -> calibrated word confidences [N] (0.0 where
        the greedy path keeps no frame, i.e. the text is empty)."""
        probs = np.asarray(probs)
        if probs.ndim != 3:
            raise ValueError(f"expected probabilities [N, T, C], got shape {list(probs.shape)}")
        _, keep = greedy_path(probs)
        if self.method == "temperature":
            frame = _tempered_max(probs, float(self.parameters["temperature"]))  # [N, T]
            return word_confidence(frame, keep)
        raw = word_confidence(probs.max(axis=2), keep)
        return np.where(keep.any(axis=1), self.apply(raw), 0.0)

    def apply(self, confidence: np.ndarray | float) -> np.ndarray:
        """Raw word confidences [N] -> calibrated [N]. Temperature needs the frames: use ``confidences``."""
        c = np.clip(np.asarray(confidence, dtype=np.float64), 0.0, 1.0)
        p = self.parameters
        if self.method == "temperature":
            raise ValueError("temperature calibration works on the frame probabilities: use confidences(probs)")
        if self.method == "platt":
            return _sigmoid(p["a"] * _logit(c) + p["b"])
        if self.method == "isotonic":
            return np.interp(c, p["x"], p["y"])
        edges = np.asarray(p["edges"])[1:-1]  # inner edges: bin i holds edges[i] <= c < edges[i+1]
        return np.asarray(p["values"])[np.searchsorted(edges, c, side="right")]

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, "method": self.method, "parameters": self.parameters,
                           "fitted_on": self.fitted_on, "selection": self.selection}, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str = "calibration") -> Calibration:
        try:
            d = json.loads(text)
        except ValueError as e:
            raise CalibrationError(f"{source}: not a calibration file (invalid JSON: {e})") from None
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise CalibrationError(f"{source}: not a calibration file (expected format {FORMAT!r})")
        try:
            return cls(d["method"], d["parameters"], d.get("fitted_on", {}), d.get("selection", {}))
        except (KeyError, TypeError, ValueError) as e:
            raise CalibrationError(f"{source}: corrupt calibration ({e}); fit it again with "
                                   "`textrec calibrate`") from None

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json(), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> Calibration:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise CalibrationError(f"{path}: cannot read the calibration file ({e})") from None
        return cls.from_json(text, str(path))

    def describe(self) -> str:
        p = self.parameters
        detail = {"temperature": lambda: f"T={p['temperature']:.3f}",
                  "platt": lambda: f"a={p['a']:.3f}, b={p['b']:.3f}",
                  "isotonic": lambda: f"{len(p['x'])} knots",
                  "histogram": lambda: f"{len(p['values'])} bins"}[self.method]()
        return f"{self.method} ({detail})"


def _check(method: str, p: Any) -> None:
    """Raise ValueError unless ``p`` are finite parameters of ``method`` (the file is read by strangers)."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {list(METHODS)}")
    need = {"temperature": ("temperature",), "platt": ("a", "b"), "isotonic": ("x", "y"),
            "histogram": ("edges", "values")}[method]
    if not isinstance(p, dict) or sorted(p) != sorted(need):
        raise ValueError(f"{method} parameters must be exactly {list(need)}")
    arrays = {k: np.asarray(p[k], dtype=np.float64) for k in need}
    if not all(np.isfinite(a).all() for a in arrays.values()):
        raise ValueError(f"{method} parameters must be finite numbers")
    if method == "temperature" and not arrays["temperature"].ndim == 0 < arrays["temperature"]:
        raise ValueError("temperature must be one number > 0")
    if method == "platt" and not (arrays["a"].ndim == arrays["b"].ndim == 0):
        raise ValueError("platt a and b must be numbers")
    if method in ("isotonic", "histogram"):
        xs, ys = arrays[need[0]], arrays[need[1]]
        extra = 1 if method == "histogram" else 0
        if xs.ndim != 1 or ys.ndim != 1 or len(ys) < 1 or len(xs) != len(ys) + extra or np.any(np.diff(xs) < 0):
            raise ValueError(f"{method}: {need[0]} must be increasing with {'one more item than' if extra else 'as many items as'} {need[1]}")
        if ys.min() < 0 or ys.max() > 1:
            raise ValueError(f"{method}: {need[1]} must lie in [0, 1]")


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # = 1 / (1 + exp(-z)), without overflow


def _logit(c: np.ndarray) -> np.ndarray:
    c = np.clip(c, _EPS, 1 - _EPS)
    return np.log(c) - np.log1p(-c)


def _tempered_max(probs: np.ndarray, temperature: float) -> np.ndarray:
    """max_c softmax(log p / T) for every frame: [N, T, C] -> [N, T]. With d = log p - log p_max <= 0 the
    max is 1 / sum_c exp(d / T), computed without overflow."""
    logp = np.log(np.maximum(probs.astype(np.float64), 1e-30))
    d = logp - logp.max(axis=2, keepdims=True)
    return 1.0 / np.exp(d / temperature).sum(axis=2)


def _log_loss(conf: np.ndarray, correct: np.ndarray) -> float:
    c = np.clip(conf, _EPS, 1 - _EPS)
    return float(-np.mean(np.where(correct, np.log(c), np.log1p(-c))))


# --- fitting -------------------------------------------------------------------------------------------

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


def raw_confidences(probs: np.ndarray) -> np.ndarray:
    """The uncalibrated word confidence of each row of ``probs`` [N, T, C] -> [N]."""
    _, keep = greedy_path(probs)
    return word_confidence(np.asarray(probs).max(axis=2), keep)


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


# --- measuring -----------------------------------------------------------------------------------------

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


# --- where a model keeps its calibration -----------------------------------------------------------------

SIDECAR = ".calibration.json"  # <stem>.calibration.json beside a model file (x.onnx, x.pdparams)


def calibration_beside(model: str | Path) -> Path | None:
    """The calibration file of a model, if it has one: ``calibration.json`` inside a model directory; for a
    model file ``x.onnx`` / ``x.pdparams``, ``x.calibration.json`` beside it, else the folder's shared
    ``calibration.json`` (an exported model directory: fp32 and INT8 ONNX and the Paddle model share one)."""
    p = Path(model)
    if p.is_dir():
        candidates = [p / FILE_NAME]
    else:
        candidates = [p.with_name(p.name.removesuffix(p.suffix) + SIDECAR), p.with_name(FILE_NAME)]
    return next((c for c in candidates if c.is_file()), None)
