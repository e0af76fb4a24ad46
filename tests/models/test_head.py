import math

import numpy as np
import paddle

from textrec.models.head import CTCHead


def test_head_shape_and_modes():
    paddle.seed(9)
    head = CTCHead(192, 37)
    x = paddle.randn([2, 25, 192])
    head.train()
    logits = head(x)
    assert list(logits.shape) == [2, 25, 37]
    np.testing.assert_allclose(logits.numpy(), x.numpy() @ head.fc.weight.numpy() + head.fc.bias.numpy(),
                               atol=1e-5)
    head.eval()
    probs = head(x).numpy()
    e = np.exp(logits.numpy() - logits.numpy().max(axis=2, keepdims=True))
    np.testing.assert_allclose(probs, e / e.sum(axis=2, keepdims=True), atol=1e-6)
    np.testing.assert_allclose(probs.sum(axis=2), 1.0, atol=1e-5)


def test_head_init_is_uniform_within_inverse_sqrt_fan_in():
    paddle.seed(10)
    head = CTCHead(512, 37)
    bound = 1 / math.sqrt(512)
    w, b = head.fc.weight.numpy(), head.fc.bias.numpy()
    assert list(w.shape) == [512, 37]  # paddle Linear stores [in, out]
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert np.abs(w).max() > 0.9 * bound and b.std() > 0  # spread over the range, bias not zero


def _fold() -> np.ndarray:
    """6 columns -> 4 classes: blank + column 5 (a dropped character) -> 0, columns 1 and 2 -> 1 (a, A)."""
    fold = np.zeros((6, 4), np.float32)
    fold[[0, 5], 0] = fold[[1, 2], 1] = fold[3, 2] = fold[4, 3] = 1
    return fold


def test_a_folded_head_outputs_its_columns_probabilities_summed_per_class():
    from textrec.models.head import CTCHead

    paddle.seed(3)
    head = CTCHead(16, 4, fold=_fold())
    assert list(head.fc.weight.shape) == [16, 6] and head.out_channels == 4
    assert "fold" in head.state_dict() and all(p.name != head.fold.name for p in head.parameters())  # not trained
    x = paddle.randn([2, 25, 16])
    z = x.numpy() @ head.fc.weight.numpy() + head.fc.bias.numpy()  # [2, 25, 6]
    p = np.exp(z - z.max(axis=2, keepdims=True))
    p /= p.sum(axis=2, keepdims=True)
    head.eval()
    np.testing.assert_allclose(head(x).numpy(), p @ _fold(), atol=1e-6)  # [2, 25, 4]
    head.train()
    grouped = paddle.nn.functional.softmax(head(x), axis=2).numpy()  # what the CTC loss sees
    np.testing.assert_allclose(grouped, p @ _fold(), atol=1e-6)


def test_a_folded_head_stays_finite_where_a_whole_class_underflows():
    """Logits 1e4 apart: exp underflows for every column of a class; training still gets finite values and
    gradients (the class sits ~69 below the frame's best), the probabilities stay exact."""
    from textrec.models.head import CTCHead

    head = CTCHead(4, 4, fold=_fold())
    head.fc.bias.set_value(np.array([0, -1e4, -1e4, 0, 0, 0], np.float32))
    head.fc.weight.set_value(np.zeros((4, 6), np.float32))
    x = paddle.randn([1, 3, 4])
    out = head(x)
    loss = paddle.nn.functional.log_softmax(out, axis=2)[:, :, 1].sum()  # the underflowed class
    loss.backward()
    assert np.isfinite(out.numpy()).all() and np.isfinite(head.fc.bias.grad.numpy()).all()
    assert -80 < float(out.numpy()[0, 0, 1] - out.numpy()[0, 0, 0]) < -60


def test_a_fold_must_group_every_column_into_one_class():
    import pytest

    from textrec.models.head import CTCHead

    bad = _fold()
    bad[1, 2] = 1  # column 1 in two classes
    with pytest.raises(ValueError, match="one 1 per row"):
        CTCHead(4, 4, fold=bad)
    empty = _fold()[:, [0, 1, 2, 3, 3]].copy()
    empty[:, 4] = 0  # class 4 without a column
    with pytest.raises(ValueError, match="leaves a class without a column"):
        CTCHead(4, 5, fold=empty)
    with pytest.raises(ValueError, match="groups into 4 classes, the head has 5"):
        CTCHead(4, 5, fold=_fold())
