import numpy as np
import paddle
import pytest

from textrec.models.crnn import CRNN, HIDDEN_SIZES, build_model


@pytest.fixture(scope="module")
def models() -> dict[str, CRNN]:
    paddle.seed(11)
    return {bb: build_model(bb, 37) for bb in ("mobilenet_v3", "resnet34_vd")}


@pytest.mark.parametrize("backbone, channels", [("mobilenet_v3", 480), ("resnet34_vd", 512)])
@pytest.mark.parametrize("width, steps", [(100, 25), (200, 50)])
def test_each_stage_shape(models, backbone, channels, width, steps):
    m = models[backbone]
    m.eval()
    x = paddle.randn([2, 3, 32, width])
    f = m.backbone(x)
    s = m.neck(f)
    y = m.head(s)
    assert list(f.shape) == [2, channels, 1, steps]
    assert list(s.shape) == [2, steps, 2 * HIDDEN_SIZES[backbone]]
    assert list(y.shape) == [2, steps, 37]
    np.testing.assert_array_equal(m(x).numpy(), y.numpy())


def test_train_mode_gives_logits_eval_mode_probabilities(models):
    m = models["mobilenet_v3"]
    x = paddle.randn([3, 3, 32, 100])
    m.eval()
    probs = m(x).numpy()
    np.testing.assert_allclose(probs.sum(axis=2), 1.0, atol=1e-5)
    logits = m.head.fc(m.neck(m.backbone(x))).numpy()
    m.train()
    try:
        out = m(x).numpy()  # batch statistics in BN now, so compare to itself: unnormalised logits
        assert np.abs(out.sum(axis=2) - 1).max() > 1e-2
    finally:
        m.eval()
    e = np.exp(logits - logits.max(axis=2, keepdims=True))
    np.testing.assert_allclose(probs, e / e.sum(axis=2, keepdims=True), atol=1e-6)


@pytest.mark.parametrize("backbone", ["mobilenet_v3", "resnet34_vd"])
def test_state_dict_names_shapes_and_order_match_paddleocr(models, reference_keys, backbone):
    got = [(k, list(v.shape)) for k, v in models[backbone].state_dict().items()]
    want = reference_keys[backbone]
    assert len(got) == len(want) == {"mobilenet_v3": 301, "resnet34_vd": 229}[backbone]
    assert got == want


def test_num_classes_sizes_the_head():
    m = build_model("mobilenet_v3", 63)
    assert m.num_classes == 63 and list(m.head.fc.weight.shape) == [192, 63]
    with pytest.raises(ValueError, match="num_classes"):
        build_model("mobilenet_v3", 1)
    with pytest.raises(ValueError, match="unknown backbone"):
        build_model("resnet50", 37)  # type: ignore[arg-type]


def test_dynamic_batch_and_width_survive_to_static(models, tmp_path):
    # the export path: a traced graph with [None, 3, 32, None] input must equal eager for other shapes
    m = models["mobilenet_v3"]
    m.eval()
    spec = [paddle.static.InputSpec([None, 3, 32, None], "float32", name="x")]
    paddle.jit.save(m, str(tmp_path / "inference"), input_spec=spec)
    loaded = paddle.jit.load(str(tmp_path / "inference"))
    for shape in ([1, 3, 32, 100], [3, 3, 32, 200]):
        x = paddle.randn(shape)
        got, want = loaded(x).numpy(), m(x).numpy()
        assert got.shape == (shape[0], shape[3] // 4, 37)
        np.testing.assert_allclose(got, want, atol=1e-5)
