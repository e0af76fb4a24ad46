"""`scripts/services.sh up`: a pipeline run tracked to the MLflow server on PostgreSQL with its artifacts in the
shared store, registered and promoted with the textrec CLI; `down` leaves no process; after `up` again the
runs, the registered version and its aliases are still there."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench.servers import http, post_json
from tests.team.stack import Stack, processes_of, still_running
from tests.tracking.kit_pipeline import clone_run

pytestmark = [pytest.mark.servers, pytest.mark.timeout(1200)]  # may build kit_run; two `up`s of three servers
MODEL = "crnn-text-recognizer"


def _textrec(args: list[str], root: Path, stack: Stack) -> str:
    env = stack.env() | {"MLFLOW_TRACKING_URI": stack.mlflow_url}
    proc = subprocess.run([sys.executable, "-m", "textrec.cli", *args], cwd=root, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, f"textrec {args} failed:\n{proc.stdout}\n{proc.stderr[-3000:]}"
    return proc.stdout


def _postgres(stack: Stack, sql: str) -> list[tuple]:
    """Rows of ``sql`` in the stack's `mlflow` database, read directly (the server's backend store)."""
    import psycopg

    services = Path(stack.settings["TEXTREC_SERVICES_DIR"])
    password = (services / "postgres.password").read_text().strip()
    with psycopg.connect(host="127.0.0.1", port=int(stack.settings["TEXTREC_PG_PORT"]), user="textrec",
                         password=password, dbname="mlflow") as conn:
        return conn.execute(sql).fetchall()


def _alias(stack: Stack, alias: str) -> dict:
    status, raw = http("GET", f"{stack.mlflow_url}/api/2.0/mlflow/registered-models/alias?name={MODEL}&alias={alias}")
    assert status == 200, raw
    return json.loads(raw)["model_version"]


def _runs(stack: Stack, pipeline_run_id: str) -> dict[str, dict]:
    api = stack.mlflow_url + "/api/2.0/mlflow"
    status, raw = http("GET", f"{api}/experiments/get-by-name?experiment_name=textrec")
    assert status == 200, raw
    status, body = post_json(f"{api}/runs/search", {
        "experiment_ids": [json.loads(raw)["experiment"]["experiment_id"]],
        "filter": f"tags.pipeline_run_id = '{pipeline_run_id}'"})
    assert status == 200, body
    return {r["info"]["run_id"]: r for r in body["runs"]}


def test_tracked_registered_promoted_and_kept_across_a_restart(stack, kit_run, tmp_path):
    root = clone_run(kit_run, tmp_path / "project").parent
    tracked = _textrec(["track"], root, stack)
    pipeline_run_id = re.search(r"pipeline run (\S+) -> " + re.escape(stack.mlflow_url), tracked).group(1)
    registered = _textrec(["register"], root, stack)
    version = re.search(rf"{MODEL} version (\d+) \(alias challenger\)", registered).group(1)
    promoted = _textrec(["promote"], root, stack)
    assert f"version {version}: promoted" in promoted, promoted

    runs = _runs(stack, pipeline_run_id)
    assert len(runs) == 2  # one per backbone
    # the server's backend store is the PostgreSQL database, and the artifacts went to the shared store
    in_db = {r[0] for r in _postgres(stack, f"SELECT run_uuid FROM runs WHERE run_uuid IN "
                                            f"({', '.join(repr(r) for r in runs)})")}
    assert in_db == set(runs)
    assert {a for (a,) in _postgres(stack, "SELECT alias FROM registered_model_aliases")} == {"challenger", "production"}
    shared = Path(stack.settings["TEXTREC_ARTIFACTS"])
    assert len(list(shared.rglob("model.onnx"))) >= 2 * len(runs)  # fp32 and int8 of each backbone (+ registered)
    assert len(list(shared.rglob("charset/*"))) == len(runs)

    procs = processes_of(f"TEXTREC_SERVICES_DIR={stack.settings['TEXTREC_SERVICES_DIR']}")
    assert len(procs) >= 3  # postgres, mlflow, prefect and their children
    stack.sh("down")
    assert still_running(procs) == set()
    assert "stopped" in stack.sh("status", check=False).stdout

    stack.sh("up")
    assert set(_runs(stack, pipeline_run_id)) == set(runs)
    assert _alias(stack, "challenger")["version"] == version
    assert _alias(stack, "production")["version"] == version
    # an artifact comes back through the server from the shared store
    run_id = _alias(stack, "production")["run_id"]
    status, raw = http("GET", f"{stack.mlflow_url}/api/2.0/mlflow/artifacts/list?run_id={run_id}")
    assert status == 200 and json.loads(raw).get("files"), raw
