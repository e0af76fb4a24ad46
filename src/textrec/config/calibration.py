"""The ``calibration`` section: how the calibrate stage fits the word confidence, how reports measure it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from textrec.config._build import Range

# "auto" or one of textrec.calibration.METHODS (not imported: every stage reads the config, few calibrate;
# tests/config holds the two lists equal)
CalibrationMethod = Literal["auto", "temperature", "platt", "isotonic", "histogram"]


@dataclass(frozen=True)
class CalibrationConfig:
    """``method``: auto (the lowest cross-validated ECE of every method, ``textrec.calibration.fit_best``) or
    one of ``textrec.calibration.METHODS``. ``target_precision``: the auto-accept threshold is the lowest
    confidence above which words are right at least this often. ``bins``: equal-width bins of the ECE and the
    reliability diagram (and of histogram binning). ``folds``: cross-validation folds of the choice."""

    method: CalibrationMethod = "auto"
    target_precision: Annotated[float, Range(0, 1, lo_open=True)] = 0.99
    bins: Annotated[int, Range(2, 100)] = 15
    folds: Annotated[int, Range(2, 20)] = 5
