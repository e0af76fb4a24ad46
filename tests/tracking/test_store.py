from __future__ import annotations

import os

from textrec.config import TrackingConfig
from textrec.tracking.store import mlflow_session, resolve_store


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
