"""Live tracking: the train stage's MLflow run holds the curve while training runs, a resumed training (even
after SIGKILL) continues the same run, and `textrec track` adds evaluation and export data to it."""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.tracking.conftest import sqlite_store
from tests.tracking.kit_pipeline import clone_run
from tests.training.wordimages import write_project
from textrec.config import load_params
from textrec.profiles import load_profile
from textrec.tracking.live import open_training_run

REPO = Path(__file__).resolve().parents[2]
QUERY = """
import json, sys
from mlflow import MlflowClient
c = MlflowClient(sys.argv[1])
run = c.get_run(sys.argv[2])
print(json.dumps({"status": run.info.status, "steps": [m.step for m in c.get_metric_history(sys.argv[2], "train/loss")]}))
"""


def _query(uri: str, run_id: str) -> dict:
    """The run as another process sees it (as the MLflow UI would)."""
    proc = subprocess.run([sys.executable, "-c", QUERY, uri, run_id], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _params(tmp: Path, **tracking):
    params = load_profile("tiny", REPO)
    store = sqlite_store(tmp)
    return dataclasses.replace(params, tracking=dataclasses.replace(
        params.tracking, tracking_uri=store.tracking_uri, artifact_root=str(tmp / "mlartifacts"), **tracking))


def _history(uri: str, run_id: str, key: str = "train/loss") -> list[tuple[int, float]]:
    from mlflow import MlflowClient

    return sorted((m.step, m.value) for m in MlflowClient(uri).get_metric_history(run_id, key))


def test_a_run_shows_its_curve_while_open_and_a_resumed_run_continues_it(tmp_path):
    params = _params(tmp_path)
    uri = sqlite_store(tmp_path).tracking_uri
    sink = open_training_run(params, "mobilenet_v3", tmp_path, interval=0.1, env={})
    for step in range(1, 6):
        sink.log(step, {"train/loss": 10.0 - step, "train/lr": 1e-3})
    time.sleep(1.0)  # a few flushes
    seen = _query(uri, sink.run_id)  # another process, the run still open
    assert seen == {"status": "RUNNING", "steps": [1, 2, 3, 4, 5]}
    sink.close("KILLED")

    again = open_training_run(params, "mobilenet_v3", tmp_path, run_id=sink.run_id, interval=0.1, env={})
    assert again.run_id == sink.run_id
    for step in range(3, 9):  # a resume from a checkpoint at step 2 recomputes 3..5
        again.log(step, {"train/loss": 10.0 - step})
    again.close("FINISHED")
    assert _history(uri, sink.run_id) == [(s, 10.0 - s) for s in range(1, 9)]  # each step once
    from mlflow import MlflowClient

    run = MlflowClient(uri).get_run(sink.run_id)
    assert run.info.status == "FINISHED" and run.data.tags["backbone"] == "mobilenet_v3"
    assert run.data.params["train.mobilenet_v3.batch_size"] == str(params.train.recipe("mobilenet_v3").batch_size)
    assert not any(k.startswith(("eval.", "promotion.")) for k in run.data.params)  # track adds those


def test_tracking_off_or_out_of_reach_lets_training_go_on(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="textrec.tracking")
    assert open_training_run(_params(tmp_path, live=False), "mobilenet_v3", tmp_path, env={}) is None
    assert "live tracking off" in caplog.text
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    caplog.clear()
    env = {"MLFLOW_TRACKING_URI": f"http://127.0.0.1:{port}"}
    assert open_training_run(_params(tmp_path), "mobilenet_v3", tmp_path, env=env) is None
    ours = [r for r in caplog.records if r.name == "textrec.tracking"]
    assert len(ours) == 1 and "not reachable" in ours[0].getMessage()

    # the store goes away in the middle: one warning, later metrics dropped, close does not raise
    sink = open_training_run(_params(tmp_path), "mobilenet_v3", tmp_path, interval=0.05, env={})
    sink._client.log_batch = lambda *a, **k: (_ for _ in ()).throw(OSError("disk gone"))
    caplog.clear()
    for step in range(1, 4):
        sink.log(step, {"train/loss": 1.0})
        time.sleep(0.2)
    sink.close()
    assert sink.failed == "OSError: disk gone"
    ours = [r for r in caplog.records if r.name == "textrec.tracking"]
    assert [r.levelname for r in ours] == ["WARNING"] and "goes on without live tracking" in ours[0].getMessage()


def _stage(project: Path, log_name: str, *extra: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return subprocess.Popen([sys.executable, str(REPO / "stages" / "train.py"), "--backbone", "mobilenet_v3",
                             "--params", "params.yaml", "--no-progress", *extra], cwd=project, env=env,
                            stdout=(project / log_name).open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)


@pytest.mark.timeout(900)
def test_train_stage_logs_live_and_a_killed_training_resumes_into_the_same_run(tmp_path):
    from mlflow import MlflowClient

    recipe = {"epochs": 1000, "max_steps": 100_000, "batch_size": 4, "lr": 2e-3, "checkpoint_every_steps": 4,
              "eval_every_steps": 6, "log_every_steps": 10, "device": "cpu", "seed": 7}
    project = tmp_path / "project"
    write_project(project, 16, 4, recipe)
    uri = f"sqlite:///{project / 'mlflow.db'}"
    c = MlflowClient(uri)
    c.search_experiments()  # the database exists before the stage and this test both use it
    proc = _stage(project, "run1.log")
    state_file = project / "models" / "mobilenet_v3" / "latest.state.json"
    seen, deadline = None, time.monotonic() + 400
    while time.monotonic() < deadline and proc.poll() is None:
        runs = c.search_runs([e.experiment_id for e in c.search_experiments()])
        if runs and state_file.exists():
            steps = [m.step for m in c.get_metric_history(runs[0].info.run_id, "train/loss")]
            if len(steps) >= 8 and json.loads(state_file.read_text())["step"] >= 4:
                seen = (runs[0].info.run_id, runs[0].info.status, steps)
                break
        time.sleep(0.5)
    alive = proc.poll() is None
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(60)
    assert seen is not None and alive, (project / "run1.log").read_text()[-3000:]
    run_id, status, steps = seen
    assert status == "RUNNING" and steps == list(range(1, len(steps) + 1))  # the curve while it trains
    killed_at = json.loads(state_file.read_text())["step"]
    assert json.loads(state_file.read_text())["tracking_run_id"] == run_id

    params = yaml.safe_load((project / "params.yaml").read_text())
    params["train"]["mobilenet_v3"]["max_steps"] = end = killed_at + 5
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    resumed = _stage(project, "run2.log", "--resume")
    assert resumed.wait(timeout=400) == 0, (project / "run2.log").read_text()[-3000:]

    summary = json.loads((project / "reports" / "train" / "mobilenet_v3" / "train.json").read_text())
    assert summary["tracking_run_id"] == run_id and summary["resumed_from_step"] == killed_at
    assert c.get_run(run_id).info.status == "FINISHED"
    with (project / "reports" / "train" / "mobilenet_v3" / "train_log.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    history = _history(uri, run_id)
    assert [s for s, _ in history] == list(range(1, end + 1))  # each step once, through the kill
    assert [float(v) for v in (r["loss"] for r in rows)] == pytest.approx([v for _, v in history], rel=1e-5)
    val = [s for s, _ in _history(uri, run_id, "train/val_accuracy")]
    assert val == [int(r["step"]) for r in rows if r["val_accuracy"]]
    assert len(c.search_runs([c.get_run(run_id).info.experiment_id])) == 1


def test_track_adds_to_the_training_run(kit_run, tmp_path):
    """`textrec track` after a live training: the same run gets evaluation, export and the missing curve
    points; a second pipeline run that did not train again gets a new run, linked by ``train_run_id``."""
    from mlflow import MlflowClient

    from textrec.tracking.log import track_pipeline_run

    root = clone_run(kit_run, tmp_path / "project").parent
    params = load_params(root / "params.yaml")
    store = sqlite_store(tmp_path)
    params = dataclasses.replace(params, tracking=dataclasses.replace(
        params.tracking, tracking_uri=store.tracking_uri, artifact_root=str(tmp_path / "mlartifacts")))
    log_csv = root / params.paths.train_log("mobilenet_v3")
    with log_csv.open(newline="") as f:
        rows = list(csv.DictReader(f))
    sink = open_training_run(params, "mobilenet_v3", root, interval=0.05, env={})
    sink.log(int(rows[0]["step"]), {"train/loss": float(rows[0]["loss"])})  # the rest never arrived live
    sink.close()
    summary_file = root / params.paths.train_summary("mobilenet_v3")
    summary = json.loads(summary_file.read_text())
    summary_file.unlink()  # a hard link into the cached kit run: write a new file
    summary_file.write_text(json.dumps(summary | {"tracking_run_id": sink.run_id}))

    first = track_pipeline_run(params, root, store=store)
    assert first.run_ids["mobilenet_v3"] == sink.run_id
    assert first.run_ids["resnet34_vd"] != sink.run_id  # trained without live tracking: a new run
    c = MlflowClient(store.tracking_uri)
    run = c.get_run(sink.run_id)
    assert run.data.tags["pipeline_run_id"] == first.pipeline_run_id and "model_uri.int8" in run.data.tags
    assert "acc_fp32/" + params.eval.benchmarks[0] in run.data.metrics
    assert "promotion.model_name" in run.data.params  # track's params next to the training's
    assert [s for s, _ in _history(store.tracking_uri, sink.run_id)] == [int(r["step"]) for r in rows]

    second = track_pipeline_run(params, root, store=store)  # nothing trained since: a run of its own
    again = second.run_ids["mobilenet_v3"]
    assert again != sink.run_id and c.get_run(again).data.tags["train_run_id"] == sink.run_id
