"""What the stack's MLflow server holds, read through its REST API, and its backend store read in PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

from bench.servers import http, post_json
from tests.team.stack import Stack

MODEL = "crnn-text-recognizer"
EXPERIMENT = "textrec"


def _get(stack: Stack, path: str) -> dict:
    status, raw = http("GET", f"{stack.mlflow_url}/api/2.0/mlflow/{path}")
    assert status == 200, raw
    return json.loads(raw)


def runs(stack: Stack, pipeline_run_id: str | None = None) -> dict[str, dict]:
    """Runs of the experiment (of one pipeline run), by id."""
    exp = _get(stack, f"experiments/get-by-name?experiment_name={EXPERIMENT}")["experiment"]["experiment_id"]
    query = {"experiment_ids": [exp], "max_results": 1000}
    if pipeline_run_id:
        query["filter"] = f"tags.pipeline_run_id = '{pipeline_run_id}'"
    status, body = post_json(f"{stack.mlflow_url}/api/2.0/mlflow/runs/search", query)
    assert status == 200, body
    return {r["info"]["run_id"]: r for r in body.get("runs", [])}


def tags(entity: dict) -> dict[str, str]:
    """The tags of a run ({"data": {"tags": [...]}}) or a model version ({"tags": [...]})."""
    return {t["key"]: t["value"] for t in entity.get("data", entity).get("tags", [])}


def versions(stack: Stack) -> dict[str, dict]:
    """The registered versions of the model, by version number."""
    name = quote(f"name='{MODEL}'")
    found = _get(stack, f"model-versions/search?filter={name}&max_results=1000")
    return {v["version"]: v for v in found.get("model_versions", [])}


def aliases(stack: Stack) -> dict[str, str]:
    """alias -> version of the registered model."""
    model = _get(stack, f"registered-models/get?name={MODEL}")["registered_model"]
    return {a["alias"]: a["version"] for a in model.get("aliases", [])}


def steps_logged(stack: Stack, run_id: str, metric: str) -> list[int]:
    return [m["step"] for m in _get(stack, f"metrics/get-history?run_id={run_id}&metric_key={quote(metric)}")["metrics"]]


def artifact(stack: Stack, run_id: str, path: str) -> bytes:
    """An artifact's bytes as the server serves it (from the shared store)."""
    status, raw = http("GET", f"{stack.mlflow_url}/get-artifact?run_id={run_id}&path={quote(path)}")
    assert status == 200, raw[:500]
    return raw


def postgres(stack: Stack, sql: str) -> list[tuple]:
    """Rows of ``sql`` in the stack's `mlflow` database, read directly (the server's backend store)."""
    import psycopg

    services = Path(stack.settings["TEXTREC_SERVICES_DIR"])
    password = (services / "postgres.password").read_text().strip()
    with psycopg.connect(host="127.0.0.1", port=int(stack.settings["TEXTREC_PG_PORT"]), user="textrec",
                         password=password, dbname="mlflow") as conn:
        return conn.execute(sql).fetchall()


def textrec(args: list[str], root: Path, stack: Stack) -> str:
    """`textrec <args>` in ``root`` against the stack's tracking server; its output."""
    env = stack.env() | {"MLFLOW_TRACKING_URI": stack.mlflow_url}
    proc = subprocess.run([sys.executable, "-m", "textrec.cli", *args], cwd=root, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, f"textrec {args} failed:\n{proc.stdout}\n{proc.stderr[-3000:]}"
    return proc.stdout
