"""One checkpoint -> the exported bundle: Paddle inference model + ONNX, checked against the checkpoint.

    bundle = export_bundle("models/mobilenet_v3/best.pdparams", "exported/mobilenet_v3", charset)
    report = verify_bundle(bundle, images, atol=1e-4)   # raises ParityError above atol
    shipped = onnx_for_package(checkpoint, work_dir, params, "mobilenet_v3", int8=True)  # `textrec bundle`
    attach_calibration(bundle_dir, "mobilenet_v3", calibration_file)  # `textrec bundle --calibration FILE`
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from textrec.artifacts import BenchResult
from textrec.charset import Charset
from textrec.config import Params
from textrec.config.model import BackboneName
from textrec.config.pipeline import INT8_NAME, ONNX_NAME
from textrec.export.parity import ParityError, ParityReport, compare
from textrec.inference.recognizer import CHARACTERS_KEY
from textrec.preprocess import IMAGE_SHAPE

__all__ = ["INT8_NAME", "ONNX_NAME", "Bundle", "PackagedOnnx", "attach_calibration", "export_bundle",
           "onnx_for_package", "ship_calibration", "verify_bundle"]
CALIBRATION_USE = ("confidence calibration: applied by Recognizer, `textrec predict` and the served model, for "
                   "every bundled file")


@dataclass(frozen=True)
class Bundle:
    checkpoint: Path
    backbone: BackboneName
    num_classes: int
    inference_dir: Path  # inference.json + inference.pdiparams
    onnx: Path


def export_bundle(checkpoint: str | Path, out_dir: str | Path, charset: Charset,
                  backbone: BackboneName | None = None, opset: int = 17,
                  image_shape: tuple[int, int, int] = IMAGE_SHAPE) -> Bundle:
    """Write ``out_dir/{inference.json, inference.pdiparams, model.onnx}`` from a ``.pdparams`` checkpoint."""
    from textrec.export.onnx_export import export_onnx
    from textrec.export.paddle_export import export_inference, load_checkpoint_model

    checkpoint, out = Path(checkpoint), Path(out_dir)
    model = load_checkpoint_model(checkpoint, charset.num_classes, backbone)
    export_inference(model, out, image_shape)
    c, h, _ = image_shape
    meta = {"textrec.backbone": model.backbone_name, CHARACTERS_KEY: "".join(charset.characters),
            "textrec.blank_index": "0", "textrec.input": f"x [N,{c},{h},W] float32 BGR (u/255-0.5)/0.5",
            "textrec.output": "probs [N,W/4,num_classes] softmax"}
    onnx_path = export_onnx(out, out / ONNX_NAME, opset, meta)
    return Bundle(checkpoint, model.backbone_name, charset.num_classes, out, onnx_path)


def verify_bundle(bundle: Bundle, images: np.ndarray, atol: float, threads: int | None = None,
                  raise_on_failure: bool = True) -> list[ParityReport]:
    """Eager paddle (the checkpoint) vs the Paddle Inference predictor and vs ONNX Runtime on ``images``."""
    from textrec.inference.engines import OnnxEngine, PaddleEngine, PaddleInferenceEngine

    eager = PaddleEngine(bundle.checkpoint, bundle.num_classes, bundle.backbone)
    reports = [compare(eager, PaddleInferenceEngine(bundle.inference_dir, threads), images, atol,
                       ("paddle_eager", "paddle_inference")),
               compare(eager, OnnxEngine(bundle.onnx, threads), images, atol, ("paddle_eager", "onnx"))]
    failed = [r.message() for r in reports if not r.passed]
    if failed and raise_on_failure:
        raise ParityError("; ".join(failed))
    return reports


@dataclass(frozen=True)
class PackagedOnnx:
    """What ``onnx_for_package`` made: the fp32 ONNX (checked), the INT8 ONNX if it passed, and the card's
    ``onnx`` section (parity, and the INT8 gates' verdict: None when not attempted)."""

    fp32: Path
    int8: Path | None
    card: dict


def onnx_for_package(checkpoint: Path, work: Path, params: Params, backbone: BackboneName, int8: bool,
                     progress: bool = False) -> PackagedOnnx:
    """The checkpoint exported as the export stage exports it (``params.export``: opset; parity with the
    eager checkpoint on ``parity_images`` crops of each benchmark LMDB, else ValueError), plus INT8 as the
    quantize stage makes it (``params.quantize``: calibrated on train crops, shipped only if a plan passes
    the accuracy and speed gates on the benchmarks). Files go to ``work``."""
    from textrec.export.images import sample_lmdbs

    benches = {b: params.paths.bench_lmdb(b) for b in params.eval.benchmarks}
    missing = [p for p in benches.values() if not p.exists()]
    if missing:
        raise FileNotFoundError(f"{missing[0]}: no benchmark LMDB for the ONNX checks; run `dvc repro` first "
                                "(the prepare stage renders them)")
    cfg, shape, charset = params.export, params.model.image_shape, params.charset.build()
    bundle = export_bundle(checkpoint, work, charset, backbone, cfg.opset, shape)
    sample = sample_lmdbs(list(benches.values()), cfg.parity_images, charset, shape)
    onnx_report = next(r for r in verify_bundle(bundle, sample.images, cfg.parity_atol, raise_on_failure=False)
                       if r.candidate == "onnx")  # the ONNX file is what ships; the Paddle Inference dir is not
    if not onnx_report.passed:
        raise ValueError(f"{checkpoint}: not bundled, the ONNX export differs from the checkpoint: "
                         f"{onnx_report.message()}")
    card = {"opset": cfg.opset, "parity": {"atol": cfg.parity_atol, "images": len(sample.keys),
                                           "max_abs_diff": onnx_report.max_abs_diff}, "int8": None}
    if not int8:
        return PackagedOnnx(bundle.onnx, None, card)
    attempt, attempts = gated_int8(bundle.onnx, work / INT8_NAME, params, benches, progress)
    card["int8"] = {"shipped": not attempt.failures, "allowed_drop": params.quantize.max_accuracy_drop,
                    **{k: v for k, v in attempt.as_dict().items() if k not in ("passed", "op_counts")},
                    "plan": attempt.plan.name,  # the shipped plan, or the one that failed fewest gates
                    "tried": [{"plan": a.plan.name, "failed_gates": a.failures} for a in attempts]}
    return PackagedOnnx(bundle.onnx, None if attempt.failures else work / INT8_NAME, card)


def gated_int8(fp32: Path, out: Path, params: Params, benches: dict[str, Path], progress: bool = False):
    """INT8 of ``fp32`` through the quantize stage's gates (``quantize_with_gates``) -> (the passing attempt,
    or the one with the fewest failed gates: its ``failures`` say why; every attempt), PlanAttempts."""
    from textrec.export.images import sample_lmdb, sample_lmdbs
    from textrec.export.int8_check import quantize_with_gates

    cfg, shape, train = params.quantize, params.model.image_shape, params.paths.split_lmdb("train")
    charset = params.charset.build()
    if not train.exists():
        raise FileNotFoundError(f"{train}: no training LMDB to calibrate INT8 on; run `dvc repro` first, or "
                                "pass --no-int8")
    calib = sample_lmdb(train, cfg.calibration_images, charset, image_shape=shape)
    timing = sample_lmdbs(list(benches.values()), 64 // len(benches) + 1, charset, shape)  # as stages/quantize.py
    chosen, attempts = quantize_with_gates(fp32, out, calib.images, benches, timing.images, charset,
                                           cfg, params.eval.batch_size, shape, progress)
    return chosen or min(attempts, key=lambda a: len(a.failures)), attempts


def bundled_calibration(backbone: str, out: Path) -> Path:
    """The bundle's calibration file: ``<backbone>.calibration.json``, the sidecar of ``<backbone>.onnx`` (the
    Recognizer reads it for every bundled variant)."""
    from textrec.calibration import SIDECAR

    return out / f"{backbone}{SIDECAR}"


def ship_calibration(source: Path | None, out: Path, backbone: str) -> Path | None:
    """Copy the calibration ``source`` into the bundle ``out`` (it must load: a corrupt file is refused in one
    line before anything is written); None: the bundle's own, if it has one (``--reexport``: same weights)."""
    import shutil

    from textrec.calibration import Calibration

    dst = bundled_calibration(backbone, out)
    if source is None:
        return dst if dst.is_file() else None
    Calibration.load(source)
    shutil.copyfile(source, dst)
    return dst


def attach_calibration(out: Path, backbone: str, source: Path, bench: Path | None = None) -> dict:
    """Give the bundle in ``out`` the calibration ``source`` without exporting anything again: the file, its
    entry in the card's file list and the card's ``calibration`` section (with ``bench``, bench/calibration.py's
    JSON, when it measured this calibration on real photos). Returns the card."""
    import json

    from textrec.models.model_card import calibration_section, file_entry, write_card

    card_file = out / f"{backbone}.json"
    if not card_file.is_file():
        raise FileNotFoundError(f"{card_file}: no bundle to attach a calibration to (bundle a checkpoint first)")
    card = json.loads(card_file.read_text(encoding="utf-8"))
    path = ship_calibration(source, out, backbone)
    bench_data = BenchResult.read(bench) if bench is not None and bench.is_file() else None
    card["files"] = [f for f in card.get("files", []) if f["name"] != path.name] + [file_entry(path, CALIBRATION_USE)]
    card["calibration"] = calibration_section(path, bench_data)
    write_card(card, out / backbone)
    return card
