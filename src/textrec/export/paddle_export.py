"""Checkpoint -> Paddle inference model (PIR ``inference.json`` + ``inference.pdiparams``).

The saved program takes ``x`` [N, 3, 32, W] (batch and width dynamic) and returns softmax probabilities
[N, W/4, num_classes], exactly as the eager model in eval mode.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from textrec.config.model import BackboneName

if TYPE_CHECKING:
    from textrec.models.crnn import CRNN

INFERENCE_PREFIX = "inference"  # -> inference.json + inference.pdiparams
INPUT_NAME = "x"


def inference_files(out_dir: str | Path) -> tuple[Path, Path]:
    d = Path(out_dir)
    return d / f"{INFERENCE_PREFIX}.json", d / f"{INFERENCE_PREFIX}.pdiparams"


def load_checkpoint_model(params: str | Path, num_classes: int, backbone: BackboneName | None = None) -> CRNN:
    """Eval-mode CRNN with the weights of ``params`` (backbone detected from its keys when not given)."""
    import paddle

    from textrec.models.checkpoint import detect_backbone, load_weights
    from textrec.models.crnn import build_model

    paddle.set_device("cpu")
    model = build_model(backbone or detect_backbone(params), num_classes)
    load_weights(model, params)
    model.eval()
    return model


def export_inference(model: CRNN, out_dir: str | Path) -> Path:
    """Save ``model`` (switched to eval mode) as a Paddle inference model in ``out_dir``; returns the dir."""
    import paddle

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.eval()
    spec = [paddle.static.InputSpec([None, 3, 32, None], "float32", name=INPUT_NAME)]
    paddle.jit.save(model, str(out / INFERENCE_PREFIX), input_spec=spec)
    for f in inference_files(out):
        if not f.is_file():
            raise RuntimeError(f"paddle.jit.save did not write {f}")
    return out


def export_checkpoint(params: str | Path, out_dir: str | Path, num_classes: int,
                      backbone: BackboneName | None = None) -> Path:
    """``.pdparams`` checkpoint -> inference model in ``out_dir``."""
    return export_inference(load_checkpoint_model(params, num_classes, backbone), out_dir)
