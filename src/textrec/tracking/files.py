"""Read one finished pipeline run from its files (no MLflow here): what will be logged for each backbone.

The files are the contract between the DVC stages and tracking. Paths are templates relative to the
project root, filled with ``params.paths`` (``{models}``, ``{reports}``, ``{exported}``, ``{lmdb}``, ...),
``{backbone}`` and ``{bench}``. Assumed formats:

* train log CSV: ``step,epoch,loss,lr,images_per_second[,val_accuracy]``, empty cell = not measured;
* eval report JSON (``stages/evaluate.py``): ``{"name", "count", "accuracy", "norm_edit_distance",
  "mean_confidence", ...}``;
* quantize report JSON: ``{"benchmarks": [{"name": <bench>, "fp32_accuracy": a, "int8_accuracy": b, ...}],
  "speed": [{"engine": "onnx_fp32"|"onnx_int8", "batch_size": 1, "ms_per_image": ms, ...}, ...]}``
  (``stages/quantize.py``);
* validation JSON: ``{"success": bool, ...}``; dvc.lock: DVC 3 lock file.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import subprocess
from dataclasses import dataclass, field, fields
from pathlib import Path

from textrec.config import Params, flatten, to_dict

PRECISIONS = ("fp32", "int8")


@dataclass(frozen=True)
class PipelineLayout:
    train_log: str = "{reports}/train/{backbone}/train_log.csv"
    eval_report: str = "{reports}/eval/{backbone}/{bench}.json"
    onnx_fp32: str = "{exported}/{backbone}/model.onnx"
    onnx_int8: str = "{exported}/{backbone}/model_int8.onnx"
    quantize_report: str = "{reports}/quantize/{backbone}.json"
    validation: str = "{reports}/validation.json"
    report: str = "{reports}/report.html"  # optional: logged when present
    plots: str = "{reports}/plots/{backbone}"  # optional directory: every file in it is logged
    dvc_lock: str = "dvc.lock"

    def path(self, name: str, params: Params, root: Path, **values: str) -> Path:
        template = getattr(self, name)
        return root / template.format(**to_dict(params.paths), **values)

    @staticmethod
    def names() -> list[str]:
        return [f.name for f in fields(PipelineLayout)]


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


def read_train_log(path: Path) -> list[tuple[str, float, int]]:
    """CSV -> (metric name ``train/<column>``, value, step); empty cells are skipped, bad cells raise."""
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
    if not out:
        raise ValueError(f"{path}: no training steps logged")
    return out


def eval_metrics(paths: dict[str, Path]) -> dict[str, float]:
    """Per-benchmark metrics of the Paddle checkpoint (evaluate stage) + their unweighted mean."""
    m: dict[str, float] = {}
    for bench, p in paths.items():
        rep = _json(p)
        m[f"acc/{bench}"] = _number(rep.get("accuracy"), f"{p} accuracy")
        m[f"ned/{bench}"] = _number(rep.get("norm_edit_distance"), f"{p} norm_edit_distance")
        m[f"confidence/{bench}"] = _number(rep.get("mean_confidence"), f"{p} mean_confidence")
        m[f"count/{bench}"] = _number(rep.get("count"), f"{p} count")
    m["avg_acc"] = sum(m[f"acc/{b}"] for b in paths) / len(paths)
    return m


def quantize_metrics(path: Path, benchmarks: tuple[str, ...]) -> dict[str, float]:
    """``acc_fp32/<bench>``, ``acc_int8/<bench>``, ``int8_drop/<bench>``, averages, max drop and latencies
    (``latency_ms_<precision>`` at batch 1, ``latency_ms_<precision>_b<N>`` at every timed batch size)."""
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
        m[f"avg_acc_{prec}"] = sum(m[f"acc_{prec}/{b}"] for b in benchmarks) / len(benchmarks)
    m["int8_drop_max"] = max(m[f"int8_drop/{b}"] for b in benchmarks)
    for t in rep.get("speed") or []:
        prec = str(t.get("engine", "")).removeprefix("onnx_") if isinstance(t, dict) else None
        if prec in PRECISIONS:
            ms = _number(t.get("ms_per_image"), f"{path} speed[{t['engine']}].ms_per_image")
            m[f"latency_ms_{prec}_b{t.get('batch_size')}"] = ms
    for prec in PRECISIONS:
        if f"latency_ms_{prec}_b1" not in m:
            raise ValueError(f"{path}: no batch-1 timing for engine 'onnx_{prec}' in 'speed'")
        m[f"latency_ms_{prec}"] = m[f"latency_ms_{prec}_b1"]
    return m


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


def param_strings(params: Params) -> dict[str, str]:
    return {k: json.dumps(v) if isinstance(v, list | dict) else str(v)
            for k, v in flatten(to_dict(params)).items()}
