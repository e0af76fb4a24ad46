"""Read one finished pipeline run from its files (no MLflow here): what will be logged for each backbone.

The files are the contract between the DVC stages and tracking. Their paths are ``params.paths``'s
(``PathsConfig.eval_report(backbone, bench)``, ...), relative to the project root. Assumed formats:

* train log CSV: ``step,epoch,loss,lr,images_per_second[,val_accuracy]``, empty cell = not measured;
* eval report JSON (``stages/evaluate.py``): ``{"name", "count", "accuracy", "norm_edit_distance",
  "mean_confidence", "empty_predictions", ...}``;
* quantize report JSON: ``{"benchmarks": [{"name": <bench>, "fp32_accuracy": a, "int8_accuracy": b, ...}],
  "speed": [{"engine": "onnx_fp32"|"onnx_int8", "batch_size": 1, "ms_per_image": ms, ...}, ...]}``
  (``stages/quantize.py``);
* validation JSON: ``{"success": bool, ...}``; dvc.lock: DVC 3 lock file;
* train summary JSON (``stages/train.py``, optional): ``{"steps": n, "init": {"source", "sha256", ...},
  "tracking_run_id": <the live MLflow run> | null, ...}``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import subprocess
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from textrec.config import Params, flatten, to_dict

PRECISIONS = ("fp32", "int8")
TAG_TRAIN_RUN = "train_run_id"  # the run the train stage logged its curves to live
# Every metric a backbone's run carries, and nothing else (the README's table; tests hold both to it).
# fp32 = the exported ONNX model, int8 = the quantized one, both as the quantize stage measured them.
METRICS = {
    "acc_fp32/<bench>": "accuracy of the fp32 ONNX model, the one shipped (quantize stage; the evaluate stage "
                        "scores the same weights with the same code)",
    "acc_int8/<bench>": "accuracy of the INT8 ONNX model (quantize stage)",
    "int8_drop/<bench>": "acc_fp32 - acc_int8",
    "avg_acc_fp32": "plain mean of acc_fp32 over eval.benchmarks (without own test sets, the registry ranks "
                    "runs by avg_acc_<served>)",
    "avg_acc_int8": "plain mean of acc_int8",
    "avg_acc_own_<precision>": "plain mean of acc_<precision> over your own test sets (data.source folder only); "
                               "the registry ranks by it and the accuracy gate compares it",
    "forgetting": "with own test sets: the synthetic suite's mean accuracy of the start checkpoint minus the "
                  "trained one's (evaluate stage; positive = forgotten; promotion gate max_forgetting)",
    "int8_drop_max": "largest int8_drop (promotion gate int8_drop)",
    "ned/<bench>": "mean normalised edit distance (evaluate stage, trained checkpoint)",
    "confidence/<bench>": "mean confidence (evaluate stage)",
    "count/<bench>": "images scored (evaluate stage)",
    "empty/<bench>": "images read as the empty string: the model emitted only blanks (evaluate stage)",
    "ece_before/<bench>": "expected calibration error of the raw confidence (evaluate stage; 15 bins by default)",
    "ece_after/<bench>": "expected calibration error of the calibrated confidence (the calibrate stage's fit)",
    "coverage_at_precision/<bench>": "share of words at or above the auto-accept threshold: the lowest calibrated "
                                     "confidence above which they are right at calibration.target_precision (0 "
                                     "when none reaches it; the threshold is in the eval JSON and the report)",
    "latency_ms_<precision>_b<N>": "ms/image at batch N, N in 1 and 64 (quantize stage; _b1 is the promotion "
                                   "gate latency)",
    "validation_success": "1 if the data validation passed, else 0",
    "train/<column>": "per step, from the training log: loss, lr, images_per_second, val_accuracy, epoch "
                      "(logged live by the train stage)",
}


@dataclass
class BackboneRecord:
    """Everything logged for one backbone of one pipeline run."""

    backbone: str
    params: dict[str, str]
    tags: dict[str, str]
    metrics: dict[str, float]
    step_metrics: list[tuple[str, float, int]]  # (name, value, step) from the training log
    onnx: dict[str, Path]  # precision -> model file
    artifacts: dict[str, list[Path]] = field(default_factory=dict)  # artifact dir -> files


def _json(path: Path) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found (did the stage that writes it run?)")
    with path.open(encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return data


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{where}: expected a finite number, got {value!r}")
    return float(value)


def read_train_log(path: Path, allow_empty: bool = False) -> list[tuple[str, float, int]]:
    """CSV -> (metric name ``train/<column>``, value, step); empty cells are skipped, bad cells raise. A log
    without rows raises unless ``allow_empty`` (a 0-step run that only evaluates its init weights)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: training log not found")
    out: list[tuple[str, float, int]] = []
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or "step" not in reader.fieldnames:
            raise ValueError(f"{path}: expected a header with a 'step' column, got {reader.fieldnames}")
        for line, row in enumerate(reader, start=2):
            try:
                step = int(row["step"])
                for name, cell in row.items():
                    if name != "step" and cell not in ("", None):
                        value = float(cell)
                        if not math.isfinite(value):
                            raise ValueError(f"{name}={cell}")
                        out.append((f"train/{name}", value, step))
            except (TypeError, ValueError) as e:
                raise ValueError(f"{path} line {line}: bad value ({e})") from None
    if not out and not allow_empty:
        raise ValueError(f"{path}: no training steps logged")
    return out


def train_tags(path: Path) -> dict[str, str] | None:
    """Tags from the train stage's summary (None if it is absent): steps, and the init the weights started
    from with its sha256 (``init_archive_sha256``: PaddleOCR's release archive), and the live run's id."""
    if not path.is_file():
        return None
    summary = _json(path)
    init = summary.get("init") or {"source": "scratch"}  # a summary written before init existed
    tags = {"train_steps": str(summary.get("steps")), "init": str(init.get("source")),
            "init_sha256": str(init.get("sha256") or "none")}
    if init.get("archive_sha256"):
        tags["init_archive_sha256"] = str(init["archive_sha256"])
    if summary.get("tracking_run_id"):  # the run the training logged its curves to (tracking/live.py)
        tags[TAG_TRAIN_RUN] = str(summary["tracking_run_id"])
    return tags


def avg_acc_key(precision: str, own: bool = False) -> str:
    """The mean accuracy's metric: over every benchmark, or (``own``) over your own test sets only."""
    return f"avg_acc_own_{precision}" if own else f"avg_acc_{precision}"


FORGETTING = "forgetting"  # the synthetic suite's mean accuracy lost from the start checkpoint (eval_metrics)


def ranking_key(metrics: Collection[str], precision: str) -> str:
    """The mean the registry ranks runs by and the accuracy gate compares, given a run's metric names: over
    your own test sets when the run has them (a fine-tune is for your data; what it forgets of the synthetic
    suite is ``forgetting``, gated on its own), else over every benchmark."""
    own = avg_acc_key(precision, own=True)
    return own if own in metrics else avg_acc_key(precision)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _forgetting(reports: dict[str, dict], own: Collection[str]) -> float | None:
    """Start minus trained mean accuracy over the benchmarks that are not ``own``; None without such a
    benchmark or without the start checkpoint's accuracy on each (trained from scratch, or not measurable)."""
    synthetic = [b for b in reports if b not in own]
    starts = [(reports[b].get("start") or {}).get("accuracy") for b in synthetic]
    if not synthetic or None in starts:
        return None
    before = [_number(a, f"eval report {b}: start.accuracy") for a, b in zip(starts, synthetic, strict=True)]
    after = [_number(reports[b].get("accuracy"), f"eval report {b}: accuracy") for b in synthetic]
    return _mean(before) - _mean(after)


def eval_metrics(paths: dict[str, Path], own: Collection[str] = ()) -> dict[str, float]:
    """What the evaluate stage measured of the trained checkpoint beyond accuracy, per benchmark:
    ``ned/``, ``confidence/``, ``count/``, ``empty/<bench>``, the calibration's (``calibration_metrics``), and
    with ``own`` test sets ``forgetting`` (when the start checkpoint was measured). Its accuracy is not logged a second time: the accuracy of the exported
    model (``acc_fp32/<bench>``, ``quantize_metrics``) is the same model's."""
    m: dict[str, float] = {}
    reports = {bench: _json(p) for bench, p in paths.items()}
    for bench, rep in reports.items():
        p = paths[bench]
        m[f"ned/{bench}"] = _number(rep.get("norm_edit_distance"), f"{p} norm_edit_distance")
        m[f"confidence/{bench}"] = _number(rep.get("mean_confidence"), f"{p} mean_confidence")
        m[f"count/{bench}"] = _number(rep.get("count"), f"{p} count")
        m[f"empty/{bench}"] = _number(rep.get("empty_predictions"), f"{p} empty_predictions")
        m |= calibration_metrics(rep.get("calibration"), bench, p)
    if own and (forgot := _forgetting(reports, own)) is not None:
        m[FORGETTING] = forgot
    return m


def calibration_metrics(block: dict | None, bench: str, where: Path) -> dict[str, float]:
    """The eval JSON's ``calibration`` block as metrics: ECE before (and after, when the model had a
    calibration) and the auto-accept threshold's coverage; {} without one. (The threshold itself is not a
    metric: it does not exist when no cut reaches the target, and one name must always mean one number.)"""
    if block is None:
        return {}
    m = {f"ece_before/{bench}": _number(block.get("ece_before"), f"{where} calibration.ece_before"),
         f"coverage_at_precision/{bench}": _number(block.get("coverage"), f"{where} calibration.coverage")}
    if block.get("ece_after") is not None:
        m[f"ece_after/{bench}"] = _number(block["ece_after"], f"{where} calibration.ece_after")
    return m


def quantize_metrics(path: Path, benchmarks: tuple[str, ...], own: tuple[str, ...] = ()) -> dict[str, float]:
    """``acc_fp32/<bench>``, ``acc_int8/<bench>``, ``int8_drop/<bench>``, averages (also over the ``own`` test
    sets, if any), max drop and latencies (``latency_ms_<precision>_b<N>`` at every timed batch size; batch 1
    is required)."""
    rep = _json(path)
    rows = {r.get("name"): r for r in rep.get("benchmarks") or [] if isinstance(r, dict)}
    m: dict[str, float] = {}
    for bench in benchmarks:
        if bench not in rows:
            raise ValueError(f"{path}: benchmark {bench!r} missing (has {sorted(map(str, rows))})")
        for prec in PRECISIONS:
            m[f"acc_{prec}/{bench}"] = _number(rows[bench].get(f"{prec}_accuracy"),
                                               f"{path} benchmarks[{bench}].{prec}_accuracy")
        m[f"int8_drop/{bench}"] = m[f"acc_fp32/{bench}"] - m[f"acc_int8/{bench}"]
    for prec in PRECISIONS:
        m[avg_acc_key(prec)] = _mean([m[f"acc_{prec}/{b}"] for b in benchmarks])
        if own:
            m[avg_acc_key(prec, own=True)] = _mean([m[f"acc_{prec}/{b}"] for b in own])
    m["int8_drop_max"] = max(m[f"int8_drop/{b}"] for b in benchmarks)
    for t in rep.get("speed") or []:
        prec = str(t.get("engine", "")).removeprefix("onnx_") if isinstance(t, dict) else None
        if prec in PRECISIONS:
            ms = _number(t.get("ms_per_image"), f"{path} speed[{t['engine']}].ms_per_image")
            m[f"latency_ms_{prec}_b{t.get('batch_size')}"] = ms
    for prec in PRECISIONS:
        if latency_key(prec) not in m:
            raise ValueError(f"{path}: no batch-1 timing for engine 'onnx_{prec}' in 'speed'")
    return m


def latency_key(precision: str) -> str:
    """The metric the latency gate and the registry's tie-break read: batch-1 ms/image."""
    return f"latency_ms_{precision}_b1"


def validation_passed(path: Path) -> bool:
    rep = _json(path)
    if not isinstance(rep.get("success"), bool):
        raise ValueError(f"{path}: expected a boolean 'success'")
    return rep["success"]


def dvc_data_hash(lock: Path, data_path: str) -> str:
    """Hash of the data stage's output in dvc.lock: the md5 of the out ``data_path`` itself, or (when
    several stages write below it) a digest of every ``path:md5`` below it."""
    import yaml

    if not lock.is_file():
        raise FileNotFoundError(f"{lock}: not found (run the pipeline with `dvc repro` first)")
    data = yaml.safe_load(lock.read_text(encoding="utf-8")) or {}
    outs = {o["path"]: str(o.get("md5") or o.get("hash")) for st in (data.get("stages") or {}).values()
            for o in st.get("outs") or [] if isinstance(o, dict) and "path" in o}
    want = data_path.rstrip("/")
    if want in outs:
        return outs[want]
    below = sorted(f"{p}:{h}" for p, h in outs.items() if p.startswith(want + "/"))
    if not below:
        raise ValueError(f"{lock}: no stage output at or below {want!r} (outputs: {sorted(outs)})")
    return "sha256:" + hashlib.sha256("\n".join(below).encode()).hexdigest()


def git_state(root: Path) -> tuple[str, bool]:
    """(HEAD commit, whether the working tree has uncommitted changes)."""
    def git(*args: str) -> str:
        res = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
        if res.returncode:
            raise ValueError(f"git {' '.join(args)} failed in {root}: {res.stderr.strip()}")
        return res.stdout.strip()

    return git("rev-parse", "HEAD"), bool(git("status", "--porcelain", "--untracked-files=no"))


def serving_config(params: Params) -> dict:
    """The registered recognizer's model config (``tracking/recognizer.py`` reads these keys). MLflow logs
    a model's config as params of its run, so ``textrec track`` logs them on every backbone's run first
    (``serving_params``): the runs of a pipeline run carry the same params whichever is registered."""
    cfg = params.promotion
    return {"image_shape": list(params.model.image_shape), "max_bytes": cfg.max_image_bytes,
            "max_pixels": cfg.max_image_pixels, "max_images": cfg.max_images_per_request,
            # logged false so that a trusted local loader can override it (MLflow overrides logged keys only)
            "allow_local_paths": False,
            # portrait crops read turned too (textrec.inference.orientation); logged so a loader can turn it off
            "rotate_portrait": True}


def serving_params(params: Params) -> dict[str, str]:
    """``serving_config`` as the run params MLflow makes of it (``str`` of each value)."""
    return {k: str(v) for k, v in serving_config(params).items()}


def param_strings(params: Params) -> dict[str, str]:
    return {k: json.dumps(v) if isinstance(v, list | dict) else str(v)
            for k, v in flatten(to_dict(params)).items()}
