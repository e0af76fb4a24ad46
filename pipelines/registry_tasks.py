"""Prefect tasks for what is not a file: MLflow tracking, registration and promotion.

They call textrec.tracking (the only module importing mlflow); the store is resolved from params and
MLFLOW_TRACKING_URI exactly as `textrec track|register|promote` resolve it.
"""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task


def _params_and_store(project: Path):
    from textrec.config import load_params
    from textrec.tracking.store import resolve_store

    params = load_params(project / "params.yaml")
    return params, resolve_store(params.tracking, project)


@task
def track_task(project: Path, backbones: list[str]) -> dict:
    """One MLflow run per backbone, grouped by a pipeline-run id; returns {"pipeline_run_id", "runs"}."""
    from textrec.tracking.log import track_pipeline_run

    params, store = _params_and_store(project)
    tracked = track_pipeline_run(params, project, tuple(backbones), store=store)
    get_run_logger().info("tracked pipeline run %s in experiment %s: %s", tracked.pipeline_run_id,
                          tracked.experiment_id, tracked.run_ids)
    return {"pipeline_run_id": tracked.pipeline_run_id, "runs": dict(tracked.run_ids)}


@task
def register_task(project: Path, tracked: dict) -> str:
    """The best run of this pipeline run becomes a new registered version with alias `challenger`."""
    from textrec.tracking.registry import register_best

    params, store = _params_and_store(project)
    v = register_best(params, store, tracked["pipeline_run_id"])
    get_run_logger().info("registered %s version %s (%s, score %.4f) as challenger", v.model_name, v.version,
                          v.backbone, v.score)
    return v.version


@task
def promote_task(project: Path, version: str) -> dict:
    """Move `production` to ``version`` if every gate passes; the decision is tagged on the version."""
    from textrec.tracking.registry import promote

    params, store = _params_and_store(project)
    d = promote(params.promotion, store, version)
    log = get_run_logger()
    for g in d.gates:
        log.info("gate %s", g)
    log.info("promotion of version %s: %s (production was %s)", d.version, d.decision, d.previous_production)
    return {"version": d.version, "decision": d.decision, "previous_production": d.previous_production}
