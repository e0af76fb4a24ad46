"""The evaluate stage's result: ``<reports>/eval/<backbone>/<bench>.json``, and the metrics derived from it."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textrec.artifacts._file import OMIT_NONE, Artifact
from textrec.artifacts.metrics import FORGETTING, bench_key, finite
from textrec.config.pipeline import PathsConfig


@dataclass(frozen=True)
class WorstExample:
    """One of the worst readings, for the report's gallery."""

    key: str  # the record's image key in the benchmark LMDB (textrec.data.lmdb_io.image_key)
    label: str
    prediction: str
    confidence: float
    calibrated_confidence: float | None
    correct: bool


@dataclass(frozen=True)
class CalibrationMeasure:
    """The confidence's calibration on a set of words (``textrec.calibration.calibration_summary``):
    ECE before and after (None: not calibrated), the reliability bins, the auto-accept threshold."""

    count: int
    accuracy: float
    bins: int
    ece_before: float
    ece_after: float | None
    target_precision: float
    threshold: float | None  # None: no cut reaches target_precision
    coverage: float
    reliability_before: list[dict[str, Any]]
    reliability_after: list[dict[str, Any]] | None


@dataclass(frozen=True)
class CalibrationBlock(CalibrationMeasure):
    """An eval result's calibration: the measure on the benchmark and the method the calibrate stage fitted."""

    method: str | None  # textrec.calibration.Calibration.describe(); None: the model had none


@dataclass(frozen=True)
class CalibrationReport(Artifact):
    """``calibrate@<backbone>``: the method chosen on the validation words, every method's cross-validated
    ECE, and the validation words' calibration with the fitted method."""

    STAGE = "calibrate"

    backbone: str
    method: str
    parameters: dict[str, Any]
    selection: dict[str, Any]  # by (auto | configured) and cv_ece per method
    validation: CalibrationMeasure

    @staticmethod
    def path(paths: PathsConfig, backbone: str) -> Path:
        return paths.calibration_report(backbone)


@dataclass(frozen=True)
class StartRecord:
    """The init checkpoint the model was trained from, measured on the same images when it can be."""

    source: str  # train.<backbone>.init: "bundled" | "paddleocr" | a path
    path: str | None  # None when it cannot be compared (``reason``)
    sha256: str | None
    reason: str | None = None
    accuracy: float | None = None
    count: int | None = None


@dataclass(frozen=True)
class EvalResult(Artifact):
    """The trained checkpoint on one benchmark (``evaluate@<backbone>-<bench>``)."""

    STAGE = "evaluate"

    name: str  # the benchmark
    backbone: str
    checkpoint_sha256: str  # the weights measured: a result is only ever quoted for this file (model card)
    count: int  # images scored
    accuracy: float
    norm_edit_distance: float
    mean_confidence: float
    empty_predictions: int  # images read as "": only blanks emitted
    rejected: dict[str, int]  # records not scored, by reason (training's, and "unscorable")
    rejected_keys: dict[str, list[str]]
    worst: list[WorstExample]
    calibration: CalibrationBlock
    start: StartRecord | None = field(default=None, metadata=OMIT_NONE)  # trained from scratch: no key

    @staticmethod
    def path(paths: PathsConfig, backbone: str, bench: str) -> Path:
        return paths.eval_report(backbone, bench)

    def metrics(self) -> dict[str, float]:
        """What the evaluate stage measured beyond accuracy (the exported model's accuracy is the quantize
        stage's ``acc_fp32/<bench>``: the same weights, not logged twice), and the calibration's ECE and
        coverage. The threshold is not a metric: it does not exist when no cut reaches the target, and one
        name must always mean one number."""
        b, c = self.name, self.calibration
        m = {bench_key("ned", b): self.norm_edit_distance, bench_key("confidence", b): self.mean_confidence,
             bench_key("count", b): float(self.count), bench_key("empty", b): float(self.empty_predictions),
             bench_key("ece_before", b): c.ece_before, bench_key("coverage_at_precision", b): c.coverage}
        if c.ece_after is not None:
            m[bench_key("ece_after", b)] = c.ece_after
        return {k: finite(v, f"eval result {b}: {k}") for k, v in m.items()}


def forgetting(results: Mapping[str, EvalResult], own: Collection[str]) -> dict[str, float]:
    """``{forgetting: start minus trained mean accuracy}`` over the benchmarks that are not ``own``; {} without
    own test sets, without another benchmark, or without the start checkpoint's accuracy on each."""
    synthetic = [r for b, r in results.items() if b not in own]
    starts = [r.start.accuracy if r.start else None for r in synthetic]
    if not own or not synthetic or None in starts:
        return {}
    before = sum(s for s in starts if s is not None) / len(starts)
    return {FORGETTING: before - sum(r.accuracy for r in synthetic) / len(synthetic)}
