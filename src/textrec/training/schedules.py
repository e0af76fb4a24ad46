"""Learning-rate schedules as pure functions of the step, so resuming needs nothing but the step number.

All schedules accept a linear warm-up: steps ``0..warmup-1`` use ``lr * (step + 1) / warmup``; the schedule
proper then runs over the remaining ``total_steps - warmup`` steps.
  constant  lr
  cosine    lr -> lr * min_lr_ratio along half a cosine
  onecycle  lr / 25 -> lr (cosine rise over ``pct_start`` of the steps) -> lr * min_lr_ratio (cosine fall)
"""

from __future__ import annotations

import math

from textrec.config.train import FrameLossConfig, ScheduleConfig

ONECYCLE_DIV = 25.0  # onecycle starts at lr / 25 (the usual OneCycle default)


def _cos(a: float, b: float, frac: float) -> float:
    """Half-cosine from ``a`` (frac 0) to ``b`` (frac 1)."""
    frac = min(max(frac, 0.0), 1.0)
    return b + (a - b) * 0.5 * (1.0 + math.cos(math.pi * frac))


def lr_at(step: int, base_lr: float, total_steps: int, cfg: ScheduleConfig) -> float:
    """Learning rate for the optimizer step with 0-based index ``step`` out of ``total_steps``."""
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    warm = cfg.warmup_steps
    if warm > 0 and step < warm:
        return base_lr * (step + 1) / warm
    s, n = step - warm, max(1, total_steps - warm)
    end = base_lr * cfg.min_lr_ratio
    if cfg.name == "constant":
        return base_lr
    if cfg.name == "cosine":
        return _cos(base_lr, end, s / n)
    if cfg.name == "onecycle":
        rise = max(1, round(cfg.pct_start * n))
        if s < rise:
            return _cos(base_lr / ONECYCLE_DIV, base_lr, s / rise)
        return _cos(base_lr, end, (s - rise) / max(1, n - rise))
    raise ValueError(f"unknown schedule {cfg.name!r}")


def frame_weight_at(step: int, cfg: FrameLossConfig) -> float:
    """Weight of the per-frame loss at ``step``: ``cfg.weight`` falling linearly to 0 at ``cfg.until_step``."""
    if cfg.weight <= 0 or step >= cfg.until_step:
        return 0.0
    return cfg.weight * (1.0 - step / cfg.until_step)
