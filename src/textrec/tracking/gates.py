"""Promotion gates: pure checks of a challenger's run metrics against production's (no MLflow here)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from textrec.artifacts.metrics import FORGETTING, INT8_DROP_MAX, VALIDATION_SUCCESS, latency_key
from textrec.config import PromotionConfig
from textrec.evaluation.metrics import drop_within
from textrec.tracking.files import ranking_key


@dataclass(frozen=True)
class Gate:
    name: str
    passed: bool
    detail: str

    def __str__(self) -> str:
        return f"{self.name}: {'pass' if self.passed else 'FAIL'} ({self.detail})"


def _get(metrics: dict[str, float], key: str) -> float | None:
    v = metrics.get(key)
    return v if v is not None and math.isfinite(v) else None


def evaluate_gates(challenger: dict[str, float], production: dict[str, float] | None, cfg: PromotionConfig,
                   precision: str) -> list[Gate]:
    """Every gate, in a fixed order; a metric missing from the challenger's run fails its gate.

    ``precision`` is the one the registered model serves ("fp32" or "int8"): accuracy and latency are
    compared for that precision; the INT8 drop gate applies to either, as the pipeline ships both. Accuracy
    is the mean over the challenger's own test sets when it has them (``ranking_key``); the gate
    ``forgetting`` follows when ``cfg.max_forgetting`` is set.
    """
    gates = []
    v = _get(challenger, VALIDATION_SUCCESS)
    gates.append(Gate("validation", v == 1.0, "data validation passed" if v == 1.0 else
                      "data validation failed" if v is not None else f"metric {VALIDATION_SUCCESS} missing"))

    key = ranking_key(challenger, precision)  # production is held to the same mean: a run without it fails
    acc = _get(challenger, key)
    prod = _get(production, key) if production is not None else None
    if acc is None:
        gates.append(Gate("accuracy", False, f"metric {key} missing"))
    elif production is None:
        gates.append(Gate("accuracy", True, f"{key}={acc:.4f}, no production version yet"))
    elif prod is None:
        gates.append(Gate("accuracy", False, f"production run has no {key}"))
    else:
        floor = prod - cfg.accuracy_tolerance
        gates.append(Gate("accuracy", acc >= floor, f"{key}={acc:.4f} vs production {prod:.4f} "
                          f"- tolerance {cfg.accuracy_tolerance:g} = {floor:.4f}"))

    drop = _get(challenger, INT8_DROP_MAX)
    gates.append(Gate("int8_drop", drop is not None and drop_within(drop, cfg.max_int8_drop),
                      "metric int8_drop_max missing" if drop is None else
                      f"largest per-benchmark INT8 drop {drop:.4f} vs limit {cfg.max_int8_drop:g}"))

    key = latency_key(precision)
    lat = _get(challenger, key)
    gates.append(Gate("latency", lat is not None and lat <= cfg.max_latency_ms,
                      f"metric {key} missing" if lat is None else
                      f"{key}={lat:.3f} vs budget {cfg.max_latency_ms:g} ms"))
    if cfg.max_forgetting is not None:
        gates.append(_forgetting_gate(_get(challenger, FORGETTING), cfg.max_forgetting))
    return gates


def _forgetting_gate(forgot: float | None, limit: float) -> Gate:
    if forgot is None:
        return Gate("forgetting", False, f"metric {FORGETTING} missing (it needs own test sets, synthetic "
                    "benchmarks and a start checkpoint the evaluate stage could measure)")
    return Gate("forgetting", drop_within(forgot, limit), f"synthetic suite {-100 * forgot + 0.0:+.1f} points "
                f"since the start checkpoint ({FORGETTING}={forgot:.4f}) vs limit {limit:g}")
