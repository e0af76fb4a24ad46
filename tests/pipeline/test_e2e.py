"""End to end with the real components on 127.0.0.1: a Prefect server, a process work pool and worker,
an MLflow tracking server; `prefect deployment run 'crnn-pipeline/nightly'` reproduces the `tiny` profile
in a copy of the repository (a real `dvc repro` of every stage), tracks both backbones, registers the best
and promotes it. Then the DVC-level checks run on the finished copy."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.servers import http, post_json, start_tracking_server
from tests.pipeline.project import REPO, copy_project, dvc
from tests.pipeline.project import run as run_in
from tests.pipeline.servers import PREFECT_BIN, start_worker, stop_group

# ~5 min typical; the fixture alone allows 1300 s for the deployment run plus two server starts (the Prefect
# server is the session's, tests/conftest.py)
pytestmark = [pytest.mark.servers, pytest.mark.timeout(1800)]
MODEL = "crnn-text-recognizer"


@dataclass
class Run:
    project: Path
    mlflow_url: str
    prefect_url: str
    env: dict
    deploy_seconds: float
    run_output: str


def _prefect(args: list[str], env: dict, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(PREFECT_BIN), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"prefect {args} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, prefect_server):
    tmp = tmp_path_factory.mktemp("e2e")
    project = copy_project(tmp / "project", "tiny")
    mlflow_srv = start_tracking_server(f"sqlite:///{tmp / 'mlflow.db'}", tmp / "mlartifacts", tmp / "mlflow.log")
    worker = None
    try:
        env = prefect_server.env | {"MLFLOW_TRACKING_URI": mlflow_srv.url}
        _prefect(["work-pool", "create", "textrec-local", "--type", "process"], env, project)
        _prefect(["--no-prompt", "deploy", "--name", "nightly"], env, project)
        worker = start_worker(env, project, "textrec-local", tmp / "worker.log")
        t0 = time.monotonic()
        proc = subprocess.run([str(PREFECT_BIN), "deployment", "run", "crnn-pipeline/nightly", "--watch",
                               "--watch-timeout", "1200"], cwd=project, env=env, capture_output=True, text=True,
                              timeout=1300, stdin=subprocess.DEVNULL)
        seconds = time.monotonic() - t0
        print(f"\nprefect deployment run crnn-pipeline/nightly (tiny profile): {seconds:.1f} s")
        log = (tmp / "worker.log").read_text(errors="replace")
        assert proc.returncode == 0, f"deployment run failed:\n{proc.stdout[-3000:]}\n{log[-6000:]}"
        yield Run(project, mlflow_srv.url, prefect_server.url, env, seconds, proc.stdout + log)
    finally:
        if worker is not None:
            stop_group(worker)
        mlflow_srv.stop()


def test_deployment_run_completes_and_writes_every_output(tiny_run):
    from textrec.config import load_params

    assert "Completed" in tiny_run.run_output
    p = tiny_run.project
    bench_size = load_params(p / "params.yaml").data.synth.bench_size
    for bb in ("mobilenet_v3", "resnet34_vd"):
        assert (p / "models" / bb / "best.pdparams").exists()
        for f in ("inference.json", "inference.pdiparams", "model.onnx", "model_int8.onnx"):
            assert (p / "exported" / bb / f).stat().st_size > 0
        for bench in ("synth_IIIT5K", "synth_IC15"):
            d = json.loads((p / "reports" / "eval" / bb / f"{bench}.json").read_text())
            assert d["count"] == bench_size and 0.0 <= d["accuracy"] <= 1.0
        assert json.loads((p / "reports" / "export" / f"{bb}.json").read_text())["passed"] is True
        assert json.loads((p / "reports" / "quantize" / f"{bb}.json").read_text())["passed"] is True
    assert json.loads((p / "reports" / "validation.json").read_text())["success"] is True
    html = (p / "reports" / "report.html").read_text()
    assert "mobilenet_v3 fp32" in html and "resnet34_vd int8" in html and "data:image/png;base64" in html
    # the stage output streamed into the Prefect run log
    assert "Running stage 'train@mobilenet_v3'" in tiny_run.run_output


def test_deployment_runs_in_the_deployed_checkout_one_at_a_time(tiny_run):
    status, raw = http("GET", f"{tiny_run.prefect_url}/deployments/name/crnn-pipeline/nightly")
    assert status == 200
    dep = json.loads(raw)
    (step,) = dep["pull_steps"]  # prefect.yaml's pull step, templated with the directory deployed from
    directory = step["prefect.deployments.steps.set_working_directory"]["directory"]
    assert Path(directory).resolve() == tiny_run.project.resolve()
    assert dep["global_concurrency_limit"]["limit"] == 1
    assert dep["concurrency_options"]["collision_strategy"] == "ENQUEUE"


def test_training_runs_were_live_and_tracking_added_to_them(tiny_run):
    """The train stages created the MLflow runs as they trained; `textrec track` added to the same runs."""
    api = tiny_run.mlflow_url + "/api/2.0/mlflow"
    status, raw = http("GET", f"{api}/experiments/get-by-name?experiment_name=textrec")
    assert status == 200
    status, body = post_json(f"{api}/runs/search", {"experiment_ids": [json.loads(raw)["experiment"]["experiment_id"]]})
    assert status == 200 and len(body["runs"]) == 2
    for run in body["runs"]:
        tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
        bb = tags["backbone"]
        summary = json.loads((tiny_run.project / "reports" / "train" / bb / "train.json").read_text())
        assert tags["live_training"] == "true" and tags["train_run_id"] == run["info"]["run_id"]
        assert summary["tracking_run_id"] == run["info"]["run_id"] and "pipeline_run_id" in tags


def test_mlflow_server_has_both_backbones_and_the_registered_model(tiny_run):
    api = tiny_run.mlflow_url + "/api/2.0/mlflow"
    status, raw = http("GET", f"{api}/experiments/get-by-name?experiment_name=textrec")
    assert status == 200
    exp_id = json.loads(raw)["experiment"]["experiment_id"]
    status, body = post_json(f"{api}/runs/search", {"experiment_ids": [exp_id]})
    assert status == 200
    runs = {next(t["value"] for t in r["data"]["tags"] if t["key"] == "backbone"): r for r in body["runs"]}
    assert sorted(runs) == ["mobilenet_v3", "resnet34_vd"]
    for bb, run in runs.items():
        metrics = {m["key"]: m["value"] for m in run["data"]["metrics"]}
        tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
        assert tags["profile"] == "tiny" and tags["git_commit"] and tags["data_dvc_hash"]
        for bench in ("synth_IIIT5K", "synth_IC15"):
            ev = json.loads((tiny_run.project / "reports/eval" / bb / f"{bench}.json").read_text())
            assert metrics[f"acc_fp32/{bench}"] == pytest.approx(ev["accuracy"])
            assert f"acc_int8/{bench}" in metrics
    status, raw = http("GET", f"{api}/registered-models/alias?name={MODEL}&alias=challenger")
    assert status == 200
    challenger = json.loads(raw)["model_version"]
    assert challenger["run_id"] in {r["info"]["run_id"] for r in runs.values()}
    # promote=true in the deployment and every tiny gate passes: production is the challenger
    status, raw = http("GET", f"{api}/registered-models/alias?name={MODEL}&alias=production")
    assert status == 200 and json.loads(raw)["model_version"]["version"] == challenger["version"]


def test_noop_repro_runs_nothing(tiny_run, tmp_path):
    """Through bench/pipeline_run.py, which times `dvc repro` and each stage that runs: here none does."""
    out = tmp_path / "pipeline_run.json"
    proc = run_in([sys.executable, str(REPO / "bench" / "pipeline_run.py"), "--repo", str(tiny_run.project),
                   "--out", str(out)], tiny_run.project, timeout=300)
    assert "Running stage" not in proc.stdout, proc.stdout
    report = json.loads(out.read_text())
    assert report["exit_code"] == 0 and report["profile"] == "tiny" and report["total_seconds"] > 0
    assert [s["stage"] for s in report["stages"]] == ["(dvc start-up)"]
    assert report["stages"][0]["share"] == pytest.approx(1.0, abs=0.05)


def test_changing_one_parameter_reruns_only_what_depends_on_it(tiny_run):
    params = tiny_run.project / "params.yaml"
    original = params.read_text()
    try:
        params.write_text(original.replace("calibration_images: 8", "calibration_images: 6"))
        assert params.read_text() != original
        changed = set(json.loads(dvc(["status", "--json"], tiny_run.project).stdout))
        assert changed == {"quantize@mobilenet_v3", "quantize@resnet34_vd"}
        params.write_text(original.replace("max_steps: 1\n", "max_steps: 2\n"))  # resnet34_vd's recipe
        changed = set(json.loads(dvc(["status", "--json"], tiny_run.project).stdout))
        assert changed == {"train@resnet34_vd"}
    finally:
        params.write_text(original)


def test_failing_stage_fails_the_flow_with_its_error_in_the_log(tiny_run, tmp_path):
    project = copy_project(tmp_path / "broken", "tiny")
    params = project / "params.yaml"
    # a gate the tiny data cannot pass (128 training rows): the validation stage must fail and stop the flow
    params.write_text(params.read_text().replace("validation: {min_rows: 1,", "validation: {min_rows: 100000,"))
    env = tiny_run.env | {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'unused.db'}"}
    proc = subprocess.run([sys.executable, "-m", "pipelines.crnn_flow"], cwd=project, env=env,
                          capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert proc.returncode != 0
    status, body = post_json(f"{tiny_run.prefect_url}/flow_runs/filter",
                             {"sort": "EXPECTED_START_TIME_DESC", "limit": 1})
    assert status == 200
    flow_run = body[0]
    assert flow_run["state_type"] == "FAILED"
    status, logs = post_json(f"{tiny_run.prefect_url}/logs/filter",
                             {"logs": {"flow_run_id": {"any_": [flow_run["id"]]}}, "limit": 200})
    text = "\n".join(entry["message"] for entry in logs)
    assert "dvc repro validate" in text and "failed" in text
    assert "expect_table_row_count_to_be_between" in text  # the stage's own message names the expectation
