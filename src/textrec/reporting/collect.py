"""Read the stages' output files into one plain structure for the report (files are the contract)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd


@dataclass
class BackboneResults:
    backbone: str
    eval: dict[str, dict] = field(default_factory=dict)  # bench -> reports/eval/<bb>/<bench>.json
    quantize: dict | None = None  # reports/quantize/<bb>.json
    train_log: pd.DataFrame | None = None  # per-step CSV


def _read_json(p: Path) -> dict | None:
    return json.loads(p.read_text()) if p.exists() else None


def collect(reports: Path, backbones: tuple[str, ...], benchmarks: tuple[str, ...],
            train_log: str = "train/{backbone}/train_log.csv") -> list[BackboneResults]:
    out = []
    for bb in backbones:
        r = BackboneResults(bb)
        for bench in benchmarks:
            d = _read_json(reports / "eval" / bb / f"{bench}.json")
            if d is None:
                raise FileNotFoundError(f"missing evaluation result {reports}/eval/{bb}/{bench}.json "
                                        f"(run `dvc repro evaluate@{bb}-{bench}`)")
            r.eval[bench] = d
        r.quantize = _read_json(reports / "quantize" / f"{bb}.json")
        log = reports / train_log.format(backbone=bb)
        r.train_log = pd.read_csv(log) if log.exists() else None
        out.append(r)
    return out


def int8_accuracy(q: dict | None, bench: str) -> float | None:
    """INT8 accuracy for one benchmark from the quantize stage's JSON, if present."""
    if not q:
        return None
    for row in q.get("benchmarks", []):
        if row.get("name") == bench:
            return row.get("int8_accuracy")
    return None


def accuracy_table(results: list[BackboneResults], benchmarks: tuple[str, ...]) -> pd.DataFrame:
    """Rows: benchmarks + the two averages; columns: <backbone> fp32 / int8 accuracy (fractions)."""
    rows = []
    for bench in benchmarks:
        row: dict[str, object] = {"benchmark": bench, "count": results[0].eval[bench]["count"]}
        for r in results:
            row[f"{r.backbone} fp32"] = r.eval[bench]["accuracy"]
            row[f"{r.backbone} int8"] = int8_accuracy(r.quantize, bench)
        rows.append(row)
    df = pd.DataFrame(rows)
    acc_cols = [c for c in df.columns if c.endswith(("fp32", "int8"))]
    counts = df["count"].astype(float)
    weighted = {"benchmark": "average (weighted)", "count": int(counts.sum())}
    mean = {"benchmark": "average (mean)", "count": int(counts.sum())}
    for c in acc_cols:
        col = pd.to_numeric(df[c], errors="coerce")
        ok = col.notna()
        weighted[c] = float((col[ok] * counts[ok]).sum() / counts[ok].sum()) if ok.any() else None
        mean[c] = float(col[ok].mean()) if ok.any() else None
    return pd.concat([df, pd.DataFrame([weighted, mean])], ignore_index=True)
