"""Complete stage outputs with made-up numbers, for tests of their readers: each builder gives a valid
dataclass (change what a test is about with ``dataclasses.replace``), so a fixture file is never a partial
dict that a reader would refuse."""

from __future__ import annotations

from textrec.artifacts import (
    BenchAccuracy,
    CalibrationBlock,
    CalibrationMeasure,
    CalibrationReport,
    EvalResult,
    QuantizeSummary,
    StartRecord,
    Timing,
    TrainSummary,
    WorstExample,
)

CAL = CalibrationBlock(method="temperature 1.3", count=3, accuracy=2 / 3, bins=15, ece_before=0.2, ece_after=0.05,
                       target_precision=0.99, threshold=None, coverage=0.0,
                       reliability_before=[{"confidence": 0.9, "accuracy": 0.5, "count": 3}],
                       reliability_after=None)


def eval_result(bench: str = "IC15", accuracy: float = 0.5, start: float | None = None, count: int = 3,
                backbone: str = "mobilenet_v3") -> EvalResult:
    """``start``: the init checkpoint's accuracy (None: trained from scratch)."""
    return EvalResult(
        name=bench, backbone=backbone, checkpoint_sha256="c" * 64, count=count, accuracy=accuracy, norm_edit_distance=0.1, mean_confidence=0.8,
        empty_predictions=1, rejected={"label_too_long": 1}, rejected_keys={"label_too_long": ["image-000000004"]},
        worst=[WorstExample("image-000000002", "abc", "abd", 0.9, None, False)], calibration=CAL,
        start=None if start is None else StartRecord("bundled", "init.pdparams", "ab" * 32, accuracy=start, count=3))


def train_summary(steps: int = 40, planned: int = 40, batch: int = 32, init: str = "paddleocr") -> TrainSummary:
    """A run that went to the end of its recipe (``recipe_complete``, ``stop_reason``: change them)."""
    return TrainSummary(steps=steps, epoch=1, stop_reason="max_steps", planned_steps=planned, recipe_complete=True,
                        best_accuracy=0.25, best_step=steps, last_val_accuracy=0.25, last_loss=3.5,
                        skipped_batches=0, seconds=12.5, images_per_second=80.0, world_size=1, rank=0,
                        resumed_from_step=None, train_rejected=0, val_rejected=None, images_seen=steps * batch,
                        machine={"cpu": "Some CPU"}, cpu="Some CPU",
                        init={} if init == "scratch" else {"source": init, "sha256": "a" * 64,
                                                           "archive_sha256": "b" * 64})


def quantize_result(accuracy: tuple[tuple[str, float, float], ...] = (("a", 0.8, 0.7), ("b", 0.6, 0.6))
                    ) -> QuantizeSummary:
    """``accuracy``: (benchmark, fp32, int8) rows; timed at batch 1 and 64."""
    rows = [BenchAccuracy(b, 10, f, i, f - i, 0.9, {}) for b, f, i in accuracy]
    speed = [Timing(f"onnx_{p}", n, ms, ms, ms, 7, ms) for p, n, ms in
             (("fp32", 1, 3.0), ("int8", 1, 2.0), ("fp32", 64, 1.0), ("int8", 64, 0.5))]
    return QuantizeSummary(backbone="mobilenet_v3", passed=True, plan="dynamic_lstm", failed_gates=[],
                           max_accuracy_drop=max(r.accuracy_drop for r in rows), fp32_bytes=100, int8_bytes=40,
                           calibration={"images": 2}, timing_images=8, config={"timing_threads": 1},
                           benchmarks=rows, speed=speed, op_counts={}, attempts=[])


def calibration_report() -> CalibrationReport:
    measure = {k: v for k, v in vars(CAL).items() if k != "method"}
    return CalibrationReport("mobilenet_v3", "temperature", {"temperature": 1.3},
                             {"by": "auto", "cv_ece": {"temperature": 0.05}}, CalibrationMeasure(**measure))
