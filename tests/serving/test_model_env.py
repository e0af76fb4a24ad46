"""The registered model carries what it needs: a fresh virtual environment built from nothing but its own
python_env.yaml and requirements.txt (as `mlflow models serve` builds one; no textrec, no paddle) loads it
and answers as the project's environment does."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import yaml

from tests.tracking.conftest import sqlite_store
from tests.tracking.kit_pipeline import clone_run
from textrec.config import load_params
from textrec.tracking.log import track_pipeline_run
from textrec.tracking.registry import SERVING_PACKAGES, register_best
from textrec.tracking.store import mlflow_session

PROBE = """
import base64, importlib.util, json, sys
assert importlib.util.find_spec("textrec") is None, "textrec is installed in the serving environment"
import mlflow.pyfunc, pandas as pd
model = mlflow.pyfunc.load_model(sys.argv[1])
import textrec
images = [base64.b64encode(open(p, "rb").read()).decode() for p in sys.argv[2:]]
out = model.predict(pd.DataFrame({"image": images}))
print(json.dumps({"textrec": textrec.__file__, "paddle": "paddle" in sys.modules,
                  "rows": out.to_dict("records")}))
"""


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture()
def registered_model(kit_run, tmp_path) -> Path:
    """The kit run's mobilenet_v3 tracked, registered (fp32) and downloaded: the logged model directory."""
    import mlflow

    root = clone_run(kit_run, tmp_path / "project").parent
    params = load_params(root / "params.yaml")
    params = dataclasses.replace(params, promotion=dataclasses.replace(params.promotion, serve_precision="fp32"))
    store = sqlite_store(tmp_path)
    run = track_pipeline_run(params, root, ("mobilenet_v3",), store=store)
    version = register_best(params, store, run.pipeline_run_id)
    with mlflow_session(store):
        return Path(mlflow.artifacts.download_artifacts(f"models:/{version.model_name}/{version.version}",
                                                        dst_path=str(tmp_path / "model")))


def test_model_runs_in_an_env_built_from_its_own_requirements(registered_model, parity_rows, tmp_path):
    model = registered_model
    requirements = (model / "requirements.txt").read_text().split()
    assert sorted(r.split("==")[0] for r in requirements) == sorted(["mlflow", *SERVING_PACKAGES])
    assert (model / "code" / "textrec" / "inference" / "engines.py").is_file()  # code_paths

    # the environment as MLflow's virtualenv/uv managers build it (uv: a warm cache makes it seconds)
    env_dir, uv = tmp_path / "env", [sys.executable, "-m", "uv"]
    python = yaml.safe_load((model / "python_env.yaml").read_text())["python"]
    _run([*uv, "venv", "-q", "--python", python, str(env_dir)])
    _run([*uv, "pip", "install", "-q", "--python", str(env_dir / "bin" / "python"), "-r", "requirements.txt"],
         cwd=model)

    paths = [p for p, _ in parity_rows[:6]]
    clean_env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", str(tmp_path))}
    proc = _run([str(env_dir / "bin" / "python"), "-I", "-c", PROBE, str(model), *map(str, paths)], cwd=tmp_path,
                env=clean_env)
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["textrec"].startswith(str(model / "code"))  # the model's own copy of the code
    assert got["paddle"] is False

    # the same model in this process (the pyfunc class on the downloaded artifacts) answers the same
    from textrec.tracking.recognizer import CrnnRecognizer

    conf = yaml.safe_load((model / "MLmodel").read_text())["flavors"]["python_function"]["config"]
    here = CrnnRecognizer()
    here.load_context(SimpleNamespace(model_config=conf, artifacts={
        "onnx": str(model / "artifacts" / "model.onnx"), "dictionary": str(model / "artifacts" / "dict.txt"),
        "calibration": str(model / "artifacts" / "calibration.json")}))  # the run's, registered with it
    want = here.predict(None, pd.DataFrame({"image": [base64.b64encode(p.read_bytes()).decode() for p in paths]}))
    assert [r["text"] for r in got["rows"]] == list(want["text"])
    assert [r["confidence"] for r in got["rows"]] == pytest.approx(list(want["confidence"]), abs=1e-6)
