"""Model registry: register the best run of a pipeline run, promote it behind gates, roll back.

Aliases, not stages: ``challenger`` = the newest registered candidate, ``production`` = what is served.
Every decision is written on the version (tags ``promotion.*``); the registered model's tag
``production.history`` lists the versions that were production, oldest first, for ``rollback``.
A version rolled back from production is tagged ``rolled_back=true`` (and ``rollback.*``): ``promote`` refuses
it, though it may still be the challenger, unless asked with ``allow_rolled_back`` (which clears the tag).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version as pkg_version
from pathlib import Path

from textrec.artifacts.metrics import latency_key
from textrec.config import Params, PromotionConfig
from textrec.tracking.files import ranking_key, serving_config
from textrec.tracking.gates import Gate, evaluate_gates
from textrec.tracking.log import TAG_PIPELINE_RUN
from textrec.tracking.store import Store, client, mlflow_session

CHALLENGER, PRODUCTION = "challenger", "production"
HISTORY_TAG = "production.history"
ROLLED_BACK_TAG = "rolled_back"


@dataclass(frozen=True)
class RegisteredVersion:
    model_name: str
    version: str
    run_id: str
    backbone: str
    pipeline_run_id: str
    metric: str  # what it was ranked by: files.ranking_key (the own test sets' mean, when the run has them)
    score: float  # its value, the best of its pipeline run


@dataclass(frozen=True)
class PromotionDecision:
    model_name: str
    version: str
    decision: str  # "promoted" | "refused" | "unchanged"
    gates: tuple[Gate, ...]
    previous_production: str | None

    @property
    def promoted(self) -> bool:
        return self.decision == "promoted"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _alias_version(c, name: str, alias: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        return str(c.get_model_version_by_alias(name, alias).version)  # int or str depending on the store
    except MlflowException as e:
        if e.error_code == "RESOURCE_DOES_NOT_EXIST" or "not found" in e.message.lower():
            return None
        raise


def latest_pipeline_run(store: Store, experiment_id: str) -> str:
    runs = client(store).search_runs([experiment_id], filter_string=f"tags.{TAG_PIPELINE_RUN} != ''",
                                     order_by=["attributes.start_time DESC"], max_results=1)
    if not runs:
        raise ValueError(f"no tracked pipeline run in experiment {store.experiment!r} (run `textrec track`)")
    return runs[0].data.tags[TAG_PIPELINE_RUN]


def _pyfunc_signature():
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    # "image" optional: MLflow then passes a request without it on to the model, which answers 400 with
    # what is wrong; a required column fails in MLflow, whose 400 quotes the whole request (every image)
    return ModelSignature(inputs=Schema([ColSpec("string", "image", required=False)]),
                          outputs=Schema([ColSpec("string", "text"), ColSpec("double", "confidence")]))


def _input_example():
    """A request as the served model takes it (stored with the model as its input example; MLflow checks it
    against the signature when logging): one base64 PNG, a blank 100 x 32 word crop."""
    import base64
    import io

    import pandas as pd
    from PIL import Image

    png = io.BytesIO()
    Image.new("L", (100, 32), 255).save(png, format="PNG")
    return pd.DataFrame({"image": [base64.b64encode(png.getvalue()).decode("ascii")]})


# What the pyfunc imports besides textrec (mlflow adds itself): the ONNX engine, preprocessing, request parsing
SERVING_PACKAGES = ("onnxruntime", "numpy", "opencv-python-headless", "pandas", "pillow")


def serving_requirements() -> list[str]:
    """The registered model's pip requirements, pinned to this environment's versions."""
    return [f"{p}=={pkg_version(p)}" for p in SERVING_PACKAGES]


def _package_copy(dst: Path) -> Path:
    """The textrec sources for the model's ``code_paths`` (MLflow puts them on sys.path at load time): the
    environment that serves the model is built from its requirements alone and has no textrec. Without the
    bundled checkpoints (``*.pdparams``, 8.6 MB): the served model is the run's own ONNX artifact."""
    import textrec

    out = dst / "textrec"
    shutil.copytree(Path(textrec.__file__).parent, out,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.pdparams"))
    return out


def best_run(params: Params, store: Store, pipeline_run_id: str | None = None) -> str:
    """The id of the run of a pipeline run (default: the latest) with the highest mean accuracy of the served
    precision: over the own test sets when its runs have them, else over every benchmark (``ranking_key``)."""
    precision = params.promotion.serve_precision
    with mlflow_session(store) as exp_id:
        pipeline_run_id = pipeline_run_id or latest_pipeline_run(store, exp_id)
        runs = client(store).search_runs([exp_id], filter_string=f"tags.{TAG_PIPELINE_RUN} = '{pipeline_run_id}'")
    metric = ranking_key({name for r in runs for name in r.data.metrics}, precision)
    scored = [r for r in runs if metric in r.data.metrics]
    if not scored:
        raise ValueError(f"pipeline run {pipeline_run_id!r}: no run with metric {metric} ({len(runs)} run(s) found)")
    # ties: the faster one, then by backbone name, so the choice is deterministic
    best = max(scored, key=lambda r: (r.data.metrics[metric], -r.data.metrics.get(latency_key(precision), 0.0),
                                      r.data.tags.get("backbone", "")))
    return best.info.run_id


def register_best(params: Params, store: Store, pipeline_run_id: str | None = None) -> RegisteredVersion:
    """``best_run`` of a pipeline run (default: the latest) becomes a new version of
    ``params.promotion.model_name`` with alias ``challenger``."""
    return register_run(params, store, best_run(params, store, pipeline_run_id))


def _calibration_artifact(c, run_id: str, tmp: Path) -> tuple[dict[str, str], str]:
    """The run's calibration file as a pyfunc artifact ({} for a run tracked without one: the served model
    then gives raw confidences and says so) and how it calibrates, for the version's tags."""
    import mlflow

    from textrec.calibration import FILE_NAME, Calibration
    from textrec.tracking.log import CALIBRATION_ARTIFACT

    if FILE_NAME not in {Path(f.path).name for f in c.list_artifacts(run_id, CALIBRATION_ARTIFACT)}:
        return {}, "none"
    path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=f"{CALIBRATION_ARTIFACT}/{FILE_NAME}",
                                               dst_path=str(tmp / "calibration"))
    return {"calibration": path}, Calibration.load(path).describe()


def register_run(params: Params, store: Store, run_id: str) -> RegisteredVersion:
    """Log the recognizer pyfunc (served ONNX + dictionary of ``run_id``) into that run and register it
    as a new version of ``params.promotion.model_name`` with alias ``challenger``."""
    import mlflow
    import onnx

    cfg = params.promotion
    with mlflow_session(store), tempfile.TemporaryDirectory() as tmp:
        c = client(store)
        run = c.get_run(run_id)
        metric = ranking_key(run.data.metrics, cfg.serve_precision)
        model_uri = run.data.tags.get(f"model_uri.{cfg.serve_precision}")
        if model_uri is None or metric not in run.data.metrics:
            raise ValueError(f"run {run_id} was not logged by `textrec track` (no {cfg.serve_precision} model)")
        onnx_dir = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=f"{tmp}/onnx"))
        # mlflow.onnx stores the weights as external data beside model.onnx; the pyfunc gets one
        # self-contained file, or it would load a graph whose weights were left behind
        onnx_file = Path(tmp) / "model.onnx"
        onnx.save_model(onnx.load_model(str(onnx_dir / "model.onnx")), str(onnx_file), save_as_external_data=False)
        dict_file = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="charset/dict.txt",
                                                        dst_path=f"{tmp}/charset")
        calibration, calibrated = _calibration_artifact(c, run_id, Path(tmp))
        with mlflow.start_run(run_id=run_id):
            info = mlflow.pyfunc.log_model(
                name="recognizer", python_model=str(Path(__file__).with_name("recognizer_code.py")),
                signature=_pyfunc_signature(), input_example=_input_example(), model_config=serving_config(params),
                pip_requirements=serving_requirements(), code_paths=[str(_package_copy(Path(tmp) / "code"))],
                artifacts={"onnx": str(onnx_file), "dictionary": str(dict_file)} | calibration)
        tags = {"backbone": run.data.tags.get("backbone", ""), "run_id": run_id, "precision": cfg.serve_precision,
                TAG_PIPELINE_RUN: run.data.tags.get(TAG_PIPELINE_RUN, ""), metric: str(run.data.metrics[metric]),
                "registered": _now(), "calibration": calibrated}
        mv = mlflow.register_model(info.model_uri, cfg.model_name, tags=tags)
        c.set_registered_model_alias(cfg.model_name, CHALLENGER, mv.version)
    return RegisteredVersion(cfg.model_name, str(mv.version), run_id, tags["backbone"], tags[TAG_PIPELINE_RUN],
                             metric, run.data.metrics[metric])


def _history(c, name: str) -> list[str]:
    return json.loads(c.get_registered_model(name).tags.get(HISTORY_TAG, "[]"))


def _rollback_gate(tags: dict[str, str], allow_rolled_back: bool) -> Gate | None:
    """None unless the version was rolled back from production (and not promoted again since)."""
    if tags.get(ROLLED_BACK_TAG) != "true":
        return None
    when = (f"rolled back from production at {tags.get('rollback.time', '?')} "
            f"(reason: {tags.get('rollback.reason', 'not given')})")
    if allow_rolled_back:
        return Gate("rolled_back", True, f"{when}; promoted again on request")
    return Gate("rolled_back", False, f"{when}; register a new challenger, or promote this version again on "
                "purpose with --allow-rolled-back")


def promote(cfg: PromotionConfig, store: Store, version: str | None = None,
            allow_rolled_back: bool = False) -> PromotionDecision:
    """Move ``production`` to the challenger (or ``version``) only if every gate passes; the decision,
    its reasons and the time are written as tags of that version. A rolled-back version fails the extra
    gate ``rolled_back`` unless ``allow_rolled_back``."""
    c = client(store)
    name = cfg.model_name
    version = str(version) if version else _alias_version(c, name, CHALLENGER)
    if version is None:
        raise ValueError(f"{name}: no '{CHALLENGER}' version to promote (run `textrec register`)")
    mv = c.get_model_version(name, version)
    current = _alias_version(c, name, PRODUCTION)
    if current == version:
        return PromotionDecision(name, version, "unchanged", (), current)
    precision = mv.tags.get("precision", cfg.serve_precision)
    prod_metrics = c.get_run(c.get_model_version(name, current).run_id).data.metrics if current else None
    rolled_back = _rollback_gate(mv.tags, allow_rolled_back)
    gates = (*((rolled_back,) if rolled_back else ()),
             *evaluate_gates(c.get_run(mv.run_id).data.metrics, prod_metrics, cfg, precision))
    decision = "promoted" if all(g.passed for g in gates) else "refused"
    if decision == "promoted":
        c.set_registered_model_alias(name, PRODUCTION, version)
        history = _history(c, name)
        if current and (not history or history[-1] != current):
            history.append(current)  # production was set by hand: keep it reachable by rollback
        c.set_registered_model_tag(name, HISTORY_TAG, json.dumps((history + [version])[-100:]))
        if rolled_back:
            c.delete_model_version_tag(name, version, ROLLED_BACK_TAG)  # rollback.* tags stay as history
    for key, value in {"promotion.decision": decision, "promotion.reasons": json.dumps([str(g) for g in gates]),
                       "promotion.time": _now(), "promotion.production_before": current or "none"}.items():
        c.set_model_version_tag(name, version, key, value)
    return PromotionDecision(name, version, decision, gates, current)


def rollback(cfg: PromotionConfig, store: Store, reason: str | None = None) -> tuple[str, str]:
    """Move ``production`` back to the version that was production before it and tag the version left
    ``rolled_back`` so that a plain ``promote`` (it is often still the challenger) does not bring it back;
    returns (from, to)."""
    c = client(store)
    name = cfg.model_name
    current = _alias_version(c, name, PRODUCTION)
    if current is None:
        raise ValueError(f"{name}: no '{PRODUCTION}' version to roll back")
    history = _history(c, name)
    while history and history[-1] == current:
        history.pop()
    if not history:
        raise ValueError(f"{name}: version {current} is production and there is no earlier production version")
    target = history[-1]
    c.set_registered_model_alias(name, PRODUCTION, target)
    c.set_registered_model_tag(name, HISTORY_TAG, json.dumps(history))
    for key, value in {ROLLED_BACK_TAG: "true", "rollback.time": _now(), "rollback.to": target,
                       "rollback.reason": reason or "not given"}.items():
        c.set_model_version_tag(name, current, key, value)
    return current, target
