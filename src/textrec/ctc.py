"""Greedy CTC decoding with PaddleOCR's confidence rule (CTCLabelDecode): training's validation, evaluation,
calibration and inference all decode here."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass

import numpy as np

from textrec.charset import Charset


@dataclass(frozen=True)
class Prediction:
    """One recognised word. Unpacks like PaddleOCR's ``(text, score)`` pair: ``text, conf = rec("x.png")``."""

    text: str
    confidence: float  # mean of the max probability over the kept time steps; 0.0 for an empty text

    def __iter__(self) -> Iterator[str | float]:
        return iter((self.text, self.confidence))

    def to_dict(self) -> dict[str, str | float]:
        """``{"text": ..., "confidence": ...}``, ready for ``json.dumps``."""
        return asdict(self)


def greedy_path(probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """probs [N, T, C] -> (argmax ids [N, T], kept [N, T] bool): step t is kept if its argmax differs from
    step t-1 (collapse repeats) and is not the blank."""
    idx = probs.argmax(axis=2)  # [N, T]
    keep = np.ones_like(idx, dtype=bool)
    keep[:, 1:] = idx[:, 1:] != idx[:, :-1]
    keep &= idx != 0
    return idx, keep


def word_confidence(frame_conf: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """The word confidence rule: per row, the mean of ``frame_conf`` [N, T] over the kept steps ``keep``
    [N, T] (a float32 mean for float32 input, as PaddleOCR computes it), 0.0 when nothing is kept -> [N]."""
    return np.array([np.mean(p[k]) if k.any() else 0.0 for p, k in zip(frame_conf, keep, strict=True)],
                    dtype=np.float64)


def ctc_greedy_decode(probs: np.ndarray, charset: Charset) -> list[Prediction]:
    """probs [N, T, C] (softmax output, class 0 = blank) -> one Prediction per row.

    Text: the kept steps' ids (``greedy_path``); confidence: the mean of their max probabilities
    (``word_confidence``), 0.0 for an empty text.
    """
    if probs.ndim != 3 or probs.shape[2] != charset.num_classes:
        raise ValueError(f"expected probabilities [N, T, {charset.num_classes}], got {list(probs.shape)}")
    idx, keep = greedy_path(probs)
    conf = word_confidence(probs.max(axis=2), keep)  # [N]
    return [Prediction(charset.decode_ids(row_idx[row_keep]), float(c))
            for row_idx, row_keep, c in zip(idx, keep, conf, strict=True)]
