from __future__ import annotations

import dataclasses

import pytest

from textrec.artifacts.metrics import FORGETTING, avg_acc_key
from textrec.config import ConfigError, PromotionConfig, parse_params
from textrec.tracking.gates import evaluate_gates

CFG = PromotionConfig(accuracy_tolerance=0.01, max_int8_drop=0.005, max_latency_ms=10.0)
GOOD = {"validation_success": 1.0, "avg_acc_int8": 0.80, "int8_drop_max": 0.002, "latency_ms_int8_b1": 4.0}


def _failed(challenger, production=None, precision="int8", cfg=CFG):
    return [g.name for g in evaluate_gates(challenger, production, cfg, precision) if not g.passed]


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


OWN, ALL = avg_acc_key("int8", own=True), avg_acc_key("int8")
# a fine-tune: much better on your own test sets, worse on the whole suite (it forgot synthetic styles)
FINETUNE = GOOD | {OWN: 0.90, ALL: 0.60, FORGETTING: 0.12}


def test_with_own_test_sets_the_accuracy_gate_compares_their_mean():
    gates = evaluate_gates(FINETUNE, {OWN: 0.85, ALL: 0.80}, CFG, "int8")
    assert all(g.passed for g in gates), gates
    assert f"{OWN}=0.9000 vs production 0.8500" in str(gates[1])
    # better on the whole suite, worse on your data: refused
    assert _failed(FINETUNE | {OWN: 0.80, ALL: 0.95}, {OWN: 0.85, ALL: 0.60}) == ["accuracy"]
    # a production run tracked without the own mean is not compared on another number
    gates = evaluate_gates(FINETUNE, {ALL: 0.50}, CFG, "int8")
    assert [g.name for g in gates if not g.passed] == ["accuracy"] and f"production run has no {OWN}" in str(gates[1])


def test_forgetting_is_gated_with_its_own_limit_only_when_set():
    assert FORGETTING not in [g.name for g in evaluate_gates(FINETUNE, None, CFG, "int8")]  # null: not gated
    limit = dataclasses.replace(CFG, max_forgetting=0.10)
    gates = evaluate_gates(FINETUNE, None, limit, "int8")
    assert [g.name for g in gates] == ["validation", "accuracy", "int8_drop", "latency", "forgetting"]
    assert [g.name for g in gates if not g.passed] == ["forgetting"]
    assert "synthetic suite -12.0 points since the start checkpoint" in str(gates[-1])
    assert _failed(FINETUNE | {FORGETTING: 0.08}, cfg=limit) == []
    assert _failed(FINETUNE | {FORGETTING: 0.10}, cfg=limit) == []  # the limit itself passes
    assert _failed(FINETUNE | {FORGETTING: -0.02}, cfg=limit) == []  # it gained on the synthetic suite
    missing = {k: v for k, v in FINETUNE.items() if k != FORGETTING}
    assert _failed(missing, cfg=limit) == ["forgetting"]


def test_max_forgetting_is_a_fraction_or_null():
    assert parse_params({"promotion": {"max_forgetting": None}}).promotion.max_forgetting is None
    assert parse_params({"promotion": {"max_forgetting": 0.1}}).promotion.max_forgetting == 0.1
    with pytest.raises(ConfigError, match=r"promotion.max_forgetting: 1.5 is out of range, must be in \[0, 1\]"):
        parse_params({"promotion": {"max_forgetting": 1.5}})
