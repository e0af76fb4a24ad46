"""Per-dataset evaluation of a recognizer over one LMDB or a tree of LMDBs.

A record is scored only if training would use it: ``textrec.data.records.check_record`` decides, as in the
training dataset's index pass. The others are counted as rejected, by reason and key (``DatasetResult.rejected``,
the reasons of training's data report), as are the usable records whose label has no letter or digit
(``unscorable``: DTRB's accuracy compares nothing there).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from textrec.artifacts import CalibrationBlock, EvalResult, StartRecord, WorstExample
from textrec.calibration import Calibration, calibration_summary
from textrec.charset import Charset
from textrec.ctc import ctc_greedy_decode
from textrec.data.lmdb_io import find_lmdbs, image_key, iter_records, num_samples
from textrec.data.reasons import Reason
from textrec.data.records import check_record
from textrec.evaluation.metrics import SampleResult, dtrb_normalize, score_sample
from textrec.inference.engines import Engine
from textrec.preprocess import IMAGE_SHAPE, normalize_resize
from textrec.progress import track


@dataclass
class DatasetResult:
    name: str
    samples: list[SampleResult] = field(default_factory=list)
    rejected: Counter = field(default_factory=Counter)  # reason (textrec.data.reasons) -> count (not scored)
    rejected_keys: dict[str, list[str]] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return len(self.samples)

    @property
    def accuracy(self) -> float:
        return sum(s.correct for s in self.samples) / self.count if self.count else 0.0

    @property
    def norm_edit_distance(self) -> float:
        return float(np.mean([s.ned for s in self.samples])) if self.count else 0.0

    @property
    def mean_confidence(self) -> float:
        return float(np.mean([s.confidence for s in self.samples])) if self.count else 0.0

    @property
    def empty_predictions(self) -> int:
        """Images read as the empty string: the model emitted only blanks at every frame (an untrained or
        collapsed model does this for nearly every image)."""
        return sum(s.prediction == "" for s in self.samples)

    def summary(self) -> dict:
        return {"name": self.name, "count": self.count, "accuracy": self.accuracy,
                "norm_edit_distance": self.norm_edit_distance, "mean_confidence": self.mean_confidence,
                "empty_predictions": self.empty_predictions, "rejected": dict(self.rejected)}

    def calibration(self, bins: int = 15, target_precision: float = 0.99) -> dict:
        """ECE before and after the calibration (``after`` None when the samples were not calibrated), the
        reliability diagram's bins and the auto-accept threshold with its coverage
        (``textrec.calibration.calibration_summary``)."""
        raw = np.array([s.confidence for s in self.samples])
        calibrated = [s.calibrated for s in self.samples]
        after = None if not self.samples or None in calibrated else np.array(calibrated, dtype=np.float64)
        correct = np.array([s.correct for s in self.samples], dtype=bool)
        return calibration_summary(raw, after, correct, bins, target_precision)

    def worst(self, n: int) -> list[SampleResult]:
        """Wrong predictions first, most confident mistakes first, then the least confident hits."""
        return sorted(self.samples, key=lambda s: (s.correct, -s.confidence if not s.correct else s.confidence))[:n]

    def artifact(self, backbone: str, checkpoint_sha256: str, gallery_size: int, calibration_method: str | None,
                 bins: int = 15, target_precision: float = 0.99, start: StartRecord | None = None) -> EvalResult:
        """The evaluate stage's file of this result for the weights of sha256 ``checkpoint_sha256``: the
        ``gallery_size`` worst readings, the calibration block (``calibration_method``: the fitted
        calibration's description, None without one) and ``start``, the init checkpoint's record."""
        return EvalResult(
            name=self.name, backbone=backbone, checkpoint_sha256=checkpoint_sha256, count=self.count, accuracy=self.accuracy,
            norm_edit_distance=self.norm_edit_distance, mean_confidence=self.mean_confidence,
            empty_predictions=self.empty_predictions, rejected=dict(self.rejected),
            rejected_keys=self.rejected_keys, start=start,
            calibration=CalibrationBlock(method=calibration_method, **self.calibration(bins, target_precision)),
            worst=[WorstExample(key=s.key, label=s.label, prediction=s.prediction, confidence=s.confidence,
                                calibrated_confidence=s.calibrated, correct=s.correct)
                   for s in self.worst(gallery_size)])


def _reject(res: DatasetResult, reason: Reason, key: str) -> None:
    res.rejected[reason] += 1
    res.rejected_keys.setdefault(reason, []).append(key)


def _batches(path: Path, charset: Charset, res: DatasetResult, batch_size: int,
             image_shape: tuple[int, int, int], progress: bool = False, desc: str | None = None
             ) -> Iterator[tuple[list[str], list[str], np.ndarray]]:
    """(keys, stored labels, model inputs [n, 3, 32, 100]) of the records to score, ``batch_size`` at a time."""
    keys: list[str] = []
    labels: list[str] = []
    xs: list[np.ndarray] = []
    total = num_samples(path) if progress else None
    for rec in track(iter_records(path), progress, total=total, desc=desc or res.name, unit="img"):
        key = image_key(rec.index).decode()
        check = check_record(rec.image, rec.label, charset)
        if not check.ok:
            _reject(res, check.reason, key)
            continue
        if not dtrb_normalize(check.encoded.text):
            _reject(res, "unscorable", key)
            continue
        xs.append(normalize_resize(check.image, image_shape))
        keys.append(key)
        labels.append(check.label)
        if len(xs) == batch_size:
            yield keys, labels, np.stack(xs)
            keys, labels, xs = [], [], []
    if xs:
        yield keys, labels, np.stack(xs)


def evaluate_lmdb(engine: Engine, path: str | Path, charset: Charset, name: str | None = None,
                  batch_size: int = 64, image_shape: tuple[int, int, int] = IMAGE_SHAPE,
                  progress: bool = False, desc: str | None = None, calibration: Calibration | None = None,
                  outputs: list[np.ndarray] | None = None) -> DatasetResult:
    """Score every record of one LMDB; images are preprocessed to ``image_shape`` (``model.image_shape``);
    ``progress``: a bar labelled ``desc`` (default: the dataset's name) counts the records. ``calibration``:
    each sample also gets its calibrated confidence. ``outputs``: each batch's probabilities [n, T, C] are
    appended to it, in sample order (what a calibration is fitted on)."""
    path = Path(path)
    res = DatasetResult(name or path.name)
    for keys, labels, x in _batches(path, charset, res, batch_size, image_shape, progress, desc):
        probs = np.asarray(engine(x))  # [n, T, C]
        preds = ctc_greedy_decode(probs, charset)
        cal = calibration.confidences(probs) if calibration is not None else [None] * len(preds)
        for key, label, pred, c in zip(keys, labels, preds, cal, strict=True):
            res.samples.append(score_sample(key, label, pred.text, pred.confidence,
                                            None if c is None else float(c)))
        if outputs is not None:
            outputs.append(probs)
    return res


def evaluate_tree(engine: Engine, root: str | Path, charset: Charset, batch_size: int = 64,
                  image_shape: tuple[int, int, int] = IMAGE_SHAPE, progress: bool = False) -> list[DatasetResult]:
    """Evaluate every LMDB under ``root``; a dataset's name is its path relative to ``root``."""
    root = Path(root)
    paths = find_lmdbs(root)
    if not paths:
        raise FileNotFoundError(f"no LMDB (data.mdb) found under {root}")
    results = []
    for p in paths:
        name = root.name if p == root else str(p.relative_to(root))
        results.append(evaluate_lmdb(engine, p, charset, name, batch_size, image_shape, progress))
    return results


def summarize(results: list[DatasetResult]) -> dict:
    """The JSON contract: {"datasets": [...], "weighted_accuracy", "mean_accuracy"} (fractions)."""
    total = sum(r.count for r in results)
    return {
        "datasets": [r.summary() for r in results],
        "weighted_accuracy": sum(r.accuracy * r.count for r in results) / total if total else 0.0,
        "mean_accuracy": float(np.mean([r.accuracy for r in results])) if results else 0.0,
    }


def results_table(results: list[DatasetResult]):  # -> pandas.DataFrame
    """Per-dataset table plus the sample-weighted and the plain average rows."""
    import pandas as pd

    s = summarize(results)
    rows = [{k: d[k] for k in ("name", "count", "accuracy", "norm_edit_distance", "mean_confidence")}
            for d in s["datasets"]]
    total = sum(r["count"] for r in rows)
    if rows:
        wned = sum(r["norm_edit_distance"] * r["count"] for r in rows) / total if total else 0.0
        rows.append({"name": "average (weighted)", "count": total, "accuracy": s["weighted_accuracy"],
                     "norm_edit_distance": wned,
                     "mean_confidence": sum(r["mean_confidence"] * r["count"] for r in rows) / total if total else 0.0})
        rows.append({"name": "average (mean)", "count": total, "accuracy": s["mean_accuracy"],
                     "norm_edit_distance": float(np.mean([r["norm_edit_distance"] for r in rows[:-1]])),
                     "mean_confidence": float(np.mean([r["mean_confidence"] for r in rows[:-1]]))})
    return pd.DataFrame(rows)


def write_results(results: list[DatasetResult], out_json: str | Path) -> None:
    """JSON summary, plus <stem>.csv and <stem>.md tables beside it."""
    out = Path(out_json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summarize(results), indent=2) + "\n")
    table = results_table(results)
    table.to_csv(out.with_suffix(".csv"), index=False)
    out.with_suffix(".md").write_text(table.to_markdown(index=False, floatfmt=".4f") + "\n")
