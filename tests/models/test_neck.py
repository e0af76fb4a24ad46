import numpy as np
import paddle
import pytest

from textrec.models.neck import Im2Seq, SequenceNeck


def test_im2seq_moves_columns_to_time_axis():
    x = paddle.arange(2 * 3 * 5, dtype="float32").reshape([2, 3, 1, 5])
    y = Im2Seq()(x)
    assert list(y.shape) == [2, 5, 3]
    np.testing.assert_array_equal(y.numpy(), x.numpy()[:, :, 0, :].transpose(0, 2, 1))


def test_im2seq_rejects_height_above_one():
    with pytest.raises(ValueError, match="height 1"):
        Im2Seq()(paddle.zeros([1, 3, 2, 5]))


@pytest.mark.parametrize("in_ch, hidden, width", [(480, 96, 25), (512, 256, 25), (480, 96, 50)])
def test_neck_shape(in_ch, hidden, width):
    paddle.seed(7)
    neck = SequenceNeck(in_ch, hidden)
    assert neck.out_channels == 2 * hidden
    y = neck(paddle.randn([2, in_ch, 1, width]))
    assert list(y.shape) == [2, width, 2 * hidden]


def test_lstm_is_bidirectional_two_layer_with_shared_alias_names():
    neck = SequenceNeck(16, 4)
    state = neck.state_dict()
    flat = [k for k in state if "_l" in k]
    cells = [k for k in state if ".cell_" in k]
    assert len(flat) == len(cells) == 16
    # paddle exposes each LSTM weight under two names that are one tensor
    assert state["encoder.lstm.weight_ih_l1_reverse"] is state["encoder.lstm.1.cell_bw.weight_ih"]
    assert list(state["encoder.lstm.weight_ih_l1"].shape) == [16, 8]  # layer 2 reads both directions


def test_backward_direction_sees_the_future():
    # the reverse LSTM makes step 0 depend on the last input column
    paddle.seed(8)
    neck = SequenceNeck(4, 3)
    x = paddle.randn([1, 4, 1, 6])
    x2 = x.clone()
    x2[0, :, 0, 5] = x2[0, :, 0, 5] + 1.0
    y, y2 = neck(x).numpy(), neck(x2).numpy()
    assert np.abs(y[0, 0] - y2[0, 0]).max() > 1e-4  # a forward-only LSTM would leave step 0 unchanged
