from __future__ import annotations

import inspect
import tracemalloc

from textrec.data.lmdb_io import iter_records, num_samples
from textrec.data.synth.generate import iter_parallel, write_lmdb
from textrec.data.synth.profiles import TRAIN
from textrec.data.synth.sample import RenderContext


def test_same_records_with_one_or_two_processes(tmp_path, ctx: RenderContext) -> None:
    one = write_lmdb(tmp_path / "one", "train", ctx, TRAIN, seed=5, n=40, processes=1, chunk_size=8)
    two = write_lmdb(tmp_path / "two", "train", ctx, TRAIN, seed=5, n=40, processes=2, chunk_size=7)
    assert one.count == two.count == num_samples(tmp_path / "one") == num_samples(tmp_path / "two") == 40
    a, b = list(iter_records(tmp_path / "one")), list(iter_records(tmp_path / "two"))
    assert a == b
    assert len({img for _, img, _ in a}) == 40  # and they are 40 different images


def test_generation_streams_in_flat_memory(ctx: RenderContext) -> None:
    gen = iter_parallel(ctx, TRAIN, 0, 0, 10**9, processes=1)
    assert inspect.isgenerator(gen)  # a billion samples are not materialised up front

    def peak(n: int) -> int:
        tracemalloc.start()
        for i, _ in enumerate(iter_parallel(ctx, TRAIN, 0, 0, 10**9, processes=1)):
            if i + 1 == n:
                break
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    small, large = peak(40), peak(160)
    assert large < 1.5 * small + 2_000_000, (small, large)
