"""The validate stage's summary: ``<reports>/validation.json``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textrec.artifacts._file import Artifact
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
