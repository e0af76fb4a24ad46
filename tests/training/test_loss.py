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


def test_frame_targets_put_each_character_at_its_centre_frame_and_mask_collisions():
    from textrec.training.loss import frame_targets

    pos = np.array([[0.02, 0.5, 0.99, np.nan], [0.30, 0.31, np.nan, np.nan], [0.5, np.nan, np.nan, np.nan]],
                   np.float32)
    labels = np.array([[3, 4, 5, 0], [6, 7, 0, 0], [1, 2, 0, 0]])
    lengths = np.array([3, 2, 2])  # sample 2: a second character without a centre
    targets, chars, blanks = frame_targets(pos, labels, lengths, frames=25)
    assert np.flatnonzero(targets[0]).tolist() == [0, 12, 24] and targets[0, [0, 12, 24]].tolist() == [3, 4, 5]
    assert chars[0].sum() == 3 and blanks[0].sum() == 22 and (chars[0] + blanks[0] == 1).all()
    assert chars[1:].sum() == 0 and blanks[1:].sum() == 0  # two centres in frame 7; an unknown centre
    _, chars1, blanks1 = frame_targets(pos, labels, lengths, frames=25, ignore_radius=1)
    assert (chars1 == chars).all() and np.flatnonzero(blanks1[0] == 0).tolist() == [0, 1, 11, 12, 13, 23, 24]


def test_frame_loss_is_ctc_without_centres_and_balances_characters_and_blanks():
    from textrec.training.loss import ctc_frame_loss, frame_ce, frame_targets

    paddle.seed(1)
    logits = paddle.randn([2, 25, 37])
    labels = paddle.to_tensor(np.array([[1, 2, 0], [3, 0, 0]]))
    lengths = paddle.to_tensor([2, 1])
    plain = float(ctc_loss(logits, labels, lengths))
    nan = np.full((2, 3), np.nan, np.float32)
    assert float(ctc_frame_loss(logits, labels, lengths, char_pos=nan, frame_weight=5.0)) == plain
    pos = np.array([[0.1, 0.6, np.nan], [0.5, np.nan, np.nan]], np.float32)
    assert float(ctc_frame_loss(logits, labels, lengths, char_pos=pos, frame_weight=0.0)) == plain
    targets, chars, blanks = frame_targets(pos, labels.numpy(), lengths.numpy(), 25)
    logp = np.log(F.softmax(logits, axis=2).numpy())
    nll = -np.take_along_axis(logp, targets[:, :, None], axis=2)[:, :, 0]
    want = (nll * chars).sum() / chars.sum() + (nll * blanks).sum() / blanks.sum()
    assert float(frame_ce(logits, targets, chars, blanks)) == pytest.approx(want, rel=1e-5)
    both = float(ctc_frame_loss(logits, labels, lengths, char_pos=pos, frame_weight=2.0))
    assert both == pytest.approx(plain + 2.0 * want, rel=1e-5)
