"""MLflow's side of ``textrec serve``: fetch a registered model once, build MLflow's scoring app for it.

The app is the one ``mlflow models serve`` runs (``mlflow.pyfunc.scoring_server.init``: /invocations,
/ping, /health, /version, MLflow's request parsing and time limit); ``textrec.serving`` puts its guard
around it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class FetchedModel:
    path: Path  # the model's files on this machine
    version: str | None  # the registry version, for a models:/ URI


def _registry_source(model_uri: str, tracking_uri: str) -> tuple[str, str] | None:
    """(version, artifact URI) behind ``models:/<name>@<alias>`` or ``models:/<name>/<version>``, read
    from ``tracking_uri`` (MLflow's own resolution of models:/ URIs reads the process-wide registry)."""
    from mlflow import MlflowClient

    m = re.fullmatch(r"models:/([^/@]+)(?:@([^/]+)|/(\d+))", model_uri)
    if not m:
        return None
    c = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    version = m[3] or str(c.get_model_version_by_alias(m[1], m[2]).version)
    return version, c.get_model_version_download_uri(m[1], version)


def fetch_model(model_uri: str, tracking_uri: str, dst: Path) -> FetchedModel:
    """The model's files in ``dst``, fetched once before any worker starts: every worker serves the same
    version even if the alias moves meanwhile. A model that is not there is one ValueError line."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        version, source = _registry_source(model_uri, tracking_uri) or (None, model_uri)
        path = mlflow.artifacts.download_artifacts(artifact_uri=source, dst_path=str(dst), tracking_uri=tracking_uri)
    except MlflowException as e:
        raise ValueError(f"cannot fetch {model_uri} from {tracking_uri}: {e.message.splitlines()[0]} "
                         "(register and promote a model first: textrec register && textrec promote)") from None
    return FetchedModel(Path(path), version)


def scoring_app(model_dir: Path, log: dict | None = None):
    """MLflow's FastAPI scoring app serving the pyfunc in ``model_dir``; ``log``: the keyword arguments of
    ``CrnnRecognizer.enable_log`` (path, model, version, cfg) to log every prediction."""
    from mlflow.pyfunc import scoring_server

    # load_model_with_mlflow_config: the SERVING_MODEL_CONFIG override works as under `mlflow models serve`
    model = scoring_server.load_model_with_mlflow_config(str(model_dir))
    if log is not None:
        model.unwrap_python_model().enable_log(**log)
    return scoring_server.init(model)
