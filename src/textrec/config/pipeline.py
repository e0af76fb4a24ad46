"""Paths and the post-training sections: evaluation, export, quantization, report, registry gates."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from textrec.config._build import Fraction, NonNegInt, PosFloat, PosInt, Range

# the files of an exported model directory (export/bundle.py writes them, the engines read them)
INFERENCE_PREFIX = "inference"  # Paddle inference model: inference.json + inference.pdiparams
ONNX_NAME = "model.onnx"
INT8_NAME = "model_int8.onnx"
CALIBRATION_NAME = "calibration.json"  # = textrec.calibration.FILE_NAME, where the Recognizer looks (a test)
# the seven standard benchmarks of the DTRB protocol, the ones PaddleOCR's published CRNN means average over
STANDARD_BENCHMARKS = ("IIIT5K", "SVT", "IC03", "IC13", "IC15", "SVTP", "CUTE80")


@dataclass(frozen=True)
class PathsConfig:
    """Every file and directory that one stage writes and another reads. Written once, here."""

    raw: str = "data/raw"  # downloads (real datasets)
    # archives being downloaded (.part) or kept: outside every DVC output, which DVC deletes before a stage
    # runs, so an interrupted download resumes on the next `dvc repro`; git- and dvc-ignored
    downloads: str = ".cache/downloads"
    lmdb: str = "data/lmdb"  # {train,val}/ and bench/<name>/ LMDBs
    manifests: str = "data/manifests"
    models: str = "models"  # models/<backbone>/{best,latest}.pdparams
    exported: str = "exported"  # exported/<backbone>/{inference.json,model.onnx,model_int8.onnx}
    reports: str = "reports"

    # Every stage output by name: the stages write these, the report and tracking read them, and dvc.yaml
    # spells the same paths with ${paths.*} (tests/pipeline/test_stage_outs.py keeps the two equal).
    def split_lmdb(self, split: Literal["train", "val"]) -> Path:
        return Path(self.lmdb) / split

    def bench_lmdb(self, bench: str = "") -> Path:
        """One benchmark's LMDB; without a name, the directory of all of them."""
        return Path(self.lmdb) / "bench" / bench

    def prepare_report(self) -> Path:
        return Path(self.reports) / "prepare.json"

    def validation_report(self) -> Path:
        return Path(self.reports) / "validation.json"

    def data_docs(self) -> Path:
        return Path(self.reports) / "data_docs"

    def model_dir(self, backbone: str) -> Path:
        return Path(self.models) / backbone

    def checkpoint(self, backbone: str, which: Literal["best", "latest"] = "best") -> Path:
        return self.model_dir(backbone) / f"{which}.pdparams"

    def train_reports(self, backbone: str) -> Path:
        return Path(self.reports) / "train" / backbone

    def train_log(self, backbone: str) -> Path:
        return self.train_reports(backbone) / "train_log.csv"

    def train_summary(self, backbone: str) -> Path:
        return self.train_reports(backbone) / "train.json"

    def rejections(self, backbone: str, split: Literal["train", "val"]) -> Path:
        return self.train_reports(backbone) / f"data_{split}.json"

    def eval_report(self, backbone: str, bench: str) -> Path:
        return Path(self.reports) / "eval" / backbone / f"{bench}.json"

    def export_dir(self, backbone: str) -> Path:
        return Path(self.exported) / backbone

    def inference_model(self, backbone: str) -> tuple[Path, Path]:
        """(program, weights) of the Paddle inference model."""
        d = self.export_dir(backbone)
        return d / f"{INFERENCE_PREFIX}.json", d / f"{INFERENCE_PREFIX}.pdiparams"

    def onnx_model(self, backbone: str, precision: Literal["fp32", "int8"] = "fp32") -> Path:
        return self.export_dir(backbone) / (ONNX_NAME if precision == "fp32" else INT8_NAME)

    def calibration(self, backbone: str) -> Path:
        """The model's calibration (calibrate stage), beside its exported files: the Recognizer finds it there
        for model.onnx, model_int8.onnx and the inference directory alike."""
        return self.export_dir(backbone) / CALIBRATION_NAME

    def calibration_report(self, backbone: str) -> Path:
        return Path(self.reports) / "calibration" / f"{backbone}.json"

    def export_report(self, backbone: str) -> Path:
        return Path(self.reports) / "export" / f"{backbone}.json"

    def quantize_report(self, backbone: str) -> Path:
        return Path(self.reports) / "quantize" / f"{backbone}.json"

    def plots_dir(self, backbone: str) -> Path:
        """Optional extra figures of one backbone (tracking logs every file in it)."""
        return Path(self.reports) / "plots" / backbone

    def report_html(self) -> Path:
        return Path(self.reports) / "report.html"

    def summary_md(self) -> Path:
        return Path(self.reports) / "summary.md"

    def accuracy_csv(self) -> Path:
        return Path(self.reports) / "accuracy.csv"

    def headline_metrics(self) -> Path:
        """The few numbers DVC compares across experiments (the only file under dvc.yaml's `metrics:`)."""
        return Path(self.reports) / "metrics.json"


@dataclass(frozen=True)
class EvalConfig:
    benchmarks: tuple[str, ...] = STANDARD_BENCHMARKS
    batch_size: PosInt = 64
    gallery_size: NonNegInt = 8  # worst examples kept per benchmark for the report


@dataclass(frozen=True)
class ExportConfig:
    # paddle2onnx exports opsets 7..21; the per-channel INT8 plans (quantize.plans) need 13 or above
    opset: Annotated[int, Range(13, 21)] = 17
    parity_atol: PosFloat = 1e-4  # ONNX vs Paddle on real images; the stage fails above this
    parity_images: PosInt = 32  # real images per benchmark LMDB for the parity check (spread over each file)


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

    calibration_images: PosInt = 256  # from the training LMDB
    calibration_batch_size: PosInt = 32
    plans: tuple[QuantPlan, ...] = (QuantPlan("static_u8_dynamic_lstm"),
                                    QuantPlan("dynamic_lstm", static_op_types=()))
    max_accuracy_drop: Fraction = 0.005  # per benchmark, as a fraction (0.5 point)
    require_faster: bool = True  # INT8 ms/image below fp32 at every timing batch size
    # ms/image is timed at each batch size, on max(sizes) images per round (the promotion gate reads batch 1)
    timing_batch_sizes: tuple[PosInt, ...] = (1, 64)
    timing_rounds: PosInt = 7  # interleaved rounds; the median counts
    timing_threads: PosInt = 1  # 1 thread: the INT8/fp32 ratio is far less noisy on shared cores than at 2

    def __post_init__(self) -> None:
        if 1 not in self.timing_batch_sizes:
            raise ValueError(f"timing_batch_sizes {list(self.timing_batch_sizes)} must include 1: the promotion "
                             "gate reads the batch-1 latency")


@dataclass(frozen=True)
class PromotionConfig:
    model_name: str = "crnn-text-recognizer"
    serve_precision: Literal["fp32", "int8"] = "int8"  # which exported ONNX the registered model runs
    # challenger may be this much below production in mean accuracy: over your own test sets when the run has
    # them, else over every benchmark (tracking/files.py: ranking_key)
    accuracy_tolerance: Fraction = 0.005
    max_int8_drop: Fraction = 0.005  # largest per-benchmark fp32 - int8 accuracy drop
    max_latency_ms: PosFloat = 50.0  # batch-1 latency budget of the served precision
    # runs with your own test sets (data.source folder): the largest fall of the synthetic suite's mean accuracy
    # from the start checkpoint to the trained one (metric `forgetting`); null: reported, not gated
    max_forgetting: Fraction | None = None
    # limits of the served model; a request above them gets HTTP 400
    max_image_bytes: PosInt = 10_000_000
    max_image_pixels: PosInt = 16_000_000
    max_images_per_request: PosInt = 256
    # `textrec serve` refuses a larger request body with HTTP 413 before reading it: one image at
    # max_image_bytes is ~4/3 of that in base64, plus the JSON around it
    max_request_bytes: PosInt = 20_000_000
    # (no key for file paths: the registered model never reads them; see tracking/recognizer.py)


@dataclass(frozen=True)
class TrackingConfig:
    experiment: str = "textrec"
    tracking_uri: str = "sqlite:///mlflow.db"  # relative to the project root; MLFLOW_TRACKING_URI wins
    artifact_root: str = "mlartifacts"  # artifacts of the local store, relative to the project root
    # the train stage logs its curves to an MLflow run as it trains (`textrec track` then adds the rest to that
    # run); false, or a store that cannot be reached, and training runs without it (and says so)
    live: bool = True
