"""One checkpoint -> the exported bundle: Paddle inference model + ONNX, checked against the checkpoint.

    bundle = export_bundle("models/mobilenet_v3/best.pdparams", "exported/mobilenet_v3", charset)
    report = verify_bundle(bundle, images, atol=1e-4)   # raises ParityError above atol
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from textrec.charset import Charset
from textrec.config.model import BackboneName
from textrec.config.pipeline import INT8_NAME, ONNX_NAME
from textrec.export.parity import ParityError, ParityReport, compare
from textrec.preprocess import IMAGE_SHAPE

__all__ = ["INT8_NAME", "ONNX_NAME", "Bundle", "export_bundle", "verify_bundle"]


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
    meta = {"textrec.backbone": model.backbone_name, "textrec.characters": "".join(charset.characters),
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
