"""The served pyfunc's model config: file paths only on a local opt-in, whatever an old version logged."""

from __future__ import annotations

import base64
from types import SimpleNamespace

import pandas as pd
import pytest


def _loaded(kit_run, config: dict, **artifacts: str):
    """The pyfunc as MLflow loads it (``load_context``), on the kit run's MobileNetV3 ONNX."""
    from importlib import resources

    from textrec.tracking.recognizer import CrnnRecognizer

    with resources.as_file(resources.files("textrec.assets") / "dict_0-9a-z.txt") as dict_file:
        model = CrnnRecognizer()
        model.load_context(SimpleNamespace(model_config=config, artifacts={
            "onnx": str(kit_run / "exported" / "mobilenet_v3" / "model.onnx"), "dictionary": str(dict_file),
            **artifacts}))
    return model


def test_paths_need_the_local_opt_in(kit_run, parity_rows):
    from mlflow.exceptions import MlflowException

    path = str(parity_rows[0][0])
    b64 = base64.b64encode(parity_rows[0][0].read_bytes()).decode()
    # what versions registered up to b746339 logged (allow_paths: true) no longer opens files
    for config in ({}, {"allow_paths": True}, {"allow_local_paths": False}, {"allow_local_paths": "true"}):
        model = _loaded(kit_run, config)
        with pytest.raises(MlflowException, match="image 0: string of .* is not valid base64"):
            model.predict(None, pd.DataFrame({"image": [path]}))
        assert len(model.predict(None, pd.DataFrame({"image": [b64]}))) == 1
    model = _loaded(kit_run, {"allow_local_paths": True})
    by_path, by_b64 = (model.predict(None, pd.DataFrame({"image": [x]})) for x in (path, b64))
    assert by_path.equals(by_b64)


def test_unknown_config_keys_are_refused(kit_run):
    from mlflow.exceptions import MlflowException

    with pytest.raises(MlflowException, match=r"unknown model config key\(s\) \['allow_path'\]"):
        _loaded(kit_run, {"allow_path": True})


def test_served_confidence_is_calibrated_when_the_version_has_a_calibration(kit_run, parity_kit, parity_rows, caplog,
                                                                           tmp_path):
    """With the artifact: the calibration's confidences; without: the raw scores, said once at load; a corrupt
    file: the model does not load, one line naming it."""
    import logging

    import numpy as np
    from mlflow.exceptions import MlflowException

    from textrec.calibration import Calibration

    frame = pd.DataFrame({"image": [base64.b64encode(p.read_bytes()).decode() for p, _ in parity_rows]})
    probs = np.load(parity_kit / "outputs_mv3.npy")  # the kit's outputs of these 24 images
    cal_file = kit_run / "exported" / "mobilenet_v3" / "calibration.json"
    as_given = {"rotate_portrait": False}  # the kit's outputs are of each image as given (one is a portrait crop)
    served = _loaded(kit_run, as_given, calibration=str(cal_file)).predict(None, frame)["confidence"].to_numpy()
    assert served == pytest.approx(Calibration.load(cal_file).confidences(probs), abs=1e-5)
    with caplog.at_level(logging.WARNING, logger="textrec.tracking.recognizer"):
        raw_model = _loaded(kit_run, as_given)
        raw = raw_model.predict(None, frame)["confidence"].to_numpy()
        raw_model.predict(None, frame)
    assert [r.getMessage() for r in caplog.records if "no calibration" in r.getMessage()] != []
    assert len([r for r in caplog.records if "no calibration" in r.getMessage()]) == 1
    assert not np.allclose(raw, served, atol=1e-3)
    bad = tmp_path / "calibration.json"
    bad.write_text("{truncated")
    with pytest.raises(MlflowException, match="not a calibration file") as e:
        _loaded(kit_run, {}, calibration=str(bad))
    assert str(bad) in str(e.value) and "\n" not in str(e.value)
