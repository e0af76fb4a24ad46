"""Paddle inference model -> ONNX (opset 17) with dynamic batch and width, via paddle2onnx.

The graph is ``x`` [N, 3, 32, W] float32 -> ``probs`` [N, W/4, num_classes]. The charset and backbone are
written into the model's metadata so that a served ONNX file carries its own decoding table.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from textrec.export.paddle_export import inference_files

OUTPUT_NAME = "probs"


def export_onnx(inference_dir: str | Path, onnx_path: str | Path, opset: int = 17,
                metadata: Mapping[str, str] | None = None) -> Path:
    """Convert ``inference_dir/inference.{json,pdiparams}`` to ``onnx_path`` (written atomically)."""
    import onnx
    import paddle2onnx

    model_file, params_file = inference_files(inference_dir)
    for f in (model_file, params_file):
        if not f.is_file():
            raise FileNotFoundError(f"{f} not found (export the Paddle inference model first)")
    out = Path(onnx_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        paddle2onnx.export(str(model_file), str(params_file), save_file=str(tmp), opset_version=opset,
                           auto_upgrade_opset=False, enable_onnx_checker=True)
        model = onnx.load(str(tmp))
        _check_dynamic(model, out)
        _rename_output(model, OUTPUT_NAME)
        for k, v in (metadata or {}).items():
            entry = model.metadata_props.add()
            entry.key, entry.value = k, v
        onnx.checker.check_model(model)
        onnx.save(model, str(tmp))
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def _check_dynamic(model, name: Path) -> None:  # model: onnx.ModelProto
    """Batch (dim 0) and width (dim 3) of the input must be symbolic, or the exported model is unusable."""
    if len(model.graph.input) != 1:
        raise RuntimeError(f"{name}: expected one graph input, got {[i.name for i in model.graph.input]}")
    dims = model.graph.input[0].type.tensor_type.shape.dim
    fixed = [i for i in (0, 3) if dims[i].HasField("dim_value")]
    if len(dims) != 4 or fixed:
        raise RuntimeError(f"{name}: input dims {[d.dim_value or d.dim_param for d in dims]} are not "
                           "[N, 3, 32, W] with dynamic N and W")


def _rename_output(model, new: str) -> None:  # model: onnx.ModelProto
    """paddle2onnx calls the output ``fetch_name_0``; give it a name that says what it is."""
    old = model.graph.output[0].name
    if old == new:
        return
    for node in model.graph.node:
        node.output[:] = [new if o == old else o for o in node.output]
        node.input[:] = [new if i == old else i for i in node.input]
    model.graph.output[0].name = new
