from __future__ import annotations

import json

import pytest
import yaml

from tests.tracking.kit_pipeline import BENCHES, clone_run
from textrec.config import load_params
from textrec.tracking.files import (
    PipelineLayout,
    dvc_data_hash,
    eval_metrics,
    git_state,
    quantize_metrics,
    read_train_log,
    validation_passed,
)


def test_layout_fills_paths_from_params(kit_run):
    params = load_params(kit_run / "params.yaml")
    lay = PipelineLayout()
    assert lay.path("train_log", params, kit_run, backbone="resnet34_vd") == \
        kit_run / "reports/train/resnet34_vd/train_log.csv"
    assert lay.path("eval_report", params, kit_run, backbone="mobilenet_v3", bench="kit_ic15") == \
        kit_run / "reports/eval/mobilenet_v3/kit_ic15.json"
    assert lay.path("onnx_int8", params, kit_run, backbone="mobilenet_v3").is_file()


def test_train_log(kit_run, tmp_path):
    rows = read_train_log(kit_run / "reports/train/mobilenet_v3/train_log.csv")
    names = {n for n, _, _ in rows}
    assert {"train/loss", "train/lr", "train/epoch", "train/images_per_second", "train/val_accuracy"} == names
    assert sorted({s for _, _, s in rows}) == [1, 2, 3]
    assert [s for n, _, s in rows if n == "train/val_accuracy"] == [3]  # empty cells are not logged
    bad = tmp_path / "log.csv"
    bad.write_text("step,epoch,loss\n1,0,2.5\n2,0,oops\n")
    with pytest.raises(ValueError, match="line 3"):
        read_train_log(bad)
    bad.write_text("epoch,loss\n0,1\n")
    with pytest.raises(ValueError, match="'step' column"):
        read_train_log(bad)
    with pytest.raises(FileNotFoundError):
        read_train_log(tmp_path / "missing.csv")


def test_eval_and_quantize_metrics_agree_with_the_files(kit_run):
    paths = {b: kit_run / "reports/eval/mobilenet_v3" / f"{b}.json" for b in BENCHES}
    m = eval_metrics(paths)
    reps = {b: json.loads(p.read_text()) for b, p in paths.items()}
    assert m["acc/kit_synth"] == reps["kit_synth"]["accuracy"]
    assert m["avg_acc"] == pytest.approx(sum(r["accuracy"] for r in reps.values()) / 3)
    q = quantize_metrics(kit_run / "reports/quantize/mobilenet_v3.json", tuple(BENCHES))
    rep = json.loads((kit_run / "reports/quantize/mobilenet_v3.json").read_text())
    row = {r["name"]: r for r in rep["benchmarks"]}
    for b in BENCHES:
        assert q[f"acc_int8/{b}"] == row[b]["int8_accuracy"]
        assert q[f"int8_drop/{b}"] == pytest.approx(row[b]["fp32_accuracy"] - row[b]["int8_accuracy"])
    assert q["latency_ms_int8"] == next(t["ms_per_image"] for t in rep["speed"] if t["engine"] == "onnx_int8") > 0
    with pytest.raises(ValueError, match="benchmark 'IIIT5K' missing"):
        quantize_metrics(kit_run / "reports/quantize/mobilenet_v3.json", ("IIIT5K",))


def test_quantize_report_without_latency_is_refused(tmp_path):
    p = tmp_path / "q.json"
    p.write_text(json.dumps({"benchmarks": [{"name": "a", "fp32_accuracy": 0.5, "int8_accuracy": 0.4}],
                             "speed": [{"engine": "onnx_fp32", "batch_size": 1, "ms_per_image": 2.0}]}))
    with pytest.raises(ValueError, match="no batch-1 timing for engine 'onnx_int8'"):
        quantize_metrics(p, ("a",))


def test_dvc_hash_git_state_and_validation(kit_run, tmp_path):
    lock = yaml.safe_load((kit_run / "dvc.lock").read_text())
    assert dvc_data_hash(kit_run / "dvc.lock", "data/lmdb") == lock["stages"]["prepare"]["outs"][0]["md5"]
    # several stages writing below the data directory: one digest over all of them, order-independent
    split = {"stages": {"a": {"outs": [{"path": "data/lmdb/train", "md5": "1.dir"}]},
                        "b": {"outs": [{"path": "data/lmdb/bench", "md5": "2.dir"}]}}}
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(split))
    h = dvc_data_hash(tmp_path / "dvc.lock", "data/lmdb")
    assert h.startswith("sha256:")
    split["stages"]["b"]["outs"][0]["md5"] = "3.dir"
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(split))
    assert dvc_data_hash(tmp_path / "dvc.lock", "data/lmdb") != h
    with pytest.raises(ValueError, match="no stage output"):
        dvc_data_hash(tmp_path / "dvc.lock", "data/other")

    commit, dirty = git_state(kit_run)
    assert len(commit) == 40 and not dirty
    with pytest.raises(ValueError, match="git rev-parse HEAD failed"):
        git_state(tmp_path)

    clone = clone_run(kit_run, tmp_path / "clone", validation_success=False).parent
    assert validation_passed(kit_run / "reports/validation.json") is True
    assert validation_passed(clone / "reports/validation.json") is False
    (clone / "reports/validation.json").write_text('{"success": "yes"}')
    with pytest.raises(ValueError, match="boolean 'success'"):
        validation_passed(clone / "reports/validation.json")
