"""Deterministic batch plans: the data order is a pure function of (seed, epoch), so training can resume
in the middle of an epoch by skipping to a saved position, with or without DataLoader workers.

A plan holds *global* batches (all ranks together). Rank ``r`` of ``W`` trains on the contiguous slice
``[r*B/W, (r+1)*B/W)`` of each global batch, so W processes see exactly the samples that one process sees
with the same global batch (paddle's DistributedBatchSampler shards the epoch instead, which changes the
composition of each global batch).

Curriculum (short words first): while ``step < curriculum.steps`` only labels of length <= a limit that
grows linearly from ``start_max_len`` to the maximum are drawn; longer labels met in the epoch order are
passed over (they come back in later epochs). Incomplete final batches are dropped, as PaddleOCR does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from textrec.config.train import CurriculumConfig


@dataclass(frozen=True)
class EpochPlan:
    epoch: int
    batches: list[np.ndarray]  # each [batch_size] dataset indices
    end_positions: list[int]  # position in the epoch order right after each batch (the resume point)


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """Permutation of ``range(n)`` for ``epoch``: [n] int64."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def curriculum_limit(step: int, cfg: CurriculumConfig, max_len: int) -> int:
    """Longest label allowed at ``step``."""
    if cfg.steps <= 0 or step >= cfg.steps:
        return max_len
    return min(max_len, cfg.start_max_len + int((max_len - cfg.start_max_len) * step / cfg.steps))


def _take(order: np.ndarray, lengths: np.ndarray, pos: int, size: int, limit: int) -> tuple[np.ndarray | None, int]:
    """The next ``size`` indices at or after ``pos`` whose length <= limit, and the position after the last."""
    n, got, need = len(order), [], size
    while need > 0 and pos < n:
        chunk = order[pos:pos + max(4 * size, 1024)]
        ok = np.flatnonzero(lengths[chunk] <= limit)
        if len(ok) >= need:
            got.append(chunk[ok[:need]])
            pos += int(ok[need - 1]) + 1
            need = 0
        else:
            got.append(chunk[ok])
            pos += len(chunk)
            need -= len(ok)
    if need > 0:
        return None, n
    return np.concatenate(got), pos


def plan_epoch(lengths: np.ndarray, batch_size: int, seed: int, epoch: int, *, start_pos: int = 0,
               start_step: int = 0, curriculum: CurriculumConfig | None = None,
               max_len: int = 25) -> EpochPlan:
    """Global batches of ``epoch`` from order position ``start_pos``; ``start_step`` is the global step of
    the first batch (the curriculum depends on it). ``lengths`` [N] are the label lengths."""
    curriculum = curriculum or CurriculumConfig()
    order = epoch_order(len(lengths), seed, epoch)
    batches, ends = [], []
    pos, step = start_pos, start_step
    while True:
        limit = curriculum_limit(step, curriculum, max_len)
        if limit >= max_len:
            if pos + batch_size > len(order):
                break
            batch, pos = order[pos:pos + batch_size], pos + batch_size
        else:
            batch, pos = _take(order, lengths, pos, batch_size, limit)
            if batch is None:
                break
        batches.append(batch)
        ends.append(pos)
        step += 1
    return EpochPlan(epoch, batches, ends)


def planned_steps(samples: int, batch_size: int, epochs: int, max_steps: int | None) -> int:
    """Steps a recipe plans over ``samples`` usable records: the whole global batches of an epoch (the
    incomplete last one is dropped) times ``epochs``, capped by ``max_steps``."""
    total = epochs * (samples // batch_size)
    return total if max_steps is None else min(total, max_steps)


def shard(batch: np.ndarray, rank: int, world_size: int) -> list[int]:
    """This rank's contiguous slice of a global batch."""
    if len(batch) % world_size:
        raise ValueError(f"global batch {len(batch)} is not divisible by world size {world_size}")
    per = len(batch) // world_size
    return batch[rank * per:(rank + 1) * per].tolist()
