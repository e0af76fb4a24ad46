"""MobileNetV3-large (scale 0.5) as PaddleOCR's recognition backbone (``rec_mobilenet_v3``, ``large_stride=[1,2,2,2]``).

Shape: [N, 3, 32, W] -> [N, 480, 1, W/4]. The stem halves H and W; three blocks stride (2, 1) so only H
shrinks (32 -> 16 -> 8 -> 4 -> 2); the final 2x2 max-pool gives H = 1 and W/4.
Parameter names follow PaddleOCR: ``conv1``, ``blocks.{i}.{expand_conv,bottleneck_conv,mid_se,linear_conv}``,
``conv2``, each ConvBN with ``conv`` and ``bn``.
"""

from __future__ import annotations

from typing import Literal

import paddle
import paddle.nn.functional as F
from paddle import nn

Activation = Literal["relu", "hardswish"]
Stride = tuple[int, int]

# (kernel, expanded channels, out channels, squeeze-excite, activation, stride) before scaling
LARGE_BLOCKS: tuple[tuple[int, int, int, bool, Activation, Stride], ...] = (
    (3, 16, 16, False, "relu", (1, 1)),
    (3, 64, 24, False, "relu", (2, 1)),
    (3, 72, 24, False, "relu", (1, 1)),
    (5, 72, 40, True, "relu", (2, 1)),
    (5, 120, 40, True, "relu", (1, 1)),
    (5, 120, 40, True, "relu", (1, 1)),
    (3, 240, 80, False, "hardswish", (1, 1)),
    (3, 200, 80, False, "hardswish", (1, 1)),
    (3, 184, 80, False, "hardswish", (1, 1)),
    (3, 184, 80, False, "hardswish", (1, 1)),
    (3, 480, 112, True, "hardswish", (1, 1)),
    (3, 672, 112, True, "hardswish", (1, 1)),
    (5, 672, 160, True, "hardswish", (2, 1)),
    (5, 960, 160, True, "hardswish", (1, 1)),
    (5, 960, 160, True, "hardswish", (1, 1)),
)
STEM_CHANNELS = 16
LAST_CHANNELS = 960


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round ``v`` to the nearest multiple of ``divisor`` (at least ``min_value``), never below 90% of ``v``."""
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


def _activate(x: paddle.Tensor, act: Activation | None) -> paddle.Tensor:
    if act == "relu":
        return F.relu(x)
    if act == "hardswish":
        return F.hardswish(x)  # x * relu6(x + 3) / 6
    return x


class ConvBN(nn.Layer):
    """Conv2D (no bias) -> BatchNorm (eps 1e-5) -> optional activation. [N, Cin, H, W] -> [N, Cout, H', W']."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: Stride = (1, 1),
                 groups: int = 1, act: Activation | None = None) -> None:
        super().__init__()
        self.act = act
        self.conv = nn.Conv2D(in_channels, out_channels, kernel_size, stride=stride,
                              padding=(kernel_size - 1) // 2, groups=groups, bias_attr=False)
        self.bn = nn.BatchNorm2D(out_channels, momentum=0.9, epsilon=1e-5)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return _activate(self.bn(self.conv(x)), self.act)


class SqueezeExcite(nn.Layer):
    """Channel gating: x * hardsigmoid(conv2(relu(conv1(avgpool(x))))), slope 0.2, offset 0.5. Shape kept."""

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2D(1)
        self.conv1 = nn.Conv2D(channels, channels // reduction, 1)
        self.conv2 = nn.Conv2D(channels // reduction, channels, 1)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        w = self.avg_pool(x)  # [N, C, 1, 1]
        w = self.conv2(F.relu(self.conv1(w)))
        return x * F.hardsigmoid(w, slope=0.2, offset=0.5)


class ResidualUnit(nn.Layer):
    """Inverted residual: 1x1 expand -> kxk depthwise (stride) -> [SE] -> 1x1 linear, + input when shapes match."""

    def __init__(self, in_channels: int, mid_channels: int, out_channels: int, kernel_size: int,
                 stride: Stride, use_se: bool, act: Activation) -> None:
        super().__init__()
        self.use_shortcut = stride == (1, 1) and in_channels == out_channels
        self.expand_conv = ConvBN(in_channels, mid_channels, 1, act=act)
        self.bottleneck_conv = ConvBN(mid_channels, mid_channels, kernel_size, stride=stride,
                                      groups=mid_channels, act=act)
        self.mid_se = SqueezeExcite(mid_channels) if use_se else None
        self.linear_conv = ConvBN(mid_channels, out_channels, 1, act=None)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        y = self.bottleneck_conv(self.expand_conv(x))
        if self.mid_se is not None:
            y = self.mid_se(y)
        y = self.linear_conv(y)
        return x + y if self.use_shortcut else y


class MobileNetV3(nn.Layer):
    """Shape: [N, in_channels, 32, W] -> [N, 480, 1, W/4] (scale 0.5)."""

    def __init__(self, in_channels: int = 3, scale: float = 0.5) -> None:
        super().__init__()
        channels = make_divisible(STEM_CHANNELS * scale)
        self.conv1 = ConvBN(in_channels, channels, 3, stride=(2, 2), act="hardswish")  # H/2, W/2
        blocks = []
        for kernel, expand, out, use_se, act, stride in LARGE_BLOCKS:
            out_channels = make_divisible(scale * out)
            blocks.append(ResidualUnit(channels, make_divisible(scale * expand), out_channels, kernel,
                                       stride, use_se, act))
            channels = out_channels
        self.blocks = nn.Sequential(*blocks)
        self.out_channels = make_divisible(scale * LAST_CHANNELS)
        self.conv2 = ConvBN(channels, self.out_channels, 1, act="hardswish")
        self.pool = nn.MaxPool2D(kernel_size=2, stride=2, padding=0)  # [N, C, 2, W/2] -> [N, C, 1, W/4]

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.pool(self.conv2(self.blocks(self.conv1(x))))
