"""Does an INT8 model keep the fp32 model's accuracy, and is it faster? Measurements, gates, plan choice.

Both models are evaluated on every benchmark LMDB with the evaluation code used everywhere else
(``evaluate_lmdb``: same preprocessing, decoding and DTRB scoring); speed is ms/image at each of
``quantize.timing_batch_sizes`` (1 and 64), median of interleaved rounds (``time_engines``).
``quantize_with_gates`` tries the configured plans in order and ships the first INT8 model that passes every
gate.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from textrec.artifacts import BenchAccuracy
from textrec.charset import Charset
from textrec.config._build import to_dict
from textrec.config.pipeline import QuantizeConfig, QuantPlan
from textrec.evaluation.evaluate import DatasetResult, evaluate_lmdb
from textrec.evaluation.metrics import drop_within
from textrec.export.quantize import QuantizeResult, quantize_model
from textrec.export.speed import Timing, time_engines
from textrec.inference.engines import Engine
from textrec.preprocess import IMAGE_SHAPE


@dataclass(frozen=True)
class BenchComparison:
    name: str
    count: int
    fp32_accuracy: float
    int8_accuracy: float
    same_prediction: float  # fraction of images where both models read the same text
    rejected: dict[str, int]  # records not scored, by reason (textrec.evaluation.evaluate)

    @property
    def drop(self) -> float:
        return self.fp32_accuracy - self.int8_accuracy

    def artifact(self) -> BenchAccuracy:
        """The row of the quantize stage's file."""
        return BenchAccuracy(self.name, self.count, self.fp32_accuracy, self.int8_accuracy, self.drop,
                             self.same_prediction, self.rejected)


@dataclass(frozen=True)
class PlanAttempt:
    plan: QuantPlan
    quantized: QuantizeResult
    benches: list[BenchComparison]
    timings: list[Timing]
    failures: list[str]  # failed gates; empty = passed

    def as_dict(self) -> dict:
        return {"plan": to_dict(self.plan), "passed": not self.failures, "failed_gates": self.failures,
                "int8_bytes": self.quantized.int8_bytes, "op_counts": self.quantized.op_counts,
                "max_accuracy_drop": max((b.drop for b in self.benches), default=0.0),
                "benchmarks": [asdict(b.artifact()) for b in self.benches],
                "speed": [t.as_dict() for t in self.timings]}


def evaluate_benches(engine: Engine, benches: dict[str, Path], charset: Charset, batch_size: int = 64,
                     image_shape: tuple[int, int, int] = IMAGE_SHAPE, progress: bool = False,
                     label: str = "") -> dict[str, DatasetResult]:
    """Each benchmark evaluated; ``progress``: a bar per benchmark, labelled ``<label> <bench>``."""
    return {name: evaluate_lmdb(engine, path, charset, name, batch_size, image_shape, progress,
                                f"{label} {name}".strip())
            for name, path in benches.items()}


def compare_results(fp32: dict[str, DatasetResult], int8: dict[str, DatasetResult]) -> list[BenchComparison]:
    out = []
    for name, a in fp32.items():
        b = int8[name]
        same = sum(x.prediction == y.prediction for x, y in zip(a.samples, b.samples, strict=True))
        out.append(BenchComparison(name, a.count, a.accuracy, b.accuracy, same / a.count if a.count else 1.0,
                                   dict(a.rejected)))
    return out


def gate_failures(benches: list[BenchComparison], timings: list[Timing], cfg: QuantizeConfig,
                  fp32_name: str = "onnx_fp32", int8_name: str = "onnx_int8") -> list[str]:
    """One message per failed gate; empty when INT8 may ship."""
    failures = []
    for b in benches:
        if b.count == 0:
            failures.append(f"accuracy[{b.name}]: no scorable image in the benchmark")
        elif not drop_within(b.drop, cfg.max_accuracy_drop):
            failures.append(f"accuracy[{b.name}]: INT8 {b.int8_accuracy:.4f} vs fp32 {b.fp32_accuracy:.4f}, "
                            f"drop {b.drop:.4f} > max_accuracy_drop {cfg.max_accuracy_drop:.4f}")
    if cfg.require_faster:
        ms = {(t.engine, t.batch_size): t.ms_per_image for t in timings}
        for bs in sorted({t.batch_size for t in timings}):
            f, q = ms.get((fp32_name, bs)), ms.get((int8_name, bs))
            if f is None or q is None:
                failures.append(f"speed[batch {bs}]: missing timing for {fp32_name} or {int8_name}")
            elif q >= f:
                failures.append(f"speed[batch {bs}]: INT8 {q:.3f} ms/image is not faster than fp32 {f:.3f}")
    return failures


def quantize_with_gates(fp32_path: Path, out: Path, calibration: np.ndarray, benches: dict[str, Path],
                        timing_images: np.ndarray, charset: Charset, cfg: QuantizeConfig, batch_size: int = 64,
                        image_shape: tuple[int, int, int] = IMAGE_SHAPE, progress: bool = False
                        ) -> tuple[PlanAttempt | None, list[PlanAttempt]]:
    """Try ``cfg.plans`` in order; the first passing model is moved to ``out`` and returned with all attempts.

    When none passes, ``out`` holds the attempt with the fewest failed gates (for inspection) and the chosen
    attempt is None. ``progress``: a bar for each benchmark evaluation and each timing, labelled with the plan.
    """
    from textrec.inference.engines import OnnxEngine

    if not cfg.plans:
        raise ValueError("quantize.plans is empty")
    # accuracy on all cores; timing on cfg.timing_threads
    fp32_results = evaluate_benches(OnnxEngine(fp32_path), benches, charset, batch_size, image_shape, progress,
                                    "fp32")
    fp32 = OnnxEngine(fp32_path, cfg.timing_threads)
    attempts: list[tuple[PlanAttempt, Path]] = []
    for i, plan in enumerate(cfg.plans):
        candidate = out.with_name(f".{out.stem}.plan{i}{out.suffix}")
        q = quantize_model(fp32_path, candidate, calibration, plan, cfg.calibration_batch_size)
        benchmarks = compare_results(fp32_results,
                                     evaluate_benches(OnnxEngine(candidate), benches, charset, batch_size,
                                                      image_shape, progress, f"int8 {plan.name}"))
        int8 = OnnxEngine(candidate, cfg.timing_threads)
        sizes = cfg.timing_batch_sizes
        timings = time_engines({"onnx_fp32": fp32, "onnx_int8": int8}, timing_images, sizes, cfg.timing_rounds,
                               images_per_round=max(sizes), progress=progress, desc=f"timing {plan.name}")
        attempt = PlanAttempt(plan, q, benchmarks, timings, gate_failures(benchmarks, timings, cfg))
        attempts.append((attempt, candidate))
        if not attempt.failures:
            break
    best, path = min(attempts, key=lambda a: len(a[0].failures))  # first of the least failing
    os.replace(path, out)
    for _, leftover in attempts:
        leftover.unlink(missing_ok=True)
    return (best if not best.failures else None), [a for a, _ in attempts]
