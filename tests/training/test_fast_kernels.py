"""The custom CPU kernels against Paddle's own, and the confinement of their use to the training step.

The first test compiles kernels.cc (20-60 s once per machine, cached in ~/.cache/textrec/extensions).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

paddle = pytest.importorskip("paddle")
F = paddle.nn.functional

from textrec.models.crnn import build_model  # noqa: E402
from textrec.training.fast_kernels import (  # noqa: E402
    ACT_CODES,
    BUILT,
    SOURCES,
    build_directory,
    built_library,
    cache_key,
    is_plain_batchnorm,
    is_plain_depthwise,
    key_inputs,
    load_kernels,
    plan_swaps,
    swapped,
)
from textrec.training.step import build_train_step  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="the custom kernels need g++")


@pytest.mark.parametrize(("n", "c", "h", "w", "k", "stride", "pad"), [
    (3, 8, 16, 50, 3, (2, 1), 1),  # MobileNetV3 shapes: stride on H only
    (2, 6, 4, 25, 5, (1, 1), 2),
    (2, 4, 7, 9, 3, (2, 2), 1),    # stride on W too, odd sizes
    (1, 3, 6, 8, 5, (1, 2), 0),    # no padding
    (2, 5, 3, 4, 3, (3, 1), 2),    # padding larger than half the kernel
    (2, 3, 6, 37, 5, (1, 1), 2),   # width not a multiple of the vector length
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


@pytest.mark.parametrize(("shape", "act"), [
    ((4, 3, 16, 50), "hardswish"),  # MobileNetV3 shapes
    ((5, 6, 2, 25), "relu"),
    ((3, 4, 3, 7), None),           # odd plane size
])
def test_bn_act_kernel_matches_paddle(shape, act) -> None:
    """Training-mode BatchNorm2D + activation: output, gradients of input, scale and bias, and the running
    mean and variance (updated in place) equal paddle's BatchNorm2D followed by the activation."""
    op = load_kernels().bn_act
    rng = np.random.default_rng(3)
    c = shape[1]
    xn = (rng.standard_normal(shape) * 2 + 0.5).astype("float32")
    params = [rng.standard_normal(c).astype("float32") for _ in range(2)] + [
        rng.uniform(-1, 1, c).astype("float32"), rng.uniform(0.5, 2, c).astype("float32")]
    upstream = paddle.to_tensor(rng.standard_normal(shape).astype("float32"))
    activate = {None: lambda z: z, "relu": F.relu, "hardswish": F.hardswish}[act]
    results = []
    for fused in (False, True):
        bn = paddle.nn.BatchNorm2D(c, momentum=0.9, epsilon=1e-5)
        bn.train()
        for tensor, value in zip((bn.weight, bn.bias, bn._mean, bn._variance), params, strict=True):
            tensor.set_value(value)
        x = paddle.to_tensor(xn, stop_gradient=False)
        y = (op(x, bn.weight, bn.bias, bn._mean, bn._variance, 0.9, 1e-5, ACT_CODES[act])[0] if fused
             else activate(bn(x)))
        (y * upstream).sum().backward()
        results.append((y.numpy(), x.grad.numpy(), bn.weight.grad.numpy(), bn.bias.grad.numpy(),
                        bn._mean.numpy(), bn._variance.numpy()))
    for want, got in zip(*results, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert not np.allclose(results[1][4], params[2])  # the running mean moved


def test_squeeze_excite_kernels_match_paddle() -> None:
    """Plane mean = adaptive average pooling to 1x1; channel scale = broadcast multiply; values and gradients."""
    k = load_kernels()
    rng = np.random.default_rng(4)
    xn = rng.standard_normal((3, 5, 4, 25)).astype("float32")
    sn = rng.uniform(0, 1, (3, 5, 1, 1)).astype("float32")
    results = []
    for pool, scale in ((lambda x: F.adaptive_avg_pool2d(x, 1), lambda x, s: x * s), (k.plane_mean, k.channel_scale)):
        x, s = paddle.to_tensor(xn, stop_gradient=False), paddle.to_tensor(sn, stop_gradient=False)
        pooled, scaled = pool(x), scale(x, s)
        (pooled.sum() * 3 + (scaled * scaled).sum()).backward()
        results.append((pooled.numpy(), scaled.numpy(), x.grad.numpy(), s.grad.numpy()))
    for want, got in zip(*results, strict=True):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_swap_is_confined_to_the_step() -> None:
    model = build_model("mobilenet_v3", 37)
    model.train()
    opt = paddle.optimizer.Adam(parameters=model.parameters())
    plan = plan_swaps(model)
    assert len(plan.depthwise) == 15  # one per MobileNetV3 block
    assert len(plan.hardswish) == 20  # stem, conv2, expand + depthwise ConvBN of the 9 hardswish blocks
    assert len(plan.convbn) == 47  # stem, conv2 and the three ConvBN of each of the 15 blocks
    assert len(plan.excite) == 8
    assert not plan_swaps(build_model("resnet34_vd", 37))
    assert not is_plain_depthwise(paddle.nn.Conv2D(4, 4, 3, groups=4, dilation=2))
    assert not is_plain_batchnorm(paddle.nn.BatchNorm2D(4, use_global_stats=True))
    layers = plan.layers()
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


def test_frozen_batchnorm_is_left_to_paddle() -> None:
    """BatchNorm in eval mode (``batch_norm: frozen``): the swapped forward normalises with the running
    statistics and leaves them as they are, like paddle's layers."""
    from textrec.training.validate import set_train_mode

    paddle.seed(5)
    model = build_model("mobilenet_v3", 37)
    set_train_mode(model, "frozen")
    x = paddle.to_tensor(np.random.default_rng(6).uniform(-1, 1, (2, 3, 32, 100)).astype("float32"))
    want = model(x).numpy()
    stats = {k: v.numpy().copy() for k, v in model.state_dict().items() if k.endswith(("_mean", "_variance"))}
    with swapped(plan_swaps(model), load_kernels()):
        got = model(x).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    for name, value in stats.items():
        np.testing.assert_array_equal(model.state_dict()[name].numpy(), value, err_msg=name)


def test_bad_input_is_refused() -> None:
    k = load_kernels()
    with pytest.raises(OSError, match="float32"):
        k.hardswish(paddle.zeros([2, 3], "float64"))
    with pytest.raises(OSError, match=r"\[C, 1, KH, KW\]"):
        k.dwconv2d(paddle.zeros([1, 4, 5, 5]), paddle.zeros([3, 1, 3, 3]), 1, 1, 1, 1)
    with pytest.raises(OSError, match="C elements"):
        k.bn_act(paddle.zeros([2, 4, 3, 3]), *(paddle.ones([3]) for _ in range(4)), 0.9, 1e-5, 0)
    with pytest.raises(OSError, match=r"\[N, C, 1, 1\]"):
        k.channel_scale(paddle.zeros([2, 4, 3, 3]), paddle.zeros([2, 4, 3, 1]))


def test_cache_key_changes_with_each_input_and_only_with_them(tmp_path: Path, monkeypatch) -> None:
    inputs = key_inputs()
    assert set(inputs) == {"sources", "flags", "paddle", "cpu", "python"}
    assert set(inputs["sources"]) == {s.name for s in SOURCES}  # by content hash: no path anywhere
    assert str(SOURCES[0].parent) not in json.dumps(inputs) and sys.prefix not in json.dumps(inputs)
    key = cache_key(inputs)
    assert cache_key(json.loads(json.dumps(inputs))) == key  # stable: the same inputs, the same key
    changed = [{**inputs, "sources": {**inputs["sources"], "kernels.cc": "0" * 64}},
               {**inputs, "flags": [*inputs["flags"], "-DNDEBUG"]}, {**inputs, "paddle": "3.2.0"},
               {**inputs, "cpu": inputs["cpu"] + " avx512f"}, {**inputs, "python": "cpython-312"}]
    assert len({key, *map(cache_key, changed)}) == 1 + len(changed)  # each input: another key
    # the folder is named by the key (two keys, two folders), under $TEXTREC_EXTENSION_DIR
    monkeypatch.setenv("TEXTREC_EXTENSION_DIR", str(tmp_path))
    assert build_directory() == tmp_path / f"textrec_kernels-{key}"


def test_only_a_complete_build_is_reused(tmp_path: Path) -> None:
    """A folder whose compile did not finish (no BUILT record, or no library) is built again, not loaded."""
    library = tmp_path / "textrec_kernels" / "textrec_kernels.so"
    assert built_library(tmp_path) is None
    library.parent.mkdir()
    library.write_bytes(b"half-written")  # a compile killed before the record
    assert built_library(tmp_path) is None
    (tmp_path / BUILT).write_text("{}")
    assert built_library(tmp_path) == library
    library.unlink()
    assert built_library(tmp_path) is None


# Another checkout (its own path, files newer than the build) loading the kernels in its own process: it must
# find this checkout's build by key and load it as it is. Before issue 19 paddle's builder saw other source
# paths (and, from another venv, other include paths) and rebuilt the library in place, 30-70 s each time.
OTHER_CHECKOUT = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("other_checkout_fast_kernels", sys.argv[1])
fast_kernels = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fast_kernels)
import paddle
kernels = fast_kernels.load_kernels()
print(json.dumps({"dir": str(fast_kernels.build_directory()),
                  "hardswish": float(kernels.hardswish(paddle.to_tensor([1.0]))[0])}))
"""


def test_another_checkout_reuses_the_build(tmp_path: Path) -> None:
    load_kernels()  # built once per machine (or found) by this checkout
    out = build_directory()
    library = built_library(out)
    assert library is not None
    before = library.stat()
    other = tmp_path / "checkout" / "src" / "textrec" / "training"
    other.mkdir(parents=True)
    module = Path(sys.modules[load_kernels.__module__].__file__)
    for f in (module, *SOURCES):
        shutil.copy(f, other / f.name)  # same content, another path, a newer mtime
    proc = subprocess.run([sys.executable, "-c", OTHER_CHECKOUT, str(other / module.name)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["dir"] == str(out)  # same sources, flags, paddle: the same folder
    assert got["hardswish"] == pytest.approx(2 / 3)  # 1 * (1 + 3) / 6: the library works there
    assert "Compiling" not in proc.stdout  # paddle's "Compiling user custom op ..." when it builds
    after = library.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # loaded as it was
    assert json.loads((out / BUILT).read_text()) == key_inputs()  # what the folder's name stands for
