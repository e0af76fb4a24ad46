"""CTC head (PaddleOCR ``CTCHead`` without mid channels): one Linear per time step.

Shape: [N, T, in_channels] -> [N, T, num_classes]; logits in training mode, softmax probabilities
(over the class axis) in eval mode, as PaddleOCR's exported/eval models output.

A *folded* head (``fold``, training/init.py) keeps the S columns of a checkpoint trained with a larger
dictionary and sums their probabilities into this run's K classes: ``fold`` [S, K] is 0/1, one 1 per row
(``a`` and ``A`` -> ``a``; characters the run drops -> the blank). Eval mode returns softmax(fc(x)) @ fold, the
checkpoint's own probabilities grouped, exactly; training mode returns the per-group logsumexp, whose softmax
is that same distribution, so the CTC loss (which applies log_softmax) trains the grouped probabilities. No
K-column linear layer computes log(p_a + p_A) (README "Starting weights"): this one does.
"""

from __future__ import annotations

import math

import numpy as np
import paddle
import paddle.nn.functional as F
from paddle import nn

_TINY = 1e-30  # a group whose every column underflows: log(1e-30) ~ -69 below the frame's best, not -inf


class CTCHead(nn.Layer):
    """``fc``: weight [in_channels, columns] (paddle Linear layout), bias [columns]; columns = num_classes, or
    the fold's S rows when folded (``fold`` [S, num_classes], a buffer saved with the weights, not trained).

    Initialised Uniform(-1/sqrt(in), 1/sqrt(in)) with a per-parameter L2 decay of ``fc_decay`` (PaddleOCR's
    CRNN configs use 0, which also shields the head from an optimizer-wide weight decay).
    """

    def __init__(self, in_channels: int, num_classes: int, fc_decay: float = 0.0,
                 fold: np.ndarray | None = None) -> None:
        super().__init__()
        stdv = 1.0 / math.sqrt(in_channels)

        def attr() -> paddle.ParamAttr:
            return paddle.ParamAttr(regularizer=paddle.regularizer.L2Decay(fc_decay),
                                    initializer=nn.initializer.Uniform(-stdv, stdv))

        columns = num_classes
        if fold is not None:
            fold = check_fold(fold)
            if fold.shape[1] != num_classes:
                raise ValueError(f"the fold groups into {fold.shape[1]} classes, the head has {num_classes}")
            columns = fold.shape[0]
            self.register_buffer("fold", paddle.to_tensor(fold), persistable=True)
        else:
            self.fold = None
        self.fc = nn.Linear(in_channels, columns, weight_attr=attr(), bias_attr=attr())
        self.out_channels = num_classes

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        z = self.fc(x)  # [N, T, columns]
        if self.fold is None:
            return z if self.training else F.softmax(z, axis=2)
        if not self.training:
            return paddle.matmul(F.softmax(z, axis=2), self.fold)  # [N, T, K]
        top = z.max(axis=2, keepdim=True).detach()  # [N, T, 1]
        summed = paddle.matmul(paddle.exp(z - top), self.fold)  # [N, T, K], each group's sum of exp
        return paddle.log(paddle.clip(summed, min=_TINY)) + top


def check_fold(fold: np.ndarray) -> np.ndarray:
    """``fold`` as float32 [S, K], or ValueError: 0/1 entries, exactly one 1 per row, every class some row."""
    fold = np.asarray(fold, dtype=np.float32)
    if fold.ndim != 2 or not np.isin(fold, (0.0, 1.0)).all() or not (fold.sum(axis=1) == 1).all():
        raise ValueError(f"a head fold must be 0/1 [columns, classes] with one 1 per row, got shape {fold.shape}")
    if not (fold.sum(axis=0) >= 1).all():
        raise ValueError("a head fold leaves a class without a column")
    return fold
