"""The train stage's summary: ``<reports>/train/<backbone>/train.json``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textrec.artifacts._file import Artifact
from textrec.config.pipeline import PathsConfig

TAG_TRAIN_RUN = "train_run_id"  # the tag naming the run the train stage logged its curves to


@dataclass(frozen=True)
class TrainSummary(Artifact):
    """How one training ended (rank 0 of ``train@<backbone>``). The first fields are the trainer's
    ``TrainResult``'s of the same name."""

    STAGE = "train"

    steps: int
    epoch: int  # epochs completed
    stop_reason: str  # "epochs" | "max_steps" | "time_budget"
    planned_steps: int  # what the recipe specifies
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
    train_rejected: int  # records the training set rejected (listed in data_train.json)
    val_rejected: int | None  # None: no validation set
    images_seen: int  # steps x the recipe's global batch
    machine: dict[str, Any]  # textrec.machine.machine_info(): the bench JSONs' CPU record
    cpu: str  # machine["cpu"], the name the report shows
    init: dict[str, Any] = field(default_factory=dict)  # the weights it started from (training/init.py)
    tracking_run_id: str | None = None  # the MLflow run the curves went to live

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
