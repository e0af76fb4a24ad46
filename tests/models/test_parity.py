"""Numerical parity with PaddleOCR on the shared parity kit (see its README.md)."""

from pathlib import Path

import numpy as np
import paddle
import pytest

from textrec.charset import Charset
from textrec.ctc import ctc_greedy_decode
from textrec.models.checkpoint import inspect_checkpoint, load_weights, read_params
from textrec.models.crnn import CRNN, build_model
from textrec.preprocess import preprocess_batch

CHECKPOINTS = {"mv3": ("mobilenet_v3", "mv3/best_accuracy.pdparams"), "r34": ("resnet34_vd", "r34/r34_init.pdparams")}


def _tsv(path: Path) -> list[list[str]]:
    return [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines() if line]


@pytest.fixture(scope="module")
def loaded(parity_kit) -> dict[str, CRNN]:
    out = {}
    for tag, (backbone, rel) in CHECKPOINTS.items():
        m = build_model(backbone, 37)
        load_weights(m, parity_kit / rel)  # the files unchanged: mv3 with the 16 LSTM aliases, r34 without
        m.eval()
        out[tag] = m
    return out


def test_kit_checkpoints_are_recognised(parity_kit):
    mv3, r34 = (inspect_checkpoint(parity_kit / rel) for _, rel in CHECKPOINTS.values())
    assert (mv3.backbone, mv3.num_classes, mv3.hidden_size, mv3.num_entries, mv3.has_lstm_aliases) == (
        "mobilenet_v3", 37, 96, 301, True)
    assert (r34.backbone, r34.num_classes, r34.hidden_size, r34.num_entries, r34.has_lstm_aliases) == (
        "resnet34_vd", 37, 256, 213, False)


@pytest.mark.parametrize("tag", ["mv3", "r34"])
def test_outputs_match_paddleocr(parity_kit, loaded, tag):
    x = paddle.to_tensor(np.load(parity_kit / f"inputs_{tag}.npy"))
    with paddle.no_grad():
        got = loaded[tag](x).numpy()
    want = np.load(parity_kit / f"outputs_{tag}.npy")
    assert got.shape == want.shape == (24, 25, 37)
    diff = float(np.abs(got - want).max())
    assert diff <= 1e-5, f"{tag}: max abs diff {diff:.3g}"


def test_preprocessing_reproduces_kit_inputs_exactly(parity_kit):
    images = [(parity_kit / rel).read_bytes() for rel, _ in _tsv(parity_kit / "labels.tsv")]
    x = preprocess_batch(images)
    want = np.load(parity_kit / "inputs_mv3.npy")
    assert x.dtype == np.float32 and x.shape == want.shape == (24, 3, 32, 100)
    np.testing.assert_array_equal(x, want)


def test_mv3_end_to_end_texts_and_scores(parity_kit, loaded):
    rows = _tsv(parity_kit / "labels.tsv")
    x = preprocess_batch([(parity_kit / rel).read_bytes() for rel, _ in rows])
    with paddle.no_grad():
        probs = loaded["mv3"](paddle.to_tensor(x)).numpy()
    preds = ctc_greedy_decode(probs, Charset.from_file())
    want = _tsv(parity_kit / "predictions_mv3.tsv")
    assert [r[0] for r in want] == [r[0] for r in rows]
    assert [p.text for p in preds] == [w[1] for w in want]
    np.testing.assert_allclose([p.confidence for p in preds], [float(w[2]) for w in want], atol=1e-5, rtol=0)


def test_r34_reference_outputs_decode_to_reference_texts(parity_kit):
    # r34 is random-init with near-ties, so texts are compared through the reference outputs (kit README)
    preds = ctc_greedy_decode(np.load(parity_kit / "outputs_r34.npy"), Charset.from_file())
    want = _tsv(parity_kit / "predictions_r34.tsv")
    assert [p.text for p in preds] == [w[1] for w in want]
    np.testing.assert_allclose([p.confidence for p in preds], [float(w[2]) for w in want], atol=1e-6, rtol=0)


def test_r34_seed0_initialisation_equals_paddleocr(parity_kit):
    # the kit's r34 weights are PaddleOCR's build_model after paddle.seed(0): same layers, same init order
    paddle.seed(0)
    state = build_model("resnet34_vd", 37).state_dict()
    ref = read_params(parity_kit / CHECKPOINTS["r34"][1])
    assert all(np.array_equal(state[k].numpy(), v) for k, v in ref.items())
