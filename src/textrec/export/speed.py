"""CPU latency of engines: ms/image at given batch sizes, median over interleaved rounds.

Rounds interleave the engines (A, B, C, A, B, C, ...) so that load from other processes on a shared
machine hits all candidates alike; warm-up runs are excluded. The spread (min/max over rounds) is kept
so that a report can show how noisy the numbers were.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np

from textrec.artifacts import Timing as TimingRecord
from textrec.inference.engines import Engine
from textrec.progress import track


@dataclass(frozen=True)
class Timing:
    engine: str
    batch_size: int
    ms_per_image: float  # median over rounds
    min_ms: float
    max_ms: float
    rounds: int
    cpu_ms_per_image: float = float("nan")  # median process CPU time (all threads); robust to other load

    def artifact(self) -> TimingRecord:
        """The row of the quantize stage's file."""
        return TimingRecord(self.engine, self.batch_size, self.ms_per_image, self.min_ms, self.max_ms, self.rounds,
                            self.cpu_ms_per_image)

    def as_dict(self) -> dict:
        return asdict(self.artifact())


def make_batches(images: np.ndarray, batch_size: int, images_per_round: int) -> list[np.ndarray]:
    """Cut ``images`` [M, 3, 32, W] (cycled as needed) into batches covering ``images_per_round`` images."""
    if len(images) == 0:
        raise ValueError("no images to time")
    n_batches = max(1, images_per_round // batch_size)
    idx = np.arange(n_batches * batch_size) % len(images)
    return [np.ascontiguousarray(images[idx[i * batch_size:(i + 1) * batch_size]]) for i in range(n_batches)]


def _ms_per_image(fn: Engine, batches: list[np.ndarray]) -> tuple[float, float]:
    """(wall, process CPU) milliseconds per image for one pass over ``batches``."""
    n = sum(len(b) for b in batches)
    c0, t0 = time.process_time(), time.perf_counter()
    for b in batches:
        fn(b)
    return (time.perf_counter() - t0) * 1000.0 / n, (time.process_time() - c0) * 1000.0 / n


def time_engines(engines: Mapping[str, Engine], images: np.ndarray, batch_sizes: tuple[int, ...] = (1, 64),
                 rounds: int = 5, images_per_round: int = 64, warmup: int = 1, progress: bool = False,
                 desc: str = "timing") -> list[Timing]:
    """Median ms/image of every engine at every batch size over ``rounds`` interleaved rounds; ``progress``:
    a bar counts the rounds (drawn between measurements, never inside one)."""
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    plans = {bs: make_batches(images, bs, max(images_per_round, bs)) for bs in batch_sizes}
    for fn in engines.values():  # warm-up: first runs allocate, compile oneDNN kernels, fill caches
        for bs in batch_sizes:
            for _ in range(warmup):
                fn(plans[bs][0])
    wall: dict[tuple[str, int], list[float]] = {(n, bs): [] for n in engines for bs in batch_sizes}
    cpu: dict[tuple[str, int], list[float]] = {k: [] for k in wall}
    for _ in track(range(rounds), progress, total=rounds, desc=desc, unit="round"):
        for bs in batch_sizes:
            for name, fn in engines.items():
                w, c = _ms_per_image(fn, plans[bs])
                wall[(name, bs)].append(w)
                cpu[(name, bs)].append(c)
    return [Timing(name, bs, statistics.median(v), min(v), max(v), len(v), statistics.median(cpu[(name, bs)]))
            for (name, bs), v in wall.items()]
