"""Paths and the post-training sections: evaluation, export, quantization, report, registry gates."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PathsConfig:
    """Every file and directory that one stage writes and another reads. Written once, here."""

    raw: str = "data/raw"  # downloads (real datasets)
    lmdb: str = "data/lmdb"  # {train,val}/ and bench/<name>/ LMDBs
    manifests: str = "data/manifests"
    models: str = "models"  # models/<backbone>/{best,latest}.pdparams
    exported: str = "exported"  # exported/<backbone>/{inference.json,model.onnx,model_int8.onnx}
    reports: str = "reports"


@dataclass(frozen=True)
class EvalConfig:
    benchmarks: tuple[str, ...] = ("IIIT5K", "SVT", "IC03", "IC13", "IC15", "SVTP", "CUTE80")
    batch_size: int = 64
    gallery_size: int = 8  # worst examples kept per benchmark for the report


@dataclass(frozen=True)
class ExportConfig:
    opset: int = 17
    parity_atol: float = 1e-4  # ONNX vs Paddle on real images; the stage fails above this


@dataclass(frozen=True)
class QuantizeConfig:
    calibration_images: int = 256
    max_accuracy_drop: float = 0.005  # per benchmark, as a fraction (0.5 point)
    require_faster: bool = True


@dataclass(frozen=True)
class PromotionConfig:
    model_name: str = "crnn-text-recognizer"
    accuracy_tolerance: float = 0.005  # challenger may be this much below production
    max_int8_drop: float = 0.005
    max_latency_ms: float = 50.0  # batch-1 INT8 latency budget


@dataclass(frozen=True)
class TrackingConfig:
    experiment: str = "textrec"
    tracking_uri: str = "sqlite:///mlflow.db"  # relative to the project root; MLFLOW_TRACKING_URI wins
    artifact_root: str = "mlartifacts"
