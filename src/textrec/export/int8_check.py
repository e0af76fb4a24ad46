"""Does the INT8 model keep the fp32 model's accuracy, and is it faster? Measurements and gates.

Both models are evaluated on every benchmark LMDB with the evaluation code used everywhere else
(``evaluate_lmdb``: same preprocessing, decoding and DTRB scoring); speed is ms/image at batch 1 and 64,
median of interleaved rounds (``time_engines``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textrec.charset import Charset
from textrec.config.pipeline import QuantizeConfig
from textrec.export.speed import ProbFn, Timing


@dataclass(frozen=True)
class BenchComparison:
    name: str
    count: int
    fp32_accuracy: float
    int8_accuracy: float
    same_prediction: float  # fraction of images where both models read the same text
    skipped: dict[str, int]

    @property
    def drop(self) -> float:
        return self.fp32_accuracy - self.int8_accuracy

    def as_dict(self) -> dict:
        return {"name": self.name, "count": self.count, "fp32_accuracy": self.fp32_accuracy,
                "int8_accuracy": self.int8_accuracy, "accuracy_drop": self.drop,
                "same_prediction": self.same_prediction, "skipped": self.skipped}


def compare_accuracy(fp32: ProbFn, int8: ProbFn, benches: dict[str, Path], charset: Charset,
                     batch_size: int = 64) -> list[BenchComparison]:
    from textrec.evaluation.evaluate import evaluate_lmdb

    out = []
    for name, path in benches.items():
        a = evaluate_lmdb(fp32, path, charset, name, batch_size)
        b = evaluate_lmdb(int8, path, charset, name, batch_size)
        same = sum(x.prediction == y.prediction for x, y in zip(a.samples, b.samples, strict=True))
        out.append(BenchComparison(name, a.count, a.accuracy, b.accuracy, same / a.count if a.count else 1.0,
                                   dict(a.skipped)))
    return out


def gate_failures(benches: list[BenchComparison], timings: list[Timing], cfg: QuantizeConfig,
                  fp32_name: str = "onnx_fp32", int8_name: str = "onnx_int8") -> list[str]:
    """One message per failed gate; empty when INT8 may ship."""
    failures = []
    for b in benches:
        if b.count == 0:
            failures.append(f"accuracy[{b.name}]: no scorable image in the benchmark")
        elif b.drop > cfg.max_accuracy_drop:
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
