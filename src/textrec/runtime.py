"""CPU runtime settings for paddle in this process, set once before its first computation.

    info = configure_runtime("cpu", threads=2)   # training, evaluation and export stages call this first

What makes Paddle 3.3.1 slow on this project's CPUs, and what this does about it (bench/train_throughput.py;
ResNet34_vd evaluation of 200 images: 50 s plain, 17.5 s with these settings, 10 s with 2 threads):

* Paddle bundles MKL 2019.0.5, which on an AMD CPU takes its SSE code path (~37 GFLOP/s per core here
  against ~90 with AVX2). ``MKL_DEBUG_CPU_TYPE=5`` selects the AVX2 path (an MKL <= 2020.0 variable); MKL
  reads it when first used, so it must be set before the first GEMM. im2col + GEMM convolutions, the LSTM
  and the head get faster; ResNet34_vd 2.6-3x. On Intel CPUs MKL picks its AVX-512 kernels by itself, and
  they are the fast ones: on a 2-core Xeon (family 6 model 207) forcing AVX2 (this variable, or
  ``MKL_ENABLE_INSTRUCTIONS=AVX2``) made MobileNetV3's 1x1 convolutions 1.7x and its LSTM 1.6x slower, so
  nothing is set there. (AMX is not reachable: MKL 2019 predates it and eager Paddle does not use oneDNN.)
* Paddle allocates every tensor with malloc, and glibc unmaps large freed blocks, so each step page-faults
  its activations in again (MobileNetV3 training at batch 256: 2.5 of 5.7 CPU seconds per step in the
  kernel); glibc is told to keep freed memory (``mallopt``).
* Threads: Paddle runs one thread per process by default; a second thread only parallelises GEMMs. For
  training, two data-parallel processes use two cores better (``training.step``); for inference in a
  stage that has the machine to itself, ``threads=os.cpu_count()``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from textrec.machine import cpu_flags, cpu_model, cpuinfo_field

MKL_CPU_TYPE_VAR = "MKL_DEBUG_CPU_TYPE"
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4  # glibc mallopt parameters (malloc.h)


@dataclass(frozen=True)
class RuntimeInfo:
    """What ``configure_runtime`` found and set (goes into logs and the benchmark report)."""

    device: str
    cpu: str
    cores: int
    threads: int | None  # paddle CPU threads set, None = paddle's default (1)
    mkl_cpu_type: str | None  # value of MKL_DEBUG_CPU_TYPE in effect
    malloc_tuned: bool  # glibc keeps freed tensor memory instead of unmapping it


@contextmanager
def quiet_paddle_import() -> Iterator[None]:
    """Within this block, importing paddle does not warn "No ccache found".

    ``import paddle`` imports ``paddle.utils.cpp_extension``, which warns (UserWarning, once per process, at
    import) that ccache, a C++ compiler cache, is missing: noise in every stage log and from ``Recognizer()``
    with a .pdparams model, and irrelevant to us (the fast kernels are built once per machine and cached).
    Entry points wrap their work in it (``textrec.cli``, the stages), loaders their import of paddle; only
    this warning is dropped, and the warning filters are as before once the block ends."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="No ccache found", category=UserWarning)
        yield


def _is_amd_avx2() -> bool:
    return cpuinfo_field("vendor_id") == "AuthenticAMD" and {"avx2", "fma"} <= cpu_flags()


def _keep_freed_memory() -> bool:
    """Ask glibc to serve every allocation from its heap and never give freed memory back to the kernel.

    Paddle allocates each CPU tensor with malloc. glibc maps blocks above its mmap threshold (at most 32 MB)
    afresh and unmaps them on free, so every large activation of every step page-faults again: at batch
    256, 2.5 of 5.7 CPU seconds per MobileNetV3 step were spent in the kernel. False off glibc."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 1 << 30))


def configure_runtime(device: str = "cpu", threads: int | None = None, *, mkl_avx2: bool = True,
                      keep_freed_memory: bool = True) -> RuntimeInfo:
    """Apply the CPU settings in this process (training, evaluation, export); call it before the first
    paddle computation.

    ``threads``: paddle's CPU threads (MKL/OpenMP) for this process; None keeps paddle's default (1).
    ``mkl_avx2``: on AMD CPUs with AVX2+FMA set MKL_DEBUG_CPU_TYPE=5 unless the variable is already set
    (it is inherited by data-parallel workers started afterwards).
    ``keep_freed_memory``: glibc heap for every allocation, never trimmed (see ``_keep_freed_memory``);
    the process keeps its peak memory. No effect on GPU devices.
    """
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    tuned = False
    if device.startswith("cpu"):
        if mkl_avx2 and _is_amd_avx2():
            os.environ.setdefault(MKL_CPU_TYPE_VAR, "5")
        if keep_freed_memory:
            tuned = _keep_freed_memory()
    # the first import of paddle in the stages, their training ranks and Recognizer (after MKL's variable and
    # the allocator settings, as before): without its import-time noise
    with quiet_paddle_import():
        import paddle
    if device.startswith("cpu") and threads is not None:
        paddle.base.core.set_num_threads(threads)
    return RuntimeInfo(device, cpu_model(), os.cpu_count() or 1, threads, os.environ.get(MKL_CPU_TYPE_VAR), tuned)
