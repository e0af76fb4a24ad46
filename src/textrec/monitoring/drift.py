"""The checks of a window of predictions against the model's reference (scipy.stats; no MLflow, no I/O).

Each check has a test and an effect size. Continuous quantities (confidence, image height and width) are
compared with the two-sample Kolmogorov-Smirnov test, effect = its distance D (the largest gap between the
two cumulative distributions); counts (text length, characters) with the chi-square test of a 2 x k table,
effect = the total variation distance (half the summed absolute difference of the two distributions); the
low-confidence rate with the chi-square test of a 2 x 2 table, effect = its increase (a falling rate is no
alarm). A check raises an alarm when its p-value is below ``p_value / number of checks`` (Bonferroni: six
tests per run) and its effect is at least its limit: big windows make every tiny difference significant,
small ones make large differences noisy; both are needed.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np

from textrec.config import MonitoringConfig
from textrec.monitoring.reference import Observations

MIN_CELL = 10  # categories with fewer observations (both sides together) are merged: chi-square needs counts


@dataclass(frozen=True)
class Check:
    name: str
    test: str  # "ks" or "chi2"; "none" when a side has too few values to test
    statistic: float
    p_value: float
    effect: float
    limit: float  # the effect an alarm needs
    reference: float  # a summary of each side: mean, or rate
    window: float
    alarm: bool

    def describe(self) -> str:
        if self.test == "none":
            return f"{self.name}: not measured (too few values)"
        return (f"{self.name}: {self.test} effect {self.effect:.3f} (limit {self.limit:g}), p={self.p_value:.2g}; "
                f"reference {self.reference:.3f}, window {self.window:.3f}")


def _finite(a: np.ndarray) -> np.ndarray:
    return a[np.isfinite(a)]


def _ks(name: str, ref: np.ndarray, win: np.ndarray, limit: float, alpha: float) -> Check:
    from scipy.stats import ks_2samp

    ref, win = _finite(ref), _finite(win)
    if len(ref) < 2 or len(win) < 2:
        return Check(name, "none", math.nan, math.nan, math.nan, limit, math.nan, math.nan, False)
    res = ks_2samp(ref, win)
    d, p = float(res.statistic), float(res.pvalue)
    return Check(name, "ks", d, p, d, limit, float(ref.mean()), float(win.mean()), bool(p < alpha and d >= limit))


def _table(ref: Counter, win: Counter) -> np.ndarray:
    """[2, k] counts over the categories of both sides, rare ones merged into one column."""
    keys = sorted(set(ref) | set(win), key=str)
    common = [k for k in keys if ref[k] + win[k] >= MIN_CELL]
    rare = [k for k in keys if ref[k] + win[k] < MIN_CELL]
    cols = [[ref[k], win[k]] for k in common] + ([[sum(ref[k] for k in rare), sum(win[k] for k in rare)]]
                                                  if rare else [])
    return np.array(cols, dtype=np.float64).T.reshape(2, len(cols))


def _chi2(name: str, ref: Counter, win: Counter, limit: float, alpha: float, ref_mean: float,
          win_mean: float) -> Check:
    from scipy.stats import chi2_contingency

    table = _table(ref, win)
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return Check(name, "none", math.nan, math.nan, math.nan, limit, ref_mean, win_mean, False)
    stat, p, *_ = chi2_contingency(table, correction=False)
    shares = table / table.sum(axis=1, keepdims=True)
    tvd = float(0.5 * np.abs(shares[0] - shares[1]).sum())
    return Check(name, "chi2", float(stat), float(p), tvd, limit, ref_mean, win_mean, bool(p < alpha and tvd >= limit))


def _low_rate(ref: np.ndarray, win: np.ndarray, threshold: float, limit: float, alpha: float) -> Check:
    from scipy.stats import chi2_contingency

    lo_ref, lo_win = int((ref < threshold).sum()), int((win < threshold).sum())
    r_ref, r_win = lo_ref / len(ref), lo_win / len(win)
    table = np.array([[lo_ref, len(ref) - lo_ref], [lo_win, len(win) - lo_win]], dtype=np.float64)
    if (table.sum(axis=0) == 0).any():  # every prediction on one side of the threshold, both windows
        return Check("low_confidence_rate", "chi2", 0.0, 1.0, r_win - r_ref, limit, r_ref, r_win, False)
    stat, p, *_ = chi2_contingency(table, correction=True)
    rise = r_win - r_ref
    return Check("low_confidence_rate", "chi2", float(stat), float(p), rise, limit, r_ref, r_win,
                 bool(p < alpha and rise >= limit))


def compare(ref: Observations, win: Observations, cfg: MonitoringConfig) -> list[Check]:
    """Every check of ``win`` against ``ref`` (both non-empty), in a fixed order."""
    alpha = cfg.p_value / 6  # Bonferroni over the six checks below
    ref_len = Counter(len(t) for t in ref.texts)
    win_len = Counter(len(t) for t in win.texts)
    ref_chars = Counter("".join(ref.texts))
    win_chars = Counter("".join(win.texts))
    return [
        _ks("confidence", ref.confidence, win.confidence, cfg.min_effect, alpha),
        _low_rate(ref.confidence, win.confidence, cfg.low_confidence, cfg.max_low_rate_increase, alpha),
        _chi2("text_length", ref_len, win_len, cfg.min_effect, alpha,
              float(np.mean([len(t) for t in ref.texts])), float(np.mean([len(t) for t in win.texts]))),
        _chi2("characters", ref_chars, win_chars, cfg.min_effect, alpha, float(len(ref_chars)),
              float(len(win_chars))),
        _ks("image_height", ref.height, win.height, cfg.min_effect, alpha),
        _ks("image_width", ref.width, win.width, cfg.min_effect, alpha),
    ]
