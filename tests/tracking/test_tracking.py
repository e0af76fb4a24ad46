from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.tracking.conftest import sqlite_store
from tests.tracking.kit_pipeline import BENCHES, CHECKPOINTS, clone_run
from textrec.config import load_params
from textrec.tracking.log import track_pipeline_run
from textrec.tracking.store import client, mlflow_session


def test_one_run_per_backbone_grouped_by_pipeline_run(tracked):
    c = client(tracked.store)
    runs = c.search_runs([tracked.run.experiment_id],
                         filter_string=f"tags.pipeline_run_id = '{tracked.run.pipeline_run_id}'")
    assert sorted(r.data.tags["backbone"] for r in runs) == ["mobilenet_v3", "resnet34_vd"]
    assert {r.info.run_id for r in runs} == set(tracked.run.run_ids.values())
    head = subprocess.run(["git", "-C", str(tracked.root), "rev-parse", "HEAD"], capture_output=True, text=True)
    lock = yaml.safe_load((tracked.root / "dvc.lock").read_text())
    for r in runs:
        t = r.data.tags
        assert t["git_commit"] == head.stdout.strip() and t["git_dirty"] == "false"
        assert t["data_dvc_hash"] == lock["stages"]["prepare"]["outs"][0]["md5"]
        assert t["profile"] == "tiny" and t["validation_success"] == "true"
        assert r.data.params["eval.benchmarks"] == json.dumps(list(BENCHES))
        assert r.data.params["promotion.model_name"] == "crnn-text-recognizer"
        assert r.info.status == "FINISHED"


def test_metrics_match_the_files_under_the_same_names(tracked):
    c = client(tracked.store)
    for bb, run_id in tracked.run.run_ids.items():
        m = c.get_run(run_id).data.metrics
        q = json.loads((tracked.root / "reports/quantize" / f"{bb}.json").read_text())
        for row in q["benchmarks"]:
            assert m[f"acc_fp32/{row['name']}"] == pytest.approx(row["fp32_accuracy"])
            assert m[f"acc_int8/{row['name']}"] == pytest.approx(row["int8_accuracy"])
        for bench in BENCHES:
            ev = json.loads((tracked.root / "reports/eval" / bb / f"{bench}.json").read_text())
            assert m[f"acc_fp32/{bench}"] == pytest.approx(ev["accuracy"])  # one name for one number
            assert m[f"count/{bench}"] == ev["count"] == 8
            assert m[f"empty/{bench}"] == ev["empty_predictions"]
            cal = ev["calibration"]  # the calibrated confidence's measures, per model version's run
            assert m[f"ece_before/{bench}"] == pytest.approx(cal["ece_before"])
            assert m[f"ece_after/{bench}"] == pytest.approx(cal["ece_after"])
            assert m[f"coverage_at_precision/{bench}"] == pytest.approx(cal["coverage"])
        assert m["avg_acc_fp32"] == pytest.approx(np.mean([r["fp32_accuracy"] for r in q["benchmarks"]]))
        assert m["latency_ms_int8_b1"] > 0 and m["validation_success"] == 1.0
        assert not {"avg_acc", "latency_ms_int8", "latency_ms_fp32"} & set(m) and not any(k.startswith("acc/") for k in m)
    # the kit's trained MobileNetV3 reads some synthetic words; the untrained ResNet34 reads none
    mv3 = c.get_run(tracked.run.run_ids["mobilenet_v3"]).data.metrics
    r34 = c.get_run(tracked.run.run_ids["resnet34_vd"]).data.metrics
    assert mv3["avg_acc_fp32"] > r34["avg_acc_fp32"] == 0.0


def test_training_curve_is_logged_per_step(tracked):
    c = client(tracked.store)
    run_id = tracked.run.run_ids["resnet34_vd"]
    hist = c.get_metric_history(run_id, "train/loss")
    rows = [line.split(",") for line in
            (tracked.root / "reports/train/resnet34_vd/train_log.csv").read_text().splitlines()[1:]]
    assert [(h.step, h.value) for h in sorted(hist, key=lambda h: h.step)] == \
        [(int(r[0]), pytest.approx(float(r[2]))) for r in rows]
    assert [h.step for h in c.get_metric_history(run_id, "train/val_accuracy")] == [int(rows[-1][0])]


def test_artifacts_and_onnx_models(tracked):
    import mlflow

    c = client(tracked.store)
    run_id = tracked.run.run_ids["mobilenet_v3"]
    top = {a.path for a in c.list_artifacts(run_id)}
    assert {"charset", "eval", "quantize", "validation", "plots", "report"} <= top
    assert {a.path for a in c.list_artifacts(run_id, "eval")} == {f"eval/{b}.json" for b in BENCHES}
    assert {a.path for a in c.list_artifacts(run_id, "calibration")} == {"calibration/calibration.json",
                                                                        "calibration/mobilenet_v3.json"}
    tags = c.get_run(run_id).data.tags
    assert tags["missing_optional_files"] == "none"
    # train.json: what the weights started from, with its sha256
    assert (tags["init"], tags["train_steps"]) == (str(CHECKPOINTS["mobilenet_v3"]), "3")
    assert tags["init_sha256"] == hashlib.sha256(CHECKPOINTS["mobilenet_v3"].read_bytes()).hexdigest()
    assert "train" in top
    with mlflow_session(tracked.store):
        model = mlflow.pyfunc.load_model(tags["model_uri.int8"])
        dict_file = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="charset/dict.txt")
    sig = model.metadata.signature.to_dict()
    assert json.loads(sig["inputs"]) == [{"type": "tensor", "tensor-spec": {"dtype": "float32",
                                                                            "shape": [-1, 3, 32, -1]}, "name": "x"}]
    assert Path(dict_file).read_text().split() == list("0123456789abcdefghijklmnopqrstuvwxyz")


def test_logged_onnx_gives_the_kit_outputs(tracked, parity_kit):
    import mlflow

    tags = client(tracked.store).get_run(tracked.run.run_ids["mobilenet_v3"]).data.tags
    with mlflow_session(tracked.store):
        model = mlflow.pyfunc.load_model(tags["model_uri.fp32"])
    out = model.predict(np.load(parity_kit / "inputs_mv3.npy"))
    probs = next(iter(out.values()))  # [24, 25, 37]
    assert np.abs(probs - np.load(parity_kit / "outputs_mv3.npy")).max() < 1e-4


def test_a_missing_file_aborts_before_anything_is_logged(kit_run, tmp_path):
    root = clone_run(kit_run, tmp_path / "p").parent
    (root / "reports/eval/resnet34_vd/kit_ic15.json").unlink()
    store = sqlite_store(tmp_path)
    with pytest.raises(FileNotFoundError, match="kit_ic15.json"):
        track_pipeline_run(load_params(root / "params.yaml"), root, store=store)
    assert not (tmp_path / "mlflow.db").exists()  # nothing was written, not even a half pipeline run
