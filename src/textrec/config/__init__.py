"""Typed, frozen configuration: the only reader of params.yaml.

    params = load_params()                  # params.yaml in the current directory
    params.train.recipe("mobilenet_v3").lr  # typed access; unknown keys were rejected at load time
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from textrec.config._build import ConfigError, build, flatten, to_dict
from textrec.config.calibration import CalibrationConfig
from textrec.config.data import (
    DataConfig,
    DatasetSource,
    FolderDataConfig,
    OwnSet,
    RealDataConfig,
    SynthConfig,
    ValidationConfig,
)
from textrec.config.model import BACKBONES, BackboneName, CharsetConfig, ModelConfig
from textrec.config.monitoring import MonitoringConfig, PredictionLogConfig
from textrec.config.pipeline import (
    EvalConfig,
    ExportConfig,
    PathsConfig,
    PromotionConfig,
    QuantizeConfig,
    TrackingConfig,
)
from textrec.config.train import (
    CurriculumConfig,
    OptimizerConfig,
    RecipeConfig,
    ScheduleConfig,
    TrainConfig,
)

ProfileName = Literal["demo", "tiny", "paper", "reproduce", "pretrain", "finetune"]  # profiles/<name>.yaml
PROFILES: tuple[ProfileName, ...] = get_args(ProfileName)
Profile = Literal[ProfileName, "custom"]  # params.yaml's `profile`: custom when not switched from one


@dataclass(frozen=True)
class Params:
    profile: Profile = "custom"
    paths: PathsConfig = field(default_factory=PathsConfig)
    charset: CharsetConfig = field(default_factory=CharsetConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    quantize: QuantizeConfig = field(default_factory=QuantizeConfig)
    promotion: PromotionConfig = field(default_factory=PromotionConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    monitoring: MonitoringConfig = field(default_factory=MonitoringConfig)
    calibration: CalibrationConfig = field(default_factory=CalibrationConfig)

    def __post_init__(self) -> None:
        if self.data.source != "folder":
            return
        own = [t.name for t in self.data.folder.test]
        if missing := [n for n in own if n not in self.eval.benchmarks]:
            raise ValueError(f"data.folder.test sets {missing} are not in eval.benchmarks: list them there")
        if other := [b for b in self.eval.benchmarks if b not in own and not b.startswith("synth_")]:
            raise ValueError(f"eval.benchmarks {other} are neither data.folder.test sets nor synthetic "
                             "benchmarks (synth_*)")

    def own_benchmarks(self) -> tuple[str, ...]:
        """The benchmarks that are your own test sets (data.source folder), in eval.benchmarks order; () for the
        other sources. With own test sets, the rest of eval.benchmarks is the synthetic suite (what a fine-tune
        forgets): promotion ranks by the own ones and reports the rest as forgetting."""
        if self.data.source != "folder":
            return ()
        own = {t.name for t in self.data.folder.test}
        return tuple(b for b in self.eval.benchmarks if b in own)


def parse_params(data: dict[str, Any]) -> Params:
    return build(Params, data, "params")


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and check a params file: ``1e-3`` is a float, a repeated key is refused (``_yaml``)."""
    from textrec.config._yaml import load_params_yaml

    p = Path(path)
    if not p.exists():
        raise ConfigError(f"{p}: not found (run from the project root, or pick a profile: textrec profile demo)")
    try:
        return parse_params(load_params_yaml(p) or {})
    except ConfigError as e:
        raise ConfigError(f"{p}: {e}") from None


__all__ = [
    "BACKBONES", "PROFILES", "BackboneName", "CharsetConfig", "ConfigError", "CurriculumConfig", "DataConfig",
    "DatasetSource", "EvalConfig", "ExportConfig", "FolderDataConfig", "ModelConfig", "OptimizerConfig", "OwnSet",
    "Params", "PathsConfig",
    "PromotionConfig", "QuantizeConfig", "RealDataConfig", "RecipeConfig", "ScheduleConfig", "SynthConfig",
    "TrackingConfig", "TrainConfig", "ValidationConfig", "build", "flatten", "load_params", "parse_params",
    "to_dict",
    "MonitoringConfig", "PredictionLogConfig", "CalibrationConfig",
]
