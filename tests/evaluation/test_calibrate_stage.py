"""The calibrate DVC stage fits the word-confidence calibration on the validation set and writes it beside the
exported model; the evaluate stage reports each benchmark's ECE before and after it, the reliability bins and
the auto-accept threshold with its coverage (parity kit's 24 real photos and PaddleOCR's MobileNetV3)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.scripts_kit import stage_main
from textrec.calibration import Calibration, expected_calibration_error
from textrec.charset import Charset
from textrec.data.lmdb_io import LmdbWriter
from textrec.evaluation.evaluate import evaluate_lmdb
from textrec.inference.engines import load_engine

REPO = Path(__file__).resolve().parents[2]


_stage = stage_main


@pytest.fixture
def project(tmp_path, parity_kit, parity_rows):
    for lmdb in ("val", "bench/KIT"):
        with LmdbWriter(tmp_path / "lmdb" / lmdb) as w:
            for path, label in parity_rows:
                w.add(path.read_bytes(), label)
    model_dir = tmp_path / "models" / "mobilenet_v3"
    model_dir.mkdir(parents=True)
    shutil.copy(parity_kit / "mv3" / "best_accuracy.pdparams", model_dir / "best.pdparams")
    return tmp_path


def run(monkeypatch, project: Path, stage: str, *args: str, calibration: dict | None = None) -> None:
    params = {"paths": {k: str(project / k) for k in ("lmdb", "models", "exported", "reports")},
              "eval": {"benchmarks": ["KIT"], "batch_size": 8},
              "calibration": calibration or {"folds": 3, "target_precision": 0.9}}
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.setattr(sys, "argv", [f"{stage}.py", "--backbone", "mobilenet_v3", *args,
                                      "--params", str(project / "params.yaml"), "--no-progress"])
    _stage(stage)()


def kit_outputs(project: Path) -> tuple[np.ndarray, np.ndarray]:
    """The checkpoint's probabilities [24, T, C] and correctness on the kit, computed here."""
    charset = Charset.from_file()
    engine = load_engine(project / "models/mobilenet_v3/best.pdparams", charset.num_classes, "mobilenet_v3")
    outputs: list[np.ndarray] = []
    res = evaluate_lmdb(engine, project / "lmdb/bench/KIT", charset, "KIT", 8, outputs=outputs)
    return np.concatenate(outputs), np.array([s.correct for s in res.samples])


def test_calibrate_then_evaluate_report_ece_before_and_after(project, monkeypatch):
    run(monkeypatch, project, "calibrate")
    cal = Calibration.load(project / "exported/mobilenet_v3/calibration.json")
    report = json.loads((project / "reports/calibration/mobilenet_v3.json").read_text())
    scores = report["selection"]["cv_ece"]
    assert set(scores) == {"temperature", "platt", "isotonic", "histogram"}
    assert cal.method == report["method"] == min(scores, key=scores.get)  # auto: the lowest
    assert cal.fitted_on["count"] == 24 and len(cal.fitted_on["checkpoint_sha256"]) == 64

    probs, correct = kit_outputs(project)
    run(monkeypatch, project, "evaluate", "--bench", "KIT")
    block = json.loads((project / "reports/eval/mobilenet_v3/KIT.json").read_text())["calibration"]
    assert block["count"] == 24 and block["target_precision"] == 0.9
    assert block["ece_after"] == pytest.approx(expected_calibration_error(cal.confidences(probs), correct))
    assert block["ece_before"] > block["ece_after"]  # fitted on these very words
    assert sum(b["count"] for b in block["reliability_after"]) == 24
    calibrated = cal.confidences(probs)
    if block["threshold"] is not None:
        accepted = calibrated >= block["threshold"]
        assert correct[accepted].mean() >= 0.9 and accepted.mean() == pytest.approx(block["coverage"])


def test_configured_method_is_used_and_all_are_recorded(project, monkeypatch):
    run(monkeypatch, project, "calibrate", calibration={"method": "platt", "folds": 3})
    report = json.loads((project / "reports/calibration/mobilenet_v3.json").read_text())
    assert report["method"] == "platt" and report["selection"]["by"] == "configured"
    assert len(report["selection"]["cv_ece"]) == 4


def test_evaluate_without_calibration_says_so_and_reports_before_only(project, monkeypatch, capsys):
    run(monkeypatch, project, "evaluate", "--bench", "KIT")
    assert "calibration.json not found" in capsys.readouterr().out
    block = json.loads((project / "reports/eval/mobilenet_v3/KIT.json").read_text())["calibration"]
    assert block["ece_after"] is None and block["ece_before"] > 0 and block["method"] is None


def test_too_few_validation_words_is_one_line(project, monkeypatch, parity_rows):
    shutil.rmtree(project / "lmdb" / "val")
    with LmdbWriter(project / "lmdb" / "val") as w:
        for path, label in parity_rows[:4]:
            w.add(path.read_bytes(), label)
    with pytest.raises(SystemExit, match="calibrate: error: 4 labelled words are too few") as e:
        run(monkeypatch, project, "calibrate")
    assert "\n" not in str(e.value)
