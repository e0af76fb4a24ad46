"""`textrec calibrate`: the user's path to calibrated confidences, on their own labelled crops (a folder with
labels.tsv here: the parity kit's 24 photos) -> a calibration beside the model that Recognizer and
`textrec predict` then apply; a bundled model needs --out; bad input is one line."""

import json
import shutil

import numpy as np
import pytest

from textrec.calibration import Calibration, expected_calibration_error
from textrec.cli import main
from textrec.evaluation.metrics import dtrb_normalize
from textrec.inference.recognizer import Recognizer


@pytest.fixture
def crops(tmp_path, parity_kit, parity_rows):
    """A folder with labels.tsv and the kit's images, as a user keeps labelled crops."""
    folder = tmp_path / "crops"
    (folder / "images").mkdir(parents=True)
    lines = []
    for i, (path, label) in enumerate(parity_rows):
        shutil.copy(path, folder / "images" / f"{i}.png")
        lines.append(f"images/{i}.png\t{label}\n")
    (folder / "labels.tsv").write_text("".join(lines))
    return folder


@pytest.fixture
def model(tmp_path, parity_kit):
    dst = tmp_path / "model" / "kit.pdparams"
    dst.parent.mkdir()
    shutil.copy(parity_kit / "mv3" / "best_accuracy.pdparams", dst)
    return dst


def test_calibrate_writes_beside_the_model_and_predict_applies_it(crops, model, parity_rows, capsys):
    assert main(["calibrate", "--data", str(crops), "--model", str(model), "--folds", "3"]) == 0
    out = capsys.readouterr().out
    written = model.with_name("kit.calibration.json")
    cal = Calibration.load(written)
    assert str(written) in out and "auto-accept at 99% precision" in out
    assert set(cal.selection["cv_ece"]) == {"temperature", "platt", "isotonic", "histogram"}
    assert cal.fitted_on["count"] == 24

    rec = Recognizer(model)  # finds it beside the model
    assert rec.calibration == cal
    preds = rec([p for p, _ in parity_rows])
    correct = np.array([dtrb_normalize(p.text) == dtrb_normalize(label) for p, (_, label) in
                        zip(preds, parity_rows, strict=True)])
    raw = Recognizer(model, calibration=False)([p for p, _ in parity_rows])
    before = expected_calibration_error(np.array([p.confidence for p in raw]), correct)
    after = expected_calibration_error(np.array([p.confidence for p in preds]), correct)
    assert after < before  # on the words it was fitted on

    assert main(["predict", str(parity_rows[0][0]), "--model", str(model), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["confidence"] == pytest.approx(preds[0].confidence, abs=1e-6)


def test_predict_takes_a_calibration_file(crops, model, parity_rows, tmp_path, capsys):
    const = Calibration("histogram", {"edges": [0.0, 1.0], "values": [0.5]}).save(tmp_path / "c.json")
    assert main(["predict", str(parity_rows[0][0]), "--model", str(model), "--json",
                 "--calibration", str(const)]) == 0
    assert json.loads(capsys.readouterr().out)["confidence"] == 0.5


def test_bundled_model_needs_out(crops, capsys):
    assert main(["calibrate", "--data", str(crops)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--out FILE" in err


def test_no_usable_crop_is_one_line(tmp_path, model, capsys):
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "labels.tsv").write_text("images/missing.png\tword\n")
    assert main(["calibrate", "--data", str(folder), "--model", str(model)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("textrec calibrate: error: no usable labelled crop")


def test_bad_settings_are_one_line(crops, model, capsys):
    assert main(["calibrate", "--data", str(crops), "--model", str(model), "--target-precision", "2"]) == 2
    assert "target_precision: 2.0 is out of range" in capsys.readouterr().err
