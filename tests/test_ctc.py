import numpy as np
import pytest

from tests.conftest import read_predictions
from textrec.charset import Charset
from textrec.ctc import ctc_greedy_decode


@pytest.mark.parametrize("tag", ["mv3", "r34"])
def test_decoding_reference_outputs_matches_paddleocr(parity_kit, tag):
    preds = ctc_greedy_decode(np.load(parity_kit / f"outputs_{tag}.npy"), Charset.from_file())
    expected = read_predictions(parity_kit / f"predictions_{tag}.tsv")
    assert [p.text for p in preds] == [e[1] for e in expected]
    assert max(abs(p.confidence - e[2]) for p, e in zip(preds, expected, strict=True)) <= 1e-6


def _onehot(ids, c=37):
    p = np.full((1, len(ids), c), 0.01 / (c - 1), np.float32)
    for t, k in enumerate(ids):
        p[0, t, k] = 0.99
    return p


def test_collapse_repeats_but_keep_repeats_split_by_blank():
    cs = Charset.from_file()
    a, b = cs.encode("a").ids[0], cs.encode("b").ids[0]
    (pred,) = ctc_greedy_decode(_onehot([0, a, a, 0, a, b, b, 0]), cs)
    assert pred.text == "aab"
    assert pred.confidence == pytest.approx(0.99)


def test_empty_prediction_has_zero_confidence():
    (pred,) = ctc_greedy_decode(_onehot([0, 0, 0]), Charset.from_file())
    assert pred.text == "" and pred.confidence == 0.0


def test_wrong_class_count_is_rejected():
    with pytest.raises(ValueError, match="expected probabilities"):
        ctc_greedy_decode(np.zeros((1, 5, 10), np.float32), Charset.from_file())
