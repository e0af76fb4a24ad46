"""CTC head (PaddleOCR ``CTCHead`` without mid channels): one Linear per time step.

Shape: [N, T, in_channels] -> [N, T, num_classes]; logits in training mode, softmax probabilities
(over the class axis) in eval mode, as PaddleOCR's exported/eval models output.
"""

from __future__ import annotations

import math

import paddle
import paddle.nn.functional as F
from paddle import nn


class CTCHead(nn.Layer):
    """``fc``: weight [in_channels, num_classes] (paddle Linear layout), bias [num_classes].

    Initialised Uniform(-1/sqrt(in), 1/sqrt(in)) with a per-parameter L2 decay of ``fc_decay`` (PaddleOCR's
    CRNN configs use 0, which also shields the head from an optimizer-wide weight decay).
    """

    def __init__(self, in_channels: int, num_classes: int, fc_decay: float = 0.0) -> None:
        super().__init__()
        stdv = 1.0 / math.sqrt(in_channels)

        def attr() -> paddle.ParamAttr:
            return paddle.ParamAttr(regularizer=paddle.regularizer.L2Decay(fc_decay),
                                    initializer=nn.initializer.Uniform(-stdv, stdv))

        self.fc = nn.Linear(in_channels, num_classes, weight_attr=attr(), bias_attr=attr())
        self.out_channels = num_classes

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        logits = self.fc(x)  # [N, T, num_classes]
        return logits if self.training else F.softmax(logits, axis=2)
