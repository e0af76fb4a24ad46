from __future__ import annotations

from textrec.config import PromotionConfig
from textrec.tracking.gates import evaluate_gates

CFG = PromotionConfig(accuracy_tolerance=0.01, max_int8_drop=0.005, max_latency_ms=10.0)
GOOD = {"validation_success": 1.0, "avg_acc_int8": 0.80, "int8_drop_max": 0.002, "latency_ms_int8_b1": 4.0}


def _failed(challenger, production=None, precision="int8"):
    return [g.name for g in evaluate_gates(challenger, production, CFG, precision) if not g.passed]


def test_all_gates_pass_and_order_is_fixed():
    gates = evaluate_gates(GOOD, {"avg_acc_int8": 0.805}, CFG, "int8")
    assert [g.name for g in gates] == ["validation", "accuracy", "int8_drop", "latency"]
    assert all(g.passed for g in gates)
    assert "0.8000 vs production 0.8050" in str(gates[1])


def test_each_gate_fails_on_its_own():
    assert _failed(GOOD | {"validation_success": 0.0}) == ["validation"]
    assert _failed(GOOD, {"avg_acc_int8": 0.8101}) == ["accuracy"]
    assert _failed(GOOD | {"int8_drop_max": 0.0051}) == ["int8_drop"]
    assert _failed(GOOD | {"latency_ms_int8_b1": 10.01}) == ["latency"]


def test_boundaries_pass():
    assert _failed(GOOD | {"int8_drop_max": 0.005, "latency_ms_int8_b1": 10.0}, {"avg_acc_int8": 0.81}) == []


def test_missing_metrics_fail_their_gate():
    assert _failed({}) == ["validation", "accuracy", "int8_drop", "latency"]
    assert _failed(GOOD, {"other": 1.0}) == ["accuracy"]  # production run without the metric
    assert _failed(GOOD | {"latency_ms_int8_b1": float("nan")}) == ["latency"]


def test_precision_selects_the_metrics():
    fp32 = GOOD | {"avg_acc_fp32": 0.9, "latency_ms_fp32_b1": 50.0}
    assert _failed(fp32, {"avg_acc_fp32": 0.9}, precision="fp32") == ["latency"]
    assert _failed(fp32, {"avg_acc_int8": 0.9}, precision="int8") == ["accuracy"]
