"""The ``monitoring`` section: the prediction log, the drift checks of ``textrec monitor`` and ``select``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from textrec.config._build import Fraction, PosInt, Range

PValue = Annotated[float, Range(0, 1, lo_open=True, hi_open=True)]


@dataclass(frozen=True)
class PredictionLogConfig:
    """Where and how much the prediction log keeps (``textrec.monitoring.store``). Every bound drops the
    oldest first, so the store stays bounded however long a server runs."""

    path: str = "monitoring/predictions.db"  # SQLite file, relative to the project root
    images: bool = True  # keep each image too (what `textrec select` hands out for labelling)
    max_rows: PosInt = 1_000_000  # predictions kept (a row is ~150 bytes without its image)
    max_images: PosInt = 20_000  # images kept
    max_image_bytes: PosInt = 500_000_000  # total bytes of the images kept
    max_image_size: PosInt = 1_000_000  # a larger image is logged without its bytes
    queue: PosInt = 10_000  # predictions waiting for the writer thread; beyond it they are dropped, counted


@dataclass(frozen=True)
class MonitoringConfig:
    log: PredictionLogConfig = field(default_factory=PredictionLogConfig)
    serve_log: bool = False  # `textrec serve` logs every prediction (opt-in; --log / --no-log win)
    window: PosInt = 2000  # `textrec monitor` compares the last this many predictions of a model version
    min_window: PosInt = 200  # fewer is no verdict (an error), never a silent "no drift"
    # a difference is an alarm when it is significant (p below p_value / number of checks: Bonferroni) and
    # large (KS distance or total variation distance at least min_effect): a large window makes every tiny
    # difference significant, a small one makes large differences noisy
    p_value: PValue = 0.01
    min_effect: Fraction = 0.1
    # a prediction below this confidence is "low"; its rate may rise by at most max_low_rate_increase
    low_confidence: Fraction = 0.5
    max_low_rate_increase: Fraction = 0.1
    dhash_distance: Annotated[int, Range(0, 64)] = 4  # `select`: images this close (bits of 64) are duplicates
