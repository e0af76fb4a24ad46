"""Device choice and data-parallel plumbing (``python -m paddle.distributed.launch`` sets the env vars).

One process: world size 1, nothing to synchronise. Several: ``init_parallel_env`` (NCCL on GPU, gloo on
CPU: the launcher exports PADDLE_DISTRI_BACKEND=gloo when no GPU is found), ``paddle.DataParallel``
averages gradients in ``backward``, and every decision that changes the control flow (skip a non-finite
batch, stop on the time budget) is agreed by an all-reduce so no rank waits forever in a collective.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1
    device: str = "cpu"  # what paddle.set_device received, e.g. "cpu", "gpu:0"

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def launched_world_size() -> int:
    """World size announced by paddle.distributed.launch (1 when started directly)."""
    return int(os.environ.get("PADDLE_TRAINERS_NUM", "1"))


def resolve_device(device: Literal["auto", "cpu", "gpu"]) -> Literal["cpu", "gpu"]:
    import paddle

    has_gpu = paddle.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0
    if device == "auto":
        return "gpu" if has_gpu else "cpu"
    if device == "gpu" and not has_gpu:
        raise RuntimeError("device 'gpu' requested but paddle has no CUDA device (CPU build or no GPU)")
    return device


def setup(device: Literal["auto", "cpu", "gpu"], cpu_threads: int | None = None) -> DistContext:
    """Select the device, set CPU threads, and join the process group when launched with several ranks."""
    import paddle
    import paddle.distributed as dist

    kind = resolve_device(device)
    world = launched_world_size()
    if kind == "gpu":
        # the launcher gives each rank its device id in FLAGS_selected_gpus
        sel = os.environ.get("FLAGS_selected_gpus") or os.environ.get("PADDLE_LOCAL_RANK", "0")  # noqa: SIM112
        local = int(sel.split(",")[0])
        name = f"gpu:{local}"
    else:
        name = "cpu"
    paddle.set_device(name)
    if kind == "cpu" and cpu_threads is not None:
        # paddle has no public setter; this is what OMP_NUM_THREADS controls at import time.
        paddle.base.core.set_num_threads(cpu_threads)
    if world > 1:
        dist.init_parallel_env()
        return DistContext(dist.get_rank(), dist.get_world_size(), name)
    return DistContext(0, 1, name)


def agree(ctx: DistContext, loss: float, flags: list[bool]) -> tuple[float, list[bool]]:
    """Mean of ``loss`` and logical OR of each flag over all ranks, in one all-reduce (identity for one
    process). A non-finite loss on any rank makes the mean non-finite too."""
    if not ctx.distributed:
        return loss, flags
    import paddle
    import paddle.distributed as dist

    t = paddle.to_tensor([loss, *(1.0 if f else 0.0 for f in flags)], dtype="float64")
    dist.all_reduce(t)  # sum
    values = t.numpy().tolist()
    return values[0] / ctx.world_size, [v > 0 for v in values[1:]]


def all_sum(ctx: DistContext, values: list[float]) -> list[float]:
    """Element-wise sum of ``values`` over all ranks (identity for one process)."""
    if not ctx.distributed:
        return values
    import paddle
    import paddle.distributed as dist

    t = paddle.to_tensor(values, dtype="float64")
    dist.all_reduce(t)
    return t.numpy().tolist()


# Ranks wait for one another through the launcher's TCP store, not a gloo collective: gloo gives up after
# 30 s, and rank 0 alone may take longer than that (opening the MLflow run on a loaded machine took 34 s and
# killed a demo run; a download of init weights; a checkpoint written to a slow disk). The store waits up to
# its own timeout (FLAGS_stop_check_timeout, 900 s by default).
_BARRIERS = "textrec/barrier"


def _store():
    from paddle.base import core

    return core.create_or_get_global_tcp_store()  # the one the launcher's ranks joined


def barrier(ctx: DistContext) -> None:
    """Every rank waits here until all have arrived, however long one of them took to get here."""
    if not ctx.distributed:
        return
    store = _store()
    n = store.add(f"{_BARRIERS}/count/{ctx.rank}", 1)  # this rank's n-th barrier: the same n on every rank
    arrived = f"{_BARRIERS}/{n}"
    if store.add(arrived, 1) == ctx.world_size:  # the last to arrive lets everyone go
        store.set(f"{arrived}/open", b"1")
    store.wait(f"{arrived}/open")


def wait_for_main(ctx: DistContext, key: str) -> None:
    """Rank 0 says it finished something only it does (``key``: unique within the run); the other ranks wait
    for that, however long it took, before their next collective."""
    if not ctx.distributed:
        return
    store = _store()
    if ctx.is_main:
        store.set(f"textrec/main/{key}", b"1")
    else:
        store.wait(f"textrec/main/{key}")


def launch_command(script: str, argv: list[str], nproc: int, log_dir: str) -> list[str]:
    """The command that runs ``script argv`` as ``nproc`` data-parallel ranks under paddle's launcher
    (gloo on CPU). Ranks' logs go to ``log_dir/workerlog.<rank>``; rank 0's is also echoed."""
    import sys

    return [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", str(nproc), "--log_dir",
            log_dir, script, *argv]
