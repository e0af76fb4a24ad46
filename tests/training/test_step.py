"""The optimised training step must compute what the plain eager step computes (loss, gradients, update).

The first test needing the custom kernels compiles them (20-60 s once per machine, cached in
~/.cache/textrec/extensions; see test_fast_kernels.py).
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

paddle = pytest.importorskip("paddle")
F = paddle.nn.functional

from textrec.models.crnn import build_model  # noqa: E402
from textrec.training.loss import ctc_loss  # noqa: E402
from textrec.training.step import build_train_step  # noqa: E402

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
    got = step.loss(images, labels, lengths)
    got.backward()
    np.testing.assert_allclose(float(got), float(want), rtol=1e-5)
    _assert_close_normwise(_grads(fast), _grads(plain), rel=1e-2, skip=_negligible(_grads(plain)))
    _assert_close({n: b.numpy() for n, b in fast.named_buffers()},  # BN running statistics
                  {n: b.numpy() for n, b in plain.named_buffers()}, rtol=1e-5, atol=1e-6)
    plain_opt.step()
    step.optimizer.step()
    step.optimizer.clear_grad()
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
    got = step.loss(images, labels, lengths)
    got.backward()
    np.testing.assert_allclose(float(got), float(want), rtol=1e-5)
    if fast:
        _assert_close_normwise(_grads(fast_model), _grads(plain), rel=1e-2, skip=_negligible(_grads(plain)))
    else:  # the same kernels: equal up to the static executor's rounding
        _assert_close(_grads(fast_model), _grads(plain), rtol=1e-4, atol=1e-6)
    step.optimizer.step()
    plain_opt.step()
    diff = np.concatenate([np.abs(a.numpy() - b.numpy()).ravel()
                           for a, b in zip(plain.parameters(), fast_model.parameters(), strict=True)
                           if not a.stop_gradient])
    assert diff.max() <= 2e-3 + 1e-6 and np.mean(diff > 1e-5) < 0.01


def test_apply_is_the_plain_backward_and_update() -> None:
    """``step(...)`` = loss, backward, Adam step, gradients cleared: with paddle's own kernels it leaves the
    weights exactly where the hand-written eager step does."""
    (plain, plain_opt), (model, opt) = _twin_models()
    step = build_train_step(model, opt, ctc_loss, fast_kernels=False)
    images, labels, lengths = _batch(4, seed=5)
    want = ctc_loss(plain(images), labels, lengths)
    want.backward()
    plain_opt.step()
    got = step(images, labels, lengths)
    assert float(got) == float(want)
    assert not any(np.any(g) for g in _grads(model).values())  # cleared after the update
    for (name, a), b in zip(plain.named_parameters(), model.parameters(), strict=True):
        np.testing.assert_array_equal(b.numpy(), a.numpy(), err_msg=name)


def test_discard_drops_gradients_without_updating() -> None:
    (model, opt), _ = _twin_models()
    before = {n: p.numpy().copy() for n, p in model.named_parameters() if not p.stop_gradient}
    step = build_train_step(model, opt, ctc_loss, fast_kernels=False)
    step.loss(*_batch(2)).backward()
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


def test_missing_kernels_fall_back_with_a_warning_or_raise(monkeypatch, caplog) -> None:
    """No g++ or Python headers: the trainer warns and trains on paddle's kernels; the benchmark insists."""
    import textrec.training.step as step_module
    from textrec.training.fast_kernels import KernelBuildError

    def no_compiler():
        raise KernelBuildError("g++ not found")

    monkeypatch.setattr(step_module, "load_kernels", no_compiler)
    (model, opt), _ = _twin_models()
    with pytest.raises(KernelBuildError, match="g\\+\\+"):
        build_train_step(model, opt, ctc_loss, fast_kernels=True)
    step = build_train_step(model, opt, ctc_loss, fast_kernels=True, require_kernels=False)
    assert "fast CPU kernels unavailable" in caplog.text
    loss = step(*_batch(2))  # trains on paddle's kernels
    assert np.isfinite(float(loss))
