"""Calibrated confidence wherever one is shown: Recognizer and `textrec predict` read the model's calibration
(calibration.json or <stem>.calibration.json beside it, the bundle's for every bundled file); a model without
one gives raw confidences and says so once; a corrupt file is one line."""

import json
import logging
import shutil

import numpy as np
import pytest

from tests.inference.test_recognizer_api import DTRB, tiny_onnx
from textrec.calibration import Calibration
from textrec.cli import main
from textrec.ctc import ctc_greedy_decode
from textrec.inference.engines import OnnxEngine
from textrec.inference.recognizer import Recognizer
from textrec.models import pretrained
from textrec.preprocess import preprocess_bytes

CONST = Calibration("histogram", {"edges": [0.0, 1.0], "values": [0.777]})  # any read word: 0.777
LOGGER = "textrec.inference.recognizer"


@pytest.fixture
def images(parity_rows):
    return [path for path, _ in parity_rows[:6]]


def calibrated(model, images, calibration: Calibration):
    """What ``calibration`` makes of the engine's outputs, computed here from the probabilities."""
    probs = np.asarray(OnnxEngine(model)(np.stack([preprocess_bytes(p.read_bytes()) for p in images])))
    return calibration.confidences(probs)


@pytest.mark.parametrize("name", ["calibration.json", "model.calibration.json"])
def test_recognizer_applies_the_calibration_beside_the_model(tmp_path, images, name):
    model = tiny_onnx(tmp_path / "model.onnx")
    CONST.save(tmp_path / name)
    rec = Recognizer(model)
    assert rec.calibration == CONST
    preds = rec(images)
    got = np.array([p.confidence for p in preds])
    np.testing.assert_allclose(got, calibrated(model, images, CONST), atol=1e-6)
    assert {c for c, p in zip(got, preds, strict=True) if p.text} == {0.777}  # not the raw score
    assert [p.confidence for p in rec.predict_files(images)] == pytest.approx(list(got), abs=1e-6)


def test_textrec_predict_prints_calibrated_confidences(tmp_path, images, capsys):
    model = tiny_onnx(tmp_path / "model.onnx")
    CONST.save(tmp_path / "calibration.json")
    want = calibrated(model, images[:1], CONST)
    assert main(["predict", str(images[0]), "--model", str(model), "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["confidence"] == pytest.approx(float(want[0]), abs=1e-6)


def test_model_without_calibration_is_raw_and_says_so_once(tmp_path, images, caplog):
    model = tiny_onnx(tmp_path / "model.onnx")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        rec = Recognizer(model)
        preds = rec(images) + [rec(images[0])]
    notes = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert len(notes) == 1 and "no calibration" in notes[0] and str(model) in notes[0]
    assert rec.calibration is None
    raw = ctc_greedy_decode(np.asarray(rec.engine(np.stack([preprocess_bytes(p.read_bytes()) for p in images]))),
                            rec.charset)
    np.testing.assert_allclose([p.confidence for p in preds[:-1]], [p.confidence for p in raw], atol=1e-6)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        Recognizer(model, calibration=False)
    assert not caplog.records  # asked for raw scores: no note


def test_corrupt_calibration_is_one_line(tmp_path, images, capsys):
    model = tiny_onnx(tmp_path / "model.onnx")
    bad = tmp_path / "calibration.json"
    bad.write_text('{"format": "textrec.calibration/1", "method": "platt", "parameters": {"a": "x"}}')
    assert main(["predict", str(images[0]), "--model", str(model)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and str(bad) in err and "corrupt calibration" in err


def test_every_bundled_file_uses_the_bundles_calibration(tmp_path, images, monkeypatch):
    onnx = tiny_onnx(tmp_path / "mobilenet_v3.onnx")
    shutil.copy(onnx, tmp_path / "mobilenet_v3_int8.onnx")
    (tmp_path / "mobilenet_v3.dict.txt").write_text("".join(c + "\n" for c in DTRB))
    CONST.save(tmp_path / "mobilenet_v3.calibration.json")
    monkeypatch.setattr(pretrained, "BUNDLED_DIR", tmp_path)
    want = calibrated(onnx, images, CONST)
    for name in (None, "bundled", "bundled:int8"):
        rec = Recognizer(name)
        assert rec.calibration == CONST
        np.testing.assert_allclose([p.confidence for p in rec(images)], want, atol=1e-6)


def test_an_explicit_calibration_wins(tmp_path, images):
    model = tiny_onnx(tmp_path / "model.onnx")
    Calibration("temperature", {"temperature": 0.2}).save(tmp_path / "calibration.json")
    other = CONST.save(tmp_path / "other.json")
    assert Recognizer(model, calibration=other).calibration == CONST
    assert Recognizer(model, calibration=CONST).calibration == CONST
