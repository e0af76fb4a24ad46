"""Faster CPU kernels for MobileNetV3's depthwise convolutions, BatchNorm + activation and squeeze-excite,
used only while training.

Paddle 3.3 runs ``depthwise_conv2d`` on CPU as a generic grouped convolution (one im2col and one tiny GEMM
per sample and channel: over half of a MobileNetV3 CRNN step); of the rest, BatchNorm with its activation
takes ~27% and the squeeze-excite pooling and broadcast multiply ~9%, all memory-bound passes that Paddle
makes more often than needed. The ``.cc`` files hold small Paddle custom operators doing the same
arithmetic (``kernels.cc``: depthwise conv, hardswish; ``batchnorm.cc``: training-mode BatchNorm fused with
relu/hardswish, running statistics updated in place; ``squeeze_excite.cc``: plane mean, channel scale).
They are compiled on first use with g++ (30-70 s) for the CPU they run on (``-march=native``: AVX-512 where
present, else AVX2), into a folder under ``$TEXTREC_EXTENSION_DIR`` or ``~/.cache/textrec/extensions`` named
by ``cache_key(key_inputs())``: the sources' content, the flags, paddle's version, the CPU and the Python ABI,
never a path, so checkouts and venvs with the same of those share one build, loaded as it is once complete.

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
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textrec.machine import cpu_flags, cpu_model
from textrec.runtime import quiet_paddle_import

SOURCES = tuple(Path(__file__).with_name(f) for f in ("kernels.cc", "batchnorm.cc", "squeeze_excite.cc"))
# -fno-trapping-math lets GCC vectorise the activation gradients' selects with AVX2 too (without it they stay
# scalar there: 1.7x slower steps); it changes no result
CXX_FLAGS = ("-O3", "-march=native", "-fopenmp-simd", "-fno-trapping-math")
EXTENSION_NAME = "textrec_kernels"
BUILT = "built.json"  # written into the build folder once its library is complete: what the key was made of


ACT_CODES = {None: 0, "relu": 1, "hardswish": 2}  # ConvBN activation -> textrec_bn_act's ``act``


class KernelBuildError(RuntimeError):
    """The custom kernels could not be compiled or loaded (they need g++ and the Python headers)."""


@dataclass(frozen=True)
class Kernels:
    dwconv2d: Callable  # (x [N,C,H,W], w [C,1,KH,KW], stride_h, stride_w, pad_h, pad_w) -> [N,C,Ho,Wo]
    hardswish: Callable  # x -> x * clip(x + 3, 0, 6) / 6, same shape
    bn_act: Callable  # (x, scale, bias, mean, variance, momentum, epsilon, act) -> (out, saved mean, inv std)
    plane_mean: Callable  # x [N, C, H, W] -> [N, C, 1, 1]
    channel_scale: Callable  # (x [N, C, H, W], s [N, C, 1, 1]) -> x * s


@dataclass(frozen=True)
class SwapPlan:
    depthwise: tuple = ()  # nn.Conv2D layers with groups == channels (see is_plain_depthwise)
    hardswish: tuple = ()  # MobileNetV3 ConvBN layers whose activation is hardswish (the hardswish kernel
    # runs those not in ``convbn``)
    convbn: tuple = ()  # MobileNetV3 ConvBN layers whose BatchNorm (+ activation) the fused kernel runs
    excite: tuple = ()  # MobileNetV3 SqueezeExcite layers (pooling and scaling by the kernels)

    def layers(self) -> tuple:
        """Every planned layer once (a hardswish ConvBN is usually in ``convbn`` too)."""
        planned = (*self.depthwise, *self.hardswish, *self.convbn, *self.excite)
        return tuple({id(layer): layer for layer in planned}.values())

    def __len__(self) -> int:
        return len(self.layers())


def key_inputs() -> dict[str, Any]:
    """Everything the compiled library depends on, and nothing else: the sources' content, the compiler
    flags, the paddle it links to, the CPU ``-march=native`` targets and the Python ABI. No path (of the
    checkout or of the venv) is in it, so checkouts and venvs with the same of these share one build."""
    import paddle

    return {"sources": {s.name: hashlib.sha256(s.read_bytes()).hexdigest() for s in SOURCES},
            "flags": list(CXX_FLAGS), "paddle": paddle.__version__, "cpu": _cpu_signature(),
            "python": sys.implementation.cache_tag}


def _cpu_signature() -> str:
    """What ``-march=native`` compiles for: a VM's model name can be generic, its instruction-set flags are
    not (a build with AVX-512 on a shared home must not load on an AVX2-only machine)."""
    return f"{cpu_model()} | {' '.join(sorted(cpu_flags()))}"


def cache_key(inputs: Mapping[str, Any]) -> str:
    """The build folder's name for ``key_inputs()``: a hash of their canonical JSON."""
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]


def build_directory() -> Path:
    """This machine's build folder for the current sources, flags, paddle and Python."""
    root = Path(os.environ.get("TEXTREC_EXTENSION_DIR", Path.home() / ".cache" / "textrec" / "extensions"))
    return root / f"{EXTENSION_NAME}-{cache_key(key_inputs())}"


def built_library(out: Path) -> Path | None:
    """The library of a complete build in ``out`` (its BUILT record written after the compile), or None."""
    library = out / EXTENSION_NAME / f"{EXTENSION_NAME}.so"  # where paddle's load() puts it
    return library if (out / BUILT).is_file() and library.is_file() else None


def _build(out: Path):
    """Compile with paddle's ``load`` and record the build as complete."""
    with quiet_paddle_import():
        from paddle.utils.cpp_extension import load

    module = load(name=EXTENSION_NAME, sources=[str(s) for s in SOURCES], extra_cxx_cflags=list(CXX_FLAGS),
                  build_directory=str(out))
    tmp = out / f"{BUILT}.tmp-{os.getpid()}"
    tmp.write_text(json.dumps(key_inputs(), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, out / BUILT)
    return module


def _open_built(out: Path):
    """Load a complete build as it is. paddle's public ``load()`` always runs its builder, which compares the
    source and include paths with the last build's and recompiles in place when another checkout or venv
    built it; the function it ends with loads the library alone. Its name is private, so without it (another
    paddle) the build runs again through ``load()``, slower but correct. The library links paddle by soname
    (libpaddle.so), which this process has already loaded from its own venv."""
    try:
        with quiet_paddle_import():
            from paddle.utils.cpp_extension.extension_utils import _import_module_from_library
    except ImportError:
        return _build(out)
    return _import_module_from_library(EXTENSION_NAME, str(out / EXTENSION_NAME))


@functools.cache  # one load per process: loading the library twice would register the operators twice
def load_kernels() -> Kernels:
    """Compile (once per build key, under a file lock so parallel ranks do not race) and load the operators."""
    out = build_directory()
    out.mkdir(parents=True, exist_ok=True)
    with open(out / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            module = _open_built(out) if built_library(out) is not None else _build(out)
        except Exception as exc:  # compiler missing, headers missing, ABI mismatch: all fatal here
            names = " + ".join(s.name for s in SOURCES)
            raise KernelBuildError(f"cannot build {names} in {out}: {exc}") from exc
    return Kernels(module.textrec_dwconv2d, module.textrec_hardswish, module.textrec_bn_act,
                   module.textrec_plane_mean, module.textrec_channel_scale)


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


def is_plain_batchnorm(layer) -> bool:
    """True for an ``nn.BatchNorm2D`` the fused kernel reproduces: NCHW, float32, with scale and bias, batch
    statistics while training (``use_global_stats`` unset or False)."""
    import paddle
    from paddle import nn

    return (isinstance(layer, nn.BatchNorm2D) and layer._data_format == "NCHW" and not layer._use_global_stats
            and layer.weight is not None and layer.bias is not None and layer.weight.dtype == paddle.float32)


def plan_swaps(model) -> SwapPlan:
    """The sublayers of ``model`` the kernels can take over (nothing for ResNet34_vd)."""
    from textrec.models.backbones.mobilenet_v3 import ConvBN, SqueezeExcite

    layers = model.sublayers()
    convbn = [layer for layer in layers if isinstance(layer, ConvBN)]
    return SwapPlan(depthwise=tuple(layer for layer in layers if is_plain_depthwise(layer)),
                    hardswish=tuple(layer for layer in convbn if layer.act == "hardswish"),
                    convbn=tuple(layer for layer in convbn
                                 if layer.act in ACT_CODES and is_plain_batchnorm(layer.bn)),
                    excite=tuple(layer for layer in layers if isinstance(layer, SqueezeExcite)))


def _depthwise_forward(conv, op: Callable, x):
    (sh, sw), (ph, pw) = conv._stride, conv._updated_padding
    return op(x, conv.weight, sh, sw, ph, pw)  # [N, C, H, W] -> [N, C, Ho, Wo]


def _convbn_hardswish_forward(block, op: Callable, x):
    return op(block.bn(block.conv(x)))  # ConvBN.forward with act="hardswish"


def _convbn_fused_forward(block, kernels: Kernels, x):
    """ConvBN.forward with BatchNorm (batch statistics, running statistics updated in place) and activation
    in one kernel. A BatchNorm in eval mode (``batch_norm: frozen`` recipes) runs paddle's, then the
    hardswish kernel or the plain activation."""
    bn = block.bn
    if not bn.training:
        if block.act == "hardswish":
            return _convbn_hardswish_forward(block, kernels.hardswish, x)
        return type(block).forward(block, x)
    out = kernels.bn_act(block.conv(x), bn.weight, bn.bias, bn._mean, bn._variance, bn._momentum,
                         bn._epsilon, ACT_CODES[block.act])[0]
    bn._mean.stop_gradient = bn._variance.stop_gradient = True  # the op marks its in-place outputs trainable
    return out


def _excite_forward(se, kernels: Kernels, x):
    """SqueezeExcite.forward with the pooling and the scaling by the kernels."""
    import paddle.nn.functional as F

    w = se.conv2(F.relu(se.conv1(kernels.plane_mean(x))))  # [N, C, 1, 1]
    return kernels.channel_scale(x, F.hardsigmoid(w, slope=0.2, offset=0.5))


@contextlib.contextmanager
def swapped(plan: SwapPlan, kernels: Kernels) -> Iterator[None]:
    """Route the ``forward`` of the planned layers to the kernels inside the block; restore after."""
    for conv in plan.depthwise:
        conv.forward = functools.partial(_depthwise_forward, conv, kernels.dwconv2d)
    fused = {id(block) for block in plan.convbn}
    for block in plan.hardswish:
        if id(block) not in fused:
            block.forward = functools.partial(_convbn_hardswish_forward, block, kernels.hardswish)
    for block in plan.convbn:
        block.forward = functools.partial(_convbn_fused_forward, block, kernels)
    for se in plan.excite:
        se.forward = functools.partial(_excite_forward, se, kernels)
    try:
        yield
    finally:
        for layer in plan.layers():
            del layer.forward
