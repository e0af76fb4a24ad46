from __future__ import annotations

import math

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from textrec.training.loss import ctc_loss


def test_matches_hand_computed_ctc():
    # T=2, classes {blank, a}, label "a": paths a-a, a-blank, blank-a.
    logits = np.log(np.array([[[0.3, 0.7], [0.6, 0.4]]], np.float32))  # [B=1, T=2, C=2], rows sum to 1
    p = np.exp(logits)[0]
    want = -math.log(p[0, 1] * p[1, 1] + p[0, 1] * p[1, 0] + p[0, 0] * p[1, 1])
    got = float(ctc_loss(paddle.to_tensor(logits), paddle.to_tensor([[1]]), paddle.to_tensor([1])))
    assert got == pytest.approx(want, rel=1e-5)


def test_paddleocr_reduction_is_batch_mean_not_length_normalised():
    paddle.seed(0)
    logits = paddle.randn([3, 25, 37])
    labels = paddle.to_tensor(np.array([[1, 2, 3, 4, 5, 0], [7, 8, 0, 0, 0, 0], [9, 9, 9, 1, 0, 0]]))
    lengths = paddle.to_tensor([5, 2, 4])
    per = F.ctc_loss(logits.transpose([1, 0, 2]), labels.astype("int32"), paddle.full([3], 25, "int64"),
                     lengths.astype("int64"), blank=0, reduction="none").numpy().ravel()
    ours = float(ctc_loss(logits, labels, lengths))
    assert ours == pytest.approx(per.mean(), rel=1e-5)  # PaddleOCR: raw logits, 'none', then mean
    paddle_mean = float(F.ctc_loss(logits.transpose([1, 0, 2]), labels.astype("int32"),
                                   paddle.full([3], 25, "int64"), lengths.astype("int64"), reduction="mean"))
    assert paddle_mean == pytest.approx((per / np.array([5, 2, 4])).mean(), rel=1e-5)
    assert abs(ours - paddle_mean) > 1.0
