"""Paths and the post-training sections: evaluation, export, quantization, report, registry gates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


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
    parity_images: int = 32  # real images per benchmark LMDB for the parity check (spread over each file)


# ops kept in int8 between convs too (residual Add, SE Mul, pools, reshapes): fewer Q/DQ round trips
STATIC_OPS = ("Conv", "MatMul", "Add", "Mul", "Relu", "MaxPool", "AveragePool", "GlobalAveragePool", "Concat",
              "Reshape", "Transpose", "Squeeze", "Unsqueeze")


@dataclass(frozen=True)
class QuantPlan:
    """One way to quantize: a static pass over ``static_op_types`` (calibrated), then a dynamic pass over
    ``dynamic_op_types``; an empty list skips its pass. onnxruntime quantizes LSTM only dynamically."""

    name: str
    static_op_types: tuple[str, ...] = STATIC_OPS
    dynamic_op_types: tuple[str, ...] = ("LSTM",)
    static_format: Literal["qdq", "qoperator"] = "qdq"
    activation_type: Literal["uint8", "int8"] = "uint8"  # u8 activations x s8 weights: the fast x86 kernels
    per_channel: bool = True
    calibrate_method: Literal["minmax", "entropy", "percentile"] = "minmax"
    exclude_depthwise: bool = False  # keep grouped (depthwise) convs in fp32


@dataclass(frozen=True)
class QuantizeConfig:
    """INT8 ONNX. The plans are tried in order and the first whose model passes every gate is shipped.

    Measured (2 CPU cores, ms/image vs fp32 ONNX): the static plan is ~0.3x for ResNet34_vd and ~0.7-0.8x for
    MobileNetV3, but cost a fine-tuned MobileNetV3 0.3-0.8 accuracy points on real crops; dynamic LSTM alone
    kept accuracy within 0.05 points at ~0.8-0.9x. So: fastest first, the accurate one as fallback."""

    calibration_images: int = 256  # from the training LMDB
    calibration_batch_size: int = 32
    plans: tuple[QuantPlan, ...] = (QuantPlan("static_u8_dynamic_lstm"),
                                    QuantPlan("dynamic_lstm", static_op_types=()))
    max_accuracy_drop: float = 0.005  # per benchmark, as a fraction (0.5 point)
    require_faster: bool = True  # INT8 ms/image below fp32 at batch 1 and batch 64
    timing_rounds: int = 7  # interleaved rounds; the median counts
    timing_threads: int = 1  # 1 thread: the INT8/fp32 ratio is far less noisy on shared cores than at 2


@dataclass(frozen=True)
class PromotionConfig:
    model_name: str = "crnn-text-recognizer"
    serve_precision: Literal["fp32", "int8"] = "int8"  # which exported ONNX the registered model runs
    accuracy_tolerance: float = 0.005  # challenger may be this much below production (average accuracy)
    max_int8_drop: float = 0.005  # largest per-benchmark fp32 - int8 accuracy drop
    max_latency_ms: float = 50.0  # batch-1 latency budget of the served precision
    # limits of the served model; a request above them gets HTTP 400
    max_image_bytes: int = 10_000_000
    max_image_pixels: int = 16_000_000
    max_images_per_request: int = 256
    allow_file_paths: bool = True  # accept server-side paths as input (the server listens on 127.0.0.1)


@dataclass(frozen=True)
class TrackingConfig:
    experiment: str = "textrec"
    tracking_uri: str = "sqlite:///mlflow.db"  # relative to the project root; MLFLOW_TRACKING_URI wins
    artifact_root: str = "mlartifacts"  # artifacts of the local store, relative to the project root
