"""Checkpoint -> Paddle inference model (PIR ``inference.json`` + ``inference.pdiparams``).

The saved program takes ``x`` [N, C, H, W] (``model.image_shape``'s C and H; batch and width dynamic) and
returns softmax probabilities [N, W/4, num_classes], exactly as the eager model in eval mode.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from textrec.config.model import BackboneName
from textrec.config.pipeline import INFERENCE_PREFIX
from textrec.preprocess import IMAGE_SHAPE

if TYPE_CHECKING:
    from textrec.models.crnn import CRNN

INPUT_NAME = "x"


def inference_files(out_dir: str | Path) -> tuple[Path, Path]:
    d = Path(out_dir)
    return d / f"{INFERENCE_PREFIX}.json", d / f"{INFERENCE_PREFIX}.pdiparams"


def load_checkpoint_model(params: str | Path, num_classes: int, backbone: BackboneName | None = None) -> CRNN:
    """Eval-mode CRNN with the weights of ``params`` (backbone detected from its keys when not given)."""
    import paddle

    from textrec.models.crnn import load_model

    paddle.set_device("cpu")
    return load_model(params, num_classes, backbone)


def export_inference(model: CRNN, out_dir: str | Path,
                     image_shape: tuple[int, int, int] = IMAGE_SHAPE) -> Path:
    """Save ``model`` (switched to eval mode) as a Paddle inference model in ``out_dir``; returns the dir."""
    import paddle

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.eval()
    channels, height, _ = image_shape  # the width stays dynamic, like the batch
    spec = [paddle.static.InputSpec([None, channels, height, None], "float32", name=INPUT_NAME)]
    paddle.jit.save(model, str(out / INFERENCE_PREFIX), input_spec=spec)
    for f in inference_files(out):
        if not f.is_file():
            raise RuntimeError(f"paddle.jit.save did not write {f}")
    return out
