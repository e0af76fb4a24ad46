"""Calibrated word confidence: a map from what the model says to how often it is right.

The raw word confidence (``textrec.ctc``: the mean of the kept frames' max probabilities) is not a
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

from textrec.calibration.fit import cross_validated_ece, fit, fit_best
from textrec.calibration.measure import (
    auto_accept_threshold,
    calibration_summary,
    expected_calibration_error,
    reliability,
)
from textrec.calibration.model import (
    FILE_NAME,
    FORMAT,
    METHODS,
    SIDECAR,
    WORD_METHODS,
    Calibration,
    CalibrationError,
    Method,
    calibration_beside,
    raw_confidences,
)

__all__ = ["FILE_NAME", "FORMAT", "METHODS", "SIDECAR", "WORD_METHODS", "Calibration", "CalibrationError", "Method",
           "auto_accept_threshold", "calibration_beside", "calibration_summary", "cross_validated_ece",
           "expected_calibration_error", "fit", "fit_best", "raw_confidences", "reliability"]
