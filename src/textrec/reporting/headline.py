"""The headline metrics (``reports/metrics.json``): the few numbers `dvc metrics show` and `dvc exp show`
compare across experiments. The stages' own JSONs (fonts, licences, sha256s, per-benchmark rows) stay plain
outputs; this file is the only one dvc.yaml declares under ``metrics:``.

Grouped by metric, then backbone (``fp32.mobilenet_v3``), so the column names stay short and one regex keeps
them whatever the backbones are (README "Experiments")::

    {"fp32": {bb: mean accuracy over eval.benchmarks, the trained checkpoint},
     "int8": {bb: the same for the shipped INT8 ONNX},
     "drop": {bb: the largest per-benchmark fp32 - INT8 drop, the number quantize's gate compares},
     "ms":   {bb: ms per image of the INT8 ONNX at batch 1, as the quantize stage timed it}}

Accuracies are fractions, as in every stage JSON; a number that is not there (no quantize result) is null.
"""

from __future__ import annotations

import pandas as pd

from textrec.reporting.collect import BackboneResults

METRICS = ("fp32", "int8", "drop", "ms")


def _number(v: object, digits: int) -> float | None:
    return None if v is None or pd.isna(v) else round(float(v), digits)


def headline(results: list[BackboneResults], table: pd.DataFrame) -> dict[str, dict[str, float | None]]:
    """``table``: ``accuracy_table``'s, whose "average (mean)" row holds each model's plain mean."""
    mean = table.set_index("benchmark").loc["average (mean)"]
    out: dict[str, dict[str, float | None]] = {m: {} for m in METRICS}
    for r in results:
        bb = r.backbone
        out["fp32"][bb] = _number(mean[f"{bb} fp32"], 4)
        out["int8"][bb] = _number(mean[f"{bb} int8"], 4)
        q = r.quantize
        out["drop"][bb] = _number(q.max_accuracy_drop if q else None, 4)
        out["ms"][bb] = _number(q.ms_per_image("int8") if q else None, 2)  # batch 1, as the quantize stage timed it
    return out
