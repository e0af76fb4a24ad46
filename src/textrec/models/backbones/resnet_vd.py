"""ResNet34_vd as PaddleOCR's recognition backbone (``rec_resnet_vd``, ``layers: 34``).

Shape: [N, 3, 32, W] -> [N, 512, 1, W/4]. Three 3x3 stem convs (stride 1), a 3x3/2 max-pool (H, W halved),
4 stages of BasicBlocks (3, 4, 6, 3) whose first block strides (2, 1) from stage 2 on (H only:
16 -> 8 -> 4 -> 2), then a 2x2 max-pool (H = 1, W/4). "vd": a strided shortcut average-pools first, then
applies a stride-1 1x1 conv. Parameter names follow PaddleOCR: ``conv1_{1,2,3}``, ``bb_{stage}_{i}.{conv0,conv1,short}``,
each with ``_conv`` and ``_batch_norm``.
"""

from __future__ import annotations

import paddle
import paddle.nn.functional as F
from paddle import nn

Stride = tuple[int, int]

DEPTHS = (3, 4, 6, 3)
WIDTHS = (64, 128, 256, 512)


class ConvBN(nn.Layer):
    """[avg-pool (vd)] -> Conv2D (no bias) -> BatchNorm (eps 1e-5) -> [ReLU]."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: Stride = (1, 1),
                 relu: bool = False, vd_pool: bool = False) -> None:
        super().__init__()
        self.relu = relu
        # vd: the stride moves from the 1x1 conv into an average pool, so no input pixel is skipped
        self._pool2d_avg = (nn.AvgPool2D(kernel_size=stride, stride=stride, padding=0, ceil_mode=True)
                            if vd_pool else None)
        self._conv = nn.Conv2D(in_channels, out_channels, kernel_size, stride=(1, 1) if vd_pool else stride,
                               padding=(kernel_size - 1) // 2, bias_attr=False)
        self._batch_norm = nn.BatchNorm2D(out_channels, momentum=0.9, epsilon=1e-5)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        if self._pool2d_avg is not None:
            x = self._pool2d_avg(x)
        y = self._batch_norm(self._conv(x))
        return F.relu(y) if self.relu else y


class BasicBlock(nn.Layer):
    """relu(conv1(conv0(x)) + short(x)); ``short`` is a 1x1 ConvBN on the first block of each stage."""

    def __init__(self, in_channels: int, out_channels: int, stride: Stride, project: bool, first: bool) -> None:
        super().__init__()
        self.conv0 = ConvBN(in_channels, out_channels, 3, stride=stride, relu=True)
        self.conv1 = ConvBN(out_channels, out_channels, 3)
        self.short = (ConvBN(in_channels, out_channels, 1, stride=stride, vd_pool=not first and stride[0] != 1)
                      if project else None)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        y = self.conv1(self.conv0(x))
        short = x if self.short is None else self.short(x)
        return F.relu(short + y)


class ResNet34vd(nn.Layer):
    """Shape: [N, in_channels, 32, W] -> [N, 512, 1, W/4]."""

    def __init__(self, in_channels: int = 3) -> None:
        super().__init__()
        self.conv1_1 = ConvBN(in_channels, 32, 3, relu=True)
        self.conv1_2 = ConvBN(32, 32, 3, relu=True)
        self.conv1_3 = ConvBN(32, 64, 3, relu=True)
        self.pool2d_max = nn.MaxPool2D(kernel_size=3, stride=2, padding=1)  # H/2, W/2
        self.block_list: list[BasicBlock] = []  # registered below as bb_{stage}_{i}
        channels = 64
        for stage, (depth, width) in enumerate(zip(DEPTHS, WIDTHS, strict=True)):
            for i in range(depth):
                stride = (2, 1) if i == 0 and stage != 0 else (1, 1)
                block = BasicBlock(channels, width, stride, project=i == 0, first=stage == 0 and i == 0)
                self.block_list.append(self.add_sublayer(f"bb_{stage}_{i}", block))
                channels = width
        self.out_channels = channels
        self.out_pool = nn.MaxPool2D(kernel_size=2, stride=2, padding=0)  # [N, 512, 2, W/2] -> [N, 512, 1, W/4]

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        y = self.pool2d_max(self.conv1_3(self.conv1_2(self.conv1_1(x))))
        for block in self.block_list:
            y = block(y)
        return self.out_pool(y)
