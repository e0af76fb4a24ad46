"""Register, promote behind gates, refuse, roll back: on a real SQLite registry holding the kit pipeline run.

Each test uses its own registered-model name, so they share the tracked runs but not aliases.
"""

from __future__ import annotations

import base64
import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from tests.conftest import read_predictions
from textrec.artifacts.metrics import FORGETTING, avg_acc_key
from textrec.calibration import Calibration
from textrec.tracking.files import serving_config
from textrec.tracking.registry import best_run, promote, register_best, register_run, rollback
from textrec.tracking.store import client, mlflow_session


def _params(tracked, name: str, **promotion):
    promo = dataclasses.replace(tracked.params.promotion, model_name=name, **promotion)
    return dataclasses.replace(tracked.params, promotion=promo)


def test_best_run_becomes_the_challenger_pyfunc(tracked, parity_kit, parity_rows, tmp_path):
    import mlflow

    params = _params(tracked, "t-pyfunc", serve_precision="fp32")
    rv = register_best(params, tracked.store, tracked.run.pipeline_run_id)
    assert (rv.version, rv.backbone, rv.pipeline_run_id) == ("1", "mobilenet_v3", tracked.run.pipeline_run_id)
    c = client(tracked.store)
    assert str(c.get_model_version_by_alias("t-pyfunc", "challenger").version) == "1"
    mv = c.get_model_version("t-pyfunc", "1")
    assert mv.run_id == tracked.run.run_ids["mobilenet_v3"] and mv.tags["precision"] == "fp32"
    # MLflow logs the model config as params of the registered run: `track` logged them on every run already
    mv3_params, r34_params = (c.get_run(tracked.run.run_ids[bb]).data.params for bb in ("mobilenet_v3", "resnet34_vd"))
    assert set(mv3_params) == set(r34_params)
    assert all(mv3_params[k] == r34_params[k] == str(v) for k, v in serving_config(params).items())  # as MLflow logs

    with mlflow_session(tracked.store):
        model = mlflow.pyfunc.load_model("models:/t-pyfunc@challenger")
        # file paths: only for a local caller that opts in when loading
        # rotate_portrait off: each image as given, as PaddleOCR read them (one of the 24 is a portrait crop)
        local = mlflow.pyfunc.load_model("models:/t-pyfunc@challenger",
                                         model_config={"allow_local_paths": True, "rotate_portrait": False})
    # bytes, base64 and paths in one frame; predictions are the kit's (PaddleOCR's own decoder output)
    items = [p.read_bytes() if i % 3 == 0 else base64.b64encode(p.read_bytes()).decode() if i % 3 == 1 else str(p)
             for i, (p, _) in enumerate(parity_rows)]
    out = local.predict(pd.DataFrame({"image": items}))
    want = read_predictions(parity_kit / "predictions_mv3.tsv")
    assert list(out.columns) == ["text", "confidence"] and len(out) == 24
    assert out["text"].tolist() == [t for _, t, _ in want]
    # the confidences are the run's calibration of the kit's outputs (PaddleOCR's own scores, calibrated)
    cal = Calibration.load(tracked.root / "exported/mobilenet_v3/calibration.json")
    assert mv.tags["calibration"] == cal.describe()
    calibrated = cal.confidences(np.load(parity_kit / "outputs_mv3.npy"))
    assert out["confidence"].to_numpy() == pytest.approx(calibrated, abs=1e-5)
    assert not np.allclose(calibrated, [s for _, _, s in want], atol=1e-3)  # not the raw scores

    from mlflow.exceptions import MlflowException

    with pytest.raises(MlflowException, match="image 1: cannot decode") as e:
        model.predict(pd.DataFrame({"image": [items[0], b"not an image"]}))
    assert e.value.get_http_status_code() == 400
    for path in (items[2], "/etc/passwd"):  # by default a path is a string that is not base64
        with pytest.raises(MlflowException, match="image 1: string of .* is not valid base64") as e:
            model.predict(pd.DataFrame({"image": [items[0], path]}))
        assert e.value.get_http_status_code() == 400


def test_promote_refuse_each_gate_and_rollback(tracked, kit_run, tmp_path):
    name = "t-gates"
    params = _params(tracked, name, max_latency_ms=1e6)  # ResNet34 is slow: only the gate under test may fail
    c = client(tracked.store)
    mv3 = register_best(params, tracked.store, tracked.run.pipeline_run_id)
    d = promote(params.promotion, tracked.store)
    assert d.promoted and d.previous_production is None and all(g.passed for g in d.gates)
    assert str(c.get_model_version_by_alias(name, "production").version) == mv3.version
    assert promote(params.promotion, tracked.store).decision == "unchanged"

    # accuracy: the untrained ResNet34 run as challenger, the trained MobileNetV3 in production
    r34 = register_run(params, tracked.store, tracked.run.run_ids["resnet34_vd"])
    d = promote(params.promotion, tracked.store)
    assert (d.version, d.decision) == (r34.version, "refused")
    assert [g.name for g in d.gates if not g.passed] == ["accuracy"]
    tags = c.get_model_version(name, r34.version).tags
    assert tags["promotion.decision"] == "refused" and tags["promotion.production_before"] == mv3.version
    assert any(r.startswith("accuracy: FAIL") for r in json.loads(tags["promotion.reasons"]))
    assert str(c.get_model_version_by_alias(name, "production").version) == mv3.version  # unchanged

    # a second MobileNetV3 version (same run, so same accuracy) against tight limits, one gate at a time
    mv3b = register_best(params, tracked.store, tracked.run.pipeline_run_id)
    latency = c.get_run(mv3b.run_id).data.metrics["latency_ms_int8_b1"]
    for gate, cfg in [("int8_drop", dataclasses.replace(params.promotion, max_int8_drop=-0.01)),
                      ("latency", dataclasses.replace(params.promotion, max_latency_ms=latency / 2))]:
        d = promote(cfg, tracked.store)
        assert d.decision == "refused" and [g.name for g in d.gates if not g.passed] == [gate]
        assert str(c.get_model_version_by_alias(name, "production").version) == mv3.version

    d = promote(params.promotion, tracked.store)
    assert d.promoted and d.previous_production == mv3.version
    assert str(c.get_model_version_by_alias(name, "production").version) == mv3b.version
    assert json.loads(c.get_registered_model(name).tags["production.history"]) == [mv3.version, mv3b.version]

    assert rollback(params.promotion, tracked.store) == (mv3b.version, mv3.version)
    assert str(c.get_model_version_by_alias(name, "production").version) == mv3.version
    assert c.get_model_version(name, mv3b.version).tags["rollback.to"] == mv3.version
    with pytest.raises(ValueError, match="no earlier production version"):
        rollback(params.promotion, tracked.store)


def test_rolled_back_version_is_not_promoted_again_unless_asked(tracked):
    name = "t-rollback"
    params = _params(tracked, name, max_latency_ms=1e6)
    c = client(tracked.store)
    v1 = register_best(params, tracked.store, tracked.run.pipeline_run_id).version
    assert promote(params.promotion, tracked.store).promoted
    v2 = register_best(params, tracked.store, tracked.run.pipeline_run_id).version
    assert promote(params.promotion, tracked.store).promoted
    assert rollback(params.promotion, tracked.store, reason="garbled outputs") == (v2, v1)
    t = c.get_model_version(name, v2).tags
    assert (t["rolled_back"], t["rollback.to"], t["rollback.reason"]) == ("true", v1, "garbled outputs")

    # v2 is still the challenger: a plain promote, or one naming v2, must not bring it back
    assert str(c.get_model_version_by_alias(name, "challenger").version) == v2
    for version in (None, v2):
        d = promote(params.promotion, tracked.store, version)
        assert (d.version, d.decision) == (v2, "refused")
        assert [g.name for g in d.gates if not g.passed] == ["rolled_back"]
        assert "garbled outputs" in str(d.gates[0]) and "--allow-rolled-back" in str(d.gates[0])
        assert str(c.get_model_version_by_alias(name, "production").version) == v1
    assert c.get_model_version(name, v2).tags["promotion.decision"] == "refused"

    # asked explicitly: the other gates still apply, and the mark is cleared once it is production again
    d = promote(params.promotion, tracked.store, allow_rolled_back=True)
    assert d.promoted and d.previous_production == v1
    assert d.gates[0].name == "rolled_back" and d.gates[0].passed
    assert str(c.get_model_version_by_alias(name, "production").version) == v2
    tags = c.get_model_version(name, v2).tags
    assert "rolled_back" not in tags and tags["rollback.reason"] == "garbled outputs"  # history kept
    assert rollback(params.promotion, tracked.store) == (v2, v1)
    assert c.get_model_version(name, v2).tags["rollback.reason"] == "not given"


def test_failed_validation_blocks_promotion(tracked, kit_run, tmp_path):
    from tests.tracking.kit_pipeline import clone_run
    from textrec.config import load_params
    from textrec.tracking.log import track_pipeline_run

    root = clone_run(kit_run, tmp_path / "p", validation_success=False).parent
    params = dataclasses.replace(load_params(root / "params.yaml"), promotion=_params(
        tracked, "t-validation", max_latency_ms=1e6).promotion)
    run = track_pipeline_run(params, root, ("mobilenet_v3",), store=tracked.store)
    register_best(params, tracked.store, run.pipeline_run_id)
    d = promote(params.promotion, tracked.store)
    assert d.decision == "refused" and [g.name for g in d.gates if not g.passed] == ["validation"]
    with pytest.raises(ValueError, match="no 'production' version"):
        rollback(params.promotion, tracked.store)


def test_the_registered_code_is_the_package_without_its_bundled_weights(tmp_path) -> None:
    """code_paths: every module the pyfunc imports, not the 8.6 MB bundled checkpoint (the served model is the
    run's own ONNX artifact)."""
    from textrec.tracking.registry import _package_copy

    out = _package_copy(tmp_path)
    assert (out / "inference" / "recognizer.py").is_file() and (out / "assets" / "models").is_dir()
    assert not list(out.rglob("*.pdparams")) and not list(out.rglob("__pycache__"))


def test_best_run_ranks_by_the_own_test_sets_when_the_runs_have_them(tmp_path):
    """In a real store: run b is better on your own test sets, a on the mean over every benchmark."""
    from tests.tracking.conftest import sqlite_store
    from textrec.config import Params
    from textrec.tracking.log import TAG_PIPELINE_RUN

    store = sqlite_store(tmp_path)
    c, ids = client(store), {}
    with mlflow_session(store) as exp_id:
        for pipeline, own in (("finetune", True), ("synthetic", False)):
            for bb, overall, own_mean in (("a", 0.80, 0.70), ("b", 0.60, 0.90)):
                run_id = c.create_run(exp_id, tags={TAG_PIPELINE_RUN: pipeline, "backbone": bb}).info.run_id
                c.log_metric(run_id, avg_acc_key("int8"), overall)
                if own:
                    c.log_metric(run_id, avg_acc_key("int8", own=True), own_mean)
                ids[pipeline, bb] = run_id
    assert best_run(Params(), store, "finetune") == ids["finetune", "b"]
    assert best_run(Params(), store, "synthetic") == ids["synthetic", "a"]  # no own test sets: as before


def test_a_finetune_run_is_registered_by_its_own_test_sets_and_gated_on_forgetting(tracked, kit_run, tmp_path):
    """The kit run as a finetune run (kit_synth your test set, the other two the synthetic suite, whose start
    checkpoint read 20 points more): tracked, registered by the own mean, refused above max_forgetting and
    promoted within it."""
    from tests.tracking.kit_pipeline import clone_as_finetune
    from textrec.config import load_params
    from textrec.tracking.log import track_pipeline_run

    name = "t-finetune"
    root = clone_as_finetune(kit_run, tmp_path / "ft", ("kit_synth",), start_gap=0.2).parent
    params = dataclasses.replace(load_params(root / "params.yaml"), promotion=_params(
        tracked, name, max_latency_ms=1e6).promotion)
    run = track_pipeline_run(params, root, ("mobilenet_v3",), store=tracked.store)
    rv = register_best(params, tracked.store, run.pipeline_run_id)
    c = client(tracked.store)
    metrics = c.get_run(rv.run_id).data.metrics
    assert rv.metric == avg_acc_key("int8", own=True) and rv.score == metrics["acc_int8/kit_synth"]
    assert rv.score != metrics[avg_acc_key("int8")]  # the kit model reads kit_synth best: the means differ
    assert c.get_model_version(name, rv.version).tags[rv.metric] == str(rv.score)
    assert metrics[FORGETTING] == pytest.approx(0.2)

    d = promote(dataclasses.replace(params.promotion, max_forgetting=0.15), tracked.store)
    assert d.decision == "refused" and [g.name for g in d.gates if not g.passed] == ["forgetting"]
    assert "synthetic suite -20.0 points since the start checkpoint" in str(d.gates[-1])
    d = promote(dataclasses.replace(params.promotion, max_forgetting=0.25), tracked.store)
    assert d.promoted and [g.name for g in d.gates][-1] == "forgetting"
    assert f"{rv.metric}={rv.score:.4f}" in str(d.gates[1])  # the accuracy gate read the own mean
