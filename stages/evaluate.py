"""DVC stage `evaluate@<backbone>-<bench>`: accuracy of the trained model on one benchmark LMDB.

Writes <reports>/eval/<backbone>/<bench>.json: count, accuracy, normalised edit distance, mean confidence,
empty predictions (images read as "": only blanks emitted), rejected records (not scored: what training
rejects, by reason and key, and labels without a letter or digit), and the worst examples (keys
into the benchmark LMDB) for the report's gallery. A model trained from an init checkpoint (bundled, a path,
PaddleOCR's release) is compared with where it started: ``start`` holds that checkpoint's accuracy on the
same images, read from the file and sha256 the trainer state records (so the report shows both).
``calibration``: the expected calibration error of the confidence before and after the model's calibration
(calibrate stage; ``after`` null without one, said once), the reliability diagram's bins and the auto-accept
threshold at calibration.target_precision with its coverage (on the calibrated confidence).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from textrec.artifacts import EvalResult
from textrec.calibration import Calibration, CalibrationError
from textrec.config import BACKBONES
from textrec.evaluation.evaluate import DatasetResult, evaluate_lmdb
from textrec.evaluation.start import starting_checkpoint
from textrec.hashing import sha256_file
from textrec.inference.engines import load_engine
from textrec.preflight import load_stage_params, require_writable
from textrec.progress import on_terminal
from textrec.runtime import configure_runtime


def load_calibration(path: Path) -> Calibration | None:
    """The calibrate stage's file; without it (the stage run alone) the confidences stay raw, said once."""
    if not path.is_file():
        print(f"evaluate: {path} not found (run the calibrate stage): ECE after calibration not measured")
        return None
    try:
        return Calibration.load(path)
    except CalibrationError as e:
        raise SystemExit(f"evaluate: error: {e}") from None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--backbone", required=True, choices=BACKBONES)
    ap.add_argument("--bench", required=True)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args()

    params = load_stage_params("evaluate", args.params)
    out = EvalResult.path(params.paths, args.backbone, args.bench)
    require_writable("evaluate", out.parent)
    configure_runtime("cpu", threads=os.cpu_count())  # the stage has the machine to itself (dvc runs one)
    charset = params.charset.build()

    calibration = load_calibration(params.paths.calibration(args.backbone))

    def evaluate(checkpoint: Path, progress: bool, cal: Calibration | None = None) -> DatasetResult:
        engine = load_engine(checkpoint, charset.num_classes, args.backbone)  # on this stage's benchmark
        return evaluate_lmdb(engine, params.paths.bench_lmdb(args.bench), charset, args.bench,
                             params.eval.batch_size, params.model.image_shape, progress=progress, calibration=cal)

    checkpoint = params.paths.checkpoint(args.backbone)
    result = evaluate(checkpoint, on_terminal(args.no_progress), calibration)
    start = starting_checkpoint(params.paths.model_dir(args.backbone))
    if start is not None and start.path is not None:
        start_result = evaluate(start.path, progress=False)
        start = start.measured(start_result.accuracy, start_result.count)
    written = result.artifact(args.backbone, sha256_file(checkpoint), params.eval.gallery_size,
                              calibration.describe() if calibration else None, params.calibration.bins,
                              params.calibration.target_precision,
                              None if start is None else start.record())
    written.write(out)
    cal = written.calibration
    print(f"{args.backbone} on {args.bench}: accuracy {result.accuracy:.4f} over {result.count} images "
          f"(rejected {dict(result.rejected)}); ECE {cal.ece_before:.4f}"
          + (f" -> {cal.ece_after:.4f} calibrated" if cal.ece_after is not None else "")
          + (f"; it started from {start.source}: {start.accuracy:.4f}"
             if start is not None and start.accuracy is not None else ""))

if __name__ == "__main__":
    main()
