"""A fitted calibration (``Calibration``: method, parameters, JSON file) and where a model keeps it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np

from textrec.ctc import greedy_path, word_confidence

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
        extra = 1 if method == "histogram" else 0  # bin edges: one more than the bins' values
        if xs.ndim != 1 or ys.ndim != 1 or len(ys) < 1 or len(xs) != len(ys) + extra or np.any(np.diff(xs) < 0):
            count = "one more item than" if extra else "as many items as"
            raise ValueError(f"{method}: {need[0]} must be increasing with {count} {need[1]}")
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


def raw_confidences(probs: np.ndarray) -> np.ndarray:
    """The uncalibrated word confidence of each row of ``probs`` [N, T, C] -> [N]."""
    _, keep = greedy_path(probs)
    return word_confidence(np.asarray(probs).max(axis=2), keep)


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
