"""Log a finished pipeline run to MLflow: one run per backbone, grouped by a ``pipeline_run_id`` tag.

    tracked = track_pipeline_run(load_params(), root=".")   # what `textrec track` does
    tracked.run_ids                                         # {"mobilenet_v3": "<run id>", ...}
"""

from __future__ import annotations

import tempfile
import time
import uuid
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from textrec.config import Params
from textrec.tracking.files import (
    BackboneRecord,
    PipelineLayout,
    dvc_data_hash,
    eval_metrics,
    git_state,
    param_strings,
    quantize_metrics,
    read_train_log,
    validation_passed,
)
from textrec.tracking.store import Store, mlflow_session, resolve_store

TAG_PIPELINE_RUN = "pipeline_run_id"


@dataclass(frozen=True)
class TrackedPipelineRun:
    pipeline_run_id: str
    experiment_id: str
    run_ids: dict[str, str]  # backbone -> MLflow run id


def new_pipeline_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:8]


def collect_backbone(params: Params, root: Path, backbone: str, layout: PipelineLayout,
                     pipeline_run_id: str, commit: tuple[str, bool], data_hash: str) -> BackboneRecord:
    """Read (and check) every file of one backbone; raises before anything is logged if one is bad."""
    def path(name: str, **kw: str) -> Path:
        return layout.path(name, params, root, backbone=backbone, **kw)

    benches = params.eval.benchmarks
    metrics = eval_metrics({b: path("eval_report", bench=b) for b in benches})
    metrics |= quantize_metrics(path("quantize_report"), benches)
    passed = validation_passed(path("validation"))
    metrics["validation_success"] = float(passed)
    onnx = {"fp32": path("onnx_fp32"), "int8": path("onnx_int8")}
    for p in onnx.values():
        if not p.is_file():
            raise FileNotFoundError(f"{p}: exported model not found")
    artifacts = {
        "eval": [path("eval_report", bench=b) for b in benches],
        "quantize": [path("quantize_report")],
        "validation": [path("validation")],
        "plots": [path("train_log")],
    }
    missing = []
    report, plots = path("report"), path("plots")
    if report.is_file():
        artifacts["report"] = [report]
    else:
        missing.append(str(report))
    if plots.is_dir():
        artifacts["plots"] += sorted(p for p in plots.iterdir() if p.is_file())
    tags = {
        "backbone": backbone, "profile": params.profile, TAG_PIPELINE_RUN: pipeline_run_id,
        "git_commit": commit[0], "git_dirty": str(commit[1]).lower(), "mlflow.source.git.commit": commit[0],
        "data_dvc_hash": data_hash, "validation_success": str(passed).lower(),
        "benchmarks": ",".join(benches), "missing_optional_files": ";".join(missing) or "none",
    }
    return BackboneRecord(backbone, param_strings(params), tags, metrics, read_train_log(path("train_log")),
                          onnx, artifacts)


def _onnx_signature(num_classes: int):
    import numpy as np
    from mlflow.models import ModelSignature
    from mlflow.types import Schema, TensorSpec

    return ModelSignature(inputs=Schema([TensorSpec(np.dtype(np.float32), (-1, 3, 32, -1), "x")]),
                          outputs=Schema([TensorSpec(np.dtype(np.float32), (-1, -1, num_classes))]))


def log_backbone(record: BackboneRecord, experiment_id: str, charset_file: Path, num_classes: int) -> str:
    """Log one record into a new run of the experiment; returns the run id."""
    import mlflow
    import onnx
    from mlflow.entities import Metric

    pip = [f"onnxruntime=={version('onnxruntime')}", f"onnx=={version('onnx')}"]
    run_name = f"{record.backbone}-{record.tags[TAG_PIPELINE_RUN]}"
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=record.tags) as run:
        client = mlflow.MlflowClient()
        now = int(time.time() * 1000)
        client.log_batch(run.info.run_id, params=[mlflow.entities.Param(k, v) for k, v in record.params.items()],
                         metrics=[Metric(k, v, now, s) for k, v, s in record.step_metrics])
        mlflow.log_metrics(record.metrics)
        for prec, p in record.onnx.items():
            info = mlflow.onnx.log_model(onnx.load(str(p)), name=f"onnx_{prec}", signature=_onnx_signature(
                num_classes), pip_requirements=pip, onnx_execution_providers=["CPUExecutionProvider"])
            mlflow.set_tag(f"model_uri.{prec}", info.model_uri)
        mlflow.log_artifact(str(charset_file), "charset")
        for folder, files in record.artifacts.items():
            for f in files:
                mlflow.log_artifact(str(f), folder)
        return run.info.run_id


def track_pipeline_run(params: Params, root: str | Path = ".", backbones: tuple[str, ...] | None = None,
                       pipeline_run_id: str | None = None, layout: PipelineLayout | None = None,
                       store: Store | None = None) -> TrackedPipelineRun:
    """Log each backbone of a finished pipeline run (files under ``root``) as one MLflow run."""
    root = Path(root).resolve()
    layout = layout or PipelineLayout()
    store = store or resolve_store(params.tracking, root)
    pipeline_run_id = pipeline_run_id or new_pipeline_run_id()
    backbones = tuple(backbones or params.model.backbones)
    commit = git_state(root)
    data_hash = dvc_data_hash(root / layout.dvc_lock, params.paths.lmdb)
    # read everything first: a missing or malformed file aborts before a partial pipeline run is logged
    records = [collect_backbone(params, root, bb, layout, pipeline_run_id, commit, data_hash) for bb in backbones]
    charset = params.charset.build()
    run_ids = {}
    with tempfile.TemporaryDirectory() as tmp, mlflow_session(store) as exp_id:
        dict_file = Path(tmp) / "dict.txt"  # the exact dictionary the head was trained on
        dict_file.write_text("".join(c + "\n" for c in charset.characters), encoding="utf-8")
        for rec in records:
            run_ids[rec.backbone] = log_backbone(rec, exp_id, dict_file, charset.num_classes)
    return TrackedPipelineRun(pipeline_run_id, exp_id, run_ids)
