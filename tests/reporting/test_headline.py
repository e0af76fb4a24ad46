"""reports/metrics.json: per backbone the mean accuracy of each precision, the INT8 drop and latency, read from
the same files as the report (eval JSONs, quantize JSON); a backbone without a quantize result has nulls."""

from __future__ import annotations

import json

import pytest

from tests.reporting.test_report import BENCHES, _stage_files
from textrec.config import PathsConfig
from textrec.reporting.collect import accuracy_table, collect
from textrec.reporting.headline import headline


def test_headline_is_the_report_means_the_gate_drop_and_int8_latency(tmp_path) -> None:
    reports, _ = _stage_files(tmp_path)  # mobilenet_v3: fp32 0.5 / 0.1, int8 0.4 / 0.1; resnet34_vd: 0, no quantize
    q = reports / "quantize" / "mobilenet_v3.json"
    q.write_text(json.dumps(json.loads(q.read_text()) | {"max_accuracy_drop": 0.1}))
    results = collect(PathsConfig(reports=str(reports)), ("mobilenet_v3", "resnet34_vd"), BENCHES)
    h = headline(results, accuracy_table(results, BENCHES))
    assert h["fp32"] == {"mobilenet_v3": pytest.approx(0.3), "resnet34_vd": 0.0}
    assert h["int8"] == {"mobilenet_v3": pytest.approx(0.25), "resnet34_vd": None}
    assert h["drop"] == {"mobilenet_v3": 0.1, "resnet34_vd": None}
    assert h["ms"] == {"mobilenet_v3": 1.81, "resnet34_vd": None}  # onnx_int8 at batch 1, not fp32's 2.04
    json.dumps(h, allow_nan=False)  # plain JSON: DVC reads it
