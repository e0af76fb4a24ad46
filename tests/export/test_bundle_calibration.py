"""The bundle carries its confidence calibration: `textrec bundle` ships the run's (calibrate stage), --reexport
keeps the bundle's own, --calibration FILE gives an existing bundle one without exporting; the card lists the
file and says what it was fitted on and, from bench/calibration.py, how it does on real photos."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil

import pytest

from tests.models.test_model_card import _files_match, _pipeline_outputs
from textrec.artifacts import BenchResult, LoadAverage, MachineRecord
from textrec.calibration import Calibration
from textrec.cli import main
from textrec.hashing import sha256_file
from textrec.inference.recognizer import Recognizer
from textrec.models import pretrained

PLATT = Calibration("platt", {"a": 1.2, "b": -2.0}, {"data": "synthetic validation split", "count": 4000,
                                                      "accuracy": 0.77},
                    {"cv_ece": {"platt": 0.013, "histogram": 0.007}, "chosen": "platt"})


def _bench_json(path, cal: Calibration):
    """bench/calibration.py's record of ``cal`` on two real sets."""
    sets = {name: {"count": n, "ece_before": before, "synthetic_fit": {"chosen": {"ece_after": after, "coverage": cov}}}
            for name, n, before, after, cov in (("IIIT5K", 2000, 0.09, 0.031, 0.55), ("IC15", 4467, 0.29, 0.042, 0.0))}
    machine = MachineRecord("CPU", "v", "6/1/1", 2, ["avx2"], "3.11.7", "Linux", 0, LoadAverage([1, 1, 1], [1, 1, 1]))
    BenchResult(machine, {"bins": 15, "target_precision": 0.99, "sets": sets, "synthetic_validation": {
        "calibration": {"method": cal.method, "parameters": cal.parameters}}}).write(path)
    return path


@pytest.fixture
def bundle(tmp_path):
    """A copy of the package's bundle (card, ONNX, dictionary) without a calibration."""
    src = pretrained.BUNDLED_DIR
    if not (src / "mobilenet_v3.onnx").is_file():
        pytest.skip("no bundled ONNX model in this checkout")
    out = tmp_path / "bundle"
    out.mkdir()
    for name in ("mobilenet_v3.json", "mobilenet_v3.md", "mobilenet_v3.onnx", "mobilenet_v3.dict.txt"):
        shutil.copy(src / name, out / name)
    card = json.loads((out / "mobilenet_v3.json").read_text())
    card.pop("calibration", None)
    card["files"] = [f for f in card["files"] if (out / f["name"]).is_file()]
    (out / "mobilenet_v3.json").write_text(json.dumps(card))
    (out / "mobilenet_v3.calibration.json").unlink(missing_ok=True)
    return out


def test_calibration_attached_to_a_bundle_is_on_its_card_and_used(bundle, tmp_path, monkeypatch, capsys):
    f = PLATT.save(tmp_path / "fit.json")
    bench = _bench_json(tmp_path / "bench.json", PLATT)
    assert main(["bundle", "--calibration", str(f), "--out", str(bundle), "--calibration-bench", str(bench)]) == 0
    shipped = bundle / "mobilenet_v3.calibration.json"
    assert shipped.read_bytes() == f.read_bytes()
    card = json.loads((bundle / "mobilenet_v3.json").read_text())
    _files_match(card, bundle)
    entry = next(e for e in card["files"] if e["name"] == shipped.name)
    assert entry["sha256"] == hashlib.sha256(f.read_bytes()).hexdigest()
    c = card["calibration"]
    assert (c["method"], c["fitted_on"]["count"], c["selection"]["chosen"]) == ("platt", 4000, "platt")
    assert c["real_dev"]["sets"]["IC15"] == {"count": 4467, "ece_before": 0.29, "ece_after": 0.042, "coverage": 0.0}
    md = (bundle / "mobilenet_v3.md").read_text()
    assert "confidence calibration (`mobilenet_v3.calibration.json`): platt (a=1.200, b=-2.000)" in md
    assert "IC15 0.290 -> 0.042, coverage 0.0%" in md

    monkeypatch.setattr(pretrained, "BUNDLED_DIR", bundle)
    assert Recognizer().calibration == PLATT  # the default model now gives calibrated confidences

    other = Calibration("histogram", {"edges": [0.0, 1.0], "values": [0.5]}).save(tmp_path / "other.json")
    assert main(["bundle", "--calibration", str(other), "--out", str(bundle), "--calibration-bench", str(bench)]) == 0
    again = json.loads((bundle / "mobilenet_v3.json").read_text())
    assert again["calibration"]["real_dev"] is None  # the bench measured another calibration
    assert [e["name"] for e in again["files"]].count(shipped.name) == 1
    assert "no real-photo measurement" in capsys.readouterr().out


def test_corrupt_calibration_is_refused_before_the_bundle_changes(bundle, tmp_path, capsys):
    before = {p.name: p.read_bytes() for p in bundle.iterdir()}
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "textrec.calibration/1", "method": "isotonic", "parameters": {"x": [1], "y": [2]}}')
    assert main(["bundle", "--calibration", str(bad), "--out", str(bundle)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "corrupt calibration" in err and str(bad) in err
    assert {p.name: p.read_bytes() for p in bundle.iterdir()} == before


def test_bundle_ships_the_runs_calibration_and_reexport_keeps_it(tmp_path, parity_rows, monkeypatch):
    params = _pipeline_outputs(tmp_path, parity_rows)
    ckpt_sha = sha256_file(tmp_path / "models" / "mobilenet_v3" / "best.pdparams")
    fitted = dataclasses.replace(PLATT, fitted_on=PLATT.fitted_on | {"checkpoint_sha256": ckpt_sha})
    run_cal = fitted.save(tmp_path / "exported" / "mobilenet_v3" / "calibration.json")  # the calibrate stage's
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "assets"
    args = ["bundle", "--params", str(params), "--real-dev", "", "--out", str(out), "--no-int8",
            "--calibration-bench", ""]
    assert main(args) == 0
    assert (out / "mobilenet_v3.calibration.json").read_bytes() == run_cal.read_bytes()
    card = json.loads((out / "mobilenet_v3.json").read_text())
    _files_match(card, out)
    assert card["calibration"]["method"] == "platt" and card["calibration"]["real_dev"] is None

    Calibration("temperature", {"temperature": 2.0}).save(run_cal)  # a later run's: not these weights'
    assert main(["bundle", "--params", str(params), "--out", str(out), "--reexport", "--no-int8",
                 "--calibration-bench", ""]) == 0
    assert Calibration.load(out / "mobilenet_v3.calibration.json") == fitted
    _files_match(json.loads((out / "mobilenet_v3.json").read_text()), out)
