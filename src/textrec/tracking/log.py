"""Log a finished pipeline run to MLflow: one run per backbone, grouped by a ``pipeline_run_id`` tag. A
backbone's run is the one its training created and logged its curves to as it trained (``tracking/live.py``),
when there is one: evaluation, export, registry data and the rest of the params go into that run.

    tracked = track_pipeline_run(load_params(), root=".")   # what `textrec track` does
    tracked.run_ids                                         # {"mobilenet_v3": "<run id>", ...}
"""

from __future__ import annotations

import logging
import tempfile
import time
import uuid
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from textrec.artifacts import ValidationSummary
from textrec.artifacts.metrics import VALIDATION_SUCCESS
from textrec.artifacts.train import TAG_TRAIN_RUN
from textrec.config import Params
from textrec.tracking.files import (
    BackboneRecord,
    dvc_data_hash,
    eval_metrics,
    git_state,
    param_strings,
    quantize_metrics,
    read_train_log,
    serving_params,
    train_tags,
)
from textrec.tracking.store import Store, mlflow_session, resolve_store

TAG_PIPELINE_RUN = "pipeline_run_id"
CALIBRATION_ARTIFACT = "calibration"  # the run's artifact folder: calibration.json (+ the stage's report)
log = logging.getLogger("textrec.tracking")


@dataclass(frozen=True)
class TrackedPipelineRun:
    pipeline_run_id: str
    experiment_id: str
    run_ids: dict[str, str]  # backbone -> MLflow run id


def new_pipeline_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:8]


def collect_backbone(params: Params, root: Path, backbone: str, pipeline_run_id: str,
                     commit: tuple[str, bool], data_hash: str) -> BackboneRecord:
    """Read (and check) every file of one backbone; raises before anything is logged if one is bad."""
    paths, bb = params.paths, backbone
    benches = params.eval.benchmarks
    evals = [root / paths.eval_report(bb, b) for b in benches]
    own = params.own_benchmarks()  # their mean ranks the runs; the rest, the synthetic suite, gives forgetting
    metrics = eval_metrics(dict(zip(benches, evals, strict=True)), own)
    metrics |= quantize_metrics(root / paths.quantize_report(bb), benches, own)
    validation = ValidationSummary.read(root / ValidationSummary.path(paths))
    metrics |= validation.metrics()
    onnx = {"fp32": root / paths.onnx_model(bb), "int8": root / paths.onnx_model(bb, "int8")}
    for p in onnx.values():
        if not p.is_file():
            raise FileNotFoundError(f"{p}: exported model not found")
    artifacts = {
        "eval": evals,
        "quantize": [root / paths.quantize_report(bb)],
        "validation": [root / paths.validation_report()],
        "plots": [root / paths.train_log(bb)],
    }
    missing = []
    # optional: the report (logged when present), extra figures (every file), the train summary (tags)
    report, plots = root / paths.report_html(), root / paths.plots_dir(bb)
    summary = root / paths.train_summary(bb)
    trained = train_tags(summary)
    if trained is not None:
        artifacts["train"] = [summary]
    else:
        missing.append(str(summary))
    if report.is_file():
        artifacts["report"] = [report]
    else:
        missing.append(str(report))
    # the calibration (registered with the served model) and the calibrate stage's comparison of methods
    calibration = [root / paths.calibration(bb), root / paths.calibration_report(bb)]
    artifacts[CALIBRATION_ARTIFACT] = [p for p in calibration if p.is_file()]
    missing += [str(p) for p in calibration if not p.is_file()]
    if plots.is_dir():
        artifacts["plots"] += sorted(p for p in plots.iterdir() if p.is_file())
    tags = {
        "backbone": backbone, "profile": params.profile, TAG_PIPELINE_RUN: pipeline_run_id,
        "git_commit": commit[0], "git_dirty": str(commit[1]).lower(), "mlflow.source.git.commit": commit[0],
        "data_dvc_hash": data_hash, VALIDATION_SUCCESS: str(validation.success).lower(),
        "benchmarks": ",".join(benches), "missing_optional_files": ";".join(missing) or "none",
        **(trained or {}),
    }
    step_metrics = read_train_log(root / paths.train_log(bb), allow_empty=tags.get("train_steps") == "0")
    # the serving config too: registering a run logs it as params of that run (MLflow does), so every run has it
    run_params = param_strings(params) | serving_params(params)
    return BackboneRecord(backbone, run_params, tags, metrics, step_metrics, onnx, artifacts)


def _onnx_signature(num_classes: int, image_shape: tuple[int, int, int]):
    import numpy as np
    from mlflow.models import ModelSignature
    from mlflow.types import Schema, TensorSpec

    c, h, _ = image_shape  # batch and width are dynamic
    return ModelSignature(inputs=Schema([TensorSpec(np.dtype(np.float32), (-1, c, h, -1), "x")]),
                          outputs=Schema([TensorSpec(np.dtype(np.float32), (-1, -1, num_classes))]))


def _live_run(c, record: BackboneRecord, experiment_id: str) -> str | None:
    """The training's live run (``tracking/live.py``) if this record may be added to it; None (a new run,
    tagged ``train_run_id``) if there is none, it is not in this store and experiment, another pipeline run
    already tracked it (no new training since), or params it logged differ from the ones being tracked."""
    from mlflow.exceptions import MlflowException

    run_id = record.tags.get(TAG_TRAIN_RUN)
    if not run_id:
        return None
    try:
        run = c.get_run(run_id)
    except MlflowException:
        log.warning("%s: training run %s is not in this store; logging a new run", record.backbone, run_id)
        return None
    changed = sorted(k for k, v in record.params.items() if run.data.params.get(k, v) != v)
    if run.info.experiment_id != experiment_id or run.info.lifecycle_stage != "active":
        why = "deleted or in another experiment"
    elif TAG_PIPELINE_RUN in run.data.tags:
        why = f"it was tracked by pipeline run {run.data.tags[TAG_PIPELINE_RUN]} already"
    elif changed:
        why = f"params changed since the training: {', '.join(changed[:5])}"
    else:
        return run_id
    # a pipeline run that trained nothing new is routine (DVC skipped the stage): not worth a warning
    level = logging.INFO if TAG_PIPELINE_RUN in run.data.tags else logging.WARNING
    log.log(level, "%s: not adding to training run %s (%s); logging a new run", record.backbone, run_id, why)
    return None


def _logged(c, run_id: str, record: BackboneRecord) -> tuple[dict[str, str], set[tuple[str, int]]]:
    """Params and (metric, step) pairs run ``run_id`` holds already."""
    names = {k for k, _, _ in record.step_metrics}
    steps = {(k, m.step) for k in names for m in c.get_metric_history(run_id, k)}
    return c.get_run(run_id).data.params, steps


def log_backbone(record: BackboneRecord, experiment_id: str, charset_file: Path, num_classes: int,
                 image_shape: tuple[int, int, int]) -> str:
    """Log one record into the run its training logged its curves to (``train_run_id``) when that run can take
    it, else into a new run of the experiment; returns the run id."""
    import mlflow
    import onnx
    from mlflow.entities import Metric

    pip = [f"onnxruntime=={version('onnxruntime')}", f"onnx=={version('onnx')}"]
    run_name = f"{record.backbone}-{record.tags[TAG_PIPELINE_RUN]}"
    live = _live_run(mlflow.MlflowClient(), record, experiment_id)
    start = {"run_id": live} if live else {"experiment_id": experiment_id, "run_name": run_name, "tags": record.tags}
    with mlflow.start_run(**start) as run:
        client = mlflow.MlflowClient()
        now = int(time.time() * 1000)
        logged_params, logged_steps = _logged(client, live, record) if live else ({}, set())
        if live:
            mlflow.set_tags(record.tags)
        # a live run holds the training's params and (all or part of) its curve: add only what is missing
        client.log_batch(run.info.run_id,
                         params=[mlflow.entities.Param(k, v) for k, v in record.params.items()
                                 if k not in logged_params],
                         metrics=[Metric(k, v, now, s) for k, v, s in record.step_metrics
                                  if (k, s) not in logged_steps])
        mlflow.log_metrics(record.metrics)
        for prec, p in record.onnx.items():
            info = mlflow.onnx.log_model(onnx.load(str(p)), name=f"onnx_{prec}", signature=_onnx_signature(
                num_classes, image_shape), pip_requirements=pip, onnx_execution_providers=["CPUExecutionProvider"])
            mlflow.set_tag(f"model_uri.{prec}", info.model_uri)
        mlflow.log_artifact(str(charset_file), "charset")
        for folder, files in record.artifacts.items():
            for f in files:
                mlflow.log_artifact(str(f), folder)
        return run.info.run_id


def track_pipeline_run(params: Params, root: str | Path = ".", backbones: tuple[str, ...] | None = None,
                       pipeline_run_id: str | None = None, store: Store | None = None) -> TrackedPipelineRun:
    """Log each backbone of a finished pipeline run (files under ``root``) as one MLflow run."""
    root = Path(root).resolve()
    store = store or resolve_store(params.tracking, root)
    pipeline_run_id = pipeline_run_id or new_pipeline_run_id()
    backbones = tuple(backbones or params.model.backbones)
    commit = git_state(root)
    data_hash = dvc_data_hash(root / "dvc.lock", params.paths.lmdb)
    # read everything first: a missing or malformed file aborts before a partial pipeline run is logged
    records = [collect_backbone(params, root, bb, pipeline_run_id, commit, data_hash) for bb in backbones]
    charset = params.charset.build()
    run_ids = {}
    with tempfile.TemporaryDirectory() as tmp, mlflow_session(store) as exp_id:
        dict_file = Path(tmp) / "dict.txt"  # the exact dictionary the head was trained on
        dict_file.write_text("".join(c + "\n" for c in charset.characters), encoding="utf-8")
        for rec in records:
            run_ids[rec.backbone] = log_backbone(rec, exp_id, dict_file, charset.num_classes,
                                                 params.model.image_shape)
    return TrackedPipelineRun(pipeline_run_id, exp_id, run_ids)
