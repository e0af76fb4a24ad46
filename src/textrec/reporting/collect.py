"""Read the stages' output files into one plain structure for the report (files are the contract: each is
read through its dataclass, ``textrec.artifacts``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from textrec.artifacts import EvalResult, QuantizeSummary, TrainSummary
from textrec.config import PathsConfig

# The accuracy table's model columns are "<backbone> <kind>": fp32 (the trained checkpoint), int8 (the shipped
# ONNX), start (the init checkpoint it was trained from, when not scratch: eval JSON "start").
MODEL_KINDS = ("fp32", "int8", "start")


def is_model_column(column: str) -> bool:
    return column.endswith(MODEL_KINDS)


@dataclass
class BackboneResults:
    backbone: str
    eval: dict[str, EvalResult] = field(default_factory=dict)  # bench -> the evaluate stage's result
    quantize: QuantizeSummary | None = None  # None: not quantized (yet)
    train_log: pd.DataFrame | None = None  # per-step CSV
    train: TrainSummary | None = None


def collect(paths: PathsConfig, backbones: tuple[str, ...], benchmarks: tuple[str, ...]) -> list[BackboneResults]:
    """Every backbone's files; an eval result must be there (ArtifactMissing names it), the others may not."""
    out = []
    for bb in backbones:
        r = BackboneResults(bb, eval={b: EvalResult.read(EvalResult.path(paths, bb, b), f"evaluate@{bb}-{b}")
                                      for b in benchmarks})
        if (q := QuantizeSummary.path(paths, bb)).is_file():
            r.quantize = QuantizeSummary.read(q)
        log = paths.train_log(bb)
        r.train_log = pd.read_csv(log) if log.exists() else None
        if (t := TrainSummary.path(paths, bb)).is_file():
            r.train = TrainSummary.read(t)
        out.append(r)
    return out


def int8_accuracy(q: QuantizeSummary | None, bench: str) -> float | None:
    """INT8 accuracy for one benchmark from the quantize stage's result, if present."""
    row = q.accuracy(bench) if q else None
    return row.int8_accuracy if row else None


def accuracy_table(results: list[BackboneResults], benchmarks: tuple[str, ...]) -> pd.DataFrame:
    """Rows: benchmarks + the two averages; columns: <backbone> fp32 / int8 accuracy (fractions), and
    <backbone> start for a backbone trained from an init checkpoint."""
    rows = []
    for bench in benchmarks:
        row: dict[str, object] = {"benchmark": bench, "count": results[0].eval[bench].count}
        for r in results:
            row[f"{r.backbone} fp32"] = r.eval[bench].accuracy
            row[f"{r.backbone} int8"] = int8_accuracy(r.quantize, bench)
            if any(r.eval[b].start for b in benchmarks):
                start = r.eval[bench].start
                row[f"{r.backbone} start"] = start.accuracy if start else None
        rows.append(row)
    df = pd.DataFrame(rows)
    acc_cols = [c for c in df.columns if is_model_column(c)]
    counts = df["count"].astype(float)
    weighted = {"benchmark": "average (weighted)", "count": int(counts.sum())}
    mean = {"benchmark": "average (mean)", "count": int(counts.sum())}
    for c in acc_cols:
        col = pd.to_numeric(df[c], errors="coerce")
        ok = col.notna()
        weighted[c] = float((col[ok] * counts[ok]).sum() / counts[ok].sum()) if ok.any() else None
        mean[c] = float(col[ok].mean()) if ok.any() else None
    return pd.concat([df, pd.DataFrame([weighted, mean])], ignore_index=True)


def mean_change(table: pd.DataFrame, backbone: str, benchmarks: tuple[str, ...]) -> tuple[float, float]:
    """(start, trained) plain mean accuracy of ``backbone`` over ``benchmarks``, from ``accuracy_table``'s
    per-benchmark rows (the eval JSONs' ``start.accuracy`` and ``accuracy``: the checkpoints, fp32)."""
    rows = table.set_index("benchmark").loc[list(benchmarks)]
    return float(rows[f"{backbone} start"].mean()), float(rows[f"{backbone} fp32"].mean())


def accuracy_long(table: pd.DataFrame) -> pd.DataFrame:
    """``accuracy_table`` one row per benchmark and model (``<backbone> fp32|int8|start``): columns benchmark,
    model, accuracy, count (``reports/accuracy.csv``, the data of DVC's accuracy plot); a model without a
    number for a benchmark (no quantize report) has no row."""
    models = [c for c in table.columns if is_model_column(c)]
    long = table.melt(id_vars=["benchmark", "count"], value_vars=models, var_name="model", value_name="accuracy")
    long = long.dropna(subset=["accuracy"])
    return long[["benchmark", "model", "accuracy", "count"]].reset_index(drop=True)


def empty_predictions_table(results: list[BackboneResults], benchmarks: tuple[str, ...]) -> pd.DataFrame | None:
    """Per benchmark and backbone, how many images were read as the empty string ("n of count (x%)"), from
    the eval result's ``empty_predictions``."""
    rows = []
    for bench in benchmarks:
        row: dict[str, object] = {"benchmark": bench}
        for r in results:
            n, count = r.eval[bench].empty_predictions, r.eval[bench].count
            row[r.backbone] = f"{n:,} of {count:,}" + (f" ({100 * n / count:.1f}%)" if count else "")
        rows.append(row)
    return pd.DataFrame(rows)


def published_comparison(results: list[BackboneResults], table: pd.DataFrame,
                         benchmarks: tuple[str, ...]) -> pd.DataFrame | None:
    """Our mean accuracy beside PaddleOCR's published one, per backbone, when the benchmarks are the seven
    its CRNN table averages over (None otherwise: a mean over other sets is not comparable)."""
    from textrec.models.pretrained import PADDLEOCR_RELEASES, PUBLISHED_BENCHMARKS

    if sorted(benchmarks) != sorted(PUBLISHED_BENCHMARKS):
        return None
    mean = table.set_index("benchmark").loc["average (mean)"]
    rows = []
    for r in results:
        if r.backbone not in PADDLEOCR_RELEASES:
            continue
        published = PADDLEOCR_RELEASES[r.backbone].published_accuracy
        rows.append({"backbone": r.backbone, "init": r.train.init_source if r.train else "scratch",
                     "steps": r.train.steps if r.train else None, "ours fp32": mean[f"{r.backbone} fp32"],
                     "ours int8": mean[f"{r.backbone} int8"], "PaddleOCR published": published,
                     "fp32 - published": mean[f"{r.backbone} fp32"] - published})
    return pd.DataFrame(rows) if rows else None


def training_table(results: list[BackboneResults]) -> pd.DataFrame | None:
    """How each training ended, from ``train.json``: steps against the recipe's, images seen, the stop reason,
    whether the model is the recipe's (a time-budget stop says no), speed and CPU."""
    rows = []
    for r in results:
        t = r.train
        if not t:
            continue
        rows.append({"backbone": r.backbone, "steps": f"{t.steps:,} of {t.planned_steps:,}",
                     "images seen": f"{t.images_seen:,}", "stopped by": t.stop_reason,
                     "recipe complete": "yes" if t.recipe_complete else
                     "NO: stopped early by the time budget; not the model the recipe specifies",
                     "best val accuracy": t.best_accuracy, "img/s": round(t.images_per_second, 1), "CPU": t.cpu})
    return pd.DataFrame(rows) if rows else None
