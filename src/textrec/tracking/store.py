"""Where runs and models are stored: the project's SQLite file by default, any server via MLFLOW_TRACKING_URI."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from textrec.config import TrackingConfig

_LOCAL_SCHEMES = ("sqlite", "file", "postgresql", "mysql", "mssql")


@dataclass(frozen=True)
class Store:
    tracking_uri: str
    artifact_location: str | None  # for a new experiment; None lets a tracking server decide
    experiment: str


def resolve_store(cfg: TrackingConfig, root: str | Path = ".", env: dict[str, str] | None = None) -> Store:
    """MLFLOW_TRACKING_URI (if set) wins; otherwise ``cfg.tracking_uri`` with a relative SQLite path
    made absolute against ``root``. Artifacts of a database-backed store go to ``root/cfg.artifact_root``."""
    env = os.environ if env is None else env
    root = Path(root).resolve()
    uri = env.get("MLFLOW_TRACKING_URI") or cfg.tracking_uri
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        uri = f"sqlite:///{root / uri.removeprefix('sqlite:///')}"  # absolute path -> four slashes
    scheme = uri.split(":", 1)[0] if "://" in uri else "file"
    local = scheme.split("+", 1)[0] in _LOCAL_SCHEMES
    artifacts = (root / cfg.artifact_root).as_uri() if local else None
    return Store(uri, artifacts, cfg.experiment)


@contextmanager
def mlflow_session(store: Store) -> Iterator[str]:
    """Point MLflow's fluent API at ``store`` for the duration of the block; yields the experiment id.

    The fluent API (needed by ``log_model``) keeps the URI in process state and mirrors it into the
    MLFLOW_TRACKING_URI variable, so both are restored on exit.
    """
    import mlflow
    from mlflow.tracking._tracking_service import utils

    saved_global, saved_env = utils._tracking_uri, os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(store.tracking_uri)
    try:
        exp = mlflow.get_experiment_by_name(store.experiment)
        exp_id = exp.experiment_id if exp else mlflow.create_experiment(
            store.experiment, artifact_location=store.artifact_location)
        yield exp_id
    finally:
        mlflow.set_tracking_uri(saved_global)
        if saved_env is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = saved_env


def client(store: Store):
    """An ``MlflowClient`` bound to ``store`` (registry included), without touching global state."""
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=store.tracking_uri, registry_uri=store.tracking_uri)
