"""The data stages' summaries: ``<reports>/prepare.json`` (what each LMDB was made from) and
``<reports>/validation.json`` (the data gate)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from textrec.artifacts._file import OMIT_NONE, Artifact
from textrec.artifacts.metrics import VALIDATION_SUCCESS
from textrec.config.pipeline import PathsConfig


@dataclass(frozen=True)
class ValidationSummary(Artifact):
    """The great-expectations gate over every LMDB (data/validate.py)."""

    STAGE = "validate"

    success: bool
    manifests: int
    failed: list[str]  # the datasets that failed
    datasets: dict[str, Any]  # name -> its report (data/validate.py: ManifestReport.to_dict)

    @staticmethod
    def path(paths: PathsConfig) -> Path:
        return paths.validation_report()

    def metrics(self) -> dict[str, float]:
        return {VALIDATION_SUCCESS: float(self.success)}


@dataclass(frozen=True)
class ConvertedLmdb:
    """One LMDB converted from files (data.source real or folder; data/convert.py: ConvertResult)."""

    samples: int  # records read
    written: int
    rejected: dict[str, int]  # by reason
    seconds: float
    images_per_second: float
    rejections: str  # the file listing every rejected record


@dataclass(frozen=True)
class RenderedSplit:
    """One LMDB the synthetic renderer wrote (data/synth/suite.py)."""

    path: str  # under paths.lmdb
    profile: str  # the render profile (or mix) of its images
    seed: int
    count: int
    seconds: float
    images_per_second: float
    mean_bytes: float


@dataclass(frozen=True)
class SynthSummary:
    processes: int
    image_format: str
    lexicon: str  # where the words came from
    fonts: dict[str, Any]  # the font inventory's counts (data/synth/font_scan.py: summarize)
    splits: dict[str, RenderedSplit]  # split or benchmark name -> its LMDB


@dataclass(frozen=True)
class PrepareSummary(Artifact):
    """The prepare stage: what each LMDB under paths.lmdb was made from."""

    STAGE = "prepare"

    source: Literal["synthetic", "real", "folder"]  # data.source
    converted: dict[str, ConvertedLmdb]  # LMDB path under paths.lmdb -> its conversion (real, folder)
    synthetic: SynthSummary | None = field(default=None, metadata=OMIT_NONE)  # what was rendered

    @staticmethod
    def path(paths: PathsConfig) -> Path:
        return paths.prepare_report()

    def training_images(self) -> tuple[list[str], int]:
        """(the LMDBs the train split is made of, their image count)."""
        if self.synthetic is not None and "train" in self.synthetic.splits:
            return ["train"], self.synthetic.splits["train"].count
        train = sorted(k for k in self.converted if k == "train" or k.startswith("train/"))
        return train, sum(self.converted[k].written for k in train)
