"""bench/calibration.py end to end on a small stand-in for real-dev (the parity kit's photos as two sets) and 40
synthetic validation words: the synthetic fit, the own-data halves, the JSON record and the diagrams."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from tests.bench.test_real_dev import _bench
from textrec.calibration import Calibration, expected_calibration_error
from textrec.evaluation.metrics import dtrb_normalize
from textrec.inference.recognizer import Recognizer
from textrec.models import pretrained


@pytest.mark.timeout(900)
def test_bench_records_both_fits_per_set(tmp_path: Path, parity_rows) -> None:
    if not (pretrained.BUNDLED_DIR / "mobilenet_v3.onnx").is_file():
        pytest.skip("no bundled model in this checkout")
    sets = {"IIIT5k_train_2000": parity_rows[:12], "IC15_train_4468": parity_rows[12:]}
    for folder, rows in sets.items():
        (tmp_path / "real" / folder / "images").mkdir(parents=True)
        for i, (path, _) in enumerate(rows):
            shutil.copy(path, tmp_path / "real" / folder / "images" / f"{i}.png")
        (tmp_path / "real" / folder / "labels.tsv").write_text(
            "".join(f"images/{i}.png\t{label}\n" for i, (_, label) in enumerate(rows)))
    out = tmp_path / "calibration.json"
    args = ["--data", str(tmp_path / "real"), "--val-images", "40", "--folds", "3", "--processes", "1",
            "--out", str(out), "--calibration-out", str(tmp_path / "ship.json")]
    _bench("real_dev")  # what the script imports from its folder
    assert _bench("calibration").main(args) == 0
    d = json.loads(out.read_text())

    val = d["synthetic_validation"]
    assert val["count"] == 40 and val["split"] == "val" and set(val["cv_ece"]) == {"temperature", "platt",
                                                                                    "isotonic", "histogram"}
    assert val["chosen"] == min(val["cv_ece"], key=val["cv_ece"].get)
    shipped = Calibration.load(tmp_path / "ship.json")
    assert {"method": shipped.method, "parameters": shipped.parameters} == val["calibration"]
    assert "synthetic" in shipped.fitted_on["data"] and shipped.fitted_on["accuracy"] == val["accuracy"]

    raw_rec = Recognizer(calibration=False)
    for name, folder in (("IIIT5K", "IIIT5k_train_2000"), ("IC15", "IC15_train_4468")):
        s = d["sets"][name]
        preds = raw_rec([p for p, _ in sets[folder]])
        correct = np.array([dtrb_normalize(p.text) == dtrb_normalize(lab) for p, (_, lab) in
                            zip(preds, sets[folder], strict=True)])
        assert s["count"] == 12 and s["accuracy"] == pytest.approx(correct.mean())
        assert s["ece_before"] == pytest.approx(expected_calibration_error(
            np.array([p.confidence for p in preds]), correct))
        assert set(s["synthetic_fit"]) == {"temperature", "platt", "isotonic", "histogram", "chosen"}
        assert s["synthetic_fit"]["chosen"]["ece_after"] == s["synthetic_fit"][val["chosen"]]["ece_after"]
        calibrated = Recognizer(calibration=shipped)([p for p, _ in sets[folder]])
        assert s["synthetic_fit"]["chosen"]["ece_after"] == pytest.approx(expected_calibration_error(
            np.array([p.confidence for p in calibrated]), correct), abs=1e-6)
        half = s["own_data_fit"]["fit_on_first_half"]
        assert (half["fit_count"], half["test_count"]) == (6, 6)  # this set's 6 words fitted, its other 6 measured
        assert set(s["own_data_fit"]["cross_fit"]) == {"temperature", "platt", "isotonic", "histogram", "chosen"}
        assert d["done_when"][name]["synthetic_fit"] == s["synthetic_fit"]["chosen"]["ece_after"]
        assert d["done_when"][name]["limit"] == 0.03
        svg = ET.parse(tmp_path / f"calibration_{name}.svg").getroot()
        assert len(svg.findall("{http://www.w3.org/2000/svg}polyline")) == 3  # raw and both fits
    assert d["machine"]["cores"] >= 1 and d["model"].endswith("mobilenet_v3.onnx")
    assert tuple(d["machine"]) == _bench("harness").MACHINE_KEYS and d["schema_version"] == 1
