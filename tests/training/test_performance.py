"""The optimised training step must compute what the plain eager step computes (loss, gradients, update),
and the runtime settings must hold what they promise.

The first test needing the custom kernels compiles them (20-60 s once per machine, cached in
~/.cache/textrec/extensions; see test_fast_kernels.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

paddle = pytest.importorskip("paddle")
F = paddle.nn.functional

from textrec.models.crnn import build_model  # noqa: E402
from textrec.training.loss import ctc_loss  # noqa: E402
from textrec.training.performance import build_train_step, configure_runtime  # noqa: E402

needs_compiler = pytest.mark.skipif(shutil.which("g++") is None, reason="the custom kernels need g++")


def _batch(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n, 3, 32, 100)).astype("float32")  # normalised images
    lengths = rng.integers(1, 11, n)
    labels = np.zeros((n, 25), "int64")
    for i, k in enumerate(lengths):
        labels[i, :k] = rng.integers(1, 37, k)
    return paddle.to_tensor(x), paddle.to_tensor(labels), paddle.to_tensor(lengths.astype("int64"))


def _twin_models(backbone: str = "mobilenet_v3"):
    """Two CRNNs with identical weights, each with its own Adam (PaddleOCR's betas)."""
    paddle.seed(7)
    a = build_model(backbone, 37)
    b = build_model(backbone, 37)
    b.set_state_dict(a.state_dict())
    out = []
    for m in (a, b):
        m.train()
        out.append((m, paddle.optimizer.Adam(learning_rate=1e-3, beta1=0.9, beta2=0.999,
                                             parameters=m.parameters())))
    return out


def _grads(model) -> dict[str, np.ndarray]:
    return {n: p.grad.numpy() for n, p in model.named_parameters() if p.grad is not None}


def _assert_close(got: dict, want: dict, rtol: float, atol: float) -> None:
    assert got.keys() == want.keys()
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=rtol, atol=atol, err_msg=name)


def _negligible(grads: dict) -> set[str]:
    """Tensors whose gradient is rounding noise (below 1e-3 of the largest gradient norm), e.g. the bias of a
    BN whose output feeds another BN: zero in exact arithmetic."""
    norms = {n: float(np.linalg.norm(g)) for n, g in grads.items()}
    return {n for n, v in norms.items() if v < 1e-3 * max(norms.values())}


def _assert_close_normwise(got: dict, want: dict, rel: float, skip: set[str], ref: dict | None = None) -> None:
    """||got - want|| <= rel * ||ref|| over all tensors not in ``skip``, and <= 5 * rel * ||ref|| for each
    (``ref`` defaults to ``want``)."""
    ref = want if ref is None else ref
    assert got.keys() == want.keys()
    names = [n for n in want if n not in skip]
    norms = {n: float(np.linalg.norm(ref[n])) for n in names}
    total = np.sqrt(sum(float(np.sum((got[n] - want[n]) ** 2)) for n in names))
    assert total <= rel * np.sqrt(sum(v * v for v in norms.values())), f"overall difference {total}"
    for n in names:
        diff = float(np.linalg.norm(got[n] - want[n]))
        assert diff <= 5 * rel * norms[n], f"{n}: |diff| {diff:.3g} vs |ref| {norms[n]:.3g}"


@needs_compiler
def test_fast_step_equals_plain_eager_step() -> None:
    """Same weights, same batch: the loss, every gradient, the BN statistics and the Adam update agree.

    Tolerances are norm-wise because the randomly initialised network amplifies rounding: a 1e-7 relative
    perturbation of block 0's depthwise output alone moves the stem's weight gradient by ~1.5e-3 (measured),
    and the two kernels round differently. The kernel itself is checked strictly above.
    """
    (plain, plain_opt), (fast, fast_opt) = _twin_models()
    step = build_train_step(fast, fast_opt, ctc_loss, static=False, amp=False, fast_kernels=True)
    images, labels, lengths = _batch(6)
    want = ctc_loss(plain(images), labels, lengths)
    want.backward()
    got = step.forward_backward(images, labels, lengths)
    np.testing.assert_allclose(float(got), float(want), rtol=1e-5)
    _assert_close_normwise(_grads(fast), _grads(plain), rel=1e-2, skip=_negligible(_grads(plain)))
    _assert_close({n: b.numpy() for n, b in fast.named_buffers()},  # BN running statistics
                  {n: b.numpy() for n, b in plain.named_buffers()}, rtol=1e-5, atol=1e-6)
    plain_opt.step()
    step.update()
    assert not _grads(fast) or not any(np.any(g) for g in _grads(fast).values())  # cleared
    # Adam's first step moves each weight by ~lr * sign(grad): only weights whose gradient is within
    # rounding of zero may move differently (by at most 2 * lr)
    diff = np.concatenate([np.abs(a.numpy() - b.numpy()).ravel()
                           for a, b in zip(plain.parameters(), fast.parameters(), strict=True)
                           if not a.stop_gradient])
    assert diff.max() <= 2e-3 + 1e-6
    assert np.mean(diff > 1e-5) < 0.01


@pytest.mark.parametrize("fast", [False, pytest.param(True, marks=needs_compiler)])
def test_static_step_equals_plain_eager_step(fast: bool) -> None:
    """to_static of forward + loss (with or without the custom kernels) against the plain eager step."""
    (plain, plain_opt), (fast_model, fast_opt) = _twin_models()
    step = build_train_step(fast_model, fast_opt, ctc_loss, static=True, amp=False, fast_kernels=fast)
    images, labels, lengths = _batch(4, seed=3)
    want = ctc_loss(plain(images), labels, lengths)
    want.backward()
    got = step.forward_backward(images, labels, lengths)
    np.testing.assert_allclose(float(got), float(want), rtol=1e-5)
    if fast:
        _assert_close_normwise(_grads(fast_model), _grads(plain), rel=1e-2, skip=_negligible(_grads(plain)))
    else:  # the same kernels: equal up to the static executor's rounding
        _assert_close(_grads(fast_model), _grads(plain), rtol=1e-4, atol=1e-6)
    step.update()
    plain_opt.step()
    diff = np.concatenate([np.abs(a.numpy() - b.numpy()).ravel()
                           for a, b in zip(plain.parameters(), fast_model.parameters(), strict=True)
                           if not a.stop_gradient])
    assert diff.max() <= 2e-3 + 1e-6 and np.mean(diff > 1e-5) < 0.01


def test_discard_drops_gradients_without_updating() -> None:
    (model, opt), _ = _twin_models()
    before = {n: p.numpy().copy() for n, p in model.named_parameters() if not p.stop_gradient}
    step = build_train_step(model, opt, ctc_loss, fast_kernels=False)
    step.forward_backward(*_batch(2))
    assert _grads(model)
    step.discard()
    assert not any(np.any(g) for g in _grads(model).values())
    for n, p in model.named_parameters():
        if not p.stop_gradient:  # BN running statistics are non-trainable parameters updated by the forward
            np.testing.assert_array_equal(p.numpy(), before[n], err_msg=n)


def test_unsupported_combinations_are_refused() -> None:
    (model, opt), _ = _twin_models()
    with pytest.raises(ValueError, match="GPU-only"):
        build_train_step(model, opt, ctc_loss, amp=True)
    with pytest.raises(ValueError, match="DataParallel"):
        build_train_step(model, opt, ctc_loss, static=True, net=paddle.nn.Sequential(model))


def test_configure_runtime(monkeypatch) -> None:
    monkeypatch.delenv("MKL_DEBUG_CPU_TYPE", raising=False)
    info = configure_runtime("cpu", threads=1, keep_freed_memory=False)  # malloc: see the next test
    assert info.threads == 1 and info.cores == os.cpu_count() and info.cpu
    cpuinfo = Path("/proc/cpuinfo").read_text()
    assert (info.mkl_cpu_type == "5") == ("AuthenticAMD" in cpuinfo and " avx2" in cpuinfo and " fma" in cpuinfo)
    assert not info.malloc_tuned
    monkeypatch.setenv("MKL_DEBUG_CPU_TYPE", "2")  # a user's explicit choice is kept
    assert configure_runtime("cpu", keep_freed_memory=False).mkl_cpu_type == "2"
    with pytest.raises(ValueError):
        configure_runtime("cpu", threads=0)


KEEP_MEMORY_PROBE = """
import ctypes, ctypes.util, resource
from textrec.training.performance import _keep_freed_memory

libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]

def faults_per_alloc():  # minor page faults of malloc + touch + free of 64 MB, as paddle does per tensor
    start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
        p = libc.malloc(64 << 20)
        ctypes.memset(p, 1, 64 << 20)
        libc.free(p)
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start) / 5

before = faults_per_alloc()
assert _keep_freed_memory()
faults_per_alloc()  # the heap grows once
print(before, faults_per_alloc())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt")
def test_keep_freed_memory_stops_refaulting_large_tensors() -> None:
    """Without the setting every 64 MB allocation faults its ~16k pages in again; with it, almost none."""
    out = subprocess.run([sys.executable, "-c", KEEP_MEMORY_PROBE], capture_output=True, text=True, check=True)
    before, after = map(float, out.stdout.split())
    assert before > 10_000, before
    assert after < 100, after


MKL_PROBE = """
from textrec.training.performance import configure_runtime
info = configure_runtime("cpu")  # before paddle's first GEMM, as the trainer does
import numpy as np, paddle
import paddle.nn.functional as F
rng = np.random.default_rng(0)
a, b = rng.standard_normal((300, 500)), rng.standard_normal((500, 200))
got = paddle.matmul(paddle.to_tensor(a, "float32"), paddle.to_tensor(b, "float32")).numpy()
np.testing.assert_allclose(got, a @ b, rtol=1e-4, atol=1e-3)
x, w = rng.standard_normal((2, 64, 8, 25)), rng.standard_normal((32, 64, 3, 3))  # im2col + GEMM
got = F.conv2d(paddle.to_tensor(x, "float32"), paddle.to_tensor(w, "float32"), padding=1).numpy()
want = F.conv2d(paddle.to_tensor(x), paddle.to_tensor(w), padding=1).numpy()  # float64 kernel
np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-3)
print(info.mkl_cpu_type)
"""


def test_mkl_avx2_path_computes_the_same() -> None:
    """With MKL switched to its AVX2 path (AMD CPUs), GEMM and convolution still match float64."""
    env = {k: v for k, v in os.environ.items() if k != "MKL_DEBUG_CPU_TYPE"}
    out = subprocess.run([sys.executable, "-c", MKL_PROBE], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    cpuinfo = Path("/proc/cpuinfo").read_text()
    amd = "AuthenticAMD" in cpuinfo and " avx2" in cpuinfo and " fma" in cpuinfo
    assert out.stdout.split()[-1] == ("5" if amd else "None")
