import json

import numpy as np
import pytest

from textrec.calibration import (
    METHODS,
    Calibration,
    CalibrationError,
    auto_accept_threshold,
    calibration_summary,
    expected_calibration_error,
    fit,
    fit_best,
    raw_confidences,
    reliability,
)
from textrec.charset import Charset
from textrec.ctc import ctc_greedy_decode


def overconfident_set(n: int, seed: int, classes: int = 37, frames: int = 25):
    """Random CTC outputs [n, frames, classes] whose words are right with the probability the frames give at
    temperature 2: the raw confidence overstates accuracy, as the bundled model's does on real photos."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, frames, classes)) * rng.uniform(1, 15, size=(n, 1, 1))
    logits[:, :, 0] += 2  # blanks between characters
    p = np.exp(logits - logits.max(axis=2, keepdims=True))
    probs = (p / p.sum(axis=2, keepdims=True)).astype(np.float32)
    correct = rng.random(n) < Calibration("temperature", {"temperature": 2.0}).confidences(probs)
    return probs, correct


def test_ece_by_hand():
    conf = np.array([0.95, 0.95, 0.95, 0.95, 0.25, 0.25])
    correct = np.array([1, 1, 0, 0, 0, 1], bool)
    # bin of 0.95: 4 words, accuracy 0.5 -> |0.5-0.95| * 4/6; bin of 0.25: 2 words, accuracy 0.5 -> 0.25 * 2/6
    assert expected_calibration_error(conf, correct, bins=10) == pytest.approx(0.45 * 4 / 6 + 0.25 * 2 / 6)
    assert expected_calibration_error(np.array([1.0, 1.0]), np.array([True, True])) == 0.0
    rows = reliability(conf, correct, bins=10)
    assert [(r["count"], r["accuracy"]) for r in rows] == [(2, 0.5), (4, 0.5)]


def test_auto_accept_threshold_is_lowest_cut_at_target_precision():
    conf = np.array([0.99, 0.98, 0.97, 0.9, 0.9, 0.5])
    correct = np.array([1, 1, 1, 1, 0, 1], bool)
    # top 3 are all right; admitting the tie at 0.9 brings precision to 4/5 (refused together)
    assert auto_accept_threshold(conf, correct, 0.99) == (0.97, 0.5)
    assert auto_accept_threshold(conf, correct, 0.8) == (0.5, 1.0)  # 5 of 6 right overall: 0.83
    assert auto_accept_threshold(np.array([0.9]), np.array([False]), 0.99) == (None, 0.0)


@pytest.mark.parametrize("method", METHODS)
def test_every_method_calibrates_held_out_words(method):
    probs, correct = overconfident_set(6000, seed=1)
    test_probs, test_correct = overconfident_set(6000, seed=2)
    before = expected_calibration_error(raw_confidences(test_probs), test_correct)
    cal = fit(method, probs, correct)
    after = expected_calibration_error(cal.confidences(test_probs), test_correct)
    assert before > 0.1
    assert after < 0.03, (method, before, after)


def test_temperature_softens_an_overconfident_model_and_keeps_the_text():
    probs, correct = overconfident_set(2000, seed=3)
    cal = fit("temperature", probs, correct)
    assert cal.parameters["temperature"] > 1  # flatter frames: lower confidence
    cs = Charset.from_file()
    raw = ctc_greedy_decode(probs, cs)
    calibrated = cal.confidences(probs)
    assert np.all(calibrated <= np.array([p.confidence for p in raw]) + 1e-6)
    empty = [i for i, p in enumerate(raw) if p.text == ""]
    assert all(calibrated[i] == 0.0 for i in empty)
    with pytest.raises(ValueError, match="confidences"):
        cal.apply(np.array([0.5]))


def test_fit_best_chooses_the_lowest_cross_validated_ece():
    probs, correct = overconfident_set(1500, seed=4)
    cal = fit_best(probs, correct, fitted_on={"data": "test"})
    scores = cal.selection["cv_ece"]
    assert set(scores) == set(METHODS)
    assert cal.method == min(scores, key=scores.get) == cal.selection["chosen"]
    assert cal.selection["ece_uncalibrated"] > max(scores.values())
    assert cal.fitted_on == {"data": "test"}


@pytest.mark.parametrize("method", METHODS)
def test_json_round_trip_gives_the_same_confidences(method, tmp_path):
    probs, correct = overconfident_set(500, seed=5)
    cal = fit(method, probs, correct)
    back = Calibration.load(cal.save(tmp_path / "calibration.json"))
    assert back == cal
    np.testing.assert_array_equal(back.confidences(probs), cal.confidences(probs))


@pytest.mark.parametrize("content, expected", [
    ("{not json", "invalid JSON"),
    ('{"method": "platt"}', "not a calibration file"),
    (json.dumps({"format": "textrec.calibration/1", "method": "magic", "parameters": {}}), "unknown method"),
    (json.dumps({"format": "textrec.calibration/1", "method": "temperature",
                 "parameters": {"temperature": -1}}), "temperature must be"),
    (json.dumps({"format": "textrec.calibration/1", "method": "isotonic",
                 "parameters": {"x": [0.5, 0.1], "y": [0, 1]}}), "increasing"),
    (json.dumps({"format": "textrec.calibration/1", "method": "platt", "parameters": {"a": 1}}), "exactly"),
])
def test_corrupt_file_is_one_line(tmp_path, content, expected):
    path = tmp_path / "calibration.json"
    path.write_text(content)
    with pytest.raises(CalibrationError, match=expected) as e:
        Calibration.load(path)
    assert "\n" not in str(e.value) and str(path) in str(e.value)


def test_unreadable_file_is_one_line(tmp_path):
    with pytest.raises(CalibrationError, match="cannot read"):
        Calibration.load(tmp_path / "missing.json")


def test_summary_reports_before_after_and_coverage():
    probs, correct = overconfident_set(2000, seed=6)
    cal = fit("platt", probs, correct)
    s = calibration_summary(raw_confidences(probs), cal.confidences(probs), correct, target_precision=0.8)
    assert s["ece_after"] < s["ece_before"]
    assert s["threshold"] is not None and 0 < s["coverage"] < 1
    accepted = cal.confidences(probs) >= s["threshold"]
    assert correct[accepted].mean() >= 0.8 and accepted.mean() == pytest.approx(s["coverage"])


def words_with_confidences(conf: np.ndarray, classes: int = 37) -> np.ndarray:
    """probs [N, 1, classes]: one kept frame per word whose max probability (class 1) is ``conf``."""
    probs = np.repeat(((1 - conf) / (classes - 1))[:, None], classes, axis=1)
    probs[:, 1] = conf
    return probs[:, None, :].astype(np.float32)


def test_platt_stays_finite_when_confidences_pile_up_at_one():
    """Real photos: most raw confidences are 1.0 to float32 precision, mostly (not all) right. A plain
    Newton step overshot here to a slope of ~1e10 and an ECE worse than uncalibrated."""
    rng = np.random.default_rng(7)
    conf = np.where(rng.random(4000) < 0.6, 1.0, rng.uniform(0.3, 1.0, 4000))
    correct = rng.random(4000) < np.where(conf == 1.0, 0.93, conf * 0.6)
    probs = words_with_confidences(conf)
    np.testing.assert_allclose(raw_confidences(probs), conf, atol=1e-6)
    cal = fit("platt", probs, correct)
    assert abs(cal.parameters["a"]) < 100
    assert expected_calibration_error(cal.confidences(probs), correct) < expected_calibration_error(conf, correct) / 3


def test_an_untrained_model_reading_nothing_fits_without_warnings():
    """The tiny profile's untrained models emit blanks only: every text empty, every word wrong."""
    import warnings

    probs = np.zeros((16, 25, 37), np.float32)
    probs[:, :, 0] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a mean of an empty slice warned here once
        cal = fit_best(probs, np.zeros(16, bool), folds=3)
    assert np.all(cal.confidences(probs) == 0.0)
