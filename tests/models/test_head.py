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
