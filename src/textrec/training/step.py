"""The training step, shared by the trainer and bench/train_throughput.py: same mathematics, faster kernels.

    step = build_train_step(model, opt, ctc_loss, fast_kernels=True)
    loss = step.loss(images, labels, lengths)   # forward + loss, weights untouched
    step.apply(loss) if math.isfinite(float(loss)) else step.discard()
    # or simply: loss = step(images, labels, lengths)

What the options do on this project's CPUs (per-core MobileNetV3 batch 64: 29-32 img per CPU-second as
PaddleOCR trains; with ``textrec.runtime`` settings and the kernels 108 on the 2-core Intel Xeon (family 6
model 207, quiet), where the earlier depthwise/hardswish-only kernels gave 77; those gave 94 on the AMD
EPYC. Two data-parallel processes on that Xeon: 189 img/s, 146 with the earlier kernels):

* Paddle's CPU depthwise convolution is its generic grouped convolution (an im2col and a tiny GEMM per
  sample and channel): over half of a MobileNetV3 step. Of the rest, BatchNorm + activation (~27%) and
  the squeeze-excite pooling/multiply (~9%) are memory-bound passes that Paddle makes more often than
  needed (one core of that Xeon streams only ~10 GB/s, so each pass over the activations counts).
  ``fast_kernels=True`` swaps in compiled kernels for those layers during the forward only
  (``fast_kernels.py``); the backward replays the ops the forward recorded.
* oneDNN (``FLAGS_use_mkldnn``/``FLAGS_use_onednn``) is ignored by eager mode and crashes Paddle 3.3.1's
  to_static training graphs (onednn squeeze_grad exception, segfault in run_program), so it is not used.
* ``paddle.jit.to_static`` of forward + loss (``static=True``) is numerically equal but gave no consistent
  gain at batch 64 (the ops, not Python, dominate) and was slower at batch 256, so it is off by default.
* Two data-parallel processes (``python -m paddle.distributed.launch``) use both cores better than two
  threads in one; their BatchNorms then see each rank's half batch, as in PaddleOCR's multi-device training.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from textrec.training.fast_kernels import KernelBuildError, load_kernels, plan_swaps, swapped

log = logging.getLogger("textrec.training")


class TrainStep:
    """One optimisation step of a CRNN: logits = net(images); loss = loss_fn(logits, labels, lengths);
    backward; optimizer update. Built by ``build_train_step``; ``optimizer`` and ``scaler`` stay public
    for the learning-rate schedule and checkpoints."""

    def __init__(self, optimizer, forward: Callable, kernels: Callable[[], AbstractContextManager],
                 scaler=None) -> None:
        self.optimizer, self.scaler = optimizer, scaler
        self._forward, self._kernels = forward, kernels  # (images, labels, lengths) -> loss; kernel swap context

    def loss(self, images, labels, lengths, **extra):
        """Forward + loss (scalar tensor, graph kept for ``apply``); parameters untouched. The BatchNorm
        running statistics do move (train mode). ``extra`` goes to the loss function (e.g. ``char_pos``,
        ``frame_weight`` of ``ctc_frame_loss``)."""
        with self._kernels():
            return self._forward(images, labels, lengths, **extra)

    def apply(self, loss) -> None:
        """Backward from ``loss`` (scaled under AMP), optimizer update, gradients cleared."""
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            self.optimizer.step()
        self.optimizer.clear_grad()

    def discard(self) -> None:
        """Drop whatever gradients are accumulated (after a non-finite loss: no update)."""
        self.optimizer.clear_grad()

    def __call__(self, images, labels, lengths, **extra):
        loss = self.loss(images, labels, lengths, **extra)
        self.apply(loss)
        return loss


def _kernel_context(model, fast_kernels: bool, on_cpu: bool, require_kernels: bool):
    plan = plan_swaps(model) if fast_kernels and on_cpu else None
    if not plan:  # GPU, ResNet34_vd (nothing to swap) or switched off
        return contextlib.nullcontext
    try:
        kernels = load_kernels()
    except KernelBuildError as exc:
        if require_kernels:
            raise
        log.warning("fast CPU kernels unavailable, training with paddle's (about 2x slower): %s", exc)
        return contextlib.nullcontext

    def swap() -> AbstractContextManager:
        return swapped(plan, kernels)
    return swap


def build_train_step(model, optimizer, loss_fn: Callable, *, static: bool = False, amp: bool = False,
                     fast_kernels: bool = True, require_kernels: bool = True, net=None,
                     scaler=None) -> TrainStep:
    """The training step for ``model`` (a CRNN in train mode) with ``optimizer`` and ``loss_fn(logits [B, T, C],
    labels [B, L], lengths [B], **extra) -> scalar``.

    ``net``: what to call for the forward (e.g. ``paddle.DataParallel(model)``), default ``model``.
    ``static``: trace forward + loss once with ``paddle.jit.to_static(full_graph=True)``; the backward and
    the optimizer stay eager. Single process only (Paddle 3.3.1 cannot trace ``paddle.DataParallel``); the
    train/eval mode of the BatchNorms is frozen into the trace at the first call.
    ``amp``: float16 autocast (GPU only; pass the ``paddle.amp.GradScaler`` as ``scaler``).
    ``fast_kernels``: on CPU, run MobileNetV3's depthwise convolutions, BatchNorms with their activations
    and squeeze-excite pooling/scaling with the compiled kernels (compiled on first use). Nothing to swap
    for ResNet34_vd. When they cannot be compiled (no g++
    or Python headers) ``require_kernels`` raises ``KernelBuildError``, otherwise a warning and paddle's own.
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

    def forward(images, labels, lengths, **extra) -> Any:
        if amp:
            with paddle.amp.auto_cast():
                logits = net(images)  # [B, T, C]
        else:
            logits = net(images)
        return loss_fn(logits, labels, lengths, **extra)

    kernels = _kernel_context(model, fast_kernels, on_cpu, require_kernels)
    if static:
        forward = paddle.jit.to_static(forward, full_graph=True)
    return TrainStep(optimizer, forward, kernels, scaler)
