"""Numerical parity of an exported model against its reference on real images.

The same preprocessed images go through both engines at several shapes that exercise the dynamic axes:
batch 1, the whole batch (or up to 7 images), and a doubled width (each image side by side with the next,
[N, 3, 32, 200]). The largest absolute difference of the softmax probabilities over all cases is compared
with ``atol``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from textrec.inference.engines import Engine


class ParityError(RuntimeError):
    """The exported model's outputs differ from the reference beyond the tolerance."""


@dataclass(frozen=True)
class ParityCase:
    name: str
    shape: tuple[int, ...]  # input shape
    max_abs_diff: float
    argmax_agreement: float  # fraction of time steps with the same most probable class


@dataclass(frozen=True)
class ParityReport:
    reference: str
    candidate: str
    atol: float
    cases: tuple[ParityCase, ...]

    @property
    def max_abs_diff(self) -> float:
        return max(c.max_abs_diff for c in self.cases)

    @property
    def passed(self) -> bool:
        return self.max_abs_diff <= self.atol

    def as_dict(self) -> dict:
        return {"reference": self.reference, "candidate": self.candidate, "atol": self.atol,
                "max_abs_diff": self.max_abs_diff, "passed": self.passed,
                "cases": [{"name": c.name, "shape": list(c.shape), "max_abs_diff": c.max_abs_diff,
                           "argmax_agreement": c.argmax_agreement} for c in self.cases]}

    def message(self) -> str:
        worst = max(self.cases, key=lambda c: c.max_abs_diff)
        verdict = "within" if self.passed else "EXCEEDS"
        return (f"{self.candidate} vs {self.reference}: max abs diff {self.max_abs_diff:.3g} {verdict} "
                f"tolerance {self.atol:.3g} (worst case {worst.name}, input {list(worst.shape)}, "
                f"argmax agreement {worst.argmax_agreement:.4f})")


def parity_inputs(images: np.ndarray, batch_size: int = 64) -> dict[str, list[np.ndarray]]:
    """Named test inputs from ``images`` [N, 3, 32, 100]: batch 1, a batch of up to 7, every image in batches
    of ``batch_size``, and up to 7 double-width inputs [k, 3, 32, 200] (each crop beside the next one)."""
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(f"expected images [N, 3, 32, W] with N >= 1, got shape {images.shape}")
    x = np.ascontiguousarray(images, dtype=np.float32)
    k = min(7, len(x))
    wide = np.concatenate([x[:k], np.roll(x, -1, axis=0)[:k]], axis=3)  # [k, 3, 32, 2W]
    return {"batch1": [x[:1]], f"batch{k}": [x[:k]],
            f"batch{min(batch_size, len(x))}": [x[i:i + batch_size] for i in range(0, len(x), batch_size)],
            f"batch{k}_width{wide.shape[3]}": [wide]}


def compare(reference: Engine, candidate: Engine, images: np.ndarray, atol: float,
            names: tuple[str, str] = ("paddle", "onnx")) -> ParityReport:
    """Run both engines on every ``parity_inputs`` case; output shapes must agree exactly."""
    cases = []
    for name, batches in parity_inputs(images).items():
        diff, same, steps = 0.0, 0, 0
        for x in batches:
            a, b = reference(x), candidate(x)
            if a.shape != b.shape:
                raise ParityError(f"{names[1]} vs {names[0]}: output shapes differ for {name} input "
                                  f"{list(x.shape)}: {list(b.shape)} vs {list(a.shape)}")
            d = float(np.abs(a.astype(np.float64) - b).max())
            diff = max(diff, d if np.isfinite(d) else float("inf"))  # NaN in an output counts as a failure
            same += int((a.argmax(-1) == b.argmax(-1)).sum())
            steps += a.shape[0] * a.shape[1]
        shape = (sum(len(x) for x in batches), *batches[0].shape[1:])
        cases.append(ParityCase(name, shape, diff, same / steps if steps else 1.0))
    return ParityReport(names[0], names[1], atol, tuple(cases))

