"""INT8 quantization of the kit's trained MobileNetV3 and the gates that judge it."""

from dataclasses import replace

import numpy as np
import pytest

from textrec.charset import Charset
from textrec.config.pipeline import QuantizeConfig, QuantPlan
from textrec.ctc import ctc_greedy_decode
from textrec.export.images import sample_lmdb
from textrec.export.int8_check import BenchComparison, compare_results, evaluate_benches, gate_failures
from textrec.export.quantize import op_counts, quantize_model
from textrec.export.speed import Timing
from textrec.inference.engines import OnnxEngine

CS = Charset.from_file()


def _texts(engine, x):
    return [p.text for p in ctc_greedy_decode(engine(x), CS)]


def test_int8_is_smaller_quantized_and_reads_mostly_the_same(exported_mv3, kit_lmdb):
    fp32, int8 = exported_mv3 / "model.onnx", exported_mv3 / "model_int8.onnx"
    assert int8.stat().st_size < 0.5 * fp32.stat().st_size
    ops = op_counts(int8)
    assert ops.get("DynamicQuantizeLSTM") == 2 and "LSTM" not in ops  # LSTM quantized dynamically
    assert ops.get("QuantizeLinear", 0) > 0 and ops.get("DequantizeLinear", 0) > 0  # static QDQ pass
    import onnx

    meta = {p.key: p.value for p in onnx.load(str(int8)).metadata_props}
    assert meta["textrec.characters"] == "".join(CS.characters)
    x = sample_lmdb(kit_lmdb, 24, CS).images
    a, b = _texts(OnnxEngine(fp32, 1), x), _texts(OnnxEngine(int8, 1), x)
    assert sum(s == t for s, t in zip(a, b, strict=True)) >= 15  # the kit model is weak: small margins flip
    p, q = OnnxEngine(fp32, 1)(x), OnnxEngine(int8, 1)(x)
    assert (p.argmax(-1) == q.argmax(-1)).mean() >= 0.97


def test_static_pass_quantizes_convs(exported_mv3, kit_lmdb, tmp_path):
    calib = sample_lmdb(kit_lmdb, 24, CS).images
    plan = QuantPlan("conv_only", static_op_types=("Conv",), dynamic_op_types=(), static_format="qoperator")
    res = quantize_model(exported_mv3 / "model.onnx", tmp_path / "q.onnx", calib, plan)
    assert res.op_counts.get("QLinearConv", 0) > 0 and res.op_counts.get("Conv", 0) == 0
    assert res.op_counts.get("LSTM") == 2  # untouched without a dynamic pass
    out = OnnxEngine(res.path, 1)(calib[:3])
    assert out.shape == (3, 25, 37) and np.allclose(out.sum(-1), 1.0, atol=1e-3)


def test_quantize_rejects_impossible_plans(exported_mv3, tmp_path):
    with pytest.raises(ValueError, match="LSTM statically"):
        quantize_model(exported_mv3 / "model.onnx", tmp_path / "q.onnx", None, QuantPlan("x", ("LSTM",)))
    with pytest.raises(ValueError, match="Softmax"):
        quantize_model(exported_mv3 / "model.onnx", tmp_path / "q.onnx", None,
                       QuantPlan("x", ("Conv", "Softmax")))
    with pytest.raises(ValueError, match="calibration images"):
        quantize_model(exported_mv3 / "model.onnx", tmp_path / "q.onnx", None, QuantPlan("x"))
    assert not (tmp_path / "q.onnx").exists()


def test_accuracy_gate_on_real_evaluation(exported_mv3, kit_lmdb):
    fp32, int8 = OnnxEngine(exported_mv3 / "model.onnx", 1), OnnxEngine(exported_mv3 / "model_int8.onnx", 1)
    benches = compare_results(evaluate_benches(fp32, {"kit": kit_lmdb}, CS, batch_size=8),
                              evaluate_benches(int8, {"kit": kit_lmdb}, CS, batch_size=8))
    assert benches[0].count == 24 and 0.5 <= benches[0].same_prediction <= 1.0
    assert gate_failures(benches, [], QuantizeConfig(require_faster=False, max_accuracy_drop=1.0)) == []
    failures = gate_failures(benches, [], QuantizeConfig(require_faster=False, max_accuracy_drop=-0.01))
    assert len(failures) == 1 and failures[0].startswith("accuracy[kit]: INT8")


def test_speed_gate_names_the_failed_batch_size():
    t = [Timing("onnx_fp32", 1, 2.0, 1.9, 2.1, 3), Timing("onnx_int8", 1, 1.5, 1.4, 1.6, 3),
         Timing("onnx_fp32", 64, 1.0, 0.9, 1.1, 3), Timing("onnx_int8", 64, 1.2, 1.1, 1.3, 3)]
    bench = [BenchComparison("b", 10, 0.8, 0.8, 1.0, {})]
    cfg = QuantizeConfig()
    assert gate_failures(bench, t, cfg) == ["speed[batch 64]: INT8 1.200 ms/image is not faster than fp32 1.000"]
    assert gate_failures(bench, t, replace(cfg, require_faster=False)) == []


def test_first_plan_passing_the_gates_is_shipped(exported_mv3, kit_lmdb, tmp_path):
    import shutil

    from textrec.export.int8_check import quantize_with_gates

    shutil.copy(exported_mv3 / "model.onnx", tmp_path / "model.onnx")
    x = sample_lmdb(kit_lmdb, 24, CS).images
    plans = (QuantPlan("too_strict", static_op_types=()), QuantPlan("static"))
    cfg = QuantizeConfig(plans=plans, max_accuracy_drop=1.0, require_faster=False, timing_rounds=1)
    chosen, attempts = quantize_with_gates(tmp_path / "model.onnx", tmp_path / "model_int8.onnx", x,
                                           {"kit": kit_lmdb}, x[:4], CS, cfg, batch_size=12)
    assert chosen is attempts[0] and len(attempts) == 1 and chosen.plan.name == "too_strict"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx", "model_int8.onnx"]
    assert op_counts(tmp_path / "model_int8.onnx").get("DynamicQuantizeLSTM") == 2


def test_a_drop_of_exactly_the_limit_passes() -> None:
    """One image in 200 is a drop of 0.005 that floats make 0.005000000000000004: it is within a 0.5-point limit,
    two images are not."""
    cfg = QuantizeConfig(require_faster=False, max_accuracy_drop=0.005)
    one = BenchComparison("b", 200, 0.23, 0.225, 1.0, {})
    two = BenchComparison("b", 200, 0.23, 0.22, 1.0, {})
    assert gate_failures([one], [], cfg) == []
    assert len(gate_failures([two], [], cfg)) == 1
