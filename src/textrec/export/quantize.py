"""INT8 ONNX with onnxruntime's quantization, chosen per operator type (a ``QuantPlan``).

ONNX Runtime quantizes ``LSTM`` only dynamically (-> ``DynamicQuantizeLSTM``), and dynamic ``Conv``
(``ConvInteger``) is several times slower than fp32 on CPU, while static quantization speeds the convs up but
leaves ``LSTM`` in fp32. So quantization runs in up to two passes over the fp32 model:

1. static, calibrated on training crops: ``plan.static_op_types`` (convs, and the ops between them so that
   activations stay int8) in QDQ or QOperator format; uint8 activations x int8 weights use the fast
   (VNNI) kernels on x86, int8 x int8 was ~1.7x slower;
2. dynamic: ``plan.dynamic_op_types`` (LSTM) of the result of pass 1.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from textrec.config.pipeline import QuantPlan


@dataclass(frozen=True)
class QuantizeResult:
    path: Path
    fp32_bytes: int
    int8_bytes: int
    op_counts: dict[str, int]  # op type -> count in the quantized graph


class _Batches:
    """onnxruntime CalibrationDataReader over [N, 3, 32, W] calibration images, in batches."""

    def __init__(self, input_name: str, images: np.ndarray, batch_size: int) -> None:
        self._input_name = input_name
        self._images = images
        self._batch_size = batch_size
        self._it = self._gen()

    def _gen(self) -> Iterator[dict[str, np.ndarray]]:
        for i in range(0, len(self._images), self._batch_size):
            yield {self._input_name: np.ascontiguousarray(self._images[i:i + self._batch_size], np.float32)}

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)

    def rewind(self) -> None:
        self._it = self._gen()


def _reader(input_name: str, images: np.ndarray, batch_size: int):  # -> CalibrationDataReader
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(_Batches, CalibrationDataReader):
        pass

    return Reader(input_name, images, batch_size)


def op_counts(path: str | Path) -> dict[str, int]:
    import onnx

    counts: dict[str, int] = {}
    for node in onnx.load(str(path)).graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return dict(sorted(counts.items()))


def depthwise_convs(graph) -> list[str]:  # graph: onnx.GraphProto
    """Names of the grouped (depthwise) Conv nodes."""
    return [n.name for n in graph.node if n.op_type == "Conv"
            and any(a.name == "group" and a.i > 1 for a in n.attribute)]


def _copy_metadata(src, dst) -> None:  # onnx.ModelProto x2
    """Keep the fp32 model's metadata (charset, backbone) on the quantized one."""
    have = {p.key for p in dst.metadata_props}
    for p in src.metadata_props:
        if p.key not in have:
            dst.metadata_props.add().CopyFrom(p)


def quantize_model(fp32: str | Path, out: str | Path, calibration: np.ndarray | None, plan: QuantPlan,
                   calibration_batch_size: int = 32) -> QuantizeResult:
    """fp32 ONNX -> INT8 ONNX at ``out``. ``calibration`` [N, 3, 32, W] is needed when a static pass runs."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    fp32, out = Path(fp32), Path(out)
    if not plan.static_op_types and not plan.dynamic_op_types:
        raise ValueError("quantize: both static_op_types and dynamic_op_types are empty; nothing to quantize")
    if "LSTM" in plan.static_op_types:
        raise ValueError("quantize: onnxruntime cannot quantize LSTM statically; put it in dynamic_op_types")
    if "Softmax" in plan.static_op_types:
        raise ValueError("quantize: Softmax gives the output probabilities; 8-bit steps would ruin "
                         "the confidences")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="textrec-quant-") as tmp:
        pre = Path(tmp) / "pre.onnx"
        # shape inference + ORT basic optimisations: BatchNorm folded into Conv, so folded weights get quantized
        quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)
        current = pre
        if plan.static_op_types:
            if calibration is None or len(calibration) == 0:
                raise ValueError("quantize: static quantization needs calibration images")
            graph = onnx.load(str(pre)).graph
            input_name = graph.input[0].name
            exclude = depthwise_convs(graph) if plan.exclude_depthwise else []
            static_out = Path(tmp) / "static.onnx"
            quantize_static(
                str(current), str(static_out), _reader(input_name, calibration, calibration_batch_size),
                quant_format=QuantFormat.QDQ if plan.static_format == "qdq" else QuantFormat.QOperator,
                op_types_to_quantize=list(plan.static_op_types), nodes_to_exclude=exclude,
                per_channel=plan.per_channel,
                activation_type=QuantType.QUInt8 if plan.activation_type == "uint8" else QuantType.QInt8,
                weight_type=QuantType.QInt8,
                calibrate_method={"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
                                  "percentile": CalibrationMethod.Percentile}[plan.calibrate_method],
                extra_options={"ActivationSymmetric": False, "WeightSymmetric": True})
            current = static_out
        if plan.dynamic_op_types:
            dyn_out = Path(tmp) / "dynamic.onnx"
            quantize_dynamic(str(current), str(dyn_out), op_types_to_quantize=list(plan.dynamic_op_types),
                             per_channel=plan.per_channel, weight_type=QuantType.QInt8)
            current = dyn_out
        model = onnx.load(str(current))
        _copy_metadata(onnx.load(str(fp32), load_external_data=False), model)
        onnx.checker.check_model(model)
        tmp_out = out.with_name(f".{out.name}.tmp-{os.getpid()}")
        onnx.save(model, str(tmp_out))
        os.replace(tmp_out, out)  # readers never see a half-written model
    return QuantizeResult(out, fp32.stat().st_size, out.stat().st_size, op_counts(out))
