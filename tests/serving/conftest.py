"""Fixtures of the serving tests: the kit pipeline run (built once, cached in pytest's cache dir), and a
small project whose production model is the recognizer pyfunc on a tiny ONNX graph (seconds to build,
microseconds a request: the server, not the model, is what these tests load)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import yaml

from bench.servers import ServerProcess, free_port, start_server
from tests.inference.test_recognizer_api import tiny_onnx
from tests.tracking.conftest import kit_run, sqlite_store

__all__ = ["kit_run"]
MAX_REQUEST_BYTES = 1_000_000  # small, so that the soak test's over-limit requests stay cheap


@pytest.fixture(scope="session")
def tiny_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project root: params.yaml (promotion.max_request_bytes = MAX_REQUEST_BYTES) and a SQLite store
    whose model ``promotion.model_name`` has a version at alias production."""
    from importlib import resources

    import mlflow

    import textrec.tracking.registry as registry
    from textrec.config import load_params
    from textrec.tracking.files import serving_config
    from textrec.tracking.store import client, mlflow_session

    root = tmp_path_factory.mktemp("tiny-project")
    params_file = root / "params.yaml"
    params_file.write_text(yaml.safe_dump({"promotion": {"max_request_bytes": MAX_REQUEST_BYTES}}), encoding="utf-8")
    params = load_params(params_file)
    store = sqlite_store(root)
    code = Path(registry.__file__).with_name("recognizer_code.py")
    with resources.as_file(resources.files("textrec.assets") / "dict_0-9a-z.txt") as dictionary, \
            mlflow_session(store) as exp_id, mlflow.start_run(experiment_id=exp_id):
        info = mlflow.pyfunc.log_model(name="recognizer", python_model=str(code),
                                       signature=registry._pyfunc_signature(), model_config=serving_config(params),
                                       artifacts={"onnx": tiny_onnx(str(root / "tiny.onnx")),
                                                  "dictionary": str(dictionary)})
        version = mlflow.register_model(info.model_uri, params.promotion.model_name).version
    client(store).set_registered_model_alias(params.promotion.model_name, "production", version)
    return root


def start_textrec_server(root: Path, log_path: Path, *extra: str, tracking_uri: str | None = None) -> ServerProcess:
    """``textrec serve`` of ``root``'s production model on 127.0.0.1, in its own process group; the store is
    ``tracking_uri``, else the one of root's params.yaml."""
    port = free_port()
    env = dict(os.environ)
    env.pop("MLFLOW_TRACKING_URI", None)
    if tracking_uri:
        env["MLFLOW_TRACKING_URI"] = tracking_uri  # wins over params.yaml, as for every textrec command
    args = [sys.executable, "-m", "textrec.cli", "serve", "--params", str(root / "params.yaml"), "--root", str(root),
            "--port", str(port), *extra]
    return start_server(args, "/ping", log_path, env, timeout=120.0, port=port)
