from __future__ import annotations

import math
import random

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
    """What resuming relies on: the rate at a step is the formula's whatever was computed before (steps in
    any order, another recipe's schedule in between), so a run resumed at step k continues the sequence."""
    base, total = 1e-3, 50
    cfg = ScheduleConfig(name="cosine", warmup_steps=3, min_lr_ratio=0.1)
    expected = [base * (s + 1) / 3 for s in range(3)] + [
        0.1 * base + 0.9 * base * 0.5 * (1 + math.cos(math.pi * (s - 3) / (total - 3))) for s in range(3, total)]
    order = list(range(total))
    random.Random(0).shuffle(order)
    got = {}
    for s in order:
        lr_at(total - 1 - s, 5.0, 80, ScheduleConfig(name="onecycle", warmup_steps=7))
        got[s] = lr_at(s, base, total, cfg)
    assert [got[s] for s in range(total)] == pytest.approx(expected, rel=1e-12)
    resumed_at = 17  # a new process: nothing computed before
    assert [lr_at(s, base, total, cfg) for s in range(resumed_at, total)] == pytest.approx(expected[resumed_at:],
                                                                                           rel=1e-12)
    with pytest.raises(ValueError):
        lr_at(-1, base, total, cfg)


def test_frame_weight_falls_linearly_to_zero():
    from textrec.config.train import FrameLossConfig
    from textrec.training.schedules import frame_weight_at

    cfg = FrameLossConfig(weight=4.0, until_step=100)
    assert [frame_weight_at(s, cfg) for s in (0, 50, 99, 100, 500)] == [4.0, 2.0, pytest.approx(0.04), 0.0, 0.0]
    assert frame_weight_at(0, FrameLossConfig()) == 0.0
