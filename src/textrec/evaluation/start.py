"""Where a trained model started: the init checkpoint (``train.<backbone>.init``) its trainer state records.

The evaluate stage measures that checkpoint on the same images as the trained model, so a fine-tuned model
is always reported beside its starting point (the demo's MobileNetV3 beside the bundled model it starts
from: what its training added, or took away). The file is trusted only when its sha256 is the one recorded at training time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

from textrec.artifacts import StartRecord
from textrec.hashing import sha256_file
from textrec.models.pretrained import PretrainedError, bundled_checkpoint
from textrec.training.checkpointing import START
from textrec.training.checkpointing import paths as checkpoint_paths


@dataclass(frozen=True)
class StartingPoint:
    source: str  # train.<backbone>.init: "bundled" | "paddleocr" | a path
    path: Path | None  # the checkpoint to measure; None when it cannot be compared (``reason``)
    sha256: str | None
    reason: str | None = None
    accuracy: float | None = None
    count: int | None = None

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
    if isinstance(head, dict):  # mapped to this run's dictionary: the weights training began with were kept
        start = Path(model_dir) / f"{START}.pdparams"
        if not start.is_file():
            return StartingPoint(source, None, sha, reason=f"not comparable: its head was mapped ({head}) and "
                                                           f"{start} is not there")
        return StartingPoint(source, start, sha)
    if head not in (None, "loaded"):
        return StartingPoint(source, None, sha, reason=f"not comparable: its head was {head}")
    if recorded is None or not Path(recorded).is_file():
        return StartingPoint(source, None, sha, reason=f"{recorded} is no longer there")
    if sha256_file(recorded) != sha:
        return StartingPoint(source, None, sha, reason=f"{recorded} has changed since training (sha256)")
    return StartingPoint(source, Path(recorded), sha)
