from __future__ import annotations

import numpy as np
import pytest

from textrec.config.train import CurriculumConfig
from textrec.training.sampler import curriculum_limit, epoch_order, plan_epoch, planned_steps, shard


def test_order_depends_only_on_seed_and_epoch():
    assert np.array_equal(epoch_order(100, 7, 3), epoch_order(100, 7, 3))
    assert not np.array_equal(epoch_order(100, 7, 3), epoch_order(100, 7, 4))
    assert not np.array_equal(epoch_order(100, 7, 3), epoch_order(100, 8, 3))
    assert sorted(epoch_order(100, 7, 3).tolist()) == list(range(100))


def test_plan_drops_last_and_fast_forwards():
    lengths = np.full(103, 5)
    full = plan_epoch(lengths, 10, seed=1, epoch=2)
    assert len(full.batches) == 10 and full.end_positions == list(range(10, 101, 10))
    flat = np.concatenate(full.batches)
    assert len(set(flat.tolist())) == 100  # no sample twice in an epoch
    tail = plan_epoch(lengths, 10, seed=1, epoch=2, start_pos=full.end_positions[3], start_step=4)
    assert all(np.array_equal(a, b) for a, b in zip(tail.batches, full.batches[4:], strict=True))


def test_curriculum_draws_short_words_first_and_resumes_identically():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 26, 400)
    cur = CurriculumConfig(steps=20, start_max_len=3)
    plan = plan_epoch(lengths, 8, seed=5, epoch=0, curriculum=cur, max_len=25)
    for step, batch in enumerate(plan.batches):
        assert lengths[batch].max() <= curriculum_limit(step, cur, 25)
    assert lengths[plan.batches[0]].max() <= 3 and curriculum_limit(20, cur, 25) == 25
    assert curriculum_limit(10, cur, 25) == 3 + 11  # linear growth
    k = 7
    tail = plan_epoch(lengths, 8, seed=5, epoch=0, start_pos=plan.end_positions[k - 1], start_step=k,
                      curriculum=cur, max_len=25)
    assert all(np.array_equal(a, b) for a, b in zip(tail.batches, plan.batches[k:], strict=True))
    flat = np.concatenate(plan.batches).tolist()
    assert len(flat) == len(set(flat))


def test_shards_partition_the_global_batch():
    batch = np.arange(12) * 3
    parts = [shard(batch, r, 3) for r in range(3)]
    assert sum(parts, []) == batch.tolist()
    with pytest.raises(ValueError, match="divisible"):
        shard(batch, 0, 5)


def test_planned_steps_are_whole_batches_per_epoch_capped_by_max_steps():
    plan = plan_epoch(np.full(103, 3), batch_size=10, seed=0, epoch=0)
    assert planned_steps(103, 10, epochs=1, max_steps=None) == len(plan.batches) == 10  # last 3 dropped
    assert planned_steps(103, 10, epochs=4, max_steps=None) == 40
    assert planned_steps(103, 10, epochs=4, max_steps=25) == 25
    assert planned_steps(103, 10, epochs=4, max_steps=0) == 0
    assert planned_steps(9, 10, epochs=4, max_steps=None) == 0
