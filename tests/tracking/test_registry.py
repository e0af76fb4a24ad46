"""Register, promote behind gates, refuse, roll back: on a real SQLite registry holding the kit pipeline run.

Each test uses its own registered-model name, so they share the tracked runs but not aliases.
"""

from __future__ import annotations

import base64
import dataclasses
import json

import pandas as pd
import pytest

from tests.conftest import read_predictions
from textrec.tracking.registry import promote, register_best, register_run, rollback
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

    with mlflow_session(tracked.store):
        model = mlflow.pyfunc.load_model("models:/t-pyfunc@challenger")
    # bytes, base64 and paths in one frame; predictions are the kit's (PaddleOCR's own decoder output)
    items = [p.read_bytes() if i % 3 == 0 else base64.b64encode(p.read_bytes()).decode() if i % 3 == 1 else str(p)
             for i, (p, _) in enumerate(parity_rows)]
    out = model.predict(pd.DataFrame({"image": items}))
    want = read_predictions(parity_kit / "predictions_mv3.tsv")
    assert list(out.columns) == ["text", "confidence"] and len(out) == 24
    assert out["text"].tolist() == [t for _, t, _ in want]
    assert out["confidence"].to_numpy() == pytest.approx([s for _, _, s in want], abs=1e-5)

    from mlflow.exceptions import MlflowException

    with pytest.raises(MlflowException, match="image 1: cannot decode") as e:
        model.predict(pd.DataFrame({"image": [items[0], b"not an image"]}))
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
    latency = c.get_run(mv3b.run_id).data.metrics["latency_ms_int8"]
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
