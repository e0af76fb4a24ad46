"""Faster CPU kernels for MobileNetV3's depthwise convolutions and hardswish, used only while training.

Paddle 3.3 runs ``depthwise_conv2d`` on CPU as a generic grouped convolution (one im2col and one tiny GEMM
per sample and channel: over half of a MobileNetV3 CRNN step) and its ``hardswish_grad`` at ~5 ns per
element (~20% of what remains). ``kernels.cc`` holds two small Paddle custom operators doing the same
arithmetic; it is compiled on first use with g++ (20-40 s, cached under ``$TEXTREC_EXTENSION_DIR`` or
``~/.cache/textrec/extensions``, keyed by source, flags, paddle version, CPU and Python).

    kernels = load_kernels()                 # raises KernelBuildError if it cannot be compiled
    plan = plan_swaps(model)                 # the layers the kernels reproduce exactly
    with swapped(plan, kernels):             # only inside: forward (and backward) use the kernels
        loss = loss_fn(model(x), ...)

Outside the ``with`` block the model is untouched, so evaluation, checkpoints and export see the plain
layers (same parameters, same names). Results equal Paddle's kernels up to float rounding.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from textrec.machine import cpu_model

SOURCE = Path(__file__).with_name("kernels.cc")
CXX_FLAGS = ("-O3", "-march=native", "-fopenmp-simd")
EXTENSION_NAME = "textrec_kernels"


class KernelBuildError(RuntimeError):
    """The custom kernels could not be compiled or loaded (they need g++ and the Python headers)."""


@dataclass(frozen=True)
class Kernels:
    dwconv2d: Callable  # (x [N,C,H,W], w [C,1,KH,KW], stride_h, stride_w, pad_h, pad_w) -> [N,C,Ho,Wo]
    hardswish: Callable  # x -> x * clip(x + 3, 0, 6) / 6, same shape


@dataclass(frozen=True)
class SwapPlan:
    depthwise: tuple = ()  # nn.Conv2D layers with groups == channels (see is_plain_depthwise)
    hardswish: tuple = ()  # MobileNetV3 ConvBN layers whose activation is hardswish

    def __len__(self) -> int:
        return len(self.depthwise) + len(self.hardswish)


def build_directory() -> Path:
    """Where the compiled operators are cached; another source, flag set, paddle, CPU or Python gets its own."""
    import paddle

    root = Path(os.environ.get("TEXTREC_EXTENSION_DIR", Path.home() / ".cache" / "textrec" / "extensions"))
    key = hashlib.sha256()
    for part in (SOURCE.read_bytes(), " ".join(CXX_FLAGS).encode(), paddle.__version__.encode(),
                 cpu_model().encode(), sys.version.encode()):
        key.update(part)
    return root / f"{EXTENSION_NAME}-{key.hexdigest()[:16]}"


@functools.cache  # one load per process: loading the library twice would register the operators twice
def load_kernels() -> Kernels:
    """Compile (once per machine, under a file lock so parallel ranks do not race) and load the operators."""
    from paddle.utils.cpp_extension import load

    out = build_directory()
    out.mkdir(parents=True, exist_ok=True)
    with open(out / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            module = load(name=EXTENSION_NAME, sources=[str(SOURCE)], extra_cxx_cflags=list(CXX_FLAGS),
                          build_directory=str(out))
        except Exception as exc:  # compiler missing, headers missing, ABI mismatch: all fatal here
            raise KernelBuildError(f"cannot build {SOURCE.name} in {out}: {exc}") from exc
    return Kernels(module.textrec_dwconv2d, module.textrec_hardswish)


def is_plain_depthwise(layer) -> bool:
    """True for an ``nn.Conv2D`` the kernel reproduces exactly: groups = in = out channels, float32, NCHW,
    no bias, dilation 1, symmetric zero padding."""
    import paddle
    from paddle import nn

    if not isinstance(layer, nn.Conv2D):
        return False
    w = layer.weight
    return (layer._groups == layer._in_channels == layer._out_channels and layer.bias is None
            and layer._data_format == "NCHW" and layer._padding_mode == "zeros"
            and list(layer._dilation) == [1, 1] and layer._padding_algorithm == "EXPLICIT"
            and len(layer._updated_padding) == 2 and len(layer._stride) == 2
            and list(w.shape[:2]) == [layer._out_channels, 1] and w.dtype == paddle.float32)


def plan_swaps(model) -> SwapPlan:
    """The sublayers of ``model`` the kernels can take over (nothing for ResNet34_vd)."""
    from textrec.models.backbones.mobilenet_v3 import ConvBN

    layers = model.sublayers()
    return SwapPlan(depthwise=tuple(layer for layer in layers if is_plain_depthwise(layer)),
                    hardswish=tuple(layer for layer in layers if isinstance(layer, ConvBN)
                                    and layer.act == "hardswish"))


def _depthwise_forward(conv, op: Callable, x):
    (sh, sw), (ph, pw) = conv._stride, conv._updated_padding
    return op(x, conv.weight, sh, sw, ph, pw)  # [N, C, H, W] -> [N, C, Ho, Wo]


def _convbn_hardswish_forward(block, op: Callable, x):
    return op(block.bn(block.conv(x)))  # ConvBN.forward with act="hardswish"


@contextlib.contextmanager
def swapped(plan: SwapPlan, kernels: Kernels) -> Iterator[None]:
    """Route the ``forward`` of the planned layers to the kernels inside the block; restore after."""
    for conv in plan.depthwise:
        conv.forward = functools.partial(_depthwise_forward, conv, kernels.dwconv2d)
    for block in plan.hardswish:
        block.forward = functools.partial(_convbn_hardswish_forward, block, kernels.hardswish)
    try:
        yield
    finally:
        for layer in (*plan.depthwise, *plan.hardswish):
            del layer.forward
