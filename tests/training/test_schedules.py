from __future__ import annotations

import math

import pytest

from textrec.config.train import ScheduleConfig
from textrec.training.schedules import ONECYCLE_DIV, lr_at


def test_constant_is_paddleocr_default():
    cfg = ScheduleConfig()
    assert {lr_at(s, 5e-4, 100, cfg) for s in range(0, 150, 7)} == {5e-4}


def test_linear_warmup_then_schedule():
    cfg = ScheduleConfig(name="constant", warmup_steps=4)
    assert [lr_at(s, 1.0, 100, cfg) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]


def test_cosine_endpoints_floor_and_monotone():
    cfg = ScheduleConfig(name="cosine", warmup_steps=10, min_lr_ratio=0.1)
    lrs = [lr_at(s, 2.0, 110, cfg) for s in range(0, 130)]
    assert lrs[10] == pytest.approx(2.0)  # schedule proper starts at the base lr
    assert lrs[60] == pytest.approx(0.1 * 2.0 + 0.5 * (2.0 - 0.2))  # half way: mid point of the cosine
    assert lrs[110] == pytest.approx(0.2) and lrs[129] == pytest.approx(0.2)  # floor, also past the end
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:], strict=False))


def test_onecycle_rises_to_peak_then_falls():
    cfg = ScheduleConfig(name="onecycle", pct_start=0.25)
    lrs = [lr_at(s, 1.0, 100, cfg) for s in range(100)]
    assert lrs[0] == pytest.approx(1.0 / ONECYCLE_DIV)
    peak = max(range(100), key=lambda s: lrs[s])
    assert peak == 25 and lrs[peak] == pytest.approx(1.0)
    assert all(a <= b for a, b in zip(lrs[:25], lrs[1:26], strict=True))
    assert all(a >= b for a, b in zip(lrs[25:], lrs[26:], strict=False))
    assert lrs[99] < 0.01


def test_schedule_is_a_pure_function_of_the_step():
    cfg = ScheduleConfig(name="cosine", warmup_steps=3)
    a = [lr_at(s, 1e-3, 50, cfg) for s in range(50)]
    assert a == [lr_at(s, 1e-3, 50, cfg) for s in range(50)] and all(math.isfinite(x) for x in a)
    with pytest.raises(ValueError):
        lr_at(-1, 1e-3, 50, cfg)
