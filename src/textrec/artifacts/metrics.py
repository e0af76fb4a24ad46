"""The names of the metrics a tracked run carries: each built by one function here, which the stage outputs'
``metrics()`` use to name what they hold and ``METRICS`` (the README's table, a test keeps the two equal)
uses to document them, with ``<bench>``/``<precision>``/``<N>``/``<column>`` in place of the values."""

from __future__ import annotations

import math

PRECISIONS = ("fp32", "int8")  # fp32 = the exported ONNX model, int8 = the quantized one
FORGETTING = "forgetting"
INT8_DROP_MAX = "int8_drop_max"
VALIDATION_SUCCESS = "validation_success"


def acc_key(precision: str, bench: str) -> str:
    return f"acc_{precision}/{bench}"


def int8_drop_key(bench: str) -> str:
    return f"int8_drop/{bench}"


def avg_acc_key(precision: str, own: bool = False) -> str:
    """The mean accuracy's metric: over every benchmark, or (``own``) over your own test sets only."""
    return f"avg_acc_own_{precision}" if own else f"avg_acc_{precision}"


def latency_key(precision: str, batch_size: int | str = 1) -> str:
    """ms/image at ``batch_size``; batch 1 is what the latency gate and the registry's tie-break read."""
    return f"latency_ms_{precision}_b{batch_size}"


def bench_key(measure: str, bench: str) -> str:
    """The evaluate stage's per-benchmark numbers: ``ned``, ``confidence``, ``count``, ``empty``,
    ``ece_before``, ``ece_after``, ``coverage_at_precision``."""
    return f"{measure}/{bench}"


def train_key(column: str) -> str:
    """A column of the training log, logged per step."""
    return f"train/{column}"


def finite(value: float, where: str) -> float:
    if not math.isfinite(value):
        raise ValueError(f"{where}: expected a finite number, got {value!r}")
    return value


_B, _P = "<bench>", "<precision>"
# Every metric a backbone's run carries, and nothing else (README "Tracking" holds the same table).
METRICS = {
    acc_key("fp32", _B): "accuracy of the fp32 ONNX model, the one shipped (quantize stage; the evaluate stage "
                         "scores the same weights with the same code)",
    acc_key("int8", _B): "accuracy of the INT8 ONNX model (quantize stage)",
    int8_drop_key(_B): "acc_fp32 - acc_int8",
    avg_acc_key("fp32"): "plain mean of acc_fp32 over eval.benchmarks (without own test sets, the registry ranks "
                         "runs by avg_acc_<served>)",
    avg_acc_key("int8"): "plain mean of acc_int8",
    avg_acc_key(_P, own=True): "plain mean of acc_<precision> over your own test sets (data.source folder only); "
                               "the registry ranks by it and the accuracy gate compares it",
    FORGETTING: "with own test sets: the synthetic suite's mean accuracy of the start checkpoint minus the "
                "trained one's (evaluate stage; positive = forgotten; promotion gate max_forgetting)",
    INT8_DROP_MAX: "largest int8_drop (promotion gate int8_drop)",
    bench_key("ned", _B): "mean normalised edit distance (evaluate stage, trained checkpoint)",
    bench_key("confidence", _B): "mean confidence (evaluate stage)",
    bench_key("count", _B): "images scored (evaluate stage)",
    bench_key("empty", _B): "images read as the empty string: the model emitted only blanks (evaluate stage)",
    bench_key("ece_before", _B): "expected calibration error of the raw confidence (evaluate stage; 15 bins by "
                                 "default)",
    bench_key("ece_after", _B): "expected calibration error of the calibrated confidence (the calibrate stage's fit)",
    bench_key("coverage_at_precision", _B): "share of words at or above the auto-accept threshold: the lowest "
                                            "calibrated confidence above which they are right at "
                                            "calibration.target_precision (0 when none reaches it; the threshold "
                                            "is in the eval JSON and the report)",
    latency_key(_P, "<N>"): "ms/image at batch N, N in quantize.timing_batch_sizes (1 and 64; _b1 is the "
                            "promotion gate latency)",
    VALIDATION_SUCCESS: "1 if the data validation passed, else 0",
    train_key("<column>"): "per step, from the training log: loss, lr, images_per_second, val_accuracy, epoch "
                           "(logged live by the train stage)",
}
