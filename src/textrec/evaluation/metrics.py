"""Text-recognition metrics under the DTRB protocol.

Accuracy compares case-insensitively over alphanumerics only (both sides lower-cased, everything outside
[0-9a-z] removed), as Baek et al. (ICCV 2019) evaluate. The normalised edit distance of one sample is
``levenshtein(pred, gt) / max(len(pred), len(gt))`` (0 = identical, 1 = nothing in common), on the same
normalised strings; datasets report its mean (lower is better; PaddleOCR logs 1 minus this).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NON_ALNUM = re.compile(r"[^0-9a-z]")


def drop_within(drop: float, limit: float) -> bool:
    """``drop <= limit`` for differences of accuracies. Accuracies are ratios of counts, so 0.23 - 0.225 is
    0.005000000000000004 in floats; a drop of exactly the limit (one image in 200 for a 0.5-point limit) must
    pass."""
    return drop <= limit + 1e-9


def dtrb_normalize(text: str) -> str:
    return _NON_ALNUM.sub("", text.lower())


def levenshtein(a: str, b: str) -> int:
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        cur = [i]
        for j, cb in enumerate(b, start=1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def normalized_edit_distance(pred: str, gt: str) -> float:
    longest = max(len(pred), len(gt))
    return levenshtein(pred, gt) / longest if longest else 0.0


@dataclass(frozen=True)
class SampleResult:
    key: str
    label: str  # ground truth as stored
    prediction: str
    confidence: float
    correct: bool
    ned: float
    calibrated: float | None = None  # the confidence after the model's calibration (None: not calibrated)


def score_sample(key: str, label: str, prediction: str, confidence: float,
                 calibrated: float | None = None) -> SampleResult:
    gt, pred = dtrb_normalize(label), dtrb_normalize(prediction)
    return SampleResult(key, label, prediction, confidence, pred == gt, normalized_edit_distance(pred, gt),
                        calibrated)
