import time

import numpy as np
import pytest

from textrec.export.speed import make_batches, time_engines


def test_make_batches_cycles_images():
    x = np.arange(5, dtype=np.float32).reshape(5, 1, 1, 1)
    b = make_batches(x, 4, 8)
    assert [len(v) for v in b] == [4, 4] and b[1].ravel().tolist() == [4, 0, 1, 2]
    assert [len(v) for v in make_batches(x, 64, 64)] == [64]
    with pytest.raises(ValueError):
        make_batches(x[:0], 1, 8)


def test_time_engines_orders_by_cost():
    calls = {"slow": 0, "fast": 0}

    def slow(x):
        calls["slow"] += 1
        time.sleep(0.002 * len(x))
        return x

    def fast(x):
        calls["fast"] += 1
        return x

    x = np.zeros((3, 3, 32, 100), np.float32)
    res = {(t.engine, t.batch_size): t for t in time_engines({"slow": slow, "fast": fast}, x, (1, 4), rounds=3,
                                                             images_per_round=4)}
    assert res[("slow", 1)].ms_per_image > 1.5 > res[("fast", 1)].ms_per_image
    assert res[("slow", 4)].rounds == 3 and res[("slow", 4)].min_ms <= res[("slow", 4)].ms_per_image
    assert calls["slow"] == calls["fast"] == 2 + 3 * (4 + 1)  # warm-up per batch size + rounds
