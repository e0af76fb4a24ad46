"""The train stage's summary: ``<reports>/train/<backbone>/train.json``."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from textrec.artifacts._file import Artifact
from textrec.config.pipeline import PathsConfig

TAG_TRAIN_RUN = "train_run_id"  # the tag naming the run the train stage logged its curves to


@dataclass(frozen=True)
class TrainOutcome:
    """How one training invocation ended, as the trainer returns it (``training.trainer.TrainResult``
    extends it with the in-memory reports) and as train.json records it (``TrainSummary``)."""

    steps: int
    epoch: int  # epochs completed
    stop_reason: str  # "epochs" | "max_steps" | "time_budget"
    planned_steps: int  # what the recipe specifies (epochs and max_steps)
    recipe_complete: bool  # False: a safety stop (time budget) ended it early: not the recipe's model
    best_accuracy: float | None
    best_step: int | None
    last_val_accuracy: float | None
    last_loss: float | None
    skipped_batches: int
    seconds: float  # wall time of the loop in this invocation
    images_per_second: float  # mean over this invocation's steps (global batch)
    world_size: int
    rank: int
    resumed_from_step: int | None  # None: started afresh
    init: dict[str, Any] = field(default_factory=dict)  # the weights it started from (training/init.py)
    tracking_run_id: str | None = None  # the MLflow run the curves went to live, None without one

    def outcome(self) -> dict[str, Any]:
        """The ``TrainOutcome`` fields of this object, by name (to build another subclass from it)."""
        return {f.name: getattr(self, f.name) for f in fields(TrainOutcome)}


@dataclass(frozen=True, kw_only=True)
class TrainSummary(Artifact, TrainOutcome):
    """How one training ended (rank 0 of ``train@<backbone>``): the trainer's outcome and what the stage
    adds to it."""

    STAGE = "train"

    train_rejected: int  # records the training set rejected (listed in data_train.json)
    val_rejected: int | None  # None: no validation set
    images_seen: int  # steps x the recipe's global batch
    machine: dict[str, Any]  # textrec.machine.machine_info(): the bench JSONs' CPU record
    cpu: str  # machine["cpu"], the name the report shows

    @staticmethod
    def path(paths: PathsConfig, backbone: str) -> Path:
        return paths.train_summary(backbone)

    @property
    def init_source(self) -> str:
        return str(self.init.get("source", "scratch"))

    def tags(self) -> dict[str, str]:
        """The MLflow tags of the run: steps, the init the weights started from with its sha256
        (``init_archive_sha256``: PaddleOCR's release archive) and the live run's id."""
        tags = {"train_steps": str(self.steps), "init": self.init_source,
                "init_sha256": str(self.init.get("sha256") or "none")}
        if self.init.get("archive_sha256"):
            tags["init_archive_sha256"] = str(self.init["archive_sha256"])
        if self.tracking_run_id:
            tags[TAG_TRAIN_RUN] = self.tracking_run_id
        return tags
