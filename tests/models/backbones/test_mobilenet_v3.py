import numpy as np
import paddle
import pytest

from textrec.models.backbones import build_backbone
from textrec.models.backbones.mobilenet_v3 import MobileNetV3, ResidualUnit, SqueezeExcite, make_divisible


def test_make_divisible_matches_the_scaled_channel_table():
    # scale 0.5 of MobileNetV3-large's expansion sizes (PaddleOCR key list shapes)
    assert [make_divisible(0.5 * v) for v in (16, 64, 72, 120, 240, 200, 184, 480, 672, 960)] == [
        8, 32, 40, 64, 120, 104, 96, 240, 336, 480]
    assert make_divisible(3) == 8  # min_value = divisor


@pytest.mark.parametrize("width, steps", [(100, 25), (200, 50)])
def test_backbone_output_shape(width, steps):
    paddle.seed(1)
    net = build_backbone("mobilenet_v3")
    assert isinstance(net, MobileNetV3) and net.out_channels == 480
    net.eval()
    y = net(paddle.randn([2, 3, 32, width]))
    assert list(y.shape) == [2, 480, 1, steps]


def test_residual_unit_shortcut_and_stride():
    paddle.seed(2)
    same = ResidualUnit(8, 8, 8, 3, (1, 1), use_se=False, act="relu")
    down = ResidualUnit(8, 32, 16, 3, (2, 1), use_se=True, act="hardswish")
    assert same.use_shortcut and not down.use_shortcut
    x = paddle.randn([2, 8, 16, 50])
    assert list(same(x).shape) == [2, 8, 16, 50]
    assert list(down(x).shape) == [2, 16, 8, 50]  # (2, 1) stride halves H only


def test_squeeze_excite_gates_with_paddleocr_hardsigmoid():
    paddle.seed(3)
    se = SqueezeExcite(8)
    x = paddle.randn([2, 8, 4, 5])
    pooled = x.numpy().mean(axis=(2, 3))  # [2, 8]
    w1, b1 = se.conv1.weight.numpy()[:, :, 0, 0], se.conv1.bias.numpy()
    w2, b2 = se.conv2.weight.numpy()[:, :, 0, 0], se.conv2.bias.numpy()
    gate = np.maximum(pooled @ w1.T + b1, 0) @ w2.T + b2
    gate = np.clip(0.2 * gate + 0.5, 0, 1)  # hardsigmoid(slope=0.2, offset=0.5), not paddle's default 1/6
    np.testing.assert_allclose(se(x).numpy(), x.numpy() * gate[:, :, None, None], atol=1e-6)
