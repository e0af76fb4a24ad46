from __future__ import annotations

import os
from pathlib import Path

from textrec.config import TrackingConfig
from textrec.tracking.store import mlflow_session, resolve_store

REPO = Path(__file__).resolve().parents[2]


def test_default_store_is_inside_the_project(tmp_path):
    s = resolve_store(TrackingConfig(), tmp_path, env={})
    assert s.tracking_uri == f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    assert s.artifact_location == (tmp_path.resolve() / "mlartifacts").as_uri()
    assert s.experiment == "textrec"


def test_env_var_wins_and_a_server_keeps_its_artifact_root(tmp_path):
    s = resolve_store(TrackingConfig(), tmp_path, env={"MLFLOW_TRACKING_URI": "http://127.0.0.1:5055"})
    assert s.tracking_uri == "http://127.0.0.1:5055" and s.artifact_location is None
    s = resolve_store(TrackingConfig(), tmp_path, env={"MLFLOW_TRACKING_URI": "sqlite:////abs/x.db"})
    assert s.tracking_uri == "sqlite:////abs/x.db" and s.artifact_location is not None


def test_session_creates_the_experiment_and_restores_global_state(tmp_path, monkeypatch):
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:1")  # must survive the session untouched
    store = resolve_store(TrackingConfig(tracking_uri="sqlite:///t.db", experiment="e1"), tmp_path, env={})
    with mlflow_session(store) as exp_id:
        assert mlflow.get_tracking_uri() == store.tracking_uri
        exp = mlflow.get_experiment(exp_id)
        assert exp.name == "e1" and exp.artifact_location == store.artifact_location
    assert os.environ["MLFLOW_TRACKING_URI"] == "http://127.0.0.1:1"
    with mlflow_session(store) as again:  # existing experiment is reused
        assert again == exp_id
    assert (tmp_path / "t.db").is_file()


def test_a_tracking_server_that_is_down_fails_in_one_line_naming_it(tmp_path):
    """MLflow's own retries (bounded by store.HTTP_RETRY_DEFAULTS), then one line: no 4-minute wait, no traceback."""
    import shutil
    import subprocess
    import sys
    import time

    from bench.servers import free_port
    from textrec.tracking.store import HTTP_RETRY_DEFAULTS

    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there: the connection is refused
    env = {k: v for k, v in os.environ.items() if k not in HTTP_RETRY_DEFAULTS} | {"MLFLOW_TRACKING_URI": uri}
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "textrec.cli", "promote"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)  # was 4 min 21 s
    seconds = time.monotonic() - t0
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.count("\n") == 1 and uri in proc.stderr and "not reachable" in proc.stderr, proc.stderr
    assert "Connection refused" in proc.stderr
    assert seconds < 60, f"promote took {seconds:.0f} s"
