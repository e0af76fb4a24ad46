"""Where a trained model started: the init checkpoint (``train.<backbone>.init``) its trainer state records.

The evaluate stage measures that checkpoint on the same images as the trained model, so a fine-tuned model
is always reported beside its starting point (the demo's MobileNetV3 beside the bundled model it starts
from: what its training added, or took away). The file is trusted only when its sha256 is the one recorded at training time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from textrec.artifacts import StartRecord
from textrec.charset import Charset
from textrec.hashing import sha256_file
from textrec.inference.engines import Engine, load_engine
from textrec.models.pretrained import PretrainedError, bundled_checkpoint
from textrec.training.checkpointing import paths as checkpoint_paths
from textrec.training.head_map import map_head


@dataclass(frozen=True)
class StartingPoint:
    source: str  # train.<backbone>.init: "bundled" | "paddleocr" | a path
    path: Path | None  # the checkpoint to measure; None when it cannot be compared (``reason``)
    sha256: str | None
    reason: str | None = None
    accuracy: float | None = None
    count: int | None = None
    head_from: str | None = None  # the checkpoint's own dictionary when its head was mapped to the run's

    def measured(self, accuracy: float, count: int) -> StartingPoint:
        return replace(self, accuracy=accuracy, count=count)

    def record(self) -> StartRecord:
        """What the eval result keeps of it (``EvalResult.start``)."""
        return StartRecord(self.source, None if self.path is None else str(self.path), self.sha256, self.reason,
                           self.accuracy, self.count)


def starting_checkpoint(model_dir: str | Path) -> StartingPoint | None:
    """The init of the run whose best checkpoint is in ``model_dir``; None for ``scratch`` (or no state)."""
    state_file = checkpoint_paths(model_dir, "best")["state.json"]
    if not state_file.exists():
        return None
    state = json.loads(state_file.read_text(encoding="utf-8"))
    init = state.get("init") or {}
    source = init.get("source", "scratch")
    if source == "scratch":
        return None
    sha, recorded = init.get("sha256"), init.get("path")
    if source == "bundled":  # this installation's file (the recorded path may be another clone's); sha256 decides
        try:
            recorded = str(bundled_checkpoint(state["backbone"]))
        except PretrainedError as e:
            return StartingPoint(source, None, sha, reason=str(e))
    head = init.get("head")
    head_from = None
    if isinstance(head, dict) and head.get("fresh") == 0 and head.get("source_characters"):
        head_from = head["source_characters"]  # every class of the run came from the checkpoint's head
    elif head not in (None, "loaded"):
        return StartingPoint(source, None, sha, reason=f"not comparable: its head was {head}")
    if recorded is None or not Path(recorded).is_file():
        return StartingPoint(source, None, sha, reason=f"{recorded} is no longer there")
    if sha256_file(recorded) != sha:
        return StartingPoint(source, None, sha, reason=f"{recorded} has changed since training (sha256)")
    return StartingPoint(source, Path(recorded), sha, head_from=head_from)


def start_engine(start: StartingPoint, charset: Charset, backbone: str) -> Engine:
    """The start checkpoint as the run's model was before its first step: with ``head_from``, its head
    columns mapped to ``charset``'s classes (the same function ``init`` used); else the file as it is."""
    if start.path is None:
        raise ValueError(f"start checkpoint not comparable: {start.reason}")
    if start.head_from is None:
        return load_engine(start.path, charset.num_classes, backbone)
    import paddle

    from textrec.models.checkpoint import assign_weights, read_params
    from textrec.models.crnn import build_model

    paddle.set_device("cpu")
    model = build_model(backbone, charset.num_classes)  # type: ignore[arg-type]
    params = read_params(start.path)
    state = model.state_dict()
    # head.fc: weight [C_in, classes], bias [classes]; no fresh column (head_from is set only then)
    w, b, _ = map_head(params["head.fc.weight"], params["head.fc.bias"], tuple(start.head_from), charset,
                       state["head.fc.weight"].numpy(), state["head.fc.bias"].numpy())
    assign_weights(model, params | {"head.fc.weight": w, "head.fc.bias": b}, source=f"start {start.path}")
    model.eval()

    def engine(x: np.ndarray) -> np.ndarray:  # [N, 3, 32, W] -> probabilities [N, W/4, classes]
        with paddle.no_grad():
            return model(paddle.to_tensor(x)).numpy()

    return engine
