"""Three ways to run a trained recognizer, one interface: ``engine(x [N,3,32,100]) -> probs [N,T,C]``.

- a ``.pdparams`` checkpoint (ours or PaddleOCR's), run eagerly in paddle;
- an exported inference model directory (``inference.json`` + ``inference.pdiparams``), run by the
  Paddle Inference predictor;
- an ``.onnx`` file, run by ONNX Runtime on the CPU.
All three receive the output of ``textrec.preprocess`` and return softmax probabilities.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

EngineKind = Literal["paddle", "paddle_inference", "onnx"]


class Engine(Protocol):
    """The one engine interface, used by evaluation, export (parity, speed) and prediction: preprocessed
    images [N, 3, 32, W] float32 -> softmax probabilities [N, W/4, num_classes]. The engines below satisfy
    it, and so does any function of that signature (a test's stub, a wrapper)."""

    def __call__(self, x: np.ndarray) -> np.ndarray: ...


def _threads(threads: int | None) -> int:
    return threads or os.cpu_count() or 1


@dataclass
class PaddleEngine:
    """Eager paddle model from a checkpoint; backbone detected from the checkpoint's keys when not given."""

    path: Path
    num_classes: int
    backbone: str | None = None
    kind: EngineKind = "paddle"

    def __post_init__(self) -> None:
        import paddle

        from textrec.models.crnn import load_model

        paddle.set_device("cpu")
        self.model = load_model(self.path, self.num_classes, self.backbone)  # type: ignore[arg-type]
        self.backbone = self.model.backbone_name

    def __call__(self, x: np.ndarray) -> np.ndarray:
        import paddle

        with paddle.no_grad():
            return self.model(paddle.to_tensor(x)).numpy()


@dataclass
class PaddleInferenceEngine:
    """Paddle Inference predictor on an exported PIR model: CPU, oneDNN, IR optimisation (as PaddleOCR's
    predict_rec.py configures it). ``onednn=False`` runs paddle's plain CPU kernels instead."""

    model_dir: Path
    threads: int | None = None
    onednn: bool = True
    kind: EngineKind = "paddle_inference"

    def __post_init__(self) -> None:
        from paddle import inference

        model_dir = Path(self.model_dir)
        cfg = inference.Config(str(model_dir / "inference.json"), str(model_dir / "inference.pdiparams"))
        cfg.disable_gpu()
        if self.onednn:
            cfg.enable_onednn()
            cfg.set_onednn_cache_capacity(10)  # primitives cached per input shape; widths vary between calls
        cfg.set_cpu_math_library_num_threads(_threads(self.threads))
        cfg.switch_ir_optim(True)
        cfg.enable_memory_optim()
        cfg.enable_new_ir()  # PIR program (inference.json) and executor
        cfg.enable_new_executor()
        cfg.disable_glog_info()
        self.predictor = inference.create_predictor(cfg)
        self._in = self.predictor.get_input_handle(self.predictor.get_input_names()[0])
        self._out = self.predictor.get_output_handle(self.predictor.get_output_names()[0])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        self._in.reshape(list(x.shape))
        self._in.copy_from_cpu(np.ascontiguousarray(x, dtype=np.float32))
        self.predictor.run()
        return self._out.copy_to_cpu()


OrtOptLevel = Literal["disable", "basic", "extended", "layout", "all"]


@dataclass
class OnnxEngine:
    """ONNX Runtime CPU session. ``optimization="all"`` lets ORT fuse BatchNorm/activations into Conv and use
    its blocked (NCHWc) conv kernels (~1.5x faster than "extended" here). Worker threads do not busy-wait
    (``spin=False``): on cores shared with other processes spinning cost up to 1.5x at 2 threads, and it
    gained nothing measurable at 1 thread."""

    path: Path
    threads: int | None = None
    optimization: OrtOptLevel = "all"
    spin: bool = False
    kind: EngineKind = "onnx"

    def __post_init__(self) -> None:
        import onnxruntime as ort

        level = {"disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
                 "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
                 "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
                 "layout": ort.GraphOptimizationLevel.ORT_ENABLE_LAYOUT,
                 "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}[self.optimization]
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = _threads(self.threads)
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = level
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if self.spin else "0")
        opts.log_severity_level = 3  # errors only
        self.session = ort.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])
        self._input = self.session.get_inputs()[0].name
        # what the export wrote beside the graph (textrec.characters, textrec.backbone, ...; empty for others')
        self.metadata: dict[str, str] = dict(self.session.get_modelmeta().custom_metadata_map)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self._input: np.ascontiguousarray(x, dtype=np.float32)})[0]


def load_engine(model: str | Path, num_classes: int, backbone: str | None = None,
                threads: int | None = None) -> Engine:
    """Pick the engine from what ``model`` is: ``.pdparams`` file, inference directory or ``.onnx`` file."""
    p = Path(model)
    if p.is_dir():
        if (p / "inference.json").exists():
            return PaddleInferenceEngine(p, threads)
        raise FileNotFoundError(f"{p}: a model directory must contain inference.json + inference.pdiparams "
                                "(export one with `textrec export`)")
    if not p.exists():
        raise FileNotFoundError(f"model not found: {p}")
    if p.suffix == ".onnx":
        return OnnxEngine(p, threads)
    if p.suffix == ".pdparams":
        return PaddleEngine(p, num_classes, backbone)
    raise ValueError(f"{p}: unknown model type (expected a .pdparams checkpoint, an inference directory or .onnx)")
