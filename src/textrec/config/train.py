"""Training recipe section: one recipe per backbone (``train.mobilenet_v3``, ``train.resnet34_vd``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class OptimizerConfig:
    name: Literal["adam"] = "adam"
    beta1: float = 0.9
    beta2: float = 0.999
    weight_decay: float = 0.0  # L2 factor; PaddleOCR's CRNN configs use 0
    grad_clip_norm: float | None = None


@dataclass(frozen=True)
class ScheduleConfig:
    name: Literal["constant", "cosine", "onecycle"] = "constant"
    warmup_steps: int = 0  # linear warm-up from 0 before the schedule proper (all schedules)
    min_lr_ratio: float = 0.0  # cosine floor as a fraction of lr
    pct_start: float = 0.3  # onecycle: fraction of steps spent rising


@dataclass(frozen=True)
class CurriculumConfig:
    """Short words first: during the first ``steps`` steps only labels up to a length that grows linearly
    from ``start_max_len`` to the charset's max length are drawn. ``steps: 0`` disables it."""

    steps: int = 0
    start_max_len: int = 25


@dataclass(frozen=True)
class RecipeConfig:
    epochs: int = 72
    max_steps: int | None = None  # stop after this many steps (batches, skipped ones included), if sooner
    time_budget_minutes: float | None = None  # stop cleanly (and checkpoint) when exceeded
    batch_size: int = 256  # global batch: split evenly over the data-parallel ranks
    lr: float = 5e-4
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    curriculum: CurriculumConfig = field(default_factory=CurriculumConfig)
    augment: bool = False  # PaddleOCR's CRNN configs: no augmentation
    seed: int = 1024
    num_workers: int = 0
    eval_every_steps: int = 500
    log_every_steps: int = 20
    checkpoint_every_steps: int = 200
    nan_policy: Literal["stop", "skip"] = "stop"
    device: Literal["auto", "cpu", "gpu"] = "auto"
    amp: bool = False  # mixed precision, GPU only
    cpu_threads: int | None = None  # None: paddle's default (1 per process)
    # data-parallel processes stages/train.py starts (CPU: gloo, BatchNorm over each rank's share of the batch)
    processes: int = 1
    # CPU: MobileNetV3's depthwise convolutions and hardswish on compiled kernels while training (same maths;
    # falls back to paddle's kernels with a warning if g++ is missing)
    fast_kernels: bool = True
    # BatchNorm in training: "batch" (per-process batch statistics, PaddleOCR), "frozen" (running statistics,
    # not updated), "sync" (statistics over all ranks; multi-GPU only)
    batch_norm: Literal["batch", "frozen", "sync"] = "batch"
    check_images: bool = True  # decode every image in the dataset index pass (bad ones are rejected up front)

    def __post_init__(self) -> None:
        if self.processes < 1 or self.batch_size % self.processes:
            raise ValueError(f"processes must be >= 1 and divide batch_size {self.batch_size}, got {self.processes}")


@dataclass(frozen=True)
class TrainConfig:
    mobilenet_v3: RecipeConfig = field(default_factory=RecipeConfig)
    resnet34_vd: RecipeConfig = field(default_factory=RecipeConfig)

    def recipe(self, backbone: str) -> RecipeConfig:
        return getattr(self, backbone)
