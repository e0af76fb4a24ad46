"""Render many samples in parallel and stream them, in index order, into an LMDB.

Work is cut into chunks of consecutive indices; at most ``2 * processes`` chunks are in flight, so memory
stays flat however many images are made. Each image depends only on (seed, stream, index), so the LMDB is
byte-identical for any number of processes.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.pool import Pool
from pathlib import Path

from textrec.data.lmdb_io import LmdbWriter
from textrec.data.synth.profiles import Profile, ProfileMix
from textrec.data.synth.sample import RenderContext, Renderer, SynthSample, stream_id
from textrec.progress import track

# Per worker process: the Renderer built once by the pool initializer (never seen by the parent).
_WORKER: dict[str, Renderer] = {}


def _init_worker(ctx: RenderContext) -> None:
    import cv2

    cv2.setNumThreads(1)  # the pool is the parallelism; nested cv2 threads only contend
    _WORKER["renderer"] = Renderer(ctx)


def _render_chunk(args: tuple[Profile | ProfileMix, int, int, int, int]) -> list[SynthSample]:
    profile, seed, stream, start, stop = args
    return list(_WORKER["renderer"].iter_samples(profile, seed, stream, start, stop))


@contextmanager
def render_pool(ctx: RenderContext, processes: int) -> Iterator[Pool | None]:
    """A worker pool to share across several ``iter_parallel`` calls (None when ``processes <= 1``).

    spawn, not fork: a forked child inherits OpenCV's thread pool in whatever state the parent left it and
    can hang in its first cv2 call. (Callers need the usual ``if __name__ == "__main__"`` guard.)
    """
    if processes <= 1:
        yield None
        return
    with mp.get_context("spawn").Pool(processes, initializer=_init_worker, initargs=(ctx,)) as pool:
        yield pool


def iter_parallel(ctx: RenderContext, profile: Profile | ProfileMix, seed: int, stream: int, n: int, processes: int,
                  chunk_size: int = 64, pool: Pool | None = None) -> Iterator[SynthSample]:
    """Yield samples 0..n-1 in order, rendered by ``processes`` workers (<= 1: in this process), in
    ``pool`` when given (it must have been made for the same ``ctx``), else in a pool of its own."""
    if n < 0 or chunk_size < 1:
        raise ValueError(f"bad n={n} or chunk_size={chunk_size}")
    if processes <= 1:
        yield from Renderer(ctx).iter_samples(profile, seed, stream, 0, n)
        return
    if pool is None:
        with render_pool(ctx, processes) as own:
            yield from iter_parallel(ctx, profile, seed, stream, n, processes, chunk_size, own)
        return
    chunks = ((profile, seed, stream, s, min(s + chunk_size, n)) for s in range(0, n, chunk_size))
    pending: deque = deque()
    for task in chunks:
        pending.append(pool.apply_async(_render_chunk, (task,)))
        if len(pending) >= 2 * processes:
            yield from pending.popleft().get()
    while pending:
        yield from pending.popleft().get()


@dataclass(frozen=True)
class WriteStats:
    name: str
    path: str
    count: int
    seconds: float
    bytes: int

    @property
    def images_per_second(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0


def write_lmdb(dst: str | Path, name: str, ctx: RenderContext, profile: Profile | ProfileMix, seed: int, n: int,
               processes: int, chunk_size: int = 64, pool: Pool | None = None,
               progress: bool = False) -> WriteStats:
    """Render ``n`` samples of ``profile`` into a fresh LMDB at ``dst`` (atomically replaced); ``progress``:
    a bar named ``name`` counts the images."""
    t0 = time.perf_counter()
    total = 0
    samples = iter_parallel(ctx, profile, seed, stream_id(name), n, processes, chunk_size, pool)
    with LmdbWriter(dst) as writer:
        for image, label, char_x in track(samples, progress, total=n, desc=f"render {name}", unit="img"):
            writer.add(image, label, char_x)
            total += len(image)
    return WriteStats(name, str(dst), n, time.perf_counter() - t0, total)
