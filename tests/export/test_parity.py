"""Exported models (Paddle inference + ONNX) reproduce the eager checkpoint on real images."""

import json
import re

import numpy as np
import pytest

from textrec.charset import Charset
from textrec.export.images import sample_lmdb
from textrec.export.parity import compare, parity_inputs
from textrec.inference.engines import OnnxEngine, PaddleEngine, PaddleInferenceEngine


@pytest.fixture(scope="module")
def kit_images(kit_lmdb):
    return sample_lmdb(kit_lmdb, 24, Charset.from_file()).images  # [24, 3, 32, 100]


@pytest.fixture(scope="module")
def eager(mv3_checkpoint):
    return PaddleEngine(mv3_checkpoint, 37, "mobilenet_v3")


def test_cli_writes_bundle_and_parity_report(exported_mv3):
    for name in ("inference.json", "inference.pdiparams", "model.onnx", "model_int8.onnx", "parity.json"):
        assert (exported_mv3 / name).is_file(), name
    report = json.loads((exported_mv3 / "parity.json").read_text())
    assert report["images"] == {"images": 24, "rejected": {}}
    assert {r["candidate"] for r in report["reports"]} == {"paddle_inference", "onnx"}
    assert all(r["passed"] and r["max_abs_diff"] <= 1e-4 for r in report["reports"])


@pytest.mark.parametrize("batch, width", [(1, 100), (7, 100), (1, 200), (7, 200)])
def test_onnx_matches_paddle_with_dynamic_batch_and_width(exported_mv3, eager, kit_images, batch, width):
    x = kit_images[:batch] if width == 100 else np.concatenate([kit_images[:batch], kit_images[1:batch + 1]], 3)
    ref = eager(x)
    out = OnnxEngine(exported_mv3 / "model.onnx", threads=1)(x)
    assert out.shape == ref.shape == (batch, width // 4, 37)
    assert np.abs(out - ref).max() <= 1e-4
    assert (out.argmax(-1) == ref.argmax(-1)).mean() == 1.0


def test_paddle_inference_matches_eager(exported_mv3, eager, kit_images, parity_kit):
    out = PaddleInferenceEngine(exported_mv3, threads=1)(kit_images)
    assert np.abs(out - eager(kit_images)).max() <= 1e-5
    # and both reproduce PaddleOCR's own outputs for the kit batch
    assert np.abs(out - np.load(parity_kit / "outputs_mv3.npy")).max() <= 1e-5


def test_parity_cases_cover_dynamic_axes(kit_images):
    cases = parity_inputs(kit_images)
    shapes = {name: [b.shape for b in batches] for name, batches in cases.items()}
    assert shapes == {"batch1": [(1, 3, 32, 100)], "batch7": [(7, 3, 32, 100)], "batch24": [(24, 3, 32, 100)],
                      "batch7_width200": [(7, 3, 32, 200)]}


def test_tampered_onnx_fails_parity(exported_mv3, eager, kit_images, tmp_path):
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(exported_mv3 / "model.onnx"))
    # paddle2onnx stores the weights as Constant nodes; take the first conv weight [out, in, kh, kw]
    const = next(a.t for n in model.graph.node if n.op_type == "Constant" for a in n.attribute
                 if a.name == "value" and len(a.t.dims) == 4)
    w = numpy_helper.to_array(const).copy()
    w.flat[0] += 0.5  # one weight of one filter
    const.CopyFrom(numpy_helper.from_array(w, const.name))
    bad = tmp_path / "tampered.onnx"
    onnx.save(model, str(bad))

    report = compare(eager, OnnxEngine(bad, threads=1), kit_images, atol=1e-4)
    assert not report.passed and report.max_abs_diff > 1e-4
    assert re.fullmatch(r"onnx vs paddle: max abs diff .* EXCEEDS tolerance 0.0001.*", report.message())
    # the untouched model passes the same check
    assert compare(eager, OnnxEngine(exported_mv3 / "model.onnx", threads=1), kit_images, 1e-4).passed


def test_onnx_metadata_carries_charset(exported_mv3):
    import onnx

    meta = {p.key: p.value for p in onnx.load(str(exported_mv3 / "model.onnx")).metadata_props}
    assert meta["textrec.characters"] == "0123456789abcdefghijklmnopqrstuvwxyz"
    assert meta["textrec.backbone"] == "mobilenet_v3"
