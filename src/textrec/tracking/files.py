"""Read one finished pipeline run from its files (no MLflow here): what will be logged for each backbone.

The files are the contract between the DVC stages and tracking: the stage outputs are read through their
dataclasses (``textrec.artifacts``: the eval and quantize results, the train summary), which
also name the metrics derived from them; the train log CSV (``step,epoch,loss,lr,images_per_second
[,val_accuracy]``, empty cell = not measured) and dvc.lock (DVC 3) are read here. Their paths are
``params.paths``'s, relative to the project root.
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

from textrec.artifacts import EvalResult, QuantizeSummary, TrainSummary, forgetting
from textrec.artifacts.metrics import avg_acc_key, train_key
from textrec.config import Params, flatten, to_dict


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
                        out.append((train_key(name), value, step))
            except (TypeError, ValueError) as e:
                raise ValueError(f"{path} line {line}: bad value ({e})") from None
    if not out and not allow_empty:
        raise ValueError(f"{path}: no training steps logged")
    return out


def train_tags(path: Path) -> dict[str, str] | None:
    """The train summary's tags (``TrainSummary.tags``); None if the file is absent."""
    return TrainSummary.read(path).tags() if path.is_file() else None


def ranking_key(metrics: Collection[str], precision: str) -> str:
    """The mean the registry ranks runs by and the accuracy gate compares, given a run's metric names: over
    your own test sets when the run has them (a fine-tune is for your data; what it forgets of the synthetic
    suite is ``forgetting``, gated on its own), else over every benchmark."""
    own = avg_acc_key(precision, own=True)
    return own if own in metrics else avg_acc_key(precision)


def eval_metrics(paths: dict[str, Path], own: Collection[str] = ()) -> dict[str, float]:
    """What the evaluate stage measured of the trained checkpoint, per benchmark (``EvalResult.metrics``),
    and with ``own`` test sets ``forgetting`` (when the start checkpoint was measured)."""
    results = {bench: EvalResult.read(p) for bench, p in paths.items()}
    m: dict[str, float] = {}
    for r in results.values():
        m |= r.metrics()
    return m | forgetting(results, own)


def quantize_metrics(path: Path, benchmarks: tuple[str, ...], own: tuple[str, ...] = ()) -> dict[str, float]:
    """``QuantizeSummary.metrics``: accuracies, drops, means and latencies of the exported models."""
    return QuantizeSummary.read(path).metrics(benchmarks, own)


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
