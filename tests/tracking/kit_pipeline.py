"""A finished pipeline run's files, built for real from the PaddleOCR parity kit (for tracking/serving tests).

Models: the kit's trained MobileNetV3 checkpoint and its freshly initialised ResNet34_vd, exported to ONNX
with paddle and quantized (LSTM, dynamic) with onnxruntime. Benchmarks: the kit's 24 images split into three
LMDBs; the validation set, which each model's calibration is fitted on (as the calibrate stage fits it), is
all 24. Every number in the files (losses, accuracies, latencies, ECE) is measured here.
Exports are cached under pytest's cache dir, keyed by the checkpoints and the model code.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path

import numpy as np
import yaml

from textrec.artifacts import (
    BenchAccuracy,
    CalibrationMeasure,
    CalibrationReport,
    QuantizeSummary,
    Timing,
    TrainSummary,
    ValidationSummary,
)
from textrec.charset import Charset
from textrec.config.calibration import CalibrationConfig
from textrec.config.pipeline import EvalConfig
from textrec.ctc import ctc_greedy_decode
from textrec.data.lmdb_io import LmdbWriter
from textrec.evaluation.calibrate import fit_on_lmdb
from textrec.evaluation.evaluate import evaluate_lmdb
from textrec.evaluation.metrics import score_sample
from textrec.inference.engines import OnnxEngine
from textrec.preprocess import preprocess_bytes

REPO = Path(__file__).resolve().parents[2]
KIT = REPO.parent / "shared" / "reference" / "paddleocr-parity"
CHECKPOINTS = {"mobilenet_v3": KIT / "mv3" / "best_accuracy.pdparams", "resnet34_vd": KIT / "r34" / "r34_init.pdparams"}
BENCHES = {"kit_iiit5k": "iiit5k_", "kit_ic15": "ic15_", "kit_synth": "synth_"}  # name -> image prefix
TRAIN_STEPS = 3
TRAIN_BATCH = {"mobilenet_v3": 8, "resnet34_vd": 2}  # ResNet34 backward is slow on a shared CPU
KEY_SOURCES = ("src/textrec/models", "src/textrec/evaluation", "src/textrec/artifacts", "src/textrec/inference", "src/textrec/preprocess.py",
               "src/textrec/calibration", "src/textrec/ctc.py",
               "src/textrec/charset.py", "src/textrec/training/loss.py", "src/textrec/training/metrics_log.py",
               "tests/tracking/kit_pipeline.py")


def kit_rows() -> list[tuple[Path, str]]:
    rows = []
    for line in (KIT / "labels.tsv").read_text(encoding="utf-8").splitlines():
        rel, label = line.split("\t", 1)
        rows.append((KIT / rel, label))
    return rows


@functools.cache  # one key per test session, even if sources change while it runs
def cache_key() -> str:
    """Digest of everything the cached files depend on: checkpoints and the code that turns them into files."""
    h = hashlib.sha256()
    sources = [REPO / s for s in KEY_SOURCES]
    files = [p for s in sources for p in (sorted(s.rglob("*.py")) if s.is_dir() else [s])]
    for p in [*CHECKPOINTS.values(), *files]:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def _train_log(model, out: Path, rows: list[tuple[Path, str]], batch_size: int) -> None:
    """A few real Adam steps on kit images (on the model *after* it was exported), logged like the trainer."""
    import paddle

    from textrec.training.loss import ctc_loss
    from textrec.training.metrics_log import MetricsCsv

    charset = Charset.from_file()
    enc = [(preprocess_bytes(p.read_bytes()), charset.encode(lab)) for p, lab in rows]
    enc = [(x, e.ids) for x, e in enc if e.ids]
    opt = paddle.optimizer.Adam(learning_rate=5e-4, parameters=model.parameters())
    model.train()
    log = MetricsCsv(out)
    for step in range(1, TRAIN_STEPS + 1):
        batch = enc[(step - 1) * batch_size: step * batch_size]
        labels = np.zeros((len(batch), 25), np.int32)
        for i, (_, ids) in enumerate(batch):
            labels[i, :len(ids)] = ids
        t0 = time.perf_counter()
        loss = ctc_loss(model(paddle.to_tensor(np.stack([x for x, _ in batch]))), paddle.to_tensor(labels),
                        paddle.to_tensor([len(ids) for _, ids in batch]))
        loss.backward()
        opt.step()
        opt.clear_grad()
        ips = len(batch) / (time.perf_counter() - t0)
        log.append(step, 0, float(loss), 5e-4, ips, val_accuracy=None if step < TRAIN_STEPS else _accuracy(model, rows))
    log.close()


def _accuracy(model, rows: list[tuple[Path, str]]) -> float:
    """Exact-match accuracy of the paddle ``model`` on ``rows`` (eval mode, then back to training)."""
    import paddle

    model.eval()
    with paddle.no_grad():
        probs = model(paddle.to_tensor(np.stack([preprocess_bytes(p.read_bytes()) for p, _ in rows]))).numpy()
    model.train()
    preds = ctc_greedy_decode(probs, Charset.from_file())
    return sum(score_sample("", lab, pr.text, pr.confidence).correct for (_, lab), pr in zip(rows, preds,
                                                                                             strict=True)) / len(rows)


def cached_pipeline_run(cache_root: Path) -> Path:
    """A finished run of both backbones (validation passed, with a report), built once per cache key."""
    import fcntl

    key = cache_key()
    cache_root.mkdir(parents=True, exist_ok=True)
    with (cache_root / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another pytest session may be building it right now
        if not (cache_root / key / "done").exists():
            for old in cache_root.iterdir():
                if old.is_dir():
                    shutil.rmtree(old)  # other keys, or a build that was interrupted
            export_models(cache_root / key / "models")
            write_pipeline_run(cache_root / key / "run", cache_root / key / "models", report=True)
            (cache_root / key / "done").touch()
    return cache_root / key / "run"


def clone_run(src: Path, dst: Path, validation_success: bool = True) -> Path:
    """Hard-linked copy of a pipeline run (the big ONNX files are not duplicated); returns params.yaml."""
    shutil.copytree(src, dst, copy_function=os.link)
    v = dst / "reports" / "validation.json"
    v.unlink()  # never write through a hard link into the cached file
    validation(validation_success).write(v)
    return dst / "params.yaml"


def validation(success: bool) -> ValidationSummary:
    """The validate stage's summary, passed or failed (the kit's LMDBs are not run through the suite)."""
    return ValidationSummary(success=success, manifests=1, failed=[] if success else ["bench/kit"], datasets={})


def _rewrite_json(src: Path, dst: Path, change) -> None:
    """``dst`` := ``change(json of src)``; ``src`` goes (a clone's files are hard links into the cache: never
    written through)."""
    data = change(json.loads(src.read_text(encoding="utf-8")))
    src.unlink()
    dst.write_text(json.dumps(data), encoding="utf-8")


def clone_as_finetune(src: Path, dst: Path, own: tuple[str, ...], start_gap: float) -> Path:
    """A clone of the kit run as a ``finetune`` run makes it: the benchmarks ``own`` are your own test sets, the
    others become the synthetic suite (``kit_synth`` -> ``synth_kit``), and each backbone was trained from a
    start checkpoint that read ``start_gap`` more than the trained model on every benchmark (eval JSON
    ``start``; it fixes only what the start measured, everything else is the kit's). Returns params.yaml."""
    clone_run(src, dst)
    names = {b: b if b in own else "synth_" + b.removeprefix("kit_") for b in BENCHES}
    for bb in CHECKPOINTS:
        for old, new in names.items():
            ev = dst / "reports" / "eval" / bb
            _rewrite_json(ev / f"{old}.json", ev / f"{new}.json", lambda d: d | {"start": {
                "source": "bundled", "path": "init.pdparams", "sha256": "ab" * 32, "reason": None,
                "accuracy": d["accuracy"] + start_gap, "count": d["count"]}})
        q = dst / "reports" / "quantize" / f"{bb}.json"
        _rewrite_json(q, q, lambda d: d | {"benchmarks": [r | {"name": names[r["name"]]} for r in d["benchmarks"]]})
    params = yaml.safe_load((dst / "params.yaml").read_text(encoding="utf-8"))
    params["profile"] = "finetune"
    params["eval"]["benchmarks"] = list(names.values())
    params["data"] = {"source": "folder", "folder": {
        "train": [{"src": "rec_gt_train.txt"}], "val": [{"src": "rec_gt_val.txt"}],
        "test": [{"src": f"rec_gt_{b}.txt", "name": b} for b in own]}}
    (dst / "params.yaml").unlink()  # a hard link too
    (dst / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    return dst / "params.yaml"


def export_models(cache: Path) -> Path:
    """cache/<backbone>/{model.onnx, model_int8.onnx, train_log.csv}."""
    import paddle
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from textrec.models.checkpoint import load_weights
    from textrec.models.crnn import build_model

    paddle.set_device("cpu")
    rows = kit_rows()
    for bb, ckpt in CHECKPOINTS.items():
        d = cache / bb
        d.mkdir(parents=True, exist_ok=True)
        model = build_model(bb, 37)
        load_weights(model, ckpt)
        model.eval()
        spec = [paddle.static.InputSpec([None, 3, 32, None], "float32", name="x")]
        paddle.onnx.export(model, str(d / "model"), input_spec=spec, opset_version=17)
        quant_pre_process(str(d / "model.onnx"), str(d / "pre.onnx"), skip_symbolic_shape=True)
        quantize_dynamic(str(d / "pre.onnx"), str(d / "model_int8.onnx"), op_types_to_quantize=["LSTM"],
                         weight_type=QuantType.QInt8)
        (d / "pre.onnx").unlink()
        _train_log(model, d / "train_log.csv", rows, TRAIN_BATCH[bb])
    return cache


def _timing(engine: OnnxEngine, name: str, x: np.ndarray, rounds: int = 5) -> Timing:
    engine(x)  # warm-up
    wall, cpu = [], []
    for _ in range(rounds):
        t0, c0 = time.perf_counter(), time.process_time()
        engine(x)
        wall.append((time.perf_counter() - t0) * 1000 / len(x))
        cpu.append((time.process_time() - c0) * 1000 / len(x))
    return Timing(name, len(x), statistics.median(wall), min(wall), max(wall), rounds, statistics.median(cpu))


def _train_summary(log: Path) -> TrainSummary:
    """The train stage's summary of the kit's few steps (their log), from the kit's checkpoint."""
    from textrec.machine import machine_info

    *_, last = csv.DictReader(log.open(encoding="utf-8"))
    val = float(last["val_accuracy"])
    machine = machine_info()
    bb = log.parent.name
    init = {"source": str(CHECKPOINTS[bb]), "path": str(CHECKPOINTS[bb]), "head": "loaded",
            "sha256": hashlib.sha256(CHECKPOINTS[bb].read_bytes()).hexdigest()}  # the models start from these
    return TrainSummary(steps=TRAIN_STEPS, epoch=0, stop_reason="max_steps", planned_steps=TRAIN_STEPS,
                        recipe_complete=True, best_accuracy=val, best_step=TRAIN_STEPS, last_val_accuracy=val,
                        last_loss=float(last["loss"]), skipped_batches=0, seconds=0.0,
                        images_per_second=float(last["images_per_second"]), world_size=1, rank=0,
                        resumed_from_step=None, train_rejected=0, val_rejected=None,
                        images_seen=TRAIN_STEPS * TRAIN_BATCH[bb], machine=machine, cpu=machine["cpu"], init=init)


def write_pipeline_run(root: Path, models: Path, backbones: tuple[str, ...] = tuple(CHECKPOINTS),
                       validation_success: bool = True, report: bool = False) -> Path:
    """Write every file a finished pipeline run leaves in the project ``root``; returns params.yaml."""
    root.mkdir(parents=True, exist_ok=True)
    params = {"profile": "tiny", "model": {"backbones": list(backbones)}, "eval": {"benchmarks": list(BENCHES)}}
    (root / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    charset = Charset.from_file()
    rows = kit_rows()
    lmdb = root / "data" / "lmdb" / "bench"
    for bench, prefix in BENCHES.items():
        with LmdbWriter(lmdb / bench) as w:
            for p, label in rows:
                if p.name.startswith(prefix):
                    w.add(p.read_bytes(), label)
    with LmdbWriter(root / "data" / "lmdb" / "val") as w:
        for p, label in rows:
            w.add(p.read_bytes(), label)
    x1 = preprocess_bytes(rows[0][0].read_bytes())[None]  # [1, 3, 32, 100]
    summary = []
    for bb in backbones:
        src = models / bb
        (root / "exported" / bb).mkdir(parents=True, exist_ok=True)
        for f in ("model.onnx", "model_int8.onnx"):
            shutil.copy(src / f, root / "exported" / bb / f)
        (root / "reports" / "train" / bb).mkdir(parents=True, exist_ok=True)
        shutil.copy(src / "train_log.csv", root / "reports" / "train" / bb / "train_log.csv")
        _train_summary(root / "reports" / "train" / bb / "train_log.csv").write(
            root / "reports" / "train" / bb / "train.json")
        engines = {p: OnnxEngine(src / f, threads=1) for p, f in (("fp32", "model.onnx"), ("int8", "model_int8.onnx"))}
        speed = [_timing(e, f"onnx_{p}", x1) for p, e in engines.items()]
        rows = []
        cal, scored = fit_on_lmdb(engines["fp32"], root / "data" / "lmdb" / "val", charset,
                                  CalibrationConfig(folds=3), {"data": "kit"})
        cal.save(root / "exported" / bb / "calibration.json")
        CalibrationReport(bb, cal.method, cal.parameters, cal.selection,
                          CalibrationMeasure(**scored.calibration())).write(
            root / "reports" / "calibration" / f"{bb}.json")
        for bench in BENCHES:
            res = {p: evaluate_lmdb(e, lmdb / bench, charset, bench, calibration=cal if p == "fp32" else None)
                   for p, e in engines.items()}
            out = root / "reports" / "eval" / bb / f"{bench}.json"
            out.parent.mkdir(parents=True, exist_ok=True)
            res["fp32"].artifact(bb, "c" * 64, EvalConfig().gallery_size, cal.describe()).write(out)
            fp32, int8 = res["fp32"], res["int8"]
            same = sum(a.prediction == b.prediction for a, b in zip(fp32.samples, int8.samples, strict=True))
            rows.append(BenchAccuracy(bench, fp32.count, fp32.accuracy, int8.accuracy, fp32.accuracy - int8.accuracy,
                                      same / fp32.count, dict(fp32.rejected)))
            summary.append((bb, bench, fp32.accuracy))
        sizes = {p: (src / f).stat().st_size for p, f in (("fp32", "model.onnx"), ("int8", "model_int8.onnx"))}
        QuantizeSummary(backbone=bb, passed=True, plan="dynamic_lstm", failed_gates=[],
                        max_accuracy_drop=max(r.accuracy_drop for r in rows), fp32_bytes=sizes["fp32"],
                        int8_bytes=sizes["int8"], calibration={"images": 0, "rejected": {}}, timing_images=1,
                        config={}, benchmarks=rows, speed=speed, op_counts={}, attempts=[]).write(
            root / "reports" / "quantize" / f"{bb}.json")
    validation(validation_success).write(root / "reports" / "validation.json")
    if report:
        cells = "".join(f"<tr><td>{b}</td><td>{n}</td><td>{a:.4f}</td></tr>" for b, n, a in summary)
        (root / "reports" / "report.html").write_text(f"<html><body><table>{cells}</table></body></html>")
    # dvc.lock as DVC 3 writes it; the data stage's md5 here is a digest of the LMDB bytes
    digest = hashlib.md5(b"".join(p.read_bytes() for p in sorted(lmdb.rglob("data.mdb")))).hexdigest()
    lock = {"schema": "2.0", "stages": {"prepare": {"cmd": "python stages/prepare.py", "outs": [
        {"path": "data/lmdb", "hash": "md5", "md5": f"{digest}.dir", "size": 1, "nfiles": 3}]}}}
    (root / "dvc.lock").write_text(yaml.safe_dump(lock), encoding="utf-8")
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run([*git, "add", "params.yaml", "dvc.lock"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "pipeline run"], check=True)
    return root / "params.yaml"
