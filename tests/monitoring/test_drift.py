"""The drift checks on made-up observations: same distributions pass, shifted ones raise the right alarm,
and a significant but tiny difference (a huge window) does not."""

from __future__ import annotations

import numpy as np

from textrec.config import MonitoringConfig
from textrec.monitoring.drift import compare
from textrec.monitoring.reference import Observations

CFG = MonitoringConfig()
WORDS = ["the", "cat", "sat", "on", "mat", "hello", "world", "exit", "open", "7", "2024", "sale"]


def sample(n: int, seed: int, conf=(8.0, 1.0), height=(40, 6), width_per_char=18.0, words=WORDS) -> Observations:
    rng = np.random.default_rng(seed)
    texts = [words[i] for i in rng.integers(0, len(words), n)]
    h = np.maximum(8, rng.normal(*height, n)).round()
    w = np.array([len(t) * width_per_char for t in texts]) * rng.uniform(0.8, 1.2, n)
    return Observations(rng.beta(*conf, n), texts, h, w.round())


def alarms(ref: Observations, win: Observations) -> set[str]:
    return {c.name for c in compare(ref, win, CFG) if c.alarm}


def test_the_same_distribution_raises_nothing() -> None:
    for seed in range(5):
        assert alarms(sample(2000, 0), sample(2000, 100 + seed)) == set()


def test_each_shift_raises_its_own_alarm() -> None:
    ref = sample(2000, 0)
    assert alarms(ref, sample(2000, 1, conf=(3.0, 1.5))) == {"confidence", "low_confidence_rate"}
    assert alarms(ref, sample(2000, 1, height=(20, 4), width_per_char=9.0)) == {"image_height", "image_width"}
    digits = ["12", "345", "6789", "0", "2024", "99"]
    assert {"text_length", "characters"} <= alarms(ref, sample(2000, 1, words=digits))


def test_a_falling_low_confidence_rate_is_no_alarm() -> None:
    checks = {c.name: c for c in compare(sample(2000, 0, conf=(3.0, 1.5)), sample(2000, 1), CFG)}
    assert checks["low_confidence_rate"].effect < 0 and not checks["low_confidence_rate"].alarm
    assert checks["confidence"].alarm  # the distribution did move


def test_a_significant_but_tiny_difference_is_no_alarm() -> None:
    ref, win = sample(200_000, 0, height=(40, 6)), sample(200_000, 1, height=(40.6, 6))
    height = {c.name: c for c in compare(ref, win, CFG)}["image_height"]
    assert height.p_value < 1e-6 and height.effect < CFG.min_effect and not height.alarm
