"""Greedy CTC decoding with PaddleOCR's confidence rule (CTCLabelDecode)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from textrec.charset import Charset


@dataclass(frozen=True)
class Prediction:
    text: str
    confidence: float  # mean of the max probability over the kept time steps; 0.0 for an empty text


def ctc_greedy_decode(probs: np.ndarray, charset: Charset) -> list[Prediction]:
    """probs [N, T, C] (softmax output, class 0 = blank) -> one Prediction per row.

    Keep step t if its argmax differs from step t-1 (collapse repeats) and is not the blank; the score is
    the float32 mean of the kept steps' max probabilities, 0.0 when nothing is kept.
    """
    if probs.ndim != 3 or probs.shape[2] != charset.num_classes:
        raise ValueError(f"expected probabilities [N, T, {charset.num_classes}], got {list(probs.shape)}")
    idx = probs.argmax(axis=2)  # [N, T]
    pmax = probs.max(axis=2)  # [N, T]
    keep = np.ones_like(idx, dtype=bool)
    keep[:, 1:] = idx[:, 1:] != idx[:, :-1]
    keep &= idx != 0
    out = []
    for row_idx, row_p, row_keep in zip(idx, pmax, keep, strict=True):
        kept = row_idx[row_keep]
        text = charset.decode_ids(kept)
        conf = float(np.mean(row_p[row_keep])) if kept.size else 0.0
        out.append(Prediction(text, conf))
    return out
