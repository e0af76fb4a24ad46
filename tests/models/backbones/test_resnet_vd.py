import numpy as np
import paddle
import pytest

from textrec.models.backbones import build_backbone
from textrec.models.backbones.resnet_vd import BasicBlock, ConvBN, ResNet34vd


@pytest.fixture(scope="module")
def resnet() -> ResNet34vd:
    paddle.seed(4)
    net = build_backbone("resnet34_vd")
    net.eval()
    return net


@pytest.mark.parametrize("width, steps", [(100, 25), (200, 50)])
def test_backbone_output_shape(resnet, width, steps):
    assert resnet.out_channels == 512
    y = resnet(paddle.randn([2, 3, 32, width]))
    assert list(y.shape) == [2, 512, 1, steps]


def test_block_layout_is_resnet34(resnet):
    net = resnet
    names = [n for n, _ in net.named_children() if n.startswith("bb_")]
    assert len(names) == 3 + 4 + 6 + 3 and names[0] == "bb_0_0" and names[-1] == "bb_3_2"
    with_short = [n for n in names if getattr(net, n).short is not None]
    assert with_short == ["bb_0_0", "bb_1_0", "bb_2_0", "bb_3_0"]
    # the very first shortcut is a plain 1x1 conv; later strided ones average-pool first ("vd")
    assert net.bb_0_0.short._pool2d_avg is None
    assert all(getattr(net, n).short._pool2d_avg is not None for n in with_short[1:])


def test_vd_shortcut_is_avgpool_then_1x1_conv():
    paddle.seed(5)
    short = ConvBN(4, 6, 1, stride=(2, 1), vd_pool=True)
    short.eval()
    x = paddle.randn([1, 4, 8, 5])
    pooled = x.numpy().reshape(1, 4, 4, 2, 5).mean(axis=3)  # 2x1 average over H
    conv = np.einsum("oc,nchw->nohw", short._conv.weight.numpy()[:, :, 0, 0], pooled)
    bn = short._batch_norm
    want = (conv - bn._mean.numpy()[:, None, None]) / np.sqrt(bn._variance.numpy()[:, None, None] + 1e-5)
    want = want * bn.weight.numpy()[:, None, None] + bn.bias.numpy()[:, None, None]
    np.testing.assert_allclose(short(x).numpy(), want, atol=1e-5)


def test_basic_block_identity_shortcut_adds_input():
    paddle.seed(6)
    block = BasicBlock(8, 8, (1, 1), project=False, first=False)
    block.eval()
    x = paddle.randn([1, 8, 4, 6])
    inner = block.conv1(block.conv0(x)).numpy()
    np.testing.assert_allclose(block(x).numpy(), np.maximum(inner + x.numpy(), 0), atol=1e-6)
