"""A pipeline run logged through a real `mlflow server` (loopback), checked through its REST API."""

from __future__ import annotations

import json

import pytest

from bench.servers import http, post_json, start_tracking_server
from tests.tracking.kit_pipeline import BENCHES, clone_run
from textrec.config import TrackingConfig, load_params
from textrec.tracking.log import track_pipeline_run
from textrec.tracking.registry import register_best
from textrec.tracking.store import resolve_store


@pytest.mark.servers
@pytest.mark.timeout(900)  # may build kit_run, then starts `mlflow server` (up to 180 s)
def test_pipeline_run_through_a_tracking_server(kit_run, tmp_path):
    root = clone_run(kit_run, tmp_path / "project").parent
    params = load_params(root / "params.yaml")
    srv = start_tracking_server(f"sqlite:///{tmp_path / 'server.db'}", tmp_path / "server_artifacts",
                                tmp_path / "server.log", timeout=180)
    try:
        store = resolve_store(TrackingConfig(), root, env={"MLFLOW_TRACKING_URI": srv.url})
        assert store.artifact_location is None  # the server decides where artifacts go
        tracked = track_pipeline_run(params, root, store=store)
        rv = register_best(params, store, tracked.pipeline_run_id)

        api = srv.url + "/api/2.0/mlflow"
        status, body = post_json(f"{api}/runs/search", {
            "experiment_ids": [tracked.experiment_id],
            "filter": f"tags.pipeline_run_id = '{tracked.pipeline_run_id}'"})
        assert status == 200
        runs = {next(t["value"] for t in r["data"]["tags"] if t["key"] == "backbone"): r for r in body["runs"]}
        assert sorted(runs) == ["mobilenet_v3", "resnet34_vd"]
        for bb, run in runs.items():
            metrics = {m["key"]: m["value"] for m in run["data"]["metrics"]}
            quant = json.loads((root / "reports/quantize" / f"{bb}.json").read_text())
            for row in quant["benchmarks"]:
                assert metrics[f"acc_fp32/{row['name']}"] == pytest.approx(row["fp32_accuracy"])
                assert metrics[f"acc_int8/{row['name']}"] == pytest.approx(row["int8_accuracy"])
            assert {f"acc_fp32/{b}" for b in BENCHES} <= set(metrics)
            assert "avg_acc_int8" in metrics and "latency_ms_int8_b1" in metrics

        status, raw = http("GET", f"{api}/registered-models/alias?name=crnn-text-recognizer&alias=challenger")
        version = json.loads(raw)["model_version"]
        assert status == 200 and version["version"] == rv.version
        assert version["run_id"] == runs["mobilenet_v3"]["info"]["run_id"]
        # artifacts went through the server into its artifact store
        assert list((tmp_path / "server_artifacts").rglob("model.onnx"))
    finally:
        srv.stop()
    assert srv.alive() == []  # nothing of the server's process group is left
