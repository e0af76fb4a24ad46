"""Training recipe section: one recipe per backbone (``train.mobilenet_v3``, ``train.resnet34_vd``)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Literal

from textrec.config._build import Fraction, NonNegFloat, NonNegInt, PosFloat, PosInt, Range, Seed

Beta = Annotated[float, Range(0, 1, hi_open=True)]  # Adam's moment decay: 1 would never forget
INIT_KEYWORDS = ("scratch", "paddleocr", "bundled")  # else train.<backbone>.init is a .pdparams path
SHA256 = re.compile("[0-9a-fA-F]{64}")


@dataclass(frozen=True)
class OptimizerConfig:
    name: Literal["adam"] = "adam"
    beta1: Beta = 0.9
    beta2: Beta = 0.999
    weight_decay: NonNegFloat = 0.0  # L2 factor; PaddleOCR's CRNN configs use 0
    grad_clip_norm: PosFloat | None = None


@dataclass(frozen=True)
class ScheduleConfig:
    name: Literal["constant", "cosine", "onecycle"] = "constant"
    warmup_steps: NonNegInt = 0  # linear warm-up from 0 before the schedule proper (all schedules)
    min_lr_ratio: Fraction = 0.0  # cosine floor as a fraction of lr
    pct_start: Fraction = 0.3  # onecycle: fraction of steps spent rising


@dataclass(frozen=True)
class CurriculumConfig:
    """Short words first: during the first ``steps`` steps only labels up to a length that grows linearly
    from ``start_max_len`` to the charset's max length are drawn. ``steps: 0`` disables it."""

    steps: NonNegInt = 0
    start_max_len: PosInt = 25


@dataclass(frozen=True)
class FrameLossConfig:
    """Per-frame supervision from the synthetic renderer's character centres (training only): a
    cross-entropy on the CTC head's frames (character at its centre's frame, blank elsewhere; the two kinds
    averaged apart and summed) added to CTC with a weight that falls linearly from ``weight`` at step 0 to
    0 at ``until_step``. Records without centres (all real data) train on CTC alone. ``weight: 0`` disables
    it. No parameters are added: model, checkpoints and exports are unchanged."""

    weight: NonNegFloat = 0.0
    until_step: NonNegInt = 0
    ignore_radius: NonNegInt = 0  # frames this close to a centre are neither character nor blank targets


# Training-image transforms (textrec.data.augment), after PaddleOCR's RecAug / TIA
AugmentName = Literal["blur", "motion_blur", "perspective", "crop", "noise", "color", "contrast", "invert",
                      "jpeg"]


@dataclass(frozen=True)
class AugmentConfig:
    """One transform of ``train.<backbone>.augment``, applied to a training image with probability ``p``."""

    name: AugmentName
    p: Fraction = 0.5


@dataclass(frozen=True)
class RecipeConfig:
    epochs: PosInt = 72
    # stop after this many steps (batches, skipped ones included), if sooner; 0 (only with an init other
    # than scratch): no training, the initial weights are checkpointed and validated as they are
    max_steps: NonNegInt | None = None
    time_budget_minutes: PosFloat | None = None  # stop cleanly (and checkpoint) when exceeded
    batch_size: PosInt = 256  # global batch: split evenly over the data-parallel ranks
    lr: PosFloat = 5e-4
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    curriculum: CurriculumConfig = field(default_factory=CurriculumConfig)
    frame_loss: FrameLossConfig = field(default_factory=FrameLossConfig)
    # training images only, in this order, each with its probability; randomness a function of (seed, epoch,
    # sample). [] (PaddleOCR's CRNN configs): none
    augment: tuple[AugmentConfig, ...] = ()
    seed: Seed = 1024
    num_workers: NonNegInt = 0
    # every N steps; 0: never (the end of training still validates and checkpoints)
    eval_every_steps: NonNegInt = 500
    log_every_steps: NonNegInt = 20
    checkpoint_every_steps: NonNegInt = 200
    # steps at which the weights are also kept as <models>/<backbone>/snapshots/step_<N>.pdparams (rank 0),
    # e.g. the points of a scaling curve; () keeps none
    keep_steps: tuple[PosInt, ...] = ()
    nan_policy: Literal["stop", "skip"] = "stop"
    device: Literal["auto", "cpu", "gpu"] = "auto"
    amp: bool = False  # mixed precision, GPU only
    cpu_threads: PosInt | None = None  # None: paddle's default (1 per process)
    # data-parallel processes stages/train.py starts (CPU: gloo, BatchNorm over each rank's share of the batch)
    processes: PosInt = 1
    # CPU: MobileNetV3's depthwise convolutions and hardswish on compiled kernels while training (same maths;
    # falls back to paddle's kernels with a warning if g++ is missing)
    fast_kernels: bool = True
    # BatchNorm in training: "batch" (per-process batch statistics, PaddleOCR), "frozen" (running statistics,
    # not updated), "sync" (statistics over all ranks; multi-GPU only)
    batch_norm: Literal["batch", "frozen", "sync"] = "batch"
    check_images: bool = True  # decode every image in the dataset index pass (bad ones are rejected up front)
    # starting weights (training/init.py): scratch, paddleocr (PaddleOCR's release archive), bundled (shipped
    # in the package) or a path to a .pdparams; a resumed run ignores it
    init: str = "scratch"
    init_sha256: str | None = None  # pins the init file (paddleocr: the release archive)
    # the dictionary the init checkpoint was trained with (a file or builtin:<name>); None: the <stem>.dict.txt
    # beside it, else 0-9a-z for a 37-class head. Its characters keep their trained head columns.
    init_dict: str | None = None
    # a dictionary that merges or drops the checkpoint's classes (the bundle's 95 characters -> 0-9a-z):
    # "exact" keeps the checkpoint's columns and sums their probabilities per class (a folded head,
    # models/head.py: the start reads as the checkpoint does, but its .pdparams carry the columns and the fold,
    # which PaddleOCR's own CTCHead does not load; its exports run anywhere); "linear": one column per class,
    # fitted to the checkpoint's head on init_head_fit_images of the run's validation images (training images
    # without a validation set; 0: the summed columns as they are; training/head_fit.py), PaddleOCR's layout
    init_fold: Literal["exact", "linear"] = "exact"
    init_head_fit_images: NonNegInt = 512
    # WiSE-FT (training/wise.py): validate and keep as best start + wise_alpha * (trained - start), the
    # weights part of the way back to the init; None: the trained weights (1.0 is the same). Needs an init.
    wise_alpha: Annotated[float, Range(0, 1, lo_open=True)] | None = None
    # which weights the run hands on as `best` (what evaluate and export read): "best", those of the step with
    # the highest validation accuracy; "last", those of the final step (blended with wise_alpha), still
    # validated. "last" for a validation set too small to rank steps: a few dozen crops move a step's
    # accuracy by one word (README "After production")
    keep: Literal["best", "last"] = "best"

    def __post_init__(self) -> None:
        if self.init not in INIT_KEYWORDS and not self.init.endswith(".pdparams"):
            raise ValueError(f"init must be one of {list(INIT_KEYWORDS)} or a path to a .pdparams file, got "
                             f"{self.init!r}")
        if self.init_sha256 is not None and (self.init == "scratch" or not SHA256.fullmatch(self.init_sha256)):
            raise ValueError(f"init_sha256 must be 64 hex digits and needs an init other than 'scratch', got "
                             f"{self.init_sha256!r} with init {self.init!r}")
        if self.max_steps == 0 and self.init == "scratch":
            raise ValueError("max_steps 0 (no training: evaluate the initial weights) needs an init other "
                             "than 'scratch'")
        if self.wise_alpha is not None and self.init == "scratch":
            raise ValueError("wise_alpha blends the trained weights with the start's: it needs an init other "
                             "than 'scratch'")
        names = [a.name for a in self.augment]
        if len(set(names)) != len(names):
            raise ValueError(f"augment lists a transform twice: {names}")
        if self.processes < 1 or self.batch_size % self.processes:
            raise ValueError(f"processes must be >= 1 and divide batch_size {self.batch_size}, got {self.processes}")


@dataclass(frozen=True)
class TrainConfig:
    mobilenet_v3: RecipeConfig = field(default_factory=RecipeConfig)
    resnet34_vd: RecipeConfig = field(default_factory=RecipeConfig)

    def recipe(self, backbone: str) -> RecipeConfig:
        return getattr(self, backbone)
