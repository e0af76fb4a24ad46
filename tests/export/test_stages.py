"""The export and quantize DVC stages end to end on a tiny project (kit checkpoint + kit images)."""

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import yaml

from tests.scripts_kit import stage_main
from textrec.config import load_params

REPO = Path(__file__).resolve().parents[2]


_stage = stage_main


def test_export_then_quantize_stage(tmp_path, mv3_checkpoint, kit_lmdb, capsys, monkeypatch):
    (tmp_path / "models" / "mobilenet_v3").mkdir(parents=True)
    shutil.copy(mv3_checkpoint, tmp_path / "models" / "mobilenet_v3" / "best.pdparams")
    for sub in ("train", "bench/KIT"):
        shutil.copytree(kit_lmdb, tmp_path / "lmdb" / sub)
    params = {"paths": {k: str(tmp_path / k) for k in ("lmdb", "models", "exported", "reports")},
              "eval": {"benchmarks": ["KIT"], "batch_size": 8},
              "export": {"parity_images": 12},
              "quantize": {"calibration_images": 24, "timing_rounds": 1}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))

    assert _stage("export")(["--backbone", "mobilenet_v3", "--params", str(tmp_path / "params.yaml")]) == 0
    exp = json.loads((tmp_path / "reports" / "export" / "mobilenet_v3.json").read_text())
    assert exp["passed"] and exp["onnx_max_abs_diff"] <= 1e-4 and exp["images"]["images"] == 12
    assert {"inference.json", "inference.pdiparams", "model.onnx"} <= set(exp["files"])

    # a negative allowed drop cannot be met by any plan: metrics are written, the stage fails naming the gate
    # (params.yaml refuses a negative drop, so it is set on the loaded params)
    quantize = _stage("quantize")

    def negative_drop(stage, path):
        p = load_params(path)
        return dataclasses.replace(p, quantize=dataclasses.replace(p.quantize, max_accuracy_drop=-0.01))

    monkeypatch.setitem(quantize.__globals__, "load_stage_params", negative_drop)
    assert quantize(["--backbone", "mobilenet_v3", "--params", str(tmp_path / "params.yaml")]) == 1
    err = capsys.readouterr().err
    assert "plan 'static_u8_dynamic_lstm': accuracy[KIT]" in err and "plan 'dynamic_lstm': accuracy[KIT]" in err
    q = json.loads((tmp_path / "reports" / "quantize" / "mobilenet_v3.json").read_text())
    assert not q["passed"] and [a["plan"]["name"] for a in q["attempts"]] == ["static_u8_dynamic_lstm",
                                                                             "dynamic_lstm"]
    assert all(g.startswith("accuracy[KIT]") or g.startswith("speed[") for g in q["failed_gates"])
    first = q["attempts"][0]
    assert first["benchmarks"][0]["count"] == 24 and first["int8_bytes"] < q["fp32_bytes"]
    # the shipped attempt's numbers sit at the top level, as tracking and the report read them
    assert [b["name"] for b in q["benchmarks"]] == ["KIT"] and 0 <= q["benchmarks"][0]["int8_accuracy"] <= 1
    assert {(s["engine"], s["batch_size"]) for s in q["speed"]} == {
        (e, b) for e in ("onnx_fp32", "onnx_int8") for b in (1, 64)}
    assert [p.name for p in (tmp_path / "exported" / "mobilenet_v3").glob("*int8*")] == ["model_int8.onnx"]


def test_export_stage_fails_without_checkpoint(tmp_path, kit_lmdb):
    shutil.copytree(kit_lmdb, tmp_path / "lmdb" / "bench" / "KIT")
    params = {"paths": {k: str(tmp_path / k) for k in ("lmdb", "models", "exported", "reports")},
              "eval": {"benchmarks": ["KIT"]}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(Exception, match="best.pdparams"):
        _stage("export")(["--backbone", "mobilenet_v3", "--params", str(tmp_path / "params.yaml")])
