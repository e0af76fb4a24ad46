"""The custom CPU kernels against Paddle's own, and the confinement of their use to the training step.

The first test compiles kernels.cc (20-60 s once per machine, cached in ~/.cache/textrec/extensions).
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

paddle = pytest.importorskip("paddle")
F = paddle.nn.functional

from textrec.models.crnn import build_model  # noqa: E402
from textrec.training.fast_kernels import is_plain_depthwise, load_kernels, plan_swaps, swapped  # noqa: E402
from textrec.training.step import build_train_step  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="the custom kernels need g++")


@pytest.mark.parametrize(("n", "c", "h", "w", "k", "stride", "pad"), [
    (3, 8, 16, 50, 3, (2, 1), 1),  # MobileNetV3 shapes: stride on H only
    (2, 6, 4, 25, 5, (1, 1), 2),
    (2, 4, 7, 9, 3, (2, 2), 1),    # stride on W too, odd sizes
    (1, 3, 6, 8, 5, (1, 2), 0),    # no padding
    (2, 5, 3, 4, 3, (3, 1), 2),    # padding larger than half the kernel
])
def test_depthwise_kernel_matches_paddle_conv(n, c, h, w, k, stride, pad) -> None:
    """Output, input gradient and weight gradient of the kernel equal paddle's depthwise conv2d."""
    op = load_kernels().dwconv2d
    rng = np.random.default_rng(1)
    xn, wn = rng.standard_normal((n, c, h, w)).astype("float32"), rng.standard_normal((c, 1, k, k)).astype("float32")
    ho, wo = (h + 2 * pad - k) // stride[0] + 1, (w + 2 * pad - k) // stride[1] + 1
    upstream = paddle.to_tensor(rng.standard_normal((n, c, ho, wo)).astype("float32"))  # dLoss/dOut
    results = []
    for conv in (lambda x, f: F.conv2d(x, f, stride=stride, padding=pad, groups=c),
                 lambda x, f: op(x, f, stride[0], stride[1], pad, pad)):
        x, f = paddle.to_tensor(xn, stop_gradient=False), paddle.to_tensor(wn, stop_gradient=False)
        y = conv(x, f)
        (y * upstream).sum().backward()
        results.append((y.numpy(), x.grad.numpy(), f.grad.numpy()))
    for want, got in zip(*results, strict=True):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_hardswish_kernel_matches_paddle() -> None:
    """Value and gradient equal paddle's hardswish, the kinks at -3 and 3 included."""
    op = load_kernels().hardswish
    rng = np.random.default_rng(2)
    xn = np.concatenate([rng.uniform(-5, 5, 995), [-3.0, 3.0, 0.0, -3.0001, 2.9999]]).astype("float32")
    upstream = paddle.to_tensor(rng.standard_normal(xn.shape).astype("float32"))
    results = []
    for fn in (F.hardswish, op):
        x = paddle.to_tensor(xn.reshape(2, 1, 2, -1), stop_gradient=False)  # any shape
        y = fn(x)
        (y * upstream.reshape(x.shape)).sum().backward()
        results.append((y.numpy(), x.grad.numpy()))
    for want, got in zip(*results, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_swap_is_confined_to_the_step() -> None:
    model = build_model("mobilenet_v3", 37)
    model.train()
    opt = paddle.optimizer.Adam(parameters=model.parameters())
    plan = plan_swaps(model)
    assert len(plan.depthwise) == 15  # one per MobileNetV3 block
    assert len(plan.hardswish) == 20  # stem, conv2, expand + depthwise ConvBN of the 9 hardswish blocks
    assert not plan_swaps(build_model("resnet34_vd", 37))
    assert not is_plain_depthwise(paddle.nn.Conv2D(4, 4, 3, groups=4, dilation=2))
    layers = (*plan.depthwise, *plan.hardswish)
    with swapped(plan, load_kernels()):
        assert all("forward" in layer.__dict__ for layer in layers)
    assert not any("forward" in layer.__dict__ for layer in layers)

    def failing_loss(logits, labels, lengths):
        assert all("forward" in layer.__dict__ for layer in layers)  # the forward ran swapped
        raise RuntimeError("loss failed")

    step = build_train_step(model, opt, failing_loss)
    with pytest.raises(RuntimeError, match="loss failed"):
        step.loss(paddle.zeros([2, 3, 32, 100]), paddle.ones([2, 25], "int64"), paddle.ones([2], "int64"))
    assert not any("forward" in layer.__dict__ for layer in layers)  # restored after the failure


def test_bad_input_is_refused() -> None:
    k = load_kernels()
    with pytest.raises(OSError, match="float32"):
        k.hardswish(paddle.zeros([2, 3], "float64"))
    with pytest.raises(OSError, match=r"\[C, 1, KH, KW\]"):
        k.dwconv2d(paddle.zeros([1, 4, 5, 5]), paddle.zeros([3, 1, 3, 3]), 1, 1, 1, 1)
