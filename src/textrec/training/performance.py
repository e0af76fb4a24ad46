"""Fast CPU training without changing the model's mathematics: runtime settings and the training step.

    info = configure_runtime("cpu", threads=1)            # first, before any paddle computation
    step = build_train_step(model, opt, ctc_loss, static=False, amp=False)
    loss = step.forward_backward(images, labels, lengths)  # gradients computed, weights untouched
    step.update() if math.isfinite(float(loss)) else step.discard()
    # or simply: loss = step(images, labels, lengths)

What makes Paddle 3.3.1 slow on this project's CPUs and what these functions do about it (per-core
MobileNetV3 batch 64: 29-32 img per CPU-second as PaddleOCR trains, 85 here; bench/train_throughput.py):

* Paddle bundles MKL 2019.0.5, which on an AMD CPU takes its SSE code path (~37 GFLOP/s per core here
  against ~90 with AVX2). ``MKL_DEBUG_CPU_TYPE=5`` selects the AVX2 path (an MKL <= 2020.0 variable); MKL
  reads it when first used, so ``configure_runtime`` sets it (AMD CPUs with AVX2+FMA, unless already set)
  before the first GEMM. im2col + GEMM convolutions, the LSTM and the head get faster; ResNet34_vd 2.6-3x.
* Paddle allocates every tensor with malloc, and glibc unmaps large freed blocks, so each step page-faults
  its activations in again (MobileNetV3 at batch 256: 2.5 of 5.7 CPU seconds per step in the kernel);
  ``configure_runtime`` tells glibc to keep freed memory (``mallopt``).
* Paddle's CPU depthwise convolution is its generic grouped convolution (an im2col and a tiny GEMM per
  sample and channel): over half of a MobileNetV3 step; its hardswish gradient is ~20% of the rest.
  ``fast_kernels=True`` swaps in compiled kernels for those layers during the step only (``fast_kernels.py``).
* oneDNN (``FLAGS_use_mkldnn``/``FLAGS_use_onednn``) is ignored by eager mode and crashes Paddle 3.3.1's
  to_static training graphs (onednn squeeze_grad exception, segfault in run_program), so it is not used.
* ``paddle.jit.to_static`` of forward + loss (``static=True``) is numerically equal but gave no consistent
  gain at batch 64 (the ops, not Python, dominate) and was slower at batch 256, so it is off by default.
* Threads: Paddle runs one thread per process by default and a second thread only parallelises GEMMs
  (slower overall on a shared machine). Both cores are best used by two data-parallel processes
  (``python -m paddle.distributed.launch``), whose BatchNorm then sees each rank's half batch, as in
  PaddleOCR's own multi-device training.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from textrec.machine import cpu_flags, cpu_model, cpuinfo_field
from textrec.training.fast_kernels import load_kernels, plan_swaps, swapped

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
    """Apply the CPU settings for training in this process; call before the first paddle computation.

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
        if threads is not None:
            import paddle

            paddle.base.core.set_num_threads(threads)
    return RuntimeInfo(device, cpu_model(), os.cpu_count() or 1, threads, os.environ.get(MKL_CPU_TYPE_VAR), tuned)


class TrainStep:
    """One optimisation step of a CRNN: logits = net(images); loss = loss_fn(logits, labels, lengths);
    backward; optimizer update. Built by ``build_train_step``."""

    def __init__(self, net, optimizer, forward: Callable, swap: Callable[[], Any], scaler=None) -> None:
        self.net, self.optimizer, self.scaler = net, optimizer, scaler
        self._forward, self._swap = forward, swap  # (images, labels, lengths) -> loss; context of kernel swaps

    def forward_backward(self, images, labels, lengths):
        """Loss (scalar tensor) with gradients accumulated in the parameters; weights not yet updated."""
        with self._swap():
            loss = self._forward(images, labels, lengths)
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()
        return loss

    def update(self) -> None:
        """Apply the optimizer to the accumulated gradients, then clear them."""
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.optimizer.clear_grad()

    def discard(self) -> None:
        """Drop the accumulated gradients (e.g. after a non-finite loss)."""
        self.optimizer.clear_grad()

    def __call__(self, images, labels, lengths):
        loss = self.forward_backward(images, labels, lengths)
        self.update()
        return loss


def build_train_step(model, optimizer, loss_fn: Callable, *, static: bool = False, amp: bool = False,
                     fast_kernels: bool = True, net=None, scaler=None) -> TrainStep:
    """The training step for ``model`` (a CRNN in train mode) with ``optimizer`` and ``loss_fn(logits [B, T, C],
    labels [B, L], lengths [B]) -> scalar``.

    ``net``: what to call for the forward (e.g. ``paddle.DataParallel(model)``), default ``model``.
    ``static``: trace forward + loss once with ``paddle.jit.to_static(full_graph=True)``; the backward and
    the optimizer stay eager. Single process only (Paddle 3.3.1 cannot trace ``paddle.DataParallel``); the
    train/eval mode of the BatchNorms is frozen into the trace at the first call.
    ``amp``: float16 autocast (GPU only; pass the ``paddle.amp.GradScaler`` as ``scaler``).
    ``fast_kernels``: on CPU, run MobileNetV3's depthwise convolutions and hardswish with the compiled
    kernels (compiled on first use; raises ``KernelBuildError`` if that fails). Nothing to do for ResNet34_vd.
    """
    import paddle

    net = model if net is None else net
    on_cpu = paddle.get_device().startswith("cpu")
    if amp and on_cpu:
        raise ValueError("amp=True is GPU-only: CPU autocast would change the numerics of the recipe")
    if scaler is not None and not amp:
        raise ValueError("a GradScaler only makes sense with amp=True")
    if static and net is not model:
        raise ValueError("static=True needs net=model: paddle 3.3.1 cannot trace a paddle.DataParallel forward")

    def forward(images, labels, lengths):
        if amp:
            with paddle.amp.auto_cast():
                logits = net(images)  # [B, T, C]
        else:
            logits = net(images)
        return loss_fn(logits, labels, lengths)

    plan = plan_swaps(model) if fast_kernels and on_cpu else None
    if plan:
        kernels = load_kernels()

        def swap():
            return swapped(plan, kernels)
    else:
        swap = contextlib.nullcontext
    if static:
        forward = paddle.jit.to_static(forward, full_graph=True)
    return TrainStep(net, optimizer, forward, swap, scaler)
