"""The export and quantize stages' results: ``<reports>/export/<backbone>.json`` (parity of the exported
models) and ``<reports>/quantize/<backbone>.json`` (the INT8 model's gates), and the metrics derived from the
latter."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textrec.artifacts._file import Artifact
from textrec.artifacts.metrics import (
    INT8_DROP_MAX,
    PRECISIONS,
    acc_key,
    avg_acc_key,
    finite,
    int8_drop_key,
    latency_key,
)
from textrec.config.pipeline import PathsConfig


@dataclass(frozen=True)
class ExportParity(Artifact):
    """``export@<backbone>``: the exported models' outputs against the eager checkpoint's on real images."""

    STAGE = "export"

    backbone: str
    atol: float  # export.parity_atol
    passed: bool
    max_abs_diff: float  # over every exported model
    onnx_max_abs_diff: float
    images: dict[str, Any]  # the image sample: count, rejected counts and keys (export/images.py)
    files: dict[str, int]  # exported file -> bytes
    parity: list[dict[str, Any]]  # one report per exported model (export/parity.py: ParityReport.as_dict)

    @staticmethod
    def path(paths: PathsConfig, backbone: str) -> Path:
        return paths.export_report(backbone)


@dataclass(frozen=True)
class BenchAccuracy:
    """One benchmark read by the fp32 and the INT8 ONNX model (export/int8_check.py: BenchComparison)."""

    name: str
    count: int
    fp32_accuracy: float
    int8_accuracy: float
    accuracy_drop: float
    same_prediction: float
    rejected: dict[str, int]


@dataclass(frozen=True)
class Timing:
    """ms/image of one engine at one batch size (export/speed.py: Timing)."""

    engine: str  # "onnx_fp32" | "onnx_int8"
    batch_size: int
    ms_per_image: float  # the median round
    min_ms_per_image: float
    max_ms_per_image: float
    rounds: int
    cpu_ms_per_image: float


@dataclass(frozen=True)
class QuantizeSummary(Artifact):
    """``quantize@<backbone>``: the shipped INT8 plan's numbers at the top level, every plan tried below."""

    STAGE = "quantize"

    backbone: str
    passed: bool
    plan: str
    failed_gates: list[str]
    max_accuracy_drop: float  # the largest per-benchmark fp32 - INT8 drop
    fp32_bytes: int
    int8_bytes: int
    calibration: dict[str, Any]  # the calibration images: count and rejected counts
    timing_images: int
    config: dict[str, Any]  # params quantize
    benchmarks: list[BenchAccuracy]
    speed: list[Timing]
    op_counts: dict[str, Any]
    attempts: list[dict[str, Any]]  # every plan tried (export/int8_check.py: PlanAttempt.as_dict)

    @staticmethod
    def path(paths: PathsConfig, backbone: str) -> Path:
        return paths.quantize_report(backbone)

    def accuracy(self, bench: str) -> BenchAccuracy | None:
        return next((b for b in self.benchmarks if b.name == bench), None)

    def ms_per_image(self, precision: str, batch_size: int = 1) -> float | None:
        return next((t.ms_per_image for t in self.speed
                     if t.engine == f"onnx_{precision}" and t.batch_size == batch_size), None)

    def metrics(self, benchmarks: tuple[str, ...], own: tuple[str, ...] = ()) -> dict[str, float]:
        """``acc_<precision>/<bench>``, ``int8_drop/<bench>``, the means (also over the ``own`` test sets, if
        any), the largest drop and the latencies at every timed batch size (batch 1 required)."""
        m: dict[str, float] = {}
        for b in benchmarks:
            r = self.accuracy(b)
            if r is None:
                raise ValueError(f"quantize result of {self.backbone}: benchmark {b!r} missing "
                                 f"(has {sorted(x.name for x in self.benchmarks)})")
            m[acc_key("fp32", b)], m[acc_key("int8", b)] = r.fp32_accuracy, r.int8_accuracy
            m[int8_drop_key(b)] = r.fp32_accuracy - r.int8_accuracy
        for p in PRECISIONS:
            m[avg_acc_key(p)] = sum(m[acc_key(p, b)] for b in benchmarks) / len(benchmarks)
            if own:
                m[avg_acc_key(p, own=True)] = sum(m[acc_key(p, b)] for b in own) / len(own)
        m[INT8_DROP_MAX] = max(m[int8_drop_key(b)] for b in benchmarks)
        for t in self.speed:
            p = t.engine.removeprefix("onnx_")
            if p in PRECISIONS:
                m[latency_key(p, t.batch_size)] = t.ms_per_image
        for p in PRECISIONS:
            if latency_key(p) not in m:
                raise ValueError(f"quantize result of {self.backbone}: no batch-1 timing for engine 'onnx_{p}'")
        return {k: finite(v, f"quantize result of {self.backbone}: {k}") for k, v in m.items()}
